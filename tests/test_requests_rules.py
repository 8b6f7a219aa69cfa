"""The rules of service requests live in the domain, where the handlers, the scheduler and any
future console see the same ones: who may rate or cancel, which staff action fits which
status and person, the reject reason's length, whom one may ask for."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from models import requests as rq
from models.activities import profiles_for
from models.errors import DomainError
from models.requests import ErrorCode, RequestError, RequestStatus, StaffOp
from models.users import FamilyLink, LinkStatus, profiles_to_act_for
from tests.test_requests_domain import ctx, new_request
from tests.test_requests_support import make_people

NOW = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)


def test_request_errors_are_domain_errors_with_a_code() -> None:
    error = RequestError(ErrorCode.WRONG_STATUS, RequestStatus.DONE)
    assert isinstance(error, DomainError)
    assert error.code == ErrorCode.WRONG_STATUS and error.status == RequestStatus.DONE


async def test_a_too_long_reject_reason_is_refused_not_cut(session) -> None:  # type: ignore[no-untyped-def]
    """Before: the domain silently kept the first 500 characters."""
    people = await make_people(session)
    request = await new_request(session, people, NOW)
    with pytest.raises(RequestError) as error:
        await rq.reject(session, people.staff, request.id, "x" * 501, ctx(NOW))
    assert error.value.code == ErrorCode.REASON_TOO_LONG
    assert request.status == RequestStatus.NEW and request.reject_reason is None
    with pytest.raises(RequestError) as error:
        await rq.reject(session, people.staff, request.id, "   ", ctx(NOW))
    assert error.value.code == ErrorCode.REASON_MISSING
    reason = "y" * rq.MAX_REJECT_REASON
    await rq.reject(session, people.staff, request.id, f"  {reason}  ", ctx(NOW))
    assert request.status == RequestStatus.REJECTED and request.reject_reason == reason


async def test_who_may_rate_and_cancel(session) -> None:  # type: ignore[no-untyped-def]
    people = await make_people(session)
    request = await new_request(session, people, NOW)
    assert rq.may_cancel(request, people.retiree) and not rq.may_cancel(request, people.staff)
    assert not rq.may_rate(request, people.retiree)  # not done yet
    await rq.take(session, people.staff, request.id, ctx(NOW))
    await rq.finish(session, people.staff, request.id, ctx(NOW))
    assert not rq.may_cancel(request, people.retiree)
    assert rq.may_rate(request, people.retiree) and rq.may_rate(request, people.family)
    assert not rq.may_rate(request, people.staff)
    with pytest.raises(RequestError) as error:
        await rq.rate(session, people.staff, request.id, 5)  # the operation says the same
    assert error.value.code == ErrorCode.FORBIDDEN
    await rq.rate(session, people.family, request.id, 4)
    assert not rq.may_rate(request, people.retiree)
    with pytest.raises(RequestError) as error:
        await rq.rate(session, people.retiree, request.id, 5)
    assert error.value.code == ErrorCode.ALREADY_RATED


async def test_staff_actions_by_status_and_owner(session) -> None:  # type: ignore[no-untyped-def]
    assert rq.staff_ops_for(RequestStatus.NEW) == [StaffOp.TAKE, StaffOp.ASSIGN, StaffOp.REJECT]
    assert rq.staff_ops_for(RequestStatus.ACCEPTED) == [
        StaffOp.ASSIGN,
        StaffOp.START,
        StaffOp.FINISH,
        StaffOp.REJECT,
    ]
    assert rq.staff_ops_for(RequestStatus.DONE) == []
    people = await make_people(session)
    request = await new_request(session, people, NOW)
    with pytest.raises(RequestError) as error:
        rq.check_staff_op(people.retiree, request, StaffOp.TAKE)
    assert error.value.code == ErrorCode.FORBIDDEN
    await rq.take(session, people.staff, request.id, ctx(NOW))
    # someone else's request: a colleague may not reject it or give it away, a supervisor may
    for op in (StaffOp.REJECT, StaffOp.ASSIGN, StaffOp.START):
        with pytest.raises(RequestError) as error:
            rq.check_staff_op(people.staff2, request, op)
        assert error.value.code == ErrorCode.FORBIDDEN
        rq.check_staff_op(people.supervisor, request, op)
    with pytest.raises(RequestError) as error:
        rq.check_staff_op(people.staff, request, StaffOp.TAKE)
    assert error.value.code == ErrorCode.WRONG_STATUS


async def test_whom_one_may_ask_for_is_one_rule(session) -> None:  # type: ignore[no-untyped-def]
    """A retiree who is also linked to a relative (a spouse) may ask for both, as the domain
    always allowed; before, the intake offered only herself, the activities both."""
    people = await make_people(session)
    await session.refresh(people.stranger, ["profile"])
    await session.refresh(people.retiree, ["profile"])
    await session.refresh(people.family, ["profile"])
    spouse = people.stranger.profile
    assert spouse is not None
    session.add(
        FamilyLink(
            family_user_id=people.retiree.id, profile_id=spouse.id, status=LinkStatus.APPROVED
        )
    )
    await session.flush()
    mine = await profiles_to_act_for(session, people.retiree)
    assert [p.id for p in mine] == [people.profile.id, spouse.id]
    assert [p.id for p in await profiles_for(session, people.retiree)] == [p.id for p in mine]
    assert (await rq.profile_to_ask_for(session, people.retiree, spouse.id)).id == spouse.id
    with pytest.raises(RequestError) as error:
        await rq.profile_to_ask_for(session, people.family, spouse.id)
    assert error.value.code == ErrorCode.NOT_FOR_THIS_PERSON
    with pytest.raises(RequestError) as error:
        await rq.create_request(
            session, people.family, spouse.id, category=rq.Category.OTHER, description="x"
        )
    assert error.value.code == ErrorCode.NOT_FOR_THIS_PERSON


def test_description_and_preferred_date_rules() -> None:
    assert rq.check_description("  水管  ", 0) == "水管"
    assert rq.check_description("", 1) == ""
    for text, attachments, code in (
        ("", 0, ErrorCode.DESCRIPTION_MISSING),
        ("x" * (rq.MAX_DESCRIPTION + 1), 0, ErrorCode.DESCRIPTION_TOO_LONG),
        ("x", rq.MAX_ATTACHMENTS + 1, ErrorCode.TOO_MANY_ATTACHMENTS),
    ):
        with pytest.raises(RequestError) as error:
            rq.check_description(text, attachments)
        assert error.value.code == code
    today = date(2026, 11, 23)
    days = rq.preferred_dates(today)
    assert days[0] == today and len(days) == rq.PREFERRED_DATE_DAYS
    assert all(rq.may_prefer(day, today) for day in days)
    assert not rq.may_prefer(today - timedelta(days=1), today)
    assert not rq.may_prefer(days[-1] + timedelta(days=1), today)
