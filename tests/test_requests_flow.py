"""Service requests through the real Dispatcher: a retiree, a family member on behalf of a
relative, staff in the group and in the private queue, refusals, forged and double taps."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest
from aiogram.utils.i18n import I18n
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.config import Settings
from handlers import menu_items, notification_renderers
from handlers.requests.callbacks import (
    CategoryCb,
    DateAction,
    DateCb,
    IntakeField,
    MineAction,
    MineCb,
    QueueCb,
    RateCb,
    ReviewAction,
    ReviewCb,
    StaffAction,
    StaffCb,
    Urgency,
    UrgencyCb,
    WhenCb,
    WhoCb,
)
from models.requests import Category, Preferred, QueueFilter, RequestStatus, ServiceRequest
from tests.chat import Chat, Person
from tests.test_requests_support import make_people, outbox

render = notification_renderers().render

# Both databases: FSM writes go through the update's own session (bot/fsm_storage.py), so on
# SQLite they no longer wait for the update's write lock (docs/architecture.md, Transactions).
DATABASES = ["sqlite", "postgres"]


@pytest.fixture(params=DATABASES)
def database_url(request: pytest.FixtureRequest) -> str:
    name = "sqlite_database_url" if request.param == "sqlite" else "pg_database_url"
    return str(request.getfixturevalue(name))


STAFF_CHAT = {"id": -1001234567890, "type": "supergroup", "title": "服务站工作群"}

RETIREE = Person(1001, "王秀英")
STRANGER = Person(1002, "张三")
FAMILY = Person(2001, "Xiaoming", language_code="en")
STAFF = Person(3001, "李明")
STAFF2 = Person(3002, "赵丽")
SUPERVISOR = Person(3003, "孙主任")


def menu(i18n: I18n, key: str, locale: str = "zh_Hans") -> str:
    with i18n.context(), i18n.use_locale(locale):
        return menu_items()[key].text()


def shown(requests: list[Any]) -> Any:
    """What the bot showed last (a press is answered after its handler, so the answer is last)."""
    return [r for r in requests if r.method != "answerCallbackQuery"][-1]


def done_button(requests: list[Any]) -> str:
    for request in requests:
        for button in request.reply_buttons():
            if button["text"].startswith("✅"):
                return str(button["text"])
    raise AssertionError("no done button")


async def latest_request(session: AsyncSession) -> ServiceRequest:
    request = await session.scalar(
        select(ServiceRequest)
        .order_by(ServiceRequest.id.desc())
        .execution_options(populate_existing=True)
    )
    assert request is not None
    await session.commit()  # SQLite: even a read holds the write lock (BEGIN IMMEDIATE)
    return request


async def file_as_retiree(chat: Chat, i18n: I18n, person: Person = RETIREE) -> list[Any]:
    sent = await chat.send(person, menu(i18n, "request_help"))
    assert any(r.inline_buttons() for r in sent), sent
    sent = await chat.tap(person, CategoryCb(category=Category.HOME_REPAIR).pack())
    assert shown(sent).method == "sendMessage"
    done = done_button(sent)
    await chat.send(person, "厨房水龙头一直漏水")
    await chat.send_voice(person)
    await chat.send_photo(person, caption="漏水的地方")
    sent = await chat.send(person, done)
    when = [button["callback_data"] for button in shown(sent).inline_buttons()]
    assert WhenCb(preferred=Preferred.TOMORROW).pack() in when, sent  # asked when
    sent = await chat.tap(person, WhenCb(preferred=Preferred.TOMORROW).pack())
    sent = await chat.tap(person, UrgencyCb(urgency=Urgency.NORMAL).pack())
    summary = shown(sent)
    assert "厨房水龙头一直漏水" in summary.text and "漏水的地方" in summary.text
    return await chat.tap(person, ReviewCb(action=ReviewAction.SEND).pack())


async def test_retiree_asks_for_help_and_gets_a_number(
    chat: Chat, session: AsyncSession, i18n: I18n, settings: Settings
) -> None:
    people = await make_people(session)
    sent = await file_as_retiree(chat, i18n)
    request = await latest_request(session)
    year = request.created_at.astimezone(settings.tz).year  # the office's year
    assert request.number == f"FW-{year}-00001"  # the first of the year in a fresh database
    answer = shown(sent)
    assert request.number in answer.text
    assert answer.reply_buttons()  # back to the main menu
    assert request.status == RequestStatus.NEW
    assert request.profile_id == people.profile.id
    assert request.description == "厨房水龙头一直漏水\n漏水的地方"
    assert [a.kind.value for a in request.attachments] == ["voice", "photo"]
    assert request.preferred.value == "tomorrow"
    [card] = await outbox(session, "request.staff_card")
    assert card.chat_id == STAFF_CHAT["id"]
    rendered = render(card.kind, card.params, "zh_Hans", i18n)
    assert request.number in rendered.text
    assert "13800000001" in rendered.text and "东区3号楼2单元301" in rendered.text
    labels = [b.text for row in rendered.reply_markup.inline_keyboard for b in row]
    assert any("Take" in t or "接单" in t for t in labels)
    # the family hears of it in English
    [status] = await outbox(session, "request.status")
    assert status.user_id == people.family.id
    assert request.number in render(status.kind, status.params, "en", i18n).text


async def test_summary_can_be_changed_and_bad_input_keeps_the_form(
    chat: Chat, session: AsyncSession, i18n: I18n
) -> None:
    await make_people(session)
    await chat.send(RETIREE, menu(i18n, "request_help"))
    # a sticker instead of a tapped type: a kind hint, still in the form (a typed sentence
    # there is the description: tests/test_everyday_requests.py)
    sent = await chat.send_sticker(RETIREE)
    assert sent and shown(sent).method == "sendMessage"
    sent = await chat.tap(RETIREE, CategoryCb(category=Category.CARE).pack())
    done = done_button(sent)
    sent = await chat.send(RETIREE, done)  # nothing described yet
    assert shown(sent).method == "sendMessage"
    sent = await chat.send_sticker(RETIREE)
    assert shown(sent).method == "sendMessage"
    await chat.send(RETIREE, "x" * 2100)  # too long: refused, nothing stored
    # a menu button pressed mid-description is the menu, not part of the description
    sent = await chat.send(RETIREE, menu(i18n, "my_requests"))
    assert "您还没有请求" in shown(sent).text
    sent = await chat.send(RETIREE, menu(i18n, "request_help"))
    assert "还没填完" in shown(sent).text  # the type chosen was kept as a draft
    await chat.send(RETIREE, "🔄 重新开始")
    await chat.tap(RETIREE, CategoryCb(category=Category.CARE).pack())
    await chat.send(RETIREE, "每周打扫一次")
    await chat.send(RETIREE, done)
    await chat.tap(RETIREE, WhenCb(preferred=Preferred.DATE).pack())
    # a forged date outside the offered range is refused
    picker = chat.message_with(RETIREE, DateCb(action=DateAction.BACK).pack())
    sent = await chat.press(
        RETIREE,
        DateCb(action=DateAction.PICK, day=date(2001, 1, 1).toordinal()).pack(),
        message_id=picker or 0,
    )
    assert any(r.method == "answerCallbackQuery" and r.params.get("show_alert") for r in sent)
    day = [r for r in sent if r.inline_buttons()][-1].inline_buttons()[2]["callback_data"]
    await chat.tap(RETIREE, day)
    sent = await chat.tap(RETIREE, UrgencyCb(urgency=Urgency.URGENT).pack())
    assert "每周打扫一次" in shown(sent).text and "x" * 50 not in shown(sent).text
    # change the type from the summary, and come straight back to it
    await chat.tap(RETIREE, ReviewCb(action=ReviewAction.CHANGE, field=IntakeField.CATEGORY).pack())
    sent = await chat.tap(RETIREE, CategoryCb(category=Category.TALK).pack())
    summary = shown(sent)
    assert "每周打扫一次" in summary.text
    assert ReviewCb(action=ReviewAction.SEND).pack() in [
        b["callback_data"] for b in summary.inline_buttons()
    ]
    summary_id = chat.message_with(RETIREE, ReviewCb(action=ReviewAction.SEND).pack())
    await chat.tap(RETIREE, ReviewCb(action=ReviewAction.SEND).pack())
    request = await latest_request(session)
    assert request.category.value == "talk" and request.urgent
    assert request.description == "每周打扫一次"
    assert request.preferred.value == "date" and request.preferred_date is not None
    # a second tap on "send" does not file it twice
    sent = await chat.press(
        RETIREE, ReviewCb(action=ReviewAction.SEND).pack(), message_id=summary_id or 0
    )
    assert any(r.method == "answerCallbackQuery" for r in sent)
    assert len((await session.scalars(select(ServiceRequest))).all()) == 1


async def test_family_member_asks_on_behalf_of_a_relative(
    chat: Chat, session: AsyncSession, i18n: I18n
) -> None:
    people = await make_people(session)
    sent = await chat.send(FAMILY, menu(i18n, "request_help", "en"))
    assert any("What kind of help" in r.text for r in sent)
    sent = await chat.tap(FAMILY, CategoryCb(category=Category.MEDICAL).pack())
    done = done_button(sent)
    await chat.send(FAMILY, "Mum needs someone to take her to the hospital on Friday")
    await chat.send(FAMILY, done)
    await chat.tap(FAMILY, WhenCb(preferred=Preferred.THIS_WEEK).pack())
    sent = await chat.tap(FAMILY, UrgencyCb(urgency=Urgency.NORMAL).pack())
    assert "王秀英" in shown(sent).text  # the summary says for whom
    sent = await chat.tap(FAMILY, ReviewCb(action=ReviewAction.SEND).pack())
    request = await latest_request(session)
    assert request.profile_id == people.profile.id and request.created_by_id == people.family.id
    assert request.number in shown(sent).text
    # the retiree is told that their son asked for them, and for what, in one message
    assert not await outbox(session, "request.status")
    [told] = await outbox(session, "request.filed_for_you")
    assert told.user_id == people.retiree.id
    text = render(told.kind, told.params, "zh_Hans", i18n).text
    assert "Xiaoming帮您提交了请求：🏥 就医陪诊" in text and request.number in text
    assert "Mum needs someone" in text
    # it shows under "My requests" for both of them
    for person, locale in ((FAMILY, "en"), (RETIREE, "zh_Hans")):
        sent = await chat.send(person, menu(i18n, "my_requests", locale))
        assert request.number in shown(sent).text


async def test_staff_in_the_group_take_start_done_and_the_family_is_told(
    chat: Chat, session: AsyncSession, i18n: I18n
) -> None:
    people = await make_people(session)
    await file_as_retiree(chat, i18n)
    request = await latest_request(session)
    take = StaffCb(action=StaffAction.TAKE, request_id=request.id).pack()

    # a retiree who somehow presses the card's button is refused, nothing changes
    sent = await chat.press(RETIREE, take, chat=STAFF_CHAT, message_id=77)
    assert [r.method for r in sent] == ["answerCallbackQuery"]
    assert sent[0].params.get("show_alert")
    assert (await latest_request(session)).status == RequestStatus.NEW

    sent = await chat.press(STAFF, take, chat=STAFF_CHAT, message_id=77)
    edit = [r for r in sent if r.method == "editMessageText"]
    assert edit and edit[0].chat_id == STAFF_CHAT["id"] and edit[0].params["message_id"] == 77
    assert "李明" in edit[0].text
    request = await latest_request(session)
    assert request.status == RequestStatus.ACCEPTED and request.assignee_id == people.staff.id
    # no outbox edit for the group card: the pressed message was edited directly
    assert not [c for c in await outbox(session, "request.staff_card") if c.edit_of]
    # the voice note and photo go privately to whoever took it
    media = await outbox(session, "request.media")
    assert {m.user_id for m in media} == {people.staff.id} and len(media) == 2
    assert render("request.media", media[0].params, "zh_Hans", i18n).voice is not None

    # another caseworker cannot finish someone else's request
    done = StaffCb(action=StaffAction.DONE, request_id=request.id).pack()
    sent = await chat.press(STAFF2, done, chat=STAFF_CHAT, message_id=77)
    assert [r.method for r in sent] == ["answerCallbackQuery"]

    start = StaffCb(action=StaffAction.START, request_id=request.id).pack()
    await chat.press(STAFF, start, chat=STAFF_CHAT, message_id=77)
    # Done asks first, in place of the card's buttons
    sent = await chat.press(STAFF, done, chat=STAFF_CHAT, message_id=77)
    assert [r.method for r in sent] == ["editMessageReplyMarkup", "answerCallbackQuery"]
    assert (await latest_request(session)).status == RequestStatus.IN_PROGRESS
    finish = StaffCb(action=StaffAction.FINISH, request_id=request.id).pack()
    assert finish in [b["callback_data"] for b in sent[0].inline_buttons()]
    sent = await chat.press(STAFF, finish, chat=STAFF_CHAT, message_id=77)
    assert any(r.method == "editMessageText" for r in sent)
    # a double tap on Finish (or Done): an answer, no edit, nothing more queued
    before = len(await outbox(session))
    for again in (finish, done):
        sent = await chat.press(STAFF, again, chat=STAFF_CHAT, message_id=77)
        assert [r.method for r in sent] == ["answerCallbackQuery"]
    assert len(await outbox(session)) == before
    request = await latest_request(session)
    assert request.status == RequestStatus.DONE
    assert [e.action.value for e in request.events] == ["created", "accepted", "started", "done"]
    family_news = [
        m for m in await outbox(session, "request.status") if m.user_id == people.family.id
    ]
    assert [m.params["action"] for m in family_news] == ["created", "accepted", "started", "done"]

    # the retiree rates it from the pushed question: 2 stars alert the supervisor
    [ask] = await outbox(session, "request.rate")
    assert ask.user_id == people.retiree.id
    rendered = render(ask.kind, ask.params, "zh_Hans", i18n)
    two = [b.callback_data for row in rendered.reply_markup.inline_keyboard for b in row][3]
    assert two == RateCb(request_id=request.id, stars=2).pack()
    # someone else pressing the same stars is refused
    sent = await chat.press(STRANGER, two)
    assert sent[-1].params.get("show_alert")
    await chat.press(RETIREE, two)
    await chat.send_voice(RETIREE)
    request = await latest_request(session)
    assert request.rating == 2 and request.rating_voice_file_id is not None
    alerts = await outbox(session, "request.low_rating")
    assert {a.user_id for a in alerts} == {people.supervisor.id} and len(alerts) == 2
    sent = await chat.press(RETIREE, RateCb(request_id=request.id, stars=5).pack())
    assert sent[-1].params.get("show_alert")  # rated once only
    assert (await latest_request(session)).rating == 2


async def test_staff_private_queue_filters_actions_and_group_card_edit(
    chat: Chat, session: AsyncSession, i18n: I18n
) -> None:
    people = await make_people(session)
    await file_as_retiree(chat, i18n)
    request = await latest_request(session)

    sent = await chat.send(STAFF, menu(i18n, "request_queue"))
    assert request.number in " ".join(shown(sent).button_texts())
    sent = await chat.press(STAFF, QueueCb(view=QueueFilter.MINE).pack())
    assert request.number not in " ".join(shown(sent).button_texts())
    sent = await chat.press(STAFF, QueueCb(view=QueueFilter.GRIDS).pack())
    assert request.number in " ".join(shown(sent).button_texts())
    # the queue is for staff only
    sent = await chat.send(RETIREE, menu(i18n, "request_queue"))
    assert request.number not in " ".join(r.text for r in sent)
    sent = await chat.press(RETIREE, QueueCb(view=QueueFilter.ALL).pack())
    assert [r.method for r in sent] == ["answerCallbackQuery"]

    sent = await chat.press(STAFF, StaffCb(action=StaffAction.OPEN, request_id=request.id).pack())
    card = shown(sent)
    assert "13800000001" in card.text
    assert any("📎" in t for t in card.button_texts())
    sent = await chat.press(STAFF, StaffCb(action=StaffAction.MEDIA, request_id=request.id).pack())
    assert {r.method for r in sent} >= {"sendVoice", "sendPhoto"}

    # assign to a colleague from the private queue
    sent = await chat.press(STAFF, StaffCb(action=StaffAction.ASSIGN, request_id=request.id).pack())
    assert any("赵丽" in t for t in shown(sent).button_texts())
    to_colleague = StaffCb(
        action=StaffAction.ASSIGN_TO, request_id=request.id, assignee_id=people.staff2.id
    ).pack()
    sent = await chat.press(STAFF, to_colleague)
    request = await latest_request(session)
    assert request.assignee_id == people.staff2.id and request.status == RequestStatus.ACCEPTED
    # the group card is edited in place through the outbox
    [edit] = [c for c in await outbox(session, "request.staff_card") if c.edit_of]
    assert edit.edit_of == f"request:{request.id}:card" and edit.params["assignee"] == "赵丽"
    [assigned] = await outbox(session, "request.assigned")
    assert assigned.user_id == people.staff2.id

    # the colleague finishes it from their own queue
    sent = await chat.press(STAFF2, QueueCb(view=QueueFilter.MINE).pack())
    assert request.number in " ".join(shown(sent).button_texts())
    await chat.press(STAFF2, StaffCb(action=StaffAction.FINISH, request_id=request.id).pack())
    assert (await latest_request(session)).status == RequestStatus.DONE


async def test_reject_from_the_group_asks_the_reason_privately(
    chat: Chat, session: AsyncSession, i18n: I18n
) -> None:
    people = await make_people(session)
    await file_as_retiree(chat, i18n)
    request = await latest_request(session)
    reject = StaffCb(action=StaffAction.REJECT, request_id=request.id).pack()
    sent = await chat.press(SUPERVISOR, reject, chat=STAFF_CHAT, message_id=90)
    prompt = [r for r in sent if r.method == "sendMessage"]
    assert prompt and prompt[0].chat_id == SUPERVISOR.id
    sent = await chat.send(SUPERVISOR, "不属于本站服务范围，已转社区")
    request = await latest_request(session)
    assert request.status == RequestStatus.REJECTED
    assert request.reject_reason == "不属于本站服务范围，已转社区"
    news = [m for m in await outbox(session, "request.status") if m.params["action"] == "rejected"]
    assert {m.user_id for m in news} == {people.retiree.id, people.family.id}
    assert "不属于本站服务范围" in render("request.status", news[0].params, "zh_Hans", i18n).text
    [edit] = [c for c in await outbox(session, "request.staff_card") if c.edit_of]
    assert edit.params["status"] == "rejected"


async def test_my_requests_history_cancel_and_forged_ids(
    chat: Chat, session: AsyncSession, i18n: I18n
) -> None:
    people = await make_people(session)
    await file_as_retiree(chat, i18n)
    request = await latest_request(session)
    sent = await chat.send(RETIREE, menu(i18n, "my_requests"))
    assert request.number in shown(sent).text
    opened = MineCb(action=MineAction.OPEN, request_id=request.id).pack()
    sent = await chat.press(RETIREE, opened)
    assert request.number in shown(sent).text
    # a stranger forging the id sees nothing of it and cannot cancel it
    sent = await chat.press(STRANGER, opened)
    assert [r.method for r in sent] == ["answerCallbackQuery"] and sent[0].params["show_alert"]
    forged = MineCb(action=MineAction.CANCEL_YES, request_id=request.id).pack()
    sent = await chat.press(STRANGER, forged)
    assert [r.method for r in sent] == ["answerCallbackQuery"]
    assert (await latest_request(session)).status == RequestStatus.NEW
    # the linked son may cancel it for his mother, after confirming
    sent = await chat.press(FAMILY, MineCb(action=MineAction.CANCEL, request_id=request.id).pack())
    assert any("Yes" in t for t in shown(sent).button_texts())
    await chat.press(FAMILY, forged)
    request = await latest_request(session)
    assert request.status == RequestStatus.CANCELLED
    assert request.events[-1].actor_id == people.family.id
    sent = await chat.press(FAMILY, forged)  # again: already cancelled
    assert sent[-1].params.get("show_alert")
    edits = [c for c in await outbox(session, "request.staff_card") if c.edit_of]
    assert edits[-1].params["status"] == "cancelled"


async def test_end_to_end_through_the_outbox_sender(
    chat: Chat, session: AsyncSession, i18n: I18n, settings: Any, sessionmaker: Any
) -> None:
    """The card reaches the group, the private queue's action edits it in place, the staff
    member gets the voice note and photo, the family hears in English."""
    from bot.sender import OutboxSender

    await make_people(session)
    await file_as_retiree(chat, i18n)
    request = await latest_request(session)
    clock = [1000.0]

    async def no_sleep(seconds: float) -> None:
        clock[0] += seconds

    sender = OutboxSender(
        bot=chat.bot,
        sessionmaker=sessionmaker,
        i18n=i18n,
        settings=settings.model_copy(update={"outbox_rate_per_second": 1000.0}),
        renderers=notification_renderers(),
        sleep=no_sleep,
        clock=lambda: clock[0],
    )

    async def send_all() -> list[Any]:
        """Until the outbox is empty, a few (fake) seconds apart: one message a second a chat."""
        for _ in range(6):
            clock[0] += 5
            await sender.send_due()
        return chat.session.take()

    chat.session.take()
    sent = await send_all()
    assert len(sent) == 2  # the group card and the family's notice
    [card] = [r for r in sent if r.chat_id == STAFF_CHAT["id"]]
    assert card.method == "sendMessage" and request.number in card.text
    assert "接单" in " ".join(card.button_texts())  # the office's default language
    [family] = [r for r in sent if r.chat_id == FAMILY.id]
    assert "has been sent to the service office" in family.text

    await chat.press(STAFF, StaffCb(action=StaffAction.TAKE, request_id=request.id).pack())
    sent = await send_all()
    [edit] = [r for r in sent if r.method == "editMessageText"]
    assert edit.chat_id == STAFF_CHAT["id"] and edit.params["message_id"] == card.message_id
    assert "李明" in edit.text
    assert {r.method for r in sent if r.chat_id == STAFF.id} == {"sendVoice", "sendPhoto"}
    [news] = [r for r in sent if r.chat_id == FAMILY.id]
    assert "李明" in news.text
    retiree_news = [r for r in sent if r.chat_id == RETIREE.id]
    assert retiree_news and "已经有人接手" in retiree_news[0].text


async def test_family_with_two_relatives_chooses_and_cannot_forge_another(
    chat: Chat, session: AsyncSession, i18n: I18n
) -> None:
    from models.users import FamilyLink, LinkStatus, RetireeProfile

    people = await make_people(session)
    father = RetireeProfile(full_name="王大山", phone="13800000003")
    session.add(father)
    await session.flush()
    session.add(
        FamilyLink(
            family_user_id=people.family.id, profile_id=father.id, status=LinkStatus.APPROVED
        )
    )
    await session.commit()
    stranger_profile_id = people.stranger.profile.id  # type: ignore[union-attr]

    sent = await chat.send(FAMILY, menu(i18n, "request_help", "en"))
    names = " ".join(shown(sent).button_texts())
    assert "王秀英" in names and "王大山" in names
    forged = WhoCb(profile_id=stranger_profile_id).pack()
    # forged on the live question: the domain refuses it
    who = chat.message_with(FAMILY, WhoCb(profile_id=father.id).pack())
    sent = await chat.press(FAMILY, forged, message_id=who or 0)
    assert [r.method for r in sent] == ["answerCallbackQuery"] and sent[0].params["show_alert"]
    sent = await chat.tap(FAMILY, WhoCb(profile_id=father.id).pack())
    assert any("What kind of help" in r.text for r in sent)
    await chat.tap(FAMILY, CategoryCb(category=Category.ERRANDS).pack())
    await chat.send(FAMILY, "Buy rice and oil for Dad")
    sent = await chat.send(FAMILY, "✅ That's all, continue")
    await chat.tap(FAMILY, WhenCb(preferred=Preferred.TODAY).pack())
    await chat.tap(FAMILY, UrgencyCb(urgency=Urgency.NORMAL).pack())
    await chat.tap(FAMILY, ReviewCb(action=ReviewAction.SEND).pack())
    request = await latest_request(session)
    assert request.profile_id == father.id and request.created_by_id == people.family.id


async def test_queue_marks_overdue_and_reject_from_the_private_queue(
    chat: Chat, session: AsyncSession, i18n: I18n
) -> None:
    from datetime import timedelta

    from models.base import utcnow

    await make_people(session)
    await file_as_retiree(chat, i18n)
    request = await latest_request(session)
    request.accept_due_at = utcnow() - timedelta(hours=1)
    await session.commit()
    sent = await chat.press(STAFF, QueueCb(view=QueueFilter.OVERDUE).pack())
    labels = [t for t in shown(sent).button_texts() if request.number in t]
    assert labels and labels[0].startswith("⏰")
    sent = await chat.press(STAFF, StaffCb(action=StaffAction.OPEN, request_id=request.id).pack())
    assert "已超时" in shown(sent).text
    sent = await chat.press(STAFF, StaffCb(action=StaffAction.REJECT, request_id=request.id).pack())
    assert any(r.method == "sendMessage" and r.chat_id == STAFF.id for r in sent)
    sent = await chat.send_sticker(STAFF)  # not a reason: asked again, still waiting
    assert (await latest_request(session)).status == RequestStatus.NEW
    await chat.send(STAFF, "老人已自行解决")
    request = await latest_request(session)
    assert request.status == RequestStatus.REJECTED and request.reject_reason == "老人已自行解决"
    sent = await chat.press(STAFF, QueueCb(view=QueueFilter.OVERDUE).pack())
    assert request.number not in " ".join(shown(sent).button_texts())


async def test_pressing_back_twice_on_the_group_card_is_quiet(
    chat: Chat, session: AsyncSession, i18n: I18n
) -> None:
    await make_people(session)
    await file_as_retiree(chat, i18n)
    request = await latest_request(session)
    back = StaffCb(action=StaffAction.BACK, request_id=request.id).pack()
    await chat.press(STAFF, back, chat=STAFF_CHAT, message_id=55)
    chat.session.queue_error(
        400,
        "Bad Request: message is not modified: specified new message content and reply markup "
        "are exactly the same as a current content and reply markup of the message",
        method="editMessageText",
    )
    sent = await chat.press(STAFF, back, chat=STAFF_CHAT, message_id=55)
    # the edit changed nothing (Telegram says so): fine, and the press is answered once, after
    assert [r.method for r in sent] == ["editMessageText", "answerCallbackQuery"]
    assert not sent[-1].params.get("show_alert")
    assert (await latest_request(session)).status == RequestStatus.NEW


async def test_a_too_long_reject_reason_is_refused_with_the_domains_reason(
    chat: Chat, session: AsyncSession, i18n: I18n
) -> None:
    await make_people(session)
    await file_as_retiree(chat, i18n)
    request = await latest_request(session)
    await chat.press(STAFF, StaffCb(action=StaffAction.REJECT, request_id=request.id).pack())
    sent = await chat.send(STAFF, "太" * 501)
    assert "500" in shown(sent).text  # the domain's limit, in the domain's words
    assert (await latest_request(session)).status == RequestStatus.NEW
    sent = await chat.send(STAFF, "/help")  # still asked for the reason (the form's prompt)
    assert "请写一下不予受理的原因。" in shown(sent).text
    await chat.send(STAFF, "太远了")
    request = await latest_request(session)
    assert request.status == RequestStatus.REJECTED and request.reject_reason == "太远了"


async def test_a_retiree_linked_to_her_husband_may_ask_for_either(
    chat: Chat, session: AsyncSession, i18n: I18n
) -> None:
    """Before, the intake offered a retiree only herself, though the domain (and the activities)
    let her act for a relative she is linked to."""
    from models.users import FamilyLink, LinkStatus

    people = await make_people(session)
    husband = people.stranger.profile
    assert husband is not None
    session.add(
        FamilyLink(
            family_user_id=people.retiree.id, profile_id=husband.id, status=LinkStatus.APPROVED
        )
    )
    await session.commit()
    sent = await chat.send(RETIREE, menu(i18n, "request_help"))
    assert shown(sent).button_texts() == ["👤 王秀英", "👤 张三"]
    sent = await chat.tap(RETIREE, WhoCb(profile_id=husband.id).pack())
    assert any("张三" in r.text for r in sent if r.method == "editMessageText")


async def test_forged_intake_buttons_fail_the_filter_and_get_the_kind_fallback(
    chat: Chat, session: AsyncSession, i18n: I18n
) -> None:
    await make_people(session)
    await chat.send(RETIREE, menu(i18n, "request_help"))
    for forged in ("rqc:piano_lessons", "rqw:abc", "rqd:pick:tomorrow", "rqv:send:nothing"):
        sent = await chat.press(RETIREE, forged)
        assert [r.method for r in sent] == ["answerCallbackQuery"], forged
        assert sent[0].params.get("show_alert")
    # typed text where a button is expected: the question again, from the form's table
    sent = await chat.send(RETIREE, "修东西")
    assert "需要哪方面的帮助" in shown(sent).text
    # the form is where it was
    sent = await chat.tap(RETIREE, CategoryCb(category=Category.CARE).pack())
    assert shown(sent).method == "sendMessage"


async def test_the_date_picker_opens_and_goes_back_in_place(
    chat: Chat, session: AsyncSession, i18n: I18n
) -> None:
    await make_people(session)
    await chat.send(RETIREE, menu(i18n, "request_help"))
    sent = await chat.tap(RETIREE, CategoryCb(category=Category.ERRANDS).pack())
    await chat.send(RETIREE, "买米")
    await chat.send(RETIREE, done_button(sent))
    when = chat.message_with(RETIREE, WhenCb(preferred=Preferred.DATE).pack())
    sent = await chat.tap(RETIREE, WhenCb(preferred=Preferred.DATE).pack())
    picker = shown(sent)
    assert picker.method == "editMessageText" and picker.params["message_id"] == when
    assert len(picker.inline_buttons()) == 15  # two weeks and "back"
    sent = await chat.tap(RETIREE, DateCb(action=DateAction.BACK).pack())
    back = shown(sent)
    assert back.method == "editMessageText" and back.params["message_id"] == when
    assert WhenCb(preferred=Preferred.TODAY).pack() in [
        b["callback_data"] for b in back.inline_buttons()
    ]
    sent = await chat.tap(RETIREE, WhenCb(preferred=Preferred.TODAY).pack())
    assert "紧急" in shown(sent).text  # on to urgency
    await chat.tap(RETIREE, UrgencyCb(urgency=Urgency.NORMAL).pack())
    # changing the description shows it, and may write the text anew; back to the summary
    sent = await chat.tap(
        RETIREE, ReviewCb(action=ReviewAction.CHANGE, field=IntakeField.DESCRIPTION).pack()
    )
    assert "买米" in shown(sent).text
    await chat.send(RETIREE, shown(sent).reply_button("重新写")["text"])
    await chat.send(RETIREE, "买油")
    sent = await chat.send(RETIREE, done_button(sent))
    summary = shown(sent)
    assert "买油" in summary.text and "买米" not in summary.text
    await chat.tap(RETIREE, ReviewCb(action=ReviewAction.SEND).pack())
    request = await latest_request(session)
    assert request.description == "买油" and request.preferred.value == "today"
