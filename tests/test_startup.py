"""What a start loads: a restart of the embedded deployment does not load Alembic (the database
is at every head already), Babel (the catalogs are compiled already) or redis (no REDIS_URL).
Counted as modules loaded, not timed; bench/startup.py has the figures."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

from alembic.script import ScriptDirectory

from bot.db import alembic_config, script_heads
from bot.i18n import DOMAIN, LOCALES_DIR, create_i18n

ROOT = Path(__file__).resolve().parent.parent


def loaded_after(code: str, *modules: str) -> dict[str, bool]:
    probe = f"import sys\n{code}\nprint(','.join(str(m in sys.modules) for m in {list(modules)!r}))"
    env = {k: v for k, v in os.environ.items() if k not in ("REDIS_URL",)}
    out = (
        subprocess.run(
            [sys.executable, "-c", probe],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            check=True,
        )
        .stdout.strip()
        .splitlines()[-1]
    )
    return dict(zip(modules, (flag == "True" for flag in out.split(",")), strict=True))


def test_the_heads_read_from_the_scripts_are_alembics() -> None:
    alembic_heads = ScriptDirectory.from_config(alembic_config("sqlite+aiosqlite://")).get_heads()
    assert script_heads() == set(alembic_heads)


def test_a_migrated_database_is_not_migrated_again(sqlite_database_url: str) -> None:
    migrate = (
        f"import asyncio\nfrom bot.db import upgrade\nasyncio.run(upgrade({sqlite_database_url!r}))"
    )
    assert loaded_after(migrate, "alembic") == {"alembic": False}


def test_a_new_database_is_migrated(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'new.sqlite3'}"
    migrate = f"import asyncio\nfrom bot.db import upgrade\nasyncio.run(upgrade({url!r}))"
    assert loaded_after(migrate, "alembic") == {"alembic": True}
    assert loaded_after(migrate, "alembic") == {"alembic": False}  # and then it is at heads


def test_the_bot_without_redis_url_does_not_load_redis_alembic_or_babel() -> None:
    build = (
        "import bot.cli, bot.app, bot.scheduler, bot.sender\n"
        "from bot.config import Settings\n"
        "from bot.db import create_engine, create_sessionmaker\n"
        "from bot.factory import create_dispatcher\n"
        "from bot.i18n import create_i18n\n"
        "s = Settings(_env_file=None, bot_token='1:x', database_url='sqlite+aiosqlite://')\n"
        "create_dispatcher(s, create_sessionmaker(create_engine(s.database_url)),"
        " i18n=create_i18n('zh_Hans'))\n"
    )
    create_i18n("zh_Hans")  # compiled here first, as at an earlier start
    assert loaded_after(build, "redis", "alembic", "babel.messages") == {
        "redis": False,
        "alembic": False,
        "babel.messages": False,
    }


def test_catalogs_are_compiled_again_only_when_a_source_changed(tmp_path: Path) -> None:
    locales = tmp_path / "locales"
    shutil.copytree(LOCALES_DIR, locales, ignore=shutil.ignore_patterns("*.mo", "*.pot"))
    create_i18n("zh_Hans", locales)
    compiled = locales / "en" / "LC_MESSAGES" / f"{DOMAIN}.mo"
    first = compiled.stat().st_mtime_ns
    create_i18n("zh_Hans", locales)
    assert compiled.stat().st_mtime_ns == first
    source = sorted((locales / "en").glob("*.po"))[0]
    later = time.time_ns() + 1_000_000_000
    os.utime(source, ns=(later, later))
    create_i18n("zh_Hans", locales)
    assert compiled.stat().st_mtime_ns > first
