"""Activity screens show the viewer's own state, refresh in place after a change and say so;
the staff form's review has its edit buttons, and leaving it asks first or keeps a draft
(issue 11), through the real Dispatcher."""

from __future__ import annotations

from aiogram.utils.i18n import I18n
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.config import Settings
from models.activities import Activity, sign_up
from models.users import Role
from tests.chat import Chat, Person, last_message
from tests.test_activities_helpers import link_family, make_activity, make_retiree, make_user
from tests.test_onboarding_retiree import fresh_dispatcher

WANG = Person(6101, "王秀英")
LI = Person(6102, "李建国")
DAUGHTER = Person(6103, "张丽")
STAFF = Person(6109, "赵老师")


def toast(sent: list) -> str:  # type: ignore[type-arg]
    return str(next(r for r in sent if r.method == "answerCallbackQuery").params.get("text"))


async def test_the_card_shows_my_place_on_the_waiting_list_with_cancel(
    chat: Chat, session: AsyncSession
) -> None:
    wang = await make_retiree(session, WANG.id, "王秀英")
    await make_retiree(session, LI.id, "李建国")
    activity = await make_activity(session, title="门球友谊赛", capacity=1)
    await session.commit()
    assert wang.user is not None
    await sign_up(session, wang.user, activity.id, wang.id)
    await session.commit()

    listing = last_message(await chat.send(LI, "🎨 活动"))
    card = last_message(await chat.press(LI, listing.callback_data("门球友谊赛")))
    assert "我要报名" not in " ".join(card.button_texts())  # full: the waiting list
    await chat.press(LI, card.callback_data("排队候补"))
    # the card, opened again, shows the place and a cancel button instead of "sign up"
    listing = last_message(await chat.send(LI, "🎨 活动"))
    card = last_message(await chat.press(LI, listing.callback_data("门球友谊赛")))
    assert "⏳ 您在候补名单第 1 位" in card.text
    assert "❌ 取消报名" in card.button_texts()
    assert not any("候补" in t and "排队" in t for t in card.button_texts())
    confirm = last_message(await chat.press(LI, card.callback_data("取消报名")))
    await chat.press(LI, confirm.callback_data("是的"))
    # the card above is now stale: its cancel refreshes it in place, and says so
    sent = await chat.press(LI, card.callback_data("取消报名"))
    assert "已更新" in toast(sent)
    assert "排队候补" in " ".join(last_message(sent).button_texts())


async def test_a_family_member_sees_the_relatives_places(chat: Chat, session: AsyncSession) -> None:
    mother = await make_retiree(session, WANG.id, "王秀英")
    father = await make_retiree(session, None, "张德明")
    daughter = await make_user(session, DAUGHTER.id, Role.FAMILY, "张丽")
    await link_family(session, daughter, mother)
    await link_family(session, daughter, father)
    await make_activity(session, title="健康讲座：防跌倒")
    await session.commit()

    listing = last_message(await chat.send(DAUGHTER, "🎨 活动"))
    card = last_message(await chat.press(DAUGHTER, listing.callback_data("防跌倒")))
    who = last_message(await chat.press(DAUGHTER, card.callback_data("我要报名")))
    answer = last_message(await chat.press(DAUGHTER, who.callback_data("王秀英")))
    assert "❌ 取消王秀英的报名" in answer.button_texts()
    listing = last_message(await chat.send(DAUGHTER, "🎨 活动"))
    card = last_message(await chat.press(DAUGHTER, listing.callback_data("防跌倒")))
    assert "✅ 王秀英已报名" in card.text
    assert "❌ 取消王秀英的报名" in card.button_texts()
    assert "✅ 我要报名" in card.button_texts()  # the father is not on it yet
    await chat.press(DAUGHTER, (await _who(chat, card)).callback_data("张德明"))
    card = last_message(await chat.press(DAUGHTER, listing.callback_data("防跌倒")))
    assert "✅ 张德明已报名" in card.text and "✅ 我要报名" not in card.button_texts()


async def _who(chat: Chat, card):  # type: ignore[no-untyped-def]
    return last_message(await chat.press(DAUGHTER, card.callback_data("我要报名")))


async def _half_made_activity(chat: Chat) -> None:
    menu = last_message(await chat.send(STAFF, "🗓 活动管理"))
    await chat.press(STAFF, menu.callback_data("新建活动"))
    await chat.send(STAFF, "太极拳入门")
    await chat.send(STAFF, "🧘 舞蹈健身")


async def test_the_staff_review_has_edit_buttons_and_leaving_asks_first(
    chat: Chat,
    session: AsyncSession,
    settings: Settings,
    sessionmaker: async_sessionmaker[AsyncSession],
    i18n: I18n,
) -> None:
    await make_user(session, STAFF.id, Role.STAFF, "赵老师")
    await session.commit()
    await _half_made_activity(chat)
    await chat.send(STAFF, "⏭ 跳过")
    await chat.send(STAFF, "社区活动室")
    await chat.send(STAFF, "2099-03-03 09:00")
    await chat.send(STAFF, "10:30")
    await chat.send(STAFF, "20")
    await chat.send(STAFF, "⏭ 跳过")
    review = last_message(await chat.send(STAFF, "1️⃣ 只办一次"))
    assert "请核对" in review.text
    edits = [t for t in review.button_texts() if t.startswith("✏️")]
    assert len(edits) == 9  # one per answer
    # 🏠 at the review: asked first; "continue" shows the review again
    sent = await chat.send(STAFF, "🏠 返回主菜单")
    assert "还没提交" in last_message(sent).text
    review = last_message(await chat.send(STAFF, "▶️ 接着填"))
    assert "太极拳入门" in review.text and "✅ 创建" in review.button_texts()
    # an edit button, then /language: the same question in English, answers kept
    await chat.send(STAFF, next(t for t in edits if "地点" in t))
    await chat.send(STAFF, "/language")
    question = last_message(await chat.send(STAFF, "English"))
    assert "Where" in question.text or "place" in question.text.lower()
    review = last_message(await chat.send(STAFF, "老年大学二楼"))
    assert "老年大学二楼" in review.text and "太极拳入门" in review.text
    # a menu button: kept as a draft, across a restart, and offered by "New activity"
    sent = await chat.send(STAFF, "❓ Help")
    assert "老年大学二楼" not in last_message(sent).text  # help keeps the form as it is
    sent = await chat.send(STAFF, "🗓 Manage activities")
    assert any("kept" in r.text for r in sent)
    chat.dispatcher = fresh_dispatcher(settings, sessionmaker, i18n, chat.dispatcher)
    menu = last_message(await chat.send(STAFF, "🗓 Manage activities"))
    offer = last_message(await chat.press(STAFF, menu.callback_data("New activity")))
    assert "You did not finish your new activity last time." in offer.text
    review = last_message(await chat.send(STAFF, "▶️ Continue where I left off"))
    assert "老年大学二楼" in review.text
    done = last_message(await chat.send(STAFF, "✅ Create"))
    assert "太极拳入门" in done.text
    count = await session.scalar(select(func.count()).select_from(Activity))
    await session.commit()
    assert count == 1


async def test_discarding_the_half_made_activity(chat: Chat, session: AsyncSession) -> None:
    await make_user(session, STAFF.id, Role.STAFF, "赵老师")
    await session.commit()
    await _half_made_activity(chat)
    await chat.send(STAFF, "/cancel")
    sent = await chat.send(STAFF, "🗑 放弃，不填了")
    assert "已经停下了" in last_message(sent).text
    menu = last_message(await chat.send(STAFF, "🗓 活动管理"))
    question = last_message(await chat.press(STAFF, menu.callback_data("新建活动")))
    assert "活动叫什么名字" in question.text  # nothing offered: it was discarded
