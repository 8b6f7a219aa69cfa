"""Fixtures: real databases (SQLite file, and the PostgreSQL on this machine), the production
Bot + Dispatcher factory with a recording session in place of Telegram, and a chat driver."""

from __future__ import annotations

import asyncio
import logging
import os
import shutil
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from aiogram import Bot, Dispatcher
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from bot.config import Settings
from bot.db import create_engine, create_sessionmaker, upgrade
from bot.factory import create_bot, create_dispatcher
from bot.fsm_storage import SQLStorage
from bot.i18n import create_i18n
from tests.chat import Chat
from tests.recording import TEST_TOKEN, RecordingSession

PG_ADMIN_DSN = os.environ.get("TEST_PG_DSN", "postgresql://postgres@127.0.0.1:5432/postgres")
PG_TEMPLATE = f"retiree_bot_template_{os.getpid()}"


def _pg_reachable() -> bool:
    async def probe() -> bool:
        try:
            connection = await asyncpg.connect(PG_ADMIN_DSN, timeout=3)
        except (OSError, asyncpg.PostgresError, TimeoutError):
            return False
        await connection.close()
        return True

    return _run_in_own_loop(probe())


def _run_in_own_loop(coroutine: Any) -> Any:
    """Session fixtures may be set up from inside a running test loop (whichever test asks
    first): run the coroutine in a thread of its own so `asyncio.run` always works."""
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, coroutine).result()


@pytest.fixture(scope="session")
def pg_available() -> bool:
    reachable = _pg_reachable()
    if not reachable and os.environ.get("CI"):
        pytest.fail("PostgreSQL at 127.0.0.1:5432 is not reachable, and CI must test it")
    return reachable


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Migrate once; every test copies the migrated file (fast and isolated)."""
    path = tmp_path_factory.mktemp("template") / "template.sqlite3"
    _run_in_own_loop(upgrade(f"sqlite+aiosqlite:///{path}"))
    return path


@pytest.fixture(scope="session")
def pg_template(pg_available: bool) -> Iterator[str | None]:
    if not pg_available:
        yield None
        return

    async def create() -> None:
        connection = await asyncpg.connect(PG_ADMIN_DSN)
        await connection.execute(f'DROP DATABASE IF EXISTS "{PG_TEMPLATE}"')
        await connection.execute(f'CREATE DATABASE "{PG_TEMPLATE}"')
        await connection.close()
        await upgrade(_pg_url(PG_TEMPLATE))

    _run_in_own_loop(create())
    yield PG_TEMPLATE
    _run_in_own_loop(_drop_pg(PG_TEMPLATE))


def _pg_url(database: str) -> str:
    base = PG_ADMIN_DSN.rsplit("/", 1)[0].replace("postgresql://", "postgresql+asyncpg://")
    return f"{base}/{database}"


async def _drop_pg(database: str) -> None:
    connection = await asyncpg.connect(PG_ADMIN_DSN)
    await connection.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
    await connection.close()


@pytest.fixture
async def pg_database_url(pg_template: str | None) -> AsyncIterator[str]:
    """A fresh, migrated PostgreSQL database of this test's own."""
    if pg_template is None:
        pytest.skip("PostgreSQL is not reachable")
    name = f"retiree_bot_test_{uuid.uuid4().hex[:12]}"
    connection = await asyncpg.connect(PG_ADMIN_DSN)
    await connection.execute(f'CREATE DATABASE "{name}" TEMPLATE "{pg_template}"')
    await connection.close()
    yield _pg_url(name)
    await _drop_pg(name)


@pytest.fixture
def sqlite_database_url(sqlite_template: Path, tmp_path: Path) -> str:
    path = tmp_path / "bot.sqlite3"
    shutil.copyfile(sqlite_template, path)
    return f"sqlite+aiosqlite:///{path}"


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def any_database_url(request: pytest.FixtureRequest) -> str:
    """Runs the test once on SQLite and once on PostgreSQL."""
    if request.param == "sqlite":
        return str(request.getfixturevalue("sqlite_database_url"))
    return str(request.getfixturevalue("pg_database_url"))


@pytest.fixture
def database_url(sqlite_database_url: str) -> str:
    """The default for conversation tests: SQLite, as in the embedded deployment."""
    return sqlite_database_url


@pytest.fixture
async def engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(database_url)
    yield engine
    await engine.dispose()


@pytest.fixture
def sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return create_sessionmaker(engine)


@pytest.fixture
async def session(sessionmaker: async_sessionmaker[AsyncSession]) -> AsyncIterator[AsyncSession]:
    async with sessionmaker() as session:
        yield session


@pytest.fixture(scope="session")
def i18n():  # type: ignore[no-untyped-def]
    return create_i18n("zh_Hans")


@pytest.fixture
def settings(database_url: str) -> Settings:
    return Settings(
        _env_file=None,  # type: ignore[call-arg]
        bot_token=TEST_TOKEN,
        database_url=database_url,
        admin_ids=[900001],
        staff_chat_id=-1001234567890,
        throttle_seconds=0,
    )


@pytest.fixture
def recording() -> RecordingSession:
    return RecordingSession()


@pytest.fixture
async def bot(settings: Settings, recording: RecordingSession) -> AsyncIterator[Bot]:
    bot = create_bot(settings, TEST_TOKEN, session=recording)
    yield bot
    await bot.session.close()


@pytest.fixture
def dispatcher(
    settings: Settings, sessionmaker: async_sessionmaker[AsyncSession], i18n
) -> Dispatcher:  # type: ignore[no-untyped-def]
    return create_dispatcher(settings, sessionmaker, storage=SQLStorage(sessionmaker), i18n=i18n)


@pytest.fixture
def chat(dispatcher: Dispatcher, bot: Bot, recording: RecordingSession) -> Chat:
    return Chat(dispatcher, bot, recording)


class _ErrorRecords(logging.Handler):
    def __init__(self) -> None:
        super().__init__(level=logging.ERROR)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@pytest.fixture(autouse=True)
def no_swallowed_handler_errors(request: pytest.FixtureRequest) -> Iterator[None]:
    """The error handler turns any exception into a kind "sorry" message, which would let a
    conversation test pass on a broken handler. Fail the test instead, with the traceback,
    unless it is marked `handler_errors_expected`."""
    handler = _ErrorRecords()
    logger = logging.getLogger("handlers.errors")
    logger.addHandler(handler)
    try:
        yield
    finally:
        logger.removeHandler(handler)
    if handler.records and request.node.get_closest_marker("handler_errors_expected") is None:
        formatter = logging.Formatter()
        details = "\n".join(
            record.getMessage()
            + "\n"
            + (formatter.formatException(record.exc_info) if record.exc_info else "")
            for record in handler.records
        )
        pytest.fail(f"a handler raised and the error handler hid it:\n{details}")
