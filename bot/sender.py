"""The outbox sender: the one way pushed messages reach Telegram.

Each pass claims due outbox rows (at most one per chat, skipping chats that are still inside
their one-message-per-second window (three seconds for a group, whose limit is about 20 a
minute) or paused by a 429), renders each row in the recipient's
language at send time and delivers it under a global rate limit. What Telegram answers decides
the row's fate:

- sent (or "message is not modified" for an edit): SENT with the message id;
- 429 flood control: back to the queue after `retry_after`, the chat paused as long;
- 403 for a person: the user is marked unreachable, the row fails, and their later rows fail
  without a request until they /start again; 403 for a group: the row fails;
- 400 / 404 / too large, an unknown kind or a renderer error: FAILED with the error;
- network errors, timeouts and 5xx: retried with capped exponential backoff, then FAILED after
  `settings.outbox_max_attempts`.

A row with `edit_of` (the dedup_key of an earlier row) edits that row's message in place: it
waits while the earlier row is not sent yet, and goes out as a new message if that one failed
or can no longer be edited.

Several senders may share a PostgreSQL table (rows are claimed with FOR UPDATE SKIP LOCKED);
on SQLite run one. Start it next to the dispatcher:

    stop = asyncio.Event()
    sender = OutboxSender(bot=bot, sessionmaker=sm, i18n=i18n, settings=settings,
                          renderers=handlers.notification_renderers())
    task = asyncio.create_task(sender.run(stop))
    ...
    stop.set(); await task      # finishes the message in hand, hands the rest back
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from aiogram import Bot
from aiogram.exceptions import (
    TelegramAPIError,
    TelegramBadRequest,
    TelegramEntityTooLarge,
    TelegramForbiddenError,
    TelegramMigrateToChat,
    TelegramNetworkError,
    TelegramNotFound,
    TelegramRetryAfter,
    TelegramServerError,
)
from aiogram.types import InlineKeyboardMarkup, Message
from aiogram.utils.i18n import I18n
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.config import Settings
from handlers.notifications import NotificationRenderers, Rendered, UnknownNotification
from models import outbox
from models.base import utcnow
from models.office import preferred_locale
from models.outbox import OutboxMessage
from models.users import User

log = logging.getLogger(__name__)

PER_CHAT_INTERVAL = 1.0  # seconds between two messages to one chat
PER_GROUP_INTERVAL = 3.0  # Telegram allows a bot about 20 messages a minute in one group
EDIT_WAIT = timedelta(seconds=2)  # an edit whose original is not sent yet waits this long
BACKOFF_BASE = 2.0  # first retry after a network error or 5xx, doubled each time
BACKOFF_CAP = 300.0
POLL_SECONDS = 1.0  # how often an idle sender looks for due rows
STALE_CHECK_SECONDS = 60.0
MAX_CHAT_PAUSE_ENTRIES = 100_000
TELEGRAM_SAFE_RATE = 30.0


class _Outcome:
    """What happened to one row; applied in its own short transaction."""


@dataclass
class _Sent(_Outcome):
    message_id: int | None


@dataclass
class _Failed(_Outcome):
    error: str
    unreachable_user_id: int | None = None
    count_attempt: bool = True


@dataclass
class _Retry(_Outcome):
    delay: float
    error: str | None
    count_attempt: bool = True
    chat_id: int | None = None


class OutboxSender:
    def __init__(
        self,
        *,
        bot: Bot,
        sessionmaker: async_sessionmaker[AsyncSession],
        i18n: I18n,
        settings: Settings,
        renderers: NotificationRenderers,
        sleep: Callable[[float], Awaitable[Any]] = asyncio.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.bot = bot
        self.sessionmaker = sessionmaker
        self.i18n = i18n
        self.settings = settings
        self.renderers = renderers
        self._sleep = sleep
        self._clock = clock
        self._interval = 1.0 / settings.outbox_rate_per_second
        self._next_send = 0.0  # clock time before which the global rate allows no request
        self._chat_ready: dict[int, float] = {}  # chat id -> clock time it may get the next
        self._stop: asyncio.Event | None = None
        self._last_stale_check: float | None = None

    # -- the loop ------------------------------------------------------------------------
    async def run(self, stop: asyncio.Event) -> None:
        """Send until `stop` is set; then finish the message in hand and return."""
        self._stop = stop
        rate = self.settings.outbox_rate_per_second
        log.info("Outbox sender started (%.1f messages/s)", rate)
        if rate > TELEGRAM_SAFE_RATE:
            log.warning(
                "OUTBOX_RATE_PER_SECOND=%s is above Telegram's limit of about 30 messages a "
                "second: expect flood-control pauses",
                rate,
            )
        failures = 0
        while not stop.is_set():
            try:
                await self._resume_stale_if_time()
                handled = await self.send_due()
                failures = 0
            except Exception as exc:  # the database went away: wait and try again
                failures += 1
                delay = min(BACKOFF_BASE * 2 ** (failures - 1), 60.0)
                log.error(
                    "Outbox sender pass failed (%s); retrying in %.0fs", self._safe(exc), delay
                )
                await self._idle(stop, delay)
                continue
            if handled == 0 and not stop.is_set():
                await self._idle(stop, self._idle_delay())
        log.info("Outbox sender stopped")

    async def _idle(self, stop: asyncio.Event, delay: float) -> None:
        """Sleep (with the injected sleep) unless `stop` is set first."""
        sleeper = asyncio.ensure_future(self._sleep(delay))
        stopper = asyncio.ensure_future(stop.wait())
        try:
            await asyncio.wait({sleeper, stopper}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in (sleeper, stopper):
                if not task.done():
                    task.cancel()
            await asyncio.gather(sleeper, stopper, return_exceptions=True)

    def _idle_delay(self) -> float:
        now = self._clock()
        waits = [ready - now for ready in self._chat_ready.values() if ready > now]
        return max(min([POLL_SECONDS, *waits]), 0.01)

    async def _resume_stale_if_time(self) -> None:
        now = self._clock()
        last = self._last_stale_check
        if last is not None and now - last < STALE_CHECK_SECONDS:
            return
        first = last is None
        self._last_stale_check = now
        # At start-up on SQLite (one sender) nothing can be in flight: resume everything. On
        # PostgreSQL another sender may be mid-send, so only rows claimed long ago come back.
        await self.resume(older_than=timedelta(0) if first else outbox.STALE_AFTER, startup=first)

    async def resume(
        self, *, older_than: timedelta = outbox.STALE_AFTER, startup: bool = False
    ) -> int:
        """Put rows left "sending" by a crashed sender back in the queue. At start-up on SQLite
        (one sender) every such row comes back; on PostgreSQL only those claimed `STALE_AFTER`
        ago, since another sender may be sending the younger ones right now."""
        async with self.sessionmaker() as session:
            if startup and session.get_bind().dialect.name != "sqlite":
                older_than = outbox.STALE_AFTER
            count = await outbox.resume_stale(session, older_than=older_than)
            await session.commit()
        if count:
            log.warning("Outbox: resumed %d message(s) left unsent by an interrupted sender", count)
        return count

    # -- one pass ------------------------------------------------------------------------
    async def send_due(self, limit: int = 100) -> int:
        """Claim and handle up to `limit` due rows; returns how many rows were handled."""
        paused = self._paused_chats()
        async with self.sessionmaker() as session:
            rows = await outbox.claim_due(session, limit=limit, skip_chats=paused)
            user_ids = {row.user_id for row in rows if row.user_id is not None}
            users: dict[int, User] = {}
            if user_ids:
                result = await session.scalars(select(User).where(User.id.in_(user_ids)))
                users = {user.id: user for user in result}
            await session.commit()
        for index, row in enumerate(rows):
            if self._stop is not None and self._stop.is_set():
                await self._release([r.id for r in rows[index:]])
                break
            await self._handle(row, users.get(row.user_id) if row.user_id else None)
        return len(rows)

    def _paused_chats(self) -> set[int]:
        now = self._clock()
        for chat_id in [c for c, ready in self._chat_ready.items() if ready <= now]:
            del self._chat_ready[chat_id]
        return set(self._chat_ready)

    async def _release(self, row_ids: list[int]) -> None:
        async with self.sessionmaker() as session:
            await outbox.release(session, row_ids)
            await session.commit()

    async def _handle(self, row: OutboxMessage, user: User | None) -> None:
        context = f"outbox row {row.id} ({row.kind}) to chat {row.chat_id}"
        try:
            outcome = await self._attempt(row, user, context)
        except Exception as exc:  # a bug must cost one row, never the sender
            log.exception("Outbox: unexpected error on %s", context)
            outcome = _Failed(f"unexpected error: {self._safe(exc)}")
        await self._record(row, outcome, context)

    async def _attempt(self, row: OutboxMessage, user: User | None, context: str) -> _Outcome:
        private = user is not None and row.chat_id == user.telegram_id
        if private and user is not None and not user.reachable:
            return _Failed(outbox.UNREACHABLE_ERROR, count_attempt=False)
        locale = self._locale(user if private else None)
        try:
            rendered = self.renderers.render(row.kind, dict(row.params or {}), locale, self.i18n)
        except UnknownNotification:
            return _Failed(f"unknown notification kind {row.kind!r}", count_attempt=False)
        except Exception as exc:
            log.exception("Outbox: rendering failed for %s", context)
            return _Failed(f"rendering failed: {type(exc).__name__}: {exc}", count_attempt=False)

        target: OutboxMessage | None = None
        if row.edit_of:
            async with self.sessionmaker() as session:
                target = await outbox.get_by_dedup_key(session, row.edit_of)
            if target is not None and target.status in (
                outbox.OutboxStatus.PENDING,
                outbox.OutboxStatus.SENDING,
            ):
                # The original is not out yet: try again shortly, the edit must come after it.
                return _Retry(EDIT_WAIT.total_seconds(), None, count_attempt=False)
            if target is not None and target.telegram_message_id is None:
                target = None  # the original failed or was cancelled: send this as a new one

        await self._wait_for_rate()
        try:
            if target is not None:
                message_id = await self._edit(target, rendered)
            else:
                message_id = await self._send(row.chat_id, rendered)
        except TelegramRetryAfter as exc:
            self._pause_chat(row.chat_id, float(exc.retry_after))
            log.warning("Outbox: flood control on %s, retry in %ss", context, exc.retry_after)
            return _Retry(float(exc.retry_after), self._safe(exc), count_attempt=False)
        except TelegramMigrateToChat as exc:
            log.warning(
                "Outbox: chat %s became supergroup %s; update STAFF_CHAT_ID if it is the staff "
                "group (%s)",
                row.chat_id,
                exc.migrate_to_chat_id,
                context,
            )
            return _Retry(0.0, self._safe(exc), count_attempt=False, chat_id=exc.migrate_to_chat_id)
        except TelegramForbiddenError as exc:
            log.warning("Outbox: forbidden on %s: %s", context, self._safe(exc))
            return _Failed(self._safe(exc), unreachable_user_id=self._private_user(row))
        except (TelegramBadRequest, TelegramNotFound, TelegramEntityTooLarge) as exc:
            if target is not None and _edit_target_gone(exc):
                # The card to edit was deleted or is too old: send the new version instead.
                try:
                    await self._wait_for_rate()
                    message_id = await self._send(row.chat_id, rendered)
                except TelegramAPIError as again:
                    return self._transient_or_failed(row, again, context)
                return _Sent(message_id)
            log.warning("Outbox: rejected %s: %s", context, self._safe(exc))
            return _Failed(self._safe(exc))
        except (TelegramNetworkError, TelegramServerError, OSError, TimeoutError) as exc:
            return self._transient_or_failed(row, exc, context)
        except TelegramAPIError as exc:  # 401, 409 and the like: not this row's fault
            return self._transient_or_failed(row, exc, context)
        return _Sent(message_id)

    def _transient_or_failed(self, row: OutboxMessage, exc: Exception, context: str) -> _Outcome:
        if isinstance(exc, TelegramForbiddenError | TelegramBadRequest | TelegramEntityTooLarge):
            return _Failed(self._safe(exc))
        attempts = row.attempts + 1
        error = self._safe(exc)
        if attempts >= self.settings.outbox_max_attempts:
            log.error("Outbox: giving up on %s after %d attempts: %s", context, attempts, error)
            return _Failed(f"gave up after {attempts} attempts: {error}")
        delay = min(BACKOFF_BASE * 2 ** (attempts - 1), BACKOFF_CAP)
        log.warning("Outbox: %s failed (%s), retry %d in %.0fs", context, error, attempts, delay)
        return _Retry(delay, error)

    async def _record(self, row: OutboxMessage, outcome: _Outcome, context: str) -> None:
        now = utcnow()
        async with self.sessionmaker() as session:
            if session.get_bind().dialect.name == "postgresql":
                # Do not wait for the disk on each message: if the database server itself
                # crashed in the next moment, the worst case is a message sent twice.
                await session.execute(text("SET LOCAL synchronous_commit TO OFF"))
            if isinstance(outcome, _Sent):
                await outbox.mark_sent(
                    session, row.id, telegram_message_id=outcome.message_id, now=now
                )
            elif isinstance(outcome, _Failed):
                if outcome.unreachable_user_id is not None:
                    await outbox.mark_user_unreachable(
                        session, outcome.unreachable_user_id, now=now
                    )
                    log.info("Outbox: user %s marked unreachable", outcome.unreachable_user_id)
                await outbox.mark_failed(
                    session, row.id, error=outcome.error, count_attempt=outcome.count_attempt
                )
            elif isinstance(outcome, _Retry):
                await outbox.mark_retry(
                    session,
                    row.id,
                    due_at=now + timedelta(seconds=outcome.delay),
                    error=outcome.error,
                    count_attempt=outcome.count_attempt,
                    chat_id=outcome.chat_id,
                )
            await session.commit()
        if isinstance(outcome, _Sent):
            log.debug("Outbox: sent %s", context)

    # -- Telegram ------------------------------------------------------------------------
    async def _send(self, chat_id: int, rendered: Rendered) -> int | None:
        extra = dict(rendered.extra)
        markup = rendered.reply_markup
        caption = rendered.text or None
        message: Message
        if rendered.photo:
            message = await self.bot.send_photo(
                chat_id, rendered.photo, caption=caption, reply_markup=markup, **extra
            )
        elif rendered.voice:
            message = await self.bot.send_voice(
                chat_id, rendered.voice, caption=caption, reply_markup=markup, **extra
            )
        elif rendered.document:
            message = await self.bot.send_document(
                chat_id, rendered.document, caption=caption, reply_markup=markup, **extra
            )
        else:
            message = await self.bot.send_message(
                chat_id, rendered.text, reply_markup=markup, **extra
            )
        self._mark_chat_used(chat_id)
        return message.message_id

    async def _edit(self, target: OutboxMessage, rendered: Rendered) -> int | None:
        message_id = target.telegram_message_id
        assert message_id is not None
        markup = (
            rendered.reply_markup
            if isinstance(rendered.reply_markup, InlineKeyboardMarkup)
            else None
        )
        try:
            if rendered.photo or rendered.voice or rendered.document:
                await self.bot.edit_message_caption(
                    chat_id=target.chat_id,
                    message_id=message_id,
                    caption=rendered.text or None,
                    reply_markup=markup,
                )
            else:
                await self.bot.edit_message_text(
                    text=rendered.text,
                    chat_id=target.chat_id,
                    message_id=message_id,
                    reply_markup=markup,
                )
        except TelegramBadRequest as exc:
            if "message is not modified" not in exc.message:
                raise
        self._mark_chat_used(target.chat_id)
        return message_id

    # -- rate limits ---------------------------------------------------------------------
    async def _wait_for_rate(self) -> None:
        now = self._clock()
        if self._next_send > now:
            await self._sleep(self._next_send - now)
            now = self._clock()
        self._next_send = max(now, self._next_send) + self._interval

    def _mark_chat_used(self, chat_id: int) -> None:
        interval = PER_GROUP_INTERVAL if chat_id < 0 else PER_CHAT_INTERVAL
        ready = self._clock() + interval
        self._chat_ready[chat_id] = max(ready, self._chat_ready.get(chat_id, 0.0))
        if len(self._chat_ready) > MAX_CHAT_PAUSE_ENTRIES:
            self._paused_chats()

    def _pause_chat(self, chat_id: int, seconds: float) -> None:
        self._chat_ready[chat_id] = max(self._clock() + seconds, self._chat_ready.get(chat_id, 0.0))

    # -- helpers -------------------------------------------------------------------------
    def _locale(self, user: User | None) -> str:
        if user is None:
            return self.settings.default_locale
        return preferred_locale(user.language, user.telegram_language, self.settings.default_locale)

    @staticmethod
    def _private_user(row: OutboxMessage) -> int | None:
        # A 403 in a private chat means the person blocked the bot; in a group it means the
        # bot was removed, which says nothing about the user the row mentions.
        return row.user_id if row.user_id is not None and row.chat_id > 0 else None

    def _safe(self, exc: BaseException) -> str:
        """The error as text, never with the bot token (network errors may quote the URL)."""
        text = f"{type(exc).__name__}: {exc}"
        token = self.bot.token
        return text.replace(token, "<token>") if token else text


def _edit_target_gone(exc: TelegramAPIError) -> bool:
    message = exc.message.lower()
    return "message to edit not found" in message or "message can't be edited" in message


__all__ = ["OutboxSender"]
