"""Finishing a request with a line of result ("已换好水龙头"): asked in the staff member's
private chat (also when "Done" was confirmed on the group card), then the request is finished
with it; the retiree and family read it in their completion message.

A one-step form, like the rejection reason. The line's rules are the domain's (`finish`
refuses one that is too long with a code): the refusal is told by the capability's error
handler and the question keeps waiting, as it was.
"""

from __future__ import annotations

from aiogram import Bot, Router
from aiogram.fsm.context import FSMContext
from aiogram.fsm.state import State, StatesGroup
from aiogram.utils.i18n import gettext as _

from handlers.forms import Form, Step, StepContext
from handlers.menu import AnyMenuButton, main_menu_keyboard
from handlers.requests.private_line import ask_privately, moved_on, one_line, staff_context
from models.requests import ErrorCode, RequestError, ServiceRequest, finish
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
    await ask_privately(bot, user, request, private_state, RESULT, prompt)


async def result_finished(ctx: StepContext) -> None:
    request_id = int(ctx.answers.get("request_id") or 0)
    staff_ctx = staff_context(ctx.office, update_card=True)
    try:
        request = await finish(
            ctx.session, ctx.user, request_id, staff_ctx, note=ctx.answers["result"]
        )
    except RequestError as error:
        if error.code == ErrorCode.RESULT_TOO_LONG:
            raise  # told why by the error handler; the question keeps waiting
        return await moved_on(ctx, error)
    await ctx.state.clear()
    await ctx.message.answer(
        _("{number} is done. The requester has been told: {result}").format(
            number=request.number, result=ctx.answers["result"].strip()
        ),
        reply_markup=main_menu_keyboard(ctx.user),
    )


RESULT_STEP = Step(ResultForm.result, prompt=_question, parse=one_line("result"), field="result")
RESULT = Form("request_result", [RESULT_STEP], data_key="request_result", finish=result_finished)


def setup() -> Router:
    """Under the staff router (`IsStaff`) and the private-chat filter."""
    return RESULT.router(~AnyMenuButton())
