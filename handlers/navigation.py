"""The way out and the way around, in any state: /cancel, the back-to-menu button, /menu,
/help; and a kind hint for an unknown command in the middle of a form. (/language and its menu
button: handlers/language.py.)

Nothing typed is lost on the way out:

- a main-menu button, /menu or /start in the middle of a form goes where it was asked, and
  what was entered is kept as a draft (`KeepDraftOnTheWayOut`, on the root router, so the
  menu item's own handler then sees no form); opening the same form again offers to continue
  it (`Form.start`);
- /cancel or 🏠 asks first when something was entered ("continue / discard");
- the form's inline buttons come off its message when it ends, either way.

This router comes first, so these work whatever form a user is in.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from aiogram import BaseMiddleware, Bot, Dispatcher, Router
from aiogram.filters import Command, Filter, StateFilter
from aiogram.fsm.context import FSMContext
from aiogram.types import Message, TelegramObject
from aiogram.utils.i18n import gettext as _

from handlers.common import back_to_menu_text, is_command, keep_going_hint
from handlers.filters import TextIs, is_label
from handlers.forms import (
    HELD,
    OFFER,
    FormFlow,
    FormRegistry,
    StepContext,
    continue_text,
    discard_text,
    leaving_keyboard,
    offer_keyboard,
    q_leaving,
    q_offer,
    restart_text,
)
from handlers.menu import (
    MenuButton,
    all_items,
    is_menu_text,
    menu_item,
    show_menu,
    start_button_text,
)
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


def _command(text: str | None) -> str | None:
    if not is_command(text):
        return None
    return str(text)[1:].split(maxsplit=1)[0].split("@", 1)[0].lower()


def leaves_the_form(text: str | None) -> bool:
    """A main-menu button (but help and language, which keep the form), /menu, /start or the
    Start button: the person goes elsewhere, and the form is kept as a draft."""
    if _command(text) in {"menu", "start"}:
        return True
    if is_label(text, start_button_text):
        return True
    if not is_menu_text(text):
        return False
    from handlers import menu_items

    keep = (menu_items()["help"], menu_items()["language"])
    return not any(is_label(text, item.text) for item in keep)


class KeepDraftOnTheWayOut(BaseMiddleware):
    """On the root router's messages: a menu button, /menu or /start in the middle of a form
    keeps what was entered as a draft and ends the form before any handler looks at the state,
    so the menu item's handler starts from no form at all."""

    async def __call__(
        self,
        handler: Callable[[TelegramObject, dict[str, Any]], Awaitable[Any]],
        event: TelegramObject,
        data: dict[str, Any],
    ) -> Any:
        if (
            isinstance(event, Message)
            and event.chat.type == "private"
            and data.get("raw_state") is not None
            and isinstance(data.get("forms"), FormRegistry)
            and leaves_the_form(event.text)
        ):
            forms: FormRegistry = data["forms"]
            kept = await forms.leave(data["state"], data.get("bot"), event.chat.id, keep=True)
            data["raw_state"] = None
            if kept:
                await event.answer(
                    _("What you entered is kept: open it again to continue where you left off.")
                )
        return await handler(event, data)


def stopped_text() -> str:
    return _("Stopped. Nothing more was saved from that form.")


async def cmd_cancel(
    message: Message, state: FSMContext, user: User | None, forms: FormRegistry, bot: Bot
) -> None:
    """Leaving a form with something entered asks first; 🏠 or /cancel again confirms."""
    current = await state.get_state()
    if current != FormFlow.leaving.state and await forms.entered(state):
        found = await forms.current(state)
        assert found is not None
        await state.update_data({HELD: found[1]})
        await state.set_state(FormFlow.leaving)
        await message.answer(q_leaving(), reply_markup=leaving_keyboard())
        return
    await forms.leave(state, bot, message.chat.id, keep=False)
    await show_menu(message, user, stopped_text() if current is not None else None)


async def cmd_menu(message: Message, state: FSMContext, user: User | None) -> None:
    await state.clear()
    await show_menu(message, user)


# -- "leave without sending?" and "continue the draft?" ----------------------------------------


async def leaving_continued(message: Message, **data: Any) -> None:
    ctx = StepContext.of(message, data)
    forms: FormRegistry = data["forms"]
    saved = await ctx.state.get_data()
    form_state = saved.pop(HELD, None)
    form = forms.form_for(form_state)
    if form is None:
        await ctx.state.clear()
        await show_menu(message, ctx.user)
        return
    await ctx.state.set_data(saved)
    await ctx.state.set_state(form_state)
    await form.ask_again(ctx, prefix=_("Good, let's go on."))


async def leaving_discarded(
    message: Message, state: FSMContext, user: User | None, forms: FormRegistry, bot: Bot
) -> None:
    await forms.leave(state, bot, message.chat.id, keep=False)
    await show_menu(message, user, stopped_text())


async def leaving_unclear(message: Message) -> None:
    await message.answer(q_leaving(), reply_markup=leaving_keyboard())


async def draft_continued(message: Message, **data: Any) -> None:
    ctx = StepContext.of(message, data)
    forms: FormRegistry = data["forms"]
    offer = (await ctx.state.get_data()).get(OFFER) or {}
    form = forms.by_name(offer.get("form"))
    draft = await forms.take_draft(ctx.state, form) if form is not None else None
    if form is None or draft is None or form.step_for(draft.get("state")) is None:
        await ctx.state.clear()
        await show_menu(message, ctx.user, _("Sorry, that form is no longer there."))
        return
    await ctx.state.set_data({form.data_key: draft.get("answers") or {}})
    await ctx.state.set_state(draft["state"])
    await form.ask_again(ctx, prefix=_("Here is where you stopped."))


async def draft_restarted(message: Message, **data: Any) -> None:
    ctx = StepContext.of(message, data)
    forms: FormRegistry = data["forms"]
    offer = (await ctx.state.get_data()).get(OFFER) or {}
    form = forms.by_name(offer.get("form"))
    await ctx.state.clear()
    if form is None:
        await show_menu(message, ctx.user)
        return
    await forms.take_draft(ctx.state, form)
    await form.start(ctx, intro=offer.get("intro"), answers=offer.get("answers"), fresh=True)


async def offer_unclear(message: Message) -> None:
    await message.answer(q_offer(), reply_markup=offer_keyboard())


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
    router.message.register(leaving_continued, FormFlow.leaving, TextIs(continue_text))
    router.message.register(leaving_discarded, FormFlow.leaving, TextIs(discard_text))
    router.message.register(draft_continued, FormFlow.offer, TextIs(continue_text))
    router.message.register(draft_restarted, FormFlow.offer, TextIs(restart_text))
    router.message.register(cmd_help, Command("help"))
    router.message.register(cmd_help, MenuButton("help"))
    router.message.register(unknown_command_in_form, ~StateFilter(None), UnknownCommand())
    # /language and 🌐 are the language router's (the form resumes after the choice)
    not_language = (~Command("language"), ~MenuButton("language"))
    router.message.register(leaving_unclear, FormFlow.leaving, *not_language)
    router.message.register(offer_unclear, FormFlow.offer, *not_language)
    return router
