"""Why a request cannot be accepted: asked in the staff member's private chat (also when
Reject was pressed on the group card), then the request is rejected with that reason.

A one-step form. The reason's rules are the domain's (`reject` refuses an empty or too long
reason with a code): the refusal is told by the capability's error handler and the question
keeps waiting, as it was.
"""

from __future__ import annotations

from aiogram import Bot, Router
from aiogram.fsm.context import FSMContext
from aiogram.fsm.state import State, StatesGroup
from aiogram.utils.i18n import gettext as _

from handlers.forms import Form, Step, StepContext
from handlers.menu import AnyMenuButton, main_menu_keyboard
from handlers.requests.private_line import ask_privately, moved_on, one_line, staff_context
from models.requests import (
    ErrorCode,
    RequestError,
    ServiceRequest,
    reject,
)
from models.users import User


class RejectForm(StatesGroup):
    reason = State()


async def ask_reason(
    bot: Bot, user: User, request: ServiceRequest, private_state: FSMContext
) -> None:
    """Ask privately (raises TelegramAPIError when the bot may not write to this person)."""
    prompt = _("Why can {number} not be accepted? Please write the reason.").format(
        number=request.number
    )
    await ask_privately(bot, user, request, private_state, REJECT, prompt)


async def reason_finished(ctx: StepContext) -> None:
    request_id = int(ctx.answers.get("request_id") or 0)
    staff_ctx = staff_context(ctx.office, update_card=True)
    try:
        request = await reject(ctx.session, ctx.user, request_id, ctx.answers["reason"], staff_ctx)
    except RequestError as error:
        if error.code in (ErrorCode.REASON_MISSING, ErrorCode.REASON_TOO_LONG):
            raise  # told why by the error handler; the question keeps waiting
        return await moved_on(ctx, error)
    await ctx.state.clear()
    await ctx.message.answer(
        _("{number} was not accepted. The requester has been told why.").format(
            number=request.number
        ),
        reply_markup=main_menu_keyboard(ctx.user),
    )


REASON = Step(
    RejectForm.reason,
    prompt=lambda: _("Please write why the request cannot be accepted."),
    parse=one_line("reason"),
    field="reason",
)
REJECT = Form("request_reject", [REASON], data_key="request_reject", finish=reason_finished)


def setup() -> Router:
    """Under the staff router (`IsStaff`) and the private-chat filter."""
    return REJECT.router(~AnyMenuButton())
