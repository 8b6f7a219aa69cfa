"""Webhook mode: the real aiohttp server with the real Dispatcher. Only Telegram, which knows the
secret given in setWebhook, can deliver updates; anything else is refused and not processed."""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from aiogram import Bot, Dispatcher, Router
from aiogram.filters import Command
from aiogram.types import Message
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.app import run_bot
from bot.config import Settings
from bot.webhook import (
    WEBHOOK_HANDLER,
    create_webhook_app,
    start_webhook_server,
    webhook_path,
    webhook_secret,
)
from models import ProcessedUpdate
from tests.chat import Chat, Person
from tests.recording import TEST_TOKEN, RecordingSession

SECRET = "s3cret-Token_for-tests"
HEADER = "X-Telegram-Bot-Api-Secret-Token"


def ping_router() -> Router:
    router = Router(name="tests.webhook.ping")

    @router.message(Command("ping"))
    async def cmd_ping(message: Message) -> None:
        await message.answer("pong")

    return router


@pytest.fixture
async def server(dispatcher: Dispatcher, bot: Bot) -> AsyncIterator[tuple[str, Any]]:
    router = ping_router()
    dispatcher.include_router(router)
    dispatcher.sub_routers.remove(router)
    dispatcher.sub_routers.insert(0, router)
    app = create_webhook_app(dispatcher, bot, secret_token=SECRET, path="/tg/hook")
    runner, port = await start_webhook_server(app, "127.0.0.1", 0)
    yield f"http://127.0.0.1:{port}/tg/hook", app[WEBHOOK_HANDLER]
    await runner.cleanup()


def ping_update(chat: Chat, person: Person) -> dict[str, Any]:
    return chat.message_update(
        person, text="/ping", entities=[{"type": "bot_command", "offset": 0, "length": 5}]
    )


async def processed(sessionmaker: async_sessionmaker[AsyncSession], update_id: int) -> int:
    async with sessionmaker() as session:
        return int(
            await session.scalar(
                select(func.count())
                .select_from(ProcessedUpdate)
                .where(ProcessedUpdate.update_id == update_id)
            )
        )


@pytest.mark.parametrize("headers", [{}, {HEADER: "wrong"}, {HEADER: ""}])
async def test_a_request_without_the_secret_is_refused(
    server, chat: Chat, recording: RecordingSession, sessionmaker, headers: dict[str, str]
) -> None:
    url, handler = server
    update = ping_update(chat, Person(id=6301, first_name="郑"))
    async with aiohttp.ClientSession() as http, http.post(url, json=update, headers=headers) as r:
        assert r.status in (401, 403)
    await handler.wait_in_hand()
    assert recording.requests == []
    assert await processed(sessionmaker, update["update_id"]) == 0


async def test_a_request_with_the_secret_is_processed(
    server, chat: Chat, recording: RecordingSession, sessionmaker
) -> None:
    url, handler = server
    update = ping_update(chat, Person(id=6302, first_name="冯"))
    async with (
        aiohttp.ClientSession() as http,
        http.post(url, json=update, headers={HEADER: SECRET}) as response,
    ):
        assert response.status == 200
    await handler.wait_in_hand()
    assert [(r.method, r.text, r.chat_id) for r in recording.take()] == [
        ("sendMessage", "pong", 6302)
    ]
    assert await processed(sessionmaker, update["update_id"]) == 1

    # Telegram retries a delivery it thinks failed: handled once.
    async with (
        aiohttp.ClientSession() as http,
        http.post(url, json=update, headers={HEADER: SECRET}) as response,
    ):
        assert response.status == 200
    await handler.wait_in_hand()
    assert recording.take() == []


def test_secret_and_path_come_from_the_configuration() -> None:
    settings = Settings(_env_file=None, webhook_secret="abc-DEF_123")  # type: ignore[call-arg]
    assert webhook_secret(settings, TEST_TOKEN) == "abc-DEF_123"
    derived = webhook_secret(Settings(_env_file=None), TEST_TOKEN)  # type: ignore[call-arg]
    assert derived == webhook_secret(Settings(_env_file=None), TEST_TOKEN)  # type: ignore[call-arg]
    assert TEST_TOKEN not in derived and derived.replace("-", "").replace("_", "").isalnum()
    assert webhook_path("https://bot.example.org/tg/hook") == "/tg/hook"
    assert webhook_path("https://bot.example.org") == "/webhook"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def wait_for(condition, what: str, bound: float = 60.0) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + bound
    while not condition():
        assert time.monotonic() < deadline, f"gave up waiting for {what}"
        await asyncio.sleep(0.05)


async def test_run_bot_in_webhook_mode(
    settings: Settings, recording: RecordingSession, chat: Chat, sessionmaker
) -> None:
    """The whole runtime in webhook mode: setWebhook with the secret, updates accepted only
    with it, and an orderly stop when asked."""
    port = free_port()
    settings = settings.model_copy(
        update={
            "webhook_url": "https://bot.example.org/tg/hook",
            "webhook_host": "127.0.0.1",
            "webhook_port": port,
        }
    )
    stop = asyncio.Event()
    task = asyncio.create_task(run_bot(settings, stop=stop, session=recording))
    try:
        await wait_for(
            lambda: task.done() or any(r.method == "setWebhook" for r in recording.requests),
            "setWebhook",
        )
        assert not task.done(), task.exception()
        set_webhook = next(r for r in recording.requests if r.method == "setWebhook")
        secret = set_webhook.params["secret_token"]
        assert set_webhook.params["url"] == "https://bot.example.org/tg/hook"
        assert secret == webhook_secret(settings, TEST_TOKEN)
        assert not any(r.method == "getUpdates" for r in recording.requests)

        person = Person(id=6303, first_name="陈")
        # An update nobody handles still goes through the middlewares (and is marked).
        update = chat.message_update(person, text="edited")
        update["edited_message"] = update.pop("message")
        update["edited_message"]["edit_date"] = update["edited_message"]["date"]
        url = f"http://127.0.0.1:{port}/tg/hook"
        async with aiohttp.ClientSession() as http:
            async with http.post(url, json=update) as refused:
                assert refused.status in (401, 403)
            async with http.post(url, json=update, headers={HEADER: secret}) as accepted:
                assert accepted.status == 200
            async with http.get(f"http://127.0.0.1:{port}/healthz") as health:
                assert health.status == 200
    finally:
        stop.set()  # the update in hand is finished before run_bot returns
        await asyncio.wait_for(task, timeout=60)
    assert await processed(sessionmaker, update["update_id"]) == 1
