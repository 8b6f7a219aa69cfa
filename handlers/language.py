"""The language picker: the first question at /start, and /language or the 🌐 button at any time.

Asked before we know the language, so the question is in all three. Chosen in the middle of a
form (any form in the `FormRegistry`), the form goes on where it was: the same question, in the
new language, with the answers kept. A state that is not a form's (a capability whose forms
are not tables yet) is left, as its keyboards are its own.
"""

from __future__ import annotations

from typing import Any

from aiogram import F, Router
from aiogram.filters import Command, StateFilter
from aiogram.fsm.context import FSMContext
from aiogram.fsm.state import State, StatesGroup
from aiogram.types import KeyboardButton, Message, ReplyKeyboardMarkup
from aiogram.utils.i18n import I18n
from aiogram.utils.i18n import gettext as _
from aiogram.utils.keyboard import ReplyKeyboardBuilder

from handlers.common import form_keyboard
from handlers.forms import HELD, FormRegistry, StepContext
from handlers.menu import MenuButton, main_menu_keyboard, menu_item
from handlers.onboarding.welcome import LANGUAGE_NAMES, Welcome, ask_role
from models.registration import finish_onboarding, set_language
from models.users import Role, User

# The button label is the language's own name, the same whatever language is in use.
LANGUAGES = dict(zip(LANGUAGE_NAMES, ("zh_Hans", "zh_Hant", "en"), strict=True))
RESUME = HELD  # in the FSM data: the form state to go back to once a language is chosen

LANGUAGE_ITEM = menu_item("language", "🌐", lambda: _("Language"), frozenset(Role), order=910)


class LanguageChoice(StatesGroup):
    # Stored as "Onboarding:language", its name from before the picker had a module of its
    # own, so a person who was choosing when the bot was upgraded is still choosing.
    language = State(group_name="Onboarding")


def q_language() -> str:
    return _("Please choose your language.")


def language_question(i18n: I18n) -> str:
    """Asked before we know the language, so in all three."""
    lines = []
    for locale in ("zh_Hans", "zh_Hant", "en"):
        with i18n.use_locale(locale):
            lines.append(q_language())
    return "\n".join(dict.fromkeys(lines))


def language_keyboard(with_back: bool) -> ReplyKeyboardMarkup:
    """The languages; "back to menu" only for someone who has a menu to go back to."""
    rows = [[name] for name in LANGUAGES]
    if with_back:
        return form_keyboard(*rows)
    builder = ReplyKeyboardBuilder()
    for row in rows:
        builder.row(*[KeyboardButton(text=t) for t in row])
    return builder.as_markup(resize_keyboard=True, is_persistent=True)


async def ask_language(message: Message, state: FSMContext, user: User, i18n: I18n) -> None:
    await state.set_state(LanguageChoice.language)
    await message.answer(
        language_question(i18n), reply_markup=language_keyboard(with_back=user.is_onboarded)
    )


async def cmd_language(
    message: Message, state: FSMContext, user: User, i18n: I18n, forms: FormRegistry
) -> None:
    """In a form (or asked whether to leave it), its place is kept to resume after the choice;
    any other state is left."""
    found = await forms.current(state)
    if found is not None:
        await state.update_data({RESUME: found[1]})
    else:
        await state.clear()
    await ask_language(message, state, user, i18n)


async def language_chosen(message: Message, **data: Any) -> None:
    ctx = StepContext.of(message, data)
    forms: FormRegistry = data["forms"]
    locale = LANGUAGES[str(message.text)]
    set_language(ctx.user, locale)
    ctx.i18n.current_locale = locale  # the answer is already in the new language
    resume = (await ctx.state.get_data()).get(RESUME)
    form = forms.form_for(resume)
    if form is not None:
        await ctx.state.update_data({RESUME: None})
        await message.answer(_("Done. I will speak English with you from now on."))
        await ctx.state.set_state(resume)
        await form.ask_again(ctx)
        return
    if ctx.user.is_onboarded:
        await ctx.state.clear()
        await message.answer(
            _("Done. I will speak English with you from now on."),
            reply_markup=main_menu_keyboard(ctx.user),
        )
        return
    await continue_onboarding(ctx)


async def continue_onboarding(ctx: StepContext) -> None:
    """After the language (chosen, or told by Telegram): who are you?"""
    if ctx.user.role is not None:  # a bootstrap administrator: no questions to ask
        finish_onboarding(ctx.user)
        await ctx.state.clear()
        await ctx.message.answer(
            _("Welcome! You are registered as an administrator."),
            reply_markup=main_menu_keyboard(ctx.user),
        )
        return
    await ask_role(ctx)


async def language_invalid(message: Message, user: User, i18n: I18n) -> None:
    await message.answer(
        language_question(i18n), reply_markup=language_keyboard(with_back=user.is_onboarded)
    )


def setup() -> Router:
    """Right after navigation: /language and 🌐 work in any state, before a form's step
    would take them as an answer."""
    router = Router(name=__name__)
    router.message.register(cmd_language, Command("language"))
    router.message.register(cmd_language, MenuButton("language"))
    router.message.register(language_chosen, LanguageChoice.language, F.text.in_(LANGUAGES))
    # a language tapped on the role question (offered when Telegram told us the language), or
    # from an old keyboard outside any form: taken as the choice
    router.message.register(language_chosen, StateFilter(None, Welcome.role), F.text.in_(LANGUAGES))
    router.message.register(language_invalid, LanguageChoice.language)
    return router
