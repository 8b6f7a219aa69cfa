"""The stand-in Telegram's world: people and chats, the messages in them, and what people do.

People are simulated by a test or the chat page (`user_sends`, `user_presses`); what they do
becomes updates for the bot (through the `enqueue_update` it is given). Every change in a chat is
also an event (message, edit, delete, keyboard, button press, callback answer, chat action) that
the page and the tests can read or wait for. The Bot API methods (sandbox/methods.py) change the
world through `target_chat`, `bot_message`, `find_message`, `apply_edit` and `event`.

All state is in memory and lives as long as the server.
"""

from __future__ import annotations

import asyncio
import bisect
import contextlib
import copy
import itertools
import json
import re
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sandbox.files import FileStore
from sandbox.telegram_text import (
    ApiError,
    BadRequest,
    command_entities,
    int_param,
    parse_reply_markup,
)

CALLBACK_QUERY_LIFETIME = 15.0  # seconds Telegram waits for answerCallbackQuery
FIRST_GENERATED_USER_ID = 990_000_001

EnqueueUpdate = Callable[[str, dict[str, Any]], None]


@dataclass
class Person:
    user: dict[str, Any]
    role_hint: str | None = None
    description: str | None = None
    phone_number: str | None = None


@dataclass
class Chat:
    chat: dict[str, Any]
    member_ids: list[int] = field(default_factory=list)
    messages: dict[int, dict[str, Any]] = field(default_factory=dict)  # as shown, in order
    next_message_id: int = 1
    keyboard: dict[str, Any] | None = None  # the reply keyboard currently shown
    events: list[dict[str, Any]] = field(default_factory=list)
    bot_cursor: int = 0  # wait_for_bot_message consumes bot messages in order

    @property
    def is_private(self) -> bool:
        return self.chat["type"] == "private"


@dataclass
class CallbackQuery:
    id: str
    user_id: int
    chat_id: int
    message_id: int
    created: float
    answered: bool = False


def commands_key(scope: dict[str, Any] | None, language_code: str) -> str:
    """Where setMyCommands keeps a command list: by scope and language."""
    return json.dumps([scope or {"type": "default"}, language_code], sort_keys=True)


class World:
    def __init__(
        self,
        files: FileStore,
        enqueue_update: EnqueueUpdate,
        *,
        bot_username: str = "retiree_service_bot",
        bot_name: str = "Retiree Service",
    ) -> None:
        self.files = files
        self.bot_username = bot_username
        self.bot_name = bot_name
        self.bot_id: int | None = None  # learnt from the token of the last request
        self.callback_query_lifetime = CALLBACK_QUERY_LIFETIME
        # The bot's settings, as setMyCommands and setChatMenuButton left them.
        self.bot_commands: dict[str, list[dict[str, Any]]] = {}
        self.menu_buttons: dict[str, dict[str, Any]] = {}

        self._enqueue_update = enqueue_update
        self._people: dict[int, Person] = {}
        self._chats: dict[int, Chat] = {}
        self._blocked: set[int] = set()
        self._callbacks: dict[str, CallbackQuery] = {}
        self._callback_ids = itertools.count(1)
        self._event_seq = itertools.count(1)
        self._last_event = 0
        self._event_changed = asyncio.Event()
        self._next_user_id = FIRST_GENERATED_USER_ID
        self._closing = False
        # Names this run of the sandbox: an open page that sees another one knows the sandbox
        # was restarted (its chats and event numbers are gone) and reloads.
        self.boot_id = secrets.token_hex(8)
        # The office's time zone (TIMEZONE): the page shows message times in it.
        self.timezone = "Asia/Shanghai"

    def open(self) -> None:
        self._closing = False

    def close(self) -> None:
        """The server stops: waits for events (the page's long polls) return at once."""
        self._closing = True
        self._event_changed.set()

    # -- people and chats ------------------------------------------------------------------
    def add_person(
        self,
        user_id: int,
        first_name: str,
        *,
        last_name: str | None = None,
        username: str | None = None,
        language_code: str | None = "zh-hans",
        role_hint: str | None = None,
        description: str | None = None,
        phone_number: str | None = None,
    ) -> None:
        user: dict[str, Any] = {"id": user_id, "is_bot": False, "first_name": first_name}
        if last_name:
            user["last_name"] = last_name
        if username:
            user["username"] = username
        if language_code:
            user["language_code"] = language_code
        self._people[user_id] = Person(user, role_hint, description, phone_number)
        chat: dict[str, Any] = {"id": user_id, "type": "private", "first_name": first_name}
        if last_name:
            chat["last_name"] = last_name
        if username:
            chat["username"] = username
        if user_id in self._chats:
            self._chats[user_id].chat = chat
        else:
            self._chats[user_id] = Chat(chat, [user_id])
        self._next_user_id = max(self._next_user_id, user_id + 1)

    def create_person(
        self, first_name: str, *, language_code: str | None = "zh-hans", **kw: Any
    ) -> int:
        """A brand-new user with the next free id (the chat page's "new user")."""
        user_id = self._next_user_id
        self.add_person(user_id, first_name, language_code=language_code, **kw)
        return user_id

    def add_group(self, chat_id: int, title: str, member_ids: list[int]) -> None:
        kind = "supergroup" if str(chat_id).startswith("-100") else "group"
        chat = {"id": chat_id, "type": kind, "title": title}
        if chat_id in self._chats:
            self._chats[chat_id].chat = chat
            self._chats[chat_id].member_ids = list(member_ids)
        else:
            self._chats[chat_id] = Chat(chat, list(member_ids))

    def block_bot(self, user_id: int) -> None:
        self._blocked.add(user_id)
        person = self._people.get(user_id)
        if person is not None and self.bot_id is not None:
            self._enqueue_update(
                "my_chat_member",
                {
                    "chat": self._chats[user_id].chat,
                    "from": person.user,
                    "date": int(time.time()),
                    "old_chat_member": {"status": "member", "user": self.bot_user()},
                    "new_chat_member": {
                        "status": "kicked",
                        "user": self.bot_user(),
                        "until_date": 0,
                    },
                },
            )

    def people(self) -> list[dict[str, Any]]:
        return [self.person_info(user_id) for user_id in self._people]

    def person_info(self, user_id: int) -> dict[str, Any]:
        person = self._people[user_id]
        chats = [
            {"id": c.chat["id"], "type": c.chat["type"], "title": c.chat.get("title")}
            for c in self._chats.values()
            if not c.is_private and user_id in c.member_ids
        ]
        return {
            **person.user,
            "role_hint": person.role_hint,
            "description": person.description,
            "phone_number": self._phone_of(user_id),
            "blocked": user_id in self._blocked,
            "groups": chats,
        }

    def groups(self) -> list[dict[str, Any]]:
        return [
            {**c.chat, "member_ids": list(c.member_ids)}
            for c in self._chats.values()
            if not c.is_private
        ]

    def has_chat(self, chat_id: int) -> bool:
        return chat_id in self._chats

    def chat_info(self, chat_id: int) -> dict[str, Any]:
        return dict(self._chats[chat_id].chat)

    def person(self, user_id: int) -> Person | None:
        return self._people.get(user_id)

    def chat(self, chat_id: Any) -> Chat | None:
        return self._chats.get(chat_id)

    def _phone_of(self, user_id: int) -> str:
        person = self._people.get(user_id)
        if person is not None and person.phone_number:
            return person.phone_number
        digits = f"{user_id % 100_000_000:08d}"
        return f"+86138{digits}"

    def commands(self, language_code: str = "", scope: dict[str, Any] | None = None) -> list[Any]:
        return copy.deepcopy(self.bot_commands.get(commands_key(scope, language_code), []))

    # -- what the test or the page sees ----------------------------------------------------
    def messages(self, chat_id: int) -> list[dict[str, Any]]:
        chat = self._chats.get(chat_id)
        if chat is None:
            return []
        return [copy.deepcopy(message) for message in chat.messages.values()]

    def reply_keyboard(self, chat_id: int) -> dict[str, Any] | None:
        chat = self._chats.get(chat_id)
        return copy.deepcopy(chat.keyboard) if chat else None

    def events(self, chat_id: int, after: int = 0) -> list[dict[str, Any]]:
        chat = self._chats.get(chat_id)
        if chat is None:
            return []
        start = bisect.bisect_right(chat.events, after, key=_seq)
        return [copy.deepcopy(e) for e in chat.events[start:]]

    @property
    def last_event(self) -> int:
        return self._last_event

    async def wait_events(
        self, chat_id: int | list[int], after: int, timeout: float
    ) -> list[dict[str, Any]]:
        """Events after `after` in one chat or several (each event names its `chat_id`),
        waiting up to `timeout` seconds for the first one (long polling for the page)."""
        chat_ids = chat_id if isinstance(chat_id, list) else [chat_id]
        deadline = time.monotonic() + timeout
        while True:
            found = sorted(
                (e for one in chat_ids for e in self.events(one, after)), key=lambda e: e["seq"]
            )
            remaining = deadline - time.monotonic()
            if found or remaining <= 0 or self._closing:
                return found
            self._event_changed.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._event_changed.wait(), remaining)

    async def wait_for_bot_message(
        self,
        chat_id: int,
        predicate: Callable[[dict[str, Any]], bool] | None = None,
        timeout: float = 10,
    ) -> dict[str, Any]:
        """The next bot message (new or edited) in that chat matching `predicate`.

        Bot messages are consumed in order: each call starts after the one the previous call
        returned, so two calls in a row return two successive answers. The message is returned
        as it was at that moment (an edit is its own step, with `edit_date`).
        """
        chat = self._chats.get(chat_id)
        if chat is None:
            raise KeyError(f"no chat {chat_id} in the sandbox")
        deadline = time.monotonic() + timeout
        while True:
            start = bisect.bisect_right(chat.events, chat.bot_cursor, key=_seq)
            for event in chat.events[start:]:
                if event["type"] != "message":
                    continue
                message = event["message"]
                if not message.get("from", {}).get("is_bot"):
                    continue
                if predicate is None or predicate(message):
                    chat.bot_cursor = event["seq"]
                    return copy.deepcopy(message)
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                shown = [m.get("text") or m.get("caption") for m in self.messages(chat_id)][-5:]
                raise TimeoutError(
                    f"no matching bot message in chat {chat_id} within {timeout}s; "
                    f"last messages: {shown}"
                )
            self._event_changed.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._event_changed.wait(), remaining)

    def event(self, chat: Chat, kind: str, **payload: Any) -> None:
        seq = next(self._event_seq)
        self._last_event = seq
        chat.events.append(
            {"seq": seq, "type": kind, "chat_id": chat.chat["id"], "at": time.time(), **payload}
        )
        self._event_changed.set()

    # -- people act ------------------------------------------------------------------------
    async def user_sends(
        self,
        user_id: int,
        text: str | None = None,
        *,
        chat_id: int | None = None,
        contact: dict[str, Any] | None = None,
        photo: bytes | None = None,
        voice: bytes | None = None,
        caption: str | None = None,
        location: dict[str, Any] | None = None,
        voice_duration: int | None = None,
        voice_mime_type: str | None = None,
        from_keyboard: bool = False,
    ) -> dict[str, Any]:
        """A person writes to the bot (private chat by default); returns the user's Message."""
        person = self._people.get(user_id)
        if person is None:
            raise KeyError(f"unknown person {user_id}: add_person first")
        chat = self._chats[chat_id if chat_id is not None else user_id]
        if not chat.is_private and user_id not in chat.member_ids:
            chat.member_ids.append(user_id)
        if chat.is_private:
            self._blocked.discard(user_id)  # writing again unblocks, as /start does
        content: dict[str, Any] = {}
        if text is not None:
            content["text"] = text
            entities = command_entities(text)
            if entities:
                content["entities"] = entities
        if contact is not None:
            content["contact"] = {"first_name": person.user["first_name"], **contact}
        if photo is not None:
            content["photo"] = self.files.photo_sizes(
                self.files.store(photo, "photos", "image/jpeg")
            )
        if voice is not None:
            stored = self.files.store(voice, "voice", voice_mime_type or "audio/ogg")
            content["voice"] = {
                "file_id": stored.file_id,
                "file_unique_id": stored.file_unique_id,
                "duration": voice_duration or max(1, len(voice) // 4000),
                "mime_type": stored.mime_type,
                "file_size": stored.size,
            }
        if location is not None:
            content["location"] = {
                "latitude": float(location["latitude"]),
                "longitude": float(location["longitude"]),
            }
        if caption is not None and (photo is not None or voice is not None):
            content["caption"] = caption
        if not content:
            raise ValueError("user_sends needs text, contact, photo, voice or location")
        if from_keyboard and chat.keyboard and chat.keyboard.get("one_time_keyboard"):
            chat.keyboard = None
            self.event(chat, "keyboard", keyboard=None)
        message = self._new_message(chat, person.user, content)
        self._enqueue_update("message", message)
        return copy.deepcopy(message)

    async def user_presses(
        self, user_id: int, chat_id: int, message_id: int, callback_data: str
    ) -> str:
        """A person taps an inline button under a bot message; returns the callback query id."""
        person = self._people.get(user_id)
        chat = self._chats.get(chat_id)
        if person is None or chat is None:
            raise KeyError(f"unknown person {user_id} or chat {chat_id}")
        message = chat.messages.get(message_id)
        if message is None or not message.get("from", {}).get("is_bot"):
            raise KeyError(f"no bot message {message_id} in chat {chat_id}")
        query_id = f"{next(self._callback_ids)}{user_id % 100000:05d}"
        self._callbacks[query_id] = CallbackQuery(
            query_id, user_id, chat_id, message_id, time.monotonic()
        )
        query = {
            "id": query_id,
            "from": person.user,
            "message": copy.deepcopy(message),
            "chat_instance": str(abs(hash((chat_id, self.bot_id))) % 10**18),
            "data": callback_data,
        }
        self.event(chat, "press", user_id=user_id, message_id=message_id, data=callback_data)
        self._enqueue_update("callback_query", query)
        return query_id

    def callback_query(self, query_id: str) -> CallbackQuery | None:
        return self._callbacks.get(query_id)

    def _new_message(
        self, chat: Chat, sender: dict[str, Any], content: dict[str, Any]
    ) -> dict[str, Any]:
        message = {
            "message_id": chat.next_message_id,
            "from": sender,
            "chat": chat.chat,
            "date": int(time.time()),
            **content,
        }
        chat.next_message_id += 1
        chat.messages[message["message_id"]] = message
        self.event(chat, "message", message=copy.deepcopy(message))
        return message

    # -- the bot acts (through the Bot API methods) ----------------------------------------
    def bot_user(self) -> dict[str, Any]:
        return {
            "id": self.bot_id or 0,
            "is_bot": True,
            "first_name": self.bot_name,
            "username": self.bot_username,
        }

    def target_chat(self, params: dict[str, Any], *, sending: bool = True) -> Chat:
        """The chat a method names in `chat_id` (a number or an @username), or Telegram's
        refusal: unknown chat, or a private chat whose person blocked the bot."""
        chat_id = params.get("chat_id")
        if isinstance(chat_id, str) and re.fullmatch(r"-?\d+", chat_id):
            chat_id = int(chat_id)
        chat = self._chats.get(chat_id) if isinstance(chat_id, int) else None
        if chat is None and isinstance(chat_id, str) and chat_id.startswith("@"):
            chat = next(
                (c for c in self._chats.values() if "@" + str(c.chat.get("username")) == chat_id),
                None,
            )
        if chat is None:
            raise BadRequest("chat not found")
        if sending and chat.is_private and chat.chat["id"] in self._blocked:
            raise ApiError(403, "Forbidden: bot was blocked by the user")
        return chat

    def bot_message(
        self, chat: Chat, params: dict[str, Any], content: dict[str, Any]
    ) -> dict[str, Any]:
        """A new message from the bot, with the reply and the keyboard `params` ask for."""
        markup = parse_reply_markup(params.get("reply_markup"), private_chat=chat.is_private)
        reply_to = _reply_to(params)
        if reply_to is not None:
            if reply_to in chat.messages:
                content["reply_to_message"] = copy.deepcopy(chat.messages[reply_to])
            elif not _allow_without_reply(params):
                raise BadRequest("message to be replied not found")
        if markup and "inline_keyboard" in markup:
            content["reply_markup"] = markup
        message = self._new_message(chat, self.bot_user(), content)
        if markup and "keyboard" in markup:
            chat.keyboard = markup
            self.event(chat, "keyboard", keyboard=copy.deepcopy(markup))
        elif markup and markup.get("remove_keyboard"):
            chat.keyboard = None
            self.event(chat, "keyboard", keyboard=None)
        return copy.deepcopy(message)

    def find_message(self, params: dict[str, Any], missing: str) -> tuple[Chat, dict[str, Any]]:
        if params.get("inline_message_id"):
            raise BadRequest(missing)
        chat = self.target_chat(params, sending=False)
        message = chat.messages.get(int_param(params.get("message_id"), -1))
        if message is None:
            raise BadRequest(missing)
        return chat, message

    def apply_edit(
        self, chat: Chat, message: dict[str, Any], changes: dict[str, Any]
    ) -> dict[str, Any]:
        if all(message.get(key) == value for key, value in changes.items()):
            raise BadRequest(
                "message is not modified: specified new message content and reply markup are "
                "exactly the same as a current content and reply markup of the message"
            )
        for key, value in changes.items():
            if value is None:
                message.pop(key, None)
            else:
                message[key] = value
        message["edit_date"] = int(time.time())
        self.event(chat, "message", message=copy.deepcopy(message), edited=True)
        return copy.deepcopy(message)


def _seq(event: dict[str, Any]) -> int:
    return int(event["seq"])


def _reply_to(params: dict[str, Any]) -> int | None:
    parameters = params.get("reply_parameters")
    if isinstance(parameters, dict) and parameters.get("message_id") is not None:
        return int(parameters["message_id"])
    if params.get("reply_to_message_id") is not None:
        return int(params["reply_to_message_id"])
    return None


def _allow_without_reply(params: dict[str, Any]) -> bool:
    parameters = params.get("reply_parameters")
    if isinstance(parameters, dict) and parameters.get("allow_sending_without_reply"):
        return True
    return params.get("allow_sending_without_reply") is True
