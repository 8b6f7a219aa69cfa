"""What the outbox promises, case by case (issue "Delivery you can promise"), on SQLite and
PostgreSQL, with Telegram replaced by the recording session and time by a fake clock:

1. an outage (no answer, 5xx) pauses the sender with a growing back-off and gives nothing up;
   only age (expiry, per kind) gives a message up;
2. a live sender's claim is never taken from it; only a sender that is gone loses its rows;
3. one rate and one per-chat spacing for all senders;
4. one chat's messages go out in the order queued, and its trouble holds up no other chat;
5. a request that hangs times out while the other chats go on;
6. a chat answering 429 forever: attempts counted, the same expiry applies.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from aiogram import Bot
from aiogram.exceptions import TelegramNetworkError
from aiogram.methods import TelegramMethod
from aiogram.utils.i18n import I18n
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.config import Settings
from bot.db import create_engine, create_sessionmaker
from bot.factory import create_bot
from bot.sender import OutboxSender
from models.base import utcnow
from models.outbox import (
    OutboxMessage,
    OutboxStatus,
    claim_due,
    enqueue,
    mark_sent,
    reserve_send_slot,
)
from tests import test_outbox_sender as base
from tests.recording import TEST_TOKEN, Request
from tests.test_outbox_sender import FakeTime, FlakySession, queue, renderers, row

# The fixtures of the sender's tests: every test here on SQLite and on PostgreSQL.
database_url = base.database_url
recording = base.recording
fake_time = base.fake_time
make_sender = base.make_sender

STAFF_CHAT = -1001234567890


def by_chat(requests: list[Request]) -> dict[int, list[str]]:
    """The texts Telegram got, per chat (requests that never reached it left out)."""
    chats: dict[int, list[str]] = {}
    for request in requests:
        if request.chat_id is not None:
            chats.setdefault(request.chat_id, []).append(request.text)
    return chats


async def drain(
    sender: OutboxSender, fake_time: FakeTime, *, step: float = 1.0, rounds: int = 200
) -> None:
    """Pass after pass, moving the clock on, until nothing is left to send."""
    for _ in range(rounds):
        await sender.send_due()
        fake_time.now += step
        async with sender.sessionmaker() as session:
            left = await session.scalar(
                select(OutboxMessage.id).where(
                    OutboxMessage.status.in_([OutboxStatus.PENDING, OutboxStatus.SENDING])
                )
            )
        if left is None:
            return
    raise AssertionError("the queue did not drain")


# -- 1. an outage ------------------------------------------------------------------------------
@pytest.mark.parametrize("fault", ["network", "502"])
async def test_an_outage_pauses_the_sender_and_gives_nothing_up(
    session: AsyncSession,
    make_sender: Callable[..., OutboxSender],
    recording: FlakySession,
    fake_time: FakeTime,
    caplog: pytest.LogCaptureFixture,
    fault: str,
) -> None:
    for n in range(6):
        await queue(session, chat_id=300 + n, dedup_key=f"o{n}", params={"n": n})
    failures = 5
    if fault == "network":
        recording.network_errors = ["Cannot connect to host api.telegram.org"] * failures
    else:
        for _ in range(failures):
            recording.queue_error(502, "Bad Gateway")
    probes: list[float] = []
    recording.on_request = lambda method: probes.append(fake_time.now)
    caplog.set_level(logging.INFO, logger="bot.sender")

    await drain(make_sender(fake_time, outbox_concurrency=1), fake_time, step=0.25)

    for n in range(6):
        sent = await row(session, f"o{n}")
        assert sent.status == OutboxStatus.SENT and sent.attempts == 1
    assert sorted(by_chat(recording.take())) == [300 + n for n in range(6)]
    # The first failure is a hiccup (its row waits its turn, the next chat is tried); the
    # second in a row an outage: one probe at a time, after a pause twice the last: 1, 2, 4, 8 s.
    gaps = [b - a for a, b in itertools.pairwise(probes)][:failures]
    assert gaps[0] < 1, gaps
    for gap, pause in zip(gaps[1:], [1, 2, 4, 8], strict=True):
        assert pause <= gap < pause + 1, gaps
    logged = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert sum("Telegram is not answering" in m for m in logged) == 1
    assert sum("Telegram answers again" in m for m in logged) == 1
    assert len(logged) == 2, logged  # not a line per message


async def test_a_message_is_given_up_only_past_its_expiry(
    session: AsyncSession,
    make_sender: Callable[..., OutboxSender],
    recording: FlakySession,
    fake_time: FakeTime,
) -> None:
    """Telegram is unreachable for days: messages wait; three days after they were due (the
    default) they are given up, without a request, the last error kept."""
    await queue(session, chat_id=310, dedup_key="waits")
    recording.network_errors = ["Cannot connect to host"] * 10_000
    sender = make_sender(fake_time)
    for _ in range(70):  # 70 hours, a probe now and then
        await sender.send_due()
        fake_time.now += 3600
        waiting = await row(session, "waits")
        assert waiting.status == OutboxStatus.PENDING and waiting.attempts == 0
    fake_time.now += 3 * 3600
    requests = len(recording.take())
    await sender.send_due()
    given_up = await row(session, "waits")
    assert given_up.status == OutboxStatus.FAILED
    assert "expired" in (given_up.last_error or "") and "Cannot connect" in (
        given_up.last_error or ""
    )
    assert requests > 0 and recording.take() == []


async def test_a_kind_may_expire_sooner(
    session: AsyncSession,
    make_sender: Callable[..., OutboxSender],
    recording: FlakySession,
    fake_time: FakeTime,
) -> None:
    """Per kind: OUTBOX_EXPIRY_HOURS_BY_KIND, and an activity reminder once its activity has
    started."""
    long_ago = utcnow() - timedelta(hours=2)
    await queue(session, chat_id=320, kind="system.text", params={"text": "x"}, dedup_key="t")
    await queue(session, chat_id=321, kind="act.changed", dedup_key="c", due_at=long_ago)
    await queue(session, chat_id=322, kind="system.text", dedup_key="ok", due_at=long_ago,
                params={"text": "still fine"})  # fmt: skip
    started = (utcnow() - timedelta(minutes=5)).isoformat()
    await queue(session, chat_id=323, kind="act.reminder", dedup_key="r",
                params={"starts_at": started, "hours": 2})  # fmt: skip
    sender = make_sender(fake_time, outbox_expiry_hours_by_kind={"act.changed": 1.0})
    await sender.send_due()
    assert sorted(r.chat_id or 0 for r in recording.take()) == [320, 322]
    assert (await row(session, "c")).status == OutboxStatus.FAILED
    assert (await row(session, "r")).status == OutboxStatus.FAILED
    assert "expired" in ((await row(session, "r")).last_error or "")
    assert (await row(session, "ok")).status == OutboxStatus.SENT


def test_expiry_settings() -> None:
    settings = Settings(
        _env_file=None,  # type: ignore[call-arg]
        outbox_expiry_days=2,
        outbox_expiry_hours_by_kind="act.changed=12, request.rate=0.5",
    )
    assert settings.outbox_expiry("act.changed") == timedelta(hours=12)
    assert settings.outbox_expiry("request.rate") == timedelta(minutes=30)
    assert settings.outbox_expiry("system.text") == timedelta(days=2)
    with pytest.raises(ValueError, match="unknown notification kind"):
        Settings(_env_file=None, outbox_expiry_hours_by_kind="no.such=1")  # type: ignore[call-arg]


# -- 2. no duplicates without a crash ----------------------------------------------------------
class SlowSession(FlakySession):
    """Telegram answering slowly (real time): longer than a sender's whole lease."""

    def __init__(self, seconds: float) -> None:
        super().__init__()
        self.seconds = seconds

    async def make_request(
        self, bot: Bot, method: TelegramMethod[Any], timeout: int | None = None
    ) -> Any:
        await asyncio.sleep(self.seconds)
        return await super().make_request(bot, method, timeout)


@pytest.mark.postgres
async def test_a_live_senders_claims_are_never_taken(pg_database_url: str, i18n: I18n) -> None:
    """Two senders, Telegram slower than a lease: each renews its lease while its requests are
    in flight, so neither takes the other's rows and every message goes out once."""
    engines = [create_engine(pg_database_url) for _ in range(2)]
    makers = [create_sessionmaker(engine) for engine in engines]
    async with makers[0]() as session:
        for n in range(24):
            await enqueue(session, chat_id=7000 + n, kind="test.outbox.ping", dedup_key=f"d{n}")
        await session.commit()
    settings = Settings(
        _env_file=None,  # type: ignore[call-arg]
        bot_token=TEST_TOKEN,
        database_url=pg_database_url,
        outbox_rate_per_second=1000.0,
        outbox_request_timeout=0.2,
        outbox_concurrency=4,
    )
    sessions = [SlowSession(0.6), SlowSession(0.6)]
    senders = [
        OutboxSender(
            bot=create_bot(settings, TEST_TOKEN, session=s),
            sessionmaker=m,
            i18n=i18n,
            settings=settings,
            renderers=renderers(),
            lease=0.5,  # shorter than one request: only renewing it keeps the rows
            heartbeat=0.1,
            reclaim_every=0.1,
        )
        for s, m in zip(sessions, makers, strict=True)
    ]
    stop = asyncio.Event()

    async def until_drained() -> None:
        async with makers[0]() as session:
            while await session.scalar(
                select(OutboxMessage.id).where(OutboxMessage.status != OutboxStatus.SENT)
            ):
                await session.commit()
                await asyncio.sleep(0.05)
        stop.set()

    try:
        await asyncio.wait_for(
            asyncio.gather(until_drained(), *(s.run(stop) for s in senders)), timeout=60
        )
        chats = sorted(r.chat_id or 0 for s in sessions for r in s.requests)
        assert chats == [7000 + n for n in range(24)]  # each once
        assert all(s.requests for s in sessions)
    finally:
        for engine in engines:
            await engine.dispose()


async def test_a_stopping_sender_hands_its_rows_back_at_once(
    session: AsyncSession,
    make_sender: Callable[..., OutboxSender],
    recording: FlakySession,
    fake_time: FakeTime,
) -> None:
    for n in range(6):
        await queue(session, chat_id=330 + n, dedup_key=f"h{n}", params={"n": n})
    stop = asyncio.Event()
    recording.on_request = lambda method: stop.set()
    await asyncio.wait_for(make_sender(fake_time, outbox_rate_per_second=1.0).run(stop), 30)
    sent = 0
    for n in range(6):
        handled = await row(session, f"h{n}")
        if handled.status == OutboxStatus.SENT:
            sent += 1
        else:  # not started: back in the queue, untouched
            assert handled.status == OutboxStatus.PENDING and handled.claimed_by is None
            assert handled.attempts == 0
    assert sent == len(recording.take()) >= 1


# -- 3. one rate, one spacing, for all senders -------------------------------------------------
async def test_the_rate_bucket_is_shared(session: AsyncSession) -> None:
    """Every sender takes its slot from one bucket: slots `interval` apart whoever asks, and
    an idle bucket starts from now (no burst saved up)."""
    waits = []
    for _ in range(4):  # as if four senders asked at the same moment
        waits.append(await reserve_send_slot(session, "bot:1", interval=0.1, now=1000.0))
        await session.commit()
    assert waits == pytest.approx([0.0, 0.1, 0.2, 0.3])
    assert await reserve_send_slot(session, "bot:1", interval=0.1, now=1000.35) == pytest.approx(
        0.05
    )
    assert await reserve_send_slot(session, "bot:1", interval=0.1, now=2000.0) == 0.0
    assert await reserve_send_slot(session, "bot:2", interval=0.1, now=2000.0) == 0.0
    await session.commit()


async def test_the_chat_spacing_holds_across_senders(session: AsyncSession) -> None:
    """A chat just written to by one sender is not claimed by another for a second (three for
    a group)."""
    now = utcnow()
    for chat in (340, STAFF_CHAT):
        for n in range(2):
            await queue(session, chat_id=chat, dedup_key=f"{chat}:{n}", due_at=now)
    first = await claim_due(session, now=now, sender_id="a")
    assert sorted(r.dedup_key for r in first) == [f"{STAFF_CHAT}:0", "340:0"]
    for claimed in first:
        await mark_sent(session, claimed.id, telegram_message_id=1, now=now)
    await session.commit()

    assert await claim_due(session, now=now + timedelta(seconds=0.5), sender_id="b") == []
    later = await claim_due(session, now=now + timedelta(seconds=1.1), sender_id="b")
    assert [r.dedup_key for r in later] == ["340:1"]
    await session.commit()
    assert await claim_due(session, now=now + timedelta(seconds=2.5), sender_id="b") == []
    group = await claim_due(session, now=now + timedelta(seconds=3.1), sender_id="b")
    assert [r.dedup_key for r in group] == [f"{STAFF_CHAT}:1"]
    await session.commit()


# -- 4. order --------------------------------------------------------------------------------
async def test_a_chats_messages_keep_their_order_after_an_outage(
    session: AsyncSession,
    make_sender: Callable[..., OutboxSender],
    recording: FlakySession,
    fake_time: FakeTime,
) -> None:
    for n in range(3):
        for chat in (350, 351, 352):
            await queue(session, chat_id=chat, dedup_key=f"{chat}:{n}", params={"n": n})
    recording.queue_error(502, "Bad Gateway")
    recording.network_errors = []
    await drain(make_sender(fake_time), fake_time, step=0.5)
    chats = by_chat(recording.take())
    for chat in (350, 351, 352):
        delivered = chats[chat]
        # (the request that got the 502 is the first of its chat, tried again in its place)
        assert delivered[-3:] == ["ping 0", "ping 1", "ping 2"], (chat, delivered)
    for chat in (350, 351, 352):
        for n in range(3):
            assert (await row(session, f"{chat}:{n}")).status == OutboxStatus.SENT


async def test_one_chats_trouble_holds_up_no_other(
    session: AsyncSession,
    make_sender: Callable[..., OutboxSender],
    recording: FlakySession,
    fake_time: FakeTime,
) -> None:
    """Flood control on one chat: its later messages wait behind the first, the other chats'
    go on; then it gets them, in order."""
    for n in range(3):
        await queue(session, chat_id=360, dedup_key=f"x{n}", params={"n": n})
        await queue(session, chat_id=361, dedup_key=f"y{n}", params={"n": n})
    recording.queue_error(429, "Too Many Requests: retry after 30", retry_after=30)
    sender = make_sender(fake_time, outbox_concurrency=1)
    for _ in range(3):
        await sender.send_due()
        fake_time.now += 1.1
    chats = by_chat(recording.take())
    assert chats == {360: ["ping 0"], 361: ["ping 0", "ping 1", "ping 2"]}
    assert (await row(session, "x1")).status == OutboxStatus.PENDING
    fake_time.now += 30
    await drain(sender, fake_time, step=1.1)
    assert by_chat(recording.take()) == {360: ["ping 0", "ping 1", "ping 2"]}


# -- 5. a hung request -----------------------------------------------------------------------
class HangingSession(FlakySession):
    """Telegram never answers requests to the chats in `hung`: such a request runs until its
    timeout, as aiohttp's would, and fails like it. Its timeout comes (on the fake clock) once
    `others` other requests were answered meanwhile, or after ten real seconds."""

    def __init__(self, clock: FakeTime, others: int) -> None:
        super().__init__()
        self.fake_time = clock
        self.hung: set[int] = set()
        self.timeouts: list[int | None] = []
        self.others = others
        self.others_done = asyncio.Event()

    async def make_request(
        self, bot: Bot, method: TelegramMethod[Any], timeout: int | None = None
    ) -> Any:
        self.timeouts.append(timeout)
        chat_id = getattr(method, "chat_id", None)
        if chat_id in self.hung:
            self.requests.append(Request(method.__api_method__, {"chat_id": chat_id}))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.others_done.wait(), timeout=10)
            await self.fake_time.sleep(float(timeout or 60))
            raise TelegramNetworkError(method=method, message="Request timeout error")
        answer = await super().make_request(bot, method, timeout)
        self.others -= 1
        if self.others <= 0:
            self.others_done.set()
        return answer


async def test_a_hung_request_times_out_while_other_chats_go_on(
    session: AsyncSession,
    make_sender: Callable[..., OutboxSender],
    fake_time: FakeTime,
) -> None:
    hanging = HangingSession(fake_time, others=5)
    hanging.hung = {370}
    sender = make_sender(fake_time, outbox_request_timeout=4)
    sender.bot = create_bot(sender.settings, TEST_TOKEN, session=hanging)
    await queue(session, chat_id=370, dedup_key="hung")
    for n in range(5):
        await queue(session, chat_id=371 + n, dedup_key=f"fine{n}")
    await sender.send_due()
    assert set(hanging.timeouts) == {4}  # every request carries the timeout
    assert {r.chat_id for r in hanging.take()} == {370, 371, 372, 373, 374, 375}
    for n in range(5):
        assert (await row(session, f"fine{n}")).status == OutboxStatus.SENT
    hung = await row(session, "hung")
    assert hung.status == OutboxStatus.PENDING and hung.attempts == 0
    assert "timeout" in (hung.last_error or "").lower()
    hanging.hung.clear()
    await drain(sender, fake_time)
    assert (await row(session, "hung")).status == OutboxStatus.SENT


# -- 6. 429 forever --------------------------------------------------------------------------
class AlwaysFlooded(FlakySession):
    def __init__(self, chat_id: int) -> None:
        super().__init__()
        self.chat_id = chat_id

    async def make_request(
        self, bot: Bot, method: TelegramMethod[Any], timeout: int | None = None
    ) -> Any:
        if getattr(method, "chat_id", None) == self.chat_id:
            self.queue_error(429, "Too Many Requests: retry after 5", retry_after=5)
        return await super().make_request(bot, method, timeout)


async def test_a_chat_answering_429_forever_expires_with_its_attempts_counted(
    session: AsyncSession,
    make_sender: Callable[..., OutboxSender],
    fake_time: FakeTime,
) -> None:
    flooded = AlwaysFlooded(380)
    sender = make_sender(fake_time)
    sender.bot = create_bot(sender.settings, TEST_TOKEN, session=flooded)
    await queue(session, chat_id=380, dedup_key="flooded")
    await queue(session, chat_id=381, dedup_key="fine")
    tries = 0
    while (await row(session, "flooded")).status == OutboxStatus.PENDING:
        await sender.send_due()
        tries += 1
        assert (await row(session, "flooded")).attempts in (tries, tries - 1)
        fake_time.now += 6 * 3600
        assert tries < 20
    given_up = await row(session, "flooded")
    assert given_up.status == OutboxStatus.FAILED and given_up.attempts == tries - 1 >= 10
    assert "expired" in (given_up.last_error or "")
    assert "Too Many Requests" in (given_up.last_error or "")
    assert (await row(session, "fine")).status == OutboxStatus.SENT
