"""The last router: whatever nobody else handled gets a short, kind answer, never silence.

In a form, the question is repeated and the state and data are kept. Outside a form, the
menu is shown again with a hint fitting what was sent (text, sticker, location, voice...).
A stale or forged button is always answered so its spinner stops. Group chats (the staff
group) are left alone: the bot only speaks there when a capability has something to say.
"""

from __future__ import annotations

from aiogram import F, Router
from aiogram.fsm.context import FSMContext
from aiogram.types import CallbackQuery, Message
from aiogram.utils.i18n import gettext as _

from handlers.common import is_command, keep_going_hint
from handlers.forms import FormRegistry
from handlers.menu import show_menu
from models.users import User


async def stale_button(callback: CallbackQuery) -> None:
    await callback.answer(
        _("This button is no longer active. Please use the menu at the bottom."),
        show_alert=True,
    )


def _outside_form_hint(message: Message) -> str:
    if is_command(message.text):
        return _("I don't know that command.")
    if message.sticker or message.animation:
        return _("Thank you for the sticker! 😊")
    if message.location or message.venue:
        return _("Thank you for your location, but I cannot use it here.")
    if message.voice or message.audio or message.video_note:
        return _(
            "I got your voice message, but I don't know what it is about. To send it to the "
            "office, please first choose what you need in the menu."
        )
    if message.photo or message.video or message.document:
        return _(
            "I got your file, but I don't know what it is for. To send it to the office, "
            "please first choose what you need in the menu."
        )
    if message.contact:
        return _("Thank you, but I don't need a contact right now.")
    return _("Sorry, I did not understand that.")


async def anything_else(
    message: Message, state: FSMContext, user: User | None, forms: FormRegistry
) -> None:
    current = await state.get_state()
    if current is not None:
        if is_command(message.text):
            problem = _("I don't know that command.")
        elif message.text is None:
            problem = _("Sorry, I can only read typed text here.")
        else:
            problem = _("Sorry, I did not understand that.")
        await message.answer(f"{problem}\n{keep_going_hint(current, forms)}")
        return
    await show_menu(message, user, _outside_form_hint(message) + "\n" + _menu_hint())


def _menu_hint() -> str:
    return _("Please tap one of the buttons below.")


def setup() -> Router:
    """The last router: whatever nobody else handled. Private chats only for messages; a
    button anywhere (the staff group too) is answered so its spinner stops."""
    router = Router(name=__name__)
    router.callback_query.register(stale_button)
    router.message.register(anything_else, F.chat.type == "private")
    return router
