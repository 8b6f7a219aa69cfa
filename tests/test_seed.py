"""The sandbox's demo data: it loads on both databases, twice is the same as once, and it hangs
together (every retiree in a grid with a caseworker, family links to real profiles)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from bot.db import create_engine, create_sessionmaker
from models.activities import Activity, Registration, RegistrationStatus
from models.requests import RequestStatus, ServiceRequest
from models.users import FamilyLink, Grid, LinkStatus, RetireeProfile, Role, User
from sandbox.demo.seed import DEMO_ADMIN_ID, OFFICE_TZ, seed_demo

NOW = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)


async def _counts(session) -> dict[str, int]:  # type: ignore[no-untyped-def]
    return {
        model.__tablename__: int(await session.scalar(select(func.count()).select_from(model)))
        for model in (User, Grid, RetireeProfile, FamilyLink)
    }


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def seed_database_url(request: pytest.FixtureRequest) -> str:
    """Like `any_database_url`, but a plain fixture: the conftest's async one builds the
    session-scoped templates inside the running event loop, which fails."""
    if request.param == "sqlite":
        return str(request.getfixturevalue("sqlite_database_url"))
    return str(request.getfixturevalue("pg_database_url"))


async def test_seed_is_complete_consistent_and_idempotent(seed_database_url: str) -> None:

    engine = create_engine(seed_database_url)
    sessionmaker = create_sessionmaker(engine)
    try:
        async with sessionmaker() as session:
            people = await seed_demo(session, now=NOW)
            await session.commit()
        assert people.seeded_now
        async with sessionmaker() as session:
            first = await _counts(session)
            again = await seed_demo(session, now=NOW)
            await session.commit()
            assert not again.seeded_now
            assert await _counts(session) == first
            assert [p.telegram_id for p in again.people] == [p.telegram_id for p in people.people]

            grids = list(await session.scalars(select(Grid)))
            assert len(grids) == 2
            for grid in grids:
                assert grid.staff_user is not None and grid.staff_user.role == Role.STAFF

            profiles = list(await session.scalars(select(RetireeProfile)))
            assert len(profiles) == 12
            today = NOW.astimezone(OFFICE_TZ).date()
            for profile in profiles:
                assert profile.grid_id is not None, profile.full_name
                assert profile.phone and len(profile.phone) == 11 and profile.phone[0] == "1"
                assert profile.phone[1] in "3456789"
                assert profile.birthday is not None and profile.address
                if not profile.birthday_is_lunar:
                    age = today.year - profile.birthday.year
                    age -= (today.month, today.day) < (profile.birthday.month, profile.birthday.day)
                    assert profile.over_80 == (age >= 80), profile.full_name
            without_account = [p for p in profiles if p.user_id is None]
            assert len(without_account) == 2
            assert all(p.created_by_id is not None for p in without_account)
            assert sum(p.over_80 for p in profiles) >= 4
            assert sum(p.birthday_is_lunar for p in profiles) == 1
            for flag in ("lives_alone", "disability", "financial_hardship", "lives_in_other_city"):
                assert any(getattr(p, flag) for p in profiles), flag
            soon = []
            for p in profiles:
                if p.birthday_is_lunar or p.birthday is None:
                    continue
                this_year = p.birthday.replace(year=today.year)
                if today <= this_year <= today + timedelta(days=7):
                    soon.append(p.full_name)
            assert soon, "one retiree has a birthday in the coming week"

            retiree_users = [p.user for p in profiles if p.user is not None]
            assert all(u.role == Role.RETIREE and u.is_onboarded for u in retiree_users)
            languages = {u.language for u in retiree_users}
            assert languages == {"zh_Hans", "zh_Hant", "en"}

            links = list(await session.scalars(select(FamilyLink)))
            profile_ids = {p.id for p in profiles}
            assert all(link.profile_id in profile_ids for link in links)
            assert all(link.family_user.role == Role.FAMILY for link in links)
            statuses = [link.status for link in links]
            assert statuses.count(LinkStatus.PENDING) == 1
            assert statuses.count(LinkStatus.APPROVED) >= 2

            admin = await session.scalar(select(User).where(User.telegram_id == DEMO_ADMIN_ID))
            assert admin is not None and admin.role == Role.ADMIN

            await _check_activities_and_requests(session, profile_ids)

            # The picker lists exactly the seeded accounts, each with a description.
            telegram_ids = set(await session.scalars(select(User.telegram_id)))
            assert {p.telegram_id for p in people.people} == telegram_ids
            assert all(p.description and p.role_hint for p in people.people)
    finally:
        await engine.dispose()


async def _check_activities_and_requests(session, profile_ids: set[int]) -> None:  # type: ignore[no-untyped-def]
    """Activities and requests are seeded through their domain operations."""
    activities = list(await session.scalars(select(Activity)))
    assert len(activities) >= 5 and all(a.starts_at > NOW for a in activities)
    registrations = list(await session.scalars(select(Registration)))
    assert all(r.profile_id in profile_ids for r in registrations)
    statuses = [r.status for r in registrations]
    assert statuses.count(RegistrationStatus.WAITLISTED) == 1
    assert statuses.count(RegistrationStatus.CONFIRMED) >= 10

    requests = list(await session.scalars(select(ServiceRequest)))
    assert len(requests) == 4 and all(r.status.is_open for r in requests)
    assert {r.status for r in requests} == {
        RequestStatus.NEW,
        RequestStatus.ACCEPTED,
        RequestStatus.IN_PROGRESS,
    }
    assert all(r.profile_id in profile_ids for r in requests)
    assert len({r.number for r in requests}) == 4
