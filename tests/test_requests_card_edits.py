"""The staff group's card shows the request's latest state: an older edit still waiting in the
outbox (behind the group's pacing) must never overwrite a newer one."""

from __future__ import annotations

from datetime import UTC, datetime

from models import requests as rq
from models.outbox import OutboxStatus
from tests.test_requests_domain import ctx, new_request
from tests.test_requests_support import make_people, outbox


def waiting_edits(cards):  # type: ignore[no-untyped-def]
    return [c for c in cards if c.edit_of and c.status == OutboxStatus.PENDING]


async def test_a_newer_queued_edit_replaces_an_older_one(session) -> None:  # type: ignore[no-untyped-def]
    people = await make_people(session)
    now = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)
    request = await new_request(session, people, now)
    await rq.take(session, people.staff, request.id, ctx(now))  # from the private queue
    await rq.start(session, people.staff, request.id, ctx(now))  # from the private queue
    await session.commit()
    edits = waiting_edits(await outbox(session, "request.staff_card"))
    assert [e.params["status"] for e in edits] == ["in_progress"]


async def test_a_direct_edit_of_the_card_withdraws_queued_older_edits(session) -> None:  # type: ignore[no-untyped-def]
    people = await make_people(session)
    now = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)
    request = await new_request(session, people, now)
    await rq.take(session, people.staff, request.id, ctx(now))
    await rq.start(session, people.staff, request.id, ctx(now))  # queued edit: "in progress"
    # the supervisor presses Done on the card in the group: the handler edits it right there
    await rq.finish(session, people.supervisor, request.id, ctx(now, update_card=False))
    await session.commit()
    cards = await outbox(session, "request.staff_card")
    assert waiting_edits(cards) == []
    assert any(c.status == OutboxStatus.CANCELLED for c in cards)


async def test_the_card_is_marked_overdue_once_when_a_deadline_passes(session) -> None:  # type: ignore[no-untyped-def]
    people = await make_people(session)
    created = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)  # Monday; accept due Tuesday
    request = await new_request(session, people, created)
    await session.commit()
    late = request.accept_due_at.replace(hour=request.accept_due_at.hour + 1)
    await rq.scan_requests(session, late, ctx(late).tz, ctx(late).staff_chat_id)
    await rq.scan_requests(session, late, ctx(late).tz, ctx(late).staff_chat_id)
    await session.commit()
    edits = waiting_edits(await outbox(session, "request.staff_card"))
    assert [(e.params["overdue"], e.edit_of) for e in edits] == [
        (True, f"request:{request.id}:card")
    ]
