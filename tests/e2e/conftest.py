"""End-to-end fixtures: the sandbox Bot API server in the test's event loop, the REAL bot as a
subprocess (`retiree-bot run`) pointed at it, and a user who reads the bot's messages and
presses the buttons it sent, as a person would."""

from __future__ import annotations

import asyncio
import contextlib
import copy
import json
import os
import signal
import socket
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from bot.db import create_engine, create_sessionmaker
from models.base import utcnow
from sandbox.demo.runner import register_people
from sandbox.demo.seed import DEMO_BOT_ID, DEMO_BOT_USERNAME, DemoPeople, seed_demo
from sandbox.server import SandboxServer
from tests.botapi_spec import check_request

REPO = Path(__file__).resolve().parents[2]
BOT_TOKEN = f"{DEMO_BOT_ID}:e2e-sandbox-token"
STEP_TIMEOUT = 10.0  # seconds to wait for the bot to answer one step
SETTLE = 0.4  # the bot may answer with several messages: wait until it has been quiet this long


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def bot_command() -> list[str]:
    """The installed `retiree-bot` script next to this Python, else the module."""
    script = Path(sys.executable).parent / "retiree-bot"
    if script.exists():
        return [str(script)]
    return [sys.executable, "-m", "bot.cli"]


async def seed_database(database_url: str) -> DemoPeople:
    engine = create_engine(database_url)
    try:
        async with create_sessionmaker(engine)() as session:
            people = await seed_demo(session, now=utcnow())
            await session.commit()
    finally:
        await engine.dispose()
    return people


def register_demo_people(server: SandboxServer, people: DemoPeople) -> None:
    register_people(server, people)


@pytest.fixture
async def sandbox() -> AsyncIterator[SandboxServer]:
    server = SandboxServer(host="127.0.0.1", port=0, faults=None, bot_username=DEMO_BOT_USERNAME)
    await server.start()
    try:
        yield server
    finally:
        await server.stop()


@dataclass
class BotProcess:
    """`retiree-bot run` as a subprocess, its output in a log file shown when a test fails."""

    env: dict[str, str]
    cwd: Path
    log_path: Path
    process: asyncio.subprocess.Process | None = None

    async def start(self) -> None:
        self._log = self.log_path.open("wb")
        self.process = await asyncio.create_subprocess_exec(
            *bot_command(),
            "run",
            cwd=self.cwd,
            env=self.env,
            stdout=self._log,
            stderr=asyncio.subprocess.STDOUT,
        )

    def output(self) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace")

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.returncode is None

    async def terminate(self, timeout: float = 20.0) -> int:
        """SIGTERM, then wait for the orderly shutdown; returns the exit code."""
        assert self.process is not None
        if self.process.returncode is None:
            self.process.send_signal(signal.SIGTERM)
        try:
            code = await asyncio.wait_for(self.process.wait(), timeout=timeout)
        except TimeoutError:
            self.process.kill()
            await self.process.wait()
            raise AssertionError(
                f"the bot did not stop within {timeout} s of SIGTERM:\n{self.output()}"
            ) from None
        finally:
            self._log.close()
        return code


@pytest.fixture
def e2e_database_url(request: pytest.FixtureRequest) -> str:
    """The bot's database: a migrated SQLite file, as in the embedded deployment (the sandbox's
    own shape); E2E_DATABASE=postgres runs the same stories on a fresh PostgreSQL database."""
    if os.environ.get("E2E_DATABASE") == "postgres":
        return str(request.getfixturevalue("pg_database_url"))
    return str(request.getfixturevalue("sqlite_database_url"))


@pytest.fixture
def bot_env(e2e_database_url: str) -> Callable[..., dict[str, str]]:
    """The environment of the bot process: only what a deployment would set."""

    def build(api_url: str, people: DemoPeople, **extra: str) -> dict[str, str]:
        env = {
            key: value
            for key, value in os.environ.items()
            if key in ("PATH", "HOME", "LANG", "LC_ALL", "TZ", "VIRTUAL_ENV", "PYTHONPATH")
        }
        env.update(
            BOT_TOKEN=BOT_TOKEN,
            TELEGRAM_API_URL=api_url,
            DATABASE_URL=e2e_database_url,
            STAFF_CHAT_ID=str(people.staff_chat_id),
            ADMIN_IDS=str(people.admin_id),
            # Test users answer as soon as the bot has; no double-tap guard in the way.
            THROTTLE_SECONDS="0",
            LOG_LEVEL="INFO",
            PYTHONUNBUFFERED="1",
        )
        env.update(extra)
        return env

    return build


@pytest.fixture
async def seeded(sandbox: Any, e2e_database_url: str) -> DemoPeople:
    """The demo office in the bot's database and its people on the sandbox page."""
    people = await seed_database(e2e_database_url)
    register_demo_people(sandbox, people)
    return people


@pytest.fixture
async def start_bot(tmp_path: Path) -> AsyncIterator[Callable[[dict[str, str]], Any]]:
    started: list[BotProcess] = []

    async def start(env: dict[str, str]) -> BotProcess:
        process = BotProcess(env=env, cwd=tmp_path, log_path=tmp_path / f"bot-{len(started)}.log")
        await process.start()
        started.append(process)
        return process

    yield start
    for process in started:
        if process.running:
            with contextlib.suppress(AssertionError):
                await process.terminate(timeout=10)
        # Captured output: pytest shows it when the test failed.
        print(f"--- {process.log_path.name} ---\n{process.output()}")


# --- a person in the sandbox --------------------------------------------------------------------


def is_bot_message(message: dict[str, Any]) -> bool:
    sender = message.get("from") or {}
    return bool(sender.get("is_bot"))


def buttons_of(message: dict[str, Any]) -> list[dict[str, Any]]:
    """The inline buttons under a message."""
    return markup_buttons(message.get("reply_markup"))


def markup_buttons(markup: dict[str, Any] | str | None) -> list[dict[str, Any]]:
    """The buttons of an inline or reply keyboard markup."""
    if isinstance(markup, str):
        markup = json.loads(markup)
    markup = markup or {}
    rows = markup.get("inline_keyboard") or markup.get("keyboard") or []
    return [
        button if isinstance(button, dict) else {"text": button} for row in rows for button in row
    ]


def button_texts(message: dict[str, Any]) -> list[str]:
    return [str(button.get("text", "")) for button in buttons_of(message)]


def message_text(message: dict[str, Any]) -> str:
    return str(message.get("text") or message.get("caption") or "")


@dataclass
class Person:
    """Acts in the sandbox like a user: sends, taps the buttons the bot sent, waits for replies."""

    server: Any
    user_id: int
    chat_id: int = 0
    log: list[str] = field(default_factory=list)

    started: float = field(default_factory=time.monotonic)

    def __post_init__(self) -> None:
        self.chat_id = self.chat_id or self.user_id

    def messages(self) -> list[dict[str, Any]]:
        return list(self.server.messages(self.chat_id))

    def bot_messages(self) -> list[dict[str, Any]]:
        return [m for m in self.messages() if is_bot_message(m)]

    def last(self) -> dict[str, Any]:
        messages = self.bot_messages()
        assert messages, "the bot has not written to this chat"
        return messages[-1]

    async def _after(self, action: Any) -> list[dict[str, Any]]:
        """Run `action`, wait until the bot has answered (a new or changed message) and has
        been quiet for a moment; return the bot messages that are new or changed."""
        before = copy.deepcopy(self.bot_messages())
        await action
        loop = asyncio.get_running_loop()
        deadline = loop.time() + STEP_TIMEOUT
        changed_at: float | None = None
        snapshot = before
        while loop.time() < deadline:
            await asyncio.sleep(0.05)
            current = self.bot_messages()
            if current != snapshot:
                snapshot = copy.deepcopy(current)
                changed_at = loop.time()
            elif changed_at is not None and loop.time() - changed_at >= SETTLE:
                break
        if changed_at is None:
            raise AssertionError(
                f"the bot did not answer within {STEP_TIMEOUT} s; conversation so far:\n"
                + self.transcript()
            )
        old = {json.dumps(m, sort_keys=True, default=str) for m in before}
        new = [m for m in snapshot if json.dumps(m, sort_keys=True, default=str) not in old]
        for message in new:
            self.note(f"BOT: {message_text(message)} {button_texts(message)}")
        return new

    async def send(self, text: str) -> list[dict[str, Any]]:
        self.note(f"USER: {text}")
        return await self._after(self.server.user_sends(self.user_id, text, chat_id=self.chat_id))

    async def share_contact(self, phone: str, first_name: str) -> list[dict[str, Any]]:
        self.note(f"USER shares contact {phone}")
        contact = {"phone_number": phone, "first_name": first_name, "user_id": self.user_id}
        return await self._after(
            self.server.user_sends(self.user_id, chat_id=self.chat_id, contact=contact)
        )

    def keyboard(self) -> list[str]:
        """The reply keyboard the bot has put under the chat's input field, if any."""
        return [
            str(b.get("text", "")) for b in markup_buttons(self.server.reply_keyboard(self.chat_id))
        ]

    def find_button(self, labels: Iterable[str]) -> tuple[dict[str, Any] | None, dict[str, Any]]:
        """The button whose text contains one of `labels`: under the newest bot message first,
        then on the reply keyboard, then under older messages. (None, button) for a reply
        keyboard button."""
        labels = list(labels)

        def match(buttons: list[dict[str, Any]]) -> dict[str, Any] | None:
            for button in buttons:
                if any(label in str(button.get("text", "")) for label in labels):
                    return button
            return None

        messages = self.bot_messages()
        if messages and (button := match(buttons_of(messages[-1]))):
            return messages[-1], button
        if button := match(markup_buttons(self.server.reply_keyboard(self.chat_id))):
            return None, button
        for message in reversed(messages[:-1]):
            if button := match(buttons_of(message)):
                return message, button
        raise AssertionError(
            f"no button matching {labels} (keyboard: {self.keyboard()}); conversation so far:\n"
            + self.transcript()
        )

    async def tap(self, *labels: str) -> list[dict[str, Any]]:
        """Tap the button whose text contains one of `labels`: an inline button sends its
        callback data, a reply-keyboard button sends its text (a contact button: use
        share_contact)."""
        message, button = self.find_button(labels)
        self.note(f"USER taps [{button.get('text')}]")
        if message is not None and "callback_data" in button:
            return await self._after(
                self.server.user_presses(
                    self.user_id, self.chat_id, message["message_id"], button["callback_data"]
                )
            )
        return await self._after(
            self.server.user_sends(
                self.user_id, str(button["text"]), chat_id=self.chat_id, from_keyboard=True
            )
        )

    def transcript(self) -> str:
        return "\n".join(self.log[-30:])

    def note(self, line: str) -> None:
        self.log.append(f"{time.monotonic() - self.started:6.2f}s {line}")


def check_all_requests(server: Any) -> int:
    """Every request the bot made is a valid Bot API request; returns how many there were."""
    for recorded in server.requests:
        check_request(recorded.method, dict(recorded.params))
    return len(server.requests)


NEW_RETIREE_ID = 880001
NEW_RETIREE_NAME = "周建华"
NEW_RETIREE_PHONE = "+8613912345678"


async def register_new_retiree(person: Person) -> dict[str, Any]:
    """Onboarding as a new retiree, by reading what the bot asks and tapping what it offers:
    language -> role -> name -> phone (contact) -> birthday -> solar/lunar -> community ->
    address -> confirm. Returns the last bot message (the main menu)."""
    await person.send("/start")
    await person.tap("简体中文", "简体")
    await person.tap("退休")
    await person.send(NEW_RETIREE_NAME)
    await person.share_contact(NEW_RETIREE_PHONE, "建华")
    await person.send("1950-03-15")
    await person.tap("公历", "阳历", "新历")
    await person.tap("幸福里")
    await person.send("幸福里3号楼2单元301")
    await person.tap("确认", "没错", "正确", "对")
    return person.last()


async def wait_until_ready(server: Any, bot: BotProcess, method: str, timeout: float = 40) -> None:
    """Until the bot process has made its start-up call `method`: deleteWebhook just before
    long polling begins (a getUpdates is only recorded when its long poll ends), setWebhook."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not any(r.method == method and r.status == 200 for r in server.requests):
        if not bot.running:
            raise AssertionError(f"the bot exited before it was ready:\n{bot.output()}")
        if loop.time() > deadline:
            raise AssertionError(f"the bot made no {method} within {timeout} s:\n{bot.output()}")
        await asyncio.sleep(0.1)


async def stored_registration(database_url: str, telegram_id: int) -> dict[str, Any]:
    """What the bot process stored about the new user (read from its database)."""
    from sqlalchemy import select

    from models.users import User

    engine = create_engine(database_url)
    try:
        async with create_sessionmaker(engine)() as session:
            user = await session.scalar(select(User).where(User.telegram_id == telegram_id))
            assert user is not None, "the bot stored no user"
            profile = user.profile
            return {
                "role": str(user.role) if user.role else None,
                "language": user.language,
                "onboarded": user.onboarded_at is not None,
                "name": profile.full_name if profile else None,
                "phone": profile.phone if profile else None,
                "birthday": profile.birthday.isoformat() if profile and profile.birthday else None,
                "lunar": profile.birthday_is_lunar if profile else None,
                "grid": profile.grid.name if profile and profile.grid else None,
            }
    finally:
        await engine.dispose()


async def wait_for_messages(
    server: Any, chat_id: int, at_least: int, timeout: float = STEP_TIMEOUT
) -> list[dict[str, Any]]:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        messages = server.messages(chat_id)
        if len(messages) >= at_least or loop.time() > deadline:
            break
        await asyncio.sleep(0.1)
    assert len(messages) >= at_least, [message_text(m) for m in messages]
    return list(messages)


async def onboarding_scenario(
    server: Any,
    bot: BotProcess,
    database_url: str,
    ready_method: str,
    staff_chat_id: int,
    then: Callable[[], Awaitable[None]] | None = None,
) -> None:
    """The whole story, shared by polling and webhook: the bot starts, a brand-new person
    registers as a retiree, gets the main menu and opens an item of it; (`then`: more of the
    story); everything the bot sent is valid Bot API; SIGTERM stops the process cleanly."""
    began = time.monotonic()
    await wait_until_ready(server, bot, ready_method)
    print(f"bot ready after {time.monotonic() - began:.1f} s")
    server.add_person(NEW_RETIREE_ID, "建华", last_name="周", language_code="zh-hans")
    person = Person(server, NEW_RETIREE_ID)
    await register_new_retiree(person)

    menu = person.keyboard()
    assert len(menu) >= 2, f"no main menu after registration:\n{person.transcript()}"
    answers = await person.tap(menu[0])
    assert answers, f"the menu button {menu[0]!r} got no answer:\n{person.transcript()}"

    stored = await stored_registration(database_url, NEW_RETIREE_ID)
    assert stored["role"] == "retiree" and stored["onboarded"], stored
    assert stored["language"] == "zh_Hans", stored
    assert stored["name"] == NEW_RETIREE_NAME, stored
    assert stored["phone"] == NEW_RETIREE_PHONE.removeprefix("+86"), stored
    assert stored["birthday"] == "1950-03-15" and stored["lunar"] is False, stored
    assert stored["grid"] is not None and "幸福里" in stored["grid"], stored

    print(person.transcript())
    print("menu:", menu)
    # The outbox sender in the same process delivers what the demo data queued: a card in
    # the staff group for each open request, edited in place as staff took them (paced at one
    # group message per 3 s, so only the first ones are awaited here).
    staff_cards = await wait_for_messages(server, staff_chat_id, at_least=2, timeout=45)
    assert any("幸福里" in message_text(m) or "水龙头" in message_text(m) for m in staff_cards), [
        message_text(m) for m in staff_cards
    ]

    if then is not None:
        await then()

    assert check_all_requests(server) > 0
    failed = [(r.method, r.status) for r in server.requests if r.status not in (200, 0)]
    assert not failed, f"Bot API calls that failed: {failed}"

    began = time.monotonic()
    code = await bot.terminate()
    print(f"bot stopped {time.monotonic() - began:.1f} s after SIGTERM")
    assert code == 0, f"exit code {code} after SIGTERM:\n{bot.output()}"
    assert "Traceback" not in bot.output(), bot.output()
