"""Help in two taps by voice: a voice message (or a plain sentence that is not a menu word)
sent at the main menu by a retiree or a family member is offered as a help request.

    👵 (voice message)
    🤖 要把这段话发给服务中心，请他们帮忙吗？
       [✅ 发送]  [🚨 很急，发送]
       [✏️ 先选类别]

"Send" files it at once: type "unclassified" (staff set it with one tap on the card), normal
urgency (or urgent, if they tap that), preferred this week. "Choose the type first" opens the
request form with what was said already in it. Further voice messages or sentences while the
offer stands are added to it. A family member acting for several relatives gets one "send"
button per relative.

What was said waits in the FSM data (`quick`), so nothing is lost across a restart; the
offer's buttons act only while it stands (a stale one gets a toast).
"""

from __future__ import annotations

import enum
from typing import Any

from aiogram import F, Router
from aiogram.filters import StateFilter
from aiogram.filters.callback_data import CallbackData
from aiogram.fsm.state import State, StatesGroup
from aiogram.types import CallbackQuery, InlineKeyboardMarkup, Message
from aiogram.utils.callback_answer import CallbackAnswer
from aiogram.utils.i18n import gettext as _
from aiogram.utils.keyboard import InlineKeyboardBuilder

from handlers.common import form_keyboard, is_command
from handlers.forms import StepContext
from handlers.ids import Id
from handlers.menu import AnyMenuButton, main_menu_keyboard
from handlers.requests.callbacks import stale
from handlers.requests.intake import DESCRIBED, INTAKE
from handlers.requests.texts import format_when
from handlers.ui import edit_markup
from models.requests import (
    MAX_ATTACHMENTS,
    MAX_DESCRIPTION,
    Attachment,
    AttachmentKind,
    Category,
    Preferred,
    create_request,
    has_words,
)
from models.users import Role, User, profiles_to_act_for

ASKERS = (Role.RETIREE, Role.FAMILY)
DATA_KEY = "quick"


class QuickHelp(StatesGroup):
    offer = State()


class QuickAction(enum.StrEnum):
    SEND = "send"
    URGENT = "urgent"
    CHOOSE = "choose"  # the type first: the request form


class QuickCb(CallbackData, prefix="rqh"):
    action: QuickAction
    profile_id: Id = 0


def offer_question() -> str:
    return _("Shall I send this to the service office and ask them for help?")


def send_text(name: str | None) -> str:
    if name:
        return "✅ " + _("Send (for {name})").format(name=name)
    return "✅ " + _("Send")


def offer_keyboard(profiles: list[tuple[int, str]]) -> InlineKeyboardMarkup:
    builder = InlineKeyboardBuilder()
    several = len(profiles) > 1
    for profile_id, name in profiles:
        builder.button(
            text=send_text(name if several else None),
            callback_data=QuickCb(action=QuickAction.SEND, profile_id=profile_id),
        )
    if not several:
        builder.button(
            text="🚨 " + _("It is urgent: send"),
            callback_data=QuickCb(action=QuickAction.URGENT, profile_id=profiles[0][0]),
        )
    builder.button(
        text="✏️ " + _("Choose the type first"), callback_data=QuickCb(action=QuickAction.CHOOSE)
    )
    builder.adjust(*([1] * len(profiles) if several else [2]), 1)
    return builder.as_markup()


def said_of(message: Message) -> tuple[str, list[dict[str, str]]]:
    """What the message adds: words, and a voice message or photo."""
    if message.voice is not None:
        return "", [{"kind": AttachmentKind.VOICE.value, "file_id": message.voice.file_id}]
    if message.photo:
        caption = (message.caption or "").strip()
        return caption, [{"kind": AttachmentKind.PHOTO.value, "file_id": message.photo[-1].file_id}]
    return (message.text or "").strip(), []


async def offer_help(message: Message, **data: Any) -> None:
    """At the main menu: what was said is kept and offered as a request."""
    ctx = StepContext.of(message, data)
    profiles = await profiles_to_act_for(ctx.session, ctx.user)
    if not profiles:
        text = (
            _("First link your relative under “My family”; then you can ask for help for them.")
            if ctx.user.role == Role.FAMILY
            else _("Your details are not complete yet. Please call the service office.")
        )
        await message.answer(text, reply_markup=main_menu_keyboard(ctx.user))
        return
    text, attachments = said_of(message)
    quick = dict((await ctx.state.get_data()).get(DATA_KEY) or {})
    if await ctx.state.get_state() != QuickHelp.offer.state:
        quick = {}
    description = "\n".join(p for p in (quick.get("description"), text) if p)[:MAX_DESCRIPTION]
    kept = [*(quick.get("attachments") or []), *attachments][:MAX_ATTACHMENTS]
    await ctx.state.set_state(QuickHelp.offer)
    await ctx.state.update_data({DATA_KEY: {"description": description, "attachments": kept}})
    await message.answer(
        offer_question(),
        reply_markup=offer_keyboard([(p.id, p.full_name) for p in profiles]),
    )


async def send_chosen(
    callback: CallbackQuery, callback_data: QuickCb, callback_answer: CallbackAnswer, **data: Any
) -> None:
    ctx = StepContext.of_query(callback, data)
    quick = (await data["state"].get_data()).get(DATA_KEY) if ctx else None
    if ctx is None or not quick:
        return stale(callback_answer)
    request = await create_request(
        ctx.session,
        ctx.user,
        callback_data.profile_id,
        category=Category.UNCLASSIFIED,
        description=str(quick.get("description") or ""),
        attachments=[
            Attachment(AttachmentKind(a["kind"]), a["file_id"])
            for a in quick.get("attachments") or []
        ],
        preferred=Preferred.THIS_WEEK,
        urgent=callback_data.action == QuickAction.URGENT,
        tz=ctx.office.tz,
        staff_chat_id=ctx.office.staff_chat_id,
    )
    await ctx.state.clear()
    await edit_markup(callback, None)
    due = request.accept_due_at.astimezone(ctx.office.tz).strftime("%Y-%m-%dT%H:%M")
    await ctx.message.answer(
        "✅ "
        + _(
            "Sent to the service office. They will get back to you by {when}.\n"
            "Number: {number}. You can follow it under “My requests”."
        ).format(number=request.number, when=format_when(due)),
        reply_markup=main_menu_keyboard(ctx.user),
    )


async def choose_chosen(
    callback: CallbackQuery, callback_answer: CallbackAnswer, **data: Any
) -> None:
    """The request form, with what was said already in it: the type is asked first."""
    ctx = StepContext.of_query(callback, data)
    quick = (await data["state"].get_data()).get(DATA_KEY) if ctx else None
    if ctx is None or not quick:
        return stale(callback_answer)
    profiles = await profiles_to_act_for(ctx.session, ctx.user)
    await ctx.state.update_data({DATA_KEY: None})
    await edit_markup(callback, None)
    answers: dict[str, Any] = {
        "description": quick.get("description") or "",
        "attachments": quick.get("attachments") or [],
        DESCRIBED: True,
    }
    if len(profiles) == 1:
        answers |= {"profile_id": profiles[0].id, "for_name": profiles[0].full_name}
    await ctx.message.answer(
        _("Let's ask the service office for help. You can stop any time with “Back to menu”."),
        reply_markup=form_keyboard(),
    )
    await INTAKE.start(ctx, answers=answers)


def is_plain_sentence(message: Message) -> bool:
    """A sentence that says something (not a command, not only emoji)."""
    text = message.text or ""
    return bool(text.strip()) and not is_command(text) and has_words(text)


async def asks_for_help(message: Message, user: User | None) -> bool:
    return user is not None and user.is_onboarded and user.role in ASKERS


def setup() -> Router:
    """Private chats, at the main menu (no form open) or while an offer stands. Included after
    the capability's other routers and after the menu words (handlers/menu_words.py)."""
    router = Router(name=__name__)
    at_menu = StateFilter(None, QuickHelp.offer)
    router.message.register(offer_help, at_menu, asks_for_help, F.voice | F.photo)
    router.message.register(
        offer_help, at_menu, asks_for_help, F.text, ~AnyMenuButton(), is_plain_sentence
    )
    router.callback_query.register(
        send_chosen,
        QuickHelp.offer,
        QuickCb.filter(F.action.in_({QuickAction.SEND, QuickAction.URGENT})),
    )
    router.callback_query.register(
        choose_chosen, QuickHelp.offer, QuickCb.filter(F.action == QuickAction.CHOOSE)
    )
    return router
