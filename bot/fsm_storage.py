"""Conversation state in the database, so an elderly user half-way through a form keeps it
across restarts; Redis is used instead when REDIS_URL is set (several processes)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from aiogram.fsm.state import State
from aiogram.fsm.storage.base import BaseStorage, StorageKey
from aiogram.fsm.storage.redis import RedisStorage
from sqlalchemy import delete
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from models.base import utcnow
from models.runtime import FsmRecord

StateType = str | State | None


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
        async with self._sessionmaker() as session, session.begin():
            record = await session.get(FsmRecord, _key(key))
            if record is None:
                record = FsmRecord(key=_key(key), state=None, data={})
                session.add(record)
            for name, value in values.items():
                setattr(record, name, value)
            record.updated_at = utcnow()
            if record.state is None and not record.data:
                await session.execute(delete(FsmRecord).where(FsmRecord.key == record.key))

    async def _read(self, key: StorageKey) -> FsmRecord | None:
        async with self._sessionmaker() as session:
            return await session.get(FsmRecord, _key(key))

    async def set_state(self, key: StorageKey, state: StateType = None) -> None:
        value = state.state if isinstance(state, State) else state
        await self._write(key, state=value)

    async def get_state(self, key: StorageKey) -> str | None:
        record = await self._read(key)
        return record.state if record else None

    async def set_data(self, key: StorageKey, data: Mapping[str, Any]) -> None:
        await self._write(key, data=dict(data))

    async def get_data(self, key: StorageKey) -> dict[str, Any]:
        record = await self._read(key)
        return dict(record.data) if record and record.data else {}

    async def close(self) -> None:
        return None


def create_storage(
    redis_url: str | None, sessionmaker: async_sessionmaker[AsyncSession]
) -> BaseStorage:
    if redis_url:
        return RedisStorage.from_url(redis_url)
    return SQLStorage(sessionmaker)
