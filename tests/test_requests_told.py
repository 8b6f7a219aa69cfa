"""Everyone concerned is told, in their own words, about service requests: the retiree hears
who asked for help for them and for what; finishing takes an optional line of result that
reaches the retiree and family, and whoever is asked to rate gets one completion message (the
result and the stars), not two; a likely duplicate is pointed out to whoever files it; staff
open the photos and voice notes from the group card too."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from aiogram.utils.i18n import I18n
from sqlalchemy.ext.asyncio import AsyncSession

from handlers import notification_renderers
from handlers.requests.callbacks import CategoryCb, StaffAction, StaffCb
from models import requests as rq
from models.requests import Category, ErrorCode, RequestError, RequestStatus
from tests.chat import Chat
from tests.test_requests_domain import ctx, new_request
from tests.test_requests_flow import (
    FAMILY,
    RETIREE,
    STAFF,
    STAFF_CHAT,
    file_as_retiree,
    latest_request,
    menu,
    shown,
)
from tests.test_requests_support import make_people, outbox

render = notification_renderers().render
LOCALES = ["zh_Hans", "zh_Hant", "en"]
NOW = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)  # Monday 10:00 in Shanghai
RESULT_WORDS = {"zh_Hans": "办理结果：", "zh_Hant": "辦理結果：", "en": "Result: "}


@pytest.mark.parametrize("locale", LOCALES)
async def test_one_completion_message_with_the_result_and_the_stars(
    session: AsyncSession, i18n: I18n, locale: str
) -> None:
    people = await make_people(session)
    request = await new_request(session, people, NOW)
    await rq.take(session, people.staff, request.id, ctx(NOW))
    await rq.finish(session, people.staff, request.id, ctx(NOW), note="  已换好\n水龙头 ")

    done_news = [m for m in await outbox(session, "request.status") if m.params["action"] == "done"]
    rates = await outbox(session, "request.rate")
    # the retiree filed it and is asked to rate: one message, the question with the result
    assert [m.user_id for m in rates] == [people.retiree.id]
    assert [m.user_id for m in done_news] == [people.family.id]
    rendered = render(rates[0].kind, rates[0].params, locale, i18n)
    assert RESULT_WORDS[locale] + "已换好 水龙头" in rendered.text
    assert rendered.reply_markup is not None  # the stars
    # the family reads the completion and the result too
    text = render(done_news[0].kind, done_news[0].params, locale, i18n).text
    assert RESULT_WORDS[locale] + "已换好 水龙头" in text
    # and the staff card shows it
    [card] = [c for c in await outbox(session, "request.staff_card") if c.edit_of][-1:]
    assert "已换好 水龙头" in render(card.kind, card.params, locale, i18n).text


async def test_when_family_filed_the_retiree_is_told_once_and_family_rates(
    session: AsyncSession, i18n: I18n
) -> None:
    people = await make_people(session)
    await session.refresh(people.family, ["profile"])
    request = await rq.create_request(
        session,
        people.family,
        people.profile.id,
        category=Category.MEDICAL,
        description="周五上午去市一医院复查，需要人陪同",
        now=NOW,
        tz=ctx(NOW).tz,
        staff_chat_id=STAFF_CHAT["id"],
    )
    request_id, number = request.id, request.number
    [told] = await outbox(session, "request.filed_for_you")
    assert told.user_id == people.retiree.id
    assert not await outbox(session, "request.status")  # not a second, plainer notice
    expected = {
        "zh_Hans": "王小明帮您提交了请求：🏥 就医陪诊",
        "zh_Hant": "王小明幫您提交了請求：🏥 就醫陪診",
        "en": "王小明 asked the service office for help for you: 🏥 Medical escort",
    }
    for locale, head in expected.items():
        text = render(told.kind, told.params, locale, i18n).text
        assert head in text and "周五上午去市一医院复查" in text and number in text

    await rq.take(session, people.staff, request_id, ctx(NOW))
    await rq.finish(session, people.staff, request_id, ctx(NOW), note="已陪同复查")
    [ask] = await outbox(session, "request.rate")
    assert ask.user_id == people.family.id  # who asked rates it
    done = [m for m in await outbox(session, "request.status") if m.params["action"] == "done"]
    assert [m.user_id for m in done] == [people.retiree.id]


async def test_a_too_long_result_is_refused_never_cut(session: AsyncSession) -> None:
    people = await make_people(session)
    request = await new_request(session, people, NOW)
    await rq.take(session, people.staff, request.id, ctx(NOW))
    with pytest.raises(RequestError) as error:
        await rq.finish(session, people.staff, request.id, ctx(NOW), note="好" * 201)
    assert error.value.code == ErrorCode.RESULT_TOO_LONG


async def test_staff_finish_with_a_result_from_the_group_card(
    chat: Chat, session: AsyncSession, i18n: I18n
) -> None:
    people = await make_people(session)
    await file_as_retiree(chat, i18n)
    request = await latest_request(session)
    take = StaffCb(action=StaffAction.TAKE, request_id=request.id).pack()
    await chat.press(STAFF, take, chat=STAFF_CHAT, message_id=77)

    done = StaffCb(action=StaffAction.DONE, request_id=request.id).pack()
    sent = await chat.press(STAFF, done, chat=STAFF_CHAT, message_id=77)
    labels = [b["text"] for b in sent[0].inline_buttons()]
    assert labels == ["✅ 确认办结", "✍️ 写一句办理结果再办结", "⬅️ 返回"]
    note = StaffCb(action=StaffAction.FINISH_NOTE, request_id=request.id).pack()
    sent = await chat.press(STAFF, note, chat=STAFF_CHAT, message_id=77)
    asked = [r for r in sent if r.method == "sendMessage"]
    assert asked[0].chat_id == STAFF.id and "办得怎么样" in asked[0].text
    assert sent[-1].params["text"] == "我在私聊里问您办理结果了。"
    assert (await latest_request(session)).status == RequestStatus.ACCEPTED

    # too long: told why, the question keeps waiting, nothing changed
    sent = await chat.send(STAFF, "好" * 201)
    assert "最多 200 个字" in shown(sent).text
    assert (await latest_request(session)).status == RequestStatus.ACCEPTED
    sent = await chat.send(STAFF, "已换好水龙头")
    assert "已办结" in shown(sent).text and "已换好水龙头" in shown(sent).text
    request = await latest_request(session)
    assert request.status == RequestStatus.DONE and request.events[-1].note == "已换好水龙头"
    [ask] = await outbox(session, "request.rate")
    assert ask.user_id == people.retiree.id
    assert "办理结果：已换好水龙头" in render(ask.kind, ask.params, "zh_Hans", i18n).text
    family = [m for m in await outbox(session, "request.status") if m.params["action"] == "done"]
    assert "Result: 已换好水龙头" in render(family[0].kind, family[0].params, "en", i18n).text


async def test_a_likely_duplicate_is_pointed_out_when_filing(
    chat: Chat, session: AsyncSession, i18n: I18n
) -> None:
    people = await make_people(session)
    await file_as_retiree(chat, i18n)
    first = await latest_request(session)
    assert await rq.likely_duplicates(session, people.profile.id, Category.HOME_REPAIR)
    await session.commit()

    # the retiree asks again for the same kind of help: told, and the form goes on
    await chat.send(RETIREE, menu(i18n, "request_help"))
    sent = await chat.tap(RETIREE, CategoryCb(category=Category.HOME_REPAIR).pack())
    texts = [r.text for r in sent if r.method == "sendMessage"]
    assert any(first.number in t and "您已经有一个同类的请求" in t for t in texts), texts
    assert first.number not in texts[-1]  # then the next question, as always
    # another kind: nothing said (the half-filled form is given up first: 🏠 asks, 🏠 again)
    await chat.send(RETIREE, "🏠 返回主菜单")
    await chat.send(RETIREE, "🏠 返回主菜单")
    await chat.send(RETIREE, menu(i18n, "request_help"))
    sent = await chat.tap(RETIREE, CategoryCb(category=Category.ERRANDS).pack())
    assert not any(first.number in r.text for r in sent)

    # the son, in English, is told about his mother's open request
    await chat.send(FAMILY, menu(i18n, "request_help", "en"))
    sent = await chat.tap(FAMILY, CategoryCb(category=Category.HOME_REPAIR).pack())
    texts = [r.text for r in sent if r.method == "sendMessage"]
    assert any(
        f"王秀英 already has an open request of this kind, {first.number}" in t for t in texts
    )


async def test_photos_and_voice_open_from_the_group_card(
    chat: Chat, session: AsyncSession, i18n: I18n
) -> None:
    await make_people(session)
    await file_as_retiree(chat, i18n)
    request = await latest_request(session)
    [card] = await outbox(session, "request.staff_card")
    rendered = render(card.kind, card.params, "zh_Hans", i18n)
    buttons = [b for row in rendered.reply_markup.inline_keyboard for b in row]  # type: ignore[union-attr]
    media = StaffCb(action=StaffAction.MEDIA, request_id=request.id).pack()
    assert media in [b.callback_data for b in buttons]

    sent = await chat.press(STAFF, media, chat=STAFF_CHAT, message_id=77)
    resent = [r for r in sent if r.method in ("sendVoice", "sendPhoto")]
    assert [r.method for r in resent] == ["sendVoice", "sendPhoto"]
    assert all(r.chat_id == STAFF_CHAT["id"] for r in resent)  # into the group, by file id
    assert request.number in resent[0].text
    # a retiree pressing it is refused kindly
    sent = await chat.press(RETIREE, media, chat=STAFF_CHAT, message_id=77)
    assert [r.method for r in sent] == ["answerCallbackQuery"] and sent[0].params["show_alert"]
