"""Finishing a request with a line of result ("已换好水龙头"): asked in the staff member's
private chat (also when "Done" was confirmed on the group card), then the request is finished
with it; the retiree and family read it in their completion message.

A one-step form, like the rejection reason. The line's rules are the domain's (`finish`
refuses one that is too long with a code): the refusal is told by the capability's error
handler and the question keeps waiting, as it was.
"""

from __future__ import annotations

from typing import Any

from aiogram import Bot, Router
from aiogram.fsm.context import FSMContext
from aiogram.fsm.state import State, StatesGroup
from aiogram.types import Message
from aiogram.utils.i18n import gettext as _

from handlers.common import form_keyboard, is_command
from handlers.forms import Form, Invalid, Step, StepContext, default_problem
from handlers.menu import AnyMenuButton, main_menu_keyboard
from handlers.requests.texts import error_text
from models.base import utcnow
from models.requests import ErrorCode, RequestError, ServiceRequest, StaffContext, finish
from models.users import User


class ResultForm(StatesGroup):
    result = State()


def _question() -> str:
    return _("What was done? One line is enough (for example: the tap was replaced).")


async def ask_result(
    bot: Bot, user: User, request: ServiceRequest, private_state: FSMContext
) -> None:
    """Ask privately (raises TelegramAPIError when the bot may not write to this person)."""
    prompt = _("{number}: what was done? One line is enough; the requester will read it.").format(
        number=request.number
    )
    await bot.send_message(user.telegram_id, prompt, reply_markup=form_keyboard())
    await private_state.set_state(ResultForm.result)
    await private_state.update_data({RESULT.data_key: {"request_id": request.id}})


def parse_result(message: Message, ctx: StepContext) -> dict[str, Any]:
    if message.text is None:
        raise Invalid(default_problem(message))
    if is_command(message.text) or not message.text.strip():
        raise Invalid("")  # just the question again
    return {"result": message.text}


async def result_finished(ctx: StepContext) -> None:
    request_id = int(ctx.answers.get("request_id") or 0)
    staff_ctx = StaffContext(
        now=utcnow(), tz=ctx.office.tz, staff_chat_id=ctx.office.staff_chat_id, update_card=True
    )
    try:
        request = await finish(
            ctx.session, ctx.user, request_id, staff_ctx, note=ctx.answers["result"]
        )
    except RequestError as error:
        if error.code == ErrorCode.RESULT_TOO_LONG:
            raise  # told why by the error handler; the question keeps waiting
        # the request moved on meanwhile (finished by a colleague, cancelled...): the form ends
        await ctx.state.clear()
        await ctx.message.answer(error_text(error), reply_markup=main_menu_keyboard(ctx.user))
        return
    await ctx.state.clear()
    await ctx.message.answer(
        _("{number} is done. The requester has been told: {result}").format(
            number=request.number, result=ctx.answers["result"].strip()
        ),
        reply_markup=main_menu_keyboard(ctx.user),
    )


RESULT_STEP = Step(ResultForm.result, prompt=_question, parse=parse_result, field="result")
RESULT = Form("request_result", [RESULT_STEP], data_key="request_result", finish=result_finished)


def setup() -> Router:
    """Under the staff router (`IsStaff`) and the private-chat filter."""
    return RESULT.router(~AnyMenuButton())
