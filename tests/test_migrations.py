"""Migrations: every head upgrades, downgrades to nothing and upgrades again, on SQLite and on
PostgreSQL; so does every single revision, one step at a time (the stairway: each downgrade
undoes exactly its upgrade); and the migrated schema is exactly what the models say (no pending
autogenerate diff: a model change without its migration fails here)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import Script, ScriptDirectory
from sqlalchemy import inspect, text
from sqlalchemy.engine import Connection

import models  # noqa: F401  (every entity on the metadata)
from bot.db import MIGRATIONS_DIR, alembic_config, create_engine, downgrade, upgrade
from models.base import Base
from tests.conftest import PG_ADMIN_DSN, _drop_pg, _pg_url

pytestmark = pytest.mark.filterwarnings("ignore::sqlalchemy.exc.SAWarning")


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
async def empty_database_url(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    """A brand-new database with no tables at all."""
    if request.param == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'fresh.sqlite3'}"
        return
    if not request.getfixturevalue("pg_available"):  # fails instead under CI
        pytest.skip("PostgreSQL is not reachable")
    connection = await asyncpg.connect(PG_ADMIN_DSN, timeout=3)
    name = f"retiree_bot_migr_{uuid.uuid4().hex[:12]}"
    await connection.execute(f'CREATE DATABASE "{name}"')
    await connection.close()
    yield _pg_url(name)
    await _drop_pg(name)


async def table_names(url: str) -> set[str]:
    engine = create_engine(url)
    try:
        async with engine.connect() as connection:
            return set(await connection.run_sync(lambda c: inspect(c).get_table_names()))
    finally:
        await engine.dispose()


def _diff(connection: Connection) -> list[Any]:
    context = MigrationContext.configure(
        connection,
        opts={
            "compare_type": True,
            "render_as_batch": connection.dialect.name == "sqlite",
        },
    )
    return list(compare_metadata(context, Base.metadata))


async def schema_diff(url: str) -> list[Any]:
    engine = create_engine(url)
    try:
        async with engine.connect() as connection:
            return await connection.run_sync(_diff)
    finally:
        await engine.dispose()


def test_the_heads_descend_from_the_foundation() -> None:
    script = ScriptDirectory.from_config(alembic_config("sqlite+aiosqlite://"))
    heads = script.get_heads()
    assert heads
    for head in heads:
        chain = [rev.revision for rev in script.walk_revisions(base="base", head=head)]
        assert "0001" in chain, f"head {head} does not descend from 0001"


async def test_upgrade_downgrade_upgrade(empty_database_url: str) -> None:
    url = empty_database_url
    model_tables = set(Base.metadata.tables)

    await upgrade(url, "heads")
    assert model_tables <= await table_names(url)

    await downgrade(url, "base")
    assert (await table_names(url)) - {"alembic_version"} == set()

    await upgrade(url, "heads")
    assert model_tables <= await table_names(url)


async def test_the_migrated_schema_matches_the_models(empty_database_url: str) -> None:
    await upgrade(empty_database_url, "heads")
    diff = await schema_diff(empty_database_url)
    assert diff == [], "models and migrations disagree (write a migration):\n" + "\n".join(
        map(repr, diff)
    )


def revisions_in_order() -> list[Script]:
    """Every revision, each after all of its ancestors (walk_revisions goes from the heads down,
    over every branch)."""
    script = ScriptDirectory.from_config(alembic_config("sqlite+aiosqlite://"))
    return list(reversed(list(script.walk_revisions(base="base", head="heads"))))


def parents(revision: Script) -> tuple[str, ...]:
    down = revision.down_revision
    if down is None:
        return ()
    return (down,) if isinstance(down, str) else tuple(down)


def _snapshot(connection: Connection) -> dict[str, Any]:
    """What a migration may change: tables with their columns, indexes, unique constraints
    and foreign keys, and on PostgreSQL the enum types (a downgrade that leaves one behind
    breaks the next upgrade)."""
    inspector = inspect(connection)
    tables = {}
    for table in sorted(set(inspector.get_table_names()) - {"alembic_version"}):
        tables[table] = {
            "columns": sorted(c["name"] for c in inspector.get_columns(table)),
            "indexes": sorted(str(i["name"]) for i in inspector.get_indexes(table)),
            "unique": sorted(str(u["name"]) for u in inspector.get_unique_constraints(table)),
            "foreign_keys": sorted(
                (f["referred_table"], tuple(f["constrained_columns"]))
                for f in inspector.get_foreign_keys(table)
            ),
        }
    enums: list[str] = []
    if connection.dialect.name == "postgresql":
        enums = sorted(
            connection.execute(text("SELECT typname FROM pg_type WHERE typtype = 'e'")).scalars()
        )
    heads = MigrationContext.configure(connection).get_current_heads()
    return {"tables": tables, "enums": enums, "heads": sorted(heads)}


async def snapshot(url: str) -> dict[str, Any]:
    engine = create_engine(url)
    try:
        async with engine.connect() as connection:
            return await connection.run_sync(_snapshot)
    finally:
        await engine.dispose()


def test_the_stairway_walks_every_revision() -> None:
    """Guards the walk below: it must see every revision file, each after its parents."""
    order = [revision.revision for revision in revisions_in_order()]
    files = list((MIGRATIONS_DIR / "versions").glob("*.py"))
    assert len(order) == len(files) and order[0] == "0001"
    for index, revision in enumerate(revisions_in_order()):
        assert set(parents(revision)) <= set(order[:index]), revision.revision


async def test_each_revision_upgrades_downgrades_and_upgrades_again(
    empty_database_url: str,
) -> None:
    """The stairway: revision by revision in topological order, upgrade to it, downgrade to
    its parent(s) and upgrade again. Each capability is its own branch, so the steps name
    revision ids (`<revision>@<parent>` downgrades that branch only), never "-1"; the other
    branches stay applied while one branch steps up and down."""
    url = empty_database_url
    for revision in revisions_in_order():
        rev = revision.revision
        before = await snapshot(url)
        await upgrade(url, rev)
        after = await snapshot(url)
        assert rev in after["heads"], f"upgrade {rev}: heads are {after['heads']}"

        target = f"{rev}@{parents(revision)[0]}" if parents(revision) else f"{rev}@base"
        await downgrade(url, target)
        undone = await snapshot(url)
        assert undone == before, f"downgrade {target} did not undo upgrade {rev}"

        await upgrade(url, rev)
        assert await snapshot(url) == after, f"upgrade {rev} again differs from the first time"
