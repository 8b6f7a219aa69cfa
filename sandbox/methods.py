"""The Bot API methods the stand-in answers, as a table: method name -> function.

Each function takes the server, the decoded parameters and the uploaded files, and returns the
method's `result` or raises ApiError with Telegram's own code and description. A method not in
the table is answered 404, as Telegram answers an unknown method.
"""

from __future__ import annotations

import copy
import re
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from sandbox.files import Upload
from sandbox.telegram_text import (
    MAX_CALLBACK_ANSWER,
    BadRequest,
    check_caption,
    check_text,
    int_param,
    parse_reply_markup,
)
from sandbox.world import commands_key

if TYPE_CHECKING:
    from sandbox.server import SandboxServer

Params = dict[str, Any]
Files = dict[str, Upload]
Method = Callable[["SandboxServer", Params, Files], Any]  # may return an awaitable


# -- the bot and its updates -------------------------------------------------------------------


def get_me(s: SandboxServer, params: Params, files: Files) -> Any:
    return {
        **s.bot_user(),
        "can_join_groups": True,
        "can_read_all_group_messages": False,
        "supports_inline_queries": False,
        "can_connect_to_business": False,
        "has_main_web_app": False,
    }


async def get_updates(s: SandboxServer, params: Params, files: Files) -> Any:
    return await s.delivery.get_updates(params)


def set_webhook(s: SandboxServer, params: Params, files: Files) -> Any:
    return s.delivery.set_webhook(params, s.token)


def delete_webhook(s: SandboxServer, params: Params, files: Files) -> Any:
    return s.delivery.delete_webhook(params)


def get_webhook_info(s: SandboxServer, params: Params, files: Files) -> Any:
    return s.delivery.webhook_info()


def _accept(s: SandboxServer, params: Params, files: Files) -> Any:
    return True


# Settings the sandbox has nothing to show for: accepted, and forgotten.
HARMLESS_SETTERS = {
    "setMyName",
    "setMyDescription",
    "setMyShortDescription",
    "setMyDefaultAdministratorRights",
    "setMessageReaction",
    "pinChatMessage",
    "unpinChatMessage",
    "unpinAllChatMessages",
    "setChatTitle",
    "setChatDescription",
    "setChatPermissions",
    "leaveChat",
    "logOut",
    "close",
}


# -- text messages and their edits -------------------------------------------------------------


def send_message(s: SandboxServer, params: Params, files: Files) -> Any:
    chat = s.target_chat(params)
    text, entities = check_text(params.get("text"), params.get("parse_mode"))
    content: dict[str, Any] = {"text": text}
    if entities:
        content["entities"] = entities
    return s.bot_message(chat, params, content)


def edit_message_text(s: SandboxServer, params: Params, files: Files) -> Any:
    chat, message = s.find_message(params, "message to edit not found")
    if not message["from"].get("is_bot"):
        raise BadRequest("message can't be edited")
    if "text" not in message:
        raise BadRequest("there is no text in the message to edit")
    text, entities = check_text(params.get("text"), params.get("parse_mode"))
    markup = parse_reply_markup(params.get("reply_markup"))
    if markup is not None and "inline_keyboard" not in markup:
        raise BadRequest("inline keyboard expected")
    changes: dict[str, Any] = {
        "text": text,
        "entities": entities or None,
        "reply_markup": markup,
    }
    return s.apply_edit(chat, message, changes)


def edit_message_caption(s: SandboxServer, params: Params, files: Files) -> Any:
    chat, message = s.find_message(params, "message to edit not found")
    if not message["from"].get("is_bot"):
        raise BadRequest("message can't be edited")
    if "text" in message:
        raise BadRequest("there is no caption in the message to edit")
    caption, entities = check_caption(params.get("caption"), params.get("parse_mode"))
    markup = parse_reply_markup(params.get("reply_markup"))
    changes = {"caption": caption, "caption_entities": entities or None, "reply_markup": markup}
    return s.apply_edit(chat, message, changes)


def edit_message_reply_markup(s: SandboxServer, params: Params, files: Files) -> Any:
    chat, message = s.find_message(params, "message to edit not found")
    if not message["from"].get("is_bot"):
        raise BadRequest("message can't be edited")
    markup = parse_reply_markup(params.get("reply_markup"))
    if markup is not None and "inline_keyboard" not in markup:
        raise BadRequest("inline keyboard expected")
    if markup is not None and not markup["inline_keyboard"]:
        markup = None
    return s.apply_edit(chat, message, {"reply_markup": markup})


def delete_message(s: SandboxServer, params: Params, files: Files) -> Any:
    chat, message = s.find_message(params, "message to delete not found")
    del chat.messages[message["message_id"]]
    s.event(chat, "delete", message_id=message["message_id"])
    return True


def delete_messages(s: SandboxServer, params: Params, files: Files) -> Any:
    chat = s.target_chat(params, sending=False)
    for message_id in params.get("message_ids") or []:
        if chat.messages.pop(int(message_id), None) is not None:
            s.event(chat, "delete", message_id=int(message_id))
    return True


def answer_callback_query(s: SandboxServer, params: Params, files: Files) -> Any:
    query = s.callback_query(str(params.get("callback_query_id")))
    if (
        query is None
        or query.answered
        or time.monotonic() - query.created > s.callback_query_lifetime
    ):
        raise BadRequest("query is too old and response timeout expired or query ID is invalid")
    text = params.get("text")
    if text is not None and len(str(text)) > MAX_CALLBACK_ANSWER:
        raise BadRequest("MESSAGE_TOO_LONG")
    query.answered = True
    chat = s.chat(query.chat_id)
    assert chat is not None
    s.event(
        chat,
        "answer",
        user_id=query.user_id,
        callback_query_id=query.id,
        text=text or "",
        show_alert=params.get("show_alert") is True,
    )
    return True


def send_chat_action(s: SandboxServer, params: Params, files: Files) -> Any:
    chat = s.target_chat(params)
    s.event(chat, "action", action=str(params.get("action") or "typing"))
    return True


# -- media, locations, contacts, copies --------------------------------------------------------


def _send_media(kind: str) -> Method:
    def send(s: SandboxServer, params: Params, files: Files) -> Any:
        chat = s.target_chat(params)
        content = _media_content(s, kind, params.get(kind), files, params)
        return s.bot_message(chat, params, content)

    return send


def _media_content(
    s: SandboxServer, kind: str, ref: Any, files: Files, params: Params
) -> dict[str, Any]:
    stored = s.files.resolve_input_file(ref, files, kind)
    content: dict[str, Any]
    if kind == "photo":
        content = {"photo": s.files.photo_sizes(stored)}
    else:
        item: dict[str, Any] = {
            "file_id": stored.file_id,
            "file_unique_id": stored.file_unique_id,
            "file_size": stored.size,
        }
        if stored.mime_type:
            item["mime_type"] = stored.mime_type
        if kind == "document":
            item["file_name"] = stored.file_name or stored.file_path.rsplit("/", 1)[-1]
        if kind in ("voice", "audio", "video", "animation"):
            item["duration"] = int_param(params.get("duration"), 1)
        if kind in ("video", "animation", "sticker"):
            item.update(width=512, height=512)
        if kind == "sticker":
            item.update(type="regular", is_animated=False, is_video=False)
            item.pop("mime_type", None)
        content = {kind: item}
    caption, entities = check_caption(params.get("caption"), params.get("parse_mode"))
    if caption:
        content["caption"] = caption
        if entities:
            content["caption_entities"] = entities
    return content


def send_media_group(s: SandboxServer, params: Params, files: Files) -> Any:
    chat = s.target_chat(params)
    media = params.get("media")
    if not isinstance(media, list) or not 2 <= len(media) <= 10:
        raise BadRequest("wrong number of media items; expected 2-10")
    group_id = str(s.files.next_number() + 10**12)
    prepared = []
    for item in media:
        if not isinstance(item, dict) or item.get("type") not in (
            "photo",
            "document",
            "audio",
            "video",
        ):
            raise BadRequest("can't parse InputMedia")
        content = _media_content(s, item["type"], item.get("media"), files, item)
        content["media_group_id"] = group_id
        prepared.append(content)
    results = []
    for index, content in enumerate(prepared):
        item_params = {"reply_parameters": params.get("reply_parameters") if index == 0 else None}
        results.append(s.bot_message(chat, item_params, content))
    return results


def send_location(s: SandboxServer, params: Params, files: Files) -> Any:
    chat = s.target_chat(params)
    try:
        location = {
            "latitude": float(params["latitude"]),
            "longitude": float(params["longitude"]),
        }
    except (KeyError, TypeError, ValueError):
        raise BadRequest("wrong latitude or longitude") from None
    return s.bot_message(chat, params, {"location": location})


def send_contact(s: SandboxServer, params: Params, files: Files) -> Any:
    chat = s.target_chat(params)
    if not params.get("phone_number") or not params.get("first_name"):
        raise BadRequest("phone number and first name are required")
    contact = {
        "phone_number": str(params["phone_number"]),
        "first_name": str(params["first_name"]),
    }
    if params.get("last_name"):
        contact["last_name"] = str(params["last_name"])
    return s.bot_message(chat, params, {"contact": contact})


_CONTENT_KEYS = (
    "text",
    "entities",
    "photo",
    "voice",
    "audio",
    "document",
    "video",
    "animation",
    "sticker",
    "caption",
    "caption_entities",
    "contact",
    "location",
)


def _copy_source(s: SandboxServer, params: Params) -> dict[str, Any]:
    source_chat = s.chat(params.get("from_chat_id"))
    if source_chat is None:
        raise BadRequest("chat not found")
    message = source_chat.messages.get(int_param(params.get("message_id"), -1))
    if message is None:
        raise BadRequest("message to copy not found")
    return message


def forward_message(s: SandboxServer, params: Params, files: Files) -> Any:
    chat = s.target_chat(params)
    source = _copy_source(s, params)
    content = {k: copy.deepcopy(source[k]) for k in _CONTENT_KEYS if k in source}
    sender = source["from"]
    content["forward_origin"] = (
        {"type": "user", "sender_user": sender, "date": source["date"]}
        if source["chat"]["type"] == "private" or not sender.get("is_bot")
        else {"type": "chat", "sender_chat": source["chat"], "date": source["date"]}
    )
    return s.bot_message(chat, {}, content)


def copy_message(s: SandboxServer, params: Params, files: Files) -> Any:
    chat = s.target_chat(params)
    source = _copy_source(s, params)
    content = {k: copy.deepcopy(source[k]) for k in _CONTENT_KEYS if k in source}
    if "caption" in params:
        caption, entities = check_caption(params.get("caption"), params.get("parse_mode"))
        content.pop("caption_entities", None)
        if caption:
            content["caption"] = caption
            if entities:
                content["caption_entities"] = entities
        else:
            content.pop("caption", None)
    message = s.bot_message(chat, params, content)
    return {"message_id": message["message_id"]}


def get_file(s: SandboxServer, params: Params, files: Files) -> Any:
    stored = s.files.get(str(params.get("file_id")))
    if stored is None:
        raise BadRequest("invalid file_id")
    return {
        "file_id": stored.file_id,
        "file_unique_id": stored.file_unique_id,
        "file_size": stored.size,
        "file_path": stored.file_path,
    }


# -- commands, menu button, chats --------------------------------------------------------------


def _commands_key(params: Params) -> str:
    return commands_key(params.get("scope"), params.get("language_code") or "")


def set_my_commands(s: SandboxServer, params: Params, files: Files) -> Any:
    commands = params.get("commands")
    if not isinstance(commands, list) or len(commands) > 100:
        raise BadRequest("can't parse commands JSON object")
    for command in commands:
        name = command.get("command", "") if isinstance(command, dict) else ""
        if not re.fullmatch(r"[a-z0-9_]{1,32}", name):
            raise BadRequest("BOT_COMMAND_INVALID")
        if not 1 <= len(str(command.get("description", ""))) <= 256:
            raise BadRequest("command description must be non-empty")
    s.bot_commands[_commands_key(params)] = commands
    return True


def get_my_commands(s: SandboxServer, params: Params, files: Files) -> Any:
    return s.bot_commands.get(_commands_key(params), [])


def delete_my_commands(s: SandboxServer, params: Params, files: Files) -> Any:
    s.bot_commands.pop(_commands_key(params), None)
    return True


def set_chat_menu_button(s: SandboxServer, params: Params, files: Files) -> Any:
    button = params.get("menu_button") or {"type": "default"}
    s.menu_buttons[str(params.get("chat_id") or "")] = button
    return True


def get_chat_menu_button(s: SandboxServer, params: Params, files: Files) -> Any:
    return s.menu_buttons.get(str(params.get("chat_id") or ""), {"type": "commands"})


def get_chat(s: SandboxServer, params: Params, files: Files) -> Any:
    chat = s.target_chat(params, sending=False)
    return {
        **chat.chat,
        "accent_color_id": 0,
        "max_reaction_count": 11,
        "accepted_gift_types": {
            "unlimited_gifts": False,
            "limited_gifts": False,
            "unique_gifts": False,
            "premium_subscription": False,
            "gifts_from_channels": False,
        },
    }


def get_chat_member(s: SandboxServer, params: Params, files: Files) -> Any:
    chat = s.target_chat(params, sending=False)
    user_id = int_param(params.get("user_id"), 0)
    person = s.person(user_id)
    if person is None or user_id not in chat.member_ids:
        if person is None:
            raise BadRequest("user not found")
        return {"status": "left", "user": person.user}
    return {"status": "member", "user": person.user}


def get_chat_member_count(s: SandboxServer, params: Params, files: Files) -> Any:
    chat = s.target_chat(params, sending=False)
    return len(chat.member_ids) + 1


METHODS: dict[str, Method] = {
    "getMe": get_me,
    "getUpdates": get_updates,
    "setWebhook": set_webhook,
    "deleteWebhook": delete_webhook,
    "getWebhookInfo": get_webhook_info,
    "sendMessage": send_message,
    "editMessageText": edit_message_text,
    "editMessageCaption": edit_message_caption,
    "editMessageReplyMarkup": edit_message_reply_markup,
    "deleteMessage": delete_message,
    "deleteMessages": delete_messages,
    "answerCallbackQuery": answer_callback_query,
    "sendChatAction": send_chat_action,
    "sendPhoto": _send_media("photo"),
    "sendDocument": _send_media("document"),
    "sendVoice": _send_media("voice"),
    "sendAudio": _send_media("audio"),
    "sendVideo": _send_media("video"),
    "sendAnimation": _send_media("animation"),
    "sendSticker": _send_media("sticker"),
    "sendMediaGroup": send_media_group,
    "sendLocation": send_location,
    "sendContact": send_contact,
    "forwardMessage": forward_message,
    "copyMessage": copy_message,
    "getFile": get_file,
    "setMyCommands": set_my_commands,
    "getMyCommands": get_my_commands,
    "deleteMyCommands": delete_my_commands,
    "setChatMenuButton": set_chat_menu_button,
    "getChatMenuButton": get_chat_menu_button,
    "getChat": get_chat,
    "getChatMember": get_chat_member,
    "getChatMemberCount": get_chat_member_count,
    **dict.fromkeys(HARMLESS_SETTERS, _accept),
}
