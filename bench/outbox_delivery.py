"""Outbox delivery against the stand-in Bot API over real HTTP, with Telegram's limits (30
messages/s per bot, 1/s per chat, 429 with retry_after) and injected faults. Each case prints
what the issue asks to see, against the configured limit L of the same run:

- lost (rows not delivered), duplicated (a message accepted twice), out-of-order chats;
- max requests in any 1 s, all senders together, ÷ L; achieved steady rate ÷ L;
- the stall after a kill -9 (until the dead sender's rows are out again).

Cases: steady rate at L=30 and L=100 with a 40 ms round trip (SQLite, PostgreSQL); an outage
(502, then connections reset, for OUTAGE seconds); two senders on PostgreSQL with a slow and
flaky Telegram; order under errors with one sender; kill -9 of a sender process (two senders on
PostgreSQL; one on SQLite, restarted). No assertions.

    python -m bench.outbox_delivery [case ...]    (rate, outage, two, order, kill)
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import itertools
import json
import os
import signal
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import func, select

from bot.config import Settings
from bot.db import create_engine, create_sessionmaker, upgrade
from bot.factory import create_bot
from bot.i18n import create_i18n
from bot.sender import OutboxSender
from handlers import notification_renderers
from models.notification_kinds import NotificationKind
from models.outbox import OutboxMessage, OutboxStatus, enqueue

TOKEN = "123456:bench-delivery-token"
PG_ADMIN_DSN = os.environ.get("TEST_PG_DSN", "postgresql://postgres@127.0.0.1:5432/postgres")
OUTAGE = float(os.environ.get("BENCH_OUTAGE_SECONDS", "20"))
CHAT0 = 500_000


# -- databases --------------------------------------------------------------------------------
@contextlib.asynccontextmanager
async def database(kind: str) -> AsyncIterator[str | None]:
    """A fresh migrated database URL ("sqlite" or "postgres"), or None if unavailable."""
    if kind == "sqlite":
        with tempfile.TemporaryDirectory() as folder:
            url = f"sqlite+aiosqlite:///{Path(folder) / 'bench.sqlite3'}"
            await upgrade(url)
            yield url
        return
    import asyncpg

    try:
        admin = await asyncpg.connect(PG_ADMIN_DSN, timeout=3)
    except (OSError, asyncpg.PostgresError, TimeoutError):
        yield None
        return
    base = PG_ADMIN_DSN.rsplit("/", 1)[0].replace("postgresql://", "postgresql+asyncpg://")
    name = f"retiree_bot_bench_{uuid.uuid4().hex[:10]}"
    await admin.execute(f'CREATE DATABASE "{name}"')
    try:
        await upgrade(f"{base}/{name}")
        yield f"{base}/{name}"
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


async def fill(url: str, chats: int, per_chat: int) -> None:
    """`per_chat` numbered messages to each of `chats` chats, queued in order."""
    engine = create_engine(url)
    try:
        async with create_sessionmaker(engine)() as session:
            for n in range(per_chat):
                for c in range(chats):
                    await enqueue(
                        session,
                        chat_id=CHAT0 + c,
                        kind=NotificationKind.SYSTEM_TEXT,
                        params={"text": f"{c}#{n}"},
                        dedup_key=f"bench:{c}:{n}",
                    )
            await session.commit()
    finally:
        await engine.dispose()


async def unsent(url: str) -> int:
    engine = create_engine(url)
    try:
        async with create_sessionmaker(engine)() as session:
            return int(
                await session.scalar(
                    select(func.count()).where(OutboxMessage.status != OutboxStatus.SENT)
                )
                or 0
            )
    finally:
        await engine.dispose()


# -- the stand-in Telegram (a process of its own) and what it saw ------------------------------
@dataclass
class Recorded:
    method: str
    chat_id: Any
    text: Any
    status: int
    at: float


class Telegram:
    """The stand-in Bot API (sandbox) in its own process (bench/_telegram_process.py)."""

    def __init__(self, process: asyncio.subprocess.Process, port: int) -> None:
        self.process = process
        self.base_url = f"http://127.0.0.1:{port}"

    async def command(self, **command: Any) -> Any:
        assert self.process.stdin is not None and self.process.stdout is not None
        self.process.stdin.write((json.dumps(command) + "\n").encode())
        await self.process.stdin.drain()
        return json.loads(await self.process.stdout.readline())

    async def set_faults(self, faults: dict[str, Any]) -> None:
        await self.command(faults=faults)

    async def requests(self) -> list[Recorded]:
        return [Recorded(*r) for r in await self.command(requests=True)]


@contextlib.asynccontextmanager
async def telegram(chats: int, faults: dict[str, Any]) -> AsyncIterator[Telegram]:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bench._telegram_process",
        json.dumps(faults),
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        limit=2**26,
    )
    assert process.stdout is not None and process.stdin is not None
    port = json.loads(await process.stdout.readline())["port"]
    server = Telegram(process, port)
    await server.command(people=[CHAT0 + c for c in range(chats)])
    try:
        yield server
    finally:
        process.stdin.close()
        await process.wait()


def telegram_limits(rate: float = 30.0, **extra: Any) -> dict[str, Any]:
    return {"global_rate_per_second": rate, "per_chat_per_second": 1.0, "seed": 7, **extra}


@dataclass
class Seen:
    lost: int
    duplicated: int
    out_of_order: int
    requests: int
    answered_429: int
    max_1s: int
    steady_rate: float
    close_pairs: int  # two accepted messages to one chat less than a second apart
    times: list[float] = field(default_factory=list)


async def analyse(server: Telegram, lost: int) -> Seen:
    sends = [r for r in await server.requests() if r.method == "sendMessage"]
    accepted = [r for r in sends if r.status == 200]
    per_message = collections.Counter(str(r.text) for r in accepted)
    per_chat: dict[int, list[tuple[float, int]]] = collections.defaultdict(list)
    for r in accepted:
        text = str(r.text)
        chat, _, n = text.partition("#")
        per_chat[int(chat)].append((r.at, int(n)))
    out_of_order = 0
    close = 0
    for seq in per_chat.values():
        seq.sort()
        numbers = [n for _, n in seq]
        if numbers != sorted(numbers):
            out_of_order += 1
        close += sum(1 for (a, _), (b, _) in itertools.pairwise(seq) if b - a < 1.0)
    times = sorted(r.at for r in sends)
    max_1s = 0
    start = 0
    for end, t in enumerate(times):
        while t - times[start] >= 1.0:
            start += 1
        max_1s = max(max_1s, end - start + 1)
    ok_times = sorted(r.at for r in accepted)
    steady = 0.0
    if len(ok_times) > 20:
        # the middle 80 %: start-up and the tail left out
        a, b = ok_times[len(ok_times) // 10], ok_times[len(ok_times) * 9 // 10]
        if b > a:
            steady = (len(ok_times) * 8 // 10) / (b - a)
    return Seen(
        lost=lost,
        duplicated=sum(count - 1 for count in per_message.values() if count > 1),
        out_of_order=out_of_order,
        requests=len(sends),
        answered_429=sum(1 for r in sends if r.status == 429),
        max_1s=max_1s,
        steady_rate=steady,
        close_pairs=close,
        times=ok_times,
    )


def report(label: str, seen: Seen, limit: float, extra: str = "") -> None:
    print(
        f"   {label:<44} lost {seen.lost}, duplicated {seen.duplicated}, out-of-order chats "
        f"{seen.out_of_order}, max in 1 s ÷ L {seen.max_1s / limit:.2f}, steady ÷ L "
        f"{seen.steady_rate / limit:.3f}, 429s {seen.answered_429}, same-chat pairs <1 s "
        f"{seen.close_pairs}{extra}",
        flush=True,
    )


# -- senders in this process ------------------------------------------------------------------
def settings_for(url: str, server: Telegram, rate: float, **extra: Any) -> Settings:
    return Settings(
        _env_file=None,  # type: ignore[call-arg]
        bot_token=TOKEN,
        database_url=url,
        telegram_api_url=server.base_url,
        outbox_rate_per_second=rate,
        **extra,
    )


async def run_senders(
    url: str,
    server: Telegram,
    rate: float,
    *,
    senders: int = 1,
    until: Callable[[], bool] | None = None,
    during: Callable[[], Any] | None = None,
    timeout: float = 300.0,
    **extra: Any,
) -> int:
    """Run `senders` senders until the outbox is delivered (or `timeout`); returns unsent."""
    settings = settings_for(url, server, rate, **extra)
    engines = [create_engine(url) for _ in range(senders)]
    bots = [create_bot(settings, TOKEN) for _ in range(senders)]
    i18n = create_i18n(settings.default_locale)
    workers = [
        OutboxSender(
            bot=bot,
            sessionmaker=create_sessionmaker(engine),
            i18n=i18n,
            settings=settings,
            renderers=notification_renderers(),
        )
        for bot, engine in zip(bots, engines, strict=True)
    ]
    stop = asyncio.Event()
    tasks = [asyncio.create_task(w.run(stop)) for w in workers]
    side = asyncio.create_task(during()) if during is not None else None
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            await asyncio.sleep(0.25)
            if (side is None or side.done()) and await unsent(url) == 0:
                break
    finally:
        stop.set()
        await asyncio.gather(*tasks, return_exceptions=True)
        if side is not None and not side.done():
            side.cancel()
            await asyncio.gather(side, return_exceptions=True)
        for bot in bots:
            await bot.session.close()
        for engine in engines:
            await engine.dispose()
    return await unsent(url)


# -- the cases --------------------------------------------------------------------------------
async def case_rate() -> None:
    """Steady rate: one message to each of many chats, L=30 and L=100, 40 ms round trip."""
    for kind in ("sqlite", "postgres"):
        for limit in (30.0, 100.0):
            async with database(kind) as url:
                if url is None:
                    print(f"   {kind}: not reachable, skipped", flush=True)
                    continue
                chats = int(limit * 8)
                await fill(url, chats, 1)
                faults = telegram_limits(limit, slow_rate=1.0, slow_seconds=0.04)
                async with telegram(chats, faults) as server:
                    lost = await run_senders(url, server, limit, outbox_concurrency=16)
                    report(
                        f"rate, {kind}, L={limit:.0f}, 40 ms round trip",
                        await analyse(server, lost),
                        limit,
                    )


async def case_outage() -> None:
    """Telegram answers 502 (then resets connections) for OUTAGE seconds, 100 queued."""
    for fault, label in (({"error_rate": 1.0}, "502"), ({"drop_rate": 1.0}, "connection reset")):
        async with database("sqlite") as url:
            assert url is not None
            await fill(url, 50, 2)
            async with telegram(50, telegram_limits(30.0, **fault)) as server:
                recovered_at: list[float] = []

                async def recover(
                    server: Telegram = server, recovered_at: list[float] = recovered_at
                ) -> None:
                    await asyncio.sleep(OUTAGE)
                    await server.set_faults(telegram_limits(30.0))
                    recovered_at.append(time.time())

                lost = await run_senders(url, server, 20.0, during=recover)
                seen = await analyse(server, lost)
                drained = (seen.times[-1] - recovered_at[0]) if seen.times and recovered_at else 0
                failed_requests = sum(1 for r in await server.requests() if r.status != 200)
                report(
                    f"outage: {label} for {OUTAGE:.0f} s, SQLite",
                    seen,
                    20.0,
                    f", requests during the outage {failed_requests}, drained "
                    f"{drained:.1f} s after recovery",
                )


async def case_two() -> None:
    """Two senders on PostgreSQL sharing L=20; Telegram slow (3.5 s) now and then, 5 % 5xx."""
    async with database("postgres") as url:
        if url is None:
            print("   PostgreSQL: not reachable, skipped", flush=True)
            return
        await fill(url, 50, 3)
        faults = telegram_limits(30.0, slow_rate=0.1, slow_seconds=3.5, error_rate=0.05)
        async with telegram(50, faults) as server:
            lost = await run_senders(url, server, 20.0, senders=2)
            report(
                "two senders, PostgreSQL, L=20, slow + 5 % 5xx", await analyse(server, lost), 20.0
            )


async def case_order() -> None:
    """One sender, 5 % 5xx and 5 % dropped connections: each chat still in queue order."""
    for kind in ("sqlite", "postgres"):
        async with database(kind) as url:
            if url is None:
                continue
            await fill(url, 100, 3)
            faults = telegram_limits(30.0, error_rate=0.05, drop_rate=0.05)
            async with telegram(100, faults) as server:
                lost = await run_senders(url, server, 20.0)
                report(f"order, {kind}, 5 % 5xx + 5 % reset", await analyse(server, lost), 20.0)


async def start_sender_process(url: str, server: Telegram, rate: float) -> Any:
    env = {
        **os.environ,
        "BOT_TOKEN": TOKEN,
        "DATABASE_URL": url,
        "TELEGRAM_API_URL": server.base_url,
        "OUTBOX_RATE_PER_SECOND": str(rate),
        "LOG_LEVEL": "WARNING",
    }
    script = Path(sys.executable).with_name("retiree-bot")
    return await asyncio.create_subprocess_exec(
        str(script), "sender", env=env, stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )  # fmt: skip


async def claimed_by_others(url: str) -> set[str]:
    engine = create_engine(url)
    try:
        async with create_sessionmaker(engine)() as session:
            rows = await session.scalars(
                select(OutboxMessage.dedup_key).where(OutboxMessage.status == OutboxStatus.SENDING)
            )
            return set(rows)
    finally:
        await engine.dispose()


async def sent_time(server: Telegram, keys: set[str]) -> float | None:
    texts = {f"{k.split(':')[1]}#{k.split(':')[2]}" for k in keys}
    times = [
        r.at
        for r in await server.requests()
        if r.method == "sendMessage" and r.status == 200 and str(r.text) in texts
    ]
    return max(times) if len(times) >= len(texts) and times else None


async def case_kill() -> None:
    """kill -9 of a sender process in mid-stream (a slow Telegram keeps rows in flight)."""
    for kind, senders in (("postgres", 2), ("sqlite", 1)):
        async with database(kind) as url:
            if url is None:
                print("   PostgreSQL: not reachable, skipped", flush=True)
                continue
            await fill(url, 60, 3)
            faults = telegram_limits(30.0, slow_rate=1.0, slow_seconds=0.5)
            async with telegram(60, faults) as server:
                procs = [await start_sender_process(url, server, 20.0) for _ in range(senders)]
                while sum(1 for r in await server.requests() if r.status == 200) < 40:  # noqa: ASYNC110
                    await asyncio.sleep(0.05)
                in_flight = await claimed_by_others(url)
                victim = procs[0]
                victim.send_signal(signal.SIGKILL)
                killed_at = time.time()
                await victim.wait()
                if kind == "sqlite":  # the one sender: its replacement starts
                    procs[0] = await start_sender_process(url, server, 20.0)
                deadline = time.monotonic() + 120
                while time.monotonic() < deadline and await unsent(url):  # noqa: ASYNC110
                    await asyncio.sleep(0.2)
                stall = await sent_time(server, in_flight)
                for proc in procs[1:] if kind == "postgres" else procs:
                    with contextlib.suppress(ProcessLookupError):
                        proc.send_signal(signal.SIGTERM)
                    await proc.wait()
                seen = await analyse(server, await unsent(url))
                report(
                    f"kill -9, {kind}, {senders} sender(s)",
                    seen,
                    20.0,
                    f", rows in flight at the kill {len(in_flight)}, stall after the kill "
                    + (f"{stall - killed_at:.1f} s" if stall else "n/a"),
                )


CASES = {
    "rate": case_rate,
    "outage": case_outage,
    "two": case_two,
    "order": case_order,
    "kill": case_kill,
}


def main(names: list[str] | None = None) -> None:
    async def run() -> None:
        for name in names or list(CASES):
            await CASES[name]()

    asyncio.run(run())


if __name__ == "__main__":
    main(sys.argv[1:] or None)
