"""Buttons of the activity screens that must not do harm: a forged attendance press, a press
whose screen did not change, staff buttons pressed by someone else, forged callback data."""

from __future__ import annotations

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from handlers.activities.callbacks import AttendCb, CatAction, CatalogueCb
from models.activities import (
    ActivityError,
    ActivityErrorCode,
    Registration,
    sign_up,
    toggle_attendance,
)
from models.users import Role
from tests.chat import Chat, Person, last_message
from tests.recording import RecordingSession
from tests.test_activities_helpers import make_activity, make_retiree, make_user

WANG = Person(6101, "王秀英")
STAFF = Person(6109, "赵老师")

NOT_MODIFIED = (
    "Bad Request: message is not modified: specified new message content and reply markup "
    "are exactly the same as a current content and reply markup of the message"
)
SORRY = "我们这边出了点问题"


async def _attendance(session: AsyncSession, registration_id: int) -> object:
    value = await session.scalar(
        select(Registration.attendance)
        .where(Registration.id == registration_id)
        .execution_options(populate_existing=True)
    )
    await session.commit()  # SQLite: even a read holds the write lock
    return value


async def test_forged_attendance_is_refused_before_anything_changes(
    session: AsyncSession,
) -> None:
    staff = await make_user(session, 8301, Role.STAFF)
    wang = await make_retiree(session, 8302, "王秀英")
    choir = await make_activity(session, title="合唱")
    other = await make_activity(session, title="书法")
    assert wang.user is not None
    registration = (await sign_up(session, wang.user, choir.id, wang.id)).registration
    with pytest.raises(ActivityError) as refused:
        await toggle_attendance(session, staff, other.id, registration.id)
    assert refused.value.code == ActivityErrorCode.NOT_FOUND
    assert registration.attendance is None
    await toggle_attendance(session, staff, choir.id, registration.id)
    assert registration.attendance is not None


async def test_a_forged_attendance_press_leaves_attendance_unchanged(
    chat: Chat, session: AsyncSession
) -> None:
    await make_user(session, STAFF.id, Role.STAFF, "赵老师")
    wang = await make_retiree(session, WANG.id, "王秀英")
    choir = await make_activity(session, title="合唱")
    other = await make_activity(session, title="书法")
    await session.commit()
    assert wang.user is not None
    registration = (await sign_up(session, wang.user, choir.id, wang.id)).registration
    await session.commit()

    forged = AttendCb(activity_id=other.id, registration_id=registration.id).pack()
    sent = await chat.press(STAFF, forged)
    (answer,) = [r for r in sent if r.method == "answerCallbackQuery"]
    assert "已经没有了" in answer.params["text"] and answer.params["show_alert"] is True
    assert await _attendance(session, registration.id) is None


async def test_a_press_that_changes_nothing_on_screen_is_fine(
    chat: Chat, session: AsyncSession, recording: RecordingSession
) -> None:
    await make_retiree(session, WANG.id, "王秀英")
    await make_activity(session, title="太极拳晨练")
    await session.commit()
    listing = last_message(await chat.send(WANG, "🎨 活动"))
    recording.queue_error(400, NOT_MODIFIED, method="editMessageText")
    sent = await chat.press(WANG, CatalogueCb(action=CatAction.PAGE).pack())
    assert [r.method for r in sent] == ["editMessageText", "answerCallbackQuery"]
    assert not any(SORRY in r.text for r in sent), sent
    assert listing.text  # the list stays as it was


async def test_staff_press_that_changes_nothing_on_screen_is_fine(
    chat: Chat, session: AsyncSession, recording: RecordingSession
) -> None:
    await make_user(session, STAFF.id, Role.STAFF, "赵老师")
    await make_activity(session, title="太极拳晨练")
    await session.commit()
    menu = last_message(await chat.send(STAFF, "🗓 活动管理"))
    card = last_message(await chat.press(STAFF, menu.callback_data("太极拳晨练")))
    recording.queue_error(400, NOT_MODIFIED, method="editMessageText")
    sent = await chat.press(STAFF, card.callback_data("报名名单"))
    assert not any(SORRY in r.text for r in sent), sent
    assert [r.method for r in sent][-1] == "answerCallbackQuery"


@pytest.mark.parametrize(
    "data",
    [
        "acl:p:0:bogus:0",  # not a category
        "aed:1:organiser_id",  # not an editable field
        "amg:zz:1:0",  # not an action
    ],
)
async def test_forged_callback_data_falls_through_to_the_kind_fallback(
    chat: Chat, session: AsyncSession, data: str
) -> None:
    await make_user(session, STAFF.id, Role.STAFF, "赵老师")
    await make_activity(session)
    await session.commit()
    sent = await chat.press(STAFF, data)
    (answer,) = [r for r in sent if r.method == "answerCallbackQuery"]
    assert "按钮已经失效" in answer.params["text"], answer.params


async def test_every_staff_button_refuses_a_retiree_kindly(
    chat: Chat, session: AsyncSession
) -> None:
    wang = await make_retiree(session, WANG.id, "王秀英")
    activity = await make_activity(session)
    await session.commit()
    assert wang.user is not None
    registration = (await sign_up(session, wang.user, activity.id, wang.id)).registration
    await session.commit()
    for data in (
        "amg:l:0:0",
        f"amg:o:{activity.id}:0",
        "amg:n:0:0",
        "amg:i:0:0",
        f"amg:x:{activity.id}:0",
        f"amg:e:{activity.id}:0",
        f"aed:{activity.id}:title",
        f"aat:{activity.id}:{registration.id}",
    ):
        sent = await chat.press(WANG, data)
        (answer,) = [r for r in sent if r.method == "answerCallbackQuery"]
        assert "工作人员专用" in answer.params["text"], (data, answer.params)
        assert answer.params["show_alert"] is True
        assert [r.method for r in sent] == ["answerCallbackQuery"], (data, sent)
    assert await _attendance(session, registration.id) is None
