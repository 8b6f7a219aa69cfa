"""The scheduler's scans at scale (bench/seed_scale.py: 100,000 retirees, 50,000 requests,
~90,000 sign-ups, 300,000 outbox rows), on SQLite and PostgreSQL: each scan with nothing new
to do, and with N items newly due (time and statements should grow with N, statements stay
O(1)); then the indexes the scans rely on, each measured with and without. Every figure is
also given as a ratio to the anchor, a primary-key select in a session of its own measured
in the same run. No assertions.

    python -m bench.scans
"""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

from sqlalchemy import insert, text, update
from sqlalchemy.ext.asyncio import AsyncSession

from bench._measure import Figure, StatementCounter, anchor, drop_indexes, line, timed, with_without
from bench.seed_scale import NOW, Seeded, pg_reachable, scaled_database
from bot.db import create_engine, create_sessionmaker
from models import activities, requests
from models.activities import Activity, Attendance, Registration
from models.notification_kinds import NotificationKind
from models.office import OfficeSettings
from models.outbox import OutboxMessage, OutboxStatus, cancel_pending
from models.registration import refresh_over_80
from models.requests import ServiceRequest

OFFICE = OfficeSettings(staff_chat_id=-1001234567890)
BACKLOG = 20_000  # messages of a broadcast still queued while cancel_pending is measured
SCAN_INDEXES = [
    "ix_service_requests_next_alert_at",
    "ix_retiree_profiles_over_80_birthday",
    "ix_outbox_pending_dedup_key",
]


def _requests_due(ids: list[int]) -> Any:
    """Make these open requests' deadline pass ten minutes ago (reminded, not escalated)."""

    async def setup(session: AsyncSession) -> None:
        past = NOW - timedelta(minutes=10)
        await session.execute(
            update(ServiceRequest)
            .where(ServiceRequest.id.in_(ids))
            .values(
                accept_due_at=past,
                done_due_at=past,
                accept_alert_level=0,
                done_alert_level=0,
                next_alert_at=past,
            )
        )

    return setup


def _reminders_due(ids: list[int]) -> Any:
    """These activities start in 23 hours and nobody was reminded yet."""

    async def setup(session: AsyncSession) -> None:
        await session.execute(
            update(Activity)
            .where(Activity.id.in_(ids))
            .values(starts_at=NOW + timedelta(hours=23), reminded_hours=None)
        )
        await session.execute(
            update(Registration)
            .where(Registration.activity_id.in_(ids))
            .values(confirmed_at=NOW - timedelta(days=3))
        )

    return setup


def _feedback_due(ids: list[int]) -> Any:
    """These activities ended an hour and more ago, those who came were not asked yet."""

    async def setup(session: AsyncSession) -> None:
        await session.execute(
            update(Activity).where(Activity.id.in_(ids)).values(starts_at=NOW - timedelta(hours=4))
        )
        await session.execute(
            update(Registration)
            .where(Registration.activity_id.in_(ids))
            .where(Registration.attendance == Attendance.PRESENT)
            .values(feedback_asked_at=None, rating=None)
        )

    return setup


async def _count(session: AsyncSession, sql: str, ids: list[int]) -> int:
    listed = ", ".join(str(i) for i in ids)
    return int((await session.execute(text(sql.format(ids=listed)))).scalar_one())


async def _measure(label: str, dialect: str) -> None:
    async with scaled_database(dialect) as (url, seeded):
        engine = create_engine(url)
        try:
            await _run(label, engine, seeded)
        finally:
            await engine.dispose()


async def _run(label: str, engine: Any, seeded: Seeded) -> None:
    sessionmaker = create_sessionmaker(engine)
    counter = StatementCounter(engine)
    unit = await anchor(
        sessionmaker, counter, seeded.retiree_user_ids[len(seeded.retiree_user_ids) // 2]
    )
    print(
        f"   {label}: anchor (primary-key select in its own session) {unit.ms:.3f} ms", flush=True
    )

    async def requests_scan(session: AsyncSession) -> None:
        await requests.scan(session, NOW, OFFICE)

    async def activities_scan(session: AsyncSession) -> None:
        await activities.scan(session, NOW, OFFICE)

    async def over_80(session: AsyncSession) -> None:
        await refresh_over_80(session, NOW, OFFICE)

    # Catch up once (a seeded office is as a running scheduler left it: nothing is due).
    async with sessionmaker() as session:
        caught_up = await requests.scan(session, NOW, OFFICE)
        caught_up += await activities.scan(session, NOW, OFFICE)
        await session.commit()
    if caught_up:
        print(f"   (the first run queued {caught_up}: the seed is not as a scan leaves it)")

    idle: dict[str, Figure] = {}
    for name, run in (
        ("requests: deadlines, escalations, ratings", requests_scan),
        ("activities: reminders and feedback", activities_scan),
        ("registration: over 80 (daily)", over_80),
    ):
        idle[name] = await timed(sessionmaker, counter, run)
        print(line(f"{name}, nothing due", idle[name], unit), flush=True)

    open_ids = seeded.open_request_ids
    for due in (50, 460):
        figure = await timed(sessionmaker, counter, requests_scan, repeats=5, commit=False,
                             setup=_requests_due(open_ids[:due]))  # fmt: skip
        print(line(f"requests scan, {due} newly overdue", figure, unit), flush=True)
    upcoming = seeded.upcoming_activity_ids
    for n in (1, 8):
        async with sessionmaker() as session:
            people = await _count(
                session,
                "SELECT count(*) FROM activity_registrations WHERE activity_id IN ({ids}) "
                "AND status = 'confirmed'",
                upcoming[:n],
            )
        figure = await timed(sessionmaker, counter, activities_scan, repeats=5, commit=False,
                             setup=_reminders_due(upcoming[:n]))  # fmt: skip
        print(line(f"activities scan, {people} reminders due", figure, unit), flush=True)
    past = seeded.past_activity_ids[-8:]
    figure = await timed(sessionmaker, counter, activities_scan, repeats=5, commit=False,
                         setup=_feedback_due(past))  # fmt: skip
    print(line("activities scan, feedback due (8 activities)", figure, unit), flush=True)

    # cancel_pending's prefix match, as every staff action withdraws the card's queued edits,
    # while a city-wide notice of 20,000 messages is still queued
    prefix = f"request:{open_ids[-1]}:card:"
    async with sessionmaker() as session:
        await session.execute(
            insert(OutboxMessage),
            [
                {
                    "chat_id": 7_000_000_000 + n,
                    "kind": NotificationKind.SYSTEM_TEXT,
                    "params": {"text": "通知"},
                    "dedup_key": f"broadcast:1:to:{n}",
                    "due_at": NOW,
                    "status": OutboxStatus.PENDING,
                    "attempts": 0,
                    "created_at": NOW,
                }
                for n in range(BACKLOG)
            ],
        )
        await session.commit()
    if engine.dialect.name == "postgresql":  # as autovacuum would after such an insert
        async with engine.connect() as connection:
            await connection.execution_options(isolation_level="AUTOCOMMIT")
            await connection.execute(text("ANALYZE outbox"))

    async def withdraw(session: AsyncSession) -> None:
        await cancel_pending(session, dedup_prefix=prefix)

    with_index = {
        "requests scan, nothing due (next_alert_at)": idle[
            "requests: deadlines, escalations, ratings"
        ],
        "over-80 scan (over_80, birthday)": idle["registration: over 80 (daily)"],
        f"cancel_pending prefix, {BACKLOG:,} queued": await timed(
            sessionmaker, counter, withdraw, commit=False
        ),
    }
    await drop_indexes(engine, SCAN_INDEXES)
    unit_without = await anchor(sessionmaker, counter, seeded.retiree_user_ids[1000])
    without = {
        "requests scan, nothing due (next_alert_at)": await timed(
            sessionmaker, counter, requests_scan
        ),
        "over-80 scan (over_80, birthday)": await timed(sessionmaker, counter, over_80),
        f"cancel_pending prefix, {BACKLOG:,} queued": await timed(
            sessionmaker, counter, withdraw, commit=False
        ),
    }
    print("   with and without the index:", flush=True)
    for name, figure in with_index.items():
        print(with_without(name, figure, without[name], unit, unit_without), flush=True)


def main() -> None:
    async def both() -> None:
        await _measure("SQLite", "sqlite")
        if await pg_reachable():
            await _measure("PostgreSQL", "postgresql")
        else:
            print("   PostgreSQL: not reachable, skipped", flush=True)

    asyncio.run(both())


if __name__ == "__main__":
    main()
