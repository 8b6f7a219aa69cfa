"""The outbox sender: the one way pushed messages reach Telegram.

It claims due outbox rows (the next one of each chat, in the order they were queued), renders
each in the recipient's language at send time and delivers them with several requests in
flight (never two to one chat), under one rate for every sender of the bot. What Telegram
answers decides the row's fate:

- sent (or "message is not modified" for an edit): SENT with the message id;
- 429 flood control: the row waits `retry_after` in its place (its chat's later rows behind
  it, other chats go on); the attempt is counted, and the row is given up only at its expiry;
- 403 for a person: the user is marked unreachable, the row fails, and their later rows fail
  without a request until they /start again; 403 for a group: the row fails;
- 400 / 404 / too large, an unknown kind or a renderer error: FAILED with the error;
- no answer (network errors, a request that times out after `OUTBOX_REQUEST_TIMEOUT`) and 5xx:
  the sender's problem, not the message's. The row goes back in its place without using an
  attempt, and the sender pauses: one log line when the outage starts, a single probe request
  after a growing back-off (1 s, 2 s, ... 60 s), one log line when Telegram answers again.
- A row still undelivered `OUTBOX_EXPIRY_DAYS` after it was due (per kind:
  `OUTBOX_EXPIRY_HOURS_BY_KIND`; an activity reminder once the activity has started) is given
  up without a request.

A row with `edit_of` (the dedup_key of an earlier row) edits that row's message in place: it
waits while the earlier row is not sent yet, and goes out as a new message if that one failed
or can no longer be edited.

Several senders may share a PostgreSQL table. Each holds a lease (`outbox_senders`) it renews
every few seconds, and its claims carry its id: only the rows of a sender whose lease lapsed
are taken back, so a live sender's message is never sent twice. The rate (a token bucket in
the `outbox_rate` table) and the per-chat spacing (from the rows' `sent_at`) hold across all of
them. On SQLite run one; its start-up takes back every row left in flight. Start it next to the
dispatcher:

    stop = asyncio.Event()
    sender = OutboxSender(bot=bot, sessionmaker=sm, i18n=i18n, settings=settings,
                          renderers=handlers.notification_renderers())
    task = asyncio.create_task(sender.run(stop))
    ...
    stop.set(); await task      # finishes the requests in hand, hands the rest back

Delivery is at least once: a message is sent twice only when a sender dies (or its database
goes away for good) between Telegram's answer and the commit that records it, or when a
request's answer is lost on the way back (a timeout or reset after Telegram took it).
"""

from __future__ import annotations

import asyncio
import collections
import logging
import os
import socket
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from aiogram import Bot
from aiogram.exceptions import (
    TelegramAPIError,
    TelegramBadRequest,
    TelegramEntityTooLarge,
    TelegramForbiddenError,
    TelegramMigrateToChat,
    TelegramNotFound,
    TelegramRetryAfter,
)
from aiogram.types import InlineKeyboardMarkup, Message
from aiogram.utils.i18n import I18n
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.config import Settings
from handlers.notifications import NotificationRenderers, Rendered, UnknownNotification
from models import outbox
from models.base import utcnow
from models.notification_kinds import NotificationKind
from models.office import preferred_locale
from models.outbox import OutboxMessage
from models.users import User

log = logging.getLogger(__name__)

EDIT_WAIT = timedelta(seconds=2)  # an edit whose original is not sent yet waits this long
BACKOFF_BASE = 1.0  # an outage's first pause; doubled with each failed probe
BACKOFF_CAP = 60.0
DB_BACKOFF_CAP = 60.0  # the database went away: pauses between passes
POLL_SECONDS = 0.5  # how often an idle sender looks for due rows
HEARTBEAT_SECONDS = 3.0  # the lease is renewed this often
RECLAIM_SECONDS = 2.0  # how often rows of senders that are gone are looked for
MIN_LEASE_SECONDS = outbox.STALE_AFTER.total_seconds()
TELEGRAM_SAFE_RATE = 30.0

# Kinds whose message is pointless after a moment its parameters name: the deadline is the
# earlier of that moment and the configured expiry.


def _activity_start(params: dict[str, Any]) -> datetime | None:
    starts_at = params.get("starts_at")
    if not isinstance(starts_at, str):
        return None
    try:
        moment = datetime.fromisoformat(starts_at)
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else None


KIND_DEADLINES: dict[str, Callable[[dict[str, Any]], datetime | None]] = {
    NotificationKind.ACT_REMINDER: _activity_start,  # "starts in 2 hours" after it started
}


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
    """Back in its place, not before `delay` seconds (its chat waits behind it)."""

    delay: float | None
    error: str | None
    count_attempt: bool = True
    chat_id: int | None = None
    behind: bool = False  # moved behind what is due now (an edit waiting for its original)


class _Outage:
    """Telegram is not answering: the sender pauses, probes with one request after a growing
    back-off, and says so once when it starts and once when it ends."""

    def __init__(self, started: float, error: str) -> None:
        self.started = started
        self.first_error = error
        self.backoff = BACKOFF_BASE
        self.paused_at = started
        self.resume_at = started + BACKOFF_BASE
        self.failures = 1


class _LocalBucket:
    """The token bucket in this process (one sender, SQLite): the next slot follows the
    previous one by `interval`, whenever the request is ready, so oversleeping loses nothing."""

    def __init__(self, interval: float, clock: Callable[[], float]) -> None:
        self.interval = interval
        self.clock = clock
        self.tat = 0.0

    async def reserve(self) -> float:
        """Seconds until the next slot."""
        now = self.clock()
        slot = max(self.tat, now)
        self.tat = slot + self.interval
        return slot - now


class _SharedBucket:
    """The token bucket in the database (`outbox_rate`), one per bot: every sender takes its
    slots from it, so the rate holds for all of them together. Slots are taken a few at a time
    (a tenth of a second's worth) to spare the database a transaction per message; a slot left
    unused until it is past is dropped, never caught up in a burst. Slots are wall-clock
    seconds, the same for every sender."""

    def __init__(
        self,
        name: str,
        interval: float,
        batch: int,
        sessionmaker: async_sessionmaker[AsyncSession],
        wall: Callable[[], datetime],
    ) -> None:
        self.name = name
        self.interval = interval
        self.batch = batch
        self.sessionmaker = sessionmaker
        self.wall = wall
        self._slots: collections.deque[float] = collections.deque()
        self._lock = asyncio.Lock()

    async def reserve(self) -> float:
        """Seconds until this request's slot."""
        async with self._lock:
            now = self.wall().timestamp()
            while self._slots and self._slots[0] < now - self.interval:
                self._slots.popleft()
            if not self._slots:
                async with self.sessionmaker() as session:
                    await session.execute(text("SET LOCAL synchronous_commit TO OFF"))
                    wait = await outbox.reserve_send_slot(
                        session, self.name, interval=self.interval, now=now, count=self.batch
                    )
                    await session.commit()
                self._slots.extend(now + wait + i * self.interval for i in range(self.batch))
            return max(0.0, self._slots.popleft() - self.wall().timestamp())


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
        wall: Callable[[], datetime] | None = None,
        sender_id: str | None = None,
        lease: float | None = None,
        heartbeat: float = HEARTBEAT_SECONDS,
        reclaim_every: float = RECLAIM_SECONDS,
    ) -> None:
        self.bot = bot
        self.sessionmaker = sessionmaker
        self.i18n = i18n
        self.settings = settings
        self.renderers = renderers
        self._sleep = sleep
        self._clock = clock
        # Wall time (expiry, spacing, leases) follows the injected clock unless given, so a test
        # that controls the clock controls those too.
        self._clock0 = clock()
        self._wall0 = utcnow()
        self._wall = wall
        self.sender_id = (
            sender_id or f"{socket.gethostname()[:40]}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        )
        self._interval = 1.0 / settings.outbox_rate_per_second
        self._timeout = settings.outbox_request_timeout
        self._concurrency = settings.outbox_concurrency
        # The lease outlives the longest request started under it by a margin of a heartbeat:
        # a request is only started while that much of the lease is left, so no other sender
        # takes a row back while its request may still be answered.
        self._heartbeat_every = heartbeat
        self._reclaim_every = reclaim_every
        self._lease = lease or max(MIN_LEASE_SECONDS, self._timeout + 3 * heartbeat)
        self._lease_ok_until: float | None = None
        self._last_heartbeat: float | None = None
        self._last_reclaim: float | None = None
        self._registered = False
        self._shared: bool | None = None  # several senders possible (PostgreSQL)
        self._bucket: _LocalBucket | _SharedBucket | None = None
        self._stop: asyncio.Event | None = None
        self._outage: _Outage | None = None
        self._failed_in_a_row = 0  # requests without an answer since the last answer
        self._wake = asyncio.Event()
        self._chat_ready: dict[int, float] = {}  # local hint: when a chat may take its next
        self._unrecorded: list[tuple[OutboxMessage, _Outcome, str]] = []
        self._to_record: list[tuple[OutboxMessage, _Outcome, str, asyncio.Future[None]]] = []
        self._recording = False
        self.outages = 0  # how many outages this sender went through (for benchmarks)

    # -- time ------------------------------------------------------------------------------
    def _now(self) -> datetime:
        if self._wall is not None:
            return self._wall()
        return self._wall0 + timedelta(seconds=self._clock() - self._clock0)

    async def _idle(self, stop: asyncio.Event, delay: float, *, wake: bool = False) -> None:
        """Sleep (with the injected sleep) unless `stop` is set first, or (with `wake`) a
        request in flight finishes."""
        waiters = [asyncio.ensure_future(self._sleep(delay)), asyncio.ensure_future(stop.wait())]
        if wake:
            waiters.append(asyncio.ensure_future(self._wake.wait()))
        try:
            await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in waiters:
                if not task.done():
                    task.cancel()
            await asyncio.gather(*waiters, return_exceptions=True)

    # -- the loop ------------------------------------------------------------------------
    async def run(self, stop: asyncio.Event) -> None:
        """Send until `stop` is set; then finish the requests in hand, hand the other claimed
        rows back and return."""
        self._stop = stop
        rate = self.settings.outbox_rate_per_second
        log.info(
            "Outbox sender %s started (%.1f messages/s for all senders, %d requests in flight)",
            self.sender_id,
            rate,
            self._concurrency,
        )
        if rate > TELEGRAM_SAFE_RATE:
            log.warning(
                "OUTBOX_RATE_PER_SECOND=%s is above Telegram's limit of about 30 messages a "
                "second: expect flood-control pauses",
                rate,
            )
        tasks: set[asyncio.Task[None]] = set()
        failures = 0
        try:
            while not stop.is_set():
                try:
                    await self._housekeeping()
                    await self._step(tasks)
                    failures = 0
                except Exception as exc:  # the database went away: wait and try again
                    failures += 1
                    delay = min(2.0 * 2 ** (failures - 1), DB_BACKOFF_CAP)
                    log.error(
                        "Outbox sender pass failed (%s); retrying in %.0fs", self._safe(exc), delay
                    )
                    await self._idle(stop, delay)
                    continue
                if not stop.is_set():  # until a request finishes, a chat is free or a poll
                    await self._idle(stop, self._idle_delay(), wake=bool(tasks))
        finally:
            if tasks:
                await asyncio.gather(*tasks, return_exceptions=True)
            await self._shutdown()
        log.info("Outbox sender %s stopped", self.sender_id)

    async def _step(self, tasks: set[asyncio.Task[None]]) -> None:
        """Claim rows for the free places in flight (in batches: half the places at least) and
        start their requests; during an outage, one probe when its pause is over."""
        self._wake.clear()  # a request finishing from here on wakes the idle wait
        tasks.difference_update({task for task in tasks if task.done()})
        probe = self._outage is not None
        if probe:
            # One probe at a time, after the pause: a failed probe doubles the pause.
            assert self._outage is not None
            if tasks or self._clock() < self._outage.resume_at:
                return
            limit = 1
        else:
            limit = self._concurrency - len(tasks)
            if limit <= 0 or (tasks and limit < max(1, self._concurrency // 2)):
                return
        rows, users = await self._claim(limit)
        for row in rows:
            task = asyncio.create_task(
                self._handle(row, users.get(row.user_id) if row.user_id else None, probe=probe)
            )
            task.add_done_callback(lambda _task: self._wake.set())
            tasks.add(task)

    def _idle_delay(self) -> float:
        now = self._clock()
        waits = [ready - now for ready in self._chat_ready.values() if ready > now]
        if self._outage is not None:
            waits.append(self._outage.resume_at - now)
        if self._last_heartbeat is not None:
            waits.append(self._last_heartbeat + self._heartbeat_every - now)
        return max(min([POLL_SECONDS, *waits]), 0.01)

    # -- lease, start-up, shutdown ---------------------------------------------------------
    async def _housekeeping(self) -> None:
        """Register (and at start-up take back what a crashed sender left), renew the lease,
        record outcomes a database hiccup kept back, take back the rows of senders gone."""
        now = self._clock()
        if not self._registered:
            await self._start_up()
        elif self._last_heartbeat is None or now - self._last_heartbeat >= self._heartbeat_every:
            await self._heartbeat()
        if self._unrecorded:
            pending, self._unrecorded = self._unrecorded, []
            for row, outcome, context in pending:
                await self._record(row, outcome, context)
        if self._shared and (
            self._last_reclaim is None or now - self._last_reclaim >= self._reclaim_every
        ):
            self._last_reclaim = now
            await self.resume()

    async def _start_up(self) -> None:
        started = self._clock()
        async with self.sessionmaker() as session:
            dialect = session.get_bind().dialect.name
            self._shared = dialect != "sqlite"
            await outbox.register_sender(
                session,
                self.sender_id,
                host=socket.gethostname(),
                pid=os.getpid(),
                lease=timedelta(seconds=self._lease),
                now=self._now(),
            )
            if self._shared:
                count = await outbox.reclaim_orphans(session, now=self._now())
            else:
                # SQLite has one sender: whatever is in flight belongs to one that is gone.
                count = await outbox.reclaim_all(session, except_sender=self.sender_id)
            await session.commit()
        self._registered = True
        self._renewed(started)
        if self._shared:
            bot_id = self.bot.token.split(":", 1)[0] if self.bot.token else "bot"
            batch = max(1, min(self._concurrency, round(0.1 / self._interval)))
            self._bucket = _SharedBucket(
                f"bot:{bot_id}", self._interval, batch, self.sessionmaker, self._now
            )
        else:
            self._bucket = _LocalBucket(self._interval, self._clock)
        if count:
            log.warning(
                "Outbox: %d message(s) left in flight by a sender that is gone go out again", count
            )

    def _renewed(self, started: float) -> None:
        self._last_heartbeat = started
        # Requests may start while the lease outlives them by a margin.
        self._lease_ok_until = started + self._lease - self._timeout - self._heartbeat_every

    async def _heartbeat(self) -> None:
        started = self._clock()
        async with self.sessionmaker() as session:
            renewed = await outbox.renew_lease(
                session, self.sender_id, lease=timedelta(seconds=self._lease), now=self._now()
            )
            if not renewed:
                log.warning(
                    "Outbox sender %s lost its lease (it was too long out of touch): its rows "
                    "went to other senders; registering again",
                    self.sender_id,
                )
                await outbox.register_sender(
                    session,
                    self.sender_id,
                    host=socket.gethostname(),
                    pid=os.getpid(),
                    lease=timedelta(seconds=self._lease),
                    now=self._now(),
                )
            await session.commit()
        self._renewed(started)

    def _lease_ok(self) -> bool:
        return self._lease_ok_until is not None and self._clock() < self._lease_ok_until

    async def resume(self) -> int:
        """Put rows claimed by senders whose lease lapsed back in the queue."""
        async with self.sessionmaker() as session:
            count = await outbox.reclaim_orphans(session, now=self._now())
            await session.commit()
        if count:
            log.warning("Outbox: resumed %d message(s) left unsent by a sender that is gone", count)
        return count

    async def _shutdown(self) -> None:
        if not self._registered:
            return
        try:
            for row, outcome, context in self._unrecorded:
                await self._record(row, outcome, context)
            self._unrecorded = []
            async with self.sessionmaker() as session:
                count = await outbox.deregister_sender(session, self.sender_id)
                await session.commit()
            self._registered = False
            if count:
                log.info("Outbox: handed %d claimed message(s) back to the queue", count)
        except Exception as exc:
            log.error(
                "Outbox sender %s could not hand its rows back (%s): they go out again when "
                "its lease lapses",
                self.sender_id,
                self._safe(exc),
            )

    # -- one pass ------------------------------------------------------------------------
    async def _claim(self, limit: int) -> tuple[list[OutboxMessage], dict[int, User]]:
        async with self.sessionmaker() as session:
            rows = await outbox.claim_due(
                session, limit=limit, now=self._now(), sender_id=self.sender_id
            )
            user_ids = {row.user_id for row in rows if row.user_id is not None}
            users: dict[int, User] = {}
            if user_ids:
                result = await session.scalars(select(User).where(User.id.in_(user_ids)))
                users = {user.id: user for user in result}
            await session.commit()
        return rows, users

    async def send_due(self, limit: int = 100) -> int:
        """One pass: claim up to `limit` due rows (the next of each chat) and handle them,
        several at once; returns how many rows were claimed."""
        await self._housekeeping()
        probe = self._outage is not None
        if probe:
            assert self._outage is not None
            if self._clock() < self._outage.resume_at:
                return 0
            limit = 1
        rows, users = await self._claim(limit)
        if not rows:
            return 0
        gate = asyncio.Semaphore(self._concurrency)

        async def one(row: OutboxMessage) -> None:
            async with gate:
                user = users.get(row.user_id) if row.user_id else None
                await self._handle(row, user, probe=probe)

        await asyncio.gather(*(one(row) for row in rows))
        return len(rows)

    async def _handle(self, row: OutboxMessage, user: User | None, *, probe: bool = False) -> None:
        context = f"outbox row {row.id} ({row.kind}) to chat {row.chat_id}"
        try:
            outcome = await self._attempt(row, user, context, probe=probe)
        except Exception as exc:  # a bug must cost one row, never the sender
            log.exception("Outbox: unexpected error on %s", context)
            outcome = _Failed(f"unexpected error: {self._safe(exc)}")
        try:
            await self._record(row, outcome, context)
        except Exception as exc:  # the database is away: record it when it is back
            log.error("Outbox: could not record %s (%s); will retry", context, self._safe(exc))
            self._unrecorded.append((row, outcome, context))

    def _deadline(self, row: OutboxMessage) -> datetime:
        deadline = row.due_at + self.settings.outbox_expiry(row.kind)
        rule = KIND_DEADLINES.get(row.kind)
        moment = rule(dict(row.params or {})) if rule is not None else None
        return min(deadline, moment) if moment is not None else deadline

    def _may_start(self, probe: bool) -> bool:
        """A request may start: not stopping, no outage (unless this is its probe), and the
        lease outlives the request."""
        if self._stop is not None and self._stop.is_set():
            return False
        if self._outage is not None and not probe:
            return False
        return self._lease_ok()

    async def _attempt(
        self, row: OutboxMessage, user: User | None, context: str, *, probe: bool = False
    ) -> _Outcome:
        private = user is not None and row.chat_id == user.telegram_id
        if private and user is not None and not user.reachable:
            return _Failed(outbox.UNREACHABLE_ERROR, count_attempt=False)
        if self._now() > self._deadline(row):
            log.warning("Outbox: %s expired undelivered (%d attempts)", context, row.attempts)
            return _Failed(
                f"expired undelivered after {row.attempts} attempt(s)"
                + (f"; last error: {row.last_error}" if row.last_error else ""),
                count_attempt=False,
            )
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
                # The original is not out yet (and may be behind this row in its own chat):
                # the edit goes behind it and is tried again shortly.
                return _Retry(EDIT_WAIT.total_seconds(), None, count_attempt=False, behind=True)
            if target is not None and target.telegram_message_id is None:
                target = None  # the original failed or was cancelled: send this as a new one

        if not await self._wait_for_slot(probe):
            return _Retry(None, None, count_attempt=False)  # not started: back in its place
        started = self._clock()
        try:
            if target is not None:
                message_id = await self._edit(target, rendered)
            else:
                message_id = await self._send(row.chat_id, rendered)
        except TelegramRetryAfter as exc:
            self._answered()
            self._pause_chat(row.chat_id, float(exc.retry_after))
            log.warning(
                "Outbox: flood control on %s (attempt %d), retry in %ss",
                context,
                row.attempts + 1,
                exc.retry_after,
            )
            return _Retry(float(exc.retry_after), self._safe(exc))
        except TelegramMigrateToChat as exc:
            self._answered()
            log.warning(
                "Outbox: chat %s became supergroup %s; update STAFF_CHAT_ID if it is the staff "
                "group (%s)",
                row.chat_id,
                exc.migrate_to_chat_id,
                context,
            )
            return _Retry(
                None, self._safe(exc), count_attempt=False, chat_id=exc.migrate_to_chat_id
            )
        except TelegramForbiddenError as exc:
            self._answered()
            log.warning("Outbox: forbidden on %s: %s", context, self._safe(exc))
            return _Failed(self._safe(exc), unreachable_user_id=self._private_user(row))
        except (TelegramBadRequest, TelegramNotFound, TelegramEntityTooLarge) as exc:
            self._answered()
            if target is not None and _edit_target_gone(exc):
                # The card to edit was deleted or is too old: send the new version instead.
                return await self._send_instead(row, rendered, context, probe)
            log.warning("Outbox: rejected %s: %s", context, self._safe(exc))
            return _Failed(self._safe(exc))
        except (TelegramAPIError, OSError, TimeoutError) as exc:
            # No answer, a 5xx, or 401/409-like trouble: Telegram's side, not this row's.
            return self._no_answer(row, exc, started)
        self._answered()
        return _Sent(message_id)

    async def _send_instead(
        self, row: OutboxMessage, rendered: Rendered, context: str, probe: bool
    ) -> _Outcome:
        if not await self._wait_for_slot(probe):
            return _Retry(None, None, count_attempt=False)
        started = self._clock()
        try:
            message_id = await self._send(row.chat_id, rendered)
        except TelegramRetryAfter as exc:
            self._answered()
            self._pause_chat(row.chat_id, float(exc.retry_after))
            return _Retry(float(exc.retry_after), self._safe(exc))
        except (TelegramBadRequest, TelegramForbiddenError, TelegramEntityTooLarge) as exc:
            self._answered()
            log.warning("Outbox: rejected %s: %s", context, self._safe(exc))
            return _Failed(self._safe(exc))
        except (TelegramAPIError, OSError, TimeoutError) as exc:
            return self._no_answer(row, exc, started)
        self._answered()
        return _Sent(message_id)

    def _no_answer(self, row: OutboxMessage, exc: Exception, started: float) -> _Outcome:
        """A request that got no usable answer: the row goes back in its place (no attempt
        used; its chat waits). One such failure among answers is a hiccup; a second one with no
        answer in between is an outage: the sender pauses."""
        error = self._safe(exc)
        now = self._clock()
        self._failed_in_a_row += 1
        outage = self._outage
        if outage is None and self._failed_in_a_row < 2:
            log.info("Outbox: no answer for %s (%s); it waits its turn", row.id, error)
            self._pause_chat(row.chat_id, BACKOFF_BASE)
            return _Retry(BACKOFF_BASE, error, count_attempt=False)
        if outage is None:
            self._outage = _Outage(now, error)
            self._outage.failures = self._failed_in_a_row
            self.outages += 1
            log.warning(
                "Outbox: Telegram is not answering (%s): delivery paused, trying again with a "
                "growing pause; no message is given up meanwhile",
                error,
            )
        else:
            outage.failures += 1
            if started >= outage.paused_at:  # a probe failed (not a request already in flight)
                outage.backoff = min(outage.backoff * 2, BACKOFF_CAP)
                outage.paused_at = now
                outage.resume_at = now + outage.backoff
        pause = self._outage.backoff if self._outage is not None else BACKOFF_BASE
        self._pause_chat(row.chat_id, pause)
        return _Retry(pause, error, count_attempt=False)

    def _answered(self) -> None:
        """Telegram answered (whatever it said): an outage is over."""
        self._failed_in_a_row = 0
        outage = self._outage
        if outage is None:
            return
        self._outage = None
        log.warning(
            "Outbox: Telegram answers again after %.0f s; delivery resumed (%d request(s) "
            "failed meanwhile, none of them given up)",
            self._clock() - outage.started,
            outage.failures,
        )

    async def _wait_for_slot(self, probe: bool) -> bool:
        """Wait for this request's slot of the rate; False if it must not start after all.
        Slots come from the bucket, not from the moment the request is ready, so time lost
        oversleeping is not lost from the rate."""
        if not self._may_start(probe):
            return False
        assert self._bucket is not None
        wait = await self._bucket.reserve()
        if wait > 0:
            await self._idle(self._stop or asyncio.Event(), wait)
        return self._may_start(probe)

    async def _record(self, row: OutboxMessage, outcome: _Outcome, context: str) -> None:
        """Record one outcome. Outcomes arriving while a transaction is being written go into
        the next one together (a group commit): one transaction for many messages when busy,
        no waiting when not. Raises if the transaction that carried it failed."""
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._to_record.append((row, outcome, context, done))
        if not self._recording:
            self._recording = True
            try:
                while self._to_record:
                    batch, self._to_record = self._to_record, []
                    try:
                        await self._write(batch)
                    except Exception as exc:
                        for *_rest, future in batch:
                            if not future.done():
                                future.set_exception(exc)
                    else:
                        for *_rest, future in batch:
                            if not future.done():
                                future.set_result(None)
            finally:
                self._recording = False
        await done

    async def _write(self, batch: list[tuple[OutboxMessage, _Outcome, str, Any]]) -> None:
        now = self._now()
        async with self.sessionmaker() as session:
            if session.get_bind().dialect.name == "postgresql":
                # Do not wait for the disk on each message: if the database server itself
                # crashed in the next moment, the worst case is a message sent twice.
                await session.execute(text("SET LOCAL synchronous_commit TO OFF"))
            for row, outcome, _context, _done in batch:
                await self._apply(session, row, outcome, now)
            await session.commit()
        for _row, outcome, context, _done in batch:
            if isinstance(outcome, _Sent):
                log.debug("Outbox: sent %s", context)

    @staticmethod
    async def _apply(
        session: AsyncSession, row: OutboxMessage, outcome: _Outcome, now: datetime
    ) -> None:
        if isinstance(outcome, _Sent):
            await outbox.mark_sent(session, row.id, telegram_message_id=outcome.message_id, now=now)
        elif isinstance(outcome, _Failed):
            if outcome.unreachable_user_id is not None:
                await outbox.mark_user_unreachable(session, outcome.unreachable_user_id, now=now)
                log.info("Outbox: user %s marked unreachable", outcome.unreachable_user_id)
            await outbox.mark_failed(
                session, row.id, error=outcome.error, count_attempt=outcome.count_attempt
            )
        elif isinstance(outcome, _Retry):
            later = None if outcome.delay is None else now + timedelta(seconds=outcome.delay)
            await outbox.mark_retry(
                session,
                row.id,
                retry_at=None if outcome.behind else later,
                due_at=later if outcome.behind else None,
                error=outcome.error,
                count_attempt=outcome.count_attempt,
                chat_id=outcome.chat_id,
            )

    # -- Telegram ------------------------------------------------------------------------
    async def _send(self, chat_id: int, rendered: Rendered) -> int | None:
        extra: dict[str, Any] = dict(rendered.extra)
        extra["request_timeout"] = self._request_timeout()
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

    def _request_timeout(self) -> int:
        return max(1, round(self._timeout))

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
                    request_timeout=self._request_timeout(),
                )
            else:
                await self.bot.edit_message_text(
                    text=rendered.text,
                    chat_id=target.chat_id,
                    message_id=message_id,
                    reply_markup=markup,
                    request_timeout=self._request_timeout(),
                )
        except TelegramBadRequest as exc:
            if "message is not modified" not in exc.message:
                raise
        self._mark_chat_used(target.chat_id)
        return message_id

    # -- per-chat hints (the database keeps the spacing across senders) ------------------
    def _mark_chat_used(self, chat_id: int) -> None:
        spacing = outbox.GROUP_SPACING if chat_id < 0 else outbox.PRIVATE_SPACING
        self._pause_chat(chat_id, spacing.total_seconds())

    def _pause_chat(self, chat_id: int, seconds: float) -> None:
        now = self._clock()
        self._chat_ready[chat_id] = max(now + seconds, self._chat_ready.get(chat_id, 0.0))
        if len(self._chat_ready) > 10_000:
            self._chat_ready = {c: t for c, t in self._chat_ready.items() if t > now}

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


__all__ = ["KIND_DEADLINES", "OutboxSender"]
