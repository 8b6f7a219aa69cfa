"""What Telegram checks in a message before accepting it: formatted text and keyboards.

Kept apart from the server so the rules can be read (and tested) on their own. Every check raises
`BadRequest` with Telegram's own description string, so a bot that would be refused by Telegram
is refused here too.
"""

from __future__ import annotations

import json
import re
from html.parser import HTMLParser
from typing import Any

MAX_TEXT = 4096
MAX_CAPTION = 1024
MAX_CALLBACK_DATA = 64
MAX_CALLBACK_ANSWER = 200


class ApiError(Exception):
    """An answer other than ok: `error_code`, Telegram's description, optional parameters."""

    def __init__(
        self, error_code: int, description: str, parameters: dict[str, Any] | None = None
    ) -> None:
        super().__init__(description)
        self.error_code = error_code
        self.description = description
        self.parameters = parameters


class BadRequest(ApiError):
    def __init__(self, detail: str) -> None:
        super().__init__(400, f"Bad Request: {detail}")


def int_param(value: Any, default: int) -> int:
    """An integer parameter as the bot sent it; absent is `default`, garbage a Bad Request."""
    if value is None or value == "":
        return default
    try:
        return int(value)
    except (TypeError, ValueError):
        raise BadRequest(f"invalid integer {value!r:.40}") from None


def utf16_len(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


# -- parse_mode ------------------------------------------------------------------------------

_HTML_TAGS = {
    "b": "bold",
    "strong": "bold",
    "i": "italic",
    "em": "italic",
    "u": "underline",
    "ins": "underline",
    "s": "strikethrough",
    "strike": "strikethrough",
    "del": "strikethrough",
    "code": "code",
    "pre": "pre",
    "a": "text_link",
    "tg-spoiler": "spoiler",
    "span": "spoiler",
    "blockquote": "blockquote",
    "tg-emoji": "custom_emoji",
}


class _TelegramHtml(HTMLParser):
    def __init__(self, source: str) -> None:
        super().__init__(convert_charrefs=True)
        self.source = source
        self.text = ""
        self.entities: list[dict[str, Any]] = []
        self.stack: list[tuple[str, int, dict[str, Any]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag not in _HTML_TAGS:
            raise BadRequest(f'can\'t parse entities: Unsupported start tag "{tag}"')
        extra: dict[str, Any] = {}
        attributes = dict(attrs)
        if tag == "a":
            href = attributes.get("href") or ""
            if not href:
                raise BadRequest("can't parse entities: Can't find end tag corresponding")
            extra["url"] = href
        if tag == "span" and attributes.get("class") != "tg-spoiler":
            raise BadRequest('can\'t parse entities: Unsupported start tag "span"')
        self.stack.append((tag, utf16_len(self.text), extra))

    def handle_endtag(self, tag: str) -> None:
        if not self.stack or self.stack[-1][0] != tag:
            raise BadRequest(f'can\'t parse entities: Unexpected end tag "{tag}"')
        _, start, extra = self.stack.pop()
        length = utf16_len(self.text) - start
        if length:
            entity = {"type": _HTML_TAGS[tag], "offset": start, "length": length, **extra}
            self.entities.append(entity)

    def handle_data(self, data: str) -> None:
        self.text += data

    def close(self) -> None:
        super().close()
        if self.stack:
            raise BadRequest(
                f"can't parse entities: Can't find end tag corresponding to start tag \""
                f'{self.stack[-1][0]}"'
            )


_MD2_RESERVED = "_*[]()~`>#+-=|{}.!"
_MD2_MARKERS = re.compile(r"\|\||__|[*_~`]")


def _parse_markdown_v2(source: str) -> tuple[str, list[dict[str, Any]]]:
    """Telegram refuses reserved characters that are not escaped; the markers are dropped."""
    out: list[str] = []
    index = 0
    in_link_text = False
    while index < len(source):
        char = source[index]
        if char == "\\" and index + 1 < len(source):
            out.append(source[index + 1])
            index += 2
            continue
        if char == "[":
            in_link_text = True
        elif char == "]" and in_link_text:
            in_link_text = False
            if source.startswith("(", index + 1):
                end = source.find(")", index + 2)
                if end == -1:
                    raise BadRequest("can't parse entities: Can't find end of a URL")
                index = end + 1
                continue
        elif char in "*_~`|":
            pass
        elif char in _MD2_RESERVED:
            raise BadRequest(
                f"can't parse entities: Character '{char}' is reserved and must be escaped "
                "with the preceding '\\'"
            )
        else:
            out.append(char)
        index += 1
    return "".join(out), []


def parse_text(text: str, parse_mode: str | None) -> tuple[str, list[dict[str, Any]]]:
    """Plain text and entities after Telegram's entity parsing (HTML fully, MarkdownV2 roughly)."""
    mode = (parse_mode or "").lower()
    if mode == "html":
        parser = _TelegramHtml(text)
        parser.feed(text)
        parser.close()
        return parser.text, sorted(parser.entities, key=lambda e: (e["offset"], -e["length"]))
    if mode == "markdownv2":
        return _parse_markdown_v2(text)
    if mode == "markdown":
        return _MD2_MARKERS.sub("", text), []
    if mode:
        raise BadRequest(f"unsupported parse_mode {parse_mode!r}")
    return text, []


def check_text(text: Any, parse_mode: str | None) -> tuple[str, list[dict[str, Any]]]:
    if text is None or (isinstance(text, str) and not text.strip()):
        raise BadRequest("message text is empty")
    plain, entities = parse_text(str(text), parse_mode)
    if not plain.strip():
        raise BadRequest("message text is empty")
    if len(plain) > MAX_TEXT:
        raise BadRequest("message is too long")
    return plain, entities


def check_caption(caption: Any, parse_mode: str | None) -> tuple[str | None, list[dict[str, Any]]]:
    if caption is None or caption == "":
        return None, []
    plain, entities = parse_text(str(caption), parse_mode)
    if len(plain) > MAX_CAPTION:
        raise BadRequest("message caption is too long")
    return plain, entities


def command_entities(text: str) -> list[dict[str, Any]]:
    """The `bot_command` entities Telegram attaches to a user's text (`/start`, `/start@bot`)."""
    entities = []
    for match in re.finditer(r"(?<![\w/])/[A-Za-z0-9_]{1,64}(?:@[A-Za-z0-9_]+)?", text):
        offset = utf16_len(text[: match.start()])
        entities.append(
            {"type": "bot_command", "offset": offset, "length": utf16_len(match.group())}
        )
    return entities


# -- reply_markup ----------------------------------------------------------------------------

_INLINE_ACTIONS = (
    "url",
    "callback_data",
    "web_app",
    "login_url",
    "switch_inline_query",
    "switch_inline_query_current_chat",
    "switch_inline_query_chosen_chat",
    "copy_text",
    "callback_game",
    "pay",
)
_MARKUP_ERROR = "can't parse reply keyboard markup JSON object"


def parse_reply_markup(value: Any, *, private_chat: bool = True) -> dict[str, Any] | None:
    """Decode and validate `reply_markup` the way Telegram does; None when absent."""
    if value is None or value == "":
        return None
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            raise BadRequest(_MARKUP_ERROR) from None
    if not isinstance(value, dict):
        raise BadRequest(_MARKUP_ERROR)
    if "inline_keyboard" in value:
        _check_inline_keyboard(value["inline_keyboard"])
        return {"inline_keyboard": value["inline_keyboard"]}
    if "keyboard" in value:
        _check_reply_keyboard(value["keyboard"], private_chat)
        return value
    if value.get("remove_keyboard") is True or value.get("force_reply") is True:
        return value
    raise BadRequest(_MARKUP_ERROR)


def _rows(rows: Any, field: str) -> list[list[Any]]:
    if not isinstance(rows, list) or not all(isinstance(row, list) for row in rows):
        raise BadRequest(f'field "{field}" of the markup must be an Array of Arrays')
    return rows


def _check_inline_keyboard(rows: Any) -> None:
    for row in _rows(rows, "inline_keyboard"):
        for button in row:
            if not isinstance(button, dict) or not isinstance(button.get("text"), str):
                raise BadRequest("can't parse inline keyboard button: Text must be a String")
            if not button["text"].strip():
                raise BadRequest("inline keyboard button text must be non-empty")
            actions = [name for name in _INLINE_ACTIONS if name in button]
            if not actions:
                raise BadRequest(
                    "can't parse inline keyboard button: Text buttons are unallowed in the "
                    "inline keyboard"
                )
            if "callback_data" in button:
                data = button["callback_data"]
                if not isinstance(data, str):
                    raise BadRequest("BUTTON_DATA_INVALID")
                if not 1 <= len(data.encode("utf-8")) <= MAX_CALLBACK_DATA:
                    raise BadRequest("BUTTON_DATA_INVALID")
            if "url" in button:
                url = str(button["url"])
                if not re.match(r"^(https?|tg)://\S+$", url):
                    raise BadRequest("BUTTON_URL_INVALID")


def _check_reply_keyboard(rows: Any, private_chat: bool) -> None:
    for row in _rows(rows, "keyboard"):
        for button in row:
            if isinstance(button, str):
                button = {"text": button}
            if not isinstance(button, dict) or not isinstance(button.get("text"), str):
                raise BadRequest(_MARKUP_ERROR)
            if not button["text"].strip():
                raise BadRequest("keyboard button text must be non-empty")
            if not private_chat and (
                button.get("request_contact") or button.get("request_location")
            ):
                raise BadRequest("phone number can be requested in private chats only")


def inline_buttons(markup: dict[str, Any] | None) -> list[dict[str, Any]]:
    if not markup:
        return []
    return [button for row in markup.get("inline_keyboard", []) for button in row]
