"""Migrations: every head upgrades, downgrades to nothing and upgrades again, on SQLite and on
PostgreSQL, and the migrated schema is exactly what the models say (no pending autogenerate
diff: a model change without its migration fails here)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import inspect
from sqlalchemy.engine import Connection

import models  # noqa: F401  (every entity on the metadata)
from bot.db import alembic_config, create_engine, downgrade, upgrade
from models.base import Base
from tests.conftest import PG_ADMIN_DSN, _drop_pg, _pg_url

pytestmark = pytest.mark.filterwarnings("ignore::sqlalchemy.exc.SAWarning")


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
async def empty_database_url(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    """A brand-new database with no tables at all."""
    if request.param == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'fresh.sqlite3'}"
        return
    try:
        connection = await asyncpg.connect(PG_ADMIN_DSN, timeout=3)
    except (OSError, asyncpg.PostgresError, TimeoutError):
        pytest.skip("PostgreSQL is not reachable")
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
