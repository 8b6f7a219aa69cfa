"""Drives the real Dispatcher with real `Update` objects, as people in a chat would."""

from __future__ import annotations

import itertools
import time
from dataclasses import dataclass
from typing import Any

from aiogram import Bot, Dispatcher
from aiogram.types import Update

from tests.recording import BOT_USER, RecordingSession, Request

_update_ids = itertools.count(1)
_message_ids = itertools.count(1)


@dataclass(frozen=True)
class Person:
    id: int
    first_name: str
    language_code: str | None = "zh-hans"
    last_name: str | None = None
    username: str | None = None

    def as_user(self) -> dict[str, Any]:
        user: dict[str, Any] = {"id": self.id, "is_bot": False, "first_name": self.first_name}
        if self.last_name:
            user["last_name"] = self.last_name
        if self.username:
            user["username"] = self.username
        if self.language_code:
            user["language_code"] = self.language_code
        return user

    def private_chat(self) -> dict[str, Any]:
        return {"id": self.id, "type": "private", "first_name": self.first_name}


class Chat:
    """`await chat.send(person, "text")` feeds one update and returns what the bot sent back."""

    def __init__(self, dispatcher: Dispatcher, bot: Bot, session: RecordingSession) -> None:
        self.dispatcher = dispatcher
        self.bot = bot
        self.session = session
        # the inline buttons each message of the bot carries now, by (chat id, message id)
        self.buttons: dict[tuple[int, int], list[dict[str, Any]]] = {}

    async def feed(self, update: dict[str, Any]) -> list[Request]:
        self.session.take()
        await self.dispatcher.feed_update(
            self.bot, Update.model_validate(update, context={"bot": self.bot})
        )
        sent = self.session.take()
        self._track(sent)
        return sent

    def _track(self, sent: list[Request]) -> None:
        for request in sent:
            if request.chat_id is None:
                continue
            if request.method.startswith("send") and request.message_id is not None:
                self.buttons[(request.chat_id, request.message_id)] = request.inline_buttons()
            elif request.method in ("editMessageText", "editMessageReplyMarkup"):
                message_id = int(request.params["message_id"])
                self.buttons[(request.chat_id, message_id)] = request.inline_buttons()

    def message_with(self, person: Person, data: str, chat_id: int | None = None) -> int | None:
        """The newest message in the chat whose buttons (as they are now) include `data`."""
        chat_id = person.id if chat_id is None else chat_id
        for (chat, message_id), buttons in sorted(self.buttons.items(), reverse=True):
            if chat == chat_id and any(b.get("callback_data") == data for b in buttons):
                return message_id
        return None

    async def tap(self, person: Person, data: str) -> list[Request]:
        """Press a button the bot really shows now (on its newest message carrying it)."""
        message_id = self.message_with(person, data)
        assert message_id is not None, f"no message shows a button {data!r} now"
        return await self.press(person, data, message_id=message_id)

    def message_update(
        self, person: Person, chat: dict[str, Any] | None = None, **content: Any
    ) -> dict[str, Any]:
        message = {
            "message_id": next(_message_ids),
            "date": int(time.time()),
            "chat": chat or person.private_chat(),
            "from": person.as_user(),
            **content,
        }
        return {"update_id": next(_update_ids), "message": message}

    async def send(self, person: Person, text: str | None = None, **content: Any) -> list[Request]:
        if text is not None:
            content["text"] = text
            if text.startswith("/"):
                command = text.split()[0]
                content["entities"] = [{"type": "bot_command", "offset": 0, "length": len(command)}]
        return await self.feed(self.message_update(person, **content))

    async def share_contact(self, person: Person, phone: str) -> list[Request]:
        contact = {"phone_number": phone, "first_name": person.first_name, "user_id": person.id}
        return await self.send(person, contact=contact)

    async def send_voice(self, person: Person, duration: int = 5) -> list[Request]:
        file_id = f"voice-{next(_message_ids)}"
        voice = {
            "file_id": file_id,
            "file_unique_id": f"u{file_id}",
            "duration": duration,
            "mime_type": "audio/ogg",
            "file_size": 4000,
        }
        return await self.send(person, voice=voice)

    async def send_photo(
        self, person: Person, caption: str | None = None, media_group_id: str | None = None
    ) -> list[Request]:
        file_id = f"photo-{next(_message_ids)}"
        sizes = [
            {
                "file_id": f"{file_id}-{w}",
                "file_unique_id": f"u{file_id}-{w}",
                "width": w,
                "height": w,
                "file_size": w * 100,
            }
            for w in (90, 320, 1280)
        ]
        content: dict[str, Any] = {"photo": sizes}
        if caption:
            content["caption"] = caption
        if media_group_id:
            content["media_group_id"] = media_group_id
        return await self.send(person, **content)

    async def send_sticker(self, person: Person) -> list[Request]:
        sticker = {
            "file_id": "sticker-1",
            "file_unique_id": "usticker-1",
            "type": "regular",
            "width": 512,
            "height": 512,
            "is_animated": False,
            "is_video": False,
        }
        return await self.send(person, sticker=sticker)

    async def press(
        self,
        person: Person,
        data: str,
        *,
        message_id: int = 1,
        chat: dict[str, Any] | None = None,
        message_text: str = "…",
    ) -> list[Request]:
        """Press an inline button whose callback data is `data` on the bot's message."""
        callback = {
            "id": str(next(_update_ids) * 7919),
            "from": person.as_user(),
            "chat_instance": f"ci{person.id}",
            "data": data,
            "message": {
                "message_id": message_id,
                "date": int(time.time()),
                "chat": chat or person.private_chat(),
                "from": BOT_USER,
                "text": message_text,
            },
        }
        return await self.feed({"update_id": next(_update_ids), "callback_query": callback})


def texts(requests: list[Request]) -> list[str]:
    return [r.text for r in requests if r.text]


def last_message(requests: list[Request]) -> Request:
    sent = [r for r in requests if r.method in ("sendMessage", "editMessageText", "sendPhoto")]
    assert sent, f"the bot sent no message: {requests}"
    return sent[-1]
