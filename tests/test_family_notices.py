"""A linked family member is told of their relative's activities: a place off the waiting list,
an activity cancelled or moved (always), and the reminders (only if they turned them on in
"My family"). Through the domain and the outbox rows, rendered in all three languages, and one
conversation through the real Dispatcher."""

from __future__ import annotations

from datetime import timedelta

import pytest
from aiogram.utils.i18n import I18n
from sqlalchemy.ext.asyncio import AsyncSession

from handlers import notification_renderers
from handlers.script import to_reader_script
from models.activities import (
    ActivityField,
    cancel_activity,
    cancel_registration,
    scan,
    sign_up,
    update_activity,
)
from models.base import utcnow
from models.users import FamilyLink, Role
from tests.chat import Chat, Person, last_message
from tests.test_activities_helpers import (
    link_family,
    make_activity,
    make_retiree,
    make_user,
    outbox_rows,
)
from tests.test_activities_rules import OFFICE

render = notification_renderers().render
LOCALES = ["zh_Hans", "zh_Hant", "en"]

MOTHER = Person(7101, "陈淑珍")
OTHER = Person(7102, "李建国")
DAUGHTER = Person(7103, "陈晓燕")


async def _family(session: AsyncSession, language: str = "zh_Hans"):  # type: ignore[no-untyped-def]
    """A retiree with an account, her daughter (linked, not the one signing her up) and
    another retiree who holds the only place."""
    mother = await make_retiree(session, MOTHER.id, "陈淑珍")
    other = await make_retiree(session, OTHER.id, "李建国")
    daughter = await make_user(session, DAUGHTER.id, Role.FAMILY, "陈晓燕", language)
    await link_family(session, daughter, mother)
    staff = await make_user(session, 7109, Role.STAFF, "赵老师")
    return mother, other, daughter, staff


@pytest.mark.parametrize("locale", LOCALES)
async def test_family_told_of_a_place_off_the_waiting_list(
    session: AsyncSession, i18n: I18n, locale: str
) -> None:
    mother, other, _daughter, _staff = await _family(session, locale)
    activity = await make_activity(session, capacity=1, title="门球友谊赛")
    assert other.user is not None and mother.user is not None
    held = await sign_up(session, other.user, activity.id, other.id)
    waiting = await sign_up(session, mother.user, activity.id, mother.id)  # she signs up herself
    assert waiting.position == 1
    await cancel_registration(session, other.user, held.registration.id)
    rows = await outbox_rows(session, "act.promoted")
    assert sorted(r.chat_id for r in rows) == sorted([MOTHER.id, DAUGHTER.id])
    told = next(r for r in rows if r.chat_id == DAUGHTER.id)
    assert told.params["self"] is False
    text = render(told.kind, told.params, locale, i18n).text
    assert "陈淑珍" in text and to_reader_script("门球友谊赛", locale) in text
    assert {
        "zh_Hans": "有名额空出来了",
        "zh_Hant": "有名額空出來了",
        "en": "A place has opened up",
    }[locale] in text


@pytest.mark.parametrize("locale", LOCALES)
async def test_family_told_when_the_activity_is_cancelled_or_moved(
    session: AsyncSession, i18n: I18n, locale: str
) -> None:
    mother, _other, _daughter, staff = await _family(session, locale)
    moved = await make_activity(session, title="书法课")
    called_off = await make_activity(session, title="中秋游园")
    assert mother.user is not None
    for activity in (moved, called_off):
        await sign_up(session, mother.user, activity.id, mother.id)

    await update_activity(
        session, staff, moved.id, ActivityField.PLACE, "老干部活动中心三楼", tz="Asia/Shanghai"
    )
    [changed] = [r for r in await outbox_rows(session, "act.changed") if r.chat_id == DAUGHTER.id]
    text = render(changed.kind, changed.params, locale, i18n).text
    assert (
        to_reader_script("书法课", locale) in text
        and to_reader_script("老干部活动中心三楼", locale) in text
        and "陈淑珍" in text
    )

    await cancel_activity(session, staff, called_off.id)
    rows = await outbox_rows(session, "act.cancelled")
    assert sorted(r.chat_id for r in rows) == sorted([MOTHER.id, DAUGHTER.id])
    told = next(r for r in rows if r.chat_id == DAUGHTER.id)
    text = render(told.kind, told.params, locale, i18n).text
    assert to_reader_script("中秋游园", locale) in text and "陈淑珍" in text


@pytest.mark.parametrize("locale", LOCALES)
async def test_reminders_reach_family_only_when_they_opted_in(
    session: AsyncSession, i18n: I18n, locale: str
) -> None:
    now = utcnow()
    mother, _other, daughter, _staff = await _family(session, locale)
    early = await make_activity(session, starts_in=timedelta(hours=30), now=now, title="太极拳")
    later = await make_activity(session, starts_in=timedelta(hours=54), now=now, title="合唱团")
    assert mother.user is not None
    for activity in (early, later):
        await sign_up(session, mother.user, activity.id, mother.id, now=now - timedelta(days=1))

    # default off: the reminder goes to the retiree only
    assert await scan(session, now + timedelta(hours=7), OFFICE) == 1
    assert [r.chat_id for r in await outbox_rows(session, "act.reminder")] == [MOTHER.id]

    link = await session.get(FamilyLink, 1)
    assert link is not None and link.family_user_id == daughter.id
    link.activity_reminders = True
    await session.commit()
    assert await scan(session, now + timedelta(hours=31), OFFICE) == 2
    rows = [r for r in await outbox_rows(session, "act.reminder") if r.chat_id == DAUGHTER.id]
    assert [r.params["title"] for r in rows] == ["合唱团"]
    text = render(rows[0].kind, rows[0].params, locale, i18n).text
    assert to_reader_script("合唱团", locale) in text and "陈淑珍" in text


async def test_a_family_member_hears_of_the_promotion_through_the_conversation(
    chat: Chat, session: AsyncSession, i18n: I18n
) -> None:
    """The one holding the place withdraws in the chat; the waiting retiree and her daughter
    are both told, the daughter in her own language and with the "can't come" button that
    works for her too."""
    mother, _other, _daughter, _staff = await _family(session, "en")
    activity = await make_activity(session, capacity=1, title="门球友谊赛")
    await session.commit()
    assert mother.user is not None
    listing = last_message(await chat.send(OTHER, "🎨 活动"))
    card = last_message(await chat.press(OTHER, listing.callback_data("门球友谊赛")))
    await chat.press(OTHER, card.callback_data("我要报名"))
    await sign_up(session, mother.user, activity.id, mother.id)
    await session.commit()

    mine = last_message(await chat.send(OTHER, "📅 我的活动"))
    confirm = last_message(await chat.press(OTHER, mine.callback_data("取消")))
    await chat.press(OTHER, confirm.callback_data("是的"))

    rows = await outbox_rows(session, "act.promoted")
    assert sorted(r.chat_id for r in rows) == sorted([MOTHER.id, DAUGHTER.id])
    told = next(r for r in rows if r.chat_id == DAUGHTER.id)
    rendered = render(told.kind, told.params, "en", i18n)
    assert "陈淑珍 is now signed up for “门球友谊赛”" in rendered.text
    button = rendered.reply_markup.inline_keyboard[0][0]  # type: ignore[union-attr]
    confirm = last_message(await chat.press(DAUGHTER, str(button.callback_data)))
    assert confirm.inline_buttons()  # she may give up her mother's place
