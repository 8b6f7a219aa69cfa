"""Family links: a family member finds their relative by phone and name and asks to be linked;
the relative (or, without an account, their caseworker or the administrators) approves; the
family member sees approved links under "My family" and can add another relative."""

from __future__ import annotations

import enum
from typing import Any

from aiogram import F, Router
from aiogram.dispatcher.event.bases import SkipHandler
from aiogram.filters import StateFilter
from aiogram.filters.callback_data import CallbackData
from aiogram.fsm.context import FSMContext
from aiogram.fsm.state import State, StatesGroup
from aiogram.types import CallbackQuery, InaccessibleMessage, InlineKeyboardMarkup, Message
from aiogram.utils.i18n import I18n
from aiogram.utils.i18n import gettext as _
from aiogram.utils.keyboard import InlineKeyboardBuilder
from sqlalchemy.ext.asyncio import AsyncSession

from handlers.common import form_keyboard, is_command, register_state_prompt
from handlers.menu import AnyMenuButton, MenuButton, main_menu_keyboard, register_menu_item
from handlers.notifications import Rendered, Renderer
from models.notification_kinds import NotificationKind
from models.registration import (
    LinkOutcome,
    RegistrationError,
    clean_name,
    clean_relation,
    decide_family_link,
    links_of,
    normalize_phone,
    request_family_link,
)
from models.users import LinkStatus, Role, User

router = Router(name=__name__)
router.message.filter(F.chat.type == "private")

register_menu_item("family", "👨‍👩‍👧", lambda: _("My family"), {Role.FAMILY}, order=10)


class FamilyLinkForm(StatesGroup):
    relation = State()
    phone = State()
    name = State()


class LinkAction(enum.StrEnum):
    APPROVE = "ok"
    DECLINE = "no"


class LinkDecision(CallbackData, prefix="fl"):
    action: LinkAction
    link_id: int


class FamilyMenuAction(enum.StrEnum):
    ADD = "add"


class FamilyMenu(CallbackData, prefix="fm"):
    action: FamilyMenuAction


def relation_labels() -> list[str]:
    return [_("Son"), _("Daughter"), _("Son-in-law"), _("Daughter-in-law"), _("Grandchild")]


def relation_question() -> str:
    return _("How are you related to the retiree? Tap a button, or type it (for example: nephew).")


def _q_phone() -> str:
    return _("What is your relative's phone number? Please type it.")


def _q_name() -> str:
    return _("What is your relative's full name? Please type it.")


register_state_prompt(FamilyLinkForm.relation, relation_question)
register_state_prompt(FamilyLinkForm.phone, _q_phone)
register_state_prompt(FamilyLinkForm.name, _q_name)


def relation_keyboard() -> Any:
    labels = relation_labels()
    return form_keyboard(labels[0:2], labels[2:4], labels[4:5])


async def start_link_form(message: Message, state: FSMContext, *, first_time: bool) -> None:
    await state.set_state(FamilyLinkForm.relation)
    await state.update_data(link={})
    intro = (
        _("To link you with your relative, I need three short answers.")
        if first_time
        else _("Let's add a relative.")
    )
    await message.answer(f"{intro}\n{relation_question()}", reply_markup=relation_keyboard())


def _problem(message: Message) -> str:
    if is_command(message.text):
        return _("That command is not available here.")
    if message.text is None:
        return _("Sorry, I can only read typed text here.")
    return _("Sorry, I did not understand that.")


# -- the form ----------------------------------------------------------------------------------


@router.message(StateFilter(FamilyLinkForm), AnyMenuButton())
async def menu_pressed_in_form(message: Message, state: FSMContext) -> None:
    """A main-menu button pressed half-way: leave this form, let the button do its job."""
    await state.clear()
    raise SkipHandler


@router.message(FamilyLinkForm.relation, F.text, ~AnyMenuButton())
async def relation_chosen(message: Message, state: FSMContext) -> None:
    relation = clean_relation(message.text)
    if relation is None or is_command(message.text):
        problem = (
            _problem(message)
            if is_command(message.text) or len(str(message.text)) <= 20
            else _("That is too long. A word or two is enough.")
        )
        await message.answer(f"{problem}\n{relation_question()}")
        return
    await state.update_data(link={"relation": relation})
    await state.set_state(FamilyLinkForm.phone)
    await message.answer(_q_phone(), reply_markup=form_keyboard())


@router.message(FamilyLinkForm.relation, ~AnyMenuButton())
async def relation_invalid(message: Message) -> None:
    await message.answer(f"{_problem(message)}\n{relation_question()}")


async def _phone_given(message: Message, state: FSMContext, raw: str | None) -> None:
    phone = normalize_phone(raw)
    if phone is None:
        problem = (
            _problem(message)
            if is_command(message.text)
            else _(
                "This does not look like a phone number. A mobile number has 11 digits and "
                "starts with 1."
            )
        )
        await message.answer(f"{problem}\n{_q_phone()}")
        return
    data = await state.get_data()
    await state.update_data(link={**(data.get("link") or {}), "phone": phone})
    await state.set_state(FamilyLinkForm.name)
    await message.answer(_q_name(), reply_markup=form_keyboard())


@router.message(FamilyLinkForm.phone, F.contact, ~AnyMenuButton())
async def phone_shared(message: Message, state: FSMContext) -> None:
    assert message.contact is not None
    await _phone_given(message, state, message.contact.phone_number)


@router.message(FamilyLinkForm.phone, F.text, ~AnyMenuButton())
async def phone_chosen(message: Message, state: FSMContext) -> None:
    await _phone_given(message, state, message.text)


@router.message(FamilyLinkForm.phone, ~AnyMenuButton())
async def phone_invalid(message: Message) -> None:
    await message.answer(f"{_problem(message)}\n{_q_phone()}")


@router.message(FamilyLinkForm.name, F.text, ~AnyMenuButton())
async def name_chosen(
    message: Message, state: FSMContext, session: AsyncSession, user: User
) -> None:
    name = clean_name(message.text)
    if name is None:
        await message.answer(f"{_problem(message)}\n{_q_name()}")
        return
    link_data = dict((await state.get_data()).get("link") or {})
    try:
        result = await request_family_link(
            session,
            user,
            phone=str(link_data.get("phone", "")),
            full_name=name,
            relation=str(link_data.get("relation", "")),
        )
    except RegistrationError:
        await start_link_form(message, state, first_time=False)
        return
    if result.outcome == LinkOutcome.NOT_FOUND:
        # Nothing is lost: the relation is kept, the phone and name can be typed again.
        await state.set_state(FamilyLinkForm.phone)
        await message.answer(
            _(
                "I could not find {name} with the phone number {phone}. Please check both "
                "and type the phone number again.\n\nIf your relative has not registered "
                "with the service office yet, please ask the office to add them first; then "
                "come back here. You can also tap “Back to menu” now."
            ).format(name=name, phone=link_data.get("phone", "")),
            reply_markup=form_keyboard(),
        )
        return
    await state.clear()
    texts = {
        LinkOutcome.SENT_TO_RETIREE: _(
            "Thank you! I asked {name} to approve the link. I will tell you the answer."
        ),
        LinkOutcome.SENT_TO_STAFF: _(
            "Thank you! The service office will check and approve the link. "
            "I will tell you the answer."
        ),
        LinkOutcome.ALREADY_LINKED: _("You are already linked to {name}."),
        LinkOutcome.ALREADY_PENDING: _(
            "You have already asked to be linked to {name}; the answer is still awaited."
        ),
        LinkOutcome.SELF: _("This is your own registration, so there is nothing to link."),
    }
    await message.answer(
        texts[result.outcome].format(name=name), reply_markup=main_menu_keyboard(user)
    )


@router.message(FamilyLinkForm.name, ~AnyMenuButton())
async def name_invalid(message: Message) -> None:
    await message.answer(f"{_problem(message)}\n{_q_name()}")


# -- "My family" -------------------------------------------------------------------------------


def _status_line(status: LinkStatus) -> str:
    return {
        LinkStatus.APPROVED: "✅ " + _("linked"),
        LinkStatus.PENDING: "⏳ " + _("waiting for approval"),
        LinkStatus.REJECTED: "❌ " + _("declined"),
    }[status]


def family_keyboard() -> InlineKeyboardMarkup:
    builder = InlineKeyboardBuilder()
    builder.button(
        text="➕ " + _("Add a relative"), callback_data=FamilyMenu(action=FamilyMenuAction.ADD)
    )
    return builder.as_markup()


@router.message(MenuButton("family"))
async def my_family(message: Message, state: FSMContext, session: AsyncSession, user: User) -> None:
    await state.clear()
    links = await links_of(session, user.id)
    if not links:
        text = _("You are not linked to any relative yet.")
    else:
        lines = [_("Your relatives:")]
        for link in links:
            relation = f" ({link.relation})" if link.relation else ""
            lines.append(f"• {link.profile.full_name}{relation}: {_status_line(link.status)}")
        text = "\n".join(lines)
    await message.answer(text, reply_markup=family_keyboard())


@router.callback_query(FamilyMenu.filter(F.action == FamilyMenuAction.ADD))
async def add_relative(callback: CallbackQuery, state: FSMContext) -> None:
    await callback.answer()
    if isinstance(callback.message, Message) and callback.message.chat.type == "private":
        await start_link_form(callback.message, state, first_time=False)


# -- approval ----------------------------------------------------------------------------------


def decision_keyboard(link_id: int) -> InlineKeyboardMarkup:
    builder = InlineKeyboardBuilder()
    builder.button(
        text="✅ " + _("Approve"),
        callback_data=LinkDecision(action=LinkAction.APPROVE, link_id=link_id),
    )
    builder.button(
        text="❌ " + _("Decline"),
        callback_data=LinkDecision(action=LinkAction.DECLINE, link_id=link_id),
    )
    builder.adjust(2)
    return builder.as_markup()


@router.callback_query(LinkDecision.filter())
async def link_decided(
    callback: CallbackQuery,
    callback_data: LinkDecision,
    session: AsyncSession,
    user: User,
    i18n: I18n,
) -> None:
    approve = callback_data.action == LinkAction.APPROVE
    try:
        link = await decide_family_link(session, user, callback_data.link_id, approve=approve)
    except RegistrationError as error:
        answers = {
            "not_allowed": _("Sorry, only the person who was asked can answer this."),
            "already_decided": _("This request has already been answered."),
            "not_found": _("This request no longer exists."),
        }
        await callback.answer(answers.get(error.code, answers["not_found"]), show_alert=True)
        return
    name = link.family_user.display_name
    if approve:
        text = _("You approved the link with {name}.").format(name=name)
    else:
        text = _("You declined the link with {name}.").format(name=name)
    await callback.answer(text)
    if callback.message is not None and not isinstance(callback.message, InaccessibleMessage):
        await callback.message.edit_text(text, reply_markup=None)


# -- pushed messages ---------------------------------------------------------------------------


def render_link_request(params: dict[str, Any]) -> Rendered:
    text = _(
        "{family_name} asks to be linked to you as your {relation}. If you approve, they can "
        "see your requests, act for you and be told when something happens. Do you approve?"
    ).format(family_name=params.get("family_name", ""), relation=params.get("relation", ""))
    return Rendered(text, decision_keyboard(int(params["link_id"])))


def render_link_request_staff(params: dict[str, Any]) -> Rendered:
    text = _(
        "{family_name} asks to be linked to {retiree_name} as their {relation}. "
        "{retiree_name} has no Telegram account to approve it. Please check with them "
        "(for example by phone) and decide."
    ).format(
        family_name=params.get("family_name", ""),
        retiree_name=params.get("retiree_name", ""),
        relation=params.get("relation", ""),
    )
    return Rendered(text, decision_keyboard(int(params["link_id"])))


def render_link_decided(params: dict[str, Any]) -> Rendered:
    name = params.get("retiree_name", "")
    if params.get("approved"):
        text = _("Good news: your link with {name} was approved. You can see it under “My family”.")
    else:
        text = _(
            "Your request to be linked with {name} was declined. If you think this is a "
            "mistake, please contact the service office."
        )
    return Rendered(text.format(name=name))


def renderers() -> dict[NotificationKind, Renderer]:
    return {
        NotificationKind.FAMILY_LINK_REQUEST: render_link_request,
        NotificationKind.FAMILY_LINK_REQUEST_STAFF: render_link_request_staff,
        NotificationKind.FAMILY_LINK_DECIDED: render_link_decided,
    }
