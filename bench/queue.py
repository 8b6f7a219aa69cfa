"""Lists at scale (bench/seed_scale.py: 100,000 retirees, 50,000 requests of which ~1,500
open), on SQLite and PostgreSQL: the staff queue (domain query, and the whole screen with its
text and keyboard), "My requests", the inline keyboards built directly vs with aiogram's
builder, and the indexes the lookups rely on, each with and without. Every figure is also a
ratio to the anchor, a primary-key select in a session of its own measured in the same run.
No assertions.

    python -m bench.queue
"""

from __future__ import annotations

import asyncio
import statistics
import time
from typing import Any

from aiogram.types import InlineKeyboardMarkup
from aiogram.utils.keyboard import InlineKeyboardBuilder
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from bench._measure import Figure, StatementCounter, anchor, drop_indexes, line, timed, with_without
from bench.seed_scale import NOW, Seeded, pg_reachable, scaled_database
from bot.db import create_engine, create_sessionmaker
from bot.i18n import create_i18n
from handlers.requests.callbacks import MineAction, MineCb, QueueCb, StaffAction, StaffCb
from handlers.requests.keyboards import my_list_keyboard, queue_keyboard
from handlers.requests.mine import _list_view
from handlers.requests.queue import _queue_view
from models.office import OfficeSettings
from models.outbox import OutboxMessage
from models.requests import QueueFilter, requests_of, staff_members, staff_queue
from models.users import User, family_of

OFFICE = OfficeSettings(staff_chat_id=-1001234567890)
LIST_INDEXES = [
    "ix_users_role",
    "ix_retiree_profiles_grid_id",
    "ix_service_requests_created_by_id",
    "ix_family_links_profile_id",
    "ix_outbox_user_id",
    "ix_service_requests_open_id",
]


def _builder_queue_keyboard(items: list[tuple[int, str]]) -> InlineKeyboardMarkup:
    """The queue keyboard as it was built before (aiogram's InlineKeyboardBuilder)."""
    builder = InlineKeyboardBuilder()
    for value in QueueFilter:
        builder.button(text=value.value, callback_data=QueueCb(view=value))
    for request_id, label in items:
        builder.button(
            text=label, callback_data=StaffCb(action=StaffAction.OPEN, request_id=request_id)
        )
    builder.adjust(3, 2, *([1] * len(items)))
    return builder.as_markup()


def _builder_list_keyboard(items: list[tuple[int, str]]) -> InlineKeyboardMarkup:
    builder = InlineKeyboardBuilder()
    for request_id, label in items:
        builder.button(
            text=label, callback_data=MineCb(action=MineAction.OPEN, request_id=request_id)
        )
    builder.adjust(1)
    return builder.as_markup()


def _python_ms(run: Any, repeats: int = 200) -> Figure:
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        run()
        times.append((time.perf_counter() - started) * 1000)
    return Figure(statistics.median(times))


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
    i18n = create_i18n("zh_Hans")
    unit = await anchor(sessionmaker, counter, seeded.retiree_user_ids[777])
    print(
        f"   {label}: anchor (primary-key select in its own session) {unit.ms:.3f} ms", flush=True
    )
    caseworker, family = seeded.caseworker_ids[0], seeded.family_user_ids[0]
    retiree, profile = seeded.retiree_user_ids[0], seeded.profile_ids[0]
    async with sessionmaker() as session:
        open_count = len(seeded.open_request_ids)
        total = await session.scalar(select(func.count()).select_from(OutboxMessage))
    print(f"   ({open_count:,} open requests; {total:,} outbox rows)", flush=True)

    async def user(session: AsyncSession, user_id: int) -> User:
        found = await session.get(User, user_id)
        assert found is not None
        return found

    def queue(view: QueueFilter) -> Any:
        async def run(session: AsyncSession) -> None:
            await staff_queue(session, await user(session, caseworker), view, NOW)

        return run

    def mine(user_id: int) -> Any:
        async def run(session: AsyncSession) -> None:
            await requests_of(session, await user(session, user_id))

        return run

    async def queue_screen(session: AsyncSession) -> None:
        with i18n.context(), i18n.use_locale("zh_Hans"):
            await _queue_view(session, await user(session, caseworker), QueueFilter.ALL)

    async def list_screen(session: AsyncSession) -> None:
        with i18n.context(), i18n.use_locale("zh_Hans"):
            await _list_view(session, await user(session, family), OFFICE)

    async def staff_list(session: AsyncSession) -> None:
        await staff_members(session)

    async def family_lookup(session: AsyncSession) -> None:
        await family_of(session, profile)

    async def outbox_of_person(session: AsyncSession) -> None:
        # the lookup ON DELETE CASCADE makes when a person is deleted
        await session.execute(
            select(func.count()).where(OutboxMessage.user_id == seeded.family_user_ids[5])
        )

    # The anchor's own session opening is included in every figure; a loaded user is too.
    figures = {
        "staff queue, all open (30 of them)": queue(QueueFilter.ALL),
        "staff queue, my grids": queue(QueueFilter.GRIDS),
        "staff queue, mine": queue(QueueFilter.MINE),
        "staff queue, overdue": queue(QueueFilter.OVERDUE),
        "staff queue screen (query, text, keyboard)": queue_screen,
        "my requests, family member": mine(family),
        "my requests, retiree": mine(retiree),
        "my requests screen, family member": list_screen,
    }
    measured: dict[str, Figure] = {}
    for name, run in figures.items():
        measured[name] = await timed(sessionmaker, counter, run)
        print(line(name, measured[name], unit), flush=True)

    items = [(i, f"FW-2026-{i:05d} · 家政维修 · 王秀英") for i in range(30)]
    with i18n.context(), i18n.use_locale("zh_Hans"):
        twenty = items[:20]
        for name, run in (
            ("queue keyboard, 30 requests: built directly", lambda: queue_keyboard(items)),
            ("queue keyboard, 30: aiogram builder", lambda: _builder_queue_keyboard(items)),
            ("my requests keyboard, 20: built directly", lambda: my_list_keyboard(twenty)),
            ("my requests keyboard, 20: aiogram builder", lambda: _builder_list_keyboard(twenty)),
        ):
            print(line(name, _python_ms(run), unit), flush=True)

    lookups = {
        "staff by role (users.role)": staff_list,
        "queue, my grids (retiree_profiles.grid_id)": queue(QueueFilter.GRIDS),
        "my requests (service_requests.created_by_id)": mine(family),
        "family of a retiree (family_links.profile_id)": family_lookup,
        "a person's outbox rows (outbox.user_id)": outbox_of_person,
        "queue, all open (partial index, open by id)": queue(QueueFilter.ALL),
    }
    with_index = {name: await timed(sessionmaker, counter, run) for name, run in lookups.items()}
    await drop_indexes(engine, LIST_INDEXES)
    unit_without = await anchor(sessionmaker, counter, seeded.retiree_user_ids[778])
    without = {name: await timed(sessionmaker, counter, run) for name, run in lookups.items()}
    print("   with and without the index:", flush=True)
    for name in lookups:
        print(with_without(name, with_index[name], without[name], unit, unit_without), flush=True)


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
