"""The staff form as a table of steps: changing one answer from the review, changing one field
of an existing activity with the same steps (and the domain's reasons), hints from the table,
and the staff screens of an activity that is over.

These conversations keep FSM state, so they run on PostgreSQL (see test_activities_staff.py)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from handlers.activities.callbacks import EditCb, ManageAction, ManageCb
from models.activities import Activity, ActivityField
from models.users import Role
from tests.chat import Chat, Person, last_message
from tests.test_activities_helpers import make_activity, make_user

STAFF = Person(6209, "赵老师")

pytestmark = pytest.mark.postgres


@pytest.fixture
def database_url(pg_database_url: str) -> str:
    return pg_database_url


async def _fill_in(chat: Chat) -> str:
    menu = last_message(await chat.send(STAFF, "🗓 活动管理"))
    await chat.press(STAFF, menu.callback_data("新建活动"))
    for answer in ("合唱排练", "🎵 歌唱音乐", "⏭ 跳过", "活动室", "2099-03-03 09:00", "10:30"):
        await chat.send(STAFF, answer)
    await chat.send(STAFF, "20")
    await chat.send(STAFF, "⏭ 跳过")
    return last_message(await chat.send(STAFF, "1️⃣ 只办一次")).text


async def test_one_answer_is_changed_from_the_review(chat: Chat, session: AsyncSession) -> None:
    await make_user(session, STAFF.id, Role.STAFF, "赵老师")
    await session.commit()
    review = await _fill_in(chat)
    assert "请核对" in review and "名额：20 人" in review

    asked = last_message(await chat.send(STAFF, "✏️ 名额"))
    assert "有多少个名额" in asked.text
    refused = last_message(await chat.send(STAFF, "0"))  # the domain's rule, the same question
    assert "请写一个整数" in refused.text and "有多少个名额" in refused.text
    review = last_message(await chat.send(STAFF, "30"))
    assert "请核对" in review.text and "名额：30 人" in review.text  # straight back to the review
    assert "✅ 创建" in review.button_texts() and "✏️ 开始时间" in review.button_texts()

    # A new start: the end is asked again (it is read on the start's day), then the review.
    await chat.send(STAFF, "✏️ 开始时间")
    asked = last_message(await chat.send(STAFF, "2099-03-10 15:00"))
    assert "什么时候结束" in asked.text
    review = last_message(await chat.send(STAFF, "16:00"))
    assert "请核对" in review.text and "3月10日" in review.text

    hint = last_message(await chat.send(STAFF, "好的"))
    assert hint.text == "点“创建”保存；点“返回主菜单”就不要了。"
    done = last_message(await chat.send(STAFF, "✅ 创建"))
    assert "已创建“合唱排练”" in done.text
    stored = await session.scalar(select(Activity).where(Activity.title == "合唱排练"))
    await session.commit()
    assert stored is not None and stored.capacity == 30
    assert stored.starts_at.isoformat() == "2099-03-10T07:00:00+00:00"
    assert stored.ends_at is not None and stored.ends_at.isoformat() == "2099-03-10T08:00:00+00:00"


async def test_help_in_the_form_repeats_the_question_from_the_table(
    chat: Chat, session: AsyncSession
) -> None:
    await make_user(session, STAFF.id, Role.STAFF, "赵老师")
    await session.commit()
    menu = last_message(await chat.send(STAFF, "🗓 活动管理"))
    await chat.press(STAFF, menu.callback_data("新建活动"))
    await chat.send(STAFF, "合唱排练")
    helped = last_message(await chat.send(STAFF, "/help"))
    assert "我们接着来" in helped.text and "属于哪一类" in helped.text


async def test_one_field_of_an_activity_is_changed_with_the_same_steps(
    chat: Chat, session: AsyncSession
) -> None:
    await make_user(session, STAFF.id, Role.STAFF, "赵老师")
    activity = await make_activity(session, title="书法入门", starts_in=timedelta(days=3))
    await session.commit()

    asked = last_message(
        await chat.press(STAFF, EditCb(activity_id=activity.id, field=ActivityField.TITLE).pack())
    )
    assert "请写新的名称" in asked.text
    refused = last_message(await chat.send(STAFF, "书" * 101))
    assert "太长了，请不要超过 100 个字" in refused.text and "请写新的名称" in refused.text
    saved = await chat.send(STAFF, "书法提高班")
    assert "已保存" in saved[0].text and "书法提高班" in last_message(saved).text

    deadline = EditCb(activity_id=activity.id, field=ActivityField.SIGNUP_DEADLINE_AT).pack()
    await chat.press(STAFF, deadline)
    later = (activity.starts_at + timedelta(days=1)).strftime("%Y-%m-%d %H:%M")
    refused = last_message(await chat.send(STAFF, later))  # after the start: the domain says no
    assert "报名截止时间要在活动开始之前" in refused.text and "报名到什么时候截止" in refused.text

    place = EditCb(activity_id=activity.id, field=ActivityField.PLACE).pack()
    await chat.press(STAFF, place)
    refused = last_message(await chat.send(STAFF, "远" * 201))  # the domain's limit, named
    assert "太长了，请不要超过 200 个字" in refused.text
    await chat.send(STAFF, "二楼书画室")
    stored = await session.get(Activity, activity.id, populate_existing=True)
    await session.commit()
    assert stored is not None and stored.title == "书法提高班" and stored.place == "二楼书画室"
    assert stored.signup_deadline_at is None


async def test_an_activity_that_started_cannot_be_edited_or_called_off(
    chat: Chat, session: AsyncSession
) -> None:
    await make_user(session, STAFF.id, Role.STAFF, "赵老师")
    activity = await make_activity(session, title="八段锦", starts_in=timedelta(hours=-1))
    await session.commit()
    card = last_message(
        await chat.press(STAFF, ManageCb(action=ManageAction.OPEN, activity_id=activity.id).pack())
    )
    assert "八段锦" in card.text and "修改" not in " ".join(card.button_texts())
    for data in (
        ManageCb(action=ManageAction.EDIT, activity_id=activity.id).pack(),
        ManageCb(action=ManageAction.CANCEL_ASK, activity_id=activity.id).pack(),
        EditCb(activity_id=activity.id, field=ActivityField.TITLE).pack(),
    ):
        sent = await chat.press(STAFF, data)
        assert [r.method for r in sent] == ["answerCallbackQuery"], sent
        assert sent[0].params["text"] == "这个活动已经开始了。"
