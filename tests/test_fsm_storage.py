"""Conversation state outlives the process: an elderly user half-way through a form keeps it
when the bot restarts. In the database by default, in Redis when REDIS_URL is set."""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator

import pytest
from aiogram import Bot, Dispatcher
from aiogram.fsm.state import State, StatesGroup
from aiogram.fsm.storage.base import BaseStorage, DefaultKeyBuilder, StorageKey
from aiogram.fsm.storage.redis import RedisStorage
from redis.exceptions import RedisError
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.fsm_storage import SQLStorage, create_storage
from models import FsmRecord
from tests.recording import BOT_ID, TEST_TOKEN, RecordingSession

REDIS_URL = "redis://127.0.0.1:6379/0"


class Request(StatesGroup):
    what = State()
    confirm = State()


def key(user_id: int, **extra: object) -> StorageKey:
    return StorageKey(bot_id=BOT_ID, chat_id=user_id, user_id=user_id, **extra)  # type: ignore[arg-type]


@pytest.fixture
def redis_prefix() -> str:
    return f"test-fsm-{uuid.uuid4().hex[:10]}"


async def open_redis(prefix: str) -> RedisStorage:
    storage = RedisStorage.from_url(
        REDIS_URL, key_builder=DefaultKeyBuilder(prefix=prefix, with_destiny=True)
    )
    try:
        await storage.redis.ping()
    except (OSError, RedisError):  # pragma: no cover - depends on the machine
        await storage.close()
        if os.environ.get("CI"):
            pytest.fail("Redis at 127.0.0.1:6379 is not reachable, and CI must test it")
        pytest.skip("Redis at 127.0.0.1:6379 is not reachable")
    return storage


@pytest.fixture(params=["sql", "redis"])
async def make_storage(
    request: pytest.FixtureRequest,
    sessionmaker: async_sessionmaker[AsyncSession],
    redis_prefix: str,
) -> AsyncIterator:
    """A factory: each call is a fresh storage object on the same backing store, as after a
    restart."""
    opened: list[BaseStorage] = []

    async def make() -> BaseStorage:
        if request.param == "sql":
            storage: BaseStorage = SQLStorage(sessionmaker)
        else:
            storage = await open_redis(redis_prefix)
        opened.append(storage)
        return storage

    yield make
    if request.param == "redis":
        cleaner = await open_redis(redis_prefix)
        keys = [k async for k in cleaner.redis.scan_iter(match=f"{redis_prefix}:*")]
        if keys:
            await cleaner.redis.delete(*keys)
        await cleaner.close()
    for storage in opened:
        await storage.close()


async def test_state_and_data_round_trip(make_storage) -> None:
    storage = await make_storage()
    k = key(7101)
    assert await storage.get_state(k) is None
    assert await storage.get_data(k) == {}
    await storage.set_state(k, Request.what)
    await storage.set_data(k, {"text": "水管漏水了", "photos": ["p1", "p2"], "urgent": True})
    assert await storage.get_state(k) == Request.what.state
    assert await storage.get_data(k) == {
        "text": "水管漏水了",
        "photos": ["p1", "p2"],
        "urgent": True,
    }
    await storage.update_data(k, {"urgent": False})
    assert (await storage.get_data(k))["urgent"] is False


async def test_state_survives_a_dispatcher_restart(make_storage) -> None:
    """The first process stores a half-filled form; a new process (new storage object, new
    Dispatcher) finds it through the FSM context, as a handler would."""
    first = Dispatcher(storage=await make_storage())
    bot = Bot(token=TEST_TOKEN, session=RecordingSession())
    context = first.fsm.get_context(bot, chat_id=7102, user_id=7102)
    await context.set_state(Request.confirm)
    await context.set_data({"what": "请帮我买菜", "profile_id": 12})
    await first.storage.close()

    second = Dispatcher(storage=await make_storage())
    restored = second.fsm.get_context(bot, chat_id=7102, user_id=7102)
    assert await restored.get_state() == Request.confirm.state
    assert await restored.get_data() == {"what": "请帮我买菜", "profile_id": 12}


async def test_conversations_are_kept_apart(make_storage) -> None:
    storage = await make_storage()
    await storage.set_state(key(7103), Request.what)
    await storage.set_state(key(7103, thread_id=5), Request.confirm)
    await storage.set_state(StorageKey(BOT_ID, chat_id=-100777, user_id=7103), "staff:step")
    assert await storage.get_state(key(7103)) == Request.what.state
    assert await storage.get_state(key(7103, thread_id=5)) == Request.confirm.state
    assert await storage.get_state(StorageKey(BOT_ID, chat_id=-100777, user_id=7103)) == (
        "staff:step"
    )
    assert await storage.get_state(key(7104)) is None


async def test_clearing_forgets_everything(make_storage) -> None:
    storage = await make_storage()
    k = key(7105)
    await storage.set_state(k, Request.what)
    await storage.set_data(k, {"text": "x"})
    await storage.set_state(k, None)
    await storage.set_data(k, {})
    assert await storage.get_state(k) is None
    assert await storage.get_data(k) == {}


async def test_sql_storage_leaves_no_row_for_a_cleared_conversation(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    storage = SQLStorage(sessionmaker)
    k = key(7106)
    await storage.set_state(k, Request.what)
    await storage.set_data(k, {"a": 1})
    await storage.set_state(k, None)
    await storage.set_data(k, {})
    async with sessionmaker() as session:
        assert (await session.scalars(select(FsmRecord))).all() == []


async def test_create_storage_chooses_by_configuration(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    assert isinstance(create_storage(None, sessionmaker), SQLStorage)
    redis_storage = create_storage(REDIS_URL, sessionmaker)
    try:
        assert isinstance(redis_storage, RedisStorage)
    finally:
        await redis_storage.close()
