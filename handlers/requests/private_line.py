"""What the two staff one-line forms share (a rejection's reason, a finishing result): the
line is asked in the staff member's private chat, also when the button was pressed on the
group card, and read as one typed line; the request is then changed from the private chat, so
the group card follows through the outbox."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from aiogram import Bot
from aiogram.fsm.context import FSMContext
from aiogram.types import Message

from handlers.common import form_keyboard, is_command
from handlers.forms import Form, Invalid, StepContext, default_problem
from handlers.menu import main_menu_keyboard
from handlers.requests.texts import error_text
from models.base import utcnow
from models.office import OfficeSettings
from models.requests import RequestError, ServiceRequest, StaffContext
from models.users import User


def staff_context(office: OfficeSettings, *, update_card: bool) -> StaffContext:
    """`update_card`: the change comes from a private chat, so the group card is edited
    through the outbox (pressed in the group, the card is edited right there)."""
    return StaffContext(
        now=utcnow(), tz=office.tz, staff_chat_id=office.staff_chat_id, update_card=update_card
    )


async def ask_privately(
    bot: Bot,
    user: User,
    request: ServiceRequest,
    private_state: FSMContext,
    form: Form,
    prompt: str,
) -> None:
    """Ask the form's one question privately (raises TelegramAPIError when the bot may not
    write to this person)."""
    await bot.send_message(user.telegram_id, prompt, reply_markup=form_keyboard())
    await private_state.set_state(form.steps[0].state)
    await private_state.update_data({form.data_key: {"request_id": request.id}})


def one_line(field: str) -> Callable[[Message, StepContext], dict[str, Any]]:
    """A step's parser for one typed line; a command or an empty line asks again."""

    def parse(message: Message, ctx: StepContext) -> dict[str, Any]:
        if message.text is None:
            raise Invalid(default_problem(message))
        if is_command(message.text) or not message.text.strip():
            raise Invalid("")  # just the question again
        return {field: message.text}

    return parse


async def moved_on(ctx: StepContext, error: RequestError) -> None:
    """The request moved on meanwhile (a colleague acted, it was cancelled...): the form ends
    and the person is told why."""
    await ctx.state.clear()
    await ctx.message.answer(error_text(error), reply_markup=main_menu_keyboard(ctx.user))
