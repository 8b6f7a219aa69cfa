"""A handler that fails: the person is told kindly in their own language, a pending button
press is answered, what they entered (FSM state and data) is kept, and nothing leaks."""

from __future__ import annotations

import logging

import pytest
from aiogram import F, Router
from aiogram.filters import Command
from aiogram.fsm.context import FSMContext
from aiogram.fsm.state import State, StatesGroup
from aiogram.fsm.storage.base import StorageKey
from aiogram.types import CallbackQuery, Message
from sqlalchemy import select

from models import ProcessedUpdate, load_or_create_user
from tests.chat import Chat, Person
from tests.recording import BOT_ID

# These tests make handlers fail on purpose.
pytestmark = pytest.mark.handler_errors_expected

SORRY = {
    "zh_Hans": "抱歉，我们这边出了点问题。您填写的内容都还在，请再试一次。",
    "zh_Hant": "抱歉，我們這邊出了點問題。您填寫的內容都還在，請再試一次。",
    "en": "Sorry, something went wrong on our side. What you entered is kept — please try again.",
}


class Form(StatesGroup):
    name = State()
    phone = State()


def failing_router() -> Router:
    router = Router(name="tests.failing")

    @router.message(Command("boom"))
    async def cmd_boom(message: Message) -> None:
        raise RuntimeError("the database fell over")

    @router.message(Form.name)
    async def name_chosen(message: Message, state: FSMContext) -> None:
        if message.text == "half":
            # the step is half applied when it fails: none of it may stick
            await state.update_data(name=message.text)
            await state.set_state(Form.phone)
        raise RuntimeError("a bug half-way through a form")

    @router.callback_query(F.data == "boom")
    async def boom_pressed(query: CallbackQuery) -> None:
        raise RuntimeError("a bug behind a button")

    return router


@pytest.fixture
def failing_chat(chat: Chat) -> Chat:
    """The production dispatcher with a failing router placed first (before any fallback)."""
    router = failing_router()
    chat.dispatcher.include_router(router)
    chat.dispatcher.sub_routers.remove(router)
    chat.dispatcher.sub_routers.insert(0, router)
    return chat


@pytest.mark.parametrize(
    ("language_code", "locale"),
    [("zh-hans", "zh_Hans"), ("zh-hant", "zh_Hant"), ("en", "en"), (None, "zh_Hans")],
)
async def test_failure_is_told_kindly_in_the_users_language(
    failing_chat: Chat, language_code: str | None, locale: str, caplog: pytest.LogCaptureFixture
) -> None:
    person = Person(id=6101, first_name="李", language_code=language_code)
    with caplog.at_level(logging.ERROR, logger="handlers.errors"):
        sent = await failing_chat.send(person, "/boom")
    assert [(r.method, r.text) for r in sent] == [("sendMessage", SORRY[locale])]
    assert sent[0].chat_id == person.id
    assert "RuntimeError" in caplog.text and "6101" in caplog.text and "message" in caplog.text


async def test_stored_language_wins_over_telegram_language(
    failing_chat: Chat, sessionmaker
) -> None:
    person = Person(id=6102, first_name="Anna", language_code="zh-hans")
    async with sessionmaker() as other:
        user = await load_or_create_user(other, person.id, display_name="Anna")
        user.language = "en"
        await other.commit()
    sent = await failing_chat.send(person, "/boom")
    assert [r.text for r in sent] == [SORRY["en"]]


async def test_what_was_entered_is_kept_after_a_failure(failing_chat: Chat) -> None:
    """Half-way through a form (state and data from earlier steps), a step fails: the person
    is told, and the state and data are still there for their next try."""
    person = Person(id=6103, first_name="张")
    key = StorageKey(bot_id=BOT_ID, chat_id=person.id, user_id=person.id)
    storage = failing_chat.dispatcher.storage
    await storage.set_state(key, Form.name)
    await storage.set_data(key, {"grid": "东区", "phone": "13800000000"})
    sent = await failing_chat.send(person, "王秀英")
    assert [r.text for r in sent] == [SORRY["zh_Hans"]]
    assert await storage.get_state(key) == Form.name.state
    assert await storage.get_data(key) == {"grid": "东区", "phone": "13800000000"}


async def test_a_failing_button_press_is_answered(failing_chat: Chat) -> None:
    person = Person(id=6104, first_name="赵", language_code="zh-hant")
    sent = await failing_chat.press(person, "boom", message_id=77)
    assert [r.method for r in sent] == ["answerCallbackQuery", "sendMessage"]
    assert sent[1].text == SORRY["zh_Hant"]


async def test_the_error_handler_never_raises_even_when_telegram_fails(
    failing_chat: Chat, caplog: pytest.LogCaptureFixture
) -> None:
    person = Person(id=6105, first_name="钱")
    failing_chat.session.queue_error(403, "Forbidden: bot was blocked by the user")
    with caplog.at_level(logging.WARNING, logger="handlers.errors"):
        sent = await failing_chat.send(person, "/boom")  # must not raise
    assert [r.method for r in sent] == ["sendMessage"]
    assert "could not tell user 6105" in caplog.text


async def test_a_failed_update_is_not_marked_processed(failing_chat: Chat, session) -> None:
    person = Person(id=6106, first_name="孙")
    update = failing_chat.message_update(
        person, text="/boom", entities=[{"type": "bot_command", "offset": 0, "length": 5}]
    )
    await failing_chat.feed(update)
    marks = await session.scalars(
        select(ProcessedUpdate).where(ProcessedUpdate.update_id == update["update_id"])
    )
    assert marks.all() == []


async def test_a_step_that_fails_half_way_leaves_the_form_as_it_was(failing_chat: Chat) -> None:
    person = Person(id=6107, first_name="李")
    key = StorageKey(bot_id=BOT_ID, chat_id=person.id, user_id=person.id)
    storage = failing_chat.dispatcher.storage
    await storage.set_state(key, Form.name)
    await storage.set_data(key, {"grid": "东区"})
    sent = await failing_chat.send(person, "half")
    assert [r.text for r in sent] == [SORRY["zh_Hans"]]
    assert await storage.get_state(key) == Form.name.state
    assert await storage.get_data(key) == {"grid": "东区"}
