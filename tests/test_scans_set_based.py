"""The periodic scans are set-based (issue 10, item 3): with nothing due a scan runs a small,
constant number of statements however much data there is, and N due items cost the same
number of statements as 2 (one select of what is due, one insert of every message, one
update recording the work), never one per item or per recipient. On SQLite and PostgreSQL.
Behaviour (who is told, dedup keys, once-only escalation) is covered by the scan tests in
test_requests_domain.py, test_activities_rules.py and test_scheduler.py."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import event, select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from bot.db import create_engine, create_sessionmaker
from models import requests as rq
from models.activities import scan as activities_scan
from models.activities import sign_up, toggle_attendance
from models.office import OfficeSettings
from models.outbox import OutboxMessage
from models.registration import refresh_over_80
from models.users import RetireeProfile, Role, User
from tests.test_activities_helpers import link_family, make_activity, make_retiree, make_user
from tests.test_requests_support import make_people

SHANGHAI = ZoneInfo("Asia/Shanghai")
STAFF_CHAT = -1001234567890
OFFICE = OfficeSettings(staff_chat_id=STAFF_CHAT)
NOW = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)  # Monday 10:00 in Shanghai


@dataclass
class Db:
    engine: AsyncEngine
    sessionmaker: async_sessionmaker[AsyncSession]
    statements: list[str] = field(default_factory=list)

    async def count(self, run: Any) -> tuple[Any, int]:
        """What `run(session)` returns and how many statements it sent (BEGIN not counted)."""
        async with self.sessionmaker() as session:
            await session.connection()  # the transaction is open before counting
            self.statements.clear()
            result = await run(session)
            counted = len(self.statements)
            await session.commit()
        return result, counted


@pytest.fixture
async def db(any_database_url: str) -> AsyncIterator[Db]:
    engine = create_engine(any_database_url)
    db = Db(engine, create_sessionmaker(engine))

    def seen(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if not statement.lstrip().upper().startswith("BEGIN"):
            db.statements.append(statement)

    event.listen(engine.sync_engine, "before_cursor_execute", seen)
    yield db
    await engine.dispose()


def requests_scan(now: datetime) -> Any:
    async def run(session: AsyncSession) -> int:
        return await rq.scan(session, now, OFFICE)

    return run


def activity_scan(now: datetime) -> Any:
    async def run(session: AsyncSession) -> int:
        return await activities_scan(session, now, OFFICE)

    return run


async def file_requests(db: Db, n: int, start: int = 0) -> list[rq.ServiceRequest]:
    """`n` requests filed by one retiree at NOW (the office's people are made first)."""
    async with db.sessionmaker() as session:
        if start == 0:
            await make_people(session)
        retiree = await session.scalar(select(User).where(User.telegram_id == 1001))
        profile_id = await session.scalar(
            select(RetireeProfile.id).where(
                RetireeProfile.user_id == User.id, User.telegram_id == 1001
            )
        )
        assert retiree is not None and profile_id is not None
        made = [
            await rq.create_request(
                session,
                retiree,
                profile_id,
                category=rq.Category.HOME_REPAIR,
                description=f"#{start + i}",
                now=NOW,
                tz=SHANGHAI,
                staff_chat_id=STAFF_CHAT,
            )
            for i in range(n)
        ]
        await session.commit()
        return made


async def test_an_idle_request_scan_is_one_select_however_many_requests(db: Db) -> None:
    await file_requests(db, 3)
    small = await db.count(requests_scan(NOW))
    await file_requests(db, 37, start=3)
    large = await db.count(requests_scan(NOW))
    assert small == large == (0, 1)


async def test_n_overdue_requests_cost_the_same_statements_as_two(db: Db) -> None:
    first = (await file_requests(db, 2))[0]
    late = first.accept_due_at + timedelta(minutes=5)
    two, two_statements = await db.count(requests_scan(late))
    assert two == 2  # the grid's caseworker reminded of each
    more = await file_requests(db, 30, start=2)
    late = more[0].accept_due_at + timedelta(minutes=5)
    thirty, thirty_statements = await db.count(requests_scan(late))
    assert thirty == 30
    assert thirty_statements == two_statements <= 7
    # Reminded, not yet escalated: the next runs read nothing (no row is looked at again
    # before its escalation moment comes).
    assert await db.count(requests_scan(late + timedelta(minutes=5))) == (0, 1)
    # The escalation moment of all 32 at once: still the same few statements.
    escalate = more[0].accept_due_at + timedelta(hours=4, minutes=1)
    alerted, statements = await db.count(requests_scan(escalate))
    assert alerted == 32 and statements <= two_statements
    assert await db.count(requests_scan(escalate)) == (0, 1)
    async with db.sessionmaker() as session:
        keys = list(await session.scalars(select(OutboxMessage.dedup_key)))
    assert len(keys) == len(set(keys))
    assert sum(":overdue:accept:escalate:" in key for key in keys) == 32


async def _activity_with_signups(db: Db, n: int, base: int, starts_in: timedelta) -> int:
    """An activity with `n` confirmed sign-ups (one of them has no account, so their family is
    told), made a week ago."""
    async with db.sessionmaker() as session:
        week_ago = NOW - timedelta(days=7)
        activity = await make_activity(
            session, starts_in=starts_in, now=NOW, capacity=100, title=f"活动{base}"
        )
        for i in range(n):
            if i == 0:
                profile = await make_retiree(session, None, f"无账号{base}")
                daughter = await make_user(session, base + 500, Role.FAMILY, "女儿")
                await link_family(session, daughter, profile)
                staff = await make_user(session, base + 600, Role.STAFF, "社工")
                await sign_up(session, staff, activity.id, profile.id, now=week_ago)
                continue
            profile = await make_retiree(session, base + i, f"老人{base + i}")
            assert profile.user is not None
            await sign_up(session, profile.user, activity.id, profile.id, now=week_ago)
        await session.commit()
        return activity.id


async def test_an_idle_activity_scan_is_two_selects_however_many_sign_ups(db: Db) -> None:
    await _activity_with_signups(db, 3, 10_000, timedelta(days=5))
    small = await db.count(activity_scan(NOW))
    await _activity_with_signups(db, 25, 20_000, timedelta(days=6))
    large = await db.count(activity_scan(NOW))
    assert small == large == (0, 2)


async def test_n_reminders_and_feedback_requests_cost_the_same_statements_as_two(db: Db) -> None:
    await _activity_with_signups(db, 2, 10_000, timedelta(hours=30))
    day_before = NOW + timedelta(hours=7)
    two, two_statements = await db.count(activity_scan(day_before))
    assert two == 2  # the retiree with an account, and the daughter of the one without
    assert await db.count(activity_scan(day_before + timedelta(minutes=1))) == (0, 2)

    await _activity_with_signups(db, 25, 20_000, timedelta(hours=31))
    later = NOW + timedelta(hours=8)
    many, many_statements = await db.count(activity_scan(later))
    assert many == 25
    assert many_statements == two_statements <= 6
    assert await db.count(activity_scan(later)) == (0, 2)

    # Feedback after the activity, from those who came: the same shape.
    async with db.sessionmaker() as session:
        staff = await make_user(session, 30_000, Role.STAFF, "组织者")
        activity = await make_activity(session, starts_in=timedelta(hours=-5), now=NOW)
        for i in range(12):
            profile = await make_retiree(session, 31_000 + i, f"来了{i}")
            assert profile.user is not None
            registration = (
                await sign_up(
                    session,
                    profile.user,
                    activity.id,
                    profile.id,
                    now=NOW - timedelta(days=2),
                )
            ).registration
            await toggle_attendance(session, staff, activity.id, registration.id)
        await session.commit()
    asked, statements = await db.count(activity_scan(later))
    assert (
        asked == 12 and statements == 5
    )  # reminders: nothing; feedback: 2 selects, insert, update
    assert await db.count(activity_scan(later)) == (0, 2)


async def test_the_over_80_scan_is_one_update(db: Db) -> None:
    async def run(session: AsyncSession) -> int:
        return await refresh_over_80(session, NOW, OFFICE)

    assert await db.count(run) == (0, 1)
