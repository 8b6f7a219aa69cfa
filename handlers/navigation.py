"""The way out and the way around, in any state: /cancel, the back-to-menu button, /menu,
/help; and a kind hint for an unknown command in the middle of a form. (/language and its menu
button: handlers/language.py.)

This router comes first, so these work whatever form a user is in.
"""

from __future__ import annotations

from aiogram import Dispatcher, Router
from aiogram.filters import Command, Filter, StateFilter
from aiogram.fsm.context import FSMContext
from aiogram.types import Message
from aiogram.utils.i18n import gettext as _

from handlers.common import back_to_menu_text, is_command, keep_going_hint
from handlers.filters import TextIs
from handlers.forms import FormRegistry
from handlers.menu import MenuButton, menu_item, show_menu
from models.users import Role, User

ALL_ROLES = frozenset(Role)

HELP_ITEM = menu_item("help", "❓", lambda: _("Help"), ALL_ROLES, order=900)


_KNOWN_COMMANDS: dict[int, frozenset[str]] = {}


def known_commands(dispatcher: Dispatcher) -> frozenset[str]:
    """Every command some router handles (collected once from the routers' Command filters)."""
    cached = _KNOWN_COMMANDS.get(id(dispatcher))
    if cached is not None:
        return cached
    names: set[str] = {"start"}
    for router_ in dispatcher.chain_tail:
        for handler in router_.message.handlers:
            for filter_ in handler.filters or []:
                callback = filter_.callback
                if isinstance(callback, Command):
                    names.update(c.lower() for c in callback.commands if isinstance(c, str))
    _KNOWN_COMMANDS[id(dispatcher)] = frozenset(names)
    return _KNOWN_COMMANDS[id(dispatcher)]


class UnknownCommand(Filter):
    async def __call__(self, message: Message, dispatcher: Dispatcher) -> bool:
        if not is_command(message.text):
            return False
        name = str(message.text)[1:].split(maxsplit=1)[0].split("@", 1)[0].lower()
        return name not in known_commands(dispatcher)


async def cmd_cancel(message: Message, state: FSMContext, user: User | None) -> None:
    was_in_form = await state.get_state() is not None
    await state.clear()
    if was_in_form:
        text = _("Stopped. Nothing more was saved from that form.")
    else:
        text = None
    await show_menu(message, user, text)


async def cmd_menu(message: Message, state: FSMContext, user: User | None) -> None:
    await state.clear()
    await show_menu(message, user)


def help_text(user: User | None) -> str:
    if user is None or not user.is_onboarded:
        return _(
            "I am the assistant of the retiree service office. Tap “Start” (or send /start) "
            "and answer a few questions to register."
        )
    parts = [_("I am the assistant of the retiree service office.")]
    if user.role == Role.RETIREE:
        parts.append(
            _("Tap the big buttons at the bottom of the screen to ask the office for help.")
        )
    elif user.role == Role.FAMILY:
        parts.append(
            _(
                "Under “My family” you see the relatives you are linked to, and you can add "
                "another one. Their approval is needed first."
            )
        )
    else:
        parts.append(_("Your work tools are the buttons at the bottom of the screen."))
        if user.role == Role.ADMIN:
            parts.append(_("Send /invite to create an invite code for a new colleague."))
    parts.append(
        _(
            "If you are in the middle of a question and want to stop, tap “Back to menu” "
            "or send /cancel. To change the language, send /language."
        )
    )
    return "\n\n".join(parts)


async def cmd_help(
    message: Message, state: FSMContext, user: User | None, forms: FormRegistry
) -> None:
    """Help does not leave a form: the question is repeated after the help text."""
    current = await state.get_state()
    if current is not None:
        question = forms.prompt(current)
        text = help_text(user)
        if question:
            text += "\n\n" + keep_going_hint(current, forms)
        await message.answer(text)
        return
    await show_menu(message, user, help_text(user))


async def unknown_command_in_form(message: Message, state: FSMContext, forms: FormRegistry) -> None:
    """State and data are kept: the user just gets the question again."""
    current = await state.get_state()
    await message.answer(_("I don't know that command.") + "\n" + keep_going_hint(current, forms))


def setup() -> Router:
    """First among the private-chat routers: these work whatever form a person is in."""
    router = Router(name=__name__)
    router.message.register(cmd_cancel, Command("cancel"))
    router.message.register(cmd_cancel, TextIs(back_to_menu_text))
    router.message.register(cmd_menu, Command("menu"))
    router.message.register(cmd_help, Command("help"))
    router.message.register(cmd_help, MenuButton("help"))
    router.message.register(unknown_command_in_form, ~StateFilter(None), UnknownCommand())
    return router
