"""Staff and forms: the guided create form with a weekly series, editing, attendance, export,
cancelling, importing a file; the participant's rating and comment.

These conversations keep FSM state; they run on both databases (FSM writes go through the
update's own session: docs/architecture.md, Transactions)."""

from __future__ import annotations

import itertools
from datetime import timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from handlers import notification_renderers
from models.activities import (
    Activity,
    Attendance,
    Registration,
    RegistrationStatus,
    sign_up,
)
from models.office import OfficeSettings
from models.users import Role
from tests.chat import Chat, Person, last_message
from tests.test_activities_helpers import (
    make_activity,
    make_retiree,
    make_user,
    outbox_rows,
)

render = notification_renderers().render

WANG = Person(6001, "王秀英")
LI = Person(6002, "李建国")
STAFF = Person(6009, "赵老师")


OFFICE = OfficeSettings()  # the office's defaults: Asia/Shanghai, reminders 24 h and 2 h


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest) -> str:
    name = "sqlite_database_url" if request.param == "sqlite" else "pg_database_url"
    return str(request.getfixturevalue(name))


async def _registration(session: AsyncSession, activity_id: int, profile_id: int) -> Registration:
    reg = await session.scalar(
        select(Registration)
        .where(Registration.activity_id == activity_id)
        .where(Registration.profile_id == profile_id)
        .execution_options(populate_existing=True)
    )
    assert reg is not None
    await session.commit()
    return reg


async def _capacity(session: AsyncSession, activity_id: int) -> int | None:
    capacity = await session.scalar(select(Activity.capacity).where(Activity.id == activity_id))
    await session.commit()
    return capacity


async def test_staff_creates_a_weekly_series_with_the_form(
    chat: Chat, session: AsyncSession
) -> None:
    await make_user(session, STAFF.id, Role.STAFF, "赵老师")
    await session.commit()
    menu = last_message(await chat.send(STAFF, "🗓 活动管理"))
    question = last_message(await chat.press(STAFF, menu.callback_data("新建活动")))
    assert "活动叫什么名字" in question.text
    assert "返回主菜单" in " ".join(question.button_texts())

    hint = last_message(await chat.send_sticker(STAFF))
    assert "请用文字写" in hint.text  # and the form goes on
    hint = last_message(await chat.send(STAFF, "太" * 101))
    assert "太长了，请不要超过 100 个字" in hint.text
    question = last_message(await chat.send(STAFF, "太极拳入门"))
    assert "属于哪一类" in question.text
    assert last_message(await chat.send(STAFF, "随便")).text.startswith("请点下面")
    await chat.send(STAFF, "🧘 舞蹈健身")
    await chat.send(STAFF, "⏭ 跳过")
    await chat.send(STAFF, "社区活动室")
    hint = last_message(await chat.send(STAFF, "下周二"))
    assert "没看懂" in hint.text
    hint = last_message(await chat.send(STAFF, "/weather"))
    assert "什么时候开始" in hint.text  # the question is repeated; the form goes on
    await chat.send(STAFF, "2099-03-03 09:00")
    await chat.send(STAFF, "10:30")
    await chat.send(STAFF, "二十")
    await chat.send(STAFF, "20")
    await chat.send(STAFF, "2099-03-02 18:00")
    summary = last_message(await chat.send(STAFF, "12"))
    assert "每周一次，共 12 次" in summary.text and "太极拳入门" in summary.text
    done = last_message(await chat.send(STAFF, "✅ 创建"))
    assert "已创建“太极拳入门”，每周一次，共 12 次" in done.text

    activities = list(await session.scalars(select(Activity).order_by(Activity.starts_at)))
    assert len(activities) == 12
    assert len({a.series_id for a in activities}) == 1 and activities[0].series_id is not None
    assert activities[0].starts_at.isoformat() == "2099-03-03T01:00:00+00:00"  # 09:00 Shanghai
    assert activities[0].ends_at is not None
    assert activities[0].ends_at.isoformat() == "2099-03-03T02:30:00+00:00"
    for earlier, later in itertools.pairwise(activities):
        assert later.starts_at - earlier.starts_at == timedelta(weeks=1)
        assert later.signup_deadline_at - earlier.signup_deadline_at == timedelta(weeks=1)  # type: ignore[operator]
    assert {a.capacity for a in activities} == {20}


async def test_staff_attendance_export_cancel_and_capacity(
    chat: Chat, session: AsyncSession, i18n
) -> None:  # type: ignore[no-untyped-def]
    staff = await make_user(session, STAFF.id, Role.STAFF, "赵老师")
    wang = await make_retiree(session, WANG.id, "王秀英", "13800000001")
    li = await make_retiree(session, LI.id, "李建国", "13900000002")
    activity = await make_activity(session, title="合唱排练", capacity=1, organiser=staff)
    await session.commit()
    assert wang.user is not None and li.user is not None
    await sign_up(session, wang.user, activity.id, wang.id)
    await sign_up(session, li.user, activity.id, li.id)
    await session.commit()

    menu = last_message(await chat.send(STAFF, "🗓 活动管理"))
    assert any("合唱排练 · 1/1 (+1)" in b for b in menu.button_texts())
    card = last_message(await chat.press(STAFF, menu.callback_data("合唱排练")))
    assert "组织者：赵老师" in card.text
    people = last_message(await chat.press(STAFF, card.callback_data("报名名单")))
    assert "王秀英  13800000001" in people.text
    assert "候补名单" in people.text and "李建国  13900000002" in people.text
    marked = last_message(await chat.press(STAFF, people.callback_data("王秀英")))
    assert "✅ 王秀英" in marked.button_texts()
    reg = await _registration(session, activity.id, wang.id)
    assert reg.attendance == Attendance.PRESENT
    marked = last_message(await chat.press(STAFF, marked.callback_data("王秀英")))
    assert "❌ 王秀英" in marked.button_texts()

    sent = await chat.press(STAFF, marked.callback_data("导出"))
    document = next(r for r in sent if r.method == "sendDocument")
    assert document.chat_id == STAFF.id and "合唱排练" in document.text

    # Raise the capacity: Li moves up and is told.
    edit = last_message(await chat.press(STAFF, card.callback_data("修改")))
    question = last_message(await chat.press(STAFF, edit.callback_data("名额")))
    assert "多少个名额" in question.text
    # Not a number: refused with the same hint as in the create form (the edit reuses its
    # step), the question asked again, and nothing is saved.
    refused = last_message(await chat.send(STAFF, "abc"))
    assert "请写一个整数" in refused.text and "多少个名额" in refused.text, refused.text
    assert await _capacity(session, activity.id) == 1
    saved = [r.text for r in await chat.send(STAFF, "2")]
    assert any("1 人补上了名额" in t for t in saved)
    assert await _capacity(session, activity.id) == 2
    assert (await _registration(session, activity.id, li.id)).status == (
        RegistrationStatus.CONFIRMED
    )
    assert [r.chat_id for r in await outbox_rows(session, "act.promoted")] == [LI.id]

    # Call it off: both are told.
    ask = last_message(await chat.press(STAFF, card.callback_data("取消这个活动")))
    done = last_message(await chat.press(STAFF, ask.callback_data("确定取消")))
    assert "将通知 2 人" in done.text
    cancelled = await outbox_rows(session, "act.cancelled")
    assert sorted(r.chat_id for r in cancelled) == [WANG.id, LI.id]
    text = render("act.cancelled", cancelled[0].params, "zh_Hant", i18n).text
    # The title typed in Simplified reaches a Traditional reader in Traditional (OpenCC).
    assert "合唱排練" in text and "合唱排练" not in text and "已被取消" in text


async def test_participant_rates_and_the_organiser_reads_it(
    chat: Chat, session: AsyncSession, i18n
) -> None:  # type: ignore[no-untyped-def]
    from models.activities import scan, toggle_attendance
    from models.base import utcnow

    staff = await make_user(session, STAFF.id, Role.STAFF, "赵老师")
    wang = await make_retiree(session, WANG.id, "王秀英")
    now = utcnow()
    activity = await make_activity(
        session, title="八段锦", starts_in=timedelta(hours=-3), organiser=staff, now=now
    )
    assert wang.user is not None
    earlier = now - timedelta(days=1)
    reg = (await sign_up(session, wang.user, activity.id, wang.id, now=earlier)).registration
    await toggle_attendance(session, staff, activity.id, reg.id)
    assert await scan(session, now, OFFICE) == 1
    await session.commit()
    (row,) = await outbox_rows(session, "act.feedback")
    rendered = render(row.kind, row.params, "zh_Hans", i18n)
    five = rendered.reply_markup.inline_keyboard[4][0]  # type: ignore[union-attr]
    assert five.text.startswith("5")

    sent = await chat.press(WANG, str(five.callback_data))
    texts = [r.text for r in sent]
    assert any("您给“八段锦”打了 ⭐⭐⭐⭐⭐" in t for t in texts)
    assert "想对组织者说" in last_message(sent).text
    hint = last_message(await chat.send_sticker(WANG))
    assert "请写几句话" in hint.text
    thanks = last_message(await chat.send(WANG, "老师教得很耐心，希望多办几次"))
    assert "组织者会看到" in thanks.text
    stored = await _registration(session, activity.id, wang.id)
    assert stored.rating == 5 and stored.comment == "老师教得很耐心，希望多办几次"

    sent = await chat.press(STAFF, f"amg:f:{activity.id}:0")
    summary = last_message(sent)
    assert "1 人评分，平均 5.0 ⭐" in summary.text
    assert "王秀英 (5⭐): 老师教得很耐心" in summary.text
