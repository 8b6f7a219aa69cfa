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
from aiogram.fsm.storage.redis import RedisStorage
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from models.base import utcnow
from models.runtime import FsmRecord

StateType = str | State | None

# The update's own session (set by DbSessionMiddleware while a handler runs). FSM reads and
# writes made by a handler go through it: on SQLite a second connection would wait for the
# update's write lock forever (BEGIN IMMEDIATE), and the state then commits (or rolls back)
# together with the handler's other changes.
_update_session: ContextVar[AsyncSession | None] = ContextVar("fsm_update_session", default=None)


@contextmanager
def fsm_uses_session(session: AsyncSession) -> Iterator[None]:
    token = _update_session.set(session)
    try:
        yield
    finally:
        _update_session.reset(token)


def _key(key: StorageKey) -> str:
    parts = [str(key.bot_id), str(key.chat_id), str(key.user_id)]
    if key.thread_id:
        parts.append(f"t{key.thread_id}")
    if key.business_connection_id:
        parts.append(f"b{key.business_connection_id}")
    parts.append(key.destiny)
    return ":".join(parts)


class SQLStorage(BaseStorage):
    """Each write commits on its own short session: state must be durable the moment a step
    is answered, independent of the update's own transaction."""

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
        record = await session.get(FsmRecord, _key(key))
        if record is None:
            record = FsmRecord(key=_key(key), state=None, data={})
            session.add(record)
        for name, value in values.items():
            setattr(record, name, value)
        record.updated_at = utcnow()
        await session.flush()
        if record.state is None and not record.data:
            await session.delete(record)
            await session.flush()

    async def _read(self, key: StorageKey) -> FsmRecord | None:
        current = _update_session.get()
        if current is not None:
            return await current.get(FsmRecord, _key(key))
        async with self._sessionmaker() as session:
            return await session.get(FsmRecord, _key(key))

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
        return RedisStorage.from_url(redis_url)
    return SQLStorage(sessionmaker)
