"""The cost of one update through the production Dispatcher (create_dispatcher, the real
middlewares, handlers and storage), against anchors measured in the same run, on SQLite and
PostgreSQL. No assertions.

- per-update p50 over a realistic mix (a retiree's /help, two menu screens, a form started, a
  category pressed, a description typed, /cancel, the activities list), one update at a time,
  as a ratio to a bare aiogram echo and to an echo that runs one query in its own session;
- statements per update over the mix (writes, transactions, connections at once);
- updates per second with many people at once (as many updates in hand as long polling allows
  in production, `bot.app._concurrency`), when each Bot API call takes 50 ms and when it takes
  nothing (on SQLite that ratio shows whether a lock is held across Telegram calls).

Telegram is a stand-in Bot session that answers at once (or after the round trip); throttling
is off (people do not type every 30 ms).

    python -m bench.per_update [people] [repeats]
"""

from __future__ import annotations

import asyncio
import itertools
import os
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncGenerator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aiogram import Bot, Dispatcher, F
from aiogram.client.session.base import BaseSession
from aiogram.methods import TelegramMethod
from aiogram.types import Chat, Message, Update
from sqlalchemy import event, insert, select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from bot.app import _concurrency
from bot.config import Settings
from bot.db import create_engine, create_sessionmaker, upgrade
from bot.factory import create_bot, create_dispatcher
from bot.i18n import create_i18n
from handlers import menu_items
from handlers.requests.callbacks import CategoryCb
from models.base import utcnow
from models.requests import Category
from models.users import Grid, RetireeProfile, Role, User

BOT_ID = 7000000001
TOKEN = f"{BOT_ID}:bench-token-not-real"
BOT_USER = {"id": BOT_ID, "is_bot": True, "first_name": "Bench", "username": "bench_bot"}
PEOPLE = 60  # at once, in the throughput run
REPEATS = 3
ROUND_TRIP = 0.05
PG_ADMIN_DSN = os.environ.get("TEST_PG_DSN", "postgresql://postgres@127.0.0.1:5432/postgres")
CONTROL = ("BEGIN", "COMMIT", "ROLLBACK", "SAVEPOINT", "RELEASE")


class StandInTelegram(BaseSession):
    """Answers every request with a plausible result, after `round_trip` seconds."""

    def __init__(self, round_trip: float = 0.0) -> None:
        super().__init__()
        self.round_trip = round_trip
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
        if self.round_trip:
            await asyncio.sleep(self.round_trip)
        returning = getattr(method, "__returning__", bool)
        if returning is bool or "bool" in str(returning):
            return True
        chat_id = int(getattr(method, "chat_id", 1) or 1)
        return Message(
            message_id=next(self._ids),
            date=int(time.time()),
            chat=Chat(id=chat_id, type="private" if chat_id > 0 else "supergroup"),
            text=getattr(method, "text", None),
        )


# -- updates as Telegram sends them --------------------------------------------------------------

_update_ids = itertools.count(1)


def _user(telegram_id: int) -> dict[str, Any]:
    return {"id": telegram_id, "is_bot": False, "first_name": "王", "language_code": "zh-hans"}


def text_update(telegram_id: int, text: str) -> dict[str, Any]:
    message: dict[str, Any] = {
        "message_id": next(_update_ids),
        "date": int(time.time()),
        "chat": {"id": telegram_id, "type": "private", "first_name": "王"},
        "from": _user(telegram_id),
        "text": text,
    }
    if text.startswith("/"):
        message["entities"] = [{"type": "bot_command", "offset": 0, "length": len(text)}]
    return {"update_id": next(_update_ids), "message": message}


def press_update(telegram_id: int, data: str) -> dict[str, Any]:
    return {
        "update_id": next(_update_ids),
        "callback_query": {
            "id": str(next(_update_ids)),
            "from": _user(telegram_id),
            "chat_instance": f"ci{telegram_id}",
            "data": data,
            "message": {
                "message_id": 1,
                "date": int(time.time()),
                "chat": {"id": telegram_id, "type": "private", "first_name": "王"},
                "from": BOT_USER,
                "text": "…",
            },
        },
    }


def realistic_mix() -> list[Callable[[int], dict[str, Any]]]:
    """What a retiree does in a short visit: eight updates, about half of them writing."""
    i18n = create_i18n("zh_Hans")
    with i18n.context(), i18n.use_locale("zh_Hans"):
        labels = {key: item.text() for key, item in menu_items().items()}
    category = CategoryCb(category=Category.HOME_REPAIR).pack()
    return [
        lambda p: text_update(p, "/help"),
        lambda p: text_update(p, labels["my_requests"]),
        lambda p: text_update(p, labels["request_help"]),
        lambda p: press_update(p, category),
        lambda p: text_update(p, "厨房水龙头一直漏水，麻烦师傅来看看"),
        lambda p: text_update(p, "/cancel"),
        lambda p: text_update(p, labels["activities"]),
        lambda p: text_update(p, labels["help"]),
    ]


async def feed(dispatcher: Dispatcher, bot: Bot, update: dict[str, Any]) -> None:
    await dispatcher.feed_update(bot, Update.model_validate(update, context={"bot": bot}))


# -- the database ------------------------------------------------------------------------------


async def seed(sessionmaker: async_sessionmaker[AsyncSession], people: int) -> list[int]:
    """A caseworker, a grid and `people` registered retirees with profiles."""
    now = utcnow()
    async with sessionmaker() as session:
        staff = User(telegram_id=100, display_name="刘芳", role=Role.STAFF, onboarded_at=now)
        session.add(staff)
        await session.flush()
        grid = Grid(name="幸福里", staff_user_id=staff.id)
        session.add(grid)
        await session.flush()
        ids = [200_000 + n for n in range(people)]
        await session.execute(
            insert(User),
            [
                {
                    "telegram_id": t,
                    "display_name": "王",  # as Telegram tells it: nothing to update
                    "language": "zh_Hans",
                    "telegram_language": "zh-hans",
                    "role": Role.RETIREE,
                    "reachable": True,
                    "onboarded_at": now,
                    "last_seen_at": now,
                    "created_at": now,
                }
                for t in ids
            ],
        )
        users = (await session.execute(select(User.id, User.telegram_id))).all()
        await session.execute(
            insert(RetireeProfile),
            [
                {
                    "user_id": user_id,
                    "full_name": f"王{telegram_id}",
                    "phone": "13800000000",
                    "grid_id": grid.id,
                    "birthday_is_lunar": False,
                    "lives_alone": False,
                    "over_80": False,
                    "disability": False,
                    "financial_hardship": False,
                    "lives_in_other_city": False,
                    "created_at": now,
                }
                for user_id, telegram_id in users
                if telegram_id in set(ids)
            ],
        )
        await session.commit()
    return ids


@dataclass
class Counts:
    statements: int = 0
    writes: int = 0
    transactions: int = 0
    open_now: int = 0
    most_at_once: int = 0


def count_statements(engine: AsyncEngine, counts: Counts) -> Callable[[], None]:
    sync = engine.sync_engine

    def on_execute(_c: Any, _cur: Any, statement: str, *_a: Any) -> None:
        head = statement.lstrip()[:9].upper()
        if head.startswith(CONTROL):
            counts.transactions += head.startswith("BEGIN")
            return
        counts.statements += 1
        counts.writes += not head.startswith("SELECT")

    def on_begin(_c: Any) -> None:
        if engine.dialect.name != "sqlite":  # SQLite's BEGIN is a statement, counted above
            counts.transactions += 1

    def on_checkout(*_a: Any) -> None:
        counts.open_now += 1
        counts.most_at_once = max(counts.most_at_once, counts.open_now)

    def on_checkin(*_a: Any) -> None:
        counts.open_now -= 1

    event.listen(sync, "before_cursor_execute", on_execute)
    event.listen(sync, "begin", on_begin)
    event.listen(sync.pool, "checkout", on_checkout)
    event.listen(sync.pool, "checkin", on_checkin)

    def remove() -> None:
        event.remove(sync, "before_cursor_execute", on_execute)
        event.remove(sync, "begin", on_begin)
        event.remove(sync.pool, "checkout", on_checkout)
        event.remove(sync.pool, "checkin", on_checkin)

    return remove


# -- the runs ----------------------------------------------------------------------------------


def p50(values: list[float]) -> float:
    return statistics.median(values) * 1000


async def time_each(dispatcher: Dispatcher, bot: Bot, updates: list[dict[str, Any]]) -> float:
    timings = []
    for update in updates:
        started = time.perf_counter()
        await feed(dispatcher, bot, update)
        timings.append(time.perf_counter() - started)
    return p50(timings)


def echo_dispatcher(sessionmaker: async_sessionmaker[AsyncSession] | None) -> Dispatcher:
    dispatcher = Dispatcher()

    @dispatcher.message(F.text)
    async def echo(message: Message) -> None:
        if sessionmaker is not None:
            async with sessionmaker() as session:
                await session.scalar(select(User.id).where(User.telegram_id == message.chat.id))
        await message.answer(message.text or "")

    return dispatcher


@dataclass
class Figures:
    bare: float
    one_query: float
    mix: float
    help: float
    counts: Counts
    updates: int
    rate_instant: float
    rate_slow: float
    in_hand: int


async def measure(url: str, people: int) -> Figures:
    engine = create_engine(url)
    sessionmaker = create_sessionmaker(engine)
    settings = Settings(
        _env_file=None,  # type: ignore[call-arg]
        bot_token=TOKEN,
        database_url=url,
        throttle_seconds=0,
    )
    i18n = create_i18n(settings.default_locale)
    mix = realistic_mix()
    try:
        ids = await seed(sessionmaker, people)
        instant = create_bot(settings, TOKEN, session=StandInTelegram())
        # Anchors: a bare aiogram echo, and an echo that runs one query in its own session.
        bare, one_query = echo_dispatcher(None), echo_dispatcher(sessionmaker)
        for dispatcher in (bare, one_query):
            await time_each(dispatcher, instant, [text_update(t, "你好") for t in ids[:10]])
        bare_p50 = await time_each(bare, instant, [text_update(t, "你好") for t in ids])
        one_query_p50 = await time_each(one_query, instant, [text_update(t, "你好") for t in ids])

        dispatcher = create_dispatcher(settings, sessionmaker, i18n=i18n)
        for step in mix:  # warm up: every handler imported and compiled once
            await feed(dispatcher, instant, step(ids[0]))
        # The fixed work alone: /help reads the user and answers with the menu.
        help_p50 = await time_each(dispatcher, instant, [text_update(t, "/help") for t in ids])
        counts = Counts()
        remove = count_statements(engine, counts)
        updates = [step(t) for t in ids[1:21] for step in mix]
        try:
            mix_p50 = await time_each(dispatcher, instant, updates)
        finally:
            remove()

        # As many updates in hand at once as long polling allows in production.
        in_hand = asyncio.Semaphore(_concurrency(settings))

        async def everyone(bot: Bot) -> float:
            async def visit(telegram_id: int) -> None:
                for step in mix:
                    async with in_hand:
                        await feed(dispatcher, bot, step(telegram_id))

            started = time.perf_counter()
            await asyncio.gather(*(visit(t) for t in ids))
            return len(ids) * len(mix) / (time.perf_counter() - started)

        rate_instant = await everyone(instant)
        slow = create_bot(settings, TOKEN, session=StandInTelegram(ROUND_TRIP))
        rate_slow = await everyone(slow)
        return Figures(
            bare_p50,
            one_query_p50,
            mix_p50,
            help_p50,
            counts,
            len(updates),
            rate_instant,
            rate_slow,
            _concurrency(settings),
        )
    finally:
        await engine.dispose()


def report(label: str, runs: list[Figures]) -> None:
    def med(get: Callable[[Figures], float]) -> float:
        return statistics.median(get(f) for f in runs)

    bare, one_query, mix = med(lambda f: f.bare), med(lambda f: f.one_query), med(lambda f: f.mix)
    help_ = med(lambda f: f.help)
    counts, updates = runs[0].counts, runs[0].updates
    instant, slow = med(lambda f: f.rate_instant), med(lambda f: f.rate_slow)
    print(
        f"   {label}: per-update p50 {mix:5.2f} ms = {mix / one_query:4.2f}x the one-query echo "
        f"({one_query:4.2f} ms), {mix / bare:5.1f}x the bare echo ({bare:4.2f} ms); "
        f"/help alone {help_:4.2f} ms = {help_ / one_query:4.2f}x the one-query echo\n"
        f"   {label}: per update {counts.statements / updates:4.2f} statements "
        f"({counts.writes / updates:4.2f} writes), {counts.transactions / updates:4.2f} "
        f"transactions, at most {counts.most_at_once} connection(s) at once\n"
        f"   {label}: {instant:5.0f} updates/s with an instant Bot API, {slow:5.0f} with a "
        f"{ROUND_TRIP * 1000:.0f} ms round trip = {slow / instant:4.2f} "
        f"({runs[0].in_hand} updates in hand at most)",
        flush=True,
    )


async def sqlite_runs(people: int, repeats: int) -> list[Figures]:
    runs = []
    for _ in range(repeats):
        with tempfile.TemporaryDirectory() as folder:
            url = f"sqlite+aiosqlite:///{Path(folder) / 'bench.sqlite3'}"
            await upgrade(url)
            runs.append(await measure(url, people))
    return runs


async def postgres_runs(people: int, repeats: int) -> list[Figures] | None:
    import asyncpg

    try:
        admin = await asyncpg.connect(PG_ADMIN_DSN, timeout=3)
    except (OSError, asyncpg.PostgresError, TimeoutError):
        return None
    base = PG_ADMIN_DSN.rsplit("/", 1)[0].replace("postgresql://", "postgresql+asyncpg://")
    runs = []
    try:
        for _ in range(repeats):
            name = f"retiree_bot_bench_{uuid.uuid4().hex[:10]}"
            await admin.execute(f'CREATE DATABASE "{name}"')
            try:
                await upgrade(f"{base}/{name}")
                runs.append(await measure(f"{base}/{name}", people))
            finally:
                await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await admin.close()
    return runs


def main(people: int = PEOPLE, repeats: int = REPEATS) -> None:
    async def both() -> None:
        report("SQLite", await sqlite_runs(people, repeats))
        runs = await postgres_runs(people, repeats)
        if runs is None:
            print("   PostgreSQL: not reachable, skipped", flush=True)
        else:
            report("PostgreSQL", runs)

    asyncio.run(both())


if __name__ == "__main__":
    args = [int(a) for a in sys.argv[1:3]]
    main(*args)
