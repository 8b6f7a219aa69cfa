"""Activity content typed by staff in one Chinese script reaches each reader in theirs: a title,
place and description typed in Simplified reach a zh_Hant reader in Traditional (the catalogue,
the card, the sign-up confirmation, "My activities", the reminders the sender renders), one
typed in Traditional reaches a zh_Hans reader in Simplified, and an English reader sees the
original inside an English interface. The conversion is OpenCC's, not a table of ours."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from aiogram.utils.i18n import I18n
from sqlalchemy.ext.asyncio import AsyncSession

from bot.sender import OutboxSender
from handlers import notification_renderers
from handlers.script import for_reader, script_of, to_reader_script
from models.activities import scan, sign_up
from models.base import utcnow
from models.office import OfficeSettings
from tests.chat import Chat, Person, last_message
from tests.test_activities_helpers import make_activity, make_retiree, outbox_rows

SIMPLIFIED = {
    "title": "太极拳晨练",
    "place": "社区活动中心二楼",
    "description": "动作缓慢，请穿运动鞋",
    "suits": "腿脚不便的老人",
    "bring": "水杯和毛巾",
}
TRADITIONAL = {  # the same, as OpenCC writes it in Taiwan-standard characters
    "title": "太極拳晨練",
    "place": "社區活動中心二樓",
    "description": "動作緩慢，請穿運動鞋",
    "suits": "腿腳不便的老人",
    "bring": "水杯和毛巾",
}

HANT = Person(6101, "陳美玲", language_code="zh-hant")
HANS = Person(6102, "王秀英", language_code="zh-hans")
ANNA = Person(6103, "Anna", language_code="en")


# -- the helper --------------------------------------------------------------------------------


def test_script_of_a_locale() -> None:
    assert script_of("zh_Hant") == script_of("zh-TW") == script_of("zh-hk") == "zh_Hant"
    assert script_of("zh_Hans") == script_of("zh-CN") == script_of("zh") == "zh_Hans"
    assert script_of("en") is script_of(None) is script_of("") is None


def test_converts_both_ways_and_leaves_other_readers_the_original() -> None:
    for field, text in SIMPLIFIED.items():
        assert to_reader_script(text, "zh_Hant") == TRADITIONAL[field]
        assert to_reader_script(TRADITIONAL[field], "zh_Hans") == text
        # Already in the reader's script: unchanged.
        assert to_reader_script(text, "zh_Hans") == text
        assert to_reader_script(TRADITIONAL[field], "zh_Hant") == TRADITIONAL[field]
        assert to_reader_script(text, "en") == text
    # Characters only, no regional phrase swaps (社区 is not made 社群), Taiwan-standard forms
    # as in our zh_Hant catalog (裡, not 裏).
    assert to_reader_script("社区里面", "zh_Hant") == "社區裡面"
    assert to_reader_script("Tai chi 太极 at 9:00", "zh_Hant") == "Tai chi 太極 at 9:00"
    assert to_reader_script("", "zh_Hant") == ""
    assert to_reader_script(None, "zh_Hant") is None


def test_for_reader_follows_the_language_being_spoken(i18n: I18n) -> None:
    with i18n.context(), i18n.use_locale("zh_Hant"):
        assert for_reader("太极拳晨练") == "太極拳晨練"
    with i18n.context(), i18n.use_locale("zh_Hans"):
        assert for_reader("太極拳晨練") == "太极拳晨练"
    with i18n.context(), i18n.use_locale("en"):
        assert for_reader("太极拳晨练") == "太极拳晨练"


# -- through the real Dispatcher ---------------------------------------------------------------


async def test_simplified_title_reaches_a_traditional_reader_in_traditional(
    chat: Chat, session: AsyncSession, i18n: I18n
) -> None:
    await make_retiree(session, HANT.id, "陳美玲", language="zh_Hant")
    await make_activity(session, capacity=10, **SIMPLIFIED)
    await session.commit()

    def t(msgid: str) -> str:
        return i18n.gettext(msgid, locale="zh_Hant")

    listing = last_message(await chat.send(HANT, "🎨 " + t("Activities")))
    assert any(TRADITIONAL["title"] in label for label in listing.button_texts())
    assert not any(SIMPLIFIED["title"] in label for label in listing.button_texts())

    card = last_message(await chat.press(HANT, listing.callback_data(TRADITIONAL["title"])))
    for text in TRADITIONAL.values():
        assert text in card.text
    for field in ("title", "place", "description", "suits"):
        assert SIMPLIFIED[field] not in card.text

    confirmation = last_message(await chat.press(HANT, card.callback_data(t("Sign up"))))
    assert t("We will send a reminder before it starts.") in confirmation.text
    assert TRADITIONAL["title"] in confirmation.text and TRADITIONAL["place"] in confirmation.text
    assert SIMPLIFIED["title"] not in confirmation.text

    mine = last_message(await chat.send(HANT, "📅 " + t("My activities")))
    assert TRADITIONAL["title"] in mine.text and TRADITIONAL["place"] in mine.text
    assert any(TRADITIONAL["title"] in label for label in mine.button_texts())


async def test_traditional_title_reaches_a_simplified_reader_in_simplified(
    chat: Chat, session: AsyncSession
) -> None:
    await make_retiree(session, HANS.id, "王秀英")
    await make_activity(session, capacity=10, **TRADITIONAL)
    await session.commit()

    listing = last_message(await chat.send(HANS, "🎨 活动"))
    assert any(SIMPLIFIED["title"] in label for label in listing.button_texts())
    card = last_message(await chat.press(HANS, listing.callback_data(SIMPLIFIED["title"])))
    for text in SIMPLIFIED.values():
        assert text in card.text
    confirmation = last_message(await chat.press(HANS, card.callback_data("我要报名")))
    assert "您已报名“太极拳晨练”" in confirmation.text
    assert SIMPLIFIED["place"] in confirmation.text


async def test_an_english_reader_sees_the_original_in_an_english_interface(
    chat: Chat, session: AsyncSession
) -> None:
    await make_retiree(session, ANNA.id, "Anna", language="en")
    await make_activity(session, capacity=10, **SIMPLIFIED)
    await session.commit()

    listing = last_message(await chat.send(ANNA, "🎨 Activities"))
    label = next(b for b in listing.button_texts() if SIMPLIFIED["title"] in b)
    assert "places left" in label
    card = last_message(await chat.press(ANNA, listing.callback_data(SIMPLIFIED["title"])))
    assert SIMPLIFIED["place"] in card.text and SIMPLIFIED["description"] in card.text
    assert "Please bring: " + SIMPLIFIED["bring"] in card.text
    confirmation = last_message(await chat.press(ANNA, card.callback_data("Sign up")))
    assert f"You are signed up for “{SIMPLIFIED['title']}”" in confirmation.text


async def test_reminders_sent_by_the_sender_are_in_each_recipients_script(
    chat: Chat, session: AsyncSession, i18n: I18n, settings: Any, sessionmaker: Any
) -> None:
    """The scan queues one reminder per person with the title as typed; the sender renders it
    in each recipient's locale, so the script follows the reader, not the staff member."""
    now = utcnow()
    hant = await make_retiree(session, HANT.id, "陳美玲", language="zh_Hant")
    hans = await make_retiree(session, HANS.id, "王秀英")
    english = await make_retiree(session, ANNA.id, "Anna", language="en")
    activity = await make_activity(session, starts_in=timedelta(hours=30), now=now, **SIMPLIFIED)
    for profile in (hant, hans, english):
        assert profile.user is not None
        await sign_up(session, profile.user, activity.id, profile.id, now=now)
    assert await scan(session, now + timedelta(hours=7), OfficeSettings()) == 3  # 24 h before
    rows = await outbox_rows(session, "act.reminder")
    assert {row.params["title"] for row in rows} == {SIMPLIFIED["title"]}  # stored as typed

    clock = [1000.0]

    async def no_sleep(seconds: float) -> None:
        clock[0] += seconds

    sender = OutboxSender(
        bot=chat.bot,
        sessionmaker=sessionmaker,
        i18n=i18n,
        settings=settings.model_copy(update={"outbox_rate_per_second": 1000.0}),
        renderers=notification_renderers(),
        sleep=no_sleep,
        clock=lambda: clock[0],
    )
    chat.session.take()
    for _ in range(3):
        clock[0] += 5
        await sender.send_due()
    sent = {r.chat_id: r.text for r in chat.session.take() if r.method == "sendMessage"}
    assert TRADITIONAL["title"] in sent[HANT.id] and TRADITIONAL["place"] in sent[HANT.id]
    assert SIMPLIFIED["title"] not in sent[HANT.id]
    assert SIMPLIFIED["title"] in sent[HANS.id] and SIMPLIFIED["place"] in sent[HANS.id]
    assert sent[ANNA.id].startswith("⏰ Reminder: “" + SIMPLIFIED["title"] + "”")
    assert SIMPLIFIED["place"] in sent[ANNA.id]
