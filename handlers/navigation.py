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
from handlers.menu import MenuButton, all_items, menu_item, show_menu, start_button_text
from models.office import OfficeSettings
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


def help_text(user: User | None, office: OfficeSettings | None = None) -> str:
    """What the bot is and which buttons to tap (not commands to type), and the office's
    phone number for those who would rather call."""
    call = ""
    if office is not None and office.phone:
        call = _("Would you rather call? The service office's phone number is {phone}.").format(
            phone=office.phone
        )
    if user is None or not user.is_onboarded:
        parts = [
            _(
                "I am the assistant of the retiree service office. Tap “{start}” below and "
                "answer a few questions to register."
            ).format(start=start_button_text())
        ]
        return "\n\n".join([*parts, call] if call else parts)
    parts = [_("I am the assistant of the retiree service office.")]
    if user.role in (Role.RETIREE, Role.FAMILY):
        parts.append(
            _(
                "Tap the big buttons at the bottom of the screen. To ask for help, tap "
                "“{help}”, or simply send a voice message here: I will offer to pass it on to "
                "the service office."
            ).format(help=_menu_label("request_help"))
        )
    if user.role == Role.FAMILY:
        parts.append(
            _(
                "Under “{family}” you see the relatives you are linked to, and you can add "
                "another one. Their approval is needed first."
            ).format(family=_menu_label("family"))
        )
    elif user.is_staff:
        parts.append(_("Your work tools are the buttons at the bottom of the screen."))
        if user.role == Role.ADMIN:
            parts.append(
                _("Tap “{invite}” to create an invite code for a new colleague.").format(
                    invite=_menu_label("invite")
                )
            )
    parts.append(
        _(
            "If you are in the middle of a question and want to stop, tap “{back}”. To change "
            "the language, tap “{language}”."
        ).format(back=back_to_menu_text(), language=_menu_label("language"))
    )
    if call:
        parts.append(call)
    return "\n\n".join(parts)


def _menu_label(key: str) -> str:
    item = all_items().get(key)
    return item.text() if item is not None else ""


async def cmd_help(
    message: Message,
    state: FSMContext,
    user: User | None,
    forms: FormRegistry,
    office: OfficeSettings,
) -> None:
    """Help does not leave a form: the question is repeated after the help text."""
    current = await state.get_state()
    if current is not None:
        question = forms.prompt(current)
        text = help_text(user, office)
        if question:
            text += "\n\n" + keep_going_hint(current, forms)
        await message.answer(text)
        return
    await show_menu(message, user, help_text(user, office))


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
