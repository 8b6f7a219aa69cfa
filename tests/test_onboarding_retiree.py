"""Onboarding walked as a retiree, in all three languages, and every bad input on the way."""

from __future__ import annotations

from datetime import date

import pytest
from aiogram import Dispatcher
from aiogram.utils.i18n import I18n
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.config import Settings
from bot.factory import create_dispatcher
from bot.fsm_storage import SQLStorage
from models.runtime import FsmRecord
from models.users import Grid, RetireeProfile, Role, User
from tests.chat import Chat, Person, last_message
from tests.recording import Request

LANGUAGE_BUTTON = {"zh_Hans": "简体中文", "zh_Hant": "繁體中文", "en": "English"}
LANGUAGE_CODE = {"zh_Hans": "zh-hans", "zh_Hant": "zh-hant", "en": "en"}


# Both databases: FSM writes go through the update's own session (bot/fsm_storage.py), so on
# SQLite they no longer wait for the update's write lock (docs/architecture.md, Transactions).
DATABASES = ["sqlite", "postgres"]


@pytest.fixture(params=DATABASES)
def conversation_database_url(request: pytest.FixtureRequest) -> str:
    """Conversation tests: PostgreSQL, and SQLite when its FSM writes are safe."""
    name = "sqlite_database_url" if request.param == "sqlite" else "pg_database_url"
    return str(request.getfixturevalue(name))


database_url = conversation_database_url


def tr(i18n: I18n, locale: str, msgid: str) -> str:
    """The translation the user must see; also proves the catalog has it."""
    text = i18n.gettext(msgid, locale=locale)
    if locale != "en":
        assert text != msgid, f"{msgid!r} is not translated to {locale}"
    return text


def fresh_dispatcher(
    settings: Settings, sessionmaker: async_sessionmaker[AsyncSession], i18n: I18n, old: Dispatcher
) -> Dispatcher:
    """A second process's dispatcher on the same database; the first one is dropped."""
    old.sub_routers.clear()
    return create_dispatcher(settings, sessionmaker, storage=SQLStorage(sessionmaker), i18n=i18n)


async def add_grids(session: AsyncSession) -> list[Grid]:
    grids = [Grid(name="东区", sort_order=1), Grid(name="西区", sort_order=2)]
    session.add_all(grids)
    await session.commit()
    return grids


async def load_user(session: AsyncSession, telegram_id: int) -> User:
    session.expire_all()
    user = await session.scalar(select(User).where(User.telegram_id == telegram_id))
    assert user is not None
    await session.refresh(user)
    await session.commit()  # end the read: on SQLite an open transaction holds the write lock
    return user


def only_message(sent: list[Request]) -> Request:
    messages = [r for r in sent if r.method == "sendMessage"]
    assert len(messages) == 1, sent
    return messages[0]


async def choose_language(chat: Chat, person: Person, locale: str) -> list[Request]:
    """/start, then a tap on the language: on the picker (Telegram did not tell the
    language), or on the row the role question offers (it did)."""
    sent = await chat.send(person, "/start")
    question = only_message(sent)
    if person.language_code is None:
        assert question.button_texts()[:3] == ["简体中文", "繁體中文", "English"]
    return await chat.send(person, LANGUAGE_BUTTON[locale])


@pytest.mark.parametrize("locale", ["zh_Hans", "zh_Hant", "en"])
async def test_retiree_walks_through_onboarding(
    chat: Chat, session: AsyncSession, i18n: I18n, locale: str
) -> None:
    await add_grids(session)
    person = Person(id=10001, first_name="Xiuying", language_code=LANGUAGE_CODE[locale])
    t = lambda msgid: tr(i18n, locale, msgid)  # noqa: E731

    sent = await choose_language(chat, person, locale)
    role_question = only_message(sent)
    assert t("I am a retiree") in role_question.button_texts()[0]
    assert t("I am a family member") in role_question.button_texts()[1]
    assert t("I work at the service office") in role_question.button_texts()[2]
    assert role_question.button_texts()[-1] == "🏠 " + t("Back to menu")

    sent = await chat.send(person, role_question.button_texts()[0])
    assert t("What is your full name? Please type it.") in only_message(sent).text

    sent = await chat.send(person, "王秀英")
    phone_question = only_message(sent)
    assert phone_question.text == t(
        "What is your phone number? Tap “Share my phone number” below, or type it "
        "(for example 138 1234 5678)."
    )
    share = phone_question.reply_button(t("Share my phone number"))
    assert share["request_contact"] is True

    sent = await chat.share_contact(person, "+86 138 1234 5678")
    assert only_message(sent).text == t(
        "When is your birthday? Type it as you like (for example 1948年3月15日 or 48年3月15号), "
        "or tap the years you were born in below."
    )

    sent = await chat.send(person, "1940年3月15日")
    calendar = only_message(sent)
    assert calendar.button_texts()[:2] == [
        "☀️ " + t("Solar calendar (Gregorian)"),
        "🌙 " + t("Lunar calendar"),
    ]

    sent = await chat.send(person, calendar.button_texts()[1])
    grid_question = only_message(sent)
    assert grid_question.button_texts()[:2] == ["东区", "西区"]

    sent = await chat.send(person, "西区")
    assert only_message(sent).text == t(
        "What is your home address? Staff need it when they visit or come to repair something "
        "(for example 东区3号楼2单元301)."
    )
    sent = await chat.send(person, "西区5号楼1单元102")
    summary = only_message(sent)
    assert "西区5号楼1单元102" in summary.text
    assert "王秀英" in summary.text and "13812345678" in summary.text
    assert "1940-03-15" in summary.text and t("lunar calendar") in summary.text
    assert "西区" in summary.text
    assert summary.button_texts()[0] == "✅ " + t("Yes, that is correct")

    sent = await chat.send(person, summary.button_texts()[0])
    done = only_message(sent)
    assert done.text == t(
        "Thank you, you are registered! Tap a button below whenever you need something."
    )
    assert "🌐 " + t("Language") in done.button_texts()
    assert "❓ " + t("Help") in done.button_texts()

    user = await load_user(session, person.id)
    assert user.role == Role.RETIREE and user.language == locale
    assert user.onboarded_at is not None
    profile = await session.scalar(select(RetireeProfile).where(RetireeProfile.user_id == user.id))
    assert profile is not None
    assert profile.full_name == "王秀英" and profile.phone == "13812345678"
    assert profile.birthday == date(1940, 3, 15) and profile.birthday_is_lunar
    assert profile.over_80 is True
    assert profile.grid is not None and profile.grid.name == "西区"
    assert profile.address == "西区5号楼1单元102"
    assert await session.scalar(select(FsmRecord.state)) is None


async def test_typed_phone_and_change_step(chat: Chat, session: AsyncSession) -> None:
    person = Person(id=10002, first_name="Li", language_code="en")
    await choose_language(chat, person, "en")
    await chat.send(person, "👴 I am a retiree")
    await chat.send(person, "Li Ming")
    sent = await chat.send(person, "+86 139-0000-1111")
    assert "birthday" in only_message(sent).text
    await chat.send(person, "1960.1.2")
    sent = await chat.send(person, "☀️ Solar calendar (Gregorian)")
    assert "home address" in only_message(sent).text  # no grids: no community question
    sent = await chat.send(person, "12 Garden Road, flat 3")
    summary = only_message(sent)
    assert "13900001111" in summary.text and "1960-01-02 (solar calendar)" in summary.text

    sent = await chat.send(person, "✏️ Change something")
    assert only_message(sent).button_texts()[:3] == ["Name", "Phone", "Birthday"]
    sent = await chat.send(person, "Name")
    assert "full name" in only_message(sent).text
    sent = await chat.send(person, "Li Hua")
    summary = only_message(sent)
    assert "Li Hua" in summary.text and "13900001111" in summary.text
    await chat.send(person, "✅ Yes, that is correct")
    user = await load_user(session, person.id)
    assert user.profile is not None and user.profile.full_name == "Li Hua"
    assert user.profile.over_80 is False and user.profile.grid_id is None


async def test_claims_the_profile_staff_entered(chat: Chat, session: AsyncSession) -> None:
    staff_entered = RetireeProfile(full_name="张建国", phone="138-1234-5678", lives_alone=True)
    session.add(staff_entered)
    await session.commit()
    person = Person(id=10003, first_name="Zhang")
    await choose_language(chat, person, "zh_Hans")
    await chat.send(person, "👴 我是退休老人")
    await chat.send(person, "张建国")
    await chat.send(person, "13812345678")
    await chat.send(person, "1950-05-05")
    await chat.send(person, "☀️ 公历（阳历）")
    await chat.send(person, "东区3号楼2单元301")
    sent = await chat.send(person, "✅ 对，没问题")
    assert "服务站已有您的资料" in only_message(sent).text
    profiles = list(await session.scalars(select(RetireeProfile)))
    assert len(profiles) == 1
    await session.refresh(profiles[0])
    user = await load_user(session, person.id)
    assert profiles[0].user_id == user.id and profiles[0].lives_alone


async def test_bad_input_at_each_step_keeps_state(chat: Chat, session: AsyncSession) -> None:
    await add_grids(session)
    person = Person(id=10004, first_name="Wang", language_code=None)
    other = Person(id=10005, first_name="Other", language_code="en")

    sent = await chat.send(person, "/start")
    sent = await chat.send(person, "Deutsch")
    assert "Please choose your language." in only_message(sent).text
    await chat.send(person, "English")

    sent = await chat.send_sticker(person)
    assert "Who are you?" in only_message(sent).text

    await chat.send(person, "👴 I am a retiree")
    # name: too long, digits only, a sticker, an unknown command, a forged button
    sent = await chat.send(person, "x" * 31)
    assert "too long" in only_message(sent).text
    sent = await chat.send(person, "12345")
    assert "full name" in only_message(sent).text
    sent = await chat.send_voice(person)
    assert "only read typed text" in only_message(sent).text
    sent = await chat.send(person, "/frobnicate")
    assert "don't know that command" in only_message(sent).text
    assert "full name" in only_message(sent).text
    sent = await chat.press(person, "fl:ok:999")
    assert sent[0].method == "answerCallbackQuery"
    sent = await chat.press(person, "garbage")
    assert sent[0].method == "answerCallbackQuery"
    sent = await chat.send(person, "Wang Fang")
    assert "phone number" in only_message(sent).text

    # phone: someone else's contact, an invalid number, a photo
    contact = {"phone_number": "+8613812345678", "first_name": "O", "user_id": other.id}
    sent = await chat.send(person, contact=contact)
    assert "someone else's contact" in only_message(sent).text
    sent = await chat.send(person, "12345")
    assert "does not look like a phone number" in only_message(sent).text
    sent = await chat.send_photo(person)
    assert "phone number" in only_message(sent).text
    sent = await chat.send(person, "010-6512 3456")  # a Beijing landline
    assert "birthday" in only_message(sent).text

    # birthday: impossible dates, too young, unreadable
    for bad in ("1948-02-30", "2020-01-01", "1800-01-01", "last spring"):
        sent = await chat.send(person, bad)
        assert "not a possible birthday" in only_message(sent).text, bad
    sent = await chat.send(person, "1948-02-29")  # a leap day is fine
    assert "solar or by the lunar" in only_message(sent).text

    sent = await chat.send(person, "maybe")
    assert "solar or by the lunar" in only_message(sent).text
    await chat.send(person, "☀️ Solar calendar (Gregorian)")
    sent = await chat.send(person, "北区")
    grid_question = only_message(sent)
    assert "community" in grid_question.text and "东区" in grid_question.button_texts()
    await chat.send(person, "东区")
    sent = await chat.send(person, "x")
    assert "at least 4 characters" in only_message(sent).text
    await chat.send(person, "东区3号楼2单元301")
    sent = await chat.send(person, "ok")
    assert "Is everything correct?" in only_message(sent).text

    user = await load_user(session, person.id)
    assert user.onboarded_at is None  # nothing stored until confirmed
    sent = await chat.send(person, "✅ Yes, that is correct")
    assert "registered" in only_message(sent).text
    # a double tap on the confirm button: kind answer, still one profile
    sent = await chat.send(person, "✅ Yes, that is correct")
    assert "already registered" in only_message(sent).text
    assert len(list(await session.scalars(select(RetireeProfile)))) == 1
    await session.commit()
    profile = (await load_user(session, person.id)).profile
    assert profile is not None and profile.phone == "01065123456"
    assert profile.birthday == date(1948, 2, 29)


async def test_cancel_leaves_the_form(chat: Chat, session: AsyncSession) -> None:
    person = Person(id=10006, first_name="Zhao", language_code="en")
    await choose_language(chat, person, "en")
    await chat.send(person, "👴 I am a retiree")
    sent = await chat.send(person, "/cancel")
    answer = only_message(sent)
    assert "Stopped" in answer.text and answer.button_texts() == ["▶️ Start"]
    assert await session.scalar(select(FsmRecord.state)) is None
    await session.commit()
    sent = await chat.send(person, "▶️ Start")
    assert "Please choose your language." in only_message(sent).text


async def test_form_survives_a_restart(
    chat: Chat,
    session: AsyncSession,
    settings: Settings,
    sessionmaker: async_sessionmaker[AsyncSession],
    i18n: I18n,
) -> None:
    person = Person(id=10007, first_name="Sun", language_code="en")
    await choose_language(chat, person, "en")
    await chat.send(person, "👴 I am a retiree")
    await chat.send(person, "Sun Li")
    await chat.send(person, "13700001111")

    chat.dispatcher = fresh_dispatcher(settings, sessionmaker, i18n, chat.dispatcher)
    await chat.send(person, "1945-07-01")
    await chat.send(person, "🌙 Lunar calendar")
    await chat.send(person, "3 Garden Road")
    sent = await chat.send(person, "✅ Yes, that is correct")
    assert "registered" in last_message(sent).text
    user = await load_user(session, person.id)
    assert user.profile is not None
    assert (user.profile.full_name, user.profile.phone) == ("Sun Li", "13700001111")


async def test_returning_user_goes_to_menu_and_becomes_reachable(
    chat: Chat, session: AsyncSession
) -> None:
    person = Person(id=10008, first_name="Qian", language_code="en")
    await choose_language(chat, person, "en")
    await chat.send(person, "👴 I am a retiree")
    await chat.send(person, "Qian Yu")
    await chat.send(person, "13700002222")
    await chat.send(person, "1945-07-01")
    await chat.send(person, "🌙 Lunar calendar")
    await chat.send(person, "3 Garden Road")
    await chat.send(person, "✅ Yes, that is correct")
    user = await load_user(session, person.id)
    user.reachable = False
    await session.commit()

    sent = await chat.send(person, "/start")
    answer = only_message(sent)
    assert "Welcome back" in answer.text and "❓ Help" in answer.button_texts()
    assert (await load_user(session, person.id)).reachable is True


async def test_bootstrap_admin_only_chooses_a_language(chat: Chat, session: AsyncSession) -> None:
    admin = Person(id=900001, first_name="Admin", language_code=None)
    sent = await choose_language(chat, admin, "zh_Hant")
    answer = only_message(sent)
    assert "管理員" in answer.text
    assert any("邀請" in b for b in answer.button_texts())
    user = await load_user(session, admin.id)
    assert user.role == Role.ADMIN and user.language == "zh_Hant" and user.is_onboarded


async def test_a_new_birthday_asks_its_calendar_then_the_review(
    chat: Chat, session: AsyncSession
) -> None:
    await add_grids(session)
    person = Person(id=10009, first_name="Zheng", language_code="en")
    await choose_language(chat, person, "en")
    await chat.send(person, "👴 I am a retiree")
    await chat.send(person, "Zheng Hui")
    await chat.send(person, "13700003333")
    await chat.send(person, "1950-01-01")
    await chat.send(person, "☀️ Solar calendar (Gregorian)")
    await chat.send(person, "东区")
    await chat.send(person, "东区3号楼2单元301")
    sent = await chat.send(person, "✏️ Change something")
    assert only_message(sent).button_texts()[:4] == ["Name", "Phone", "Birthday", "Community"]
    sent = await chat.send(person, "Birthday")
    assert "When is your birthday?" in only_message(sent).text
    sent = await chat.send(person, "1951-02-03")
    assert "solar or by the lunar" in only_message(sent).text  # the calendar again
    sent = await chat.send(person, "🌙 Lunar calendar")
    summary = only_message(sent)  # straight back to the review, the community kept
    assert "1951-02-03 (lunar calendar)" in summary.text and "东区" in summary.text
    # a label of another language still picks the field; a wrong one asks again
    sent = await chat.send(person, "✏️ Change something")
    sent = await chat.send(person, "Nothing")
    assert "What would you like to change?" in only_message(sent).text
    sent = await chat.send(person, "社区")
    assert "Which community" in only_message(sent).text
    sent = await chat.send(person, "西区")
    assert "西区" in only_message(sent).text and "Is everything correct?" in sent[0].text
    await chat.send(person, "✅ Yes, that is correct")
    user = await load_user(session, person.id)
    assert user.profile is not None and user.profile.birthday == date(1951, 2, 3)
    assert user.profile.birthday_is_lunar and user.profile.grid is not None
    assert user.profile.grid.name == "西区"


async def test_language_at_the_review_and_the_change_question(
    chat: Chat, session: AsyncSession
) -> None:
    person = Person(id=10010, first_name="Feng", language_code="en")
    await choose_language(chat, person, "en")
    await chat.send(person, "👴 I am a retiree")
    await chat.send(person, "Feng Lan")
    await chat.send(person, "13700004444")
    await chat.send(person, "1950-01-01")
    await chat.send(person, "☀️ Solar calendar (Gregorian)")
    await chat.send(person, "3 Garden Road")
    await chat.send(person, "/language")
    sent = await chat.send(person, "简体中文")
    done, review = (r for r in sent if r.method == "sendMessage")
    assert done.text == "好的，以后我就用简体中文和您说话。"
    assert "Feng Lan" in review.text and "13700004444" in review.text
    assert review.button_texts()[:2] == ["✅ 对，没问题", "✏️ 我要修改"]
    sent = await chat.send(person, "✏️ 我要修改")
    await chat.send(person, "/language")
    sent = await chat.send(person, "English")
    question = [r for r in sent if r.method == "sendMessage"][-1]
    assert question.text == "What would you like to change? Please tap a button."
    assert question.button_texts()[:3] == ["Name", "Phone", "Birthday"]
    sent = await chat.send(person, "Phone")
    assert "phone number" in only_message(sent).text
    sent = await chat.send(person, "13700005555")
    assert "13700005555" in only_message(sent).text and "Feng Lan" in sent[0].text
