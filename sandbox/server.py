"""A local stand-in for Telegram's Bot API server, plus the chat page that talks to it.

The bot connects to it exactly as it would to Telegram (`TELEGRAM_API_URL=<api_url>`): same URL
shape (`/bot<token>/<method>`, `/file/bot<token>/<path>`), same envelope, same refusals and
description strings, long polling or webhook delivery. People are simulated by the test or the
browser page (`user_sends`, `user_presses`), and everything the bot asks for is recorded in
`requests`. Faults (rate limits, 5xx, slow answers, dropped connections) can be injected for
benchmarks and reliability tests.

All state is in memory and lives as long as the server: it is a development and training tool,
not a message store.
"""

from __future__ import annotations

import asyncio
import bisect
import contextlib
import copy
import hashlib
import itertools
import json
import logging
import math
import mimetypes
import random
import re
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiohttp import ClientError, ClientSession, ClientTimeout, MultipartReader, web

from sandbox.telegram_text import (
    MAX_CALLBACK_ANSWER,
    ApiError,
    BadRequest,
    check_caption,
    check_text,
    command_entities,
    parse_reply_markup,
)

log = logging.getLogger(__name__)

STATIC_DIR = Path(__file__).with_name("static")
CALLBACK_QUERY_LIFETIME = 15.0  # seconds Telegram waits for answerCallbackQuery
FIRST_GENERATED_USER_ID = 990_000_001

# Fields whose text must never be turned into a number or a boolean when decoding form data.
_STRING_FIELDS = {
    "text",
    "caption",
    "callback_query_id",
    "callback_data",
    "file_id",
    "inline_message_id",
    "secret_token",
    "url",
    "title",
    "description",
    "short_description",
    "name",
    "emoji",
    "language_code",
    "parse_mode",
    "action",
    "business_connection_id",
    "message_effect_id",
    "phone_number",
    "first_name",
    "last_name",
    "vcard",
    "address",
    "foursquare_id",
    "ip_address",
    "media_group_id",
    "question",
    "explanation",
    "custom_title",
    "invite_link",
    "query",
}
_FILE_FIELDS = (
    "photo",
    "document",
    "voice",
    "audio",
    "video",
    "animation",
    "video_note",
    "sticker",
)
_RATE_LIMITED_PREFIXES = ("send", "edit", "copyMessage", "forwardMessage")
_HARMLESS_SETTERS = {
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
_OPT_IN_UPDATE_TYPES = {"chat_member", "message_reaction", "message_reaction_count"}


@dataclass
class FaultConfig:
    global_rate_per_second: float | None = None  # answer 429 with retry_after beyond it
    per_chat_per_second: float | None = None  # Telegram's ~1 msg/s per chat
    error_rate: float = 0.0  # injected 5xx (500/502) at this rate
    slow_rate: float = 0.0
    slow_seconds: float = 1.0
    drop_rate: float = 0.0  # close the connection without answering
    seed: int | None = None

    _NAMES = {
        "global": "global_rate_per_second",
        "per_chat": "per_chat_per_second",
        "error": "error_rate",
        "slow": "slow_rate",
        "slow_seconds": "slow_seconds",
        "drop": "drop_rate",
        "seed": "seed",
    }

    @classmethod
    def parse(cls, spec: str) -> FaultConfig:
        """From a command-line string, e.g. "global=30,per_chat=1,error=0.05,drop=0.01,seed=7".

        Raises ValueError naming the bad part."""
        values: dict[str, Any] = {}
        for part in filter(None, (p.strip() for p in spec.split(","))):
            key, _, raw = part.partition("=")
            name = cls._NAMES.get(key.strip())
            if name is None or not raw:
                known = ", ".join(cls._NAMES)
                raise ValueError(f"unknown fault {part!r}; use name=value with names {known}")
            try:
                values[name] = int(raw) if name == "seed" else float(raw)
            except ValueError:
                raise ValueError(f"fault {key!r} needs a number, not {raw!r}") from None
        return cls(**values)


@dataclass
class RecordedRequest:
    method: str
    params: dict[str, Any]
    token: str
    status: int  # HTTP status answered; 0 when the connection was dropped on purpose
    at: float


@dataclass
class _Person:
    user: dict[str, Any]
    role_hint: str | None = None
    description: str | None = None
    phone_number: str | None = None


@dataclass
class _Chat:
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
class _StoredFile:
    file_id: str
    file_unique_id: str
    file_path: str
    size: int
    mime_type: str | None
    file_name: str | None = None
    data: bytes | None = None  # in memory unless the server has a file_dir
    disk_path: Path | None = None

    def read(self) -> bytes:
        if self.disk_path is not None:
            return self.disk_path.read_bytes()
        return self.data or b""


@dataclass
class _CallbackQuery:
    id: str
    user_id: int
    chat_id: int
    message_id: int
    created: float
    answered: bool = False


class _RateWindow:
    """At most `rate` accepted requests per second over a sliding window."""

    def __init__(self, rate: float) -> None:
        self.window = max(1.0, 1.0 / rate)
        self.allowed = max(1, int(rate * self.window))
        self.times: deque[float] = deque()

    def retry_after(self, now: float) -> int | None:
        while self.times and now - self.times[0] >= self.window:
            self.times.popleft()
        if len(self.times) >= self.allowed:
            return max(1, math.ceil(self.window - (now - self.times[0])))
        return None

    def take(self, now: float) -> None:
        self.times.append(now)


class SandboxServer:
    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        faults: FaultConfig | None = None,
        bot_username: str = "retiree_service_bot",
        bot_name: str = "Retiree Service",
        file_dir: Path | None = None,
    ) -> None:
        self.host = host
        self.port = port
        self._faults = faults or FaultConfig()
        self.bot_username = bot_username
        self.bot_name = bot_name
        self.file_dir = Path(file_dir) if file_dir else None
        self.requests: list[RecordedRequest] = []
        self.bot_id: int | None = None  # learnt from the token of the last request
        self._token = ""
        self.webhook_retry_base = 0.2  # seconds; doubles after each failed delivery
        self.webhook_retry_max = 10.0
        self.callback_query_lifetime = CALLBACK_QUERY_LIFETIME

        self._rng = random.Random(self._faults.seed)
        self._people: dict[int, _Person] = {}
        self._chats: dict[int, _Chat] = {}
        self._blocked: set[int] = set()
        self._files: dict[str, _StoredFile] = {}
        self._file_ids = itertools.count(1)
        self._callbacks: dict[str, _CallbackQuery] = {}
        self._callback_ids = itertools.count(1)
        self._updates: deque[dict[str, Any]] = deque()
        self._update_ids = itertools.count(1)
        self._allowed_updates: list[str] | None = None
        self._new_update = asyncio.Event()
        self._poller_generation = 0
        self._webhook: dict[str, Any] | None = None
        self._webhook_wake = asyncio.Event()
        self._webhook_task: asyncio.Task[None] | None = None
        self._webhook_error: tuple[int, str] | None = None
        self._commands: dict[str, list[dict[str, Any]]] = {}
        self._menu_buttons: dict[str, dict[str, Any]] = {}
        self._event_seq = itertools.count(1)
        self._last_event = 0
        self._event_changed = asyncio.Event()
        self._global_window: _RateWindow | None = None
        self._chat_windows: dict[int, _RateWindow] = {}
        self._next_user_id = FIRST_GENERATED_USER_ID
        self._runner: web.AppRunner | None = None
        self._closing = False
        self._client: ClientSession | None = None

    @property
    def faults(self) -> FaultConfig:
        return self._faults

    @faults.setter
    def faults(self, faults: FaultConfig) -> None:
        """Change the faults while running (a benchmark phase): limits and the RNG start over."""
        self._faults = faults
        self._rng = random.Random(faults.seed)
        self._global_window = None
        self._chat_windows = {}

    # -- lifecycle -------------------------------------------------------------------------
    @property
    def base_url(self) -> str:
        host = "127.0.0.1" if self.host in ("", "0.0.0.0") else self.host
        return f"http://{host}:{self.port}"

    @property
    def api_url(self) -> str:
        return self.base_url

    def build_app(self) -> web.Application:
        from sandbox.page_api import add_page_routes

        app = web.Application(client_max_size=60 * 1024 * 1024)
        app.router.add_route("*", r"/bot{token}/{method}", self._handle_api)
        app.router.add_get(r"/file/bot{token}/{path:.+}", self._handle_file)
        add_page_routes(app, self)
        return app

    async def start(self) -> None:
        if self.file_dir is not None:
            self.file_dir.mkdir(parents=True, exist_ok=True)
        self._client = ClientSession(timeout=ClientTimeout(total=30))
        self._closing = False
        self._runner = web.AppRunner(
            self.build_app(), handle_signals=False, access_log=None, shutdown_timeout=2.0
        )
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port)
        await site.start()
        server = getattr(site, "_server", None)
        if self.port == 0 and server is not None and server.sockets:
            self.port = server.sockets[0].getsockname()[1]
        self._webhook_task = asyncio.create_task(self._webhook_loop())
        log.info("Sandbox Bot API server at %s", self.base_url)

    async def stop(self) -> None:
        # Long polls (the bot's getUpdates, the page's events) return at once, empty.
        self._closing = True
        self._new_update.set()
        self._event_changed.set()
        if self._webhook_task is not None:
            self._webhook_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._webhook_task
            self._webhook_task = None
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        if self._client is not None:
            await self._client.close()
            self._client = None

    async def __aenter__(self) -> SandboxServer:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

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
        self._people[user_id] = _Person(user, role_hint, description, phone_number)
        chat: dict[str, Any] = {"id": user_id, "type": "private", "first_name": first_name}
        if last_name:
            chat["last_name"] = last_name
        if username:
            chat["username"] = username
        if user_id in self._chats:
            self._chats[user_id].chat = chat
        else:
            self._chats[user_id] = _Chat(chat, [user_id])
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
            self._chats[chat_id] = _Chat(chat, list(member_ids))

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
                    "old_chat_member": {"status": "member", "user": self._bot_user()},
                    "new_chat_member": {
                        "status": "kicked",
                        "user": self._bot_user(),
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

    def _phone_of(self, user_id: int) -> str:
        person = self._people.get(user_id)
        if person is not None and person.phone_number:
            return person.phone_number
        digits = f"{user_id % 100_000_000:08d}"
        return f"+86138{digits}"

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

    def _event(self, chat: _Chat, kind: str, **payload: Any) -> None:
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
            content["photo"] = self._photo_sizes(self._store_file(photo, "photos", "image/jpeg"))
        if voice is not None:
            stored = self._store_file(voice, "voice", voice_mime_type or "audio/ogg")
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
            self._event(chat, "keyboard", keyboard=None)
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
        self._callbacks[query_id] = _CallbackQuery(
            query_id, user_id, chat_id, message_id, time.monotonic()
        )
        query = {
            "id": query_id,
            "from": person.user,
            "message": copy.deepcopy(message),
            "chat_instance": str(abs(hash((chat_id, self.bot_id))) % 10**18),
            "data": callback_data,
        }
        self._event(chat, "press", user_id=user_id, message_id=message_id, data=callback_data)
        self._enqueue_update("callback_query", query)
        return query_id

    def _new_message(
        self, chat: _Chat, sender: dict[str, Any], content: dict[str, Any]
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
        self._event(chat, "message", message=copy.deepcopy(message))
        return message

    # -- updates ---------------------------------------------------------------------------
    def _enqueue_update(self, kind: str, payload: dict[str, Any]) -> None:
        if self._allowed_updates:
            if kind not in self._allowed_updates:
                return
        elif kind in _OPT_IN_UPDATE_TYPES:
            return
        update = {"update_id": next(self._update_ids), kind: copy.deepcopy(payload)}
        self._updates.append(update)
        self._new_update.set()
        self._webhook_wake.set()

    def pending_updates(self) -> list[dict[str, Any]]:
        return copy.deepcopy(list(self._updates))

    async def _get_updates(self, params: dict[str, Any]) -> list[dict[str, Any]]:
        if self._webhook is not None:
            raise ApiError(
                409,
                "Conflict: can't use getUpdates method while webhook is active; use "
                "deleteWebhook to delete the webhook first",
            )
        offset = _int(params.get("offset"), 0)
        limit = min(max(_int(params.get("limit"), 100), 1), 100)
        timeout = max(_int(params.get("timeout"), 0), 0)
        if "allowed_updates" in params and params["allowed_updates"] is not None:
            allowed = params["allowed_updates"]
            self._allowed_updates = list(allowed) if allowed else None
        if offset < 0:
            keep = -offset
            while len(self._updates) > keep:
                self._updates.popleft()
        elif offset:
            while self._updates and self._updates[0]["update_id"] < offset:
                self._updates.popleft()
        self._poller_generation += 1
        generation = self._poller_generation
        self._new_update.set()  # an earlier poller, if any, ends with a conflict
        deadline = time.monotonic() + timeout
        while True:
            if generation != self._poller_generation:
                raise ApiError(
                    409,
                    "Conflict: terminated by other getUpdates request; make sure that only one "
                    "bot instance is running",
                )
            if self._updates or time.monotonic() >= deadline or self._closing:
                return copy.deepcopy(list(itertools.islice(self._updates, limit)))
            self._new_update.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(
                    self._new_update.wait(), max(0.0, deadline - time.monotonic())
                )

    # -- webhook ---------------------------------------------------------------------------
    async def _webhook_loop(self) -> None:
        delay = self.webhook_retry_base
        while True:
            if self._webhook is None or not self._updates:
                self._webhook_wake.clear()
                await self._webhook_wake.wait()
                continue
            webhook = self._webhook
            update = self._updates[0]
            ok = await self._deliver(webhook, update)
            if ok:
                if self._updates and self._updates[0] is update:
                    self._updates.popleft()
                delay = self.webhook_retry_base
                continue
            self._webhook_wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._webhook_wake.wait(), delay)
            delay = min(delay * 2, self.webhook_retry_max)

    async def _deliver(self, webhook: dict[str, Any], update: dict[str, Any]) -> bool:
        assert self._client is not None
        headers = {"Content-Type": "application/json"}
        if webhook.get("secret_token"):
            headers["X-Telegram-Bot-Api-Secret-Token"] = webhook["secret_token"]
        try:
            async with self._client.post(
                webhook["url"], data=json.dumps(update), headers=headers
            ) as response:
                if not 200 <= response.status < 300:
                    self._webhook_error = (
                        int(time.time()),
                        f"Wrong response from the webhook: {response.status} {response.reason}",
                    )
                    return False
                reply = await _read_reply(response)
        except (ClientError, OSError, TimeoutError) as exc:
            self._webhook_error = (int(time.time()), f"Connection failed: {exc!r:.100}")
            return False
        self._webhook_error = None
        if reply and isinstance(reply.get("method"), str):
            # A method answered in the webhook response: Telegram executes it, answer unseen.
            method = reply.pop("method")
            try:
                await self._call(webhook["token"], method, reply, files={})
                self._record(method, reply, webhook["token"], 200)
            except ApiError as error:
                self._record(method, reply, webhook["token"], error.error_code)
        return True

    # -- Bot API HTTP ----------------------------------------------------------------------
    async def _handle_api(self, request: web.Request) -> web.StreamResponse:
        token = request.match_info["token"]
        method = request.match_info["method"]
        try:
            params, files = await _read_params(request)
        except ValueError:
            return _envelope_error(ApiError(400, "Bad Request: can't parse request body"))
        if not re.fullmatch(r"\d+:[\w-]+", token):
            self._record(method, params, token, 401)
            return _envelope_error(ApiError(401, "Unauthorized"))
        fault = self._pick_fault()
        if fault == "drop":
            self._record(method, params, token, 0)
            return _drop(request)
        if fault == "error":
            status = self._rng.choice((500, 502))
            self._record(method, params, token, status)
            text = "Internal Server Error" if status == 500 else "Bad Gateway"
            return _envelope_error(ApiError(status, text))
        if fault == "slow":
            await asyncio.sleep(self.faults.slow_seconds)
        try:
            result = await self._call(token, method, params, files)
        except ApiError as error:
            self._record(method, params, token, error.error_code)
            return _envelope_error(error)
        self._record(method, params, token, 200)
        return web.json_response({"ok": True, "result": result})

    def _pick_fault(self) -> str | None:
        f = self.faults
        if f.drop_rate and self._rng.random() < f.drop_rate:
            return "drop"
        if f.error_rate and self._rng.random() < f.error_rate:
            return "error"
        if f.slow_rate and self._rng.random() < f.slow_rate:
            return "slow"
        return None

    def _record(self, method: str, params: dict[str, Any], token: str, status: int) -> None:
        self.requests.append(RecordedRequest(method, params, token, status, time.time()))

    async def _handle_file(self, request: web.Request) -> web.StreamResponse:
        path = request.match_info["path"]
        for stored in self._files.values():
            if stored.file_path == path:
                return web.Response(
                    body=stored.read(), content_type=stored.mime_type or "application/octet-stream"
                )
        return web.json_response(
            {"ok": False, "error_code": 404, "description": "Not Found"}, status=404
        )

    def file_bytes(self, file_id: str) -> tuple[bytes, str] | None:
        stored = self._files.get(file_id)
        if stored is None:
            return None
        return stored.read(), stored.mime_type or "application/octet-stream"

    # -- method dispatch -------------------------------------------------------------------
    async def _call(
        self, token: str, method: str, params: dict[str, Any], files: dict[str, _Upload]
    ) -> Any:
        self.bot_id = int(token.split(":", 1)[0])
        self._token = token
        handler = getattr(self, f"_m_{method}", None)
        if handler is None:
            if method in _HARMLESS_SETTERS:
                return True
            raise ApiError(404, "Not Found: method not found")
        if method.startswith(_RATE_LIMITED_PREFIXES) and method != "sendChatAction":
            self._check_rate(params)
        if method == "getUpdates":
            return await self._get_updates(params)
        return handler(params, files)

    def _check_rate(self, params: dict[str, Any]) -> None:
        now = time.monotonic()
        windows: list[_RateWindow] = []
        if self.faults.global_rate_per_second:
            if self._global_window is None:
                self._global_window = _RateWindow(self.faults.global_rate_per_second)
            windows.append(self._global_window)
        chat_id = params.get("chat_id")
        if self.faults.per_chat_per_second and isinstance(chat_id, int):
            window = self._chat_windows.get(chat_id)
            if window is None:
                window = self._chat_windows[chat_id] = _RateWindow(self.faults.per_chat_per_second)
            windows.append(window)
        waits = [w for w in (window.retry_after(now) for window in windows) if w]
        if waits:
            wait = max(waits)
            raise ApiError(429, f"Too Many Requests: retry after {wait}", {"retry_after": wait})
        for window in windows:
            window.take(now)

    def _bot_user(self) -> dict[str, Any]:
        return {
            "id": self.bot_id or 0,
            "is_bot": True,
            "first_name": self.bot_name,
            "username": self.bot_username,
        }

    def _target_chat(self, params: dict[str, Any], *, sending: bool = True) -> _Chat:
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

    def _bot_message(
        self, chat: _Chat, params: dict[str, Any], content: dict[str, Any]
    ) -> dict[str, Any]:
        markup = parse_reply_markup(params.get("reply_markup"), private_chat=chat.is_private)
        reply_to = _reply_to(params)
        if reply_to is not None:
            if reply_to in chat.messages:
                content["reply_to_message"] = copy.deepcopy(chat.messages[reply_to])
            elif not _allow_without_reply(params):
                raise BadRequest("message to be replied not found")
        if markup and "inline_keyboard" in markup:
            content["reply_markup"] = markup
        message = self._new_message(chat, self._bot_user(), content)
        if markup and "keyboard" in markup:
            chat.keyboard = markup
            self._event(chat, "keyboard", keyboard=copy.deepcopy(markup))
        elif markup and markup.get("remove_keyboard"):
            chat.keyboard = None
            self._event(chat, "keyboard", keyboard=None)
        return copy.deepcopy(message)

    def _find_message(self, params: dict[str, Any], missing: str) -> tuple[_Chat, dict[str, Any]]:
        if params.get("inline_message_id"):
            raise BadRequest(missing)
        chat = self._target_chat(params, sending=False)
        message = chat.messages.get(_int(params.get("message_id"), -1))
        if message is None:
            raise BadRequest(missing)
        return chat, message

    # -- the methods -----------------------------------------------------------------------
    def _m_getMe(self, params: dict[str, Any], files: dict[str, _Upload]) -> Any:
        return {
            **self._bot_user(),
            "can_join_groups": True,
            "can_read_all_group_messages": False,
            "supports_inline_queries": False,
            "can_connect_to_business": False,
            "has_main_web_app": False,
        }

    def _m_getUpdates(self, params: dict[str, Any], files: dict[str, _Upload]) -> Any:
        raise AssertionError("handled in _call")  # pragma: no cover

    def _m_setWebhook(self, params: dict[str, Any], files: dict[str, _Upload]) -> Any:
        url = params.get("url") or ""
        if not url:
            self._webhook = None
            return True
        if not re.match(r"^https?://", str(url)):
            raise BadRequest("bad webhook: An HTTPS URL must be provided for webhook")
        secret = params.get("secret_token")
        if secret is not None and not re.fullmatch(r"[A-Za-z0-9_-]{1,256}", str(secret)):
            raise BadRequest("bad webhook: secret token contains unallowed characters")
        if params.get("drop_pending_updates") is True:
            self._updates.clear()
        if params.get("allowed_updates") is not None:
            self._allowed_updates = list(params["allowed_updates"]) or None
        token = self._token
        self._webhook = {
            "url": str(url),
            "secret_token": secret,
            "token": token,
            "max_connections": _int(params.get("max_connections"), 40),
        }
        self._webhook_wake.set()
        return True

    def _m_deleteWebhook(self, params: dict[str, Any], files: dict[str, _Upload]) -> Any:
        self._webhook = None
        if params.get("drop_pending_updates") is True:
            self._updates.clear()
        return True

    def _m_getWebhookInfo(self, params: dict[str, Any], files: dict[str, _Upload]) -> Any:
        info: dict[str, Any] = {
            "url": self._webhook["url"] if self._webhook else "",
            "has_custom_certificate": False,
            "pending_update_count": len(self._updates),
        }
        if self._webhook:
            info["max_connections"] = self._webhook["max_connections"]
            if self._allowed_updates:
                info["allowed_updates"] = list(self._allowed_updates)
            if self._webhook_error:
                info["last_error_date"], info["last_error_message"] = self._webhook_error
        return info

    def _m_sendMessage(self, params: dict[str, Any], files: dict[str, _Upload]) -> Any:
        chat = self._target_chat(params)
        text, entities = check_text(params.get("text"), params.get("parse_mode"))
        content: dict[str, Any] = {"text": text}
        if entities:
            content["entities"] = entities
        return self._bot_message(chat, params, content)

    def _m_editMessageText(self, params: dict[str, Any], files: dict[str, _Upload]) -> Any:
        chat, message = self._find_message(params, "message to edit not found")
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
        return self._apply_edit(chat, message, changes)

    def _m_editMessageCaption(self, params: dict[str, Any], files: dict[str, _Upload]) -> Any:
        chat, message = self._find_message(params, "message to edit not found")
        if not message["from"].get("is_bot"):
            raise BadRequest("message can't be edited")
        if "text" in message:
            raise BadRequest("there is no caption in the message to edit")
        caption, entities = check_caption(params.get("caption"), params.get("parse_mode"))
        markup = parse_reply_markup(params.get("reply_markup"))
        changes = {"caption": caption, "caption_entities": entities or None, "reply_markup": markup}
        return self._apply_edit(chat, message, changes)

    def _m_editMessageReplyMarkup(self, params: dict[str, Any], files: dict[str, _Upload]) -> Any:
        chat, message = self._find_message(params, "message to edit not found")
        if not message["from"].get("is_bot"):
            raise BadRequest("message can't be edited")
        markup = parse_reply_markup(params.get("reply_markup"))
        if markup is not None and "inline_keyboard" not in markup:
            raise BadRequest("inline keyboard expected")
        if markup is not None and not markup["inline_keyboard"]:
            markup = None
        return self._apply_edit(chat, message, {"reply_markup": markup})

    def _apply_edit(
        self, chat: _Chat, message: dict[str, Any], changes: dict[str, Any]
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
        self._event(chat, "message", message=copy.deepcopy(message), edited=True)
        return copy.deepcopy(message)

    def _m_deleteMessage(self, params: dict[str, Any], files: dict[str, _Upload]) -> Any:
        chat, message = self._find_message(params, "message to delete not found")
        del chat.messages[message["message_id"]]
        self._event(chat, "delete", message_id=message["message_id"])
        return True

    def _m_deleteMessages(self, params: dict[str, Any], files: dict[str, _Upload]) -> Any:
        chat = self._target_chat(params, sending=False)
        for message_id in params.get("message_ids") or []:
            if chat.messages.pop(int(message_id), None) is not None:
                self._event(chat, "delete", message_id=int(message_id))
        return True

    def _m_answerCallbackQuery(self, params: dict[str, Any], files: dict[str, _Upload]) -> Any:
        query = self._callbacks.get(str(params.get("callback_query_id")))
        too_old = (
            query is None
            or query.answered
            or time.monotonic() - query.created > self.callback_query_lifetime
        )
        if too_old:
            raise BadRequest("query is too old and response timeout expired or query ID is invalid")
        assert query is not None
        text = params.get("text")
        if text is not None and len(str(text)) > MAX_CALLBACK_ANSWER:
            raise BadRequest("MESSAGE_TOO_LONG")
        query.answered = True
        chat = self._chats[query.chat_id]
        self._event(
            chat,
            "answer",
            user_id=query.user_id,
            callback_query_id=query.id,
            text=text or "",
            show_alert=params.get("show_alert") is True,
        )
        return True

    def _m_sendChatAction(self, params: dict[str, Any], files: dict[str, _Upload]) -> Any:
        chat = self._target_chat(params)
        self._event(chat, "action", action=str(params.get("action") or "typing"))
        return True

    def _m_sendPhoto(self, params: dict[str, Any], files: dict[str, _Upload]) -> Any:
        return self._send_media(params, files, "photo")

    def _m_sendDocument(self, params: dict[str, Any], files: dict[str, _Upload]) -> Any:
        return self._send_media(params, files, "document")

    def _m_sendVoice(self, params: dict[str, Any], files: dict[str, _Upload]) -> Any:
        return self._send_media(params, files, "voice")

    def _m_sendAudio(self, params: dict[str, Any], files: dict[str, _Upload]) -> Any:
        return self._send_media(params, files, "audio")

    def _m_sendVideo(self, params: dict[str, Any], files: dict[str, _Upload]) -> Any:
        return self._send_media(params, files, "video")

    def _m_sendAnimation(self, params: dict[str, Any], files: dict[str, _Upload]) -> Any:
        return self._send_media(params, files, "animation")

    def _m_sendSticker(self, params: dict[str, Any], files: dict[str, _Upload]) -> Any:
        return self._send_media(params, files, "sticker")

    def _send_media(
        self, params: dict[str, Any], files: dict[str, _Upload], kind: str
    ) -> dict[str, Any]:
        chat = self._target_chat(params)
        content = self._media_content(kind, params.get(kind), files, params)
        return self._bot_message(chat, params, content)

    def _media_content(
        self, kind: str, ref: Any, files: dict[str, _Upload], params: dict[str, Any]
    ) -> dict[str, Any]:
        stored = self._resolve_input_file(ref, files, kind)
        content: dict[str, Any]
        if kind == "photo":
            content = {"photo": self._photo_sizes(stored)}
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
                item["duration"] = _int(params.get("duration"), 1)
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

    def _m_sendMediaGroup(self, params: dict[str, Any], files: dict[str, _Upload]) -> Any:
        chat = self._target_chat(params)
        media = params.get("media")
        if not isinstance(media, list) or not 2 <= len(media) <= 10:
            raise BadRequest("wrong number of media items; expected 2-10")
        group_id = str(next(self._file_ids) + 10**12)
        prepared = []
        for item in media:
            if not isinstance(item, dict) or item.get("type") not in (
                "photo",
                "document",
                "audio",
                "video",
            ):
                raise BadRequest("can't parse InputMedia")
            content = self._media_content(item["type"], item.get("media"), files, item)
            content["media_group_id"] = group_id
            prepared.append(content)
        results = []
        for index, content in enumerate(prepared):
            item_params = {
                "reply_parameters": params.get("reply_parameters") if index == 0 else None
            }
            results.append(self._bot_message(chat, item_params, content))
        return results

    def _m_sendLocation(self, params: dict[str, Any], files: dict[str, _Upload]) -> Any:
        chat = self._target_chat(params)
        try:
            location = {
                "latitude": float(params["latitude"]),
                "longitude": float(params["longitude"]),
            }
        except (KeyError, TypeError, ValueError):
            raise BadRequest("wrong latitude or longitude") from None
        return self._bot_message(chat, params, {"location": location})

    def _m_sendContact(self, params: dict[str, Any], files: dict[str, _Upload]) -> Any:
        chat = self._target_chat(params)
        if not params.get("phone_number") or not params.get("first_name"):
            raise BadRequest("phone number and first name are required")
        contact = {
            "phone_number": str(params["phone_number"]),
            "first_name": str(params["first_name"]),
        }
        if params.get("last_name"):
            contact["last_name"] = str(params["last_name"])
        return self._bot_message(chat, params, {"contact": contact})

    def _copy_source(self, params: dict[str, Any]) -> dict[str, Any]:
        source_chat = self._chats.get(params.get("from_chat_id"))  # type: ignore[arg-type]
        if source_chat is None:
            raise BadRequest("chat not found")
        message = source_chat.messages.get(_int(params.get("message_id"), -1))
        if message is None:
            raise BadRequest("message to copy not found")
        return message

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

    def _m_forwardMessage(self, params: dict[str, Any], files: dict[str, _Upload]) -> Any:
        chat = self._target_chat(params)
        source = self._copy_source(params)
        content = {k: copy.deepcopy(source[k]) for k in self._CONTENT_KEYS if k in source}
        sender = source["from"]
        content["forward_origin"] = (
            {"type": "user", "sender_user": sender, "date": source["date"]}
            if source["chat"]["type"] == "private" or not sender.get("is_bot")
            else {"type": "chat", "sender_chat": source["chat"], "date": source["date"]}
        )
        return self._bot_message(chat, {}, content)

    def _m_copyMessage(self, params: dict[str, Any], files: dict[str, _Upload]) -> Any:
        chat = self._target_chat(params)
        source = self._copy_source(params)
        content = {k: copy.deepcopy(source[k]) for k in self._CONTENT_KEYS if k in source}
        if "caption" in params:
            caption, entities = check_caption(params.get("caption"), params.get("parse_mode"))
            content.pop("caption_entities", None)
            if caption:
                content["caption"] = caption
                if entities:
                    content["caption_entities"] = entities
            else:
                content.pop("caption", None)
        message = self._bot_message(chat, params, content)
        return {"message_id": message["message_id"]}

    def _m_getFile(self, params: dict[str, Any], files: dict[str, _Upload]) -> Any:
        stored = self._files.get(str(params.get("file_id")))
        if stored is None:
            raise BadRequest("invalid file_id")
        return {
            "file_id": stored.file_id,
            "file_unique_id": stored.file_unique_id,
            "file_size": stored.size,
            "file_path": stored.file_path,
        }

    def _commands_key(self, params: dict[str, Any]) -> str:
        scope = params.get("scope") or {"type": "default"}
        return json.dumps([scope, params.get("language_code") or ""], sort_keys=True)

    def _m_setMyCommands(self, params: dict[str, Any], files: dict[str, _Upload]) -> Any:
        commands = params.get("commands")
        if not isinstance(commands, list) or len(commands) > 100:
            raise BadRequest("can't parse commands JSON object")
        for command in commands:
            name = command.get("command", "") if isinstance(command, dict) else ""
            if not re.fullmatch(r"[a-z0-9_]{1,32}", name):
                raise BadRequest("BOT_COMMAND_INVALID")
            if not 1 <= len(str(command.get("description", ""))) <= 256:
                raise BadRequest("command description must be non-empty")
        self._commands[self._commands_key(params)] = commands
        return True

    def _m_getMyCommands(self, params: dict[str, Any], files: dict[str, _Upload]) -> Any:
        return self._commands.get(self._commands_key(params), [])

    def _m_deleteMyCommands(self, params: dict[str, Any], files: dict[str, _Upload]) -> Any:
        self._commands.pop(self._commands_key(params), None)
        return True

    def commands(self, language_code: str = "", scope: dict[str, Any] | None = None) -> list[Any]:
        key = json.dumps([scope or {"type": "default"}, language_code], sort_keys=True)
        return copy.deepcopy(self._commands.get(key, []))

    def _m_setChatMenuButton(self, params: dict[str, Any], files: dict[str, _Upload]) -> Any:
        button = params.get("menu_button") or {"type": "default"}
        self._menu_buttons[str(params.get("chat_id") or "")] = button
        return True

    def _m_getChatMenuButton(self, params: dict[str, Any], files: dict[str, _Upload]) -> Any:
        return self._menu_buttons.get(str(params.get("chat_id") or ""), {"type": "commands"})

    def _m_getChat(self, params: dict[str, Any], files: dict[str, _Upload]) -> Any:
        chat = self._target_chat(params, sending=False)
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

    def _m_getChatMember(self, params: dict[str, Any], files: dict[str, _Upload]) -> Any:
        chat = self._target_chat(params, sending=False)
        user_id = _int(params.get("user_id"), 0)
        person = self._people.get(user_id)
        if person is None or user_id not in chat.member_ids:
            if person is None:
                raise BadRequest("user not found")
            return {"status": "left", "user": person.user}
        return {"status": "member", "user": person.user}

    def _m_getChatMemberCount(self, params: dict[str, Any], files: dict[str, _Upload]) -> Any:
        chat = self._target_chat(params, sending=False)
        return len(chat.member_ids) + 1

    # -- files -----------------------------------------------------------------------------
    def _store_file(
        self, data: bytes, folder: str, mime_type: str | None, filename: str | None = None
    ) -> _StoredFile:
        number = next(self._file_ids)
        digest = hashlib.sha1(data).hexdigest()[:16]
        extension = _extension(filename, mime_type, folder)
        file_id = f"SBX{folder[:2].upper()}{number:06d}{digest}"
        path = f"{folder}/file_{number}{extension}"
        if filename and (not mime_type or mime_type == "application/octet-stream"):
            mime_type = mimetypes.guess_type(filename)[0] or mime_type
        stored = _StoredFile(file_id, f"U{digest}", path, len(data), mime_type, filename)
        if self.file_dir is not None:
            stored.disk_path = self.file_dir / path.replace("/", "_")
            stored.disk_path.write_bytes(data)
        else:
            stored.data = data
        self._files[file_id] = stored
        return stored

    def _photo_sizes(self, stored: _StoredFile) -> list[dict[str, Any]]:
        width, height = _image_size(stored.read()) or (1280, 960)
        sizes = []
        for scale in (0.25, 1.0) if max(width, height) > 320 else (1.0,):
            sizes.append(
                {
                    "file_id": stored.file_id,
                    "file_unique_id": stored.file_unique_id,
                    "width": max(1, int(width * scale)),
                    "height": max(1, int(height * scale)),
                    "file_size": stored.size,
                }
            )
        return sizes

    def _resolve_input_file(self, ref: Any, files: dict[str, _Upload], kind: str) -> _StoredFile:
        if isinstance(ref, str) and ref.startswith("attach://"):
            upload = files.get(ref.removeprefix("attach://"))
            if upload is None:
                raise BadRequest(f"file must be non-empty ({kind} attach not found)")
            return self._store_file(upload.data, f"{kind}s", upload.content_type, upload.filename)
        if isinstance(ref, str) and ref.startswith(("http://", "https://")):
            return self._store_file(ref.encode(), f"{kind}s", None, ref.rsplit("/", 1)[-1])
        if isinstance(ref, str) and ref in self._files:
            return self._files[ref]
        if isinstance(ref, str) and ref:
            raise BadRequest("wrong file identifier/HTTP URL specified")
        raise BadRequest(f"there is no {kind} in the request")


@dataclass
class _Upload:
    data: bytes
    filename: str | None
    content_type: str | None


def _seq(event: dict[str, Any]) -> int:
    return int(event["seq"])


# -- request and response decoding ---------------------------------------------------------------


def _decode_value(key: str, value: Any) -> Any:
    if not isinstance(value, str) or key in _STRING_FIELDS:
        return value
    if value[:1] in "[{":
        try:
            return json.loads(value)
        except ValueError:
            return value
    if re.fullmatch(r"-?\d{1,19}", value):
        return int(value)
    if value in ("true", "false"):
        return value == "true"
    if re.fullmatch(r"-?\d+\.\d+", value):
        return float(value)
    return value


async def _read_params(request: web.Request) -> tuple[dict[str, Any], dict[str, _Upload]]:
    raw: dict[str, Any] = dict(request.query)
    files: dict[str, _Upload] = {}
    if request.method == "POST" and request.can_read_body:
        content_type = request.content_type
        if content_type == "application/json":
            body = await request.json()
            if not isinstance(body, dict):
                raise ValueError("JSON body must be an object")
            raw.update(body)
        elif content_type.startswith("multipart/"):
            reader = await request.multipart()
            while True:
                part = await reader.next()
                if part is None:
                    break
                if not hasattr(part, "filename"):
                    continue
                data = await part.read(decode=True)
                name = part.name or ""
                if part.filename is not None:
                    files[name] = _Upload(
                        bytes(data), part.filename, part.headers.get("Content-Type")
                    )
                    if name in _FILE_FIELDS:
                        raw[name] = f"attach://{name}"
                else:
                    raw[name] = bytes(data).decode(part.get_charset("utf-8"))
        else:
            raw.update(await request.post())
    return {key: _decode_value(key, value) for key, value in raw.items()}, files


async def _read_reply(response: Any) -> dict[str, Any] | None:
    """A webhook's answer body (JSON or multipart form) as a dict, if any."""
    content_type = response.content_type or ""
    if content_type == "application/json":
        body = await response.json(content_type=None)
        return body if isinstance(body, dict) else None
    if content_type.startswith("multipart/"):
        reader = MultipartReader.from_response(response)
        fields: dict[str, Any] = {}
        while True:
            part = await reader.next()
            if part is None:
                break
            if hasattr(part, "filename") and part.name:
                data = await part.read(decode=True)
                fields[part.name] = bytes(data).decode("utf-8", "replace")
        return {key: _decode_value(key, value) for key, value in fields.items()}
    return None


def _envelope_error(error: ApiError) -> web.Response:
    payload: dict[str, Any] = {
        "ok": False,
        "error_code": error.error_code,
        "description": error.description,
    }
    if error.parameters:
        payload["parameters"] = error.parameters
    return web.json_response(payload, status=error.error_code)


def _drop(request: web.Request) -> web.StreamResponse:
    transport = request.transport
    if transport is not None:
        transport.abort()
    raise asyncio.CancelledError


def _int(value: Any, default: int) -> int:
    if value is None or value == "":
        return default
    try:
        return int(value)
    except (TypeError, ValueError):
        raise BadRequest(f"invalid integer {value!r:.40}") from None


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


def _extension(filename: str | None, mime_type: str | None, folder: str) -> str:
    if filename and "." in filename:
        return "." + re.sub(r"[^A-Za-z0-9]", "", filename.rsplit(".", 1)[-1])[:8]
    known = {
        "image/jpeg": ".jpg",
        "image/png": ".png",
        "image/webp": ".webp",
        "audio/ogg": ".oga",
        "audio/webm": ".webm",
        "audio/mpeg": ".mp3",
        "application/pdf": ".pdf",
    }
    if mime_type in known:
        return known[mime_type]
    return ".jpg" if folder.startswith("photo") else ".bin"


def _image_size(data: bytes) -> tuple[int, int] | None:
    """Width and height of a PNG or JPEG, read from its header (no imaging library needed)."""
    if data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) >= 24:
        return int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
    if data[:2] == b"\xff\xd8":
        index = 2
        while index + 9 < len(data):
            if data[index] != 0xFF:
                return None
            marker = data[index + 1]
            length = int.from_bytes(data[index + 2 : index + 4], "big")
            if marker in (0xC0, 0xC1, 0xC2):
                height = int.from_bytes(data[index + 5 : index + 7], "big")
                width = int.from_bytes(data[index + 7 : index + 9], "big")
                return width, height
            index += 2 + length
    return None
