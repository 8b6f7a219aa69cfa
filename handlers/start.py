"""/start: a new person is walked through onboarding; a registered one gets their menu."""

from __future__ import annotations

from typing import Any

from aiogram import Router
from aiogram.filters import CommandStart
from aiogram.fsm.context import FSMContext
from aiogram.types import Message
from aiogram.utils.i18n import I18n
from aiogram.utils.i18n import gettext as _
from sqlalchemy.ext.asyncio import AsyncSession

from handlers.family import render_link_request
from handlers.filters import TextIs
from handlers.forms import StepContext
from handlers.language import ask_language, continue_onboarding
from handlers.menu import main_menu_keyboard, start_button_text
from models.office import locale_from_language_code
from models.registration import link_params, pending_links_for_retiree
from models.users import User, mark_reachable


async def cmd_start(message: Message, **data: Any) -> None:
    state: FSMContext = data["state"]
    session: AsyncSession = data["session"]
    user: User = data["user"]
    i18n: I18n = data["i18n"]
    mark_reachable(user)  # they came back: we may write to them again
    await state.clear()
    if user.is_onboarded:
        await message.answer(
            _("Welcome back! Tap a button below whenever you need something."),
            reply_markup=main_menu_keyboard(user),
        )
        await ask_pending_links_again(message, session, user)
        return
    told = message.from_user.language_code if message.from_user else None
    if user.language is None and locale_from_language_code(told) is not None:
        # Telegram told us the language: not asked again (the role question offers the others)
        await continue_onboarding(StepContext.of(message, data))
        return
    await ask_language(message, state, user, i18n)


async def ask_pending_links_again(message: Message, session: AsyncSession, user: User) -> None:
    """A retiree who lost the question (deleted chat, new phone) is asked again."""
    for link in await pending_links_for_retiree(session, user):
        rendered = render_link_request(
            {
                **link_params(link),
                "family_name": link.family_user.display_name,
                "retiree_name": link.profile.full_name,
            }
        )
        await message.answer(rendered.text, reply_markup=rendered.reply_markup)


def setup() -> Router:
    router = Router(name=__name__)
    router.message.register(cmd_start, CommandStart())
    # the "Start" button shown to someone who left registration half-way
    router.message.register(cmd_start, TextIs(start_button_text))
    return router
