"""Conversation state in the database, so an elderly user half-way through a form keeps it
across restarts; Redis is used instead when REDIS_URL is set (several processes)."""

from __future__ import annotations

import copy
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

from aiogram.fsm.state import State
from aiogram.fsm.storage.base import BaseStorage, StorageKey
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from models.base import utcnow
from models.runtime import FsmRecord

StateType = str | State | None

# The update's own session (set by DbSessionMiddleware while a handler runs). FSM reads and
# writes made by a handler go through it: the state is read once, in the update's own
# transaction, and commits (or rolls back) together with the handler's other changes.
_update_session: ContextVar[AsyncSession | None] = ContextVar("fsm_update_session", default=None)

# Per session: the FSM rows this update has read, by key (None: known to be absent), so the
# state is read from the database once per update, however often handlers ask for it.
_CACHE = "fsm_records"


@contextmanager
def fsm_uses_session(session: AsyncSession) -> Iterator[None]:
    token = _update_session.set(session)
    try:
        yield
    finally:
        _update_session.reset(token)


def storage_key(key: StorageKey) -> str:
    """The `fsm_records.key` of a conversation."""
    parts = [str(key.bot_id), str(key.chat_id), str(key.user_id)]
    if key.thread_id:
        parts.append(f"t{key.thread_id}")
    if key.business_connection_id:
        parts.append(f"b{key.business_connection_id}")
    parts.append(key.destiny)
    return ":".join(parts)


def remember_record(session: AsyncSession, key: str, record: FsmRecord | None) -> None:
    """Tell the storage what this update's session already read for `key` (the current-user
    query loads the state with the user), so it is not read again."""
    session.info.setdefault(_CACHE, {})[key] = record


def forget_records(session: AsyncSession) -> None:
    """After a rollback the rows read are stale (and expired): read them again when asked."""
    session.info.pop(_CACHE, None)


class SQLStorage(BaseStorage):
    """Inside an update, reads and writes go through the update's session (read once, written
    only when something changed); outside one (tools, tests) each write commits on a short
    session of its own."""

    def __init__(self, sessionmaker: async_sessionmaker[AsyncSession]) -> None:
        self._sessionmaker = sessionmaker

    async def _write(self, key: StorageKey, **values: Any) -> None:
        current = _update_session.get()
        if current is not None:
            await self._write_in(current, key, **values)
            return
        async with self._sessionmaker() as session, session.begin():
            await self._write_in(session, key, **values)

    async def _write_in(self, session: AsyncSession, key: StorageKey, **values: Any) -> None:
        record = await self._get(session, storage_key(key))
        if record is None:
            if all(not value for value in values.values()):
                return  # clearing a conversation that has nothing: nothing to write
            record = FsmRecord(key=storage_key(key), state=None, data={})
            session.add(record)
            remember_record(session, record.key, record)
        changed = False
        for name, value in values.items():
            if getattr(record, name) != value:
                setattr(record, name, value)
                changed = True
        if not changed:
            return
        if record.state is None and not record.data:
            if record in session.new:
                session.expunge(record)
            else:
                await session.delete(record)
            remember_record(session, record.key, None)
        else:
            record.updated_at = utcnow()
        # No flush here: a step's set_data and set_state go out as one statement when the
        # update's work is flushed (at commit, before a request to Telegram, before a query).

    async def _get(self, session: AsyncSession, key: str) -> FsmRecord | None:
        cache: dict[str, FsmRecord | None] = session.info.setdefault(_CACHE, {})
        if key in cache:
            return cache[key]
        record = await session.get(FsmRecord, key)
        cache[key] = record
        return record

    async def _read(self, key: StorageKey) -> FsmRecord | None:
        current = _update_session.get()
        if current is not None:
            return await self._get(current, storage_key(key))
        async with self._sessionmaker() as session:
            return await session.get(FsmRecord, storage_key(key))

    async def set_state(self, key: StorageKey, state: StateType = None) -> None:
        value = state.state if isinstance(state, State) else state
        await self._write(key, state=value)

    async def get_state(self, key: StorageKey) -> str | None:
        record = await self._read(key)
        return record.state if record else None

    async def set_data(self, key: StorageKey, data: Mapping[str, Any]) -> None:
        # A deep copy: nested lists edited in place would otherwise compare equal to the
        # loaded value and never be written.
        await self._write(key, data=copy.deepcopy(dict(data)))

    async def get_data(self, key: StorageKey) -> dict[str, Any]:
        record = await self._read(key)
        return copy.deepcopy(dict(record.data)) if record and record.data else {}

    async def close(self) -> None:
        return None


def create_storage(
    redis_url: str | None, sessionmaker: async_sessionmaker[AsyncSession]
) -> BaseStorage:
    if redis_url:
        # Imported only when configured: the embedded deployment never loads redis.
        from aiogram.fsm.storage.redis import RedisStorage

        return RedisStorage.from_url(redis_url)
    return SQLStorage(sessionmaker)
