"""Everyday Chinese in service requests, through the real Dispatcher: help in two taps by voice
(and staff classify with one tap), obvious words at the main menu, free text at the type and
time questions, and a gentle hint for a description of only emoji."""

from __future__ import annotations

from datetime import timedelta

from aiogram.utils.i18n import I18n
from sqlalchemy.ext.asyncio import AsyncSession

from bot.config import Settings
from handlers import notification_renderers
from handlers.requests.callbacks import CategoryCb, ClassifyCb, StaffAction, StaffCb, WhenCb
from handlers.requests.quick_help import QuickAction, QuickCb
from models.base import utcnow
from models.requests import Category, Preferred, RequestStatus
from tests.chat import Chat
from tests.test_requests_flow import (
    FAMILY,
    RETIREE,
    STAFF,
    STAFF2,
    STAFF_CHAT,
    latest_request,
    menu,
    shown,
)
from tests.test_requests_support import make_people, outbox

render = notification_renderers().render


def button_data(requests: list, text_part: str) -> str:  # type: ignore[type-arg]
    for request in requests:
        for button in request.inline_buttons():
            if text_part in button["text"]:
                return str(button["callback_data"])
    raise AssertionError(f"no button with {text_part!r}: {requests}")


async def test_a_voice_message_at_the_menu_is_a_request_in_one_tap(
    chat: Chat, session: AsyncSession, i18n: I18n, settings: Settings
) -> None:
    people = await make_people(session)
    sent = await chat.send_voice(RETIREE)
    offer = shown(sent)
    assert offer.text == "要把这段话发给服务站，请他们帮忙吗？"
    texts = [b["text"] for b in offer.inline_buttons()]
    assert texts == ["✅ 发送", "🚨 很急，发送", "✏️ 先选类别"]
    # a second voice message while the offer stands is added to it
    await chat.send_voice(RETIREE)
    sent = await chat.press(RETIREE, button_data(sent, "✅ 发送"))  # tap 1 of 1 (plus the voice)
    answer = shown(sent)
    assert "已经发给服务站了" in answer.text
    request = await latest_request(session)
    assert request.number in answer.text
    assert request.category == Category.UNCLASSIFIED and not request.urgent
    assert request.preferred == Preferred.THIS_WEEK
    assert len(request.attachments) == 2 and request.profile_id == people.profile.id

    # the staff group's card says 未分类 and classifies in one tap
    cards = await outbox(session, "request.staff_card")
    card = render(cards[-1].kind, cards[-1].params, "zh_Hans", i18n)
    assert "未分类" in card.text
    classify = ClassifyCb(request_id=request.id, category=Category.HOME_REPAIR).pack()
    assert card.reply_markup is not None
    assert classify in [b.callback_data for row in card.reply_markup.inline_keyboard for b in row]
    sent = await chat.press(STAFF, classify, chat=STAFF_CHAT)
    edited = [r for r in sent if r.method == "editMessageText"]
    assert edited and "维修" in edited[-1].text
    assert all("rqk:" not in b["callback_data"] for b in edited[-1].inline_buttons())
    assert (await latest_request(session)).category == Category.HOME_REPAIR
    # a colleague's tap a moment later changes nothing
    sent = await chat.press(
        STAFF2, ClassifyCb(request_id=request.id, category=Category.TALK).pack(), chat=STAFF_CHAT
    )
    assert any(
        r.method == "answerCallbackQuery" and "同事刚刚" in (r.params.get("text") or "")
        for r in sent
    )
    assert (await latest_request(session)).category == Category.HOME_REPAIR
    # the card goes on as before
    await chat.press(
        STAFF, StaffCb(action=StaffAction.TAKE, request_id=request.id).pack(), chat=STAFF_CHAT
    )
    assert (await latest_request(session)).status == RequestStatus.ACCEPTED


async def test_a_sentence_at_the_menu_can_be_sent_urgent(chat: Chat, session: AsyncSession) -> None:
    await make_people(session)
    sent = await chat.send(RETIREE, "我家厨房的水管漏水了，地上都是水")
    sent = await chat.press(RETIREE, button_data(sent, "很急"))
    request = await latest_request(session)
    assert request.urgent and request.category == Category.UNCLASSIFIED
    assert request.description == "我家厨房的水管漏水了，地上都是水"
    # the offer's buttons are gone with it: a second tap does nothing
    again = await chat.press(
        RETIREE, QuickCb(action=QuickAction.SEND, profile_id=request.profile_id).pack()
    )
    assert any(r.method == "answerCallbackQuery" for r in again)
    assert (await latest_request(session)).id == request.id


async def test_choose_the_type_first_keeps_what_was_said(chat: Chat, session: AsyncSession) -> None:
    await make_people(session)
    sent = await chat.send(RETIREE, "想找人陪我去医院看病")
    sent = await chat.press(RETIREE, button_data(sent, "先选类别"))
    assert "什么样的帮助" in shown(sent).text or any(r.inline_buttons() for r in sent)
    sent = await chat.tap(RETIREE, CategoryCb(category=Category.MEDICAL).pack())
    # the description is not asked again: straight to the time
    assert any(
        WhenCb(preferred=Preferred.TOMORROW).pack()
        in [b["callback_data"] for b in r.inline_buttons()]
        for r in sent
    ), sent


async def test_family_with_one_relative_and_staff_are_not_offered(
    chat: Chat, session: AsyncSession
) -> None:
    await make_people(session)
    sent = await chat.send(FAMILY, "My mother needs help with her pension papers")
    assert next(b["text"] for b in shown(sent).inline_buttons()) == "✅ Send"
    sent = await chat.send(STAFF, "随便说说")  # staff: the usual hint
    assert "没看明白" in shown(sent).text


async def test_menu_words_lead_to_the_right_place(
    chat: Chat, session: AsyncSession, i18n: I18n
) -> None:
    await make_people(session)
    sent = await chat.send(RETIREE, "活动")
    assert shown(sent).text == (await chat.send(RETIREE, menu(i18n, "activities")))[-1].text
    sent = await chat.send(RETIREE, "我要帮忙")
    assert any(r.inline_buttons() for r in sent)  # the type question of the request form
    assert "什么样的帮助" in shown(sent).text or "帮助" in shown(sent).text
    await chat.send(RETIREE, "🏠 返回主菜单")
    sent = await chat.send(RETIREE, "取消")
    assert shown(sent).text == (await chat.send(RETIREE, menu(i18n, "my_requests")))[-1].text
    sent = await chat.send(RETIREE, "投诉")
    assert "投诉" in shown(sent).text and "帮忙吗" not in shown(sent).text


async def test_free_text_at_the_type_question_becomes_the_description(
    chat: Chat, session: AsyncSession, i18n: I18n
) -> None:
    await make_people(session)
    await chat.send(RETIREE, menu(i18n, "request_help"))
    sent = await chat.send(RETIREE, "卫生间的灯坏了")
    again = shown(sent)
    assert "已经记下了" in again.text
    assert CategoryCb(category=Category.HOME_REPAIR).pack() in [
        b["callback_data"] for b in again.inline_buttons()
    ]  # the buttons come again under the new message
    assert CategoryCb(category=Category.UNCLASSIFIED).pack() not in [
        b["callback_data"] for b in again.inline_buttons()
    ]
    sent = await chat.tap(RETIREE, CategoryCb(category=Category.HOME_REPAIR).pack())
    when = shown(sent)
    assert WhenCb(preferred=Preferred.TOMORROW).pack() in [
        b["callback_data"] for b in when.inline_buttons()
    ]
    # a day typed as people write it, at the time question
    sent = await chat.send(RETIREE, "后天")
    assert any("紧急" in r.text for r in sent if r.text)
    from handlers.requests.callbacks import Urgency, UrgencyCb

    sent = await chat.tap(RETIREE, UrgencyCb(urgency=Urgency.NORMAL).pack())
    summary = shown(sent)
    assert "卫生间的灯坏了" in summary.text
    day_after = (utcnow() + timedelta(hours=8) + timedelta(days=2)).date()
    assert (
        f"{day_after.month}月{day_after.day}日" in summary.text
        or day_after.isoformat() in summary.text
    )


async def test_an_unreadable_day_asks_again_with_the_buttons(
    chat: Chat, session: AsyncSession, i18n: I18n
) -> None:
    await make_people(session)
    await chat.send(RETIREE, menu(i18n, "request_help"))
    await chat.tap(RETIREE, CategoryCb(category=Category.ERRANDS).pack())
    await chat.send(RETIREE, "买米和油")
    sent = await chat.send(RETIREE, "✅ 说完了，下一步")
    sent = await chat.send(RETIREE, "随便哪天")
    asked = shown(sent)
    assert "没看明白是哪一天" in asked.text
    assert WhenCb(preferred=Preferred.TODAY).pack() in [
        b["callback_data"] for b in asked.inline_buttons()
    ]


async def test_a_description_of_only_emoji_gets_a_gentle_hint(
    chat: Chat, session: AsyncSession, i18n: I18n
) -> None:
    await make_people(session)
    await chat.send(RETIREE, menu(i18n, "request_help"))
    await chat.tap(RETIREE, CategoryCb(category=Category.HOME_REPAIR).pack())
    await chat.send(RETIREE, "水龙头坏了")
    sent = await chat.send(RETIREE, "👍👍")
    assert "能用几个字说一下" in shown(sent).text
    sent = await chat.send(RETIREE, "？？？")
    assert "之前发的内容都还在" in shown(sent).text
    # at the type question too (🏠 asks first, since something was entered; again discards)
    await chat.send(RETIREE, "🏠 返回主菜单")
    await chat.send(RETIREE, "🏠 返回主菜单")
    await chat.send(RETIREE, menu(i18n, "request_help"))
    sent = await chat.send(RETIREE, "🙏")
    assert "能用几个字说一下" in shown(sent).text
