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
    assert await marks(sessionmaker, update["update_id"]) == 1


@pytest.mark.handler_errors_expected
async def test_a_failed_update_is_handled_again_when_redelivered(
    ping_chat: Chat, sessionmaker
) -> None:
    person = Person(id=6202, first_name="吴")
    update = ping_update(ping_chat, person)
    # The first answer fails at Telegram (a 500): the handler raises, the person is told.
    ping_chat.session.queue_error(500, "Internal Server Error: try again", method="sendMessage")
    first = await ping_chat.feed(update)
    assert [(r.method, r.text) for r in first] == [
        ("sendMessage", "pong"),
        ("sendMessage", SORRY_ZH),
    ]
    assert await marks(sessionmaker, update["update_id"]) == 0
    # Telegram delivers it again: this time it is handled, and marked.
    second = await ping_chat.feed(update)
    assert [(r.method, r.text) for r in second] == [("sendMessage", "pong")]
    assert await marks(sessionmaker, update["update_id"]) == 1
    assert await ping_chat.feed(update) == []
