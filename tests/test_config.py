"""Settings: a missing or wrong setting stops the program with ONE line naming it (the person
starting the bot is often an office clerk): no traceback, a non-zero exit status.
The console-script tests start a process each, so they are marked slow."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from bot.config import ConfigError, load_settings, require_token

SETTING_NAMES = (
    "BOT_TOKEN",
    "DATABASE_URL",
    "REDIS_URL",
    "TIMEZONE",
    "DEFAULT_LOCALE",
    "TELEGRAM_API_URL",
    "WEBHOOK_URL",
    "WEBHOOK_SECRET",
    "WEBHOOK_HOST",
    "WEBHOOK_PORT",
    "ADMIN_IDS",
    "STAFF_CHAT_ID",
    "LOG_LEVEL",
)
CONSOLE_SCRIPT = Path(sys.executable).with_name("retiree-bot")


def clean_env(**values: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k.upper() not in SETTING_NAMES}
    env.update(values)
    return env


def run_cli(tmp_path: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    """The installed console script, in an empty directory (no .env)."""
    return subprocess.run(
        [str(CONSOLE_SCRIPT), *args],
        cwd=tmp_path,
        env=clean_env(**env),
        capture_output=True,
        text=True,
        timeout=120,
    )


def assert_one_line_naming(result: subprocess.CompletedProcess[str], name: str) -> None:
    assert result.returncode != 0
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert name in lines[0]
    assert "Traceback" not in result.stderr


@pytest.mark.slow
def test_missing_token_is_one_line_naming_bot_token(tmp_path: Path) -> None:
    result = run_cli(tmp_path, "run")
    assert_one_line_naming(result, "BOT_TOKEN")
    assert "@BotFather" in result.stderr


@pytest.mark.slow
@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("DATABASE_URL", "mysql://office@localhost/bot"),
        ("TIMEZONE", "Asia/Atlantis"),
        ("ADMIN_IDS", "12,abc"),
        ("WEBHOOK_PORT", "70000"),
        ("LOG_LEVEL", "LOUD"),
    ],
)
def test_invalid_setting_is_one_line_naming_it(tmp_path: Path, name: str, value: str) -> None:
    result = run_cli(tmp_path, "run", BOT_TOKEN="123:abc", **{name: value})
    assert_one_line_naming(result, name)


@pytest.mark.slow
def test_settings_are_read_from_dot_env(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("TIMEZONE=Nowhere/City\n", encoding="utf-8")
    result = run_cli(tmp_path, "migrate")
    assert_one_line_naming(result, "TIMEZONE")


def test_admin_ids_accept_commas_and_semicolons() -> None:
    settings = load_settings(_env_file=None, admin_ids="1,2;3")
    assert settings.admin_ids == [1, 2, 3]
    assert load_settings(_env_file=None, admin_ids=" 42 ").admin_ids == [42]
    assert load_settings(_env_file=None, admin_ids="").admin_ids == []


def test_invalid_values_raise_config_error_naming_them() -> None:
    with pytest.raises(ConfigError) as excinfo:
        load_settings(_env_file=None, timezone="Mars/Olympus")
    assert excinfo.value.line.startswith("Invalid setting TIMEZONE")
    with pytest.raises(ConfigError) as excinfo:
        load_settings(_env_file=None, default_locale="fr")
    assert "DEFAULT_LOCALE" in excinfo.value.line
    with pytest.raises(ConfigError) as excinfo:
        require_token(load_settings(_env_file=None, bot_token=None))
    assert "BOT_TOKEN" in excinfo.value.line


def test_defaults_suit_the_embedded_deployment() -> None:
    settings = load_settings(_env_file=None)
    assert settings.database_url.startswith("sqlite+aiosqlite:///")
    assert settings.timezone == "Asia/Shanghai"
    assert settings.default_locale == "zh_Hans"
    assert settings.webhook_url is None and settings.redis_url is None
    assert 0 < settings.outbox_rate_per_second < 30
