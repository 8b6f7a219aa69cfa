"""The fixed work of an update, counted (not timed): the statements each typical update runs,
how many of them write, and how many connections it holds at once, on SQLite and PostgreSQL.

The budget (issue 10): on average over a realistic mix at most 4 statements per update, at
most one write statement where something changed (besides the processed-update mark, which
commits with it), none at all for /help, and one connection. BEGIN, COMMIT and ROLLBACK are
transaction control, counted apart.
"""

from __future__ import annotations

import statistics
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import pytest
from aiogram.utils.i18n import I18n
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from handlers import menu_items
from handlers.requests.callbacks import CategoryCb
from models.requests import Category
from tests.chat import Chat, Person
from tests.test_requests_support import make_people

RETIREE = Person(1001, "王秀英")
CONTROL = ("BEGIN", "COMMIT", "ROLLBACK", "SAVEPOINT", "RELEASE")
MARK = "INSERT INTO processed_updates"


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest) -> str:
    name = "sqlite_database_url" if request.param == "sqlite" else "pg_database_url"
    return str(request.getfixturevalue(name))


@dataclass
class Tally:
    statements: list[str] = field(default_factory=list)
    control: int = 0
    open_connections: int = 0
    most_connections_at_once: int = 0

    @property
    def writes(self) -> list[str]:
        return [s for s in self.statements if not s.startswith("SELECT")]

    @property
    def changes(self) -> list[str]:
        """Writes other than the processed-update mark."""
        return [s for s in self.writes if not s.startswith(MARK)]


@contextmanager
def tally(engine: AsyncEngine) -> Iterator[Tally]:
    counts = Tally()
    sync = engine.sync_engine

    def on_execute(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        text = " ".join(statement.split())
        if text.upper().startswith(CONTROL):
            counts.control += 1
        else:
            counts.statements.append(text)

    def on_checkout(*_args: Any) -> None:
        counts.open_connections += 1
        counts.most_connections_at_once = max(
            counts.most_connections_at_once, counts.open_connections
        )

    def on_checkin(*_args: Any) -> None:
        counts.open_connections -= 1

    event.listen(sync, "before_cursor_execute", on_execute)
    event.listen(sync.pool, "checkout", on_checkout)
    event.listen(sync.pool, "checkin", on_checkin)
    try:
        yield counts
    finally:
        event.remove(sync, "before_cursor_execute", on_execute)
        event.remove(sync.pool, "checkout", on_checkout)
        event.remove(sync.pool, "checkin", on_checkin)


def menu(i18n: I18n, key: str) -> str:
    with i18n.context(), i18n.use_locale("zh_Hans"):
        return menu_items()[key].text()


async def measured(engine: AsyncEngine, step: Any) -> Tally:
    with tally(engine) as counts:
        await step()
    return counts


async def test_typical_updates_stay_within_the_budget(
    chat: Chat, session: AsyncSession, engine: AsyncEngine, i18n: I18n
) -> None:
    await make_people(session)
    await session.close()
    await chat.send(RETIREE, "/help")  # the person has been seen a moment ago

    steps: dict[str, Any] = {
        "/help": lambda: chat.send(RETIREE, "/help"),
        "menu button (Help)": lambda: chat.send(RETIREE, menu(i18n, "help")),
        "menu button (Request help: a form starts)": lambda: chat.send(
            RETIREE, menu(i18n, "request_help")
        ),
        "button press (a category)": lambda: chat.press(
            RETIREE, CategoryCb(category=Category.HOME_REPAIR).pack()
        ),
        "form step (the description)": lambda: chat.send(RETIREE, "厨房水龙头一直漏水"),
        "/cancel (the form cleared)": lambda: chat.send(RETIREE, "/cancel"),
        "/cancel again (what the form left is cleared)": lambda: chat.send(RETIREE, "/cancel"),
        "/cancel a third time (nothing to clear)": lambda: chat.send(RETIREE, "/cancel"),
    }
    results = {name: await measured(engine, step) for name, step in steps.items()}
    report = "\n".join(
        f"{name}: {len(t.statements)} statements, {len(t.writes)} writes, "
        f"{t.most_connections_at_once} connection(s)\n    " + "\n    ".join(t.statements)
        for name, t in results.items()
    )

    help_ = results["/help"]
    assert len(help_.statements) <= 2 and help_.writes == [], report
    assert results["menu button (Help)"].writes == [], report
    assert results["/cancel a third time (nothing to clear)"].writes == [], report
    for counts in results.values():
        assert counts.most_connections_at_once == 1, report
        # At most two changes, both to the person's own form row: a form records which message
        # carries its buttons after sending it (the stale-button rule), and commit-then-send
        # puts that after the answer. Folding them into one write is open work (issue 10).
        assert len(counts.changes) <= 2, report
        if counts.changes:  # the mark commits with the change, and only then
            assert [s for s in counts.writes if s.startswith(MARK)] != [], report
        else:
            assert counts.writes == [], report
    mean = statistics.mean(len(t.statements) for t in results.values())
    assert mean <= 4, f"mean {mean:.1f}\n{report}"


async def test_a_person_seen_a_moment_ago_is_not_written_again(
    chat: Chat, engine: AsyncEngine
) -> None:
    person = Person(1201, "李桂兰")
    with tally(engine) as first:
        await chat.send(person, "/help")  # first contact: the person's row, and its mark
    with tally(engine) as second:
        await chat.send(person, "/help")
    assert [s.split(" (")[0] for s in first.writes] == [
        "INSERT INTO users",
        MARK,
    ], first.statements
    assert second.writes == [], second.statements
