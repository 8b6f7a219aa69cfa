"""Commit, then send: no transaction is open (on SQLite: no write lock is held) while an update
waits for Telegram, and on SQLite a read takes no lock at all. docs/architecture.md,
"Transactions", describes the shape these tests hold the code to."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from aiogram import Bot, Router
from aiogram.client.session.middlewares.base import (
    BaseRequestMiddleware,
    NextRequestMiddlewareType,
)
from aiogram.filters import Command
from aiogram.fsm.context import FSMContext
from aiogram.methods import TelegramMethod
from aiogram.types import Message
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.middlewares import commit_before_send
from models import FsmRecord, User
from tests.chat import Chat, Person


class SlowTelegram(BaseRequestMiddleware):
    """Holds every sendMessage until the test lets it go (a slow Bot API round trip)."""

    def __init__(self) -> None:
        self.waiting = asyncio.Event()
        self.go_on = asyncio.Event()

    async def __call__(
        self, make_request: NextRequestMiddlewareType[Any], bot: Bot, method: TelegramMethod[Any]
    ) -> Any:
        if method.__api_method__ == "sendMessage":
            self.waiting.set()
            await self.go_on.wait()
        return await make_request(bot, method)


def first(chat: Chat, router: Router) -> Chat:
    chat.dispatcher.include_router(router)
    chat.dispatcher.sub_routers.remove(router)
    chat.dispatcher.sub_routers.insert(0, router)
    return chat


@pytest.fixture
def raw(database_url: str) -> Iterator[sqlite3.Connection]:
    """Another connection to the same SQLite file that never waits for a lock (timeout 0): a
    write fails at once with "database is locked" if someone holds the write lock."""
    path = Path(database_url.split(":///", 1)[1])
    connection = sqlite3.connect(path, timeout=0, isolation_level=None)
    yield connection
    connection.close()


async def test_another_connection_writes_while_an_update_waits_for_telegram(
    chat: Chat, bot: Bot, raw: sqlite3.Connection, sessionmaker
) -> None:
    router = Router(name="tests.slow")

    @router.message(Command("note"))
    async def cmd_note(message: Message, state: FSMContext, user: User) -> None:
        await state.update_data(note="记下了")  # a write, then the answer
        user.display_name = "王秀英（已记）"
        await message.answer("好的")

    first(chat, router)
    person = Person(id=6601, first_name="王秀英")
    await chat.send(person, "/start")  # known to the bot
    slow = SlowTelegram()
    commit_before_send(bot)  # the app's own request middleware comes first: commit, then send
    bot.session.middleware(slow)

    update = chat.message_update(
        person, text="/note", entities=[{"type": "bot_command", "offset": 0, "length": 5}]
    )
    handling = asyncio.create_task(chat.feed(update))
    try:
        await slow.waiting.wait()
        # The update is waiting for Telegram. Its work is already committed, visible to
        # others...
        note = raw.execute("SELECT data FROM fsm_records WHERE key LIKE '%:6601:6601:%'")
        assert "note" in note.fetchone()[0]
        # ...and the write lock is free: the sender (or the scheduler, or another update)
        # writes without waiting.
        raw.execute("BEGIN IMMEDIATE")
        raw.execute("UPDATE users SET reachable = 0 WHERE telegram_id = 6601")
        raw.execute("COMMIT")
    finally:
        slow.go_on.set()
        sent = await handling
    assert [r.text for r in sent] == ["好的"]
    async with sessionmaker() as session:
        stored = await session.scalar(select(User).where(User.telegram_id == 6601))
        assert stored is not None
        assert stored.display_name == "王秀英（已记）"
        assert stored.reachable is False  # the other connection's write stands


async def test_a_read_only_update_takes_no_lock(
    chat: Chat, bot: Bot, raw: sqlite3.Connection
) -> None:
    """Even before it talks to Telegram: reading the user and the state locks nothing."""
    router = Router(name="tests.reader")
    inside = asyncio.Event()
    go_on = asyncio.Event()

    @router.message(Command("look"))
    async def cmd_look(message: Message, session: AsyncSession, state: FSMContext) -> None:
        await state.get_data()
        await session.scalar(select(User.id).limit(1))
        inside.set()
        await go_on.wait()  # the transaction is open here, having read
        await message.answer("看过了")

    first(chat, router)
    person = Person(id=6602, first_name="赵")
    await chat.send(person, "/start")
    update = chat.message_update(
        person, text="/look", entities=[{"type": "bot_command", "offset": 0, "length": 5}]
    )
    handling = asyncio.create_task(chat.feed(update))
    try:
        await inside.wait()
        raw.execute("BEGIN IMMEDIATE")
        raw.execute("UPDATE users SET reachable = 0 WHERE telegram_id = 6602")
        raw.execute("COMMIT")
    finally:
        go_on.set()
        sent = await handling
    assert [r.text for r in sent] == ["看过了"]


async def test_a_handler_that_meets_the_write_lock_runs_again_holding_it(
    chat: Chat, raw: sqlite3.Connection, sessionmaker
) -> None:
    """A deferred transaction that has read cannot wait for the write lock (SQLite refuses the
    upgrade at once). Before anything was sent the handler runs again, in a transaction that
    takes the lock up front and queues for it: once, with one answer."""
    router = Router(name="tests.upgrade")
    runs: list[int] = []

    @router.message(Command("rename"))
    async def cmd_rename(message: Message, session: AsyncSession, user: User) -> None:
        runs.append(1)
        await session.scalar(select(FsmRecord.key).limit(1))  # has read
        if len(runs) == 1:
            # Someone else takes the write lock now, and lets it go a moment later.
            raw.execute("BEGIN IMMEDIATE")
            raw.execute("UPDATE users SET reachable = 1 WHERE telegram_id = 6603")
            asyncio.get_running_loop().call_later(0.05, raw.execute, "COMMIT")
        user.display_name = "新名字"
        await session.flush()
        await message.answer("改好了")

    first(chat, router)
    person = Person(id=6603, first_name="钱")
    await chat.send(person, "/start")
    sent = await chat.send(person, "/rename")
    assert [r.text for r in sent] == ["改好了"]
    assert len(runs) == 2
    async with sessionmaker() as session:
        assert (
            await session.scalar(select(User.display_name).where(User.telegram_id == 6603))
            == "新名字"
        )
