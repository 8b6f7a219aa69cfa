"""Family members: onboarding, finding the relative, approval by the retiree or by staff."""

from __future__ import annotations

from datetime import date

import pytest
from aiogram.utils.i18n import I18n
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from handlers import notification_renderers
from models.base import utcnow
from models.outbox import OutboxMessage
from models.users import FamilyLink, Grid, LinkStatus, Relation, RetireeProfile, Role, User
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
render = notification_renderers().render


MOTHER = Person(id=20001, first_name="Mother", language_code="zh-hans")
SON = Person(id=20002, first_name="Jun")
STRANGER = Person(id=20003, first_name="Stranger", language_code="en")


async def add_retiree(
    session: AsyncSession,
    *,
    telegram_id: int | None,
    name: str = "李桂兰",
    phone: str = "13900002222",
    grid: Grid | None = None,
    language: str = "zh_Hans",
) -> RetireeProfile:
    user = None
    if telegram_id is not None:
        user = User(
            telegram_id=telegram_id,
            display_name="Mother",
            language=language,
            role=Role.RETIREE,
            onboarded_at=utcnow(),
        )
        session.add(user)
        await session.flush()
    profile = RetireeProfile(
        full_name=name,
        phone=phone,
        birthday=date(1944, 1, 1),
        user_id=user.id if user else None,
        grid_id=grid.id if grid else None,
    )
    session.add(profile)
    await session.commit()
    return profile


async def outbox(session: AsyncSession, kind: str) -> list[OutboxMessage]:
    rows = list(await session.scalars(select(OutboxMessage).where(OutboxMessage.kind == kind)))
    await session.commit()
    return rows


async def family_asks(chat: Chat, person: Person, locale: str, *, phone: str, name: str) -> str:
    await choose_language(chat, person, locale)
    t = lambda msgid: tr(chat.i18n_for_tests, locale, msgid)  # noqa: E731
    sent = await chat.send(person, "👨‍👩‍👧 " + t("I am a family member"))
    relation_question = only_message(sent)
    assert relation_question.button_texts()[0] == t("Son")
    sent = await chat.send(person, t("Son"))
    gender_question = only_message(sent)
    assert gender_question.button_texts()[:2] == [t("Mother"), t("Father")]
    await chat.send(person, t("Mother"))
    sent = await chat.send(person, phone)
    assert only_message(sent).text == t("What is your relative's full name? Please type it.")
    sent = await chat.send(person, name)
    return only_message(sent).text


@pytest.fixture
def family_chat(chat: Chat, i18n: I18n) -> Chat:
    chat.i18n_for_tests = i18n  # type: ignore[attr-defined]
    return chat


@pytest.mark.parametrize("locale", ["zh_Hans", "zh_Hant", "en"])
async def test_family_member_links_and_retiree_approves(
    family_chat: Chat, session: AsyncSession, i18n: I18n, locale: str
) -> None:
    chat = family_chat
    profile = await add_retiree(session, telegram_id=MOTHER.id)
    son = Person(id=SON.id, first_name="Jun", language_code=LANGUAGE_CODE[locale])
    answer = await family_asks(chat, son, locale, phone="139 0000 2222", name="李桂兰")
    assert answer == tr(
        i18n, locale, "Thank you! I asked {name} to approve the link. I will tell you the answer."
    ).format(name="李桂兰")

    family_user = await load_user(session, son.id)
    assert family_user.role == Role.FAMILY and family_user.is_onboarded
    link = await session.scalar(select(FamilyLink))
    assert link is not None and link.status == LinkStatus.PENDING
    assert link.relation == Relation.SON and link.retiree_female is True
    assert link.relation_note is None and link.profile_id == profile.id
    await session.commit()

    [ask] = await outbox(session, "family.link_request")
    assert ask.chat_id == MOTHER.id
    rendered = render(ask.kind, ask.params, "zh_Hans", i18n)
    assert "Jun" in rendered.text and "同意吗" in rendered.text
    assert rendered.reply_markup is not None
    buttons = [b for row in rendered.reply_markup.inline_keyboard for b in row]
    approve = next(b.callback_data for b in buttons if "同意" == b.text[2:])
    assert approve is not None

    # someone else presses the retiree's button: refused, nothing changes
    sent = await chat.press(STRANGER, approve)
    assert sent[0].method == "answerCallbackQuery" and sent[0].params["show_alert"] is True
    assert "only the person who was asked" in sent[0].params["text"]
    # a forged link id
    sent = await chat.press(MOTHER, "fl:ok:999999")
    assert sent[0].params["text"] == "这个申请已经不存在了。"

    sent = await chat.press(MOTHER, approve)
    assert [r.method for r in sent] == ["answerCallbackQuery", "editMessageText"]
    assert "您已同意和 Jun 关联" in sent[1].text
    session.expire_all()
    link = await session.scalar(select(FamilyLink))
    assert link is not None and link.status == LinkStatus.APPROVED
    await session.commit()
    # a double tap: already answered
    sent = await chat.press(MOTHER, approve)
    assert sent[0].params["text"] == "这个申请已经处理过了。"

    [told] = await outbox(session, "family.link_decided")
    assert told.chat_id == son.id and told.params["approved"] is True
    rendered = render(told.kind, told.params, locale, i18n)
    assert "李桂兰" in rendered.text

    sent = await chat.send(son, "👨‍👩‍👧 " + tr(i18n, locale, "My family"))
    view = only_message(sent)
    assert "李桂兰" in view.text and tr(i18n, locale, "linked") in view.text
    add = view.callback_data(tr(i18n, locale, "Add a relative"))
    sent = await chat.press(son, add)
    assert [r.method for r in sent].count("answerCallbackQuery") == 1
    assert tr(i18n, locale, "Let's add a relative.") in only_message(sent).text


async def test_retiree_declines(family_chat: Chat, session: AsyncSession, i18n: I18n) -> None:
    await add_retiree(session, telegram_id=MOTHER.id)
    await family_asks(family_chat, SON, "zh_Hans", phone="13900002222", name="李桂兰")
    [ask] = await outbox(session, "family.link_request")
    decline = f"fl:no:{ask.params['link_id']}"
    sent = await family_chat.press(MOTHER, decline)
    assert "您没有同意" in sent[1].text
    [told] = await outbox(session, "family.link_decided")
    assert told.params["approved"] is False
    assert "没有通过" in render(told.kind, told.params, "zh_Hans", i18n).text


async def test_relative_without_account_goes_to_grid_staff(
    family_chat: Chat, session: AsyncSession, i18n: I18n
) -> None:
    caseworker = User(
        telegram_id=20010, display_name="Case", role=Role.STAFF, onboarded_at=utcnow()
    )
    session.add(caseworker)
    await session.flush()
    grid = Grid(name="东区", staff_user_id=caseworker.id)
    session.add(grid)
    await session.flush()
    await add_retiree(session, telegram_id=None, grid=grid)
    answer = await family_asks(family_chat, SON, "zh_Hans", phone="13900002222", name="李 桂兰")
    assert "服务站会核实" in answer
    [ask] = await outbox(session, "family.link_request_staff")
    assert ask.chat_id == 20010
    text = render(ask.kind, ask.params, "en", i18n).text
    assert "has no Telegram account" in text
    sent = await family_chat.press(
        Person(id=20010, first_name="Case"), f"fl:ok:{ask.params['link_id']}"
    )
    assert sent[-1].method == "editMessageText"
    link = await session.scalar(select(FamilyLink))
    assert link is not None and link.status == LinkStatus.APPROVED


async def test_no_grid_staff_asks_the_admins(family_chat: Chat, session: AsyncSession) -> None:
    admin = User(telegram_id=900001, display_name="Admin", role=Role.ADMIN, onboarded_at=utcnow())
    session.add(admin)
    await add_retiree(session, telegram_id=None)
    await family_asks(family_chat, SON, "en", phone="13900002222", name="李桂兰")
    [ask] = await outbox(session, "family.link_request_staff")
    assert ask.chat_id == 900001


async def test_relative_not_found_keeps_the_form(family_chat: Chat, session: AsyncSession) -> None:
    await add_retiree(session, telegram_id=MOTHER.id)
    answer = await family_asks(family_chat, SON, "en", phone="13900002222", name="Somebody Else")
    assert "could not find Somebody Else" in answer and "ask the office" in answer
    assert await session.scalar(select(FamilyLink)) is None
    await session.commit()
    # still in the form: the phone and name can be typed again, the relation is kept
    await family_chat.send(SON, "13900002222")
    sent = await family_chat.send(SON, "李桂兰")
    assert "I asked 李桂兰" in only_message(sent).text
    link = await session.scalar(select(FamilyLink))
    assert link is not None and link.relation == Relation.SON


async def test_family_form_bad_input(family_chat: Chat, session: AsyncSession) -> None:
    await choose_language(family_chat, SON, "en")
    await family_chat.send(SON, "👨‍👩‍👧 I am a family member")
    sent = await family_chat.send(SON, "a very long relation description indeed")
    assert "too long" in only_message(sent).text
    sent = await family_chat.send_sticker(SON)
    assert "How are you related" in only_message(sent).text
    sent = await family_chat.send(SON, "Nephew")
    assert "phone number" in only_message(sent).text
    sent = await family_chat.send(SON, "123")
    assert "does not look like a phone number" in only_message(sent).text
    sent = await family_chat.send(SON, "/whatever")
    assert "don't know that command" in only_message(sent).text
    await family_chat.send(SON, "13900002222")
    sent = await family_chat.send_voice(SON)
    assert "relative's full name" in only_message(sent).text


async def test_retiree_is_asked_again_on_start(family_chat: Chat, session: AsyncSession) -> None:
    await add_retiree(session, telegram_id=MOTHER.id)
    await family_asks(family_chat, SON, "en", phone="13900002222", name="李桂兰")
    sent = await family_chat.send(MOTHER, "/start")
    welcome, again = (r for r in sent if r.method == "sendMessage")
    assert "欢迎回来" in welcome.text
    assert "Jun" in again.text and "同意吗" in again.text
    approve = again.callback_data("同意")
    sent = await family_chat.press(MOTHER, approve)
    assert sent[-1].method == "editMessageText"


async def test_a_menu_button_pressed_in_the_form_leaves_it(
    family_chat: Chat, session: AsyncSession
) -> None:
    from models.runtime import FsmRecord

    await add_retiree(session, telegram_id=MOTHER.id)
    await family_asks(family_chat, SON, "en", phone="13900002222", name="李桂兰")
    sent = await family_chat.send(SON, "👨‍👩‍👧 My family")
    sent = await family_chat.press(SON, only_message(sent).callback_data("Add a relative"))
    assert "How are you related" in only_message(sent).text
    sent = await family_chat.send(SON, "👨‍👩‍👧 My family")  # not taken as the relation
    assert "Your relatives:" in only_message(sent).text
    assert await session.scalar(select(FsmRecord.state)) is None
