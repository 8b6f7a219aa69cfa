"""The chat page's JSON API: people, sending as a person, the chat as shown, live events."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest

from sandbox import SandboxServer

TOKEN = "7000000001:AAsandbox-page-test"
RETIREE = 5001
STAFF = 9001
STAFF_GROUP = -1001234567890


@pytest.fixture
async def server() -> AsyncIterator[SandboxServer]:
    sandbox = SandboxServer()
    await sandbox.start()
    sandbox.add_person(
        RETIREE, "秀英", last_name="王", role_hint="retiree", description="82 岁，独居"
    )
    sandbox.add_person(STAFF, "Zhang", role_hint="staff", language_code="en")
    sandbox.add_group(STAFF_GROUP, "Staff", [STAFF])
    yield sandbox
    await sandbox.stop()


async def page(
    server: SandboxServer, path: str, json: Any = None, data: Any = None
) -> tuple[int, Any]:
    url = f"{server.base_url}/sandbox/api{path}"
    async with aiohttp.ClientSession() as http:
        if json is None and data is None:
            response = await http.get(url)
        else:
            response = await http.post(url, json=json, data=data)
        async with response:
            return response.status, await response.json()


async def bot(server: SandboxServer, method: str, **params: Any) -> dict[str, Any]:
    async with aiohttp.ClientSession() as http:
        async with http.post(f"{server.api_url}/bot{TOKEN}/{method}", json=params) as response:
            body = await response.json()
    assert body["ok"], body
    return body["result"]


async def test_index_and_static_files_are_served(server: SandboxServer) -> None:
    async with aiohttp.ClientSession() as http:
        for path in ("/", "/static/app.js", "/static/style.css"):
            async with http.get(server.base_url + path) as response:
                assert response.status == 200, path
        async with http.get(server.base_url + "/") as response:
            assert 'data-testid="add-column"' in await response.text()


async def test_people_and_a_brand_new_user(server: SandboxServer) -> None:
    status, people = await page(server, "/people")
    assert status == 200
    retiree = next(p for p in people if p["id"] == RETIREE)
    assert retiree["role_hint"] == "retiree" and retiree["description"] == "82 岁，独居"
    staff = next(p for p in people if p["id"] == STAFF)
    assert staff["groups"] == [{"id": STAFF_GROUP, "type": "supergroup", "title": "Staff"}]

    status, created = await page(
        server, "/people", json={"first_name": "New", "language_code": "en"}
    )
    assert status == 201
    assert created["first_name"] == "New" and created["language_code"] == "en"
    assert created["id"] not in (RETIREE, STAFF)
    status, _ = await page(server, "/people", json={"first_name": " "})
    assert status == 400

    # the new user can write at once; the bot sees a normal update
    status, sent = await page(
        server, f"/chats/{created['id']}/send", json={"user_id": created["id"], "text": "/start"}
    )
    assert status == 200
    assert sent["message"]["entities"][0]["type"] == "bot_command"
    updates = await bot(server, "getUpdates")
    assert updates[-1]["message"]["from"]["language_code"] == "en"


async def test_messages_as_shown_with_edits_and_keyboard(server: SandboxServer) -> None:
    await page(server, f"/chats/{RETIREE}/send", json={"user_id": RETIREE, "text": "你好"})
    keyboard = {
        "keyboard": [[{"text": "📞 分享电话", "request_contact": True}]],
        "one_time_keyboard": True,
    }
    await bot(server, "sendMessage", chat_id=RETIREE, text="请分享电话", reply_markup=keyboard)
    card = await bot(
        server,
        "sendMessage",
        chat_id=RETIREE,
        text="报名？",
        reply_markup={"inline_keyboard": [[{"text": "✅", "callback_data": "act:1"}]]},
    )
    gone = await bot(server, "sendMessage", chat_id=RETIREE, text="临时")
    await bot(
        server, "editMessageText", chat_id=RETIREE, message_id=card["message_id"], text="已报名"
    )
    await bot(server, "deleteMessage", chat_id=RETIREE, message_id=gone["message_id"])

    status, shown = await page(server, f"/chats/{RETIREE}/messages")
    assert status == 200
    assert [m["text"] for m in shown["messages"]] == ["你好", "请分享电话", "已报名"]
    assert shown["keyboard"]["keyboard"][0][0]["request_contact"] is True
    assert shown["chat"]["id"] == RETIREE

    # sharing the phone number through the page hides a one-time keyboard
    status, sent = await page(server, f"/chats/{RETIREE}/contact", json={"user_id": RETIREE})
    assert status == 200
    assert sent["message"]["contact"]["user_id"] == RETIREE
    assert sent["message"]["contact"]["phone_number"].startswith("+86")
    _, shown = await page(server, f"/chats/{RETIREE}/messages")
    assert shown["keyboard"] is None
    status, _ = await page(server, "/chats/424242/messages")
    assert status == 404


async def test_events_long_poll_and_button_press(server: SandboxServer) -> None:
    card = await bot(
        server,
        "sendMessage",
        chat_id=STAFF_GROUP,
        text="新请求",
        reply_markup={"inline_keyboard": [[{"text": "接单", "callback_data": "rq:take:1"}]]},
    )
    _, shown = await page(server, f"/chats/{STAFF_GROUP}/messages")
    last = shown["last"]

    waiting = asyncio.create_task(
        page(server, f"/events?chats={STAFF_GROUP},{RETIREE}&after={last}&timeout=20")
    )
    await asyncio.sleep(0.05)
    assert not waiting.done()
    status, pressed = await page(
        server,
        f"/chats/{STAFF_GROUP}/press",
        json={"user_id": STAFF, "message_id": card["message_id"], "callback_data": "rq:take:1"},
    )
    assert status == 200
    _, body = await asyncio.wait_for(waiting, 10)
    assert body["events"][0]["type"] == "press"
    assert body["last"] > last

    updates = await bot(server, "getUpdates")
    query = updates[-1]["callback_query"]
    assert query["id"] == pressed["callback_query_id"]
    await bot(server, "answerCallbackQuery", callback_query_id=query["id"], text="已接单")
    await bot(
        server,
        "editMessageText",
        chat_id=STAFF_GROUP,
        message_id=card["message_id"],
        text="新请求（Zhang 已接单）",
    )
    _, body = await page(server, f"/chats/{STAFF_GROUP}/events?after={body['last']}&timeout=5")
    kinds = [(e["type"], e.get("text") or e.get("message", {}).get("text")) for e in body["events"]]
    assert kinds == [("answer", "已接单"), ("message", "新请求（Zhang 已接单）")]
    assert body["events"][1]["edited"] is True

    status, _ = await page(
        server,
        f"/chats/{STAFF_GROUP}/press",
        json={"user_id": STAFF, "message_id": 999, "callback_data": "x"},
    )
    assert status == 404


async def test_photo_and_voice_uploads(server: SandboxServer) -> None:
    form = aiohttp.FormData()
    form.add_field("user_id", str(RETIREE))
    form.add_field("caption", "漏水的地方")
    form.add_field("file", b"\xff\xd8photo", filename="leak.jpg", content_type="image/jpeg")
    status, sent = await page(server, f"/chats/{RETIREE}/photo", data=form)
    assert status == 200, sent
    message = sent["message"]
    assert message["caption"] == "漏水的地方"
    file_id = message["photo"][-1]["file_id"]
    async with aiohttp.ClientSession() as http:
        async with http.get(f"{server.base_url}/sandbox/api/files/{file_id}") as response:
            assert await response.read() == b"\xff\xd8photo"

    form = aiohttp.FormData()
    form.add_field("user_id", str(RETIREE))
    form.add_field("duration", "7")
    form.add_field("file", b"OggS...", filename="voice.ogg", content_type="audio/ogg")
    status, sent = await page(server, f"/chats/{RETIREE}/voice", data=form)
    assert status == 200
    assert sent["message"]["voice"]["duration"] == 7

    updates = await bot(server, "getUpdates")
    assert [("photo" in u["message"], "voice" in u["message"]) for u in updates] == [
        (True, False),
        (False, True),
    ]
    info = await bot(server, "getFile", file_id=sent["message"]["voice"]["file_id"])
    assert info["file_path"].endswith(".oga")  # Telegram's name for voice notes
    assert sent["message"]["voice"]["mime_type"] == "audio/ogg"


async def test_each_run_has_its_own_boot_id_and_the_office_time_zone(
    server: SandboxServer,
) -> None:
    """An open page compares `boot` on every answer: a restarted sandbox has a new one, so the
    page reloads instead of waiting for events that will never come. Times are shown in the
    office's time zone, which /info names."""
    _, info = await page(server, "/info")
    assert info["timezone"] == "Asia/Shanghai" and len(info["boot"]) >= 8
    _, events = await page(server, f"/events?chats={RETIREE}&after=0&timeout=0")
    assert events["boot"] == info["boot"]
    _, events = await page(server, f"/chats/{RETIREE}/events?after=0&timeout=0")
    assert events["boot"] == info["boot"]

    server.timezone = "Europe/Berlin"  # the runner sets it from TIMEZONE
    _, info = await page(server, "/info")
    assert info["timezone"] == "Europe/Berlin"

    another = SandboxServer()
    await another.start()
    try:
        async with aiohttp.ClientSession() as http:
            async with http.get(f"{another.base_url}/sandbox/api/info") as response:
                assert (await response.json())["boot"] != info["boot"]
    finally:
        await another.stop()
