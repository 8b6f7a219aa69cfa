"""Nothing typed is lost, and stale buttons never act on the present (issue 11), through the
real Dispatcher: drafts across 🏠, /start, a menu button, /language and a restart; the
description's add / write anew; a button from each kind of finished conversation."""

from __future__ import annotations

import pytest
from aiogram.utils.i18n import I18n
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.config import Settings
from handlers.requests.callbacks import (
    CategoryCb,
    RateCb,
    ReviewAction,
    ReviewCb,
    SkipCommentCb,
    StaffAction,
    StaffCb,
    Urgency,
    UrgencyCb,
    WhenCb,
)
from models.requests import Category, Preferred, RequestStatus, ServiceRequest
from models.runtime import FsmRecord
from tests.chat import Chat
from tests.recording import Request
from tests.test_onboarding_retiree import fresh_dispatcher
from tests.test_requests_flow import (
    FAMILY,
    RETIREE,
    STAFF,
    STAFF_CHAT,
    done_button,
    file_as_retiree,
    latest_request,
    menu,
    shown,
)
from tests.test_requests_support import make_people

DATABASES = ["sqlite", "postgres"]


@pytest.fixture(params=DATABASES)
def database_url(request: pytest.FixtureRequest) -> str:
    name = "sqlite_database_url" if request.param == "sqlite" else "pg_database_url"
    return str(request.getfixturevalue(name))


async def form_state(session: AsyncSession, person_id: int) -> str | None:
    records = (await session.scalars(select(FsmRecord))).all()
    await session.commit()
    for record in records:
        if record.key.endswith(f":{person_id}:{person_id}:default"):
            return record.state
    return None


def stale_toast(sent: list[Request]) -> bool:
    """Only a toast: nothing sent, edited or changed."""
    return [r.method for r in sent] == ["answerCallbackQuery"] and bool(
        sent[0].params.get("show_alert")
    )


def removed_buttons(sent: list[Request], message_id: int | None) -> bool:
    return any(
        r.method == "editMessageReplyMarkup"
        and r.params.get("message_id") == message_id
        and not r.inline_buttons()
        for r in sent
    )


async def start_describing(chat: Chat, i18n: I18n, text: str = "厨房水龙头一直漏水") -> str:
    await chat.send(RETIREE, menu(i18n, "request_help"))
    sent = await chat.tap(RETIREE, CategoryCb(category=Category.HOME_REPAIR).pack())
    await chat.send(RETIREE, text)
    return done_button(sent)


async def finish_request(chat: Chat, done: str) -> list[Request]:
    await chat.send(RETIREE, done)
    await chat.tap(RETIREE, WhenCb(preferred=Preferred.TOMORROW).pack())
    await chat.tap(RETIREE, UrgencyCb(urgency=Urgency.NORMAL).pack())
    return await chat.tap(RETIREE, ReviewCb(action=ReviewAction.SEND).pack())


# -- stale buttons -----------------------------------------------------------------------------


async def test_an_old_no_comment_button_does_not_end_a_new_request_form(
    chat: Chat, session: AsyncSession, i18n: I18n
) -> None:
    """The bug of the issue: "不用了，谢谢" of a finished rating, pressed while a new request
    form is open, thanked the person and silently ended the new form."""
    await make_people(session)
    await file_as_retiree(chat, i18n)
    request = await latest_request(session)
    for action in (StaffAction.TAKE, StaffAction.START, StaffAction.FINISH):
        await chat.press(
            STAFF,
            StaffCb(action=action, request_id=request.id).pack(),
            chat=STAFF_CHAT,
            message_id=77,
        )
    # rated from the pushed question (message 500), then a typed comment ends the rating
    sent = await chat.press(RETIREE, RateCb(request_id=request.id, stars=5).pack(), message_id=500)
    skip = SkipCommentCb(request_id=request.id).pack()
    assert chat.message_with(RETIREE, skip) == 500
    sent = await chat.send(RETIREE, "师傅很认真")
    assert "谢谢您的评价" in shown(sent).text or "谢谢" in shown(sent).text
    assert removed_buttons(sent, 500)  # the rating ended: its button is gone
    assert (await latest_request(session)).rating_comment == "师傅很认真"

    done = await start_describing(chat, i18n, "灯坏了")
    state = await form_state(session, RETIREE.id)
    sent = await chat.press(RETIREE, skip, message_id=500)  # the old button, still on a phone
    assert stale_toast(sent)
    assert await form_state(session, RETIREE.id) == state == "IntakeForm:description"
    await finish_request(chat, done)
    assert (await latest_request(session)).description == "灯坏了"


async def test_buttons_of_a_submitted_or_abandoned_form_are_stale(
    chat: Chat, session: AsyncSession, i18n: I18n
) -> None:
    await make_people(session)
    # abandoned: 🏠 with nothing entered yet ends it at once, and the buttons come off
    await chat.send(RETIREE, menu(i18n, "request_help"))
    category = CategoryCb(category=Category.CARE).pack()
    old_question = chat.message_with(RETIREE, category)
    sent = await chat.send(RETIREE, "🏠 返回主菜单")
    assert removed_buttons(sent, old_question)
    assert "已经停下了" in shown(sent).text
    # pressed anyway (an old screen) while a new form is open: a toast, nothing else
    await chat.send(RETIREE, menu(i18n, "request_help"))
    sent = await chat.press(RETIREE, category, message_id=old_question or 0)
    assert stale_toast(sent)
    assert await form_state(session, RETIREE.id) == "IntakeForm:category"

    # submitted: the old summary's "send" does not send the next request
    sent = await chat.tap(RETIREE, category)
    await chat.send(RETIREE, "每周打扫一次")
    first = await finish_request(chat, done_button(sent))
    summary = [r for r in first if r.method == "editMessageReplyMarkup"][-1].params["message_id"]
    done = await start_describing(chat, i18n, "想找人聊聊天")
    await chat.send(RETIREE, done)
    await chat.tap(RETIREE, WhenCb(preferred=Preferred.TODAY).pack())
    await chat.tap(RETIREE, UrgencyCb(urgency=Urgency.NORMAL).pack())
    sent = await chat.press(RETIREE, ReviewCb(action=ReviewAction.SEND).pack(), message_id=summary)
    assert stale_toast(sent)
    assert len((await session.scalars(select(ServiceRequest))).all()) == 1
    await session.commit()
    await chat.tap(RETIREE, ReviewCb(action=ReviewAction.SEND).pack())
    assert (await latest_request(session)).description == "想找人聊聊天"


# -- nothing typed is lost ---------------------------------------------------------------------


async def test_home_asks_first_and_start_keeps_a_draft_across_a_restart(
    chat: Chat,
    session: AsyncSession,
    i18n: I18n,
    settings: Settings,
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    await make_people(session)
    done = await start_describing(chat, i18n)
    await chat.send_voice(RETIREE)
    # 🏠 with something entered: asked first; "continue" goes on where it was
    sent = await chat.send(RETIREE, "🏠 返回主菜单")
    question = shown(sent)
    assert "还没提交" in question.text
    assert question.button_texts() == ["▶️ 接着填", "🗑 放弃，不填了"]
    sent = await chat.send(RETIREE, "▶️ 接着填")
    assert "厨房水龙头一直漏水" in shown(sent).text and "语音" in shown(sent).text
    assert await form_state(session, RETIREE.id) == "IntakeForm:description"

    # /start in the middle: the menu, and the draft is kept
    sent = await chat.send(RETIREE, "/start")
    assert any("留着" in r.text for r in sent)
    assert await form_state(session, RETIREE.id) is None

    # a restart: a new dispatcher on the same database
    chat.dispatcher = fresh_dispatcher(settings, sessionmaker, i18n, chat.dispatcher)
    sent = await chat.send(RETIREE, menu(i18n, "request_help"))
    offer = shown(sent)
    assert "您上次的求助请求还没填完" in offer.text
    assert offer.button_texts()[:2] == ["▶️ 接着填", "🔄 重新开始"]
    sent = await chat.send(RETIREE, "▶️ 接着填")
    assert "上次填到这里" in shown(sent).text and "厨房水龙头一直漏水" in shown(sent).text
    await chat.send(RETIREE, "水一直在滴")
    await finish_request(chat, done)
    request = await latest_request(session)
    assert request.description == "厨房水龙头一直漏水\n水一直在滴"
    assert [a.kind.value for a in request.attachments] == ["voice"]
    # taken up and sent: no draft is offered any more
    sent = await chat.send(RETIREE, menu(i18n, "request_help"))
    assert not any("还没填完" in r.text for r in sent)


async def test_a_menu_button_keeps_the_draft_and_discarding_or_restarting_drops_it(
    chat: Chat, session: AsyncSession, i18n: I18n
) -> None:
    await make_people(session)
    await start_describing(chat, i18n, "买米")
    sent = await chat.send(RETIREE, menu(i18n, "my_requests"))
    assert any("留着" in r.text for r in sent) and "您还没有请求" in shown(sent).text
    sent = await chat.send(RETIREE, menu(i18n, "request_help"))
    assert "还没填完" in shown(sent).text
    sent = await chat.send(RETIREE, "🔄 重新开始")
    assert "需要哪方面的帮助" in shown(sent).text  # a fresh form
    await chat.tap(RETIREE, CategoryCb(category=Category.ERRANDS).pack())
    await chat.send(RETIREE, "买油")
    # 🏠, and 🏠 again: discarded, nothing kept
    await chat.send(RETIREE, "🏠 返回主菜单")
    sent = await chat.send(RETIREE, "🗑 放弃，不填了")
    assert "已经停下了" in shown(sent).text
    sent = await chat.send(RETIREE, menu(i18n, "request_help"))
    assert not any("还没填完" in r.text for r in sent)
    assert "需要哪方面的帮助" in shown(sent).text


async def test_language_mid_request_resumes_at_an_inline_step_and_the_description(
    chat: Chat, session: AsyncSession, i18n: I18n
) -> None:
    await make_people(session)
    await chat.send(RETIREE, menu(i18n, "request_help"))
    category = CategoryCb(category=Category.CARE).pack()
    old = chat.message_with(RETIREE, category)
    await chat.send(RETIREE, "/language")
    sent = await chat.send(RETIREE, "English")
    question = shown(sent)
    assert question.text == "What kind of help is needed?"
    assert category in [b["callback_data"] for b in question.inline_buttons()]
    assert stale_toast(await chat.press(RETIREE, category, message_id=old or 0))
    sent = await chat.tap(RETIREE, category)
    await chat.send(RETIREE, "Clean the flat once a week")
    sent = await chat.send(RETIREE, "🌐 Language")
    sent = await chat.send(RETIREE, "繁體中文")
    question = shown(sent)
    assert "Clean the flat once a week" in question.text and "您已經告訴我們的" in question.text
    assert "✅ 說完了，繼續" in question.button_texts() or any(
        "✅" in t for t in question.button_texts()
    )


async def test_change_the_description_adds_and_never_drops_photos_or_voice(
    chat: Chat, session: AsyncSession, i18n: I18n
) -> None:
    await make_people(session)
    done = await start_describing(chat, i18n)
    await chat.send_photo(RETIREE)
    await chat.send_voice(RETIREE)
    await chat.send(RETIREE, done)
    await chat.tap(RETIREE, WhenCb(preferred=Preferred.TOMORROW).pack())
    await chat.tap(RETIREE, UrgencyCb(urgency=Urgency.NORMAL).pack())
    from handlers.requests.callbacks import IntakeField

    sent = await chat.tap(
        RETIREE, ReviewCb(action=ReviewAction.CHANGE, field=IntakeField.DESCRIPTION).pack()
    )
    question = shown(sent)
    assert "厨房水龙头一直漏水" in question.text and "照片" in question.text
    await chat.send(RETIREE, "下午在家")
    sent = await chat.send(RETIREE, done)
    assert "厨房水龙头一直漏水\n下午在家" in shown(sent).text  # back at the summary
    # write the text anew: photos and voice stay
    sent = await chat.tap(
        RETIREE, ReviewCb(action=ReviewAction.CHANGE, field=IntakeField.DESCRIPTION).pack()
    )
    await chat.send(RETIREE, shown(sent).reply_button("重新写")["text"])
    await chat.send(RETIREE, "水龙头坏了")
    await chat.send(RETIREE, done)
    await chat.tap(RETIREE, ReviewCb(action=ReviewAction.SEND).pack())
    request = await latest_request(session)
    assert request.description == "水龙头坏了"
    assert sorted(a.kind.value for a in request.attachments) == ["photo", "voice"]
    assert request.status == RequestStatus.NEW


async def test_family_member_keeps_a_draft_too(
    chat: Chat, session: AsyncSession, i18n: I18n
) -> None:
    await make_people(session)
    await chat.send(FAMILY, menu(i18n, "request_help", "en"))
    sent = await chat.tap(FAMILY, CategoryCb(category=Category.MEDICAL).pack())
    await chat.send(FAMILY, "Hospital on Friday")
    sent = await chat.send(FAMILY, "/menu")
    assert any("kept" in r.text for r in sent)
    sent = await chat.send(FAMILY, menu(i18n, "request_help", "en"))
    assert "You did not finish your help request last time." in shown(sent).text


async def test_an_old_request_screen_is_refreshed_in_place_and_says_so(
    chat: Chat, session: AsyncSession, i18n: I18n
) -> None:
    from handlers.requests.callbacks import MineAction, MineCb

    await make_people(session)
    await file_as_retiree(chat, i18n)
    request = await latest_request(session)
    cancel = MineCb(action=MineAction.CANCEL, request_id=request.id).pack()
    await chat.press(FAMILY, cancel)
    await chat.press(FAMILY, MineCb(action=MineAction.CANCEL_YES, request_id=request.id).pack())
    # the mother's screen from before still offers "cancel": it is refreshed, with a toast
    sent = await chat.press(RETIREE, cancel, message_id=321)
    toast = next(r for r in sent if r.method == "answerCallbackQuery")
    assert "已更新" in toast.params["text"]
    assert "已撤销" in shown(sent).text and shown(sent).params["message_id"] == 321


async def test_language_resumes_every_form_of_the_registry(
    chat: Chat, session: AsyncSession, i18n: I18n
) -> None:
    """/language in any form's first step: the same step asked again, in the new language,
    the form's answers kept."""
    from aiogram.fsm.storage.base import StorageKey

    from handlers import forms

    await make_people(session)
    storage = chat.dispatcher.storage
    key = StorageKey(bot_id=chat.bot.id, chat_id=STAFF.id, user_id=STAFF.id)
    for form in forms().forms:
        step = form.steps[0]
        await storage.set_state(key, step.state)
        await storage.set_data(key, {form.data_key: {"kept": "yes"}})
        await chat.send(STAFF, "/language")
        sent = await chat.send(STAFF, "English")
        with i18n.context(), i18n.use_locale("en"):
            prompt = step.prompt()
        assert sent[0].text == "Done. I will speak English with you from now on.", form.name
        assert len([r for r in sent if r.method == "sendMessage"]) == 2, form.name
        assert await storage.get_state(key) == step.state.state, form.name
        assert (await storage.get_data(key))[form.data_key]["kept"] == "yes", form.name
        if step.text is None:
            assert prompt in sent[-1].text, form.name
        await chat.send(STAFF, "/language")
        await chat.send(STAFF, "简体中文")
        await storage.set_state(key, None)
        await storage.set_data(key, {})
