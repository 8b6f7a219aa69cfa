"""200 people press "sign up" at the same moment for 20 places: exactly 20 are confirmed and
the waitlist is numbered 1..180 without gaps, on SQLite and on PostgreSQL."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import select

from bot.db import create_engine, create_sessionmaker
from models.activities import (
    ActivityError,
    Registration,
    RegistrationStatus,
    sign_up,
    waitlist_position,
)
from models.users import User
from tests.test_activities_helpers import make_activity, make_retiree

PEOPLE = 200
PLACES = 20


async def test_simultaneous_sign_ups_on_sqlite(sqlite_database_url: str) -> None:
    await _two_hundred_for_twenty(sqlite_database_url)


@pytest.mark.postgres
async def test_simultaneous_sign_ups_on_postgresql(pg_database_url: str) -> None:
    await _two_hundred_for_twenty(pg_database_url)


async def _two_hundred_for_twenty(database_url: str) -> None:
    engine = create_engine(database_url)
    sessionmaker = create_sessionmaker(engine)
    try:
        async with sessionmaker() as session:
            activity = await make_activity(session, capacity=PLACES, title="重阳节登高")
            pairs = []
            for n in range(PEOPLE):
                profile = await make_retiree(session, 700000 + n, f"老人{n:03d}")
                pairs.append((profile.user_id, profile.id))
            await session.commit()
            activity_id = activity.id

        async def one(user_id: int, profile_id: int) -> tuple[bool, int | None]:
            async with sessionmaker() as session:  # each sign-up: its own session
                actor = await session.get(User, user_id)
                assert actor is not None
                result = await sign_up(session, actor, activity_id, profile_id)
                await session.commit()
                return result.confirmed, result.position

        # Everyone also taps twice: the second tap must not sign anyone up again.
        tasks = [one(u, p) for u, p in pairs] + [one(u, p) for u, p in pairs[:30]]
        outcomes = await asyncio.gather(*tasks, return_exceptions=True)
        answers = [o for o in outcomes if not isinstance(o, BaseException)]
        errors = [o for o in outcomes if isinstance(o, BaseException)]
        assert len(answers) == PEOPLE
        assert len(errors) == 30 and all(isinstance(e, ActivityError) for e in errors)
        assert sum(1 for confirmed, _ in answers if confirmed) == PLACES
        told = sorted(position for confirmed, position in answers if not confirmed)
        assert told == list(range(1, PEOPLE - PLACES + 1))

        async with sessionmaker() as session:
            regs = list(
                await session.scalars(
                    select(Registration).where(Registration.activity_id == activity_id)
                )
            )
            assert len(regs) == PEOPLE
            confirmed = [r for r in regs if r.status == RegistrationStatus.CONFIRMED]
            waiting = [r for r in regs if r.status == RegistrationStatus.WAITLISTED]
            assert len(confirmed) == PLACES
            positions = sorted([await waitlist_position(session, r) or 0 for r in waiting])
            assert positions == list(range(1, PEOPLE - PLACES + 1))
            assert len({r.seq for r in regs}) == PEOPLE
    finally:
        await engine.dispose()
