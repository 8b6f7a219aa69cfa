"""Migration 0005 turns the family links' typed relations into codes: a known word (in any of
the three languages) becomes its code, anything else "other" with the words kept; on
downgrade the words come back. SQLite and PostgreSQL."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from bot.db import create_engine, downgrade, upgrade
from models.users import RetireeProfile, User
from tests.test_outbox_edit_of_migration import empty_database_url

__all__ = ["empty_database_url"]  # the fixture, on both databases

USERS = User.__table__  # unchanged by 0005: the model's own defaults fill it
PROFILES = RetireeProfile.__table__
OLD_LINKS = sa.table(
    "family_links",
    sa.column("id", sa.Integer),
    sa.column("family_user_id", sa.Integer),
    sa.column("profile_id", sa.Integer),
    sa.column("relation", sa.String),
    sa.column("status", sa.String),
)
TYPED = {1: "女儿", 2: " Son ", 3: "兒媳", 4: "干女儿", 5: "nephew"}


async def _links(url: str, *columns: str) -> dict[int, tuple[Any, ...]]:
    engine = create_engine(url)
    try:
        async with engine.connect() as connection:
            selected = [sa.column("id"), *(sa.column(c) for c in columns)]
            result = await connection.execute(
                sa.select(*selected).select_from(sa.table("family_links"))
            )
            return {row[0]: tuple(row[1:]) for row in result}
    finally:
        await engine.dispose()


async def test_typed_relations_become_codes_and_come_back(empty_database_url: str) -> None:
    url = empty_database_url
    await upgrade(url, "0001")
    engine = create_engine(url)
    try:
        async with engine.begin() as connection:
            for link_id, words in TYPED.items():
                await connection.execute(
                    sa.insert(USERS).values(id=link_id, telegram_id=7000 + link_id)
                )
                await connection.execute(
                    sa.insert(PROFILES).values(id=link_id, full_name=f"老人{link_id}")
                )
                await connection.execute(
                    sa.insert(OLD_LINKS).values(
                        id=link_id,
                        family_user_id=link_id,
                        profile_id=link_id,
                        relation=words,
                        status="approved",
                    )
                )
    finally:
        await engine.dispose()

    await upgrade(url, "heads")
    rows = await _links(url, "relation", "relation_note", "retiree_female", "activity_reminders")
    assert rows == {
        1: ("daughter", None, None, False),
        2: ("son", None, None, False),
        3: ("daughter_in_law", None, None, False),
        4: ("other", "干女儿", None, False),
        5: ("nephew", None, None, False),
    }

    await downgrade(url, "0005@-1")  # only this branch
    assert await _links(url, "relation") == {
        1: ("Daughter",),
        2: ("Son",),
        3: ("Daughter-in-law",),
        4: ("干女儿",),
        5: ("Nephew",),
    }
    await upgrade(url, "heads")
    assert (await _links(url, "relation"))[4] == ("other",)
