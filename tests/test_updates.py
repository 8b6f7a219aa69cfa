"""Telegram may deliver an update twice (webhook retries, a restart before the offset was
confirmed): it is handled once. An update whose handling failed is handled again."""

from __future__ import annotations

import pytest
from aiogram import Router
from aiogram.filters import Command
from aiogram.types import Message
from sqlalchemy import func, select

from models import ProcessedUpdate
from tests.chat import Chat, Person

SORRY_ZH = "抱歉，我们这边出了点问题。您填写的内容都还在，请再试一次。"


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest) -> str:
    """These rules depend on the database's unique constraint: check SQLite and PostgreSQL.
    (A sync fixture: the session templates are built with asyncio.run, outside the loop.)"""
    name = "sqlite_database_url" if request.param == "sqlite" else "pg_database_url"
    return str(request.getfixturevalue(name))


@pytest.fixture
def ping_chat(chat: Chat) -> Chat:
    """The production dispatcher with a tiny /ping handler placed first, so these runtime rules
    do not depend on any capability's conversation."""
    router = Router(name="tests.ping")

    @router.message(Command("ping"))
    async def cmd_ping(message: Message) -> None:
        await message.answer("pong")

    chat.dispatcher.include_router(router)
    chat.dispatcher.sub_routers.remove(router)
    chat.dispatcher.sub_routers.insert(0, router)
    return chat


def ping_update(chat: Chat, person: Person) -> dict:
    return chat.message_update(
        person, text="/ping", entities=[{"type": "bot_command", "offset": 0, "length": 5}]
    )


async def marks(sessionmaker, update_id: int) -> int:
    async with sessionmaker() as session:  # short: on SQLite a open read holds the write lock
        return int(
            await session.scalar(
                select(func.count())
                .select_from(ProcessedUpdate)
                .where(ProcessedUpdate.update_id == update_id)
            )
        )


async def test_the_same_update_twice_gets_one_answer(ping_chat: Chat, sessionmaker) -> None:
    person = Person(id=6201, first_name="周")
    update = ping_update(ping_chat, person)
    first = await ping_chat.feed(update)
    second = await ping_chat.feed(update)
    assert [(r.method, r.text) for r in first] == [("sendMessage", "pong")]
    assert second == []
    # A first contact writes (the person's row): the mark commits with it.
    assert await marks(sessionmaker, update["update_id"]) == 1


async def test_an_update_that_wrote_is_ignored_after_a_restart(
    ping_chat: Chat, sessionmaker, settings, i18n
) -> None:
    """The mark outlives the process: a redelivery after a restart (a new Dispatcher, nothing
    in memory) finds it with the current user, in the same statement."""
    from bot.factory import create_dispatcher
    from bot.fsm_storage import SQLStorage

    person = Person(id=6203, first_name="冯")
    update = ping_update(ping_chat, person)
    assert [r.text for r in await ping_chat.feed(update)] == ["pong"]
    restarted = Chat(
        create_dispatcher(settings, sessionmaker, storage=SQLStorage(sessionmaker), i18n=i18n),
        ping_chat.bot,
        ping_chat.session,
    )
    assert await restarted.feed(update) == []


async def test_an_update_that_writes_nothing_leaves_no_mark(ping_chat: Chat, sessionmaker) -> None:
    """/ping from someone the bot knows reads and answers: no write at all (the in-memory
    memory of recent updates still answers a redelivery once)."""
    person = Person(id=6204, first_name="陈")
    await ping_chat.feed(ping_update(ping_chat, person))  # first contact: the person's row
    update = ping_update(ping_chat, person)
    assert [r.text for r in await ping_chat.feed(update)] == ["pong"]
    assert await marks(sessionmaker, update["update_id"]) == 0
    assert await ping_chat.feed(update) == []


@pytest.mark.handler_errors_expected
async def test_a_failed_update_is_handled_again_when_redelivered(
    ping_chat: Chat, sessionmaker
) -> None:
    person = Person(id=6202, first_name="吴")
    await ping_chat.feed(ping_update(ping_chat, person))  # known to the bot from now on
    update = ping_update(ping_chat, person)
    # The answer fails at Telegram (a 500) before anything was committed: the handler raises,
    # the person is told, and nothing marks the update processed.
    ping_chat.session.queue_error(500, "Internal Server Error: try again", method="sendMessage")
    first = await ping_chat.feed(update)
    assert [(r.method, r.text) for r in first] == [
        ("sendMessage", "pong"),
        ("sendMessage", SORRY_ZH),
    ]
    assert await marks(sessionmaker, update["update_id"]) == 0
    # Telegram delivers it again: this time it is handled, once.
    second = await ping_chat.feed(update)
    assert [(r.method, r.text) for r in second] == [("sendMessage", "pong")]
    assert await ping_chat.feed(update) == []


@pytest.mark.handler_errors_expected
async def test_work_committed_before_a_failed_send_is_not_done_twice(
    ping_chat: Chat, sessionmaker
) -> None:
    """Commit, then send: a first contact's row (and the update's mark) commit before the
    answer goes out. When that answer fails the person is told to try again, and a redelivery
    does not repeat the committed work."""
    person = Person(id=6205, first_name="褚")
    update = ping_update(ping_chat, person)
    ping_chat.session.queue_error(500, "Internal Server Error: try again", method="sendMessage")
    first = await ping_chat.feed(update)
    assert [r.text for r in first] == ["pong", SORRY_ZH]
    assert await marks(sessionmaker, update["update_id"]) == 1
    assert await ping_chat.feed(update) == []
