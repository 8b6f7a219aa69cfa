"""The delivery issue's smaller cases, through the real Dispatcher (and the real webhook server):

7. answers typed while the bot was down arrive as a backlog: each is handled, in order; the
   double-tap guard still drops a live double tap;
8. REDIS_URL unreachable at start: one line, non-zero exit; Redis restarting mid-run: the
   update in the gap gets the kind error answer, the next ones work again;
9. forged callback ids beyond the database's integer range fail the filter (a kind toast, no
   OverflowError / DataError); a webhook body that is not an update gets 400 and one log line.
"""

from __future__ import annotations

import asyncio
import enum
import logging
import shutil
import socket
import subprocess
import sys
import time
import typing
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiogram import Bot, Dispatcher
from aiogram.filters.callback_data import CallbackData
from aiogram.utils.i18n import I18n
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

import handlers
from bot.config import Settings
from bot.factory import create_dispatcher
from bot.fsm_storage import SQLStorage
from bot.webhook import WEBHOOK_HANDLER, create_webhook_app, start_webhook_server
from handlers.ids import MAX_ID
from models.users import Role
from tests.chat import Chat, Person, last_message
from tests.recording import TEST_TOKEN, RecordingSession
from tests.test_activities_helpers import make_user
from tests.test_config import clean_env

STAFF = Person(6109, "赵老师")
CONSOLE_SCRIPT = Path(sys.executable).with_name("retiree-bot")


# -- 7. typing while the bot was down ----------------------------------------------------------
@pytest.fixture
def throttled_chat(
    settings: Settings,
    sessionmaker: async_sessionmaker[AsyncSession],
    i18n: I18n,
    bot: Bot,
    recording: RecordingSession,
) -> Chat:
    """The production dispatcher with the double-tap guard on (the default 0.3 s)."""
    guarded = settings.model_copy(update={"throttle_seconds": 0.3})
    dispatcher = create_dispatcher(
        guarded, sessionmaker, storage=SQLStorage(sessionmaker), i18n=i18n
    )
    return Chat(dispatcher, bot, recording)


async def test_answers_typed_while_the_bot_was_down_are_each_taken_in_order(
    throttled_chat: Chat, session: AsyncSession, recording: RecordingSession
) -> None:
    chat = throttled_chat
    await make_user(session, STAFF.id, Role.STAFF, "赵老师")
    await session.commit()
    menu = last_message(await chat.send(STAFF, "🗓 活动管理"))
    await asyncio.sleep(0.35)  # (a person's next tap, not a double tap)
    question = last_message(await chat.press(STAFF, menu.callback_data("新建活动")))
    assert "活动叫什么名字" in question.text

    # Three answers typed two seconds apart while the bot was down; when it is back they come
    # in one getUpdates batch and are handled side by side, as polling does.
    typed_at = int(time.time()) - 60
    updates = [
        chat.message_update(STAFF, text=text, date=typed_at + 2 * n)
        for n, text in enumerate(["太极拳入门", "🧘 舞蹈健身", "⏭ 跳过"])
    ]
    recording.take()
    await asyncio.gather(*(chat.dispatcher.feed_raw_update(chat.bot, u) for u in updates))
    answers = [r.text for r in recording.take() if r.method == "sendMessage"]
    assert len(answers) == 3, answers
    assert not any("One moment" in a or "请稍等" in a for a in answers), answers
    assert "属于哪一类" in answers[0]  # the name was taken, then the category, then the rest
    assert answers[1] != answers[0] and answers[2] != answers[1]


async def test_a_live_double_tap_is_still_dropped(
    throttled_chat: Chat, recording: RecordingSession
) -> None:
    person = Person(6110, "钱", language_code="en")
    now = int(time.time())
    for _tap in range(3):
        update = throttled_chat.message_update(person, text="/help", date=now)
        await throttled_chat.dispatcher.feed_raw_update(throttled_chat.bot, update)
    answers = [r.text for r in recording.take() if r.method == "sendMessage"]
    assert len(answers) == 2 and "One moment please" in answers[1], answers


# -- 8. Redis ----------------------------------------------------------------------------------
def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class PrivateRedis:
    """A redis-server of this test's own (the shared one is never restarted)."""

    def __init__(self, folder: Path) -> None:
        self.port = free_port()
        self.folder = folder
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.process = subprocess.Popen(
            [
                "redis-server",
                "--port",
                str(self.port),
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(self.folder),
            ],
            stdout=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", self.port)) == 0:
                    return
            time.sleep(0.05)
        raise AssertionError("redis-server did not start")

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(timeout=10)
            self.process = None


@pytest.fixture
def private_redis(tmp_path: Path) -> Iterator[PrivateRedis]:
    if shutil.which("redis-server") is None:
        pytest.skip("redis-server is not installed")
    redis = PrivateRedis(tmp_path)
    redis.start()
    try:
        yield redis
    finally:
        redis.stop()


@pytest.mark.handler_errors_expected
async def test_a_redis_restart_mid_run_is_survived(
    settings: Settings,
    sessionmaker: async_sessionmaker[AsyncSession],
    i18n: I18n,
    bot: Bot,
    recording: RecordingSession,
    private_redis: PrivateRedis,
) -> None:
    with_redis = settings.model_copy(update={"redis_url": private_redis.url})
    dispatcher = create_dispatcher(with_redis, sessionmaker, i18n=i18n)
    chat = Chat(dispatcher, bot, recording)
    person = Person(6111, "孙", language_code="en")
    try:
        assert "/help" not in last_message(await chat.send(person, "/start")).text
        private_redis.stop()
        sorry = last_message(await chat.send(person, "/help"))  # no exception escapes
        assert "Sorry, something went wrong on our side" in sorry.text
        private_redis.start()
        again = last_message(await chat.send(person, "/help"))
        assert "Sorry" not in again.text
    finally:
        await dispatcher.storage.close()


@pytest.mark.slow
def test_an_unreachable_redis_is_one_line_at_start(tmp_path: Path) -> None:
    result = subprocess.run(
        [str(CONSOLE_SCRIPT), "run"],
        cwd=tmp_path,
        env=clean_env(
            BOT_TOKEN=TEST_TOKEN,
            DATABASE_URL=f"sqlite+aiosqlite:///{tmp_path / 'office.sqlite3'}",
            REDIS_URL=f"redis://:secret-pass@127.0.0.1:{free_port()}/0",
            TELEGRAM_API_URL="http://127.0.0.1:1",
            LOG_LEVEL="ERROR",
        ),
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert result.returncode != 0
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "REDIS_URL" in lines[0], result.stderr
    assert "secret-pass" not in result.stderr


async def test_the_redis_check_at_start(private_redis: PrivateRedis) -> None:
    from bot.app import check_redis_or_exit

    await check_redis_or_exit(private_redis.url)  # answers: nothing happens
    url = private_redis.url
    private_redis.stop()
    with pytest.raises(SystemExit) as stopped:
        await check_redis_or_exit(url)
    assert str(stopped.value).startswith("Cannot use Redis (REDIS_URL)")


# -- 9. forged callback ids --------------------------------------------------------------------
def callback_classes() -> list[type[CallbackData]]:
    found: dict[str, type[CallbackData]] = {}
    pending: list[type[CallbackData]] = list(CallbackData.__subclasses__())
    while pending:
        cls = pending.pop()
        pending.extend(cls.__subclasses__())
        if cls.__module__.startswith("handlers."):
            found[cls.__prefix__] = cls
    return [found[prefix] for prefix in sorted(found)]


def _import_every_handler_module() -> None:
    handlers.setup()  # imports every capability, and so every callback data class


_import_every_handler_module()
ID_CALLBACKS = [
    cls for cls in callback_classes() if any(name.endswith("_id") for name in cls.model_fields)
]


def _valid_value(annotation: Any) -> Any:
    for candidate in (annotation, *typing.get_args(annotation)):
        if isinstance(candidate, type) and issubclass(candidate, enum.Enum):
            return next(iter(candidate))
    return 1


def forged(cls: type[CallbackData], value: int) -> str:
    """`cls`'s data with every id set to `value` and the other fields valid."""
    fields = {}
    for name, field in cls.model_fields.items():
        fields[name] = value if name.endswith("_id") else _valid_value(field.annotation)
    parts = [cls.__prefix__]
    for name in cls.model_fields:
        raw = fields[name]
        parts.append(str(raw.value if isinstance(raw, enum.Enum) else raw))
    return cls.__separator__.join(parts)


def test_every_capability_with_ids_is_checked() -> None:
    prefixes = {cls.__prefix__ for cls in ID_CALLBACKS}
    assert {"rqm", "rqs", "asu", "amg", "fl"} <= prefixes, prefixes


@pytest.mark.parametrize("cls", ID_CALLBACKS, ids=lambda cls: cls.__prefix__)
def test_a_forged_id_beyond_the_integer_range_fails_the_filter(cls: type[CallbackData]) -> None:
    assert cls.unpack(forged(cls, MAX_ID)) is not None  # the largest id is still an id
    for value in (MAX_ID + 1, 2**63, 2**64 + 5, -1):
        with pytest.raises(ValueError):
            cls.unpack(forged(cls, value))


async def test_a_forged_button_gets_the_kind_answer(chat: Chat, session: AsyncSession) -> None:
    """Staff pressing a forged "open activity" with an id past the column's range: the
    fallback's kind toast, no OverflowError / DataError (which would fail this test through
    the error handler)."""
    await make_user(session, STAFF.id, Role.STAFF, "赵老师")
    await session.commit()
    from handlers.activities.callbacks import ManageAction, ManageCb

    data = ManageCb(action=ManageAction.OPEN, activity_id=1).pack().replace(":1:", f":{2**64}:")
    answers = await chat.press(STAFF, data)
    [answer] = [r for r in answers if r.method == "answerCallbackQuery"]
    assert answer.params.get("text")


# -- 9. the webhook's malformed bodies ---------------------------------------------------------
SECRET = "s3cret-Token_for-tests"


@pytest.fixture
async def webhook(dispatcher: Dispatcher, bot: Bot) -> AsyncIterator[tuple[str, Any]]:
    app = create_webhook_app(dispatcher, bot, secret_token=SECRET, path="/tg/hook")
    runner, port = await start_webhook_server(app, "127.0.0.1", 0)
    yield f"http://127.0.0.1:{port}/tg/hook", app[WEBHOOK_HANDLER]
    await runner.cleanup()


@pytest.mark.parametrize(
    "body",
    [b"", b"{not json", b"[1, 2]", b'"text"', b'{"update_id": "many"}', b'{"message": {}}'],
    ids=["empty", "not-json", "list", "string", "bad-id", "not-an-update"],
)
async def test_a_webhook_body_that_is_not_an_update_gets_400(
    webhook: tuple[str, Any],
    recording: RecordingSession,
    caplog: pytest.LogCaptureFixture,
    body: bytes,
) -> None:
    url, handler = webhook
    caplog.set_level(logging.INFO)
    loop = asyncio.get_running_loop()
    unretrieved: list[dict[str, Any]] = []
    previous = loop.get_exception_handler()
    loop.set_exception_handler(lambda _loop, context: unretrieved.append(context))
    try:
        async with (
            aiohttp.ClientSession() as http,
            http.post(
                url,
                data=body,
                headers={
                    "X-Telegram-Bot-Api-Secret-Token": SECRET,
                    "Content-Type": "application/json",
                },
            ) as response,
        ):
            assert response.status == 400
        await handler.wait_in_hand()
    finally:
        loop.set_exception_handler(previous)
    refused = [r for r in caplog.records if "webhook request refused" in r.getMessage()]
    assert len(refused) == 1 and refused[0].exc_info is None
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert unretrieved == [] and recording.requests == []
