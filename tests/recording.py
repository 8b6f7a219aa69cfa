"""A Bot session that stands in for Telegram at the HTTP boundary.

Every request is serialised the way the aiohttp session would put it on the wire, checked
against the Bot API specification, recorded (first in, first out), and answered with a
realistic result (or with an error queued by the test) through aiogram's own response
checking, so Telegram errors surface exactly as in production.
"""

from __future__ import annotations

import itertools
import json
import time
from collections.abc import AsyncGenerator
from dataclasses import dataclass
from typing import Any

from aiogram import Bot
from aiogram.client.session.base import BaseSession
from aiogram.methods import TelegramMethod
from aiogram.methods.base import TelegramType

from tests.botapi_spec import check_request, returns_of

BOT_ID = 7000000001
BOT_USER = {
    "id": BOT_ID,
    "is_bot": True,
    "first_name": "Retiree Service",
    "username": "retiree_service_bot",
    "can_join_groups": True,
    "can_read_all_group_messages": False,
    "supports_inline_queries": False,
}
TEST_TOKEN = f"{BOT_ID}:AAtest-token-for-recording-session-000"


@dataclass
class Request:
    method: str
    params: dict[str, Any]  # as on the wire: nested objects decoded back from JSON
    result: Any = None  # what the stand-in answered (a sent message carries its message_id)

    @property
    def message_id(self) -> int | None:
        return self.result.get("message_id") if isinstance(self.result, dict) else None

    @property
    def text(self) -> str:
        return str(self.params.get("text") or self.params.get("caption") or "")

    @property
    def chat_id(self) -> int | None:
        value = self.params.get("chat_id")
        return int(value) if value is not None else None

    @property
    def markup(self) -> dict[str, Any]:
        return self.params.get("reply_markup") or {}

    def inline_buttons(self) -> list[dict[str, Any]]:
        return [b for row in self.markup.get("inline_keyboard", []) for b in row]

    def reply_buttons(self) -> list[dict[str, Any]]:
        return [b for row in self.markup.get("keyboard", []) for b in row]

    def button_texts(self) -> list[str]:
        return [b["text"] for b in self.inline_buttons() + self.reply_buttons()]

    def callback_data(self, text_contains: str) -> str:
        for button in self.inline_buttons():
            if text_contains in button["text"] and "callback_data" in button:
                return str(button["callback_data"])
        raise AssertionError(f"no inline button containing {text_contains!r} in {self}")

    def reply_button(self, text_contains: str) -> dict[str, Any]:
        for button in self.reply_buttons():
            if text_contains in button["text"]:
                return button
        raise AssertionError(f"no reply button containing {text_contains!r} in {self}")


@dataclass
class QueuedAnswer:
    method: str | None
    ok: bool
    result: Any = None
    error_code: int = 0
    description: str = ""
    parameters: dict[str, Any] | None = None


class RecordingSession(BaseSession):
    def __init__(self) -> None:
        super().__init__()
        self.requests: list[Request] = []
        self.queued: list[QueuedAnswer] = []
        self._message_ids = itertools.count(1000)

    # -- test controls -------------------------------------------------------------------
    def queue_error(
        self,
        error_code: int,
        description: str,
        *,
        method: str | None = None,
        retry_after: int | None = None,
    ) -> None:
        parameters = {"retry_after": retry_after} if retry_after is not None else None
        self.queued.append(
            QueuedAnswer(
                method, False, error_code=error_code, description=description, parameters=parameters
            )
        )

    def queue_result(self, result: Any, *, method: str | None = None) -> None:
        self.queued.append(QueuedAnswer(method, True, result=result))

    def take(self) -> list[Request]:
        """Requests recorded since the last take (first in, first out)."""
        taken, self.requests = self.requests, []
        return taken

    def sent_messages(self) -> list[Request]:
        return [r for r in self.requests if r.method.startswith("send")]

    # -- BaseSession ---------------------------------------------------------------------
    async def close(self) -> None:
        return None

    async def stream_content(
        self,
        url: str,
        headers: dict[str, Any] | None = None,
        timeout: int = 30,
        chunk_size: int = 65536,
        raise_for_status: bool = True,
    ) -> AsyncGenerator[bytes, None]:
        yield b"fake-file-content"

    async def make_request(
        self, bot: Bot, method: TelegramMethod[TelegramType], timeout: int | None = None
    ) -> TelegramType:
        params = self._wire_params(bot, method)
        name = method.__api_method__
        check_request(name, params)
        request = Request(name, params)
        self.requests.append(request)
        answer = self._next_answer(name)
        if answer is not None and not answer.ok:
            payload: dict[str, Any] = {
                "ok": False,
                "error_code": answer.error_code,
                "description": answer.description,
            }
            if answer.parameters:
                payload["parameters"] = answer.parameters
            status = answer.error_code
        else:
            result = answer.result if answer is not None else self._default_result(name, params)
            payload = {"ok": True, "result": result}
            request.result = result
            status = 200
        response = self.check_response(
            bot=bot, method=method, status_code=status, content=json.dumps(payload)
        )
        return response.result  # type: ignore[return-value]

    def _next_answer(self, name: str) -> QueuedAnswer | None:
        for index, answer in enumerate(self.queued):
            if answer.method in (None, name):
                return self.queued.pop(index)
        return None

    def _wire_params(self, bot: Bot, method: TelegramMethod[Any]) -> dict[str, Any]:
        files: dict[str, Any] = {}
        params: dict[str, Any] = {}
        for key, value in method.model_dump(warnings=False).items():
            prepared = self.prepare_value(value, bot=bot, files=files)
            if prepared is None:
                continue
            if isinstance(prepared, str) and prepared[:1] in "[{":
                try:
                    prepared = json.loads(prepared)
                except ValueError:
                    pass
            elif isinstance(value, bool | int | float) and isinstance(prepared, str):
                prepared = value
            params[key] = prepared
        return params

    def _default_result(self, name: str, params: dict[str, Any]) -> Any:
        returns = returns_of(name) or ["Boolean"]
        kind = returns[0]
        if kind == "Message":
            return self._message(params)
        if kind == "Array of Message":
            media = params.get("media") or [{}]
            return [self._message({**params, **item}) for item in media]
        if kind == "User":
            return BOT_USER
        if kind == "File":
            file_id = params.get("file_id", "file")
            return {
                "file_id": file_id,
                "file_unique_id": f"u{file_id}",
                "file_size": 17,
                "file_path": f"files/{file_id}",
            }
        if kind == "WebhookInfo":
            return {"url": "", "has_custom_certificate": False, "pending_update_count": 0}
        if kind == "Array of Update":
            return []
        if kind == "Array of BotCommand":
            return []
        if kind == "MessageId":
            return {"message_id": next(self._message_ids)}
        return True

    def _message(self, params: dict[str, Any]) -> dict[str, Any]:
        chat_id = int(params.get("chat_id", 1))
        message: dict[str, Any] = {
            "message_id": int(params.get("message_id") or next(self._message_ids)),
            "date": int(time.time()),
            "chat": {
                "id": chat_id,
                "type": "private" if chat_id > 0 else "supergroup",
                "first_name" if chat_id > 0 else "title": "Chat",
            },
            "from": BOT_USER,
        }
        if "text" in params:
            message["text"] = params["text"]
        if "caption" in params:
            message["caption"] = params["caption"]
        markup = params.get("reply_markup")
        if isinstance(markup, dict) and "inline_keyboard" in markup:
            message["reply_markup"] = markup
        return message
