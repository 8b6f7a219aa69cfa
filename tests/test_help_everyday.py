"""❓ Help names the buttons to tap (🏠, 🌐), not commands to type, and gives the office's phone
number (OFFICE_PHONE) for those who would rather call."""

from __future__ import annotations

import pytest

from bot.config import Settings
from tests.chat import Chat, Person
from tests.conftest import TEST_TOKEN
from tests.test_onboarding_retiree import only_message

OFFICE_PHONE = "010-6512 3456"


@pytest.fixture
def settings(database_url: str) -> Settings:
    return Settings(
        _env_file=None,  # type: ignore[call-arg]
        bot_token=TEST_TOKEN,
        database_url=database_url,
        admin_ids=[900001],
        throttle_seconds=0,
        office_phone=OFFICE_PHONE,
    )


async def test_help_names_the_buttons_and_the_phone(chat: Chat) -> None:
    admin = Person(id=900001, first_name="Admin")  # zh-hans: registered at /start
    await chat.send(admin, "/start")
    sent = await chat.send(admin, "❓ 帮助")
    text = only_message(sent).text
    assert "🏠 返回主菜单" in text and "🌐 语言" in text
    assert "/cancel" not in text and "/language" not in text and "/invite" not in text
    assert OFFICE_PHONE in text


async def test_help_before_registering_gives_the_phone_too(chat: Chat) -> None:
    person = Person(id=62001, first_name="Lin", language_code="en")
    await chat.send(person, "/start")
    sent = await chat.send(person, "/help")
    text = only_message(sent).text
    assert "▶️ Start" in text and OFFICE_PHONE in text
    assert "Who are you?" in text  # the question goes on


def test_office_phone_is_an_office_setting() -> None:
    settings = Settings(_env_file=None, office_phone=" 010-1234 5678 ")  # type: ignore[call-arg]
    assert settings.office().phone == "010-1234 5678"
    assert Settings(_env_file=None).office().phone is None  # type: ignore[call-arg]
