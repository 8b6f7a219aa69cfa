"""The `retiree-bot` command and the runtime it starts: subcommands and options, migrations,
delegation to the sandbox, long polling in-process, signals, and logs that never show the token."""

from __future__ import annotations

import asyncio
import io
import logging
import os
import signal
import subprocess
import sys
import time
import types
from pathlib import Path
from typing import Any

import pytest
from aiogram import Bot
from aiogram.methods import TelegramMethod
from sqlalchemy import func, select

from bot import cli
from bot.app import run_bot
from bot.config import Settings
from bot.logging_setup import TokenRedactingFilter, setup_logging
from models import ProcessedUpdate
from tests.chat import Chat, Person
from tests.recording import TEST_TOKEN, RecordingSession
from tests.test_config import clean_env

CONSOLE_SCRIPT = Path(sys.executable).with_name("retiree-bot")


def test_help_names_every_command(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as excinfo:
        cli.main(["--help"])
    assert excinfo.value.code == 0
    out = capsys.readouterr().out
    for command in ("run", "sender", "scheduler", "migrate", "sandbox"):
        assert command in out


def test_run_options_for_multi_process_deployments() -> None:
    args = cli.build_parser().parse_args(["run", "--no-sender", "--no-scheduler"])
    assert (args.command, args.no_sender, args.no_scheduler) == ("run", True, True)
    args = cli.build_parser().parse_args(["run"])
    assert (args.no_sender, args.no_scheduler) == (False, False)


def test_an_unknown_command_is_refused(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as excinfo:
        cli.main(["fly"])
    assert excinfo.value.code == 2
    assert "invalid choice" in capsys.readouterr().err


def test_sandbox_gets_every_argument_after_it(monkeypatch: pytest.MonkeyPatch) -> None:
    """`retiree-bot sandbox ...` hands its arguments, untouched, to the sandbox's own parser
    (imported only then: the sandbox is not needed to run the bot)."""
    seen: list[list[str]] = []
    runner = types.ModuleType("sandbox.demo.runner")
    runner.main = lambda argv: seen.append(argv) or 3  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "sandbox.demo.runner", runner)
    assert cli.main(["sandbox", "--port", "8099", "--no-browser"]) == 3
    assert seen == [["--port", "8099", "--no-browser"]]


def test_sandbox_missing_is_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    """The production image leaves the sandbox out: asking for it there is one line, not a
    traceback."""
    for name in [name for name in sys.modules if name.partition(".")[0] == "sandbox"]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "sandbox", None)
    with pytest.raises(SystemExit) as excinfo:
        cli.main(["sandbox"])
    assert "not installed here" in str(excinfo.value.code)


@pytest.mark.slow
def test_migrate_creates_the_schema_and_exits(tmp_path: Path) -> None:
    database = tmp_path / "office.sqlite3"
    result = subprocess.run(
        [str(CONSOLE_SCRIPT), "migrate"],
        cwd=tmp_path,
        env=clean_env(DATABASE_URL=f"sqlite+aiosqlite:///{database}"),
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert result.returncode == 0, result.stderr
    assert "database is up to date" in result.stderr
    import sqlite3

    with sqlite3.connect(database) as connection:
        tables = {row[0] for row in connection.execute("SELECT name FROM sqlite_master")}
    assert {"users", "outbox", "fsm_records", "processed_updates", "alembic_version"} <= tables


@pytest.mark.slow
def test_an_unreachable_database_is_one_line(tmp_path: Path) -> None:
    result = subprocess.run(
        [str(CONSOLE_SCRIPT), "migrate"],
        cwd=tmp_path,
        env=clean_env(
            DATABASE_URL="postgresql+asyncpg://postgres@127.0.0.1:1/nowhere", LOG_LEVEL="ERROR"
        ),
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert result.returncode != 0
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "DATABASE_URL" in lines[0], result.stderr


# -- logs never show the token ------------------------------------------------------------


def test_the_token_is_redacted_from_every_log_record() -> None:
    token = "123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw"
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(TokenRedactingFilter([token]))
    logger = logging.getLogger("tests.redaction")
    logger.addHandler(handler)
    logger.propagate = False
    try:
        logger.warning("GET https://api.telegram.org/bot%s/getUpdates failed", token)
        logger.warning(f"url-encoded: bot{token.replace(':', '%3A')}/getMe")
        try:
            raise ConnectionError(f"cannot reach https://api.telegram.org/bot{token}/getMe")
        except ConnectionError:
            logger.exception("network trouble")
    finally:
        logger.removeHandler(handler)
    text = stream.getvalue()
    assert "getUpdates failed" in text and "network trouble" in text and "ConnectionError" in text
    assert token not in text
    assert token.split(":")[1] not in text


def test_setup_logging_uses_the_level_and_redacts() -> None:
    root = logging.getLogger()
    before = (list(root.handlers), root.level)
    try:
        redactor = setup_logging("WARNING", [TEST_TOKEN])
        assert root.level == logging.WARNING
        ours = [h for h in root.handlers if h.get_name() == "retiree-bot"]
        assert len(ours) == 1 and redactor in ours[0].filters
        setup_logging("DEBUG", [TEST_TOKEN])  # idempotent: still one handler
        assert len([h for h in root.handlers if h.get_name() == "retiree-bot"]) == 1
    finally:
        for h in list(root.handlers):
            if h.get_name() == "retiree-bot":
                root.removeHandler(h)
        root.handlers[:] = before[0]
        root.setLevel(before[1])


# -- signals ----------------------------------------------------------------------------


def test_sigterm_sets_the_stop_event_and_the_command_returns() -> None:
    reached: list[str] = []

    async def work(stop: asyncio.Event) -> None:
        os.kill(os.getpid(), signal.SIGTERM)
        await asyncio.wait_for(stop.wait(), timeout=30)
        reached.append("stopped cleanly")

    cli._run_until_signal(work)
    assert reached == ["stopped cleanly"]


# -- long polling, in-process -------------------------------------------------------------


class PollingSession(RecordingSession):
    """Telegram's long poll, shortened: getUpdates waits a little when nothing is queued
    (otherwise the polling loop would never yield to the event loop)."""

    async def make_request(
        self, bot: Bot, method: TelegramMethod[Any], timeout: int | None = None
    ) -> Any:
        name = method.__api_method__
        if name == "getUpdates" and not any(q.method == name for q in self.queued):
            await asyncio.sleep(0.05)
        return await super().make_request(bot, method, timeout)


async def test_run_bot_polls_processes_and_stops_in_order(
    settings: Settings, chat: Chat, sessionmaker
) -> None:
    session = PollingSession()
    stop = asyncio.Event()
    task = asyncio.create_task(run_bot(settings, stop=stop, session=session))

    def seen(method: str) -> bool:
        return any(r.method == method for r in session.requests)

    deadline = time.monotonic() + 60
    while not (task.done() or seen("getUpdates")):
        assert time.monotonic() < deadline, "polling never started"
        await asyncio.sleep(0.05)
    assert not task.done(), task.exception()
    methods = [r.method for r in session.requests]
    assert methods.index("deleteWebhook") < methods.index("getUpdates")
    assert not seen("setWebhook")
    # The bootstrap administrators' own command list (with /invite) is set at start-up.
    admin_scopes = [
        r.params["scope"]
        for r in session.requests
        if r.method == "setMyCommands" and r.params.get("scope", {}).get("type") == "chat"
    ]
    assert {scope["chat_id"] for scope in admin_scopes} == set(settings.admin_ids)

    update = chat.message_update(Person(id=6401, first_name="褚"), text="edited")
    update["edited_message"] = update.pop("message")
    update["edited_message"]["edit_date"] = update["edited_message"]["date"]
    session.queue_result([update], method="getUpdates")
    while any(q.method == "getUpdates" for q in session.queued):
        assert time.monotonic() < deadline, "the update was never fetched"
        await asyncio.sleep(0.05)

    stop.set()
    await asyncio.wait_for(task, timeout=60)  # returns: the update in hand was finished
    async with sessionmaker() as db:
        count = await db.scalar(
            select(func.count())
            .select_from(ProcessedUpdate)
            .where(ProcessedUpdate.update_id == update["update_id"])
        )
    assert count == 1


# -- the separate processes of a larger deployment ----------------------------------------


async def test_the_scheduler_process_runs_the_jobs_until_stopped(
    settings: Settings, sessionmaker
) -> None:
    from datetime import timedelta

    from bot.app import run_scheduler_only
    from models import utcnow

    async with sessionmaker() as db:
        db.add(ProcessedUpdate(bot_id=1, update_id=99, processed_at=utcnow() - timedelta(days=30)))
        await db.commit()

    async def old_marks() -> int:
        async with sessionmaker() as db:
            return int(await db.scalar(select(func.count()).select_from(ProcessedUpdate)))

    stop = asyncio.Event()
    task = asyncio.create_task(run_scheduler_only(settings, stop=stop))
    deadline = time.monotonic() + 60
    while await old_marks():  # the housekeeping job's run at start
        assert not task.done(), task.exception()
        assert time.monotonic() < deadline, "the scheduler never ran its jobs"
        await asyncio.sleep(0.05)
    stop.set()
    await asyncio.wait_for(task, timeout=60)


async def test_the_sender_process_delivers_the_outbox_until_stopped(
    settings: Settings, sessionmaker
) -> None:
    from bot.app import run_sender_only
    from models import enqueue

    async with sessionmaker() as db:
        await enqueue(
            db,
            chat_id=6601,
            kind="system.text",
            params={"text": "今天下午三点社区活动室有讲座。"},
            dedup_key="test:sender-process",
        )
        await db.commit()
    session = RecordingSession()
    stop = asyncio.Event()
    task = asyncio.create_task(run_sender_only(settings, stop=stop, session=session))
    deadline = time.monotonic() + 60
    while not session.sent_messages():
        assert not task.done(), task.exception()
        assert time.monotonic() < deadline, "the sender never sent the queued message"
        await asyncio.sleep(0.05)
    stop.set()
    await asyncio.wait_for(task, timeout=60)
    sent = session.sent_messages()
    assert [(r.method, r.chat_id, r.text) for r in sent] == [
        ("sendMessage", 6601, "今天下午三点社区活动室有讲座。")
    ]
    assert not any(r.method in ("getUpdates", "setWebhook") for r in session.requests)
