"""A retiree's registration, as a table of steps: name, phone (the contact button or typed),
birthday (typed as people write it, or tapped: the decade, the year, then the month and day
typed), its calendar, the community (skipped while the office has entered none), the home
address (staff visiting or repairing need it), and a review: "Yes, that is correct"
registers, "Change something" asks which answer, then that step, then the review again (a new
birthday asks its calendar again first).

This form is the pattern the others copy: each step says its question, its keyboard and how
it reads an answer; asking again after bad input, resuming after /language, changing one
answer from the review are lookups in the table (handlers/forms.py). The reading rules
(names, phone numbers, birthdays) are the domain's, in models/registration.py.
"""

from __future__ import annotations

import re
from datetime import date, datetime
from typing import Any

from aiogram import Router
from aiogram.filters import StateFilter
from aiogram.fsm.state import State, StatesGroup
from aiogram.types import KeyboardButton, Message, ReplyKeyboardMarkup
from aiogram.utils.i18n import gettext as _

from handlers.common import form_keyboard
from handlers.filters import TextIs, is_label
from handlers.forms import Form, Invalid, Step, StepContext, default_problem, text_answer
from handlers.menu import main_menu_keyboard, show_menu
from models.dates import read_month_day, read_year
from models.office import OfficeSettings
from models.registration import (
    ADDRESS_MIN_LENGTH,
    NAME_MAX_LENGTH,
    RegistrationCode,
    RegistrationError,
    birth_years,
    grid_by_name,
    is_possible_birthday,
    list_grids,
    normalize_phone,
    own_phone_from_contact,
    parse_birthday,
    read_address,
    read_name,
    register_retiree,
)
from models.users import Grid, User


class Registration(StatesGroup):
    # Stored as "Onboarding:<step>", their names from before the split, so a form half-way
    # through when the bot is upgraded goes on where it was.
    name = State(group_name="Onboarding")
    phone = State(group_name="Onboarding")
    birthday = State(group_name="Onboarding")
    birth_year = State(group_name="Onboarding")
    birth_day = State(group_name="Onboarding")
    calendar = State(group_name="Onboarding")
    grid = State(group_name="Onboarding")
    address = State(group_name="Onboarding")
    confirm = State(group_name="Onboarding")
    change = State(group_name="Onboarding")


# -- labels ------------------------------------------------------------------------------------


def share_phone_text() -> str:
    return "📱 " + _("Share my phone number")


def solar_text() -> str:
    return "☀️ " + _("Solar calendar (Gregorian)")


def lunar_text() -> str:
    return "🌙 " + _("Lunar calendar")


def confirm_text() -> str:
    return "✅ " + _("Yes, that is correct")


def change_text() -> str:
    return "✏️ " + _("Change something")


def _l_name() -> str:
    return _("Name")


def _l_phone() -> str:
    return _("Phone")


def _l_birthday() -> str:
    return _("Birthday")


def _l_grid() -> str:
    return _("Community")


def _l_address() -> str:
    return _("Address")


def decade_text(decade: int) -> str:
    return _("{decade}s").format(decade=decade)


# -- questions ---------------------------------------------------------------------------------


def _q_name() -> str:
    return _("What is your full name? Please type it.")


def _q_phone() -> str:
    return _(
        "What is your phone number? Tap “Share my phone number” below, or type it "
        "(for example 138 1234 5678)."
    )


def _q_birthday() -> str:
    return _(
        "When is your birthday? Type it as you like (for example 1948年3月15日 or 48年3月15号), "
        "or tap the years you were born in below."
    )


def _q_birth_year() -> str:
    return _("Which year were you born? Please tap it, or type it.")


def _q_birth_day() -> str:
    return _("And the month and day? Please type them, for example 3月15日.")


def _birth_day_text(ctx: StepContext) -> str:
    question = _("Born in {year}. And the month and day? Please type them, for example 3月15日.")
    return question.format(year=ctx.answers.get("birth_year", ""))


def _q_address() -> str:
    return _(
        "What is your home address? Staff need it when they visit or come to repair something "
        "(for example 东区3号楼2单元301)."
    )


def _q_calendar() -> str:
    return _("Do you keep your birthday by the solar or by the lunar calendar?")


def _q_grid() -> str:
    return _("Which community do you live in? Please tap its name.")


def _q_confirm() -> str:
    return _("Is everything correct? Tap “Yes, that is correct” or “Change something”.")


def _q_change() -> str:
    return _("What would you like to change? Please tap a button.")


# -- keyboards ---------------------------------------------------------------------------------


def phone_keyboard(ctx: StepContext) -> ReplyKeyboardMarkup:
    return form_keyboard([KeyboardButton(text=share_phone_text(), request_contact=True)])


def calendar_keyboard(ctx: StepContext) -> ReplyKeyboardMarkup:
    return form_keyboard([solar_text()], [lunar_text()])


async def grid_keyboard(ctx: StepContext) -> ReplyKeyboardMarkup:
    names = [g.name for g in await list_grids(ctx.session)]
    return form_keyboard(*(names[i : i + 2] for i in range(0, len(names), 2)))


def decades(today_: date) -> list[int]:
    years = birth_years(today_)
    return list(range(years.start - years.start % 10, years.stop, 10))


def birthday_keyboard(ctx: StepContext) -> ReplyKeyboardMarkup:
    labels = [decade_text(d) for d in decades(today(ctx.office))]
    return form_keyboard(*(labels[i : i + 3] for i in range(0, len(labels), 3)))


def birth_year_keyboard(ctx: StepContext) -> ReplyKeyboardMarkup:
    decade = int(ctx.answers.get("birth_decade") or 0)
    possible = birth_years(today(ctx.office))
    years = [str(y) for y in range(decade, decade + 10) if y in possible]
    return form_keyboard(*(years[i : i + 5] for i in range(0, len(years), 5)))


def confirm_keyboard(ctx: StepContext) -> ReplyKeyboardMarkup:
    return form_keyboard([confirm_text()], [change_text()])


# -- reading answers ---------------------------------------------------------------------------


def name_problem(error: RegistrationError) -> str:
    if error.code == RegistrationCode.NAME_TOO_LONG:
        return _("That is too long for a name (at most {n} characters).").format(n=NAME_MAX_LENGTH)
    return _("Please type your name in letters, for example 王秀英.")


def parse_name(message: Message, ctx: StepContext) -> dict[str, Any]:
    try:
        return {"name": read_name(text_answer(message))}
    except RegistrationError as error:
        raise Invalid(name_problem(error)) from error


def parse_phone(message: Message, ctx: StepContext) -> dict[str, Any]:
    """The contact button (their own number: verified) or a typed number."""
    contact = message.contact
    if contact is not None:
        sender = message.from_user.id if message.from_user else 0
        try:
            phone = own_phone_from_contact(contact.phone_number, contact.user_id, sender)
        except RegistrationError as error:
            raise Invalid(contact_problem(error)) from error
        return {"phone": phone, "phone_verified": True}
    typed = normalize_phone(text_answer(message))
    if typed is None:
        raise Invalid(not_a_phone_number())
    return {"phone": typed, "phone_verified": False}


def contact_problem(error: RegistrationError) -> str:
    if error.code == RegistrationCode.CONTACT_NOT_OWN:
        return _("This is someone else's contact. Please share your own number or type it.")
    return _("I could not use this number (only Chinese numbers are accepted). Please type it.")


def not_a_phone_number() -> str:
    return _(
        "This does not look like a phone number. A mobile number has 11 digits and starts with 1."
    )


def today(office: OfficeSettings) -> date:
    return datetime.now(office.tz).date()


_DECADE = re.compile(r"(\d{4})\s*(?:年代|s)")


def _not_a_birthday() -> str:
    return _("I could not read this date, or it is not a possible birthday.")


def _full_birthday(text: str, ctx: StepContext) -> dict[str, Any] | None:
    born = parse_birthday(text, today(ctx.office))
    if born is None:
        return None
    return {"birthday": born.isoformat(), "birth_decade": None, "birth_year": None}


def _birth_year(text: str, ctx: StepContext) -> dict[str, Any] | None:
    year = read_year(text, today(ctx.office))
    if year is None:
        return None
    if year not in birth_years(today(ctx.office)):
        raise Invalid(_not_a_birthday())
    return {"birth_year": year, "birthday": None}


def parse_birthday_answer(message: Message, ctx: StepContext) -> dict[str, Any]:
    """A whole date as people write it, a tapped decade (the years are asked next), or a year
    alone (the month and day are asked next)."""
    text = text_answer(message)
    decade = _DECADE.fullmatch(text.strip())
    if decade and int(decade[1]) in decades(today(ctx.office)):
        return {"birth_decade": int(decade[1]), "birth_year": None, "birthday": None}
    answer = _full_birthday(text, ctx) or _birth_year(text, ctx)
    if answer is not None:
        return answer
    if read_month_day(text) is not None:
        raise Invalid(_("Which year was that? Please type the whole date, or tap the years."))
    raise Invalid(_not_a_birthday())


def parse_birth_year(message: Message, ctx: StepContext) -> dict[str, Any]:
    text = text_answer(message)
    answer = _full_birthday(text, ctx) or _birth_year(text, ctx)
    if answer is None:
        raise Invalid(_("Please tap the year you were born in."))
    return answer


def parse_birth_day(message: Message, ctx: StepContext) -> dict[str, Any]:
    text = text_answer(message)
    whole = _full_birthday(text, ctx)
    if whole is not None:
        return whole
    month_day = read_month_day(text)
    try:
        born = date(int(ctx.answers["birth_year"]), *month_day) if month_day else None
    except (KeyError, TypeError, ValueError):
        born = None
    if born is None or not is_possible_birthday(born, today(ctx.office)):
        raise Invalid(_not_a_birthday())
    return {"birthday": born.isoformat()}


def has_birth_decade(ctx: StepContext) -> bool:
    answers = ctx.answers
    return bool(answers.get("birth_decade")) and not answers.get("birthday")


def has_birth_year(ctx: StepContext) -> bool:
    return bool(ctx.answers.get("birth_year")) and not ctx.answers.get("birthday")


def parse_address(message: Message, ctx: StepContext) -> dict[str, Any]:
    address = read_address(text_answer(message))
    if address is None:
        raise Invalid(
            _("Please type the address in words, at least {n} characters.").format(
                n=ADDRESS_MIN_LENGTH
            )
        )
    return {"address": address}


def parse_calendar(message: Message, ctx: StepContext) -> dict[str, Any]:
    if is_label(message.text, solar_text):
        return {"lunar": False}
    if is_label(message.text, lunar_text):
        return {"lunar": True}
    raise Invalid(default_problem(message))


async def has_grids(ctx: StepContext) -> bool:
    """An office that has not entered its communities yet: nothing to choose."""
    return bool(await list_grids(ctx.session))


async def parse_grid(message: Message, ctx: StepContext) -> dict[str, Any]:
    grid = await grid_by_name(ctx.session, text_answer(message)[:100])
    if grid is None:
        raise Invalid(default_problem(message))
    return {"grid_id": grid.id}


async def summary_text(ctx: StepContext) -> str:
    reg = ctx.answers
    born = reg.get("birthday", "")
    calendar = _("lunar calendar") if reg.get("lunar") else _("solar calendar")
    grid = await ctx.session.get(Grid, reg["grid_id"]) if reg.get("grid_id") else None
    line = _("{label}: {value}")
    lines = [
        _("Please check your details:"),
        line.format(label=_l_name(), value=reg.get("name", "")),
        line.format(label=_l_phone(), value=reg.get("phone", "")),
        line.format(
            label=_l_birthday(),
            value=_("{date} ({calendar})").format(date=born, calendar=calendar),
        ),
    ]
    if grid is not None:
        lines.append(line.format(label=_l_grid(), value=grid.name))
    if reg.get("address"):
        lines.append(line.format(label=_l_address(), value=reg["address"]))
    lines.append("")
    lines.append(_q_confirm())
    return "\n".join(lines)


# -- the form ----------------------------------------------------------------------------------

NAME = Step(Registration.name, prompt=_q_name, parse=parse_name, field="name", label=_l_name)
PHONE = Step(
    Registration.phone,
    prompt=_q_phone,
    keyboard=phone_keyboard,
    parse=parse_phone,
    field="phone",
    label=_l_phone,
)
BIRTHDAY = Step(
    Registration.birthday,
    prompt=_q_birthday,
    keyboard=birthday_keyboard,
    parse=parse_birthday_answer,
    field="birthday",
    label=_l_birthday,
    review_after_edit=False,  # a new date asks its calendar again
)
BIRTH_YEAR = Step(
    Registration.birth_year,
    prompt=_q_birth_year,
    keyboard=birth_year_keyboard,
    parse=parse_birth_year,
    applies=has_birth_decade,
    review_after_edit=False,
)
BIRTH_DAY = Step(
    Registration.birth_day,
    prompt=_q_birth_day,
    text=_birth_day_text,
    parse=parse_birth_day,
    applies=has_birth_year,
    review_after_edit=False,
)
CALENDAR = Step(
    Registration.calendar,
    prompt=_q_calendar,
    keyboard=calendar_keyboard,
    parse=parse_calendar,
    field="lunar",
)
GRID = Step(
    Registration.grid,
    prompt=_q_grid,
    keyboard=grid_keyboard,
    parse=parse_grid,
    applies=has_grids,
    field="grid_id",
    label=_l_grid,
)
ADDRESS = Step(
    Registration.address,
    prompt=_q_address,
    parse=parse_address,
    field="address",
    label=_l_address,
)
CONFIRM = Step(
    Registration.confirm, prompt=_q_confirm, text=summary_text, keyboard=confirm_keyboard
)
CHANGE = Step(Registration.change, prompt=_q_change)

REGISTRATION = Form(
    "registration",
    [NAME, PHONE, BIRTHDAY, BIRTH_YEAR, BIRTH_DAY, CALENDAR, GRID, ADDRESS],
    data_key="reg",
    review=CONFIRM,
    change=CHANGE,
)


async def start_registration(ctx: StepContext) -> None:
    await REGISTRATION.start(
        ctx, intro=_("Let's register you. There are only a few short questions.")
    )


# -- the review's buttons ----------------------------------------------------------------------


async def confirm_chosen(message: Message, **data: Any) -> None:
    ctx = StepContext.of(message, data)
    reg = await REGISTRATION.answers(ctx.state)
    try:
        result = await register_retiree(
            ctx.session,
            ctx.user,
            full_name=str(reg.get("name", "")),
            phone=str(reg.get("phone", "")),
            birthday=date.fromisoformat(str(reg.get("birthday"))),
            birthday_is_lunar=bool(reg.get("lunar")),
            grid_id=reg.get("grid_id"),
            today=today(ctx.office),
            phone_verified=bool(reg.get("phone_verified")),
            address=reg.get("address"),
        )
    except (RegistrationError, ValueError):
        # The answers were damaged (a stale state after an upgrade): ask them again.
        await REGISTRATION.start(
            ctx,
            intro=_("Sorry, something went wrong with your answers. Let's go through them again."),
        )
        return
    await ctx.state.clear()
    text = _("Thank you, you are registered! Tap a button below whenever you need something.")
    if result.claimed:
        text = _("The service office already had your details; I linked them to you.") + "\n" + text
    await message.answer(text, reply_markup=main_menu_keyboard(ctx.user))


async def change_chosen(message: Message, **data: Any) -> None:
    await REGISTRATION.ask_change(StepContext.of(message, data))


async def confirm_invalid(message: Message, **data: Any) -> None:
    await REGISTRATION.ask_again(StepContext.of(message, data), problem=default_problem(message))


async def confirm_again(message: Message, user: User) -> None:
    """A second tap on "Yes, that is correct" after registration went through."""
    if user.is_onboarded:
        await show_menu(message, user, _("You are already registered. Here is your menu."))
    else:
        await show_menu(message, user)


def setup() -> Router:
    router = Router(name=__name__)
    router.message.register(confirm_chosen, Registration.confirm, TextIs(confirm_text))
    router.message.register(change_chosen, Registration.confirm, TextIs(change_text))
    router.message.register(confirm_invalid, Registration.confirm)
    router.message.register(confirm_again, StateFilter(None), TextIs(confirm_text))
    router.include_router(REGISTRATION.router())
    return router
