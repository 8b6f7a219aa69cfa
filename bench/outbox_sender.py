"""Outbox sender throughput: messages per second through `OutboxSender` (claim, render, send,
record) with the rate limit set out of the way and a Telegram stand-in that answers at once,
so the figure is the sender's own cost (mostly the database), on SQLite and on PostgreSQL.
Also the peak Python memory (tracemalloc) while draining the queue, and what one claim (100
rows, one per chat) costs with a large backlog queued, as for a city-wide broadcast. No
assertions.

    python -m bench.outbox_sender [rows]
"""

from __future__ import annotations

import asyncio
import itertools
import os
import sys
import tempfile
import time
import tracemalloc
import uuid
from collections.abc import AsyncGenerator
from pathlib import Path
from typing import Any

from aiogram import Bot
from aiogram.client.session.base import BaseSession
from aiogram.methods import TelegramMethod
from aiogram.types import Chat, Message
from sqlalchemy import func, insert, select

from bot.config import Settings
from bot.db import create_engine, create_sessionmaker, upgrade
from bot.factory import create_bot
from bot.i18n import create_i18n
from bot.sender import OutboxSender
from handlers import notification_renderers
from models.base import utcnow
from models.notification_kinds import NotificationKind
from models.outbox import OutboxMessage, OutboxStatus, claim_due, enqueue

TOKEN = "123456:bench-token-not-real"
ROWS = 1000
BACKLOG = 20_000
PG_ADMIN_DSN = os.environ.get("TEST_PG_DSN", "postgresql://postgres@127.0.0.1:5432/postgres")


class InstantSession(BaseSession):
    """Answers every send at once with a minimal Message; nothing leaves the process."""

    def __init__(self) -> None:
        super().__init__()
        self._ids = itertools.count(1)
        self.count = 0

    async def close(self) -> None:
        return None

    async def stream_content(
        self,
        url: str,
        headers: dict[str, Any] | None = None,
        timeout: int = 30,
        chunk_size: int = 65536,
        raise_for_status: bool = True,
    ) -> AsyncGenerator[bytes, None]:
        yield b""

    async def make_request(
        self, bot: Bot, method: TelegramMethod[Any], timeout: int | None = None
    ) -> Any:
        self.count += 1
        chat_id = int(getattr(method, "chat_id", 1) or 1)
        return Message(
            message_id=next(self._ids),
            date=int(time.time()),
            chat=Chat(id=chat_id, type="private" if chat_id > 0 else "supergroup"),
            text=getattr(method, "text", None),
        )


async def _fill(sessionmaker: Any, rows: int) -> None:
    async with sessionmaker() as session:
        for n in range(rows):
            await enqueue(
                session,
                chat_id=10_000 + n,
                kind=NotificationKind.SYSTEM_TEXT,
                params={"text": f"通知 {n}: 明天上午九点社区活动室有健康讲座。"},
                dedup_key=f"bench:{n}",
            )
        await session.commit()


async def _drain(url: str, rows: int, senders: int = 1) -> tuple[float, int, int]:
    settings = Settings(
        _env_file=None,  # type: ignore[call-arg]
        bot_token=TOKEN,
        database_url=url,
        outbox_rate_per_second=1_000_000.0,
    )
    engine = create_engine(url)
    sessionmaker = create_sessionmaker(engine)
    i18n = create_i18n(settings.default_locale)
    try:
        await _fill(sessionmaker, rows)
        sessions = [InstantSession() for _ in range(senders)]
        workers = [
            OutboxSender(
                bot=create_bot(settings, TOKEN, session=s),
                sessionmaker=sessionmaker,
                i18n=i18n,
                settings=settings,
                renderers=notification_renderers(),
            )
            for s in sessions
        ]

        async def run(sender: OutboxSender) -> None:
            while await sender.send_due(limit=100):
                pass

        tracemalloc.start()
        started = time.perf_counter()
        await asyncio.gather(*(run(w) for w in workers))
        elapsed = time.perf_counter() - started
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        async with sessionmaker() as session:
            sent = await session.scalar(
                select(func.count()).where(OutboxMessage.status == OutboxStatus.SENT)
            )
        return elapsed, int(sent or 0), peak
    finally:
        await engine.dispose()


async def _claim_cost(url: str, backlog: int = BACKLOG) -> float:
    """Milliseconds for one claim of 100 rows with `backlog` rows due (median of 5)."""
    engine = create_engine(url)
    sessionmaker = create_sessionmaker(engine)
    now = utcnow()
    try:
        async with sessionmaker() as session:
            await session.execute(
                insert(OutboxMessage),
                [
                    {
                        "chat_id": 100_000 + n,
                        "kind": NotificationKind.SYSTEM_TEXT,
                        "params": {"text": "x"},
                        "dedup_key": f"backlog:{n}",
                        "due_at": now,
                        "status": OutboxStatus.PENDING,
                        "attempts": 0,
                        "created_at": now,
                    }
                    for n in range(backlog)
                ],
            )
            await session.commit()
        timings = []
        for _ in range(5):
            started = time.perf_counter()
            async with sessionmaker() as session:
                await claim_due(session, limit=100)
                await session.commit()
            timings.append((time.perf_counter() - started) * 1000)
        return sorted(timings)[len(timings) // 2]
    finally:
        await engine.dispose()


def _report_claim(label: str, milliseconds: float) -> None:
    print(
        f"   {label:<28} one claim of 100 with {BACKLOG} queued: {milliseconds:6.1f} ms",
        flush=True,
    )


def _report(label: str, rows: int, result: tuple[float, int, int]) -> None:
    elapsed, sent, peak = result
    rate = sent / elapsed if elapsed else float("inf")
    print(
        f"   {label:<28} {sent}/{rows} sent in {elapsed:6.2f} s = {rate:7.0f} messages/s, "
        f"peak memory {peak / 1_048_576:5.1f} MiB",
        flush=True,
    )


async def _sqlite(rows: int) -> None:
    with tempfile.TemporaryDirectory() as folder:
        url = f"sqlite+aiosqlite:///{Path(folder) / 'bench.sqlite3'}"
        await upgrade(url)
        _report("SQLite, 1 sender", rows, await _drain(url, rows))
        _report_claim("SQLite", await _claim_cost(url))


async def _postgres(rows: int) -> None:
    import asyncpg

    try:
        admin = await asyncpg.connect(PG_ADMIN_DSN, timeout=3)
    except (OSError, asyncpg.PostgresError, TimeoutError):
        print("   PostgreSQL: not reachable, skipped", flush=True)
        return
    base = PG_ADMIN_DSN.rsplit("/", 1)[0].replace("postgresql://", "postgresql+asyncpg://")
    try:
        for senders in (1, 2):
            name = f"retiree_bot_bench_{uuid.uuid4().hex[:10]}"
            await admin.execute(f'CREATE DATABASE "{name}"')
            try:
                await upgrade(f"{base}/{name}")
                result = await _drain(f"{base}/{name}", rows, senders)
                _report(f"PostgreSQL, {senders} sender(s)", rows, result)
                if senders == 1:
                    _report_claim("PostgreSQL", await _claim_cost(f"{base}/{name}"))
            finally:
                await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await admin.close()


def main(rows: int = ROWS) -> None:
    async def both() -> None:
        await _sqlite(rows)
        await _postgres(rows)

    asyncio.run(both())


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else ROWS)
