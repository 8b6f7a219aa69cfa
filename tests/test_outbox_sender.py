"""The outbox sender against real databases (SQLite and PostgreSQL) with Telegram replaced by
the recording session. Time is injected: the sender's clock and sleep are fakes, so nothing here
waits, and the rate limits are checked on the sleeps the sender asked for."""

from __future__ import annotations

import asyncio
import itertools
import logging
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import pytest
from aiogram import Bot
from aiogram.exceptions import TelegramNetworkError
from aiogram.methods import TelegramMethod
from aiogram.types import InlineKeyboardButton, InlineKeyboardMarkup
from aiogram.utils.i18n import I18n
from aiogram.utils.i18n import gettext as _
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.config import Settings
from bot.db import create_engine, create_sessionmaker
from bot.factory import create_bot
from bot.sender import OutboxSender
from handlers import system_notifications
from handlers.notifications import NotificationRenderers, Rendered, Renderer
from models.base import utcnow
from models.outbox import (
    UNREACHABLE_ERROR,
    OutboxMessage,
    OutboxRate,
    OutboxStatus,
    enqueue,
    register_sender,
)
from models.users import User, mark_reachable
from tests.chat import Chat, Person
from tests.recording import TEST_TOKEN, QueuedAnswer, RecordingSession, Request

STAFF_CHAT = -1001234567890


# -- test-only notification kinds --------------------------------------------------------------
def _render_ping(params: dict[str, Any]) -> Rendered:
    return Rendered(f"ping {params.get('n', '')}".strip())


def _render_translated(params: dict[str, Any]) -> Rendered:
    return Rendered(_("Back to menu"))


def _render_card(params: dict[str, Any]) -> Rendered:
    keyboard = InlineKeyboardMarkup(
        inline_keyboard=[[InlineKeyboardButton(text="Take", callback_data="t:1")]]
    )
    return Rendered(f"Card: {params['status']}", reply_markup=keyboard)


def _render_photo(params: dict[str, Any]) -> Rendered:
    return Rendered("A photo for you", photo=params["file_id"])


def _render_broken(params: dict[str, Any]) -> Rendered:
    return Rendered(params["missing"])


# Kinds are strings in the row; these are not NotificationKind members, so no real row has them.
TEST_RENDERERS: dict[Any, Renderer] = {
    "test.outbox.ping": _render_ping,
    "test.outbox.translated": _render_translated,
    "test.outbox.card": _render_card,
    "test.outbox.photo": _render_photo,
    "test.outbox.broken": _render_broken,
}


def renderers() -> NotificationRenderers:
    return NotificationRenderers(system_notifications.renderers(), TEST_RENDERERS)


# -- Telegram and time stand-ins ---------------------------------------------------------------
class FlakySession(RecordingSession):
    """The recording session, plus network failures (which never reach Telegram, so they are
    raised before the request is answered) and a hook that sees each request as it is made."""

    def __init__(self) -> None:
        super().__init__()
        self.network_errors: list[str] = []
        self.on_request: Callable[[str], None] | None = None

    async def make_request(
        self, bot: Bot, method: TelegramMethod[Any], timeout: int | None = None
    ) -> Any:
        await asyncio.sleep(0)  # let other tasks run, as a real request would
        if self.on_request is not None:
            self.on_request(method.__api_method__)
        if self.network_errors:
            self.requests.append(Request(method.__api_method__, {}))
            raise TelegramNetworkError(method=method, message=self.network_errors.pop(0))
        return await super().make_request(bot, method, timeout)


class FakeTime:
    """The sender's clock, its wall time and its sleep. A sleep returns at once with the clock
    moved to its end; sleeps running side by side overlap (the clock goes to the latest end),
    as they would in real time. The wall time is the real one moved on as far as the clock."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    def wall(self) -> datetime:
        return utcnow() + timedelta(seconds=self.now - 1000.0)

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        end = self.now + seconds
        await asyncio.sleep(0)
        self.now = max(self.now, end)


# -- fixtures ----------------------------------------------------------------------------------
@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest) -> str:
    """Every test here on SQLite and on PostgreSQL. (Like conftest's `any_database_url`, but a
    plain fixture: that one is async, and building the templates or the PostgreSQL database
    from inside the running event loop fails.)"""
    if request.param == "sqlite":
        return str(request.getfixturevalue("sqlite_database_url"))
    return str(request.getfixturevalue("pg_database_url"))


@pytest.fixture
def recording() -> FlakySession:
    return FlakySession()


@pytest.fixture
def fake_time() -> FakeTime:
    return FakeTime()


@pytest.fixture
def make_sender(
    bot: Bot, sessionmaker: async_sessionmaker[AsyncSession], i18n: I18n, settings: Settings
) -> Callable[..., OutboxSender]:
    def make(fake: FakeTime | None = None, **overrides: Any) -> OutboxSender:
        fake = fake or FakeTime()
        custom = settings.model_copy(update={"outbox_rate_per_second": 1000.0, **overrides})
        return OutboxSender(
            bot=bot,
            sessionmaker=sessionmaker,
            i18n=i18n,
            settings=custom,
            renderers=renderers(),
            sleep=fake.sleep,
            clock=fake.clock,
            wall=fake.wall,
        )

    return make


async def add_user(
    session: AsyncSession,
    telegram_id: int,
    *,
    language: str | None = None,
    telegram_language: str | None = None,
) -> User:
    user = User(telegram_id=telegram_id, language=language, telegram_language=telegram_language)
    session.add(user)
    await session.commit()
    return user


async def queue(session: AsyncSession, **kwargs: Any) -> None:
    kwargs.setdefault("kind", "test.outbox.ping")
    await enqueue(session, **kwargs)
    await session.commit()


async def row(session: AsyncSession, dedup_key: str) -> OutboxMessage:
    session.expire_all()
    found = await session.scalar(select(OutboxMessage).where(OutboxMessage.dedup_key == dedup_key))
    await session.commit()  # on SQLite even a read holds the write lock until the end
    assert found is not None
    return found


async def make_all_due(session: AsyncSession, *, waits_too: bool = True) -> None:
    """Time travel for retries: every queued row becomes due now (and, with `waits_too`, no
    longer waits after a 429 or a failed request); nothing counts as just sent."""
    values: dict[str, Any] = {"due_at": utcnow() - timedelta(seconds=1)}
    if waits_too:
        values["retry_at"] = None
    await session.execute(
        update(OutboxMessage).where(OutboxMessage.status == OutboxStatus.PENDING).values(**values)
    )
    await session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.sent_at.is_not(None))
        .values(sent_at=utcnow() - timedelta(minutes=1))
    )
    await session.commit()


def close_to(actual: Any, expected: Any, slack: timedelta = timedelta(seconds=30)) -> bool:
    return abs(actual - expected) < slack


# -- the ordinary path -------------------------------------------------------------------------
async def test_sends_due_rows_in_due_order_and_records_them(
    session: AsyncSession, make_sender: Callable[..., OutboxSender], recording: FlakySession
) -> None:
    now = utcnow()
    await queue(session, chat_id=11, dedup_key="b", params={"n": 2}, due_at=now - timedelta(1))
    await queue(session, chat_id=12, dedup_key="a", params={"n": 1}, due_at=now - timedelta(2))
    await queue(session, chat_id=13, dedup_key="later", due_at=now + timedelta(hours=1))

    sender = make_sender()
    assert await sender.send_due() == 2

    sent = recording.take()
    assert [(r.method, r.chat_id, r.text) for r in sent] == [
        ("sendMessage", 12, "ping 1"),
        ("sendMessage", 11, "ping 2"),
    ]
    first = await row(session, "a")
    assert first.status == OutboxStatus.SENT
    assert first.telegram_message_id == sent[0].message_id
    assert first.sent_at is not None and first.attempts == 1 and first.locked_at is None
    assert (await row(session, "later")).status == OutboxStatus.PENDING
    assert await sender.send_due() == 0
    assert recording.take() == []


async def test_enqueue_twice_with_one_key_sends_one_message(
    session: AsyncSession, make_sender: Callable[..., OutboxSender], recording: FlakySession
) -> None:
    assert await enqueue(session, chat_id=21, kind="test.outbox.ping", dedup_key="remind:1:24h")
    assert not await enqueue(session, chat_id=21, kind="test.outbox.ping", dedup_key="remind:1:24h")
    await session.commit()
    # A scheduler running again after the message went out changes nothing either.
    sender = make_sender()
    await sender.send_due()
    assert not await enqueue(session, chat_id=21, kind="test.outbox.ping", dedup_key="remind:1:24h")
    await session.commit()
    await sender.send_due()
    assert [r.chat_id for r in recording.take()] == [21]


async def test_renders_in_the_recipients_language_at_send_time(
    session: AsyncSession,
    make_sender: Callable[..., OutboxSender],
    recording: FlakySession,
    i18n: I18n,
) -> None:
    chosen = await add_user(session, 31, language="zh_Hans")
    guessed = await add_user(session, 32, telegram_language="zh-TW")
    await queue(
        session, chat_id=31, user_id=chosen.id, kind="test.outbox.translated", dedup_key="c"
    )
    await queue(
        session, chat_id=32, user_id=guessed.id, kind="test.outbox.translated", dedup_key="g"
    )
    await queue(session, chat_id=STAFF_CHAT, kind="test.outbox.translated", dedup_key="staff")
    # After the rows were queued, the first user switches to English.
    chosen.language = "en"
    await session.commit()

    await make_sender().send_due()

    texts = {r.chat_id: r.text for r in recording.take()}
    assert texts[31] == i18n.gettext("Back to menu", locale="en") == "Back to menu"
    assert texts[32] == i18n.gettext("Back to menu", locale="zh_Hant")
    assert texts[STAFF_CHAT] == i18n.gettext("Back to menu", locale="zh_Hans")
    assert texts[32] != texts[31] and texts[STAFF_CHAT] != texts[31]


async def test_photo_rows_go_out_as_photos_with_the_text_as_caption(
    session: AsyncSession, make_sender: Callable[..., OutboxSender], recording: FlakySession
) -> None:
    await queue(
        session, chat_id=41, kind="test.outbox.photo", params={"file_id": "AgAD1"}, dedup_key="p"
    )
    await make_sender().send_due()
    [sent] = recording.take()
    assert sent.method == "sendPhoto"
    assert sent.params["photo"] == "AgAD1" and sent.params["caption"] == "A photo for you"


async def test_system_text_carries_final_text(
    session: AsyncSession, make_sender: Callable[..., OutboxSender], recording: FlakySession
) -> None:
    text = "明天上午九点，社区活动室有健康讲座。<b>不是HTML</b>"
    await queue(session, chat_id=42, kind="system.text", params={"text": text}, dedup_key="bc")
    await make_sender().send_due()
    [sent] = recording.take()
    assert sent.method == "sendMessage" and sent.text == text
    assert "parse_mode" not in sent.params


# -- editing a card in place -------------------------------------------------------------------
async def test_edit_changes_the_earlier_message_in_place(
    session: AsyncSession, make_sender: Callable[..., OutboxSender], recording: FlakySession
) -> None:
    sender = make_sender()
    await queue(
        session,
        chat_id=STAFF_CHAT,
        kind="test.outbox.card",
        params={"status": "new"},
        dedup_key="card:1",
    )
    # The edit is queued before the card went out: it waits for it, without using an attempt.
    await queue(
        session,
        chat_id=STAFF_CHAT,
        kind="test.outbox.card",
        params={"status": "taken"},
        dedup_key="card:1:taken",
        edit_of="card:1",
        due_at=utcnow() - timedelta(seconds=5),
    )
    await sender.send_due()
    assert recording.take() == []
    waiting = await row(session, "card:1:taken")
    assert waiting.status == OutboxStatus.PENDING and waiting.attempts == 0
    assert waiting.due_at > utcnow()  # behind the card it edits, in its chat's queue

    await sender.send_due()
    [card] = recording.take()
    assert card.method == "sendMessage" and card.text == "Card: new"

    await make_all_due(session)
    await make_sender().send_due()  # a fresh sender: the staff chat is not paused for it
    [edit] = recording.take()
    assert edit.method == "editMessageText"
    assert edit.chat_id == STAFF_CHAT and edit.params["message_id"] == card.message_id
    assert edit.text == "Card: taken" and edit.button_texts() == ["Take"]
    edited = await row(session, "card:1:taken")
    assert edited.status == OutboxStatus.SENT
    assert edited.telegram_message_id == card.message_id


async def test_edit_that_changes_nothing_counts_as_sent(
    session: AsyncSession, make_sender: Callable[..., OutboxSender], recording: FlakySession
) -> None:
    await queue(
        session, chat_id=-100777, kind="test.outbox.card", params={"status": "x"}, dedup_key="k"
    )
    await make_sender().send_due()
    recording.take()
    await queue(
        session,
        chat_id=-100777,
        kind="test.outbox.card",
        params={"status": "x"},
        dedup_key="k:again",
        edit_of="k",
    )
    recording.queue_error(
        400,
        "Bad Request: message is not modified: specified new message content and reply markup "
        "are exactly the same as a current content and reply markup of the message",
    )
    await make_all_due(session)  # a group takes a message every three seconds
    await make_sender().send_due()
    assert [r.method for r in recording.take()] == ["editMessageText"]
    assert (await row(session, "k:again")).status == OutboxStatus.SENT


async def test_edit_of_a_deleted_message_sends_a_new_one(
    session: AsyncSession, make_sender: Callable[..., OutboxSender], recording: FlakySession
) -> None:
    await queue(
        session, chat_id=-100778, kind="test.outbox.card", params={"status": "a"}, dedup_key="d"
    )
    await make_sender().send_due()
    recording.take()
    await queue(
        session,
        chat_id=-100778,
        kind="test.outbox.card",
        params={"status": "b"},
        dedup_key="d:b",
        edit_of="d",
    )
    recording.queue_error(400, "Bad Request: message to edit not found")
    await make_all_due(session)
    await make_sender().send_due()
    assert [r.method for r in recording.take()] == ["editMessageText", "sendMessage"]
    assert (await row(session, "d:b")).status == OutboxStatus.SENT


# -- Telegram's errors -------------------------------------------------------------------------
async def test_flood_control_obeys_retry_after_and_pauses_the_chat(
    session: AsyncSession,
    make_sender: Callable[..., OutboxSender],
    recording: FlakySession,
    fake_time: FakeTime,
) -> None:
    sender = make_sender(fake_time)
    await queue(session, chat_id=51, dedup_key="flood", params={"n": 1})
    recording.queue_error(429, "Too Many Requests: retry after 7", retry_after=7)
    before = utcnow()
    await sender.send_due()
    assert [r.method for r in recording.take()] == ["sendMessage"]

    held = await row(session, "flood")
    assert held.status == OutboxStatus.PENDING and held.attempts == 1  # counted, not used up
    assert held.retry_at is not None and held.due_at < before  # waits in its place
    assert close_to(held.retry_at, before + timedelta(seconds=7), timedelta(seconds=3))
    assert "retry" in (held.last_error or "").lower()

    # The chat is paused: even a row due now for it waits; other chats are served meanwhile.
    await queue(session, chat_id=51, dedup_key="same-chat", params={"n": 2})
    await queue(session, chat_id=52, dedup_key="other-chat", params={"n": 3})
    await sender.send_due()
    assert [r.chat_id for r in recording.take()] == [52]

    fake_time.now += 7
    await sender.send_due()
    await sender.send_due()
    fake_time.now += 1
    await sender.send_due()
    assert [r.text for r in recording.take()] == ["ping 1", "ping 2"]
    assert (await row(session, "flood")).status == OutboxStatus.SENT


async def test_blocked_user_is_marked_unreachable_until_they_start_again(
    session: AsyncSession, make_sender: Callable[..., OutboxSender], recording: FlakySession
) -> None:
    user = await add_user(session, 61)
    await queue(session, chat_id=61, user_id=user.id, dedup_key="first")
    recording.queue_error(403, "Forbidden: bot was blocked by the user")
    await make_sender().send_due()
    assert len(recording.take()) == 1

    failed = await row(session, "first")
    assert failed.status == OutboxStatus.FAILED and "blocked" in (failed.last_error or "")
    await session.refresh(user)
    await session.commit()
    assert user.reachable is False and user.unreachable_at is not None

    # Later rows for them fail without a request to Telegram.
    await queue(session, chat_id=61, user_id=user.id, dedup_key="second")
    await make_sender().send_due()
    assert recording.take() == []
    skipped = await row(session, "second")
    assert skipped.status == OutboxStatus.FAILED and skipped.last_error == UNREACHABLE_ERROR

    # They come back with /start (onboarding calls mark_reachable): messages flow again.
    mark_reachable(user)
    await session.commit()
    await queue(session, chat_id=61, user_id=user.id, dedup_key="third")
    await make_sender().send_due()
    assert [r.chat_id for r in recording.take()] == [61]
    assert (await row(session, "third")).status == OutboxStatus.SENT


async def test_forbidden_in_a_group_does_not_mark_anyone_unreachable(
    session: AsyncSession, make_sender: Callable[..., OutboxSender], recording: FlakySession
) -> None:
    user = await add_user(session, 62)
    await queue(session, chat_id=STAFF_CHAT, user_id=user.id, dedup_key="group")
    recording.queue_error(403, "Forbidden: bot was kicked from the supergroup chat")
    await make_sender().send_due()
    assert (await row(session, "group")).status == OutboxStatus.FAILED
    await session.refresh(user)
    await session.commit()
    assert user.reachable is True


async def test_bad_request_fails_for_good_with_the_error_recorded(
    session: AsyncSession, make_sender: Callable[..., OutboxSender], recording: FlakySession
) -> None:
    await queue(session, chat_id=71, dedup_key="bad")
    recording.queue_error(400, "Bad Request: chat not found")
    sender = make_sender()
    await sender.send_due()
    failed = await row(session, "bad")
    assert failed.status == OutboxStatus.FAILED and failed.attempts == 1
    assert "chat not found" in (failed.last_error or "")
    await make_all_due(session)
    await sender.send_due()
    assert len(recording.take()) == 1  # never tried again


async def test_unknown_kind_and_broken_renderer_fail_without_a_request(
    session: AsyncSession, make_sender: Callable[..., OutboxSender], recording: FlakySession
) -> None:
    await queue(session, chat_id=72, kind="test.outbox.no_such_kind", dedup_key="unknown")
    await queue(session, chat_id=73, kind="test.outbox.broken", dedup_key="broken")
    await make_sender().send_due()
    assert recording.take() == []
    unknown = await row(session, "unknown")
    assert unknown.status == OutboxStatus.FAILED and "test.outbox.no_such_kind" in (
        unknown.last_error or ""
    )
    broken = await row(session, "broken")
    assert broken.status == OutboxStatus.FAILED and "KeyError" in (broken.last_error or "")


async def test_network_error_pauses_the_sender_without_using_an_attempt(
    session: AsyncSession,
    make_sender: Callable[..., OutboxSender],
    recording: FlakySession,
    fake_time: FakeTime,
    caplog: pytest.LogCaptureFixture,
) -> None:
    await queue(session, chat_id=81, dedup_key="net")
    # aiohttp errors may quote the request URL, which holds the token: it must not leak.
    recording.network_errors = [
        "Request timeout error",
        f"ClientConnectorError: https://api.telegram.org/bot{TEST_TOKEN}/sendMessage",
    ]
    sender = make_sender(fake_time)
    caplog.set_level(logging.DEBUG)

    await sender.send_due()
    first = await row(session, "net")
    assert first.status == OutboxStatus.PENDING and first.attempts == 0
    assert first.retry_at is not None and close_to(
        first.retry_at, fake_time.wall() + timedelta(seconds=1), timedelta(seconds=0.5)
    )
    # The row waits its turn; a second failure in a row is an outage: the sender pauses.
    assert await sender.send_due() == 0
    fake_time.now += 1
    await sender.send_due()
    second = await row(session, "net")
    assert second.status == OutboxStatus.PENDING and second.attempts == 0
    assert TEST_TOKEN not in (second.last_error or "") and "<token>" in (second.last_error or "")
    fake_time.now += 0.5
    assert await sender.send_due() == 0  # paused (1 s), then one probe
    fake_time.now += 0.5
    await sender.send_due()
    sent = await row(session, "net")
    assert sent.status == OutboxStatus.SENT and sent.attempts == 1 and sent.last_error is None
    assert [r.method for r in recording.take()] == ["sendMessage"] * 3
    assert TEST_TOKEN not in caplog.text
    assert caplog.text.count("Telegram is not answering") == 1
    assert caplog.text.count("Telegram answers again") == 1


async def test_network_errors_never_give_a_message_up(
    session: AsyncSession,
    make_sender: Callable[..., OutboxSender],
    recording: FlakySession,
    fake_time: FakeTime,
) -> None:
    await queue(session, chat_id=82, dedup_key="down")
    recording.network_errors = ["Request timeout error"] * 30
    sender = make_sender(fake_time)
    for _attempt in range(30):
        await sender.send_due()
        fake_time.now += 60
    still = await row(session, "down")
    assert still.status == OutboxStatus.PENDING and still.attempts == 0
    await sender.send_due()
    assert len(recording.take()) == 31
    assert (await row(session, "down")).status == OutboxStatus.SENT


async def test_server_error_is_retried(
    session: AsyncSession,
    make_sender: Callable[..., OutboxSender],
    recording: FlakySession,
    fake_time: FakeTime,
) -> None:
    await queue(session, chat_id=83, dedup_key="5xx")
    recording.queue_error(502, "Bad Gateway")
    sender = make_sender(fake_time)
    await sender.send_due()
    retried = await row(session, "5xx")
    assert retried.status == OutboxStatus.PENDING and retried.attempts == 0
    assert "Bad Gateway" in (retried.last_error or "")
    fake_time.now += 1
    await sender.send_due()
    assert (await row(session, "5xx")).status == OutboxStatus.SENT


async def test_group_moved_to_a_supergroup_is_followed(
    session: AsyncSession, make_sender: Callable[..., OutboxSender], recording: FlakySession
) -> None:
    await queue(session, chat_id=-4001, dedup_key="moved")
    recording.queued.append(
        QueuedAnswer(
            None,
            False,
            error_code=400,
            description="Bad Request: group chat was upgraded to a supergroup chat",
            parameters={"migrate_to_chat_id": -1004001},
        )
    )
    await make_sender().send_due()
    await make_sender().send_due()
    assert [r.chat_id for r in recording.take()] == [-4001, -1004001]
    moved = await row(session, "moved")
    assert moved.status == OutboxStatus.SENT and moved.chat_id == -1004001


async def test_group_rows_ignore_the_mentioned_users_state_and_language(
    session: AsyncSession,
    make_sender: Callable[..., OutboxSender],
    recording: FlakySession,
    i18n: I18n,
) -> None:
    # A staff-group card may name the retiree it is about; their language or a block of the
    # bot in their private chat says nothing about the group.
    user = await add_user(session, 63, language="en")
    user.reachable = False
    await session.commit()
    await queue(
        session,
        chat_id=STAFF_CHAT,
        user_id=user.id,
        kind="test.outbox.translated",
        dedup_key="about",
    )
    await make_sender().send_due()
    [sent] = recording.take()
    assert sent.chat_id == STAFF_CHAT
    assert sent.text == i18n.gettext("Back to menu", locale="zh_Hans")


# -- rate limits -------------------------------------------------------------------------------
async def test_global_rate_limit_spaces_requests(
    session: AsyncSession,
    make_sender: Callable[..., OutboxSender],
    recording: FlakySession,
    fake_time: FakeTime,
    database_url: str,
) -> None:
    for n in range(5):
        await queue(session, chat_id=100 + n, dedup_key=f"r{n}", params={"n": n})
    started = fake_time.wall().timestamp()
    await make_sender(fake_time, outbox_rate_per_second=10.0).send_due()
    assert len(recording.take()) == 5
    # Several requests in flight, each waiting for its own slot of the bucket, 0.1 s apart.
    # (The exact slots: tests/test_outbox_delivery.py::test_the_rate_bucket_is_shared.)
    if database_url.startswith("sqlite"):  # one sender: the bucket is in the process
        assert fake_time.sleeps == pytest.approx([0.1, 0.2, 0.3, 0.4])
    else:  # the bucket every sender shares: five slots taken from it
        tat = await session.scalar(select(OutboxRate.tat))
        await session.commit()
        assert tat is not None and tat >= started + 0.5 - 1e-6


async def test_one_message_per_second_per_chat(
    session: AsyncSession,
    make_sender: Callable[..., OutboxSender],
    recording: FlakySession,
    fake_time: FakeTime,
) -> None:
    for n in range(3):
        await queue(session, chat_id=91, dedup_key=f"same{n}", params={"n": n})
    await queue(session, chat_id=92, dedup_key="other", params={"n": 9})
    sent_at: list[tuple[float, str]] = []
    sender = make_sender(fake_time)
    stop = asyncio.Event()

    def seen(method: str) -> None:
        sent_at.append((fake_time.now, method))
        if len(sent_at) == 4:
            stop.set()

    recording.on_request = seen
    await asyncio.wait_for(sender.run(stop), timeout=30)

    requests = recording.take()
    assert [r.text for r in requests if r.chat_id == 91] == ["ping 0", "ping 1", "ping 2"]
    times = [t for (t, _), r in zip(sent_at, requests, strict=True) if r.chat_id == 91]
    gaps = [b - a for a, b in itertools.pairwise(times)]
    assert all(gap >= 1.0 for gap in gaps), gaps
    assert max(fake_time.sleeps) <= 1.0  # waited for the chat, not longer


async def test_a_group_gets_at_most_one_message_every_three_seconds(
    session: AsyncSession,
    make_sender: Callable[..., OutboxSender],
    recording: FlakySession,
    fake_time: FakeTime,
) -> None:
    for n in range(3):
        await queue(session, chat_id=STAFF_CHAT, dedup_key=f"card{n}", params={"n": n})
    sent_at: list[float] = []
    stop = asyncio.Event()

    def seen(method: str) -> None:
        sent_at.append(fake_time.now)
        if len(sent_at) == 3:
            stop.set()

    recording.on_request = seen
    await asyncio.wait_for(make_sender(fake_time).run(stop), timeout=30)
    assert [r.text for r in recording.take()] == ["ping 0", "ping 1", "ping 2"]
    assert all(b - a >= 3.0 for a, b in itertools.pairwise(sent_at)), sent_at


# -- crash, resume and shutdown ----------------------------------------------------------------
async def claimed_by(session: AsyncSession, dedup_key: str, sender_id: str, lease: float) -> None:
    """The row is in flight with sender `sender_id`, whose lease ends `lease` seconds from
    now (negative: it lapsed)."""
    now = utcnow()
    await register_sender(
        session, sender_id, host="elsewhere", pid=1, lease=timedelta(seconds=lease), now=now
    )
    await session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.dedup_key == dedup_key)
        .values(status=OutboxStatus.SENDING, locked_at=now, claimed_by=sender_id)
    )
    await session.commit()


async def test_only_the_rows_of_a_sender_that_is_gone_are_sent_again(
    session: AsyncSession,
    make_sender: Callable[..., OutboxSender],
    recording: FlakySession,
    fake_time: FakeTime,
    database_url: str,
) -> None:
    """A sender that crashed (its lease lapsed) leaves its row in flight: it goes out again.
    A live sender's row in flight is never taken from it (on PostgreSQL, where several may
    run); on SQLite, where one runs, the start-up takes back every row in flight."""
    await queue(session, chat_id=111, dedup_key="crashed", params={"n": 1})
    await queue(session, chat_id=112, dedup_key="alive", params={"n": 2})
    await claimed_by(session, "crashed", "dead-sender", lease=-1)
    await claimed_by(session, "alive", "live-sender", lease=60)

    sender = make_sender(fake_time)
    await sender.send_due()
    texts = sorted(r.text for r in recording.take())
    if database_url.startswith("sqlite"):
        assert texts == ["ping 1", "ping 2"]
    else:
        assert texts == ["ping 1"]
        assert (await row(session, "alive")).status == OutboxStatus.SENDING
        # ... until that sender stops renewing its lease: seconds, not minutes.
        fake_time.now += 61
        await sender.send_due()
        assert [r.text for r in recording.take()] == ["ping 2"]
    assert (await row(session, "crashed")).status == OutboxStatus.SENT
    assert (await row(session, "alive")).status == OutboxStatus.SENT


async def test_start_up_resumes_rows_in_flight_only_when_no_other_sender_can_exist(
    session: AsyncSession,
    make_sender: Callable[..., OutboxSender],
    recording: FlakySession,
    fake_time: FakeTime,
    database_url: str,
) -> None:
    """On SQLite (one sender) a row claimed a moment before the crash is sent at start-up; on
    PostgreSQL another sender may be sending it right now, so it waits until it is stale."""
    await queue(session, chat_id=114, dedup_key="just-claimed", params={"n": 4})
    await queue(session, chat_id=115, dedup_key="ordinary", params={"n": 5})
    await session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.dedup_key == "just-claimed")
        .values(status=OutboxStatus.SENDING, locked_at=utcnow() - timedelta(seconds=5))
    )
    await session.commit()
    stop = asyncio.Event()
    recording.on_request = lambda method: stop.set()
    await asyncio.wait_for(make_sender(fake_time).run(stop), timeout=30)
    texts = [r.text for r in recording.take()]
    if database_url.startswith("sqlite"):
        assert texts == ["ping 4"]
        assert (await row(session, "just-claimed")).status == OutboxStatus.SENT
    else:
        assert texts == ["ping 5"]
        assert (await row(session, "just-claimed")).status == OutboxStatus.SENDING


async def test_resume_leaves_recently_claimed_rows_alone(
    session: AsyncSession, make_sender: Callable[..., OutboxSender]
) -> None:
    await queue(session, chat_id=112, dedup_key="fresh")
    await queue(session, chat_id=113, dedup_key="stale")
    for key, age in (("fresh", timedelta(seconds=10)), ("stale", timedelta(minutes=6))):
        await session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.dedup_key == key)
            .values(status=OutboxStatus.SENDING, locked_at=utcnow() - age)
        )
    await session.commit()
    assert await make_sender().resume() == 1
    assert (await row(session, "fresh")).status == OutboxStatus.SENDING
    assert (await row(session, "stale")).status == OutboxStatus.PENDING


async def test_stop_finishes_the_message_in_hand_and_hands_back_the_rest(
    session: AsyncSession,
    make_sender: Callable[..., OutboxSender],
    recording: FlakySession,
    fake_time: FakeTime,
) -> None:
    for n in range(4):
        await queue(session, chat_id=120 + n, dedup_key=f"s{n}", params={"n": n})
    stop = asyncio.Event()
    recording.on_request = lambda method: stop.set()  # shutdown arrives during the first send
    await asyncio.wait_for(make_sender(fake_time).run(stop), timeout=30)

    assert [r.text for r in recording.take()] == ["ping 0"]
    statuses = [(await row(session, f"s{n}")).status for n in range(4)]
    assert statuses == [OutboxStatus.SENT] + [OutboxStatus.PENDING] * 3
    for n in range(1, 4):
        assert (await row(session, f"s{n}")).locked_at is None


# -- several senders on PostgreSQL -------------------------------------------------------------
@pytest.mark.postgres
async def test_two_senders_on_postgresql_send_each_row_exactly_once(
    pg_database_url: str, i18n: I18n
) -> None:
    engines = [create_engine(pg_database_url) for _ in range(2)]
    makers = [create_sessionmaker(engine) for engine in engines]
    async with makers[0]() as session:
        for n in range(50):
            await enqueue(session, chat_id=5000 + n, kind="test.outbox.ping", dedup_key=f"m{n}")
        await session.commit()

    fast = Settings(
        _env_file=None,  # type: ignore[call-arg]
        bot_token=TEST_TOKEN,
        database_url=pg_database_url,
        outbox_rate_per_second=10_000.0,
    )
    sessions = [FlakySession(), FlakySession()]
    bots = [create_bot(fast, TEST_TOKEN, session=s) for s in sessions]
    senders = [
        OutboxSender(
            bot=b,
            sessionmaker=m,
            i18n=i18n,
            settings=fast,
            renderers=renderers(),
            sleep=FakeTime().sleep,
        )
        for b, m in zip(bots, makers, strict=True)
    ]

    async def drain(sender: OutboxSender) -> None:
        while await sender.send_due(limit=5):
            pass

    try:
        # Both are running (registered, each with a claim) before the queue is drained.
        await asyncio.gather(*(s.send_due(limit=1) for s in senders))
        await asyncio.wait_for(asyncio.gather(*(drain(s) for s in senders)), timeout=60)
        chats = [r.chat_id for s in sessions for r in s.requests]
        assert sorted(chats) == [5000 + n for n in range(50)]
        assert all(s.requests for s in sessions), "both senders should have taken a share"
        async with makers[0]() as session:
            statuses = set(await session.scalars(select(OutboxMessage.status)))
        assert statuses == {OutboxStatus.SENT}
    finally:
        for engine in engines:
            await engine.dispose()


# -- the whole way, as people meet it -----------------------------------------------------------
async def test_a_person_blocks_the_bot_and_comes_back_with_start(
    chat: Chat,
    session: AsyncSession,
    make_sender: Callable[..., OutboxSender],
    recording: FlakySession,
    i18n: I18n,
    database_url: str,
) -> None:
    person = Person(id=880001, first_name="Li Wei", language_code="en-GB")
    await chat.send(person, "/start")
    user_id = await session.scalar(select(User.id).where(User.telegram_id == person.id))
    await session.commit()
    assert user_id is not None

    # Something happens for them: it is queued, then delivered in their Telegram language.
    await queue(
        session, chat_id=person.id, user_id=user_id, kind="test.outbox.translated", dedup_key="1"
    )
    await make_sender().send_due()
    [notice] = recording.take()
    assert notice.chat_id == person.id
    assert notice.text == i18n.gettext("Back to menu", locale="en")

    # They block the bot: the next message bounces and they are marked unreachable ...
    await queue(session, chat_id=person.id, user_id=user_id, kind="test.outbox.ping", dedup_key="2")
    recording.queue_error(403, "Forbidden: bot was blocked by the user")
    await make_all_due(session)  # (a chat takes a message a second)
    await make_sender().send_due()
    assert len(recording.take()) == 1
    await queue(session, chat_id=person.id, user_id=user_id, kind="test.outbox.ping", dedup_key="3")
    await make_sender().send_due()
    assert recording.take() == []
    assert (await row(session, "3")).last_error == UNREACHABLE_ERROR

    # ... until they unblock it and press /start: then messages reach them again.
    await chat.send(person, "/start")
    await queue(session, chat_id=person.id, user_id=user_id, kind="test.outbox.ping", dedup_key="4")
    await make_all_due(session)
    await make_sender().send_due()
    assert [(r.method, r.chat_id) for r in recording.take()] == [("sendMessage", person.id)]
    assert (await row(session, "4")).status == OutboxStatus.SENT


async def test_sender_waits_out_a_database_outage(
    i18n: I18n, caplog: pytest.LogCaptureFixture
) -> None:
    """The database is down: the sender logs, backs off (2, 4, 8 s...) and keeps going."""
    engine = create_engine("postgresql+asyncpg://postgres@127.0.0.1:1/nowhere")
    fake = FakeTime()
    stop = asyncio.Event()

    async def sleep(seconds: float) -> None:
        await fake.sleep(seconds)
        if len(fake.sleeps) == 3:
            stop.set()

    settings = Settings(_env_file=None, bot_token=TEST_TOKEN)  # type: ignore[call-arg]
    sender = OutboxSender(
        bot=create_bot(settings, TEST_TOKEN, session=FlakySession()),
        sessionmaker=create_sessionmaker(engine),
        i18n=i18n,
        settings=settings,
        renderers=renderers(),
        sleep=sleep,
        clock=fake.clock,
    )
    try:
        await asyncio.wait_for(sender.run(stop), timeout=60)
    finally:
        await engine.dispose()
    assert fake.sleeps == [2.0, 4.0, 8.0]
    assert "Outbox sender pass failed" in caplog.text and TEST_TOKEN not in caplog.text
