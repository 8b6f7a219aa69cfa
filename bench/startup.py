"""Start-up and memory: from starting the process to its first getUpdates, and its resident
memory then and a few seconds later (after the scheduler's first run of every job), for
`retiree-bot run` on SQLite (a restart: the database exists and is migrated) against a bare
aiogram echo bot started the same way, in the same run, against the same stand-in Bot API.
No assertions.

    python -m bench.startup [repeats]
"""

from __future__ import annotations

import asyncio
import os
import signal
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from aiohttp import web

BOT_ID = 7000000001
TOKEN = f"{BOT_ID}:bench-token-not-real"
BOT_USER = {"id": BOT_ID, "is_bot": True, "first_name": "Bench", "username": "bench_bot"}
REPEATS = 3
SETTLE_SECONDS = 5.0
CONSOLE_SCRIPT = Path(sys.executable).with_name("retiree-bot")

BARE_BOT = """
import asyncio, sys
from aiogram import Bot, Dispatcher
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from aiogram.types import Message

async def main() -> None:
    session = AiohttpSession(api=TelegramAPIServer.from_base(sys.argv[1]))
    bot = Bot(sys.argv[2], session=session)
    dispatcher = Dispatcher()

    @dispatcher.message()
    async def echo(message: Message) -> None:
        await message.answer(message.text or "")

    await dispatcher.start_polling(bot)

asyncio.run(main())
"""


class StandInApi:
    """Answers what a polling bot asks at start; notes when each token first asks for
    updates."""

    def __init__(self) -> None:
        self.first_poll: float | None = None

    async def handle(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        result: Any = True
        if method == "getMe":
            result = BOT_USER
        elif method == "getUpdates":
            if self.first_poll is None:
                self.first_poll = time.perf_counter()
            await asyncio.sleep(1)
            result = []
        elif method.startswith("send"):
            result = {
                "message_id": 1,
                "date": int(time.time()),
                "chat": {"id": 1, "type": "private", "first_name": "X"},
                "text": "",
            }
        return web.json_response({"ok": True, "result": result})


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


async def start_and_measure(
    api: StandInApi, argv: list[str], env: dict[str, str], cwd: Path
) -> tuple[float, float, float]:
    """Seconds to the first getUpdates, RSS then and SETTLE_SECONDS later (MiB)."""
    api.first_poll = None
    started = time.perf_counter()
    proc = await asyncio.create_subprocess_exec(
        *argv,
        env=env,
        cwd=cwd,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )
    try:
        while api.first_poll is None:
            if proc.returncode is not None:
                raise RuntimeError(f"{argv[0]} exited with {proc.returncode} before polling")
            await asyncio.sleep(0.005)
        elapsed = api.first_poll - started
        at_start = rss_mib(proc.pid)
        await asyncio.sleep(SETTLE_SECONDS)
        settled = rss_mib(proc.pid)
        return elapsed, at_start, settled
    finally:
        if proc.returncode is None:
            proc.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(proc.wait(), timeout=30)
            except TimeoutError:
                proc.kill()
                await proc.wait()


def clean_env(**values: str) -> dict[str, str]:
    keep = {"PATH", "HOME", "LANG", "LC_ALL", "TMPDIR", "SYSTEMROOT"}
    env = {k: v for k, v in os.environ.items() if k in keep}
    env.update(values)
    return env


async def run(repeats: int) -> None:
    api = StandInApi()
    app = web.Application()
    app.router.add_post("/bot{token}/{method}", api.handle)
    runner = web.AppRunner(app, handle_signals=False, shutdown_timeout=1)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    base = f"http://127.0.0.1:{port}"
    bare_runs: list[tuple[float, float, float]] = []
    bot_runs: list[tuple[float, float, float]] = []
    try:
        with tempfile.TemporaryDirectory() as folder:
            cwd = Path(folder)
            script = cwd / "bare_bot.py"
            script.write_text(BARE_BOT)
            env = clean_env(
                BOT_TOKEN=TOKEN,
                TELEGRAM_API_URL=base,
                DATABASE_URL=f"sqlite+aiosqlite:///{cwd / 'bot.sqlite3'}",
                LOG_LEVEL="WARNING",
            )
            # First start migrates the new database; the measured ones are restarts.
            await start_and_measure(api, [str(CONSOLE_SCRIPT), "run"], env, cwd)
            for _ in range(repeats):
                bare_runs.append(
                    await start_and_measure(
                        api, [sys.executable, str(script), base, TOKEN], clean_env(), cwd
                    )
                )
                bot_runs.append(
                    await start_and_measure(api, [str(CONSOLE_SCRIPT), "run"], env, cwd)
                )
    finally:
        await runner.cleanup()

    def med(runs: list[tuple[float, float, float]], i: int) -> float:
        return statistics.median(r[i] for r in runs)

    bare_t, bot_t = med(bare_runs, 0), med(bot_runs, 0)
    print(
        f"   start to first getUpdates: retiree-bot run {bot_t:5.2f} s, bare aiogram bot "
        f"{bare_t:5.2f} s = {bot_t / bare_t:4.2f}x\n"
        f"   memory (RSS) at first getUpdates: {med(bot_runs, 1):5.1f} MiB vs bare "
        f"{med(bare_runs, 1):5.1f} MiB = +{med(bot_runs, 1) - med(bare_runs, 1):4.1f} MiB; "
        f"{SETTLE_SECONDS:.0f} s later {med(bot_runs, 2):5.1f} MiB vs "
        f"{med(bare_runs, 2):5.1f} MiB = +{med(bot_runs, 2) - med(bare_runs, 2):4.1f} MiB",
        flush=True,
    )


def main(repeats: int = REPEATS) -> None:
    asyncio.run(run(repeats))


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else REPEATS)
