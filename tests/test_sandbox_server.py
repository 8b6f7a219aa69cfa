"""The sandbox Bot API server answers as Telegram does: envelope, refusals, updates, webhook,
faults, files, and a real aiogram Bot + Dispatcher talking to it over HTTP."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from aiogram import Bot, Dispatcher
from aiogram.types import (
    BotCommand,
    BufferedInputFile,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    InputMediaPhoto,
    MenuButtonCommands,
    Update,
)
from aiohttp import web

from bot.config import Settings
from bot.factory import create_bot
from sandbox import FaultConfig, SandboxServer
from tests.botapi_spec import check_request

TOKEN = "7000000001:AAsandbox-test-token"
RETIREE = 5001
DAUGHTER = 5002
STAFF_GROUP = -1001234567890


@pytest.fixture
async def server() -> AsyncIterator[SandboxServer]:
    sandbox = SandboxServer()
    await sandbox.start()
    sandbox.add_person(RETIREE, "王秀英", language_code="zh-hans", role_hint="retiree")
    sandbox.add_person(DAUGHTER, "李娜", language_code="zh-hans", role_hint="family")
    sandbox.add_group(STAFF_GROUP, "Staff", [DAUGHTER])
    yield sandbox
    await sandbox.stop()


async def call(
    server: SandboxServer, method: str, *, token: str = TOKEN, form: bool = False, **params: Any
) -> tuple[int, dict[str, Any]]:
    url = f"{server.api_url}/bot{token}/{method}"
    async with aiohttp.ClientSession() as http:
        if form:
            data = {
                k: json.dumps(v) if isinstance(v, dict | list) else str(v)
                for k, v in params.items()
            }
            response = await http.post(url, data=data)
        else:
            response = await http.post(url, json=params)
        async with response:
            return response.status, await response.json()


async def expect_error(
    server: SandboxServer, method: str, code: int, description: str, **params: Any
) -> dict[str, Any]:
    status, body = await call(server, method, **params)
    assert status == code, body
    assert body["ok"] is False
    assert body["error_code"] == code
    assert body["description"] == description, body
    return body


async def test_envelope_getme_uses_the_token_number(server: SandboxServer) -> None:
    status, body = await call(server, "getMe")
    assert status == 200
    assert body["ok"] is True
    assert body["result"]["id"] == 7000000001
    assert body["result"]["is_bot"] is True
    assert body["result"]["username"] == "retiree_service_bot"

    await expect_error(server, "noSuchMethod", 404, "Not Found: method not found")
    status, body = await call(server, "getMe", token="not-a-token")
    assert status == 401 and body["description"] == "Unauthorized"
    assert [r.method for r in server.requests] == ["getMe", "noSuchMethod", "getMe"]
    assert [r.status for r in server.requests] == [200, 404, 401]


async def test_rejections_use_telegrams_descriptions(server: SandboxServer) -> None:
    await expect_error(
        server, "sendMessage", 400, "Bad Request: chat not found", chat_id=424242, text="hi"
    )
    await expect_error(
        server, "sendMessage", 400, "Bad Request: message text is empty", chat_id=RETIREE, text="  "
    )
    await expect_error(
        server,
        "sendMessage",
        400,
        "Bad Request: message is too long",
        chat_id=RETIREE,
        text="长" * 4097,
    )
    status, _ = await call(server, "sendMessage", chat_id=RETIREE, text="长" * 4096)
    assert status == 200
    await expect_error(
        server,
        "sendPhoto",
        400,
        "Bad Request: message caption is too long",
        chat_id=RETIREE,
        photo="https://example.org/a.jpg",
        caption="x" * 1025,
    )
    big_data = {"inline_keyboard": [[{"text": "OK", "callback_data": "x" * 65}]]}
    await expect_error(
        server,
        "sendMessage",
        400,
        "Bad Request: BUTTON_DATA_INVALID",
        chat_id=RETIREE,
        text="hi",
        reply_markup=big_data,
    )
    await expect_error(
        server,
        "sendMessage",
        400,
        "Bad Request: can't parse reply keyboard markup JSON object",
        chat_id=RETIREE,
        text="hi",
        reply_markup="{not json",
    )
    await expect_error(
        server,
        "sendMessage",
        400,
        "Bad Request: can't parse reply keyboard markup JSON object",
        chat_id=RETIREE,
        text="hi",
        reply_markup={"something": 1},
    )
    await expect_error(
        server,
        "sendMessage",
        400,
        "Bad Request: phone number can be requested in private chats only",
        chat_id=STAFF_GROUP,
        text="hi",
        reply_markup={"keyboard": [[{"text": "📞", "request_contact": True}]]},
    )
    await expect_error(
        server,
        "sendMessage",
        400,
        'Bad Request: can\'t parse entities: Unsupported start tag "foo"',
        chat_id=RETIREE,
        text="<foo>x</foo>",
        parse_mode="HTML",
    )

    _, sent = await call(server, "sendMessage", chat_id=RETIREE, text="same")
    message_id = sent["result"]["message_id"]
    await expect_error(
        server,
        "editMessageText",
        400,
        "Bad Request: message is not modified: specified new message content and reply markup "
        "are exactly the same as a current content and reply markup of the message",
        chat_id=RETIREE,
        message_id=message_id,
        text="same",
    )
    await expect_error(
        server,
        "editMessageText",
        400,
        "Bad Request: message to edit not found",
        chat_id=RETIREE,
        message_id=9999,
        text="new",
    )
    await expect_error(
        server,
        "deleteMessage",
        400,
        "Bad Request: message to delete not found",
        chat_id=RETIREE,
        message_id=9999,
    )
    await expect_error(
        server,
        "answerCallbackQuery",
        400,
        "Bad Request: query is too old and response timeout expired or query ID is invalid",
        callback_query_id="12345",
    )

    server.block_bot(RETIREE)
    await expect_error(
        server,
        "sendMessage",
        403,
        "Forbidden: bot was blocked by the user",
        chat_id=RETIREE,
        text="hi",
    )
    await server.user_sends(RETIREE, "/start")  # writing again unblocks
    status, _ = await call(server, "sendMessage", chat_id=RETIREE, text="welcome back")
    assert status == 200


async def test_form_encoded_requests_are_decoded(server: SandboxServer) -> None:
    markup = {"inline_keyboard": [[{"text": "是", "callback_data": "yes:1"}]]}
    status, body = await call(
        server, "sendMessage", form=True, chat_id=RETIREE, text="123", reply_markup=markup
    )
    assert status == 200, body
    recorded = server.requests[-1]
    assert recorded.params == {"chat_id": RETIREE, "text": "123", "reply_markup": markup}
    await call(server, "sendMessage", form=True, chat_id=RETIREE, text="[1, 2]", parse_mode="")
    assert server.requests[-1].params["text"] == "[1, 2]"  # text stays text
    assert recorded.token == TOKEN
    check_request(recorded.method, recorded.params)
    assert body["result"]["reply_markup"] == markup


async def test_edits_and_deletions_show_in_the_chat(server: SandboxServer) -> None:
    _, first = await call(
        server,
        "sendMessage",
        chat_id=RETIREE,
        text="待确认",
        reply_markup={"inline_keyboard": [[{"text": "OK", "callback_data": "ok"}]]},
    )
    first_id = first["result"]["message_id"]
    _, second = await call(server, "sendMessage", chat_id=RETIREE, text="to delete")
    status, edited = await call(
        server, "editMessageText", chat_id=RETIREE, message_id=first_id, text="已确认"
    )
    assert status == 200 and "reply_markup" not in edited["result"]  # keyboard dropped
    await call(server, "deleteMessage", chat_id=RETIREE, message_id=second["result"]["message_id"])
    shown = server.messages(RETIREE)
    assert [(m["message_id"], m["text"]) for m in shown] == [(first_id, "已确认")]
    assert "edit_date" in shown[0]

    first_seen = await server.wait_for_bot_message(RETIREE, timeout=1)
    assert first_seen["text"] == "待确认"
    assert (await server.wait_for_bot_message(RETIREE, timeout=1))["text"] == "to delete"
    assert (await server.wait_for_bot_message(RETIREE, timeout=1))["text"] == "已确认"


async def test_get_updates_offset_limit_and_long_poll(server: SandboxServer) -> None:
    for text in ("one", "two", "three"):
        await server.user_sends(RETIREE, text)
    _, body = await call(server, "getUpdates", limit=2)
    updates = body["result"]
    assert [u["message"]["text"] for u in updates] == ["one", "two"]
    first_id = updates[0]["update_id"]
    message = updates[0]["message"]
    assert message["from"]["id"] == RETIREE and message["chat"]["type"] == "private"

    # asking for a later offset confirms (drops) the earlier updates
    _, body = await call(server, "getUpdates", offset=first_id + 2)
    assert [u["message"]["text"] for u in body["result"]] == ["three"]
    _, body = await call(server, "getUpdates", offset=first_id + 3, timeout=0)
    assert body["result"] == []

    # a waiting long poll wakes up when a person writes
    poll = asyncio.create_task(call(server, "getUpdates", offset=first_id + 3, timeout=20))
    await asyncio.sleep(0.05)
    assert not poll.done()
    await server.user_sends(RETIREE, "/start")
    _, body = await asyncio.wait_for(poll, 10)
    update = body["result"][0]
    assert update["message"]["text"] == "/start"
    assert update["message"]["entities"] == [{"type": "bot_command", "offset": 0, "length": 6}]


async def test_group_message_and_callback_query(server: SandboxServer) -> None:
    markup = {"inline_keyboard": [[{"text": "接单", "callback_data": "rq:take:7"}]]}
    _, sent = await call(
        server, "sendMessage", chat_id=STAFF_GROUP, text="新请求", reply_markup=markup
    )
    message_id = sent["result"]["message_id"]
    query_id = await server.user_presses(DAUGHTER, STAFF_GROUP, message_id, "rq:take:7")
    _, body = await call(server, "getUpdates")
    query = body["result"][-1]["callback_query"]
    assert query["id"] == query_id
    assert query["data"] == "rq:take:7"
    assert query["message"]["chat"] == {"id": STAFF_GROUP, "type": "supergroup", "title": "Staff"}
    status, _ = await call(server, "answerCallbackQuery", callback_query_id=query_id, text="好的")
    assert status == 200
    answers = [e for e in server.events(STAFF_GROUP) if e["type"] == "answer"]
    assert answers[-1]["text"] == "好的" and answers[-1]["user_id"] == DAUGHTER
    # a second answer to the same query is refused, as Telegram does
    status, _ = await call(server, "answerCallbackQuery", callback_query_id=query_id)
    assert status == 400
    with pytest.raises(KeyError):
        await server.user_presses(DAUGHTER, STAFF_GROUP, 9999, "rq:take:7")


async def test_webhook_delivery_with_secret_and_retry(server: SandboxServer) -> None:
    server.webhook_retry_base = 0.01
    received: list[tuple[str | None, dict[str, Any]]] = []
    answers = iter([500, 200, 200])

    async def hook(request: web.Request) -> web.Response:
        update = await request.json()
        received.append((request.headers.get("X-Telegram-Bot-Api-Secret-Token"), update))
        status = next(answers, 200)
        if status == 200 and update["message"]["text"] == "second":
            # a bot may answer with a method in the webhook response; Telegram runs it
            reply = {"method": "sendMessage", "chat_id": RETIREE, "text": "got it"}
            return web.json_response(reply)
        return web.Response(status=status)

    app = web.Application()
    app.router.add_post("/hook", hook)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    try:
        await server.user_sends(RETIREE, "stale")
        status, _ = await call(
            server,
            "setWebhook",
            url=f"http://127.0.0.1:{port}/hook",
            secret_token="s3cret",
            drop_pending_updates=True,
        )
        assert status == 200
        await expect_error(
            server,
            "getUpdates",
            409,
            "Conflict: can't use getUpdates method while webhook is active; use deleteWebhook "
            "to delete the webhook first",
        )
        await server.user_sends(RETIREE, "first")
        await server.user_sends(RETIREE, "second")
        for _ in range(500):
            if len(received) >= 3:
                break
            await asyncio.sleep(0.01)
        texts = [update["message"]["text"] for _, update in received]
        assert texts == ["first", "first", "second"]  # retried after the 500, in order
        assert {secret for secret, _ in received} == {"s3cret"}
        for _ in range(100):
            if server.messages(RETIREE)[-1].get("text") == "got it":
                break
            await asyncio.sleep(0.01)
        assert server.messages(RETIREE)[-1]["text"] == "got it"
        assert server.requests[-1].method == "sendMessage"
        _, info = await call(server, "getWebhookInfo")
        assert info["result"]["url"].endswith("/hook")
        assert info["result"]["pending_update_count"] == 0
        await call(server, "deleteWebhook")
        _, body = await call(server, "getUpdates")
        assert body["ok"] is True
    finally:
        await runner.cleanup()


async def test_per_chat_limit_answers_429_with_retry_after() -> None:
    sandbox = SandboxServer(faults=FaultConfig(per_chat_per_second=1.0))
    await sandbox.start()
    try:
        sandbox.add_person(RETIREE, "王秀英")
        sandbox.add_person(DAUGHTER, "李娜")
        status, _ = await call(sandbox, "sendMessage", chat_id=RETIREE, text="1")
        assert status == 200
        body = await expect_error(
            sandbox,
            "sendMessage",
            429,
            "Too Many Requests: retry after 1",
            chat_id=RETIREE,
            text="2",
        )
        assert body["parameters"] == {"retry_after": 1}
        status, _ = await call(sandbox, "sendMessage", chat_id=DAUGHTER, text="other chat")
        assert status == 200
        assert [m["text"] for m in sandbox.messages(RETIREE)] == ["1"]
    finally:
        await sandbox.stop()


async def test_global_limit_and_a_second_poller(server: SandboxServer) -> None:
    server.faults = FaultConfig(global_rate_per_second=2)
    statuses = [
        (await call(server, "sendMessage", chat_id=chat_id, text="x"))[0]
        for chat_id in (RETIREE, DAUGHTER, STAFF_GROUP)
    ]
    assert statuses == [200, 200, 429]
    assert (await call(server, "getMe"))[0] == 200  # only sending is limited

    # two bot instances polling: the earlier request is terminated with 409
    first = asyncio.create_task(call(server, "getUpdates", timeout=20))
    await asyncio.sleep(0.05)
    second = asyncio.create_task(call(server, "getUpdates", timeout=20))
    status, body = await asyncio.wait_for(first, 10)
    assert status == 409
    assert body["description"].startswith("Conflict: terminated by other getUpdates request")
    await server.user_sends(RETIREE, "hi")
    status, body = await asyncio.wait_for(second, 10)
    assert status == 200 and body["result"][0]["message"]["text"] == "hi"


def test_fault_config_from_a_command_line_string() -> None:
    faults = FaultConfig.parse("global=30, per_chat=1,error=0.05,drop=0.01,seed=7")
    assert faults == FaultConfig(
        global_rate_per_second=30, per_chat_per_second=1, error_rate=0.05, drop_rate=0.01, seed=7
    )
    with pytest.raises(ValueError, match="unknown fault"):
        FaultConfig.parse("errors=1")
    with pytest.raises(ValueError, match="needs a number"):
        FaultConfig.parse("error=lots")


async def test_injected_errors_and_dropped_connections() -> None:
    sandbox = SandboxServer(faults=FaultConfig(error_rate=1.0, seed=1))
    await sandbox.start()
    try:
        sandbox.add_person(RETIREE, "王秀英")
        status, body = await call(sandbox, "sendMessage", chat_id=RETIREE, text="x")
        assert status in (500, 502) and body["ok"] is False
        assert sandbox.messages(RETIREE) == []
        sandbox.faults = FaultConfig(drop_rate=1.0)
        with pytest.raises(aiohttp.ClientError):
            await call(sandbox, "getMe")
        assert [r.status for r in sandbox.requests][-1] == 0
    finally:
        await sandbox.stop()


async def test_upload_get_file_and_download(server: SandboxServer) -> None:
    form = aiohttp.FormData()
    form.add_field("chat_id", str(RETIREE))
    form.add_field("caption", "活动照片")
    form.add_field("photo", b"\xff\xd8fakejpeg", filename="a.jpg", content_type="image/jpeg")
    async with aiohttp.ClientSession() as http:
        async with http.post(f"{server.api_url}/bot{TOKEN}/sendPhoto", data=form) as response:
            body = await response.json()
    assert body["ok"], body
    file_id = body["result"]["photo"][-1]["file_id"]
    _, info = await call(server, "getFile", file_id=file_id)
    path = info["result"]["file_path"]
    async with aiohttp.ClientSession() as http:
        async with http.get(f"{server.api_url}/file/bot{TOKEN}/{path}") as response:
            assert response.status == 200
            assert await response.read() == b"\xff\xd8fakejpeg"
    # a user's voice note is stored too and can be fetched by the bot
    message = await server.user_sends(RETIREE, voice=b"OggS-voice")
    _, info = await call(server, "getFile", file_id=message["voice"]["file_id"])
    assert info["result"]["file_size"] == len(b"OggS-voice")
    await expect_error(server, "getFile", 400, "Bad Request: invalid file_id", file_id="nope")


async def test_real_aiogram_bot_and_dispatcher(
    server: SandboxServer, settings: Settings, dispatcher: Dispatcher
) -> None:
    bot: Bot = create_bot(settings.model_copy(update={"telegram_api_url": server.api_url}), TOKEN)
    try:
        me = await bot.get_me()
        assert me.id == bot.id == 7000000001
        keyboard = InlineKeyboardMarkup(
            inline_keyboard=[[InlineKeyboardButton(text="报名", callback_data="act:join:1")]]
        )
        sent = await bot.send_message(RETIREE, "重阳节活动", reply_markup=keyboard)
        assert sent.reply_markup is not None
        assert sent.reply_markup.inline_keyboard[0][0].callback_data == "act:join:1"
        edited = await bot.edit_message_text(
            "重阳节活动（已满）", chat_id=RETIREE, message_id=sent.message_id
        )
        assert isinstance(edited, object) and server.messages(RETIREE)[-1]["text"].endswith(
            "已满）"
        )

        await server.user_sends(RETIREE, "/start")
        updates = await bot.get_updates(timeout=5)
        assert updates and updates[0].message is not None
        before = len(server.requests)
        for update in updates:
            await dispatcher.feed_update(bot, Update.model_validate(update.model_dump()))
        answered = [r for r in server.requests[before:] if r.method.startswith("send")]
        assert answered, "the /start handler answered through the sandbox"
        assert answered[0].params["chat_id"] == RETIREE
        for recorded in server.requests:
            assert recorded.status == 200, recorded
            check_request(recorded.method, recorded.params)
    finally:
        await bot.session.close()


async def test_aiogram_parses_every_kind_of_answer(server: SandboxServer) -> None:
    """Result shapes must satisfy aiogram's models: a wrong shape fails here, not in e2e."""
    bot = create_bot(Settings(_env_file=None, telegram_api_url=server.api_url), TOKEN)  # type: ignore[call-arg]
    try:
        photo = BufferedInputFile(b"\xff\xd8photo", filename="a.jpg")
        album = await bot.send_media_group(
            RETIREE,
            [InputMediaPhoto(media=photo, caption="一"), InputMediaPhoto(media=photo)],
        )
        assert len(album) == 2 and album[0].media_group_id == album[1].media_group_id
        voice = await bot.send_voice(RETIREE, BufferedInputFile(b"OggS", filename="v.ogg"))
        assert voice.voice is not None
        document = await bot.send_document(
            STAFF_GROUP, BufferedInputFile(b"a,b\n", filename="report.csv"), caption="月报"
        )
        assert document.document is not None and document.document.file_name == "report.csv"
        user_message = await server.user_sends(RETIREE, voice=b"OggS-user")
        forwarded = await bot.forward_message(STAFF_GROUP, RETIREE, user_message["message_id"])
        assert forwarded.voice is not None and forwarded.forward_origin is not None
        copied = await bot.copy_message(STAFF_GROUP, RETIREE, user_message["message_id"])
        assert copied.message_id > forwarded.message_id
        commands = [BotCommand(command="start", description="开始")]
        assert await bot.set_my_commands(commands, language_code="zh")
        assert [c.command for c in await bot.get_my_commands(language_code="zh")] == ["start"]
        assert await bot.get_my_commands() == []
        chat = await bot.get_chat(STAFF_GROUP)
        assert chat.title == "Staff"
        assert await bot.send_chat_action(RETIREE, "typing")
        assert await bot.set_chat_menu_button(menu_button=MenuButtonCommands())
        info = await bot.get_webhook_info()
        assert info.url == ""
        member = await bot.get_chat_member(STAFF_GROUP, DAUGHTER)
        assert member.status == "member"
        location = await bot.send_location(RETIREE, latitude=39.9, longitude=116.4)
        assert location.location is not None
        assert await bot.delete_message(RETIREE, location.message_id)
        for recorded in server.requests:
            assert recorded.status == 200, recorded
            check_request(recorded.method, recorded.params)
    finally:
        await bot.session.close()
