"""`retiree-bot run` as a real process against a tiny fake Bot API: it polls, handles an
update, and on SIGTERM (or Ctrl-C) stops taking updates, finishes, and exits with status 0."""

from __future__ import annotations

import asyncio
import signal
import sqlite3
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from tests.recording import BOT_USER, TEST_TOKEN
from tests.test_config import clean_env

pytestmark = pytest.mark.slow

CONSOLE_SCRIPT = Path(sys.executable).with_name("retiree-bot")


class FakeBotApi:
    """Answers the few methods a polling bot needs; getUpdates long-polls like Telegram."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, dict[str, str]]] = []
        self.pending: list[dict[str, Any]] = []
        self.arrived = asyncio.Event()
        self._message_ids = iter(range(5000, 10_000))

    def methods(self) -> list[str]:
        return [name for name, _ in self.calls]

    async def handle(self, request: web.Request) -> web.Response:
        if request.match_info["token"] != TEST_TOKEN:
            return web.json_response(
                {"ok": False, "error_code": 401, "description": "Unauthorized"}, status=401
            )
        method = request.match_info["method"]
        params = {k: str(v) for k, v in (await request.post()).items()}
        self.calls.append((method, params))
        result: Any = True
        if method == "getMe":
            result = BOT_USER
        elif method == "getUpdates":
            offset = int(params.get("offset", 0) or 0)
            self.pending = [u for u in self.pending if u["update_id"] >= offset]
            if not self.pending:
                self.arrived.clear()
                try:
                    await asyncio.wait_for(
                        self.arrived.wait(), timeout=min(float(params.get("timeout", 1)), 5)
                    )
                except TimeoutError:
                    pass
            result = list(self.pending)
        elif method.startswith("send"):
            chat_id = int(params.get("chat_id", 1))
            result = {
                "message_id": next(self._message_ids),
                "date": int(time.time()),
                "chat": {"id": chat_id, "type": "private", "first_name": "X"},
                "from": BOT_USER,
                "text": params.get("text", ""),
            }
        return web.json_response({"ok": True, "result": result})

    def push(self, update: dict[str, Any]) -> None:
        self.pending.append(update)
        self.arrived.set()


@pytest.fixture
async def fake_api() -> AsyncIterator[tuple[FakeBotApi, str]]:
    api = FakeBotApi()
    app = web.Application()
    app.router.add_post("/bot{token}/{method}", api.handle)
    runner = web.AppRunner(app, handle_signals=False, shutdown_timeout=1)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    yield api, f"http://127.0.0.1:{port}"
    await runner.cleanup()


async def wait_until(condition, proc: asyncio.subprocess.Process, what: str) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + 120
    while not condition():
        assert proc.returncode is None, f"the bot exited early while waiting for {what}"
        assert time.monotonic() < deadline, f"gave up waiting for {what}"
        await asyncio.sleep(0.1)


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
async def test_the_bot_stops_cleanly_on_a_signal(
    fake_api: tuple[FakeBotApi, str], tmp_path: Path, sig: signal.Signals
) -> None:
    api, base_url = fake_api
    database = tmp_path / "bot.sqlite3"
    stderr_path = tmp_path / "stderr.log"
    with stderr_path.open("w") as stderr:
        proc = await asyncio.create_subprocess_exec(
            str(CONSOLE_SCRIPT),
            "run",
            cwd=tmp_path,
            env=clean_env(
                BOT_TOKEN=TEST_TOKEN,
                TELEGRAM_API_URL=base_url,
                DATABASE_URL=f"sqlite+aiosqlite:///{database}",
                LOG_LEVEL="INFO",
            ),
            stdout=asyncio.subprocess.DEVNULL,
            stderr=stderr,
        )
    try:
        await wait_until(lambda: "getUpdates" in api.methods(), proc, "polling to start")
        assert api.methods().index("deleteWebhook") < api.methods().index("getUpdates")

        update = {
            "update_id": 424242,
            "edited_message": {
                "message_id": 1,
                "date": int(time.time()),
                "edit_date": int(time.time()),
                "chat": {"id": 6501, "type": "private", "first_name": "蒋"},
                "from": {"id": 6501, "is_bot": False, "first_name": "蒋", "language_code": "zh"},
                "text": "你好",
            },
        }
        api.push(update)
        await wait_until(
            lambda: any(
                name == "getUpdates" and params.get("offset") == "424243"
                for name, params in api.calls
            ),
            proc,
            "the update to be fetched",
        )

        proc.send_signal(sig)
        try:
            await asyncio.wait_for(proc.wait(), timeout=60)
        except TimeoutError:
            pytest.fail("the bot did not stop within 60 s of the signal")
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    log = stderr_path.read_text(encoding="utf-8")
    assert proc.returncode == 0, log
    assert "Traceback" not in log, log
    assert "stopped" in log
    assert TEST_TOKEN.split(":")[1] not in log  # the token never reaches the log
    with sqlite3.connect(database) as connection:
        marked = connection.execute(
            "SELECT count(*) FROM processed_updates WHERE update_id = 424242"
        ).fetchone()[0]
    assert marked == 1  # the update in hand was finished and committed


async def test_a_rejected_token_stops_with_one_line(
    fake_api: tuple[FakeBotApi, str], tmp_path: Path
) -> None:
    _api, base_url = fake_api
    proc = await asyncio.create_subprocess_exec(
        str(CONSOLE_SCRIPT),
        "run",
        cwd=tmp_path,
        env=clean_env(
            BOT_TOKEN="123:not-the-right-token",
            TELEGRAM_API_URL=base_url,
            DATABASE_URL=f"sqlite+aiosqlite:///{tmp_path / 'bot.sqlite3'}",
            LOG_LEVEL="WARNING",
        ),
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
    )
    _out, err = await asyncio.wait_for(proc.communicate(), timeout=120)
    stderr = err.decode()
    assert proc.returncode != 0
    assert "Traceback" not in stderr, stderr
    assert "BOT_TOKEN" in stderr.strip().splitlines()[-1], stderr
    assert "not-the-right-token" not in stderr
