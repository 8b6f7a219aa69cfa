"""Shared by the scale benchmarks: timing (median of repeats), counting statements, the anchor
(a primary-key select through a session of its own, measured in the same run), measuring a
query with and without an index, and printing each figure as a ratio to the anchor."""

from __future__ import annotations

import statistics
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import event, select, text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from models.users import User


class StatementCounter:
    """Counts the statements an engine sends (an executemany counts once; SQLite's BEGIN
    IMMEDIATE does not count, PostgreSQL's BEGIN and COMMIT are not statements here either)."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.count = 0
        event.listen(engine.sync_engine, "before_cursor_execute", self._seen)

    def _seen(self, conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if not statement.lstrip().upper().startswith("BEGIN"):
            self.count += 1


@dataclass
class Figure:
    ms: float
    statements: int | None = None


Run = Callable[[AsyncSession], Awaitable[Any]]


async def timed(
    sessionmaker: async_sessionmaker[AsyncSession],
    counter: StatementCounter,
    run: Run,
    *,
    repeats: int = 15,
    setup: Run | None = None,
    commit: bool = True,
) -> Figure:
    """Median milliseconds of `run` in a session of its own (opened, run, committed; or rolled
    back when `commit` is False, after a `setup` that is not timed, so each repeat does the
    same work). Statements counted from the session's first to its last."""
    times: list[float] = []
    statements = 0
    for _ in range(repeats):
        async with sessionmaker() as session:
            if setup is not None:
                await setup(session)
            before = counter.count
            started = time.perf_counter()
            await run(session)
            if commit:
                await session.commit()
            times.append((time.perf_counter() - started) * 1000)
            statements = counter.count - before
            if not commit:
                await session.rollback()
    return Figure(statistics.median(times), statements)


async def anchor(
    sessionmaker: async_sessionmaker[AsyncSession], counter: StatementCounter, user_id: int
) -> Figure:
    """One primary-key select in a session of its own: the unit every figure is divided by."""

    async def one(session: AsyncSession) -> None:
        (await session.execute(select(User.id, User.telegram_id).where(User.id == user_id))).one()

    await timed(sessionmaker, counter, one, repeats=20)  # warm the pool and the caches
    return await timed(sessionmaker, counter, one, repeats=101)


async def drop_indexes(engine: AsyncEngine, names: list[str]) -> None:
    async with engine.begin() as connection:
        for name in names:
            await connection.execute(text(f"DROP INDEX IF EXISTS {name}"))


def line(label: str, figure: Figure, unit: Figure, note: str = "") -> str:
    statements = (
        f"  {figure.statements} statement{'s' if figure.statements != 1 else ''}"
        if figure.statements is not None
        else ""
    )
    return (
        f"   {label:<46} {figure.ms:8.2f} ms {figure.ms / unit.ms:8.1f}× anchor{statements}{note}"
    )


def with_without(label: str, with_index: Figure, without: Figure, unit_with: Figure,
                 unit_without: Figure) -> str:  # fmt: skip
    return (
        f"   {label:<46} {with_index.ms:8.2f} ms {with_index.ms / unit_with.ms:7.1f}×  |"
        f"  without {without.ms:8.2f} ms {without.ms / unit_without.ms:8.1f}×"
        f"  ({without.ms / with_index.ms:5.1f}× slower)"
    )
