"""Migration 0002 moves the in-place edit target of rows already queued from the JSON params
(`_edit`, as before) to the `edit_of` column, and back on downgrade, on SQLite and PostgreSQL:
a card edit queued before an upgrade still edits the card instead of posting a second one."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import asyncpg
import pytest
import sqlalchemy as sa

from bot.db import create_engine, downgrade, upgrade
from models.base import UTCDateTime, utcnow
from tests.conftest import PG_ADMIN_DSN, _drop_pg, _pg_url

CARD = "request:7:card"
# The outbox as the foundation revision (0001) made it, before edit_of.
OLD_OUTBOX = sa.table(
    "outbox",
    sa.column("chat_id", sa.BigInteger),
    sa.column("kind", sa.String),
    sa.column("params", sa.JSON),
    sa.column("dedup_key", sa.String),
    sa.column("due_at", UTCDateTime),
    sa.column("status", sa.String),
    sa.column("attempts", sa.Integer),
)


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
async def empty_database_url(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    if request.param == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'fresh.sqlite3'}"
        return
    try:
        connection = await asyncpg.connect(PG_ADMIN_DSN, timeout=3)
    except (OSError, asyncpg.PostgresError, TimeoutError):
        pytest.skip("PostgreSQL is not reachable")
    name = f"retiree_bot_edit_of_{uuid.uuid4().hex[:12]}"
    await connection.execute(f'CREATE DATABASE "{name}"')
    await connection.close()
    yield _pg_url(name)
    await _drop_pg(name)


async def _rows(url: str, *columns: str) -> dict[str, tuple[Any, ...]]:
    engine = create_engine(url)
    try:
        async with engine.connect() as connection:
            table = sa.table("outbox", sa.column("dedup_key"), sa.column("params", sa.JSON))
            selected = [table.c.dedup_key, table.c.params, *(sa.column(c) for c in columns)]
            result = await connection.execute(sa.select(*selected))
            return {row[0]: tuple(row[1:]) for row in result}
    finally:
        await engine.dispose()


async def test_queued_edits_move_to_the_column_and_back(empty_database_url: str) -> None:
    url = empty_database_url
    await upgrade(url, "0001")
    engine = create_engine(url)
    try:
        async with engine.begin() as connection:
            common = {"chat_id": -100, "kind": "request.staff_card", "due_at": utcnow()}
            for values in (
                {**common, "params": {"status": "new"}, "dedup_key": CARD},
                {
                    **common,
                    "params": {"status": "accepted", "assignee": "赵丽", "_edit": CARD},
                    "dedup_key": f"{CARD}:e3",
                },
            ):
                # status and attempts as enqueue writes them
                await connection.execute(
                    sa.insert(OLD_OUTBOX).values(status="pending", attempts=0, **values)
                )
    finally:
        await engine.dispose()

    await upgrade(url, "heads")
    rows = await _rows(url, "edit_of")
    assert rows[CARD] == ({"status": "new"}, None)
    assert rows[f"{CARD}:e3"] == ({"status": "accepted", "assignee": "赵丽"}, CARD)

    await downgrade(url, "0002@-1")  # only this branch: the capabilities' tables stay
    rows = await _rows(url)
    assert rows[CARD] == ({"status": "new"},)
    assert rows[f"{CARD}:e3"] == ({"status": "accepted", "assignee": "赵丽", "_edit": CARD},)

    await upgrade(url, "heads")
    assert (await _rows(url, "edit_of"))[f"{CARD}:e3"][1] == CARD
