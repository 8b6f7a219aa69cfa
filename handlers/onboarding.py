"""Onboarding: language, who you are, and a retiree's registration form (or a staff invite code).

The family member's branch continues in handlers/family.py (the same form adds a relative later
from "My family"). Every step answers anything unexpected with a short hint that repeats the
question; the state and what was entered are kept.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from aiogram import F, Router
from aiogram.filters import Filter, StateFilter
from aiogram.fsm.context import FSMContext
from aiogram.fsm.state import State, StatesGroup
from aiogram.types import KeyboardButton, Message, ReplyKeyboardMarkup
from aiogram.utils.i18n import I18n
from aiogram.utils.i18n import gettext as _
from aiogram.utils.keyboard import ReplyKeyboardBuilder
from sqlalchemy.ext.asyncio import AsyncSession

from handlers.common import form_keyboard, is_command, register_state_prompt, state_prompt
from handlers.family import FamilyLinkForm, relation_keyboard, relation_question, start_link_form
from handlers.menu import main_menu_keyboard, show_menu
from models.office import OfficeSettings
from models.registration import (
    NAME_MAX_LENGTH,
    RegistrationError,
    clean_name,
    finish_onboarding,
    grid_by_name,
    list_grids,
    normalize_phone,
    parse_birthday,
    redeem_invite_code,
    register_retiree,
    set_language,
)
from models.users import Grid, User

router = Router(name=__name__)
router.message.filter(F.chat.type == "private")

LANGUAGES = {"简体中文": "zh_Hans", "繁體中文": "zh_Hant", "English": "en"}


class Onboarding(StatesGroup):
    language = State()
    role = State()
    invite_code = State()
    name = State()
    phone = State()
    birthday = State()
    calendar = State()
    grid = State()
    confirm = State()
    change = State()


# -- texts that are also button labels ---------------------------------------------------------


def _in_all_locales(i18n: I18n, label: Any) -> set[str]:
    texts = set()
    for locale in i18n.available_locales:
        with i18n.use_locale(locale):
            texts.add(label())
    return texts


def role_retiree_text() -> str:
    return "👴 " + _("I am a retiree")


def role_family_text() -> str:
    return "👨‍👩‍👧 " + _("I am a family member")


def role_staff_text() -> str:
    return "🧑‍💼 " + _("I work at the service office")


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


def field_labels() -> dict[str, str]:
    return {
        "name": _("Name"),
        "phone": _("Phone"),
        "birthday": _("Birthday"),
        "grid": _("Community"),
    }


class TextIn(Filter):
    """Matches a message whose text is one of a label's translations (any language)."""

    def __init__(self, *labels: Any) -> None:
        self.labels = labels

    async def __call__(self, message: Message, i18n: I18n) -> bool:
        if not message.text:
            return False
        return any(message.text in _in_all_locales(i18n, label) for label in self.labels)


# -- questions ---------------------------------------------------------------------------------


def language_question(i18n: I18n) -> str:
    """Asked before we know the language, so in all three."""
    lines = []
    for locale in ("zh_Hans", "zh_Hant", "en"):
        with i18n.use_locale(locale):
            lines.append(_("Please choose your language."))
    return "\n".join(dict.fromkeys(lines))


def language_keyboard(with_back: bool) -> ReplyKeyboardMarkup:
    rows = [[name] for name in LANGUAGES]
    if with_back:
        return form_keyboard(*rows)
    builder = ReplyKeyboardBuilder()
    for row in rows:
        builder.row(*[KeyboardButton(text=t) for t in row])
    return builder.as_markup(resize_keyboard=True, is_persistent=True)


def _q_role() -> str:
    return _("Who are you? Please tap one of the buttons.")


def _q_name() -> str:
    return _("What is your full name? Please type it.")


def _q_phone() -> str:
    return _(
        "What is your phone number? Tap “Share my phone number” below, or type it "
        "(for example 138 1234 5678)."
    )


def _q_birthday() -> str:
    return _("When is your birthday? Please type it like 1948-03-15 or 1948年3月15日.")


def _q_calendar() -> str:
    return _("Do you keep your birthday by the solar or by the lunar calendar?")


def _q_grid() -> str:
    return _("Which community do you live in? Please tap its name.")


def _q_confirm() -> str:
    return _("Is everything correct? Tap “Yes, that is correct” or “Change something”.")


def _q_change() -> str:
    return _("What would you like to change? Please tap a button.")


def _q_invite() -> str:
    return _("Please type the invite code you got from the administrator.")


register_state_prompt(Onboarding.language, lambda: _("Please choose your language."))
register_state_prompt(Onboarding.role, _q_role)
register_state_prompt(Onboarding.invite_code, _q_invite)
register_state_prompt(Onboarding.name, _q_name)
register_state_prompt(Onboarding.phone, _q_phone)
register_state_prompt(Onboarding.birthday, _q_birthday)
register_state_prompt(Onboarding.calendar, _q_calendar)
register_state_prompt(Onboarding.grid, _q_grid)
register_state_prompt(Onboarding.confirm, _q_confirm)
register_state_prompt(Onboarding.change, _q_change)


def role_keyboard() -> ReplyKeyboardMarkup:
    return form_keyboard([role_retiree_text()], [role_family_text()], [role_staff_text()])


def phone_keyboard() -> ReplyKeyboardMarkup:
    return form_keyboard([KeyboardButton(text=share_phone_text(), request_contact=True)])


def calendar_keyboard() -> ReplyKeyboardMarkup:
    return form_keyboard([solar_text()], [lunar_text()])


def grid_keyboard(grids: list[Grid]) -> ReplyKeyboardMarkup:
    names = [g.name for g in grids]
    rows = [names[i : i + 2] for i in range(0, len(names), 2)]
    return form_keyboard(*rows)


def confirm_keyboard() -> ReplyKeyboardMarkup:
    return form_keyboard([confirm_text()], [change_text()])


def change_keyboard(has_grids: bool) -> ReplyKeyboardMarkup:
    labels = field_labels()
    second = [labels["birthday"], labels["grid"]] if has_grids else [labels["birthday"]]
    return form_keyboard([labels["name"], labels["phone"]], second)


async def ask_language(message: Message, state: FSMContext, user: User, i18n: I18n) -> None:
    await state.set_state(Onboarding.language)
    await message.answer(
        language_question(i18n), reply_markup=language_keyboard(with_back=user.is_onboarded)
    )


async def ask_role(message: Message, state: FSMContext) -> None:
    await state.set_state(Onboarding.role)
    await message.answer(
        _(
            "Welcome to the retiree service office! Who are you? "
            "Please tap one of the buttons below."
        ),
        reply_markup=role_keyboard(),
    )


async def _hint(message: Message, problem: str, question: str) -> None:
    """A short, kind answer to bad input; the keyboard of the step stays as it is."""
    await message.answer(f"{problem}\n{question}")


def _problem(message: Message) -> str:
    if is_command(message.text):
        return _("That command is not available here.")
    if message.text is None:
        return _("Sorry, I can only read typed text here.")
    return _("Sorry, I did not understand that.")


# -- language ----------------------------------------------------------------------------------


@router.message(Onboarding.language, F.text.in_(LANGUAGES))
async def language_chosen(
    message: Message, state: FSMContext, session: AsyncSession, user: User, i18n: I18n
) -> None:
    locale = LANGUAGES[str(message.text)]
    set_language(user, locale)
    i18n.current_locale = locale  # the answer is already in the new language
    resume = (await state.get_data()).get("_resume")
    if resume and is_resumable(str(resume)):
        await state.update_data(_resume=None)
        await message.answer(_("Done. I will speak English with you from now on."))
        await ask_again(message, state, session, str(resume))
        return
    if user.is_onboarded:
        await state.clear()
        await message.answer(
            _("Done. I will speak English with you from now on."),
            reply_markup=main_menu_keyboard(user),
        )
        return
    if user.role is not None:  # a bootstrap administrator: no questions to ask
        finish_onboarding(user)
        await state.clear()
        await message.answer(
            _("Welcome! You are registered as an administrator."),
            reply_markup=main_menu_keyboard(user),
        )
        return
    await ask_role(message, state)


@router.message(Onboarding.language)
async def language_invalid(message: Message, user: User, i18n: I18n) -> None:
    await message.answer(
        language_question(i18n), reply_markup=language_keyboard(with_back=user.is_onboarded)
    )


# -- who are you -------------------------------------------------------------------------------


@router.message(Onboarding.role, TextIn(role_retiree_text))
async def role_retiree_chosen(message: Message, state: FSMContext) -> None:
    await state.update_data(reg={})
    await state.set_state(Onboarding.name)
    await message.answer(
        _("Let's register you. There are only a few short questions.") + "\n" + _q_name(),
        reply_markup=form_keyboard(),
    )


@router.message(Onboarding.role, TextIn(role_family_text))
async def role_family_chosen(message: Message, state: FSMContext) -> None:
    await start_link_form(message, state, first_time=True)


@router.message(Onboarding.role, TextIn(role_staff_text))
async def role_staff_chosen(message: Message, state: FSMContext) -> None:
    await state.set_state(Onboarding.invite_code)
    await message.answer(
        _("Staff accounts need an invite code from the administrator.") + "\n" + _q_invite(),
        reply_markup=form_keyboard(),
    )


@router.message(Onboarding.role)
async def role_invalid(message: Message) -> None:
    await message.answer(f"{_problem(message)}\n{_q_role()}", reply_markup=role_keyboard())


# -- staff invite code -------------------------------------------------------------------------


@router.message(Onboarding.invite_code, F.text, ~F.text.startswith("/"))
async def invite_code_chosen(
    message: Message, state: FSMContext, session: AsyncSession, user: User
) -> None:
    try:
        await redeem_invite_code(session, user, str(message.text))
    except RegistrationError as error:
        problems = {
            "invalid_code": _("I could not find this code. Please check it and type it again."),
            "used_code": _(
                "This code has already been used. Please ask the administrator for a new one."
            ),
            "expired_code": _("This code has expired. Please ask the administrator for a new one."),
        }
        await message.answer(problems.get(error.code, problems["invalid_code"]))
        return
    await state.clear()
    await message.answer(
        _("Welcome to the team! Your staff account is ready."),
        reply_markup=main_menu_keyboard(user),
    )


@router.message(Onboarding.invite_code)
async def invite_code_invalid(message: Message) -> None:
    await _hint(message, _problem(message), _q_invite())


# -- retiree: name -----------------------------------------------------------------------------


async def _next(message: Message, state: FSMContext, session: AsyncSession, after: str) -> None:
    """Go to the step after `after`, or back to the summary when changing one answer."""
    data = await state.get_data()
    if data.get("editing") and after != "birthday":
        await show_summary(message, state, session)
        return
    if after == "name":
        await state.set_state(Onboarding.phone)
        await message.answer(_q_phone(), reply_markup=phone_keyboard())
    elif after == "phone":
        await state.set_state(Onboarding.birthday)
        await message.answer(_q_birthday(), reply_markup=form_keyboard())
    elif after == "birthday":
        await state.set_state(Onboarding.calendar)
        await message.answer(_q_calendar(), reply_markup=calendar_keyboard())
    elif after == "calendar":
        await ask_grid(message, state, session)
    else:
        await show_summary(message, state, session)


async def _store(state: FSMContext, **values: Any) -> None:
    data = await state.get_data()
    reg = dict(data.get("reg") or {})
    reg.update(values)
    await state.update_data(reg=reg)


@router.message(Onboarding.name, F.text)
async def name_chosen(message: Message, state: FSMContext, session: AsyncSession) -> None:
    text = str(message.text)
    name = clean_name(text)
    if name is None:
        if is_command(text):
            problem = _problem(message)
        elif len(" ".join(text.split())) > NAME_MAX_LENGTH:
            problem = _("That is too long for a name (at most {n} characters).").format(
                n=NAME_MAX_LENGTH
            )
        else:
            problem = _("Please type your name in letters, for example 王秀英.")
        await _hint(message, problem, _q_name())
        return
    await _store(state, name=name)
    await _next(message, state, session, "name")


@router.message(Onboarding.name)
async def name_invalid(message: Message) -> None:
    await _hint(message, _problem(message), _q_name())


# -- retiree: phone ----------------------------------------------------------------------------


@router.message(Onboarding.phone, F.contact)
async def phone_shared(message: Message, state: FSMContext, session: AsyncSession) -> None:
    contact = message.contact
    assert contact is not None and message.from_user is not None
    if contact.user_id != message.from_user.id:
        await _hint(
            message,
            _("This is someone else's contact. Please share your own number or type it."),
            _q_phone(),
        )
        return
    phone = normalize_phone(contact.phone_number)
    if phone is None:
        await _hint(
            message,
            _("I could not use this number (only Chinese numbers are accepted). Please type it."),
            _q_phone(),
        )
        return
    await _store(state, phone=phone, phone_verified=True)
    await _next(message, state, session, "phone")


@router.message(Onboarding.phone, F.text)
async def phone_chosen(message: Message, state: FSMContext, session: AsyncSession) -> None:
    phone = normalize_phone(message.text)
    if phone is None:
        problem = (
            _problem(message)
            if is_command(message.text)
            else _(
                "This does not look like a phone number. A mobile number has 11 digits and "
                "starts with 1."
            )
        )
        await _hint(message, problem, _q_phone())
        return
    await _store(state, phone=phone, phone_verified=False)
    await _next(message, state, session, "phone")


@router.message(Onboarding.phone)
async def phone_invalid(message: Message) -> None:
    await _hint(message, _problem(message), _q_phone())


# -- retiree: birthday and calendar ------------------------------------------------------------


def _today(office: OfficeSettings) -> date:
    return datetime.now(office.tz).date()


@router.message(Onboarding.birthday, F.text)
async def birthday_chosen(
    message: Message, state: FSMContext, session: AsyncSession, office: OfficeSettings
) -> None:
    born = parse_birthday(message.text, _today(office))
    if born is None:
        problem = (
            _problem(message)
            if is_command(message.text)
            else _("I could not read this date, or it is not a possible birthday.")
        )
        await _hint(message, problem, _q_birthday())
        return
    await _store(state, birthday=born.isoformat())
    await _next(message, state, session, "birthday")


@router.message(Onboarding.birthday)
async def birthday_invalid(message: Message) -> None:
    await _hint(message, _problem(message), _q_birthday())


@router.message(Onboarding.calendar, TextIn(solar_text, lunar_text))
async def calendar_chosen(
    message: Message, state: FSMContext, session: AsyncSession, i18n: I18n
) -> None:
    lunar = str(message.text) in _in_all_locales(i18n, lunar_text)
    await _store(state, lunar=lunar)
    await _next(message, state, session, "calendar")


@router.message(Onboarding.calendar)
async def calendar_invalid(message: Message) -> None:
    await message.answer(f"{_problem(message)}\n{_q_calendar()}", reply_markup=calendar_keyboard())


# -- retiree: community ------------------------------------------------------------------------


async def ask_grid(message: Message, state: FSMContext, session: AsyncSession) -> None:
    grids = await list_grids(session)
    if not grids:  # an office that has not entered its communities yet
        await _store(state, grid_id=None)
        await show_summary(message, state, session)
        return
    await state.set_state(Onboarding.grid)
    await message.answer(_q_grid(), reply_markup=grid_keyboard(grids))


@router.message(Onboarding.grid, F.text)
async def grid_chosen(message: Message, state: FSMContext, session: AsyncSession) -> None:
    grid = await grid_by_name(session, str(message.text)[:100])
    if grid is None:
        await message.answer(
            f"{_problem(message)}\n{_q_grid()}",
            reply_markup=grid_keyboard(await list_grids(session)),
        )
        return
    await _store(state, grid_id=grid.id)
    await _next(message, state, session, "grid")


@router.message(Onboarding.grid)
async def grid_invalid(message: Message) -> None:
    await _hint(message, _problem(message), _q_grid())


# -- retiree: summary, change, confirm ---------------------------------------------------------


async def summary_text(data: dict[str, Any], session: AsyncSession) -> str:
    reg = data.get("reg") or {}
    labels = field_labels()
    born = reg.get("birthday", "")
    calendar = _("lunar calendar") if reg.get("lunar") else _("solar calendar")
    grid = await session.get(Grid, reg["grid_id"]) if reg.get("grid_id") else None
    line = _("{label}: {value}")
    lines = [
        _("Please check your details:"),
        line.format(label=labels["name"], value=reg.get("name", "")),
        line.format(label=labels["phone"], value=reg.get("phone", "")),
        line.format(
            label=labels["birthday"],
            value=_("{date} ({calendar})").format(date=born, calendar=calendar),
        ),
    ]
    if grid is not None:
        lines.append(line.format(label=labels["grid"], value=grid.name))
    lines.append("")
    lines.append(_q_confirm())
    return "\n".join(lines)


async def show_summary(message: Message, state: FSMContext, session: AsyncSession) -> None:
    await state.update_data(editing=False)
    await state.set_state(Onboarding.confirm)
    text = await summary_text(await state.get_data(), session)
    await message.answer(text, reply_markup=confirm_keyboard())


@router.message(Onboarding.confirm, TextIn(confirm_text))
async def confirm_chosen(
    message: Message,
    state: FSMContext,
    session: AsyncSession,
    user: User,
    office: OfficeSettings,
) -> None:
    reg = (await state.get_data()).get("reg") or {}
    try:
        result = await register_retiree(
            session,
            user,
            full_name=str(reg.get("name", "")),
            phone=str(reg.get("phone", "")),
            birthday=date.fromisoformat(str(reg.get("birthday"))),
            birthday_is_lunar=bool(reg.get("lunar")),
            grid_id=reg.get("grid_id"),
            today=_today(office),
            phone_verified=bool(reg.get("phone_verified")),
        )
    except (RegistrationError, ValueError):
        # The data was damaged (a stale state after an upgrade): ask again from the start.
        await state.set_state(Onboarding.name)
        await message.answer(
            _("Sorry, something went wrong with your answers. Let's go through them again.")
            + "\n"
            + _q_name(),
            reply_markup=form_keyboard(),
        )
        return
    await state.clear()
    text = _("Thank you, you are registered! Tap a button below whenever you need something.")
    if result.claimed:
        text = _("The service office already had your details; I linked them to you.") + "\n" + text
    await message.answer(text, reply_markup=main_menu_keyboard(user))


@router.message(Onboarding.confirm, TextIn(change_text))
async def change_chosen(message: Message, state: FSMContext, session: AsyncSession) -> None:
    await state.set_state(Onboarding.change)
    has_grids = bool(await list_grids(session))
    await message.answer(_q_change(), reply_markup=change_keyboard(has_grids))


@router.message(Onboarding.confirm)
async def confirm_invalid(message: Message) -> None:
    await message.answer(f"{_problem(message)}\n{_q_confirm()}", reply_markup=confirm_keyboard())


@router.message(Onboarding.change, F.text)
async def change_field_chosen(message: Message, state: FSMContext, session: AsyncSession) -> None:
    field = next((k for k, v in field_labels().items() if v == message.text), None)
    if field is None:
        has_grids = bool(await list_grids(session))
        await message.answer(
            f"{_problem(message)}\n{_q_change()}", reply_markup=change_keyboard(has_grids)
        )
        return
    await state.update_data(editing=True)
    if field == "name":
        await state.set_state(Onboarding.name)
        await message.answer(_q_name(), reply_markup=form_keyboard())
    elif field == "phone":
        await state.set_state(Onboarding.phone)
        await message.answer(_q_phone(), reply_markup=phone_keyboard())
    elif field == "birthday":
        await state.set_state(Onboarding.birthday)
        await message.answer(_q_birthday(), reply_markup=form_keyboard())
    else:
        await ask_grid(message, state, session)


@router.message(Onboarding.change)
async def change_invalid(message: Message) -> None:
    await _hint(message, _problem(message), _q_change())


# -- a second tap on "Yes, that is correct" after registration went through --------------------


@router.message(StateFilter(None), TextIn(confirm_text))
async def confirm_again(message: Message, user: User) -> None:
    if user.is_onboarded:
        await show_menu(message, user, _("You are already registered. Here is your menu."))
    else:
        await show_menu(message, user)


# -- coming back to a step (after /language) ---------------------------------------------------


def is_resumable(state_name: str) -> bool:
    """States whose question `ask_again` can put again, with their own buttons."""
    return state_name in _RESUMABLE


_RESUMABLE = {
    s.state
    for s in (
        Onboarding.role,
        Onboarding.invite_code,
        Onboarding.name,
        Onboarding.phone,
        Onboarding.birthday,
        Onboarding.calendar,
        Onboarding.grid,
        Onboarding.confirm,
        Onboarding.change,
        FamilyLinkForm.relation,
        FamilyLinkForm.phone,
        FamilyLinkForm.name,
    )
}


async def ask_again(
    message: Message, state: FSMContext, session: AsyncSession, state_name: str
) -> None:
    """Puts the question of `state_name` again (in the current language), data kept."""
    await state.set_state(state_name)
    if state_name == Onboarding.role.state:
        await message.answer(_q_role(), reply_markup=role_keyboard())
    elif state_name == Onboarding.phone.state:
        await message.answer(_q_phone(), reply_markup=phone_keyboard())
    elif state_name == Onboarding.calendar.state:
        await message.answer(_q_calendar(), reply_markup=calendar_keyboard())
    elif state_name == Onboarding.grid.state:
        await ask_grid(message, state, session)
    elif state_name == Onboarding.confirm.state:
        await show_summary(message, state, session)
    elif state_name == Onboarding.change.state:
        has_grids = bool(await list_grids(session))
        await message.answer(_q_change(), reply_markup=change_keyboard(has_grids))
    elif state_name == FamilyLinkForm.relation.state:
        await message.answer(relation_question(), reply_markup=relation_keyboard())
    else:
        await message.answer(state_prompt(state_name) or "", reply_markup=form_keyboard())
