"""The hot queries never read a large table whole (issue 10, item 5). Each hot path is run for
real against a seeded office (bench/seed_scale.py's data at a small scale) while its
statements are recorded; each statement is then EXPLAINed with its own parameters: SQLite's
EXPLAIN QUERY PLAN, PostgreSQL's EXPLAIN with sequential scans, hash and merge joins off (so
the plan shows whether an index CAN serve each table it reads, whatever the table's size: a
join becomes index lookups per row). A plan fails when it scans a large table, or the whole
of an index other than a partial one (an index searched on any column but its first counts
as the whole), instead of searching it."""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import event, select, text, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession

from bench.seed_scale import NOW, Scale, Seeded, seed
from bot.db import create_engine, create_sessionmaker
from models import activities, requests
from models.activities import Activity, Registration
from models.office import OfficeSettings
from models.outbox import OutboxMessage, cancel_pending, claim_due
from models.registration import refresh_over_80
from models.requests import QueueFilter, ServiceRequest
from models.users import User, family_of, get_user_by_telegram_id

OFFICE = OfficeSettings(staff_chat_id=-1001234567890)
SMALL = Scale(
    retirees=3_000,
    family=600,
    grids=20,
    staff=10,
    requests=2_000,
    open_requests=200,
    past_activities=30,
    upcoming_activities=6,
    outbox=5_000,
)
LARGE_TABLES = {
    "users",
    "retiree_profiles",
    "family_links",
    "service_requests",
    "request_events",
    "request_attachments",
    "activities",
    "activity_registrations",
    "outbox",
}
PARTIAL_INDEXES = {"ix_service_requests_open_id", "ix_outbox_pending_dedup_key"}


@dataclass
class Office:
    engine: AsyncEngine
    seeded: Seeded
    recorded: list[tuple[str, Any]] = field(default_factory=list)
    recording: bool = False


@pytest.fixture
async def office(any_database_url: str) -> AsyncIterator[Office]:
    engine = create_engine(any_database_url)
    async with engine.begin() as connection:
        seeded = await seed(connection, SMALL)
    if engine.dialect.name == "postgresql":
        async with engine.connect() as connection:
            await connection.execution_options(isolation_level="AUTOCOMMIT")
            await connection.execute(text("ANALYZE"))
    office = Office(engine, seeded)

    def record(conn: Any, cursor: Any, statement: str, parameters: Any, *args: Any) -> None:
        executemany = args[-1] if args else False
        if office.recording and not executemany:
            office.recorded.append((statement, parameters))

    event.listen(engine.sync_engine, "before_cursor_execute", record)
    yield office
    await engine.dispose()


Path = Callable[[AsyncSession], Awaitable[Any]]


def hot_paths(seeded: Seeded) -> dict[str, Path]:
    caseworker = seeded.caseworker_ids[0]
    family = seeded.family_user_ids[0]
    retiree = seeded.retiree_user_ids[0]
    profile = seeded.profile_ids[0]
    card_edits = f"request:{seeded.open_request_ids[-1]}:card:"

    async def user(session: AsyncSession, user_id: int) -> User:
        found = await session.get(User, user_id)
        assert found is not None
        return found

    def queue(view: QueueFilter) -> Path:
        async def run(session: AsyncSession) -> Any:
            return await requests.staff_queue(session, await user(session, caseworker), view, NOW)

        return run

    def mine(user_id: int) -> Path:
        async def run(session: AsyncSession) -> Any:
            return await requests.requests_of(session, await user(session, user_id))

        return run

    async def requests_scan_with_due(session: AsyncSession) -> Any:
        due = NOW - timedelta(hours=5)
        await session.execute(
            update(ServiceRequest)
            .where(ServiceRequest.id.in_(seeded.open_request_ids[:5]))
            .values(
                accept_due_at=due,
                done_due_at=due,
                accept_alert_level=0,
                done_alert_level=0,
                next_alert_at=due,
            )
        )
        return await requests.scan(session, NOW, OFFICE)

    async def activities_scan_with_due(session: AsyncSession) -> Any:
        [soon, *_] = seeded.upcoming_activity_ids
        await session.execute(
            update(Activity)
            .where(Activity.id == soon)
            .values(starts_at=NOW + timedelta(hours=20), reminded_hours=None)
        )
        await session.execute(
            update(Registration)
            .where(Registration.activity_id == seeded.past_activity_ids[-1])
            .values(feedback_asked_at=None, rating=None)
        )
        await session.execute(
            update(Activity)
            .where(Activity.id == seeded.past_activity_ids[-1])
            .values(starts_at=NOW - timedelta(hours=5))
        )
        return await activities.scan(session, NOW, OFFICE)

    async def outbox_of_a_person(session: AsyncSession) -> Any:
        # what deleting a person cascades to (ON DELETE CASCADE looks their rows up so)
        return list(
            await session.scalars(select(OutboxMessage.id).where(OutboxMessage.user_id == family))
        )

    return {
        "staff queue, all open": queue(QueueFilter.ALL),
        "staff queue, mine": queue(QueueFilter.MINE),
        "staff queue, my grids": queue(QueueFilter.GRIDS),
        "staff queue, unassigned": queue(QueueFilter.UNASSIGNED),
        "staff queue, overdue": queue(QueueFilter.OVERDUE),
        "my requests, family member": mine(family),
        "my requests, retiree": mine(retiree),
        "requests scan, nothing due": lambda s: requests.scan(s, NOW, OFFICE),
        "requests scan, some due": requests_scan_with_due,
        "activities scan, nothing due": lambda s: activities.scan(s, NOW, OFFICE),
        "activities scan, some due": activities_scan_with_due,
        "over-80 scan": lambda s: refresh_over_80(s, NOW, OFFICE),
        "outbox claim by status and due time": lambda s: claim_due(s, now=NOW + timedelta(days=3)),
        "cancel_pending prefix": lambda s: cancel_pending(s, dedup_prefix=card_edits),
        "user by telegram id": lambda s: get_user_by_telegram_id(s, 5_000_000_123),
        "family links by retiree": lambda s: family_of(s, profile),
        "supervisors and staff by role": lambda s: requests.staff_members(s),
        "outbox rows of a person": outbox_of_a_person,
    }  # fmt: skip


async def _plan_problems(connection: AsyncConnection, statement: str, parameters: Any) -> list[str]:
    if connection.dialect.name == "sqlite":
        rows = (
            await connection.exec_driver_sql("EXPLAIN QUERY PLAN " + statement, parameters)
        ).all()
        return [detail for *_, detail in rows if _sqlite_full_scan(detail)]
    result = await connection.exec_driver_sql("EXPLAIN (FORMAT JSON) " + statement, parameters)
    plan = result.scalar_one()
    plan = json.loads(plan) if isinstance(plan, str) else plan
    leading = {
        index: column
        for index, column in await connection.exec_driver_sql(
            "SELECT c.relname, a.attname FROM pg_index i "
            "JOIN pg_class c ON c.oid = i.indexrelid "
            "JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = i.indkey[0]"
        )
    }
    problems: list[str] = []
    _pg_full_scans(plan[0]["Plan"], leading, problems)
    return problems


def _sqlite_full_scan(detail: str) -> bool:
    match = re.match(r"SCAN (\w+)(?: USING (?:COVERING )?INDEX (\w+))?", detail)
    if match is None:
        return False
    table = re.sub(r"_\d+$", "", match.group(1))  # an alias: users_1
    return table in LARGE_TABLES and match.group(2) not in PARTIAL_INDEXES


def _pg_full_scans(node: dict[str, Any], leading: dict[str, str], problems: list[str]) -> None:
    kind = node.get("Node Type", "")
    relation = node.get("Relation Name")
    index = node.get("Index Name")
    if kind == "Seq Scan" and relation in LARGE_TABLES:
        problems.append(f"Seq Scan on {relation}")
    if kind in ("Index Scan", "Index Only Scan", "Bitmap Index Scan") and (
        index not in PARTIAL_INDEXES and (relation in LARGE_TABLES or relation is None)
    ):
        condition = node.get("Index Cond", "")
        first = leading.get(index or "")
        if not condition or (first and not re.search(rf"\b{first}\b", condition)):
            problems.append(f"{kind} of the whole of {index} ({condition or 'no condition'})")
    for child in node.get("Plans", []):
        _pg_full_scans(child, leading, problems)


async def full_scans(office: Office, run: Path) -> list[str]:
    """Run one hot path (rolled back), then EXPLAIN each statement it sent."""
    sessionmaker = create_sessionmaker(office.engine)
    office.recorded.clear()
    async with sessionmaker() as session:
        office.recording = True
        try:
            await run(session)
        finally:
            office.recording = False
        await session.rollback()
    recorded = [(s, p) for s, p in office.recorded if not s.lstrip().upper().startswith("BEGIN")]
    assert recorded, "the path ran no statement"
    problems = []
    async with office.engine.connect() as connection:
        if connection.dialect.name == "postgresql":
            for setting in ("enable_seqscan", "enable_hashjoin", "enable_mergejoin"):
                await connection.exec_driver_sql(f"SET {setting} = off")
        for statement, parameters in recorded:
            if statement.lstrip().upper().startswith("INSERT"):
                continue  # an insert reads nothing (its ON CONFLICT goes by the unique index)
            for problem in await _plan_problems(connection, statement, parameters):
                problems.append(f"{problem}\n      in {statement.strip()[:300]}")
        await connection.rollback()
    return problems


async def test_hot_queries_search_indexes_never_scan_large_tables(office: Office) -> None:
    failures = []
    for name, run in hot_paths(office.seeded).items():
        for problem in await full_scans(office, run):
            failures.append(f"{name}: {problem}")
    assert not failures, "full scans in hot queries:\n  " + "\n  ".join(failures)


# Each index this work added, and a hot path that reads a large table whole without it.
NEEDED = {
    "ix_family_links_profile_id": "family links by retiree",
    "ix_service_requests_next_alert_at": "requests scan, nothing due",
    "ix_service_requests_created_by_id": "my requests, family member",
    "ix_users_role": "supervisors and staff by role",
    "ix_outbox_user_id": "outbox rows of a person",
    "ix_retiree_profiles_grid_id": "staff queue, my grids",
    "ix_retiree_profiles_over_80_birthday": "over-80 scan",
}
# PostgreSQL can serve "my grids" without it (the open requests, each profile by its key).
NOT_NEEDED_ON_POSTGRESQL = {"ix_retiree_profiles_grid_id"}


async def test_the_check_sees_each_missing_index(office: Office) -> None:
    """The test above has teeth: without each of these indexes its hot path is reported."""
    async with office.engine.begin() as connection:
        for index in NEEDED:
            await connection.execute(text(f"DROP INDEX {index}"))
    paths = hot_paths(office.seeded)
    unseen = [index for index, path in NEEDED.items() if not await full_scans(office, paths[path])]
    if office.engine.dialect.name == "postgresql":
        unseen = [index for index in unseen if index not in NOT_NEEDED_ON_POSTGRESQL]
    assert unseen == []
