"""Middlewares on every update, in this order: one database session per update (taken under the
per-person lock, deduplicating redelivered updates), the current user and the conversation
state loaded once in one statement, the user's locale; flood throttling on messages and button
presses; every button press answered once. And the rule for talking to Telegram during an
update: commit first, then send (`_CommitBeforeSend`), so no transaction (on SQLite: no write
lock) is held across a network round trip. docs/architecture.md, "Transactions", describes the
shape precisely."""

from __future__ import annotations

import functools
import logging
import time
import weakref
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from contextlib import AbstractAsyncContextManager, nullcontext
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

from aiogram import BaseMiddleware, Bot
from aiogram.client.session.base import BaseSession
from aiogram.client.session.middlewares.base import (
    BaseRequestMiddleware,
    NextRequestMiddlewareType,
)
from aiogram.fsm.context import FSMContext
from aiogram.fsm.middleware import FSMContextMiddleware
from aiogram.methods import AnswerCallbackQuery, TelegramMethod
from aiogram.types import CallbackQuery, Message, TelegramObject, Update
from aiogram.types import User as TelegramUser
from aiogram.utils.callback_answer import CallbackAnswer
from sqlalchemy import bindparam, event, exists, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from sqlalchemy.orm import Session

from bot.db import deferred, is_sqlite_busy, wrote_in_transaction
from bot.fsm_storage import (
    SQLStorage,
    forget_records,
    fsm_uses_session,
    remember_record,
    storage_key,
)
from models.base import utcnow
from models.runtime import FsmRecord, ProcessedUpdate
from models.users import User, current_user_query, new_user, telegram_changes

log = logging.getLogger(__name__)

Handler = Callable[[TelegramObject, dict[str, Any]], Awaitable[Any]]

RECENT_UPDATES = 10_000  # update ids remembered in memory (a webhook retry, a double delivery)


class UpdateAlreadyProcessed(Exception):
    """The update's work was committed before (another process got there first)."""


class UpdateSession(Session):
    """The session class of an update: remembers the connection of its current transaction,
    so the update can tell whether that transaction wrote (and needs its processed mark)."""


_CONNECTION = "update_connection"


@event.listens_for(UpdateSession, "after_begin")
def _remember_connection(session: Session, _transaction: Any, connection: Any) -> None:
    session.info[_CONNECTION] = connection


@event.listens_for(UpdateSession, "after_transaction_end")
def _forget_connection(session: Session, transaction: Any) -> None:
    if transaction.parent is None:
        session.info.pop(_CONNECTION, None)


@dataclass
class UnitOfWork:
    """The database side of one update: its session, whether its work is marked processed,
    whether it has talked to Telegram, and how its SQLite transactions begin."""

    session: AsyncSession
    bot_id: int
    update_id: int | None
    immediate_engine: AsyncEngine | None  # SQLite: where the write lock is taken up front
    marked: bool = False  # the processed-update mark is in a committed transaction
    sent: bool = False  # something went to Telegram during this update
    committed: bool = False  # some of the update's work is committed
    active: bool = True

    @property
    def deferred(self) -> bool:
        """On SQLite: the transactions still begin DEFERRED (no write lock until a write)."""
        return self.immediate_engine is not None

    def take_write_lock_up_front(self) -> None:
        """From now on, this update's SQLite transactions begin IMMEDIATE."""
        if self.immediate_engine is not None:
            self.session.sync_session.bind = self.immediate_engine.sync_engine
            self.immediate_engine = None

    async def restart_immediate(self) -> None:
        """Drop the current (deferred, read-only so far) transaction and take the write lock
        up front from now on: what the update read must be read again."""
        await self.session.rollback()
        forget_records(self.session)
        self.take_write_lock_up_front()

    async def commit(self) -> None:
        """Flush, add the processed-update mark when this transaction wrote anything (so the
        change and its mark commit together), and commit."""
        session = self.session
        await session.flush()
        connection = session.info.get(_CONNECTION)
        if connection is None:
            return  # no transaction began: nothing to commit
        if self.update_id is not None and not self.marked and wrote_in_transaction(connection):
            session.add(ProcessedUpdate(bot_id=self.bot_id, update_id=self.update_id))
            try:
                await session.flush()
            except IntegrityError as error:
                raise UpdateAlreadyProcessed from error
            self.marked = True
        await session.commit()
        self.committed = True

    async def before_telegram(self) -> None:
        """Commit, then send: a request to Telegram never waits inside a transaction."""
        await self.commit()  # may fail (the write lock): then nothing was sent, retryable
        self.sent = True
        self.take_write_lock_up_front()


_current_unit: ContextVar[UnitOfWork | None] = ContextVar("update_unit_of_work", default=None)


def current_unit() -> UnitOfWork | None:
    """The update being handled in this task, if any."""
    unit = _current_unit.get()
    return unit if unit is not None and unit.active else None


class _CommitBeforeSend(BaseRequestMiddleware):
    """Before any request to Telegram made while an update is handled, commits the update's
    work so far (handler code is unchanged; the rest of the handler runs in a new
    transaction)."""

    async def __call__(
        self, make_request: NextRequestMiddlewareType[Any], bot: Bot, method: TelegramMethod[Any]
    ) -> Any:
        unit = current_unit()
        if unit is not None:
            await unit.before_telegram()
        return await make_request(bot, method)


_committing_sessions: weakref.WeakSet[BaseSession] = weakref.WeakSet()


def commit_before_send(bot: Bot) -> None:
    """Install `_CommitBeforeSend` on the bot's HTTP session (once)."""
    if bot.session not in _committing_sessions:
        bot.session.middleware(_CommitBeforeSend())
        _committing_sessions.add(bot.session)


class DbSessionMiddleware(BaseMiddleware):
    """Takes the per-person lock (one update at a time per conversation), opens the update's
    session and commits its work when the handler returns (and before every request to
    Telegram during the update). A redelivered update is ignored: remembered in memory for the
    recent ones, and by the `processed_updates` mark, which is written in the transaction of
    the update's first write (an update that writes nothing leaves no mark: handling it again
    changes nothing). On an exception the uncommitted work rolls back.

    On SQLite an update's transactions begin DEFERRED (a read takes no lock) until it must
    write: the preamble (a new user, a stale last-seen) restarts IMMEDIATE before writing, a
    handler whose first write finds the lock taken is run again IMMEDIATE
    (`RetryOnWriteLockMiddleware`), and after its first request to Telegram the update's
    transactions begin IMMEDIATE."""

    def __init__(
        self, sessionmaker: async_sessionmaker[AsyncSession], fsm: FSMContextMiddleware
    ) -> None:
        engine = sessionmaker.kw["bind"]
        self.immediate_engine: AsyncEngine | None = (
            engine if engine.dialect.name == "sqlite" else None
        )
        kw = {**sessionmaker.kw, "bind": deferred(engine), "sync_session_class": UpdateSession}
        self.sessionmaker = async_sessionmaker(class_=sessionmaker.class_, **kw)
        self.fsm = fsm
        self._recent: OrderedDict[tuple[int, int], None] = OrderedDict()

    async def __call__(self, handler: Handler, event: TelegramObject, data: dict[str, Any]) -> Any:
        bot: Bot = data["bot"]
        commit_before_send(bot)
        context = self.fsm.resolve_event_context(bot, data)
        data["fsm_storage"] = self.fsm.storage
        lock: AbstractAsyncContextManager[Any] = (
            self.fsm.events_isolation.lock(key=context.key) if context else nullcontext()
        )
        update_id = event.update_id if isinstance(event, Update) else None
        async with lock:
            if update_id is not None and (bot.id, update_id) in self._recent:
                log.info("update %s already processed; ignored", update_id)
                return None
            result = await self._handle(handler, event, data, bot.id, update_id, context)
        if update_id is not None:
            self._recent[(bot.id, update_id)] = None
            while len(self._recent) > RECENT_UPDATES:
                self._recent.popitem(last=False)
        return result

    async def _handle(
        self,
        handler: Handler,
        event: TelegramObject,
        data: dict[str, Any],
        bot_id: int,
        update_id: int | None,
        context: FSMContext | None,
    ) -> Any:
        async with self.sessionmaker() as session:
            unit = UnitOfWork(session, bot_id, update_id, self.immediate_engine)
            data["session"] = session
            if context is not None:
                data["state"] = context
            token = _current_unit.set(unit)
            try:
                with fsm_uses_session(session):
                    result = await handler(event, data)
                await unit.commit()
            except UpdateAlreadyProcessed:
                await session.rollback()
                log.info("update %s already processed; ignored", update_id)
                return None
            except Exception:
                await session.rollback()
                raise
            finally:
                unit.active = False
                _current_unit.reset(token)
            return result


class CurrentUserMiddleware(BaseMiddleware):
    """Loads (or creates) the `User` row for whoever sent the update, with the conversation
    state and the duplicate-update check in the same statement; sets `user` and `raw_state`.
    Writes only when something changed (a new person, a new name, last-seen after a while)."""

    def __init__(self, admin_ids: list[int]) -> None:
        self.admin_ids = frozenset(admin_ids)

    async def __call__(self, handler: Handler, event: TelegramObject, data: dict[str, Any]) -> Any:
        telegram_user: TelegramUser | None = data.get("event_from_user")
        session: AsyncSession | None = data.get("session")
        unit = current_unit()
        context: FSMContext | None = data.get("state")
        data["user"] = None
        if session is not None and unit is not None:
            if telegram_user is not None and not telegram_user.is_bot:
                user, seen = await self._load_user(session, unit, telegram_user, context)
                if seen:
                    log.info("update %s already processed; ignored", unit.update_id)
                    return None
                data["user"] = user
            elif unit.update_id is not None:
                if await session.scalar(select(_processed(unit))):
                    log.info("update %s already processed; ignored", unit.update_id)
                    return None
        if context is not None and "raw_state" not in data:
            data["raw_state"] = await context.get_state()
        return await handler(event, data)

    async def _load_user(
        self,
        session: AsyncSession,
        unit: UnitOfWork,
        telegram_user: TelegramUser,
        context: FSMContext | None,
    ) -> tuple[User, bool]:
        fields: dict[str, Any] = {
            "display_name": telegram_user.full_name,
            "username": telegram_user.username,
            "telegram_language": telegram_user.language_code,
            "admin_ids": self.admin_ids,
        }
        now = utcnow()
        user, seen = await load_current(session, unit, telegram_user.id, context)
        if seen:
            return user, True  # type: ignore[return-value]
        changes = telegram_changes(user, **fields, now=now) if user is not None else None
        if user is not None and not changes:
            return user, False
        if unit.deferred:
            # A write is coming: on SQLite take the write lock before reading what it depends on.
            await unit.restart_immediate()
            user, seen = await load_current(session, unit, telegram_user.id, context)
            if seen:
                return user, True  # type: ignore[return-value]
        if user is None:
            user = new_user(
                telegram_user.id,
                display_name=telegram_user.full_name,
                username=telegram_user.username,
                telegram_language=telegram_user.language_code,
                now=now,
            )
            session.add(user)
        for name, value in telegram_changes(user, **fields, now=now).items():
            setattr(user, name, value)
        await session.flush()
        return user, False


def _processed(unit: UnitOfWork) -> Any:
    return exists().where(
        ProcessedUpdate.bot_id == unit.bot_id, ProcessedUpdate.update_id == unit.update_id
    )


@functools.cache
def _current_statement(with_mark: bool, with_state: bool) -> Any:
    """The per-update statement, built once per shape with bound parameters (building and
    keying an ORM select with its joined loads costs more than running it on SQLite)."""
    also: list[Any] = []
    if with_mark:
        mark = exists().where(
            ProcessedUpdate.bot_id == bindparam("bot_id"),
            ProcessedUpdate.update_id == bindparam("update_id"),
        )
        also.append(mark.label("seen"))
    if with_state:
        also.append(FsmRecord)
    query = current_user_query(bindparam("telegram_id"), *also)  # type: ignore[arg-type]
    if with_state:
        query = query.outerjoin(FsmRecord, FsmRecord.key == bindparam("fsm_key"))
    return query


async def load_current(
    session: AsyncSession, unit: UnitOfWork, telegram_id: int, context: FSMContext | None
) -> tuple[User | None, bool]:
    """One statement: the user (with profile, grid, caseworker), whether this update was
    processed before, and the conversation state when it lives in the database."""
    key = None
    if context is not None and isinstance(context.storage, SQLStorage):
        key = storage_key(context.key)
    with_mark = unit.update_id is not None
    params: dict[str, Any] = {"telegram_id": telegram_id}
    if with_mark:
        params.update(bot_id=unit.bot_id, update_id=unit.update_id)
    if key is not None:
        params["fsm_key"] = key
    statement = _current_statement(with_mark, key is not None)
    row = (await session.execute(statement, params)).first()
    if row is None:
        return None, False  # a new person: nothing of theirs was ever committed
    if key is not None:
        remember_record(session, key, row[-1])
    seen = bool(row[1]) if with_mark else False
    return row[0], seen


class RetryOnWriteLockMiddleware(BaseMiddleware):
    """SQLite: a handler's transaction begins DEFERRED, so a read-only update takes no lock. If
    its first write then finds the write lock taken (SQLITE_BUSY at once: upgrading a read
    transaction cannot wait), and nothing has been sent or committed yet, the handler runs
    again, this time in an IMMEDIATE transaction (which queues for the lock). Registered as an
    inner middleware: filters and throttling are not run twice."""

    async def __call__(self, handler: Handler, event: TelegramObject, data: dict[str, Any]) -> Any:
        unit = current_unit()
        if unit is None or not unit.deferred:
            return await handler(event, data)
        try:
            result = await handler(event, data)
            await unit.session.flush()  # a pending write fails here, still retryable
            return result
        except Exception as error:
            if not is_sqlite_busy(error) or unit.sent or unit.committed:
                raise
        log.info("update %s: write lock taken, running the handler again", unit.update_id)
        await unit.restart_immediate()  # expires what was loaded: read the user again
        telegram_user: TelegramUser | None = data.get("event_from_user")
        if data.get("user") is not None and telegram_user is not None:
            user, _seen = await load_current(
                unit.session, unit, telegram_user.id, data.get("state")
            )
            data["user"] = user
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
