"""Outer middlewares on every update, in this order: duplicate-update guard + one database
session per update, the current user loaded once, the user's locale; and flood throttling on
messages and button presses."""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

from aiogram import BaseMiddleware
from aiogram.types import CallbackQuery, Message, TelegramObject, Update
from aiogram.types import User as TelegramUser
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
    """Drops messages and button presses that come faster than `rate` seconds apart from one
    person (a stuck finger, a double tap). The first dropped one in a burst gets a short hint;
    a dropped button press is still answered so the spinner stops."""

    def __init__(self, rate: float, hint: Callable[[], str]) -> None:
        self.rate = rate
        self.hint = hint
        self._last: dict[int, float] = {}
        self._warned: set[int] = set()

    async def __call__(self, handler: Handler, event: TelegramObject, data: dict[str, Any]) -> Any:
        telegram_user: TelegramUser | None = data.get("event_from_user")
        if telegram_user is None or self.rate <= 0:
            return await handler(event, data)
        if isinstance(event, Message) and event.media_group_id:
            return await handler(event, data)  # an album arrives as several messages at once
        now = time.monotonic()
        last = self._last.get(telegram_user.id)
        self._last[telegram_user.id] = now
        if last is not None and now - last < self.rate:
            if isinstance(event, CallbackQuery):
                await event.answer()
            elif isinstance(event, Message) and telegram_user.id not in self._warned:
                self._warned.add(telegram_user.id)
                await event.answer(self.hint())
            return None
        self._warned.discard(telegram_user.id)
        if len(self._last) > 10_000:  # keep memory bounded on a busy office bot
            cutoff = now - 60
            self._last = {k: v for k, v in self._last.items() if v > cutoff}
        return await handler(event, data)
