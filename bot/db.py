"""The database engine, sessions and migrations. The only place an engine is created."""

from __future__ import annotations

import ast
import asyncio
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import event, text
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

if TYPE_CHECKING:
    from alembic.config import Config

MIGRATIONS_DIR = Path(__file__).resolve().parent.parent / "models" / "migrations"
# Execution option naming how an SQLite transaction begins: IMMEDIATE (default) or DEFERRED.
SQLITE_BEGIN = "retiree_sqlite_begin"
_WROTE = "retiree_wrote"


def create_engine(database_url: str, **kwargs: Any) -> AsyncEngine:
    if database_url.startswith("sqlite"):
        path = database_url.split(":///", 1)[-1]
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        # Sessions end every transaction themselves (commit, rollback, close), so the pool's
        # extra ROLLBACK when a connection comes back is one more trip to aiosqlite's thread
        # for nothing, twice an update.
        kwargs.setdefault("pool_reset_on_return", None)
        engine = create_async_engine(database_url, connect_args={"timeout": 30}, **kwargs)
        _configure_sqlite(engine)
    else:
        kwargs.setdefault("pool_pre_ping", True)
        engine = create_async_engine(database_url, **kwargs)
    _track_writes(engine)
    return engine


def _configure_sqlite(engine: AsyncEngine) -> None:
    """WAL lets readers work while one writer writes; the busy timeout makes a second writer
    wait instead of failing; foreign keys are off by default in SQLite."""

    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy, not the driver, decide when a transaction begins.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(connection: Any) -> None:
        # BEGIN IMMEDIATE takes the write lock up front, so two writers queue on the busy
        # timeout instead of one failing with "database is locked" on lock upgrade. Sessions
        # bound to `deferred(engine)` (an update's reads) begin a plain deferred transaction
        # instead: no lock until they write (see bot/middlewares.py for the upgrade rule).
        mode = connection.get_execution_options().get(SQLITE_BEGIN, "IMMEDIATE")
        connection.exec_driver_sql(f"BEGIN {mode}")


def create_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False)


def deferred(engine: AsyncEngine) -> AsyncEngine:
    """The same engine (same pool), but on SQLite its transactions begin DEFERRED: reads take
    no lock, the write lock is taken by the first write. A transaction that has read and then
    writes fails at once ("database is locked") when another connection holds or has used the
    write lock since; its owner must start again in IMMEDIATE mode (the plain engine)."""
    if engine.dialect.name != "sqlite":
        return engine
    return engine.execution_options(**{SQLITE_BEGIN: "DEFERRED"})


def is_sqlite_busy(error: BaseException) -> bool:
    """SQLITE_BUSY (and BUSY_SNAPSHOT): a deferred transaction could not take the write lock."""
    orig = getattr(error, "orig", None) or error
    code = getattr(orig, "sqlite_errorcode", None)
    if code is not None:
        return bool(code & 0xFF == 5)  # SQLITE_BUSY and its extended codes
    return "database is locked" in str(orig)


# -- what a transaction did ---------------------------------------------------------------------

_READ_ONLY_STATEMENTS = ("SELECT", "PRAGMA", "BEGIN", "COMMIT", "ROLLBACK", "SAVEPOINT", "RELEASE")


def wrote_in_transaction(connection: Any) -> bool:
    """Whether the connection's current transaction has run a statement that may write (every
    engine made here counts them; `connection` is a sync or async Connection)."""
    connection = getattr(connection, "sync_connection", None) or connection
    return bool(connection.info.get(_WROTE))


def _track_writes(engine: AsyncEngine) -> None:
    @event.listens_for(engine.sync_engine, "begin")
    def _reset(connection: Any) -> None:
        connection.info[_WROTE] = False

    @event.listens_for(engine.sync_engine, "before_cursor_execute")
    def _note(
        connection: Any, _cursor: Any, statement: str, _params: Any, _context: Any, _many: bool
    ) -> None:
        if not statement.lstrip()[:9].upper().startswith(_READ_ONLY_STATEMENTS):
            connection.info[_WROTE] = True


def alembic_config(database_url: str) -> Config:
    from alembic.config import Config  # only when migrating: Alembic is 11 MB of memory

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.set_main_option("sqlalchemy.url", database_url.replace("%", "%%"))
    return config


def _run_alembic(database_url: str, action: str, revision: str) -> None:
    from alembic import command

    config = alembic_config(database_url)
    getattr(command, action)(config, revision)


def script_heads(versions_dir: Path = MIGRATIONS_DIR / "versions") -> set[str]:
    """The head revisions of the migration scripts, read from their `revision` and
    `down_revision` assignments without importing them (or Alembic)."""
    revisions: set[str] = set()
    parents: set[str] = set()
    for path in versions_dir.glob("*.py"):
        for node in ast.parse(path.read_text(encoding="utf-8")).body:
            if isinstance(node, ast.Assign) and len(node.targets) == 1:
                target, value_node = node.targets[0], node.value
            elif isinstance(node, ast.AnnAssign) and node.value is not None:
                target, value_node = node.target, node.value
            else:
                continue
            if not isinstance(target, ast.Name):
                continue
            if target.id == "revision":
                revisions.add(ast.literal_eval(value_node))
            elif target.id == "down_revision":
                value = ast.literal_eval(value_node)
                parents.update([value] if isinstance(value, str) else value or ())
    return revisions - parents


async def database_revisions(database_url: str) -> set[str]:
    """The revisions recorded in the database's `alembic_version` (empty: not migrated)."""
    from sqlalchemy.pool import NullPool

    engine = create_engine(database_url, poolclass=NullPool)
    try:
        async with engine.connect() as connection:
            try:
                rows = await connection.execute(text("SELECT version_num FROM alembic_version"))
            except Exception:  # no table yet: a new database
                return set()
            return {str(row[0]) for row in rows}
    finally:
        await engine.dispose()


async def upgrade(database_url: str, revision: str = "heads") -> None:
    """Apply migrations (in a thread: Alembic's env runs its own event loop). A database
    already at every head (a restart) is left alone without loading Alembic."""
    if revision == "heads" and await database_revisions(database_url) == script_heads():
        return
    await asyncio.to_thread(_run_alembic, database_url, "upgrade", revision)


async def downgrade(database_url: str, revision: str = "base") -> None:
    await asyncio.to_thread(_run_alembic, database_url, "downgrade", revision)
