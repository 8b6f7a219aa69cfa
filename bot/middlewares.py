"""Outer middlewares on every update, in this order: duplicate-update guard + one database
session per update, the current user loaded once, the user's locale; and flood throttling on
messages and button presses."""

from __future__ import annotations

import logging
import time
import weakref
from collections.abc import Awaitable, Callable
from contextvars import ContextVar
from typing import Any

from aiogram import BaseMiddleware, Bot
from aiogram.client.session.base import BaseSession
from aiogram.client.session.middlewares.base import (
    BaseRequestMiddleware,
    NextRequestMiddlewareType,
)
from aiogram.methods import AnswerCallbackQuery, TelegramMethod
from aiogram.types import CallbackQuery, Message, TelegramObject, Update
from aiogram.types import User as TelegramUser
from aiogram.utils.callback_answer import CallbackAnswer
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.fsm_storage import fsm_uses_session
from models.runtime import ProcessedUpdate
from models.users import load_or_create_user

log = logging.getLogger(__name__)

Handler = Callable[[TelegramObject, dict[str, Any]], Awaitable[Any]]


class DbSessionMiddleware(BaseMiddleware):
    """Opens the update's session, records the update id (so a redelivered update is ignored)
    and commits when the handler returns. On an exception everything rolls back, including the
    processed-update mark, so a retried delivery is handled again."""

    def __init__(self, sessionmaker: async_sessionmaker[AsyncSession]) -> None:
        self.sessionmaker = sessionmaker

    async def __call__(self, handler: Handler, event: TelegramObject, data: dict[str, Any]) -> Any:
        async with self.sessionmaker() as session:
            if isinstance(event, Update):
                bot_id = data["bot"].id
                session.add(ProcessedUpdate(bot_id=bot_id, update_id=event.update_id))
                try:
                    await session.flush()
                except IntegrityError:
                    await session.rollback()
                    log.info("update %s already processed; ignored", event.update_id)
                    return None
            data["session"] = session
            try:
                with fsm_uses_session(session):
                    result = await handler(event, data)
            except Exception:
                await session.rollback()
                raise
            await session.commit()
            return result


class CurrentUserMiddleware(BaseMiddleware):
    """Loads (or creates) the `User` row for whoever sent the update, once per update."""

    def __init__(self, admin_ids: list[int]) -> None:
        self.admin_ids = frozenset(admin_ids)

    async def __call__(self, handler: Handler, event: TelegramObject, data: dict[str, Any]) -> Any:
        telegram_user: TelegramUser | None = data.get("event_from_user")
        session: AsyncSession | None = data.get("session")
        if telegram_user is not None and session is not None and not telegram_user.is_bot:
            data["user"] = await load_or_create_user(
                session,
                telegram_user.id,
                display_name=telegram_user.full_name,
                username=telegram_user.username,
                telegram_language=telegram_user.language_code,
                admin_ids=self.admin_ids,
            )
        else:
            data["user"] = None
        return await handler(event, data)


class ThrottlingMiddleware(BaseMiddleware):
    """Drops a double tap: a message or button press from one person that arrives less than
    `rate` seconds after their previous one, live. The first dropped one in a burst gets a short
    hint; a dropped button press is still answered so the spinner stops.

    A backlog is not a double tap. Messages that waited for the bot (sent before this process
    started, or more than `BACKLOG_SECONDS` before they reached it: typed while the bot was down,
    or arriving together in one getUpdates batch) and messages whose Telegram dates are more
    than a second apart (typed seconds apart, however close they arrive) are each handled, in
    order."""

    BACKLOG_SECONDS = 2.0

    def __init__(
        self,
        rate: float,
        hint: Callable[[], str],
        *,
        clock: Callable[[], float] = time.monotonic,
        wall: Callable[[], float] = time.time,
    ) -> None:
        self.rate = rate
        self.hint = hint
        self._clock = clock
        self._wall = wall
        self._started = wall()
        self._last: dict[int, tuple[float, float | None]] = {}  # arrival, message date
        self._warned: set[int] = set()

    def _backlog(self, sent: float) -> bool:
        # Dates are whole seconds: a message sent in the second the bot started is not backlog.
        return sent < int(self._started) or self._wall() - sent > self.BACKLOG_SECONDS

    async def __call__(self, handler: Handler, event: TelegramObject, data: dict[str, Any]) -> Any:
        telegram_user: TelegramUser | None = data.get("event_from_user")
        if telegram_user is None or self.rate <= 0:
            return await handler(event, data)
        if isinstance(event, Message) and event.media_group_id:
            return await handler(event, data)  # an album arrives as several messages at once
        now = self._clock()
        sent = event.date.timestamp() if isinstance(event, Message) else None
        previous = self._last.get(telegram_user.id)
        self._last[telegram_user.id] = (now, sent)
        if previous is not None and now - previous[0] < self.rate:
            last_sent = previous[1]
            typed_apart = sent is not None and last_sent is not None and sent - last_sent > 1
            if not typed_apart and not (sent is not None and self._backlog(sent)):
                if isinstance(event, CallbackQuery):
                    await event.answer()
                elif isinstance(event, Message) and telegram_user.id not in self._warned:
                    self._warned.add(telegram_user.id)
                    await event.answer(self.hint())
                return None
        self._warned.discard(telegram_user.id)
        if len(self._last) > 10_000:  # keep memory bounded on a busy office bot
            cutoff = now - 60
            self._last = {k: v for k, v in self._last.items() if v[0] > cutoff}
        return await handler(event, data)


# -- every button press answered once ----------------------------------------------------------

_answered_queries: ContextVar[set[str] | None] = ContextVar("answered_queries", default=None)
_tracked_sessions: weakref.WeakSet[BaseSession] = weakref.WeakSet()


class _AnswerTracker(BaseRequestMiddleware):
    """Notes which button presses a handler answered itself (`callback.answer(...)`)."""

    async def __call__(
        self, make_request: NextRequestMiddlewareType[Any], bot: Bot, method: TelegramMethod[Any]
    ) -> Any:
        if isinstance(method, AnswerCallbackQuery):
            answered = _answered_queries.get()
            if answered is not None:
                answered.add(method.callback_query_id)
        return await make_request(bot, method)


class CallbackAnswerMiddleware(BaseMiddleware):
    """Answers a button press after its handler, so the spinner always stops, unless the
    handler answered it already. A handler sets the toast through `callback_answer`
    (aiogram's `CallbackAnswer`: `.text`, `.show_alert`) or answers directly; either way there
    is exactly one answer. When the handler fails, the error handlers answer instead."""

    async def __call__(self, handler: Handler, event: TelegramObject, data: dict[str, Any]) -> Any:
        if not isinstance(event, CallbackQuery):
            return await handler(event, data)
        bot: Bot = data["bot"]
        if bot.session not in _tracked_sessions:
            bot.session.middleware(_AnswerTracker())
            _tracked_sessions.add(bot.session)
        callback_answer = CallbackAnswer(answered=False)
        data["callback_answer"] = callback_answer
        answered: set[str] = set()
        token = _answered_queries.set(answered)
        try:
            result = await handler(event, data)
        finally:
            _answered_queries.reset(token)
        if not callback_answer.disabled and event.id not in answered:
            await event.answer(
                text=callback_answer.text,
                show_alert=callback_answer.show_alert,
                url=callback_answer.url,
                cache_time=callback_answer.cache_time,
            )
        return result
