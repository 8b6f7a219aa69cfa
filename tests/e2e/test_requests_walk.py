"""Service requests end to end: the REAL bot process (`retiree-bot run`, long polling) against
the sandbox Bot API server, driven by people who read the bot's messages and tap its buttons.

王秀英 (demo retiree, her son 王磊 is linked) asks for a home repair with a text and a photo;
the card appears in the staff group; 刘芳 (her grid's caseworker) takes it and starts it on the
card, which is edited in place; non-staff presses on staff buttons are refused and change
nothing; 刘芳 marks it done from her private request queue (the group card follows through the
outbox); 王秀英 rates it low, the office head gets the alert, and she skips the comment.
Every Bot API call is checked against the spec and SIGTERM stops the process with code 0."""

from __future__ import annotations

import asyncio
import base64
import re
import time
from collections.abc import Callable
from typing import Any

import pytest

from bot.db import create_engine, create_sessionmaker
from sandbox.demo.seed import DemoPeople
from tests.e2e.conftest import (
    Person,
    buttons_of,
    check_all_requests,
    message_text,
    wait_until_ready,
)

pytestmark = pytest.mark.slow

RETIREE_ID = 200001  # 王秀英, 幸福里 grid, lives alone
SON_ID = 300002  # 王磊, her approved family link
CASEWORKER_ID = 100001  # 刘芳, caseworker of 幸福里社区 1-3号楼
HEAD_ID = 100003  # 陈静, office head (administrator: gets the low-rating alerts)
NUMBER = re.compile(r"FW-\d{4}-\d{5}")
PUSH_TIMEOUT = 45.0  # pushed messages: the outbox sender paces a group at one per 3 s, and the
# demo data leaves a backlog of about seven group cards and edits ahead of ours
DESCRIPTION = "卫生间的灯不亮了，换了灯泡也不行，晚上起夜看不见，怕摔倒。"
# A 1x1 PNG: what a phone would send as a photo.
PHOTO = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg=="
)


# --- helpers of this walk ---------------------------------------------------------------------


async def wait_for(
    server: Any,
    chat_id: int,
    predicate: Callable[[dict[str, Any]], bool],
    what: str,
    timeout: float = PUSH_TIMEOUT,
) -> dict[str, Any]:
    """The (current state of the) first bot message in the chat matching `predicate`."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        for message in server.messages(chat_id):
            if (message.get("from") or {}).get("is_bot") and predicate(message):
                return message
        if loop.time() > deadline:
            shown = [message_text(m) for m in server.messages(chat_id)][-6:]
            raise AssertionError(f"{what}: not in chat {chat_id} within {timeout} s: {shown}")
        await asyncio.sleep(0.1)


def containing(*parts: str) -> Callable[[dict[str, Any]], bool]:
    return lambda message: all(part in message_text(message) for part in parts)


def message_by_id(server: Any, chat_id: int, message_id: int) -> dict[str, Any]:
    return next(m for m in server.messages(chat_id) if m["message_id"] == message_id)


def button(message: dict[str, Any], label: str, *, exact: bool = False) -> dict[str, Any]:
    for candidate in buttons_of(message):
        text = str(candidate.get("text", ""))
        if text == label or (not exact and label in text):
            return candidate
    raise AssertionError(
        f"no button {label!r} under {message_text(message)!r}: {buttons_of(message)}"
    )


async def press(
    person: Person, message: dict[str, Any], label: str, *, exact: bool = False
) -> list[dict[str, Any]]:
    """Tap a button under one given message (the group holds many cards with the same
    buttons, and "⭐⭐" is part of "⭐⭐⭐⭐⭐"); returns what the bot changed in that chat."""
    chosen = button(message, label, exact=exact)
    person.note(f"USER taps [{chosen['text']}] under message {message['message_id']}")
    return await person._after(
        person.server.user_presses(
            person.user_id, person.chat_id, message["message_id"], chosen["callback_data"]
        )
    )


async def send_photo(person: Person, photo: bytes) -> list[dict[str, Any]]:
    person.note("USER sends a photo")
    return await person._after(person.server.user_sends(person.user_id, photo=photo))


async def callback_answer(
    server: Any, chat_id: int, query_id: str, timeout: float = 10.0
) -> dict[str, Any]:
    """The bot's answerCallbackQuery for one press (a refusal changes no message)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while loop.time() < deadline:
        for event in server.events(chat_id):
            if event["type"] == "answer" and event["callback_query_id"] == query_id:
                return event
        await asyncio.sleep(0.05)
    raise AssertionError(f"the press {query_id} in chat {chat_id} was never answered")


async def stored_request(database_url: str, number: str) -> dict[str, Any]:
    from sqlalchemy import select

    from models.requests import ServiceRequest

    engine = create_engine(database_url)
    try:
        async with create_sessionmaker(engine)() as session:
            request = await session.scalar(
                select(ServiceRequest).where(ServiceRequest.number == number)
            )
            assert request is not None, f"no request {number} stored"
            return {
                "status": request.status.value,
                "category": request.category.value,
                "description": request.description,
                "urgent": request.urgent,
                "preferred": request.preferred.value,
                "photos": len(request.attachments),
                "for": request.profile.full_name,
                "assignee": request.assignee.display_name if request.assignee else None,
                "rating": request.rating,
                "comment": request.rating_comment,
                "events": [event.action.value for event in request.events],
            }
    finally:
        await engine.dispose()


# --- the walk ---------------------------------------------------------------------------------


async def test_a_request_walks_from_intake_to_rating(
    sandbox: Any, seeded: DemoPeople, bot_env: Any, start_bot: Any, e2e_database_url: str
) -> None:
    began = time.monotonic()
    bot = await start_bot(bot_env(sandbox.api_url, seeded))
    await wait_until_ready(sandbox, bot, "deleteWebhook")
    group = seeded.staff_chat_id
    retiree = Person(sandbox, RETIREE_ID)
    caseworker_in_group = Person(sandbox, CASEWORKER_ID, chat_id=group)
    caseworker = Person(sandbox, CASEWORKER_ID)
    people = (retiree, caseworker_in_group, caseworker)

    try:
        # 1. Intake: 王秀英 asks for help from her menu, as she would.
        welcome = await retiree.send("/start")
        assert any("欢迎回来" in message_text(m) for m in welcome), retiree.transcript()
        asked = await retiree.tap("请求帮助")
        assert any(button_labels_contain(m, "居家维修") for m in asked), retiree.transcript()
        await retiree.tap("居家维修")
        assert any("说完了" in label for label in retiree.keyboard()), retiree.transcript()
        await retiree.send(DESCRIPTION)
        await send_photo(retiree, PHOTO)
        asked = await retiree.tap("说完了")
        assert any(button_labels_contain(m, "明天") for m in asked), retiree.transcript()
        await retiree.tap("明天")
        await retiree.tap("不急")
        summary = retiree.last()
        for part in ("王秀英", "居家维修", DESCRIPTION, "📷", "明天", "不急"):
            assert part in message_text(summary), retiree.transcript()
        sent = await retiree.tap("提交请求")
        confirmation = next(m for m in sent if NUMBER.search(message_text(m)))
        number = NUMBER.search(message_text(confirmation)).group()  # type: ignore[union-attr]
        assert "编号：" in message_text(confirmation), retiree.transcript()
        assert "之前给您回复" in message_text(confirmation), retiree.transcript()
        # The summary's buttons are gone: it cannot be sent twice.
        assert not buttons_of(message_by_id(sandbox, RETIREE_ID, summary["message_id"]))
        print(f"{time.monotonic() - began:5.1f}s request {number} sent")

        # The son hears of it (the retiree made it herself, so she is not told again).
        await wait_for(sandbox, SON_ID, containing(number, "王秀英", "已送到服务站"), "created")

        # 2. The card in the staff group, with her phone and the Take button.
        card = await wait_for(sandbox, group, containing(number), "the staff card")
        print(f"{time.monotonic() - began:5.1f}s card in the staff group")
        card_id = card["message_id"]
        for part in ("王秀英", "13811020301", "等待工作人员接手", "受理时限", DESCRIPTION, "📷"):
            assert part in message_text(card), message_text(card)
        await press(caseworker_in_group, card, "接单")
        card = message_by_id(sandbox, group, card_id)
        assert "工作人员已接手" in message_text(card) and "经办人：刘芳" in message_text(card), (
            message_text(card)
        )
        assert "开始办理" in str(buttons_of(card)) and "接单" not in str(buttons_of(card))
        await wait_for(
            sandbox, RETIREE_ID, containing("您的请求", number, "已经有人接手", "刘芳"), "accepted"
        )
        await wait_for(
            sandbox, SON_ID, containing("王秀英的请求", number, "已经有人接手", "刘芳"), "accepted"
        )
        # The photo goes privately to whoever handles the request.
        media = await wait_for(sandbox, CASEWORKER_ID, containing(number, "附件 1/1"), "photo")
        assert "photo" in media, media
        print(f"{time.monotonic() - began:5.1f}s taken; retiree and son told")

        # 3. Non-staff presses on the staff buttons are refused and change nothing: the
        # retiree forging the card's "start" in her own chat, her son pressing the real card.
        start_data = button(card, "开始办理")["callback_data"]
        before = message_text(card)
        forged = await sandbox.user_presses(
            RETIREE_ID, RETIREE_ID, retiree.last()["message_id"], start_data
        )
        answer = await callback_answer(sandbox, RETIREE_ID, forged)
        assert answer["show_alert"] and "只有服务站工作人员" in answer["text"], answer
        members = [*seeded.staff_ids, SON_ID]  # the son is in the group too, say
        sandbox.add_group(group, seeded.staff_chat_title, members)
        in_group = await sandbox.user_presses(SON_ID, group, card_id, start_data)
        answer = await callback_answer(sandbox, group, in_group)
        assert answer["show_alert"] and "只有服务站工作人员" in answer["text"], answer
        await asyncio.sleep(1.0)  # a wrong change would have been made by now
        assert message_text(message_by_id(sandbox, group, card_id)) == before

        # 4. 刘芳 starts on the card, then marks it done from her private queue.
        card = message_by_id(sandbox, group, card_id)
        await press(caseworker_in_group, card, "开始办理")
        card = message_by_id(sandbox, group, card_id)
        assert "正在办理" in message_text(card), message_text(card)
        await wait_for(sandbox, RETIREE_ID, containing(number, "已开始办理"), "started")

        await caseworker.send("/start")
        queue = await caseworker.tap("工单列表")
        assert any(number in str(buttons_of(m)) for m in queue), caseworker.transcript()
        opened = await caseworker.tap(number)
        assert any(number in message_text(m) and "正在办理" in message_text(m) for m in opened), (
            caseworker.transcript()
        )
        # Done asks first: finish now, or with a line of result the family reads.
        asked = await caseworker.tap("办结")
        assert any("写一句办理结果" in str(buttons_of(m)) for m in asked), caseworker.transcript()
        asked = await caseworker.tap("写一句办理结果")
        assert any("办得怎么样" in message_text(m) for m in asked), caseworker.transcript()
        finished = await caseworker.send("灯已修好")
        assert any("已办结" in message_text(m) for m in finished), caseworker.transcript()
        # The group card follows through the outbox (an edit of the same message).
        card = await wait_for(
            sandbox,
            group,
            lambda m: m["message_id"] == card_id and "✅ 办结" in message_text(m),
            "the group card shows done",
        )
        # nothing left to do but look at the photos and voice notes, from the group itself
        assert [b["text"] for b in buttons_of(card)] == ["📎 照片和语音"], buttons_of(card)
        assert "办理结果：灯已修好" in message_text(card), message_text(card)
        await wait_for(sandbox, SON_ID, containing(number, "已办好", "灯已修好"), "done")
        cards = [m for m in sandbox.messages(group) if number in message_text(m)]
        assert [m["message_id"] for m in cards] == [card_id], "one card, edited, never re-sent"
        await press(caseworker_in_group, card, "照片和语音")
        await wait_for(
            sandbox,
            group,
            lambda m: "photo" in m and f"{number}：附件 1/1" in message_text(m),
            "the photo, sent again into the group",
        )
        print(f"{time.monotonic() - began:5.1f}s done; the group card is edited in place")

        # 5. 王秀英 is asked to rate; two stars alert the office head; she skips the comment.
        question = await wait_for(
            sandbox,
            RETIREE_ID,
            containing(number, "您满意吗", "办理结果：灯已修好"),
            "the one completion message: the result and the stars",
        )
        done_news = [m for m in sandbox.messages(RETIREE_ID) if "已办好" in message_text(m)]
        assert not done_news, "the retiree gets one completion message, not two"
        rated = await press(retiree, question, "⭐⭐", exact=True)
        assert any("打了 ⭐⭐。" in message_text(m) for m in rated), retiree.transcript()
        thanked = await retiree.tap("不用了")
        assert any("谢谢您的评分" in message_text(m) for m in thanked), retiree.transcript()
        alert = await wait_for(sandbox, HEAD_ID, containing("低分提醒", number), "low rating")
        assert "2 ⭐" in message_text(alert) and "刘芳" in message_text(alert), alert
        print(f"{time.monotonic() - began:5.1f}s rated; the office head is alerted")
    finally:
        for person in people:
            print(f"--- chat {person.chat_id} as {person.user_id} ---\n{person.transcript()}")
        for chat_id in (RETIREE_ID, SON_ID, HEAD_ID, CASEWORKER_ID, group):
            print(f"--- what the bot left in chat {chat_id} ---")
            for message in sandbox.messages(chat_id):
                print(f"#{message['message_id']}: {message_text(message)!r} {buttons_of(message)}")
            for event in sandbox.events(chat_id):
                if event["type"] == "answer":
                    print(f"answer to {event['user_id']}: {event['text']!r}")

    # 6. Every call was valid Bot API, none failed, and SIGTERM stops the process cleanly.
    assert check_all_requests(sandbox) > 0
    failed = [(r.method, r.status) for r in sandbox.requests if r.status not in (200, 0)]
    assert not failed, f"Bot API calls that failed: {failed}"
    code = await bot.terminate()
    assert code == 0, f"exit code {code} after SIGTERM:\n{bot.output()}"
    assert "Traceback" not in bot.output(), bot.output()

    stored = await stored_request(e2e_database_url, number)
    assert stored == {
        "status": "done",
        "category": "home_repair",
        "description": DESCRIPTION,
        "urgent": False,
        "preferred": "tomorrow",
        "photos": 1,
        "for": "王秀英",
        "assignee": "刘芳",
        "rating": 2,
        "comment": None,
        "events": ["created", "accepted", "started", "done", "rated"],
    }, stored
    print(f"{time.monotonic() - began:5.1f}s the whole walk")


def button_labels_contain(message: dict[str, Any], label: str) -> bool:
    return any(label in str(b.get("text", "")) for b in buttons_of(message))
