"""Service requests in the domain: lifecycle, permissions, promised times, escalation, numbers."""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from bot.db import create_engine, create_sessionmaker
from models import requests as rq
from models.requests import (
    Attachment,
    AttachmentKind,
    Category,
    ErrorCode,
    RequestError,
    RequestStatus,
    StaffContext,
)
from tests.test_requests_support import make_people, outbox

SHANGHAI = ZoneInfo("Asia/Shanghai")
STAFF_CHAT = -1001234567890


def ctx(now: datetime, update_card: bool = True) -> StaffContext:
    return StaffContext(now=now, tz=SHANGHAI, staff_chat_id=STAFF_CHAT, update_card=update_card)


async def new_request(session, people, now, **kw):  # type: ignore[no-untyped-def]
    values = {"category": Category.HOME_REPAIR, "description": "水龙头漏水"}
    values.update(kw)
    return await rq.create_request(
        session,
        people.retiree,
        people.profile.id,
        now=now,
        tz=SHANGHAI,
        staff_chat_id=STAFF_CHAT,
        **values,
    )


async def test_full_lifecycle_records_history_and_tells_everyone(session) -> None:
    people = await make_people(session)
    now = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)  # Monday 10:00 in Shanghai
    request = await new_request(
        session,
        people,
        now,
        attachments=[
            Attachment(AttachmentKind.PHOTO, "p1"),
            Attachment(AttachmentKind.VOICE, "v1"),
        ],
    )
    assert request.number == "FW-2026-00001"
    assert request.status == RequestStatus.NEW
    # normal: accepted by the end of the next working day, done within 5 working days
    assert request.accept_due_at == datetime(2026, 11, 24, 10, 0, tzinfo=UTC)
    assert request.done_due_at == datetime(2026, 11, 30, 10, 0, tzinfo=UTC)
    cards = await outbox(session, "request.staff_card")
    assert [c.chat_id for c in cards] == [STAFF_CHAT]
    assert cards[0].params["phone"] == "13800000001"
    assert cards[0].params["address"] == "东区3号楼2单元301"
    # the family is told the retiree asked for help; the retiree (the actor) is not pushed
    status = await outbox(session, "request.status")
    assert [m.user_id for m in status] == [people.family.id]

    await rq.take(session, people.staff, request.id, ctx(now))
    await rq.start(session, people.staff, request.id, ctx(now))
    await rq.finish(session, people.staff, request.id, ctx(now))
    await session.commit()
    assert request.status == RequestStatus.DONE
    assert [e.action.value for e in request.events] == ["created", "accepted", "started", "done"]
    assert all(e.actor_id is not None for e in request.events)
    status = await outbox(session, "request.status")
    # 3 changes x (retiree + family); "done" reaches the retiree (who is asked to rate) only
    # once: in the rating question, not as a status change too
    assert len(status) == 1 + 2 * 2 + 1
    assert [m.user_id for m in status if m.params["action"] == "done"] == [people.family.id]
    edits = [c for c in await outbox(session, "request.staff_card") if c.edit_of]
    assert len(edits) == 3 and all(c.edit_of == f"request:{request.id}:card" for c in edits)
    assert not any("_edit" in c.params for c in edits)
    media = await outbox(session, "request.media")
    assert [(m.user_id, m.params["file_id"]) for m in media] == [
        (people.staff.id, "p1"),
        (people.staff.id, "v1"),
    ]
    [ask] = await outbox(session, "request.rate")
    assert ask.user_id == people.retiree.id


async def test_double_done_changes_nothing(session) -> None:
    people = await make_people(session)
    now = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)
    request = await new_request(session, people, now)
    await rq.take(session, people.staff, request.id, ctx(now))
    await rq.finish(session, people.staff, request.id, ctx(now))
    before = len(await outbox(session))
    with pytest.raises(RequestError) as error:
        await rq.finish(session, people.staff, request.id, ctx(now))
    assert error.value.code == ErrorCode.WRONG_STATUS
    assert len(await outbox(session)) == before
    assert [e.action.value for e in request.events].count("done") == 1


async def test_only_staff_act_and_only_the_owner_once_taken(session) -> None:
    people = await make_people(session)
    now = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)
    request = await new_request(session, people, now)
    for outsider in (people.retiree, people.family, people.stranger):
        with pytest.raises(RequestError) as error:
            await rq.take(session, outsider, request.id, ctx(now))
        assert error.value.code == ErrorCode.FORBIDDEN
    await rq.take(session, people.staff, request.id, ctx(now))
    with pytest.raises(RequestError) as error:
        await rq.finish(session, people.staff2, request.id, ctx(now))
    assert error.value.code == ErrorCode.FORBIDDEN
    # a supervisor may move anyone's request on, and reassign it
    await rq.assign(session, people.supervisor, request.id, people.staff2.id, ctx(now))
    assert request.assignee_id == people.staff2.id
    [assigned] = await outbox(session, "request.assigned")
    assert assigned.user_id == people.staff2.id
    with pytest.raises(RequestError) as error:
        await rq.assign(session, people.staff2, request.id, people.retiree.id, ctx(now))
    assert error.value.code == ErrorCode.NOT_STAFF


async def test_requester_side_permissions(session) -> None:
    people = await make_people(session)
    now = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)
    with pytest.raises(RequestError):
        await rq.create_request(
            session, people.stranger, people.profile.id, category=Category.OTHER, description="x"
        )
    request = await new_request(session, people, now)
    with pytest.raises(RequestError) as error:
        await rq.get_request(session, people.stranger, request.id)
    assert error.value.code == ErrorCode.FORBIDDEN
    with pytest.raises(RequestError):
        await rq.cancel(session, people.stranger, request.id)
    with pytest.raises(RequestError):
        await rq.cancel(session, people.staff, request.id)  # staff reject, they don't cancel
    await rq.cancel(session, people.family, request.id, now=now, tz=SHANGHAI)
    assert request.status == RequestStatus.CANCELLED
    with pytest.raises(RequestError) as error:
        await rq.cancel(session, people.family, request.id)
    assert error.value.code == ErrorCode.WRONG_STATUS


async def test_rating_once_and_low_rating_alerts_supervisor(session) -> None:
    people = await make_people(session)
    now = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)
    request = await new_request(session, people, now)
    with pytest.raises(RequestError):
        await rq.rate(session, people.retiree, request.id, 5)  # not done yet
    await rq.take(session, people.staff, request.id, ctx(now))
    await rq.finish(session, people.staff, request.id, ctx(now))
    with pytest.raises(RequestError):
        await rq.rate(session, people.stranger, request.id, 5)
    await rq.rate(session, people.retiree, request.id, 2)
    with pytest.raises(RequestError) as error:
        await rq.rate(session, people.retiree, request.id, 5)
    assert error.value.code == ErrorCode.ALREADY_RATED
    [alert] = await outbox(session, "request.low_rating")
    assert alert.user_id == people.supervisor.id and alert.params["rating"] == 2
    await rq.comment_rating(session, people.retiree, request.id, text="来得太晚了")
    alerts = await outbox(session, "request.low_rating")
    assert len(alerts) == 2 and alerts[1].params["comment"] == "来得太晚了"


async def test_rating_reminder_once_after_three_days(session) -> None:
    people = await make_people(session)
    now = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)
    request = await new_request(session, people, now)
    await rq.take(session, people.staff, request.id, ctx(now))
    await rq.finish(session, people.staff, request.id, ctx(now))
    assert await rq.scan_requests(session, now + timedelta(days=2), SHANGHAI, STAFF_CHAT) == 0
    assert await rq.scan_requests(session, now + timedelta(days=3), SHANGHAI, STAFF_CHAT) == 1
    assert await rq.scan_requests(session, now + timedelta(days=9), SHANGHAI, STAFF_CHAT) == 0
    assert len(await outbox(session, "request.rate_reminder")) == 1


async def test_overdue_reminds_then_escalates_exactly_once(session) -> None:
    people = await make_people(session)
    now = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)
    request = await new_request(session, people, now)
    await session.commit()
    scan = rq.scan_requests
    assert (
        await scan(session, request.accept_due_at - timedelta(minutes=1), SHANGHAI, STAFF_CHAT) == 0
    )
    # accept deadline passed: the grid's caseworker is reminded, once
    late = request.accept_due_at + timedelta(minutes=5)
    assert await scan(session, late, SHANGHAI, STAFF_CHAT) == 1
    assert await scan(session, late, SHANGHAI, STAFF_CHAT) == 0
    [remind] = await outbox(session, "request.overdue")
    assert remind.user_id == people.staff.id and remind.params["stage"] == "remind"
    # 4 hours later the supervisor is alerted, once
    later = request.accept_due_at + timedelta(hours=4)
    assert await scan(session, later, SHANGHAI, STAFF_CHAT) == 1
    assert await scan(session, later + timedelta(days=1), SHANGHAI, STAFF_CHAT) == 0
    overdue = await outbox(session, "request.overdue")
    assert [(m.user_id, m.params["stage"]) for m in overdue] == [
        (people.staff.id, "remind"),
        (people.supervisor.id, "escalate"),
    ]
    # even with the alert levels reset (a second scanner that read old state), nothing doubles
    request.accept_alert_level = 0
    assert await scan(session, later, SHANGHAI, STAFF_CHAT) == 0
    # the done deadline goes to the assignee, then the supervisor
    await rq.take(session, people.staff2, request.id, ctx(later))
    past_done = request.done_due_at + timedelta(hours=5)
    assert await scan(session, past_done, SHANGHAI, STAFF_CHAT) == 2
    overdue = await outbox(session, "request.overdue")
    assert [(m.user_id, m.params["deadline"]) for m in overdue[2:]] == [
        (people.staff2.id, "done"),
        (people.supervisor.id, "done"),
    ]
    queue = await rq.staff_queue(session, people.staff2, rq.QueueFilter.OVERDUE, past_done)
    assert [r.id for r in queue] == [request.id]


async def test_urgent_and_overridden_promised_times(session) -> None:
    people = await make_people(session)
    # Wednesday 30 Sep 2026 16:00 in Shanghai, the day before the National Day holiday
    now = datetime(2026, 9, 30, 8, 0, tzinfo=UTC)
    urgent = await new_request(session, people, now, urgent=True)
    assert urgent.accept_due_at == now + timedelta(hours=2)
    normal = await new_request(session, people, now)
    # accepted by 8 Oct (first working day after the holiday), done by 13 Oct (8, 9, 10, 12, 13)
    assert normal.accept_due_at.astimezone(SHANGHAI) == datetime(
        2026, 10, 8, 18, 0, tzinfo=SHANGHAI
    )
    assert normal.done_due_at.astimezone(SHANGHAI) == datetime(2026, 10, 13, 18, 0, tzinfo=SHANGHAI)
    await rq.set_deadline_policy(
        session, Category.MEDICAL, False, accept_hours=4, done_workdays=1, escalate_after_hours=1
    )
    medical = await new_request(session, people, now, category=Category.MEDICAL)
    assert medical.accept_due_at == now + timedelta(hours=4)
    assert medical.done_due_at.astimezone(SHANGHAI).date().isoformat() == "2026-10-08"
    assert medical.escalate_after_minutes == 60


async def test_tracking_numbers_unique_under_concurrency_sqlite(sqlite_database_url: str) -> None:
    await _twelve_at_once(sqlite_database_url)


@pytest.mark.postgres
async def test_tracking_numbers_unique_under_concurrency_postgresql(pg_database_url: str) -> None:
    await _twelve_at_once(pg_database_url)


async def _twelve_at_once(database_url: str) -> None:
    engine = create_engine(database_url)
    sessionmaker = create_sessionmaker(engine)
    async with sessionmaker() as session:
        people = await make_people(session)
    now = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)

    async def file_one(i: int) -> str:
        async with sessionmaker() as session:
            retiree = await session.get(type(people.retiree), people.retiree.id)
            request = await rq.create_request(
                session,
                retiree,
                people.profile.id,
                category=Category.OTHER,
                description=f"#{i}",
                now=now,
                tz=SHANGHAI,
            )
            await session.commit()
            return request.number

    numbers = await asyncio.gather(*(file_one(i) for i in range(12)))
    assert sorted(numbers) == [f"FW-2026-{i:05d}" for i in range(1, 13)]
    async with sessionmaker() as session:
        stored = (await session.scalars(select(rq.ServiceRequest.number))).all()
        assert len(set(stored)) == 12
    await engine.dispose()


async def test_every_pushed_kind_renders_in_every_language(session, i18n) -> None:  # type: ignore[no-untyped-def]
    from handlers import notification_renderers

    render = notification_renderers().render

    people = await make_people(session)
    now = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)
    first = await new_request(
        session, people, now, attachments=[Attachment(AttachmentKind.VOICE, "v1")]
    )
    await rq.scan_requests(session, first.done_due_at + timedelta(days=1), SHANGHAI, STAFF_CHAT)
    await rq.assign(session, people.supervisor, first.id, people.staff.id, ctx(now))
    await rq.finish(session, people.staff, first.id, ctx(now))
    await rq.rate(session, people.retiree, first.id, 1)
    await rq.comment_rating(session, people.retiree, first.id, voice_file_id="v2")
    await rq.scan_requests(session, now + timedelta(days=30), SHANGHAI, STAFF_CHAT)
    second = await new_request(session, people, now, category=Category.PAPERWORK)
    await rq.take(session, people.staff2, second.id, ctx(now))
    await rq.cancel(session, people.family, second.id, now=now, tz=SHANGHAI)
    third = await new_request(
        session, people, now, preferred=rq.Preferred.DATE, preferred_date=date(2026, 11, 25)
    )
    await rq.reject(session, people.staff, third.id, "重复提交", ctx(now))
    rows = await outbox(session)
    kinds = {row.kind for row in rows}
    assert kinds >= {
        "request.staff_card",
        "request.status",
        "request.media",
        "request.assigned",
        "request.overdue",
        "request.rate",
        "request.low_rating",
        "request.cancelled_staff",
    }
    for row in rows:
        for locale in ("zh_Hans", "zh_Hant", "en"):
            rendered = render(row.kind, row.params, locale, i18n)
            assert rendered.text.strip(), row.kind
            assert "{" not in rendered.text, (row.kind, rendered.text)
    card = [
        r for r in rows if r.kind == "request.staff_card" and r.params["number"] == third.number
    ]
    assert "11月25日" in render(card[0].kind, card[0].params, "zh_Hans", i18n).text
    rejected = [r for r in rows if r.kind == "request.status" and r.params["action"] == "rejected"]
    assert "重复提交" in render("request.status", rejected[0].params, "zh_Hant", i18n).text


async def test_without_a_supervisor_the_administrators_are_alerted(session) -> None:  # type: ignore[no-untyped-def]
    people = await make_people(session)
    await session.delete(people.supervisor)
    people.profile.grid = None  # no caseworker: the reminder goes to the staff group
    await session.commit()
    now = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)
    request = await new_request(session, people, now)
    late = request.accept_due_at + timedelta(hours=5)
    assert await rq.scan_requests(session, late, SHANGHAI, STAFF_CHAT) == 2
    overdue = await outbox(session, "request.overdue")
    assert [(m.chat_id, m.params["stage"]) for m in overdue] == [
        (STAFF_CHAT, "remind"),
        (people.admin.telegram_id, "escalate"),
    ]


async def test_two_staff_take_at_once_only_one_wins_sqlite(sqlite_database_url: str) -> None:
    await _race_to_take(sqlite_database_url)


@pytest.mark.postgres
async def test_two_staff_take_at_once_only_one_wins_postgresql(pg_database_url: str) -> None:
    await _race_to_take(pg_database_url)


async def _race_to_take(database_url: str) -> None:
    engine = create_engine(database_url)
    sessionmaker = create_sessionmaker(engine)
    now = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)
    async with sessionmaker() as session:
        people = await make_people(session)
        request = await new_request(session, people, now)
        await session.commit()

    async def take_as(staff_id: int) -> bool:
        async with sessionmaker() as session:
            staff = await session.get(type(people.staff), staff_id)
            try:
                await rq.take(session, staff, request.id, ctx(now))
            except RequestError:
                return False
            await session.commit()
            return True

    results = await asyncio.gather(take_as(people.staff.id), take_as(people.staff2.id))
    assert sorted(results) == [False, True]
    async with sessionmaker() as session:
        events = (await session.scalars(select(rq.RequestEvent.action))).all()
        assert [e.value for e in events].count("accepted") == 1
    await engine.dispose()
