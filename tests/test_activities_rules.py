"""The rules of activities, straight on the domain: capacity, waitlist, promotion, deadline,
duplicates, series, cancellation, reminders (once each) and feedback."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from handlers import notification_renderers
from models.activities import (
    ActivityDraft,
    ActivityError,
    ActivityErrorCode,
    Attendance,
    Category,
    RegistrationStatus,
    cancel_activity,
    cancel_registration,
    create_activities,
    feedback_summary,
    rate,
    reminder_hours,
    scan,
    sign_up,
    toggle_attendance,
    update_activity,
    waitlist_position,
)
from models.base import utcnow
from models.office import OfficeSettings
from models.outbox import OutboxStatus
from models.users import Relation, Role
from tests.test_activities_helpers import (
    link_family,
    make_activity,
    make_retiree,
    make_user,
    outbox_rows,
)

OFFICE = OfficeSettings()  # the office's defaults: Asia/Shanghai, reminders 24 h and 2 h
render = notification_renderers().render


async def _people(session: AsyncSession, n: int, base: int = 8000):  # type: ignore[no-untyped-def]
    profiles = [await make_retiree(session, base + i, f"老人{i}") for i in range(n)]
    return [(p.user, p) for p in profiles]


async def test_capacity_waitlist_and_promotion_order(session: AsyncSession) -> None:
    activity = await make_activity(session, capacity=2)
    people = await _people(session, 5)
    results = [await sign_up(session, u, activity.id, p.id) for u, p in people]
    assert [r.confirmed for r in results] == [True, True, False, False, False]
    assert [r.position for r in results] == [None, None, 1, 2, 3]

    # A waitlisted person leaving closes the gap; nobody is promoted.
    await cancel_registration(session, people[3][0], results[3].registration.id)
    assert await waitlist_position(session, results[4].registration) == 2
    # A confirmed person leaving promotes the head of the line, who is told.
    _reg, promoted = await cancel_registration(session, people[0][0], results[0].registration.id)
    assert [r.profile_id for r in promoted] == [people[2][1].id]
    assert await waitlist_position(session, results[4].registration) == 1
    rows = await outbox_rows(session, "act.promoted")
    assert [r.chat_id for r in rows] == [people[2][0].telegram_id]

    # Raising the capacity promotes too; lowering it never removes anyone.
    staff = await make_user(session, 8100, Role.STAFF)
    _a, promoted = await update_activity(session, staff, activity.id, "capacity", 3)
    assert [r.profile_id for r in promoted] == [people[4][1].id]
    _a, promoted = await update_activity(session, staff, activity.id, "capacity", 1)
    assert promoted == []
    statuses = [r.registration.status for r in results]
    assert statuses.count(RegistrationStatus.CONFIRMED) == 3


async def test_no_double_sign_up_and_sign_up_again_after_cancel(session: AsyncSession) -> None:
    activity = await make_activity(session, capacity=1)
    (user, profile), (other, other_profile) = await _people(session, 2)
    first = await sign_up(session, user, activity.id, profile.id)
    with pytest.raises(ActivityError) as error:
        await sign_up(session, user, activity.id, profile.id)
    assert error.value.code == ActivityErrorCode.ALREADY_SIGNED_UP
    await sign_up(session, other, activity.id, other_profile.id)  # waitlisted
    await cancel_registration(session, user, first.registration.id)
    again = await sign_up(session, user, activity.id, profile.id)
    # The same row comes back, at the end of the line (the other was promoted meanwhile).
    assert again.registration.id == first.registration.id
    assert again.confirmed is False and again.position == 1


async def test_deadline_start_and_cancelled_activity_close_sign_up(session: AsyncSession) -> None:
    ((user, profile),) = await _people(session, 1)
    closed = await make_activity(session, deadline_in=timedelta(minutes=-1))
    started = await make_activity(session, starts_in=timedelta(minutes=-5))
    staff = await make_user(session, 8101, Role.STAFF)
    called_off = await make_activity(session)
    await cancel_activity(session, staff, called_off.id)
    for activity, code in (
        (closed, ActivityErrorCode.DEADLINE_PASSED),
        (started, ActivityErrorCode.STARTED),
        (called_off, ActivityErrorCode.CANCELLED),
    ):
        with pytest.raises(ActivityError) as error:
            await sign_up(session, user, activity.id, profile.id)
        assert error.value.code == code


async def test_family_may_sign_up_only_linked_relatives(session: AsyncSession) -> None:
    activity = await make_activity(session)
    mother = await make_retiree(session, None, "王秀英")
    stranger = await make_retiree(session, None, "陌生人")
    son = await make_user(session, 8200, Role.FAMILY, "儿子")
    await link_family(session, son, mother, Relation.SON)
    result = await sign_up(session, son, activity.id, mother.id)
    assert result.confirmed and result.registration.registered_by_id == son.id
    with pytest.raises(ActivityError) as error:
        await sign_up(session, son, activity.id, stranger.id)
    assert error.value.code == ActivityErrorCode.FORBIDDEN


async def test_cancelling_an_activity_tells_everyone(session: AsyncSession, i18n) -> None:  # type: ignore[no-untyped-def]
    activity = await make_activity(session, capacity=1, title="中秋游园")
    people = await _people(session, 3)
    for user, profile in people:
        await sign_up(session, user, activity.id, profile.id)
    staff = await make_user(session, 8102, Role.STAFF)
    with pytest.raises(ActivityError):
        await cancel_activity(session, people[0][0], activity.id)  # not staff
    assert await cancel_activity(session, staff, activity.id) == 3
    rows = await outbox_rows(session, "act.cancelled")
    assert sorted(r.chat_id for r in rows) == sorted(u.telegram_id for u, _p in people)
    text = render("act.cancelled", rows[0].params, "en", i18n).text
    assert "“中秋游园”" in text and "cancelled" in text
    with pytest.raises(ActivityError):
        await cancel_activity(session, staff, activity.id)  # twice: refused, nobody told again


async def test_weekly_series_each_session_its_own_list(session: AsyncSession) -> None:
    staff = await make_user(session, 8103, Role.STAFF)
    start = utcnow() + timedelta(days=1)
    draft = ActivityDraft(
        title="太极拳",
        category=Category.FITNESS,
        starts_at=start,
        ends_at=start + timedelta(hours=1),
        capacity=1,
        signup_deadline_at=start - timedelta(hours=2),
        weeks=12,
    )
    sessions = await create_activities(session, staff, draft)
    assert len(sessions) == 12
    assert sessions[11].starts_at == start + timedelta(weeks=11)
    assert len({s.series_id for s in sessions}) == 1
    (user, profile), (other, other_profile) = await _people(session, 2)
    await sign_up(session, user, sessions[0].id, profile.id)
    # Full in week 1 does not make week 2 full.
    assert (await sign_up(session, other, sessions[1].id, other_profile.id)).confirmed
    with pytest.raises(ActivityError):
        await create_activities(session, user, draft)  # only staff create
    with pytest.raises(ActivityError):
        await create_activities(
            session, staff, ActivityDraft("x", Category.OTHER, utcnow() - timedelta(hours=1), 5)
        )


async def test_reminders_queued_once_and_withdrawn_on_cancel(session: AsyncSession, i18n) -> None:  # type: ignore[no-untyped-def]
    now = utcnow()
    activity = await make_activity(session, starts_in=timedelta(hours=30), now=now, title="书法课")
    people = await _people(session, 2)
    regs = []
    for user, profile in people:
        regs.append((await sign_up(session, user, activity.id, profile.id, now=now)).registration)
    assert await scan(session, now, OFFICE) == 0  # more than a day ahead

    day_before = now + timedelta(hours=7)
    assert await scan(session, day_before, OFFICE) == 2
    assert await scan(session, day_before + timedelta(minutes=1), OFFICE) == 0  # once each
    rows = await outbox_rows(session, "act.reminder")
    assert all(
        r.dedup_key.startswith(f"act:remind:{r.params['registration_id']}:24h") for r in rows
    )
    rendered = render("act.reminder", rows[0].params, "zh_Hans", i18n)
    assert "还有 1 天" in rendered.text and "书法课" in rendered.text
    assert "我去不了了" in rendered.reply_markup.inline_keyboard[0][0].text  # type: ignore[union-attr]

    # Two hours before: the second reminder, once.
    two_before = now + timedelta(hours=28, minutes=5)
    # The second person cancels first; the 2h reminder must not reach them.
    await cancel_registration(session, people[1][0], regs[1].id, now=two_before)
    assert await scan(session, two_before, OFFICE) == 1
    assert await scan(session, two_before, OFFICE) == 0
    rows = await outbox_rows(session, "act.reminder")
    assert sorted(r.dedup_key.split(":")[3] for r in rows) == ["24h", "24h", "2h"]
    assert [r.chat_id for r in rows if ":2h:" in r.dedup_key] == [people[0][0].telegram_id]


async def test_pending_reminder_withdrawn_when_sign_up_cancelled(session: AsyncSession) -> None:
    now = utcnow()
    activity = await make_activity(session, starts_in=timedelta(hours=10), now=now)
    ((user, profile),) = await _people(session, 1)
    reg = (
        await sign_up(session, user, activity.id, profile.id, now=now - timedelta(days=1))
    ).registration
    assert await scan(session, now, OFFICE) == 1
    await cancel_registration(session, user, reg.id, now=now)
    rows = await outbox_rows(session, "act.reminder")
    assert [r.status for r in rows] == [OutboxStatus.CANCELLED]


async def test_reminder_hours_are_configurable(monkeypatch: pytest.MonkeyPatch) -> None:
    from bot.config import Settings

    assert reminder_hours(OFFICE) == (24, 2)
    assert reminder_hours(Settings(_env_file=None).office()) == (24, 2)  # type: ignore[call-arg]
    monkeypatch.setenv("ACTIVITY_REMINDER_HOURS", "3, 48")
    assert reminder_hours(Settings(_env_file=None).office()) == (48, 3)  # type: ignore[call-arg]
    assert reminder_hours(OfficeSettings(activity_reminder_hours=(1, 0))) == (1,)


async def test_feedback_only_from_those_who_came(session: AsyncSession, i18n) -> None:  # type: ignore[no-untyped-def]
    now = utcnow()
    staff = await make_user(session, 8104, Role.STAFF)
    activity = await make_activity(session, starts_in=timedelta(hours=3), now=now, title="合唱")
    (came_user, came), (absent_user, absent), (unmarked_user, unmarked) = await _people(session, 3)
    regs = [
        (await sign_up(session, u, activity.id, p.id, now=now)).registration
        for u, p in ((came_user, came), (absent_user, absent), (unmarked_user, unmarked))
    ]
    await toggle_attendance(session, staff, activity.id, regs[0].id)  # present
    await toggle_attendance(session, staff, activity.id, regs[1].id)
    await toggle_attendance(session, staff, activity.id, regs[1].id)  # absent
    assert regs[1].attendance == Attendance.ABSENT
    with pytest.raises(ActivityError):
        await toggle_attendance(session, came_user, activity.id, regs[0].id)  # only staff mark

    after = now + timedelta(hours=3 + 1, minutes=31) + timedelta(hours=1)
    assert await scan(session, after, OFFICE) == 1
    assert await scan(session, after, OFFICE) == 0
    (row,) = await outbox_rows(session, "act.feedback")
    assert row.chat_id == came_user.telegram_id
    rendered = render("act.feedback", row.params, "zh_Hans", i18n)
    assert "谢谢您参加“合唱”" in rendered.text
    assert len(rendered.reply_markup.inline_keyboard) == 5  # type: ignore[union-attr]

    with pytest.raises(ActivityError) as error:
        await rate(session, absent_user, regs[1].id, 5, now=after)
    assert error.value.code == ActivityErrorCode.NOT_ATTENDED
    with pytest.raises(ActivityError):
        await rate(session, absent_user, regs[0].id, 5, now=after)  # someone else's
    await rate(session, came_user, regs[0].id, 4, now=after)
    summary = await feedback_summary(session, activity.id)
    assert summary.count == 1 and summary.average == 4.0


async def test_new_time_tells_everyone_and_requeues_reminders(session: AsyncSession, i18n) -> None:  # type: ignore[no-untyped-def]
    now = utcnow()
    staff = await make_user(session, 8105, Role.STAFF)
    activity = await make_activity(session, starts_in=timedelta(hours=20), now=now, title="讲座")
    ((user, profile),) = await _people(session, 1)
    await sign_up(session, user, activity.id, profile.id, now=now - timedelta(days=1))
    assert await scan(session, now, OFFICE) == 1  # the day-before reminder is queued
    later = activity.starts_at + timedelta(days=2)
    await update_activity(session, staff, activity.id, "starts_at", later, now=now)
    rows = await outbox_rows(session, "act.reminder")
    assert [r.status for r in rows] == [OutboxStatus.CANCELLED]
    (changed,) = await outbox_rows(session, "act.changed")
    assert changed.chat_id == user.telegram_id
    assert "有变动" in render("act.changed", changed.params, "zh_Hans", i18n).text
    # At the new time's day-before, the reminder is queued again (a new key).
    assert await scan(session, later - timedelta(hours=20), OFFICE) == 1
    with pytest.raises(ActivityError):
        await update_activity(session, staff, activity.id, "ends_at", later - timedelta(hours=1))
    with pytest.raises(ActivityError):
        await update_activity(session, user, activity.id, "title", "我改的")
