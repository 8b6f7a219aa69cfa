"""Staff onboarding with one-time invite codes created by an administrator."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from aiogram.utils.i18n import I18n
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from models.base import utcnow
from models.registration import RegistrationError, create_invite_code, redeem_invite_code
from models.users import InviteCode, Role, User
from tests.chat import Chat, Person
from tests.test_onboarding_retiree import (
    LANGUAGE_CODE,
    choose_language,
    conversation_database_url,
    load_user,
    only_message,
    tr,
)

database_url = conversation_database_url  # PostgreSQL, and SQLite once its FSM is safe


ADMIN = Person(id=900001, first_name="Admin", language_code="en")


async def admin_creates_code(chat: Chat, text: str = "/invite") -> str:
    await choose_language(chat, ADMIN, "en")
    sent = await chat.send(ADMIN, text)
    match = re.search(r": ([A-Z2-9]{8})\n", only_message(sent).text)
    assert match, sent
    return match.group(1)


@pytest.mark.parametrize("locale", ["zh_Hans", "zh_Hant", "en"])
async def test_staff_joins_with_an_invite_code(
    chat: Chat, session: AsyncSession, i18n: I18n, locale: str
) -> None:
    code = await admin_creates_code(chat)
    newcomer = Person(id=30001, first_name="Caseworker", language_code=LANGUAGE_CODE[locale])
    t = lambda msgid: tr(i18n, locale, msgid)  # noqa: E731
    await choose_language(chat, newcomer, locale)
    sent = await chat.send(newcomer, "🧑‍💼 " + t("I work at the service office"))
    assert (
        t("Please type the invite code you got from the administrator.") in only_message(sent).text
    )
    sent = await chat.send(newcomer, "WRONG123")
    assert only_message(sent).text == t(
        "I could not find this code. Please check it and type it again."
    )
    sent = await chat.send(newcomer, f" {code.lower()[:4]} {code.lower()[4:]} ")
    welcome = only_message(sent)
    assert welcome.text == t("Welcome to the team! Your staff account is ready.")
    assert "❓ " + t("Help") in welcome.button_texts()
    user = await load_user(session, newcomer.id)
    assert user.role == Role.STAFF and user.is_onboarded and user.language == locale
    invite = await session.scalar(select(InviteCode).where(InviteCode.code == code))
    assert invite is not None and invite.used_by_id == user.id
    await session.commit()

    # the same code a second time
    second = Person(id=30002, first_name="Late", language_code="en")
    await choose_language(chat, second, "en")
    await chat.send(second, "🧑‍💼 I work at the service office")
    sent = await chat.send(second, code)
    assert "already been used" in only_message(sent).text
    assert (await load_user(session, second.id)).role is None


async def test_expired_code_is_refused(chat: Chat, session: AsyncSession) -> None:
    admin = User(telegram_id=30100, display_name="A", role=Role.ADMIN, onboarded_at=utcnow())
    session.add(admin)
    await session.flush()
    invite = await create_invite_code(session, admin, now=utcnow() - timedelta(days=8))
    await session.commit()
    person = Person(id=30003, first_name="Slow", language_code="en")
    await choose_language(chat, person, "en")
    await chat.send(person, "🧑‍💼 I work at the service office")
    sent = await chat.send(person, invite.code)
    assert "expired" in only_message(sent).text
    sent = await chat.send_sticker(person)
    assert "invite code" in only_message(sent).text  # still asked for the code


async def test_only_admins_create_codes(chat: Chat, session: AsyncSession) -> None:
    person = Person(id=30004, first_name="Nosy", language_code="en")
    sent = await chat.send(person, "/invite")
    assert "only an administrator" in only_message(sent).text
    assert await session.scalar(select(InviteCode)) is None
    await session.commit()
    code = await admin_creates_code(chat, "🎟️ Invite a colleague")
    assert len(code) == 8
    sent = await chat.send(ADMIN, "/invite supervisor")
    assert "supervisor" in only_message(sent).text


async def test_redeem_is_once_only_in_the_domain(session: AsyncSession) -> None:
    admin = User(telegram_id=30200, display_name="A", role=Role.ADMIN)
    first = User(telegram_id=30201, display_name="B")
    second = User(telegram_id=30202, display_name="C")
    session.add_all([admin, first, second])
    await session.flush()
    with pytest.raises(RegistrationError):
        await create_invite_code(session, first)
    invite = await create_invite_code(session, admin, role=Role.SUPERVISOR)
    assert await redeem_invite_code(session, first, invite.code) == Role.SUPERVISOR
    with pytest.raises(RegistrationError) as error:
        await redeem_invite_code(session, second, invite.code)
    assert error.value.code == "used_code"
    assert second.role is None
