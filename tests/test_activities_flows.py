"""Activities walked through as people use them: a retiree, a family member, staff."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from handlers import notification_renderers
from models.activities import (
    Activity,
    ActivityStatus,
    Registration,
    RegistrationStatus,
    sign_up,
)
from models.users import Role
from tests.chat import Chat, Person, last_message
from tests.test_activities_helpers import (
    link_family,
    make_activity,
    make_retiree,
    make_user,
    outbox_rows,
)

render = notification_renderers().render

WANG = Person(6001, "王秀英")
LI = Person(6002, "李建国")
DAUGHTER = Person(6003, "张丽")
STAFF = Person(6009, "赵老师")


async def _registration(session: AsyncSession, activity_id: int, profile_id: int) -> Registration:
    reg = await session.scalar(
        select(Registration)
        .where(Registration.activity_id == activity_id)
        .where(Registration.profile_id == profile_id)
        .execution_options(populate_existing=True)
    )
    assert reg is not None
    await session.commit()  # SQLite: even a read holds the write lock (BEGIN IMMEDIATE)
    return reg


async def test_retiree_browses_signs_up_and_cancels(chat: Chat, session: AsyncSession) -> None:
    wang = await make_retiree(session, WANG.id, "王秀英", "13800000001")
    await make_activity(session, title="书法入门", capacity=10)
    activity = await make_activity(
        session, title="太极拳晨练", capacity=10, starts_in=timedelta(days=2)
    )
    await session.commit()

    sent = await chat.send(WANG, "🎨 活动")
    listing = last_message(sent)
    assert "近期活动" in listing.text
    labels = listing.button_texts()
    assert any("太极拳晨练" in label and "还剩 10 个名额" in label for label in labels)
    # soonest first
    assert labels.index(next(b for b in labels if "太极拳" in b)) < labels.index(
        next(b for b in labels if "书法" in b)
    )

    sent = await chat.press(WANG, listing.callback_data("太极拳晨练"))
    card = last_message(sent)
    assert card.method == "editMessageText"
    assert "老干部活动中心二楼" in card.text and "名额：10 人，已报 0 人" in card.text
    sent = await chat.press(WANG, card.callback_data("我要报名"))
    answer = last_message(sent)
    assert "✅ 您已报名“太极拳晨练”" in answer.text
    assert any(r.method == "answerCallbackQuery" for r in sent)
    reg = await _registration(session, activity.id, wang.id)
    assert reg.status == RegistrationStatus.CONFIRMED

    assert "取消报名" in " ".join(answer.button_texts())  # cancel it right there

    # A double tap on the old button: the card is refreshed in place and says so.
    sent = await chat.press(WANG, card.callback_data("我要报名"))
    alert = next(r for r in sent if r.method == "answerCallbackQuery")
    assert "已更新" in alert.params["text"]
    refreshed = last_message(sent)
    assert "✅ 您已报名" in refreshed.text
    assert "❌ 取消报名" in refreshed.button_texts()
    assert not any("我要报名" in t for t in refreshed.button_texts())
    reg = await _registration(session, activity.id, wang.id)
    assert reg.status == RegistrationStatus.CONFIRMED

    sent = await chat.send(WANG, "📅 我的活动")
    mine = last_message(sent)
    assert "太极拳晨练" in mine.text and "已报名" in mine.text
    sent = await chat.press(WANG, mine.callback_data("取消"))
    confirm = last_message(sent)
    assert "要取消您在" in confirm.text
    sent = await chat.press(WANG, confirm.callback_data("是的，取消报名"))
    assert "报名已取消" in last_message(sent).text
    reg = await _registration(session, activity.id, wang.id)
    assert reg.status == RegistrationStatus.CANCELLED

    sent = await chat.send(WANG, "📅 我的活动")
    assert "还没有报名" in last_message(sent).text
    # the old list's cancel button: the list is refreshed in place, and says so
    sent = await chat.press(WANG, mine.callback_data("取消"))
    assert "已更新" in next(r for r in sent if r.method == "answerCallbackQuery").params["text"]
    assert "还没有报名" in last_message(sent).text


async def test_category_filter_and_paging(chat: Chat, session: AsyncSession) -> None:
    await make_retiree(session, WANG.id, "王秀英")
    for n in range(8):
        await make_activity(session, title=f"合唱排练{n}", starts_in=timedelta(days=1, hours=n))
    from models.activities import Category

    await make_activity(session, title="参观博物馆", category=Category.OUTING)
    await session.commit()
    listing = last_message(await chat.send(WANG, "🎨 活动"))
    assert "(1/2)" in listing.text
    assert len([b for b in listing.button_texts() if "合唱" in b or "博物馆" in b]) == 6
    page2 = last_message(await chat.press(WANG, listing.callback_data("下一页")))
    assert "(2/2)" in page2.text and any("博物馆" in b for b in page2.button_texts())
    filters = last_message(await chat.press(WANG, listing.callback_data("按类别看")))
    outings = last_message(await chat.press(WANG, filters.callback_data("外出参观")))
    assert [b for b in outings.button_texts() if "·" in b] == [
        next(b for b in outings.button_texts() if "博物馆" in b)
    ]


async def test_waitlist_position_promotion_and_cant_come(
    chat: Chat, session: AsyncSession, i18n
) -> None:  # type: ignore[no-untyped-def]
    wang = await make_retiree(session, WANG.id, "王秀英")
    li = await make_retiree(session, LI.id, "李建国")
    third = await make_retiree(session, 6004, "陈桂兰")
    activity = await make_activity(session, title="门球友谊赛", capacity=1)
    await session.commit()
    assert wang.user is not None

    listing = last_message(await chat.send(WANG, "🎨 活动"))
    card = last_message(await chat.press(WANG, listing.callback_data("门球友谊赛")))
    await chat.press(WANG, card.callback_data("我要报名"))

    listing = last_message(await chat.send(LI, "🎨 活动"))
    assert any("已满，候补 0 人" in b for b in listing.button_texts())
    card = last_message(await chat.press(LI, listing.callback_data("门球友谊赛")))
    answer = last_message(await chat.press(LI, card.callback_data("排队候补")))
    assert "候补第 1 位" in answer.text
    third_user = third.user
    assert third_user is not None
    result = await sign_up(session, third_user, activity.id, third.id)
    await session.commit()
    assert result.position == 2

    # Wang withdraws: Li moves up and is told, with a "can't come" button.
    mine = last_message(await chat.send(WANG, "📅 我的活动"))
    confirm = last_message(await chat.press(WANG, mine.callback_data("取消")))
    await chat.press(WANG, confirm.callback_data("是的"))
    assert (await _registration(session, activity.id, li.id)).status == (
        RegistrationStatus.CONFIRMED
    )
    promoted = await outbox_rows(session, "act.promoted")
    assert [row.chat_id for row in promoted] == [LI.id]
    rendered = render("act.promoted", promoted[0].params, "zh_Hans", i18n)
    assert "好消息" in rendered.text and "门球友谊赛" in rendered.text
    assert rendered.reply_markup is not None
    button = rendered.reply_markup.inline_keyboard[0][0]  # type: ignore[union-attr]
    assert "我去不了了" in button.text

    # Li taps "I can't come after all" on that notice: the next in line moves up.
    confirm = last_message(await chat.press(LI, str(button.callback_data)))
    await chat.press(LI, confirm.callback_data("是的"))
    assert (await _registration(session, activity.id, third.id)).status == (
        RegistrationStatus.CONFIRMED
    )
    assert [row.chat_id for row in await outbox_rows(session, "act.promoted")] == [LI.id, 6004]


async def test_family_signs_up_a_linked_relative(chat: Chat, session: AsyncSession, i18n) -> None:  # type: ignore[no-untyped-def]
    mother = await make_retiree(session, WANG.id, "王秀英")
    father = await make_retiree(session, None, "张德明")  # no Telegram account
    daughter = await make_user(session, DAUGHTER.id, Role.FAMILY, "张丽")
    await link_family(session, daughter, mother)
    await link_family(session, daughter, father)
    await make_activity(session, title="健康讲座：防跌倒")
    await session.commit()

    listing = last_message(await chat.send(DAUGHTER, "🎨 活动"))
    card = last_message(await chat.press(DAUGHTER, listing.callback_data("防跌倒")))
    who = last_message(await chat.press(DAUGHTER, card.callback_data("我要报名")))
    assert "谁去参加" in who.text
    assert set(who.button_texts()) == {"👤 王秀英", "👤 张德明"}
    answer = last_message(await chat.press(DAUGHTER, who.callback_data("王秀英")))
    assert "✅ 王秀英已报名" in answer.text
    answer = last_message(await chat.press(DAUGHTER, who.callback_data("张德明")))
    assert "✅ 张德明已报名" in answer.text

    # The mother hears it from the bot; the father has no account.
    told = await outbox_rows(session, "act.signed_up_for_you")
    assert [row.chat_id for row in told] == [WANG.id]
    assert "张丽帮您报名了" in render(told[0].kind, told[0].params, "zh_Hans", i18n).text

    mine = last_message(await chat.send(DAUGHTER, "📅 我的活动"))
    assert "王秀英" in mine.text and "张德明" in mine.text


async def test_forged_profile_and_closed_sign_up_are_refused(
    chat: Chat, session: AsyncSession
) -> None:
    await make_retiree(session, WANG.id, "王秀英")
    stranger = await make_retiree(session, LI.id, "李建国")
    activity = await make_activity(session, title="广场舞")
    closed = await make_activity(
        session, title="春节联欢会", deadline_in=timedelta(hours=-1), starts_in=timedelta(days=1)
    )
    await session.commit()
    # A forged button: sign up somebody else's profile.
    forged = f"asu:f:{activity.id}:{stranger.id}"
    sent = await chat.press(WANG, forged)
    alert = next(r for r in sent if r.method == "answerCallbackQuery")
    assert "不能替这位老人办理" in alert.params["text"]
    assert await session.scalar(select(Registration.id)) is None
    await session.commit()

    listing = last_message(await chat.send(WANG, "🎨 活动"))
    assert any("春节联欢会 · 报名已截止" in b for b in listing.button_texts())
    card = last_message(await chat.press(WANG, listing.callback_data("春节联欢会")))
    assert "报名已经结束" in card.text and "我要报名" not in " ".join(card.button_texts())
    sent = await chat.press(WANG, f"asu:s:{closed.id}:0")
    alert = next(r for r in sent if r.method == "answerCallbackQuery")
    assert "截止报名" in alert.params["text"]
    # A stale button for an activity that no longer exists.
    sent = await chat.press(WANG, "acl:o:0::99999")
    alert = next(r for r in sent if r.method == "answerCallbackQuery")
    assert "已经没有了" in alert.params["text"]


async def test_retiree_cannot_open_staff_screens(chat: Chat, session: AsyncSession) -> None:
    await make_retiree(session, WANG.id, "王秀英")
    activity = await make_activity(session)
    await session.commit()
    assert "工作人员专用" in last_message(await chat.send(WANG, "🗓 活动管理")).text
    sent = await chat.press(WANG, f"amg:p:{activity.id}:0")
    alert = next(r for r in sent if r.method == "answerCallbackQuery")
    assert "工作人员专用" in alert.params["text"]
    sent = await chat.press(WANG, f"amg:c:{activity.id}:0")
    assert any(r.method == "answerCallbackQuery" for r in sent)
    stored = await session.get(Activity, activity.id, populate_existing=True)
    assert stored is not None and stored.status == ActivityStatus.OPEN
