"""A city office at scale, for the scale benchmarks (bench/scans.py, bench/queue.py): 100,000
retirees (70 % with an account), 30,000 family members with approved links, 200 grids and
their caseworkers, 50,000 service requests over two years (about 1,500 open) with their
history, 1,540 activities with ~90,000 sign-ups, and 300,000 outbox rows.

Written with bulk inserts (Core `insert` with many rows per statement) but with the values the
domain writes: tracking numbers, promised times, alert levels and `next_alert_at` that agree
with `now` (computed by the domain's own `next_alert_at`), rating reminders already sent for
old unrated requests, activity reminder watermarks and feedback marks as a running scheduler
leaves them, outbox dedup keys of the shapes the domain uses. So a scan run right after
seeding has nothing new to do, as in a live office.

Seeded once per schema (the migration files and this file are the cache key) into a template
(a SQLite file, a PostgreSQL template database) and copied for each benchmark run:

    python -m bench.seed_scale           # build (or reuse) both templates and say what is in them
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import random
import shutil
import tempfile
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import asdict, dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import insert, text
from sqlalchemy.ext.asyncio import AsyncConnection

from bot.db import MIGRATIONS_DIR, create_engine, upgrade
from models.activities import (
    Activity,
    ActivityStatus,
    Attendance,
    Registration,
    RegistrationStatus,
)
from models.activities import Category as ActivityCategory
from models.notification_kinds import NotificationKind
from models.outbox import OutboxMessage, OutboxStatus
from models.requests import (
    RATING_REMINDER_AFTER,
    AttachmentKind,
    Category,
    EventAction,
    Preferred,
    RequestAttachment,
    RequestEvent,
    RequestStatus,
    ServiceRequest,
    next_alert_at,
)
from models.users import FamilyLink, Grid, LinkStatus, RetireeProfile, Role, User

PG_ADMIN_DSN = os.environ.get("TEST_PG_DSN", "postgresql://postgres@127.0.0.1:5432/postgres")
# A fixed moment, so the seeded data (and the template) do not depend on the clock.
NOW = datetime(2026, 12, 1, 2, 0, tzinfo=UTC)  # Tuesday 10:00 in Shanghai


@dataclass(frozen=True)
class Scale:
    retirees: int = 100_000
    family: int = 30_000
    grids: int = 200
    staff: int = 60
    requests: int = 50_000
    open_requests: int = 1_500
    past_activities: int = 1_500
    upcoming_activities: int = 40
    outbox: int = 300_000


SCALE = Scale()
CHUNK = 5_000
TELEGRAM_BASE = 5_000_000_000  # telegram ids of seeded people (staff below, retirees above)


@dataclass
class Seeded:
    """Ids the benchmarks pick from."""

    staff_ids: list[int]
    caseworker_ids: list[int]
    supervisor_id: int
    retiree_user_ids: list[int]
    family_user_ids: list[int]
    profile_ids: list[int]
    open_request_ids: list[int]
    upcoming_activity_ids: list[int]
    past_activity_ids: list[int]


async def _bulk(connection: AsyncConnection, table: Any, rows: list[dict[str, Any]]) -> None:
    for start in range(0, len(rows), CHUNK):
        await connection.execute(insert(table), rows[start : start + CHUNK])


def _request_like(values: dict[str, Any]) -> ServiceRequest:
    """A transient ServiceRequest, only to ask the domain when its next alert is."""
    return ServiceRequest(
        status=values["status"],
        accept_due_at=values["accept_due_at"],
        done_due_at=values["done_due_at"],
        escalate_after_minutes=values["escalate_after_minutes"],
        accept_alert_level=values["accept_alert_level"],
        done_alert_level=values["done_alert_level"],
        rating=values["rating"],
        rate_reminded_at=values["rate_reminded_at"],
        closed_at=values["closed_at"],
    )


def _level(due: datetime, escalate_minutes: int, now: datetime) -> int:
    """The alert level a scan running every 5 minutes has left by `now`."""
    if due > now:
        return 0
    return 2 if due + timedelta(minutes=escalate_minutes) <= now else 1


async def seed(connection: AsyncConnection, scale: Scale = SCALE, now: datetime = NOW) -> Seeded:
    """Fill a migrated, empty database (in the caller's transaction)."""
    rnd = random.Random(20261201)
    created = now - timedelta(days=800)
    surnames = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗"
    given = "秀英桂兰建国玉兰淑珍国强志明丽华德胜凤英文华金凤"

    def name() -> str:
        return rnd.choice(surnames) + rnd.choice(given) + rnd.choice(given)

    # -- people ---------------------------------------------------------------------------
    users: list[dict[str, Any]] = []
    next_id = 1

    def add_user(role: Role, display: str) -> int:
        nonlocal next_id
        users.append(
            {
                "id": next_id,
                "telegram_id": TELEGRAM_BASE + next_id,
                "display_name": display,
                "language": "zh_Hans",
                "role": role,
                "reachable": True,
                "onboarded_at": created,
                "last_seen_at": now - timedelta(days=rnd.randint(0, 90)),
                "created_at": created,
            }
        )
        next_id += 1
        return next_id - 1

    staff_ids = [add_user(Role.STAFF, f"社工{n:02d}") for n in range(scale.staff)]
    supervisor_id = add_user(Role.SUPERVISOR, "孙主任")
    add_user(Role.SUPERVISOR, "钱主任")
    add_user(Role.ADMIN, "管理员")
    accounts = int(scale.retirees * 0.7)
    retiree_user_ids = [add_user(Role.RETIREE, name()) for _ in range(accounts)]
    family_user_ids = [add_user(Role.FAMILY, name()) for _ in range(scale.family)]
    await _bulk(connection, User.__table__, users)

    caseworker_ids = staff_ids[: scale.staff // 2]
    await _bulk(
        connection,
        Grid.__table__,
        [
            {
                "id": g + 1,
                "name": f"网格{g + 1:03d}",
                "staff_user_id": caseworker_ids[g % len(caseworker_ids)],
                "sort_order": g,
                "created_at": created,
            }
            for g in range(scale.grids)
        ],
    )
    cutoff = date(now.year - 80, now.month, now.day)
    profiles = []
    for p in range(scale.retirees):
        birthday = date(1936, 1, 1) + timedelta(days=rnd.randint(0, 30 * 365))
        profiles.append(
            {
                "id": p + 1,
                "user_id": retiree_user_ids[p] if p < accounts else None,
                "full_name": name(),
                "phone": f"13{p:09d}",
                "birthday": birthday,
                "birthday_is_lunar": False,
                "grid_id": rnd.randint(1, scale.grids),
                "address": f"{rnd.randint(1, 60)}号楼{rnd.randint(1, 6)}单元{rnd.randint(1, 99)}",
                "lives_alone": rnd.random() < 0.2,
                "over_80": birthday <= cutoff,
                "disability": False,
                "financial_hardship": False,
                "lives_in_other_city": False,
                "created_at": created,
            }
        )
    await _bulk(connection, RetireeProfile.__table__, profiles)
    profile_ids = [p["id"] for p in profiles]
    links = []
    for n, family_id in enumerate(family_user_ids):
        links.append(
            {
                "id": n + 1,
                "family_user_id": family_id,
                "profile_id": rnd.choice(profile_ids),
                "relation": rnd.choice(["儿子", "女儿", "孙子"]),
                "status": LinkStatus.APPROVED if n % 20 else LinkStatus.PENDING,
                "decided_by_id": profiles[0]["user_id"],
                "decided_at": created,
                "created_at": created,
            }
        )
    await _bulk(connection, FamilyLink.__table__, links)
    approved_family = {
        link["family_user_id"]: link["profile_id"]
        for link in links
        if link["status"] == LinkStatus.APPROVED
    }

    # -- service requests -----------------------------------------------------------------
    requests: list[dict[str, Any]] = []
    events: list[dict[str, Any]] = []
    attachments: list[dict[str, Any]] = []
    numbers: dict[int, int] = {}
    open_request_ids: list[int] = []
    family_items = list(approved_family.items())
    for r in range(scale.requests):
        request_id = r + 1
        is_open = r >= scale.requests - scale.open_requests
        if is_open:  # the open ones are the newest: filed over the last ten days
            made = now - timedelta(minutes=rnd.randint(10, 10 * 24 * 60))
        else:
            made = created + timedelta(minutes=rnd.randint(0, 780 * 24 * 60))
        year = made.year
        numbers[year] = numbers.get(year, 0) + 1
        who = rnd.random()
        if who < 0.25 and family_items:
            by, profile_id = rnd.choice(family_items)
        else:
            profile_id = rnd.randint(1, accounts) if who < 0.85 else rnd.choice(profile_ids)
            by = profiles[profile_id - 1]["user_id"] or rnd.choice(staff_ids)
        urgent = rnd.random() < 0.1
        accept_due = made + timedelta(hours=2 if urgent else 24)
        done_due = made + timedelta(hours=48 if urgent else 120)
        escalate = 60 if urgent else 240
        if is_open:
            status = rnd.choice(
                [RequestStatus.NEW, RequestStatus.ACCEPTED, RequestStatus.IN_PROGRESS]
            )
        else:
            status = rnd.choices(
                [RequestStatus.DONE, RequestStatus.CANCELLED, RequestStatus.REJECTED],
                weights=[90, 6, 4],
            )[0]
        assignee = None if status == RequestStatus.NEW else rnd.choice(staff_ids)
        accepted = made + timedelta(hours=rnd.uniform(0.2, 20)) if assignee else None
        closed = None
        if not status.is_open:
            closed = made + timedelta(hours=rnd.uniform(1, 100))
            closed = min(closed, now - timedelta(minutes=5))
        rating = rnd.randint(3, 5) if status == RequestStatus.DONE and rnd.random() < 0.6 else None
        reminded = None
        if status == RequestStatus.DONE and rating is None and closed is not None:
            if closed + RATING_REMINDER_AFTER <= now:
                reminded = closed + RATING_REMINDER_AFTER  # the scan asked once more
        values = {
            "id": request_id,
            "number": f"FW-{year}-{numbers[year]:05d}",
            "profile_id": profile_id,
            "created_by_id": by,
            "category": rnd.choice(list(Category)),
            "description": "水龙头漏水，请师傅上门看看" if r % 3 else "需要陪同去医院复诊",
            "preferred": Preferred.THIS_WEEK,
            "urgent": urgent,
            "status": status,
            "assignee_id": assignee,
            "accept_due_at": accept_due,
            "done_due_at": done_due,
            "escalate_after_minutes": escalate,
            "accepted_at": accepted,
            "closed_at": closed,
            "accept_alert_level": _level(accept_due, escalate, accepted or closed or now),
            "done_alert_level": _level(done_due, escalate, closed or now) if accepted else 0,
            "rating": rating,
            "rated_at": closed if rating else None,
            "rate_reminded_at": reminded,
            "updated_at": closed or accepted or made,
            "created_at": made,
        }
        values["next_alert_at"] = next_alert_at(_request_like(values))
        requests.append(values)
        if is_open:
            open_request_ids.append(request_id)
        events.append(
            {
                "request_id": request_id,
                "actor_id": by,
                "action": EventAction.CREATED,
                "status": RequestStatus.NEW,
                "created_at": made,
            }
        )
        if accepted is not None:
            events.append(
                {
                    "request_id": request_id,
                    "actor_id": assignee,
                    "action": EventAction.ACCEPTED,
                    "status": RequestStatus.ACCEPTED,
                    "created_at": accepted,
                }
            )
        if closed is not None:
            events.append(
                {
                    "request_id": request_id,
                    "actor_id": assignee or by,
                    "action": EventAction(status.value),
                    "status": status,
                    "created_at": closed,
                }
            )
        if r % 10 == 0:
            attachments.append(
                {
                    "request_id": request_id,
                    "kind": AttachmentKind.PHOTO,
                    "file_id": f"photo-{request_id}",
                    "created_at": made,
                }
            )
    await _bulk(connection, ServiceRequest.__table__, requests)
    await _bulk(connection, RequestEvent.__table__, events)
    await _bulk(connection, RequestAttachment.__table__, attachments)

    # -- activities and sign-ups ----------------------------------------------------------
    activities = []
    registrations: list[dict[str, Any]] = []
    past_ids, upcoming_ids = [], []
    total = scale.past_activities + scale.upcoming_activities
    for a in range(total):
        activity_id = a + 1
        upcoming = a >= scale.past_activities
        if upcoming:
            starts = now + timedelta(hours=rnd.randint(3, 14 * 24))
            upcoming_ids.append(activity_id)
        else:
            starts = created + timedelta(hours=rnd.randint(0, 798 * 24))
            past_ids.append(activity_id)
        capacity = rnd.choice([30, 40, 60, 80])
        reminded = None
        if starts - timedelta(hours=24) <= now:
            reminded = 2 if starts - timedelta(hours=2) <= now else 24
        taken = rnd.sample(profile_ids, rnd.randint(capacity // 2, capacity))
        for seq, profile_id in enumerate(taken, start=1):
            signed = starts - timedelta(days=rnd.uniform(1.5, 10))
            present = not upcoming and rnd.random() < 0.8
            rated = present and rnd.random() < 0.5
            finished = starts + timedelta(hours=2)
            registrations.append(
                {
                    "activity_id": activity_id,
                    "profile_id": profile_id,
                    "registered_by_id": profiles[profile_id - 1]["user_id"],
                    "status": RegistrationStatus.CONFIRMED,
                    "seq": seq,
                    "confirmed_at": signed,
                    "attendance": Attendance.PRESENT if present else None,
                    "rating": rnd.randint(3, 5) if rated else None,
                    "rated_at": finished + timedelta(hours=3) if rated else None,
                    "feedback_asked_at": (
                        finished + timedelta(hours=1)
                        if present and finished + timedelta(hours=1) <= now
                        else None
                    ),
                    "created_at": signed,
                }
            )
        activities.append(
            {
                "id": activity_id,
                "title": f"活动{activity_id}",
                "category": rnd.choice(list(ActivityCategory)),
                "description": "",
                "place": "社区活动室",
                "suits": "",
                "bring": "",
                "starts_at": starts,
                "capacity": capacity,
                "status": ActivityStatus.OPEN,
                "organiser_id": rnd.choice(staff_ids),
                "next_seq": len(taken) + 1,
                "reminded_hours": reminded,
                "created_at": starts - timedelta(days=14),
            }
        )
    await _bulk(connection, Activity.__table__, activities)
    await _bulk(connection, Registration.__table__, registrations)

    # -- the outbox: what the office has sent -------------------------------------------------
    outbox = []
    chats = [(u["id"], u["telegram_id"]) for u in users]
    for n in range(scale.outbox):
        user_id, chat_id = rnd.choice(chats)
        request_id = rnd.randint(1, scale.requests)
        when = created + timedelta(minutes=rnd.randint(0, 799 * 24 * 60))
        outbox.append(
            {
                "chat_id": chat_id,
                "user_id": user_id,
                "kind": NotificationKind.REQUEST_STATUS,
                "params": {"request_id": request_id, "number": "FW", "status": "done"},
                "dedup_key": f"request:{request_id}:event:{n}:to:{user_id}",
                "due_at": when,
                "status": OutboxStatus.SENT,
                "attempts": 1,
                "sent_at": when,
                "telegram_message_id": n + 1,
                "created_at": when,
            }
        )
    for request_id in open_request_ids:  # the staff group's cards of the open requests
        outbox.append(
            {
                "chat_id": -1001234567890,
                "kind": NotificationKind.REQUEST_STAFF_CARD,
                "params": {"request_id": request_id},
                "dedup_key": f"request:{request_id}:card",
                "due_at": now - timedelta(days=1),
                "status": OutboxStatus.SENT,
                "attempts": 1,
                "sent_at": now - timedelta(days=1),
                "telegram_message_id": 10_000_000 + request_id,
                "created_at": now - timedelta(days=1),
            }
        )
    await _bulk(connection, OutboxMessage.__table__, outbox)
    if connection.dialect.name == "postgresql":  # ids were given: move the sequences on
        for table in ("users", "grids", "retiree_profiles", "family_links", "service_requests",
                      "activities"):  # fmt: skip
            await connection.execute(
                text(
                    f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                    f"(SELECT max(id) FROM {table}))"
                )
            )
    return Seeded(
        staff_ids=staff_ids,
        caseworker_ids=caseworker_ids,
        supervisor_id=supervisor_id,
        retiree_user_ids=retiree_user_ids,
        family_user_ids=list(approved_family),
        profile_ids=profile_ids,
        open_request_ids=open_request_ids,
        upcoming_activity_ids=upcoming_ids,
        past_activity_ids=past_ids,
    )


# -- templates, one per schema, copied for each run ------------------------------------------


def _cache_key() -> str:
    digest = hashlib.sha256(Path(__file__).read_bytes())
    for path in sorted((MIGRATIONS_DIR / "versions").glob("*.py")):
        digest.update(path.name.encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:12]


_seeded: dict[str, Seeded] = {}  # what the template holds (the ids), per dialect
_BUILD_SECONDS: dict[str, float] = {}


async def _build(url: str, dialect: str) -> None:
    started = time.perf_counter()
    await upgrade(url)
    engine = create_engine(url)
    try:
        async with engine.begin() as connection:
            _seeded[dialect] = await seed(connection)
        _cache_dir().mkdir(exist_ok=True)
        _ids_file(dialect).write_text(json.dumps(asdict(_seeded[dialect])))
        if dialect == "postgresql":
            async with engine.connect() as connection:
                await connection.execution_options(isolation_level="AUTOCOMMIT")
                await connection.execute(text("VACUUM ANALYZE"))
    finally:
        await engine.dispose()
    _BUILD_SECONDS[dialect] = time.perf_counter() - started


def _ids_file(dialect: str) -> Path:
    return _cache_dir() / f"scale-{_cache_key()}-{dialect}.json"


def _ids_of(dialect: str) -> Seeded:
    """What the template holds: kept beside it when it is built."""
    if dialect not in _seeded:
        _seeded[dialect] = Seeded(**json.loads(_ids_file(dialect).read_text()))
    return _seeded[dialect]


def _cache_dir() -> Path:
    return Path(tempfile.gettempdir()) / "retiree-bot-bench"


def _sqlite_template() -> Path:
    return _cache_dir() / f"scale-{_cache_key()}.sqlite3"


async def _ensure_sqlite() -> Path:
    path = _sqlite_template()
    if not path.exists() or not _ids_file("sqlite").exists():
        for old in _cache_dir().glob("scale-*"):
            if _cache_key() not in old.name:
                old.unlink()  # the templates of older schemas
        _cache_dir().mkdir(exist_ok=True)
        building = path.with_suffix(".building")
        building.unlink(missing_ok=True)
        await _build(f"sqlite+aiosqlite:///{building}", "sqlite")
        building.rename(path)
    return path


def _pg_base() -> str:
    return PG_ADMIN_DSN.rsplit("/", 1)[0].replace("postgresql://", "postgresql+asyncpg://")


async def _pg_admin() -> Any:
    import asyncpg

    return await asyncpg.connect(PG_ADMIN_DSN, timeout=3)


async def _ensure_pg() -> str:
    name = f"retiree_bench_scale_{_cache_key()}"
    admin = await _pg_admin()
    try:
        existing = {
            row["datname"]
            for row in await admin.fetch(
                "SELECT datname FROM pg_database WHERE datname LIKE 'retiree\\_bench\\_scale\\_%'"
            )
        }
        for old in existing - {name}:
            await admin.execute(f'DROP DATABASE IF EXISTS "{old}" WITH (FORCE)')
        if name not in existing or not _ids_file("postgresql").exists():
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            await admin.execute(f'CREATE DATABASE "{name}"')
            try:
                await _build(f"{_pg_base()}/{name}", "postgresql")
            except BaseException:
                await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
                raise
    finally:
        await admin.close()
    return name


async def pg_reachable() -> bool:
    try:
        admin = await _pg_admin()
    except Exception:  # any failure to connect: PostgreSQL is skipped
        return False
    await admin.close()
    return True


@asynccontextmanager
async def scaled_database(dialect: str) -> AsyncIterator[tuple[str, Seeded]]:
    """A fresh copy of the seeded template: (database URL, the ids in it)."""
    if dialect == "sqlite":
        template = await _ensure_sqlite()
        with tempfile.TemporaryDirectory() as folder:
            path = Path(folder) / "scale.sqlite3"
            shutil.copyfile(template, path)
            url = f"sqlite+aiosqlite:///{path}"
            yield url, _ids_of(dialect)
        return
    template = await _ensure_pg()
    name = f"retiree_bench_run_{uuid.uuid4().hex[:10]}"
    admin = await _pg_admin()
    await admin.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
    await admin.close()
    try:
        url = f"{_pg_base()}/{name}"
        yield url, _ids_of(dialect)
    finally:
        admin = await _pg_admin()
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


async def _describe(dialect: str) -> None:
    async with scaled_database(dialect) as (url, _):
        engine = create_engine(url)
        try:
            async with engine.connect() as c:
                counts = []
                for table in ("retiree_profiles", "users", "service_requests", "request_events",
                              "activity_registrations", "outbox"):  # fmt: skip
                    n = (await c.execute(text(f"SELECT count(*) FROM {table}"))).scalar_one()
                    counts.append(f"{table} {n:,}")
        finally:
            await engine.dispose()
    built = _BUILD_SECONDS.get(dialect)
    how = f"seeded in {built:.1f} s" if built is not None else "template reused"
    print(f"   {dialect:<10} {how}: " + ", ".join(counts), flush=True)


def main() -> None:
    async def run() -> None:
        await _describe("sqlite")
        if await pg_reachable():
            await _describe("postgresql")
        else:
            print("   PostgreSQL: not reachable, skipped", flush=True)

    asyncio.run(run())


if __name__ == "__main__":
    main()
