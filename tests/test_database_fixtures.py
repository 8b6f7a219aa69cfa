"""The database fixtures themselves: both databases, migrated to every head, per test."""

from alembic.script import ScriptDirectory
from sqlalchemy import text

from bot.db import alembic_config, create_engine


async def test_any_database_url_gives_a_database_at_every_head(any_database_url: str) -> None:
    expected = set(ScriptDirectory.from_config(alembic_config(any_database_url)).get_heads())
    engine = create_engine(any_database_url)
    async with engine.connect() as connection:
        rows = (await connection.execute(text("SELECT version_num FROM alembic_version"))).all()
    await engine.dispose()
    assert {row[0] for row in rows} == expected
