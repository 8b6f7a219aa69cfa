"""The family link form: how the family member is related (and, when it matters, whether the
relative is their mother or father), the relative's phone number and name; then the link is
asked for (models/registration.py: who approves, who is told). The relation is stored as a
code and worded from each reader's side (handlers/relations.py).

Asked at onboarding ("I am a family member") and from "My family" (➕ Add a relative). A
main-menu button pressed half-way leaves the form and does its own job.
"""

from __future__ import annotations

from typing import Any

from aiogram import Router
from aiogram.dispatcher.event.bases import SkipHandler
from aiogram.filters import StateFilter
from aiogram.fsm.context import FSMContext
from aiogram.fsm.state import State, StatesGroup
from aiogram.types import Message, ReplyKeyboardMarkup
from aiogram.utils.i18n import gettext as _

from handlers.common import form_keyboard
from handlers.forms import Form, Invalid, Step, StepContext, default_problem, text_answer
from handlers.menu import AnyMenuButton, main_menu_keyboard
from handlers.onboarding.registration import not_a_phone_number
from handlers.relations import (
    RELATION_BUTTONS,
    female_of_button,
    gender_buttons,
    relation_of_button,
)
from models.registration import (
    LinkOutcome,
    RegistrationCode,
    RegistrationError,
    clean_name,
    normalize_phone,
    read_relation,
    request_family_link,
)
from models.users import Relation


class FamilyLinkForm(StatesGroup):
    relation = State()
    gender = State()
    phone = State()
    name = State()


def relation_labels() -> list[str]:
    return [RELATION_BUTTONS[relation]() for relation in RELATION_BUTTONS]


def relation_question() -> str:
    return _("How are you related to the retiree? Tap a button, or type it (for example: nephew).")


def _q_gender() -> str:
    return _("Which of these is your relative to you? Please tap a button.")


def _answered_relation(ctx: StepContext) -> Relation:
    try:
        return Relation(str(ctx.answers.get("relation")))
    except ValueError:
        return Relation.OTHER


def gender_keyboard(ctx: StepContext) -> ReplyKeyboardMarkup:
    mother, father = gender_buttons(_answered_relation(ctx))
    return form_keyboard([mother, father])


def parse_gender(message: Message, ctx: StepContext) -> dict[str, Any]:
    female = female_of_button(_answered_relation(ctx), text_answer(message))
    if female is None:
        raise Invalid(default_problem(message))
    return {"retiree_female": female}


def _q_phone() -> str:
    return _("What is your relative's phone number? Please type it.")


def _q_name() -> str:
    return _("What is your relative's full name? Please type it.")


def relation_keyboard(ctx: StepContext | None = None) -> ReplyKeyboardMarkup:
    labels = relation_labels()
    return form_keyboard(labels[0:2], labels[2:4], labels[4:6], labels[6:7])


def parse_relation(message: Message, ctx: StepContext) -> dict[str, Any]:
    """A button's relation, or typed words: a known one ("侄子", "nephew") becomes its code,
    anything else is kept as the person wrote it (OTHER)."""
    text = text_answer(message)
    button = relation_of_button(text)
    if button is not None:
        return {"relation": button.value, "relation_note": None, "retiree_female": None}
    try:
        answer = read_relation(text)
    except RegistrationError as error:
        if error.code == RegistrationCode.RELATION_TOO_LONG:
            raise Invalid(_("That is too long. A word or two is enough.")) from error
        raise Invalid(default_problem(message)) from error
    return {"relation": answer.relation.value, "relation_note": answer.note, "retiree_female": None}


def parse_phone(message: Message, ctx: StepContext) -> dict[str, Any]:
    """Typed, or a contact shared from the phone book (the relative's, not the sender's)."""
    raw = message.contact.phone_number if message.contact else text_answer(message)
    phone = normalize_phone(raw)
    if phone is None:
        raise Invalid(not_a_phone_number())
    return {"phone": phone}


def parse_name(message: Message, ctx: StepContext) -> dict[str, Any]:
    name = clean_name(text_answer(message))
    if name is None:
        raise Invalid(default_problem(message))
    return {"name": name}


async def link_asked(ctx: StepContext) -> None:
    """All three answers in: ask for the link, and say what happens next."""
    link = ctx.answers
    name, phone = str(link.get("name", "")), str(link.get("phone", ""))
    try:
        result = await request_family_link(
            ctx.session,
            ctx.user,
            phone=phone,
            full_name=name,
            relation=_answered_relation(ctx),
            note=link.get("relation_note"),
            retiree_female=link.get("retiree_female"),
        )
    except RegistrationError:
        # The answers were damaged (a stale state after an upgrade): ask them again.
        await start_link_form(ctx, first_time=False)
        return
    if result.outcome == LinkOutcome.NOT_FOUND:
        # Nothing is lost: the relation is kept, the phone and name can be typed again.
        await ctx.state.set_state(PHONE.state)
        await ctx.message.answer(
            _(
                "I could not find {name} with the phone number {phone}. Please check both "
                "and type the phone number again.\n\nIf your relative has not registered "
                "with the service office yet, please ask the office to add them first; then "
                "come back here. You can also tap “Back to menu” now."
            ).format(name=name, phone=phone),
            reply_markup=form_keyboard(),
        )
        return
    await ctx.state.clear()
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
    await ctx.message.answer(
        texts[result.outcome].format(name=name), reply_markup=main_menu_keyboard(ctx.user)
    )


RELATION = Step(
    FamilyLinkForm.relation,
    prompt=relation_question,
    keyboard=relation_keyboard,
    parse=parse_relation,
    field="relation",
)
GENDER = Step(
    FamilyLinkForm.gender,
    prompt=_q_gender,
    keyboard=gender_keyboard,
    parse=parse_gender,
    field="retiree_female",
    # only when the relation's other side depends on it (a daughter's mother or father)
    applies=lambda ctx: _answered_relation(ctx).asks_retiree_gender,
)
PHONE = Step(FamilyLinkForm.phone, prompt=_q_phone, parse=parse_phone, field="phone")
NAME = Step(FamilyLinkForm.name, prompt=_q_name, parse=parse_name, field="name")

FAMILY_LINK = Form(
    "family_link", [RELATION, GENDER, PHONE, NAME], data_key="link", finish=link_asked
)


async def start_link_form(ctx: StepContext, *, first_time: bool) -> None:
    intro = (
        _("To link you with your relative, I need a few short answers.")
        if first_time
        else _("Let's add a relative.")
    )
    await FAMILY_LINK.start(ctx, intro=intro)


async def menu_pressed_in_form(message: Message, state: FSMContext) -> None:
    """A main-menu button pressed half-way: leave this form, let the button do its job."""
    await state.clear()
    raise SkipHandler


def setup() -> Router:
    router = Router(name=__name__)
    router.message.register(menu_pressed_in_form, StateFilter(FamilyLinkForm), AnyMenuButton())
    router.include_router(FAMILY_LINK.router(~AnyMenuButton()))
    return router
