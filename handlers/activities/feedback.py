"""After the activity: a participant taps 1-5 stars, then may add a few words."""

from __future__ import annotations

from aiogram import F, Router
from aiogram.fsm.context import FSMContext
from aiogram.fsm.state import State, StatesGroup
from aiogram.types import CallbackQuery, Message
from aiogram.utils.i18n import gettext as _
from sqlalchemy.ext.asyncio import AsyncSession

from handlers.activities.callbacks import RateCb
from handlers.activities.common import error_text, not_registered_text, show
from handlers.common import form_keyboard
from handlers.menu import main_menu_keyboard
from models.activities import COMMENT_MAX, ActivityError, add_comment, rate
from models.users import User

router = Router(name=__name__)


class FeedbackForm(StatesGroup):
    comment = State()


def no_comment_text() -> str:
    return "🙂 " + _("No comment")


@router.callback_query(RateCb.filter())
async def rating_chosen(
    query: CallbackQuery,
    callback_data: RateCb,
    state: FSMContext,
    session: AsyncSession,
    user: User | None,
) -> None:
    if user is None:
        await query.answer(not_registered_text(), show_alert=True)
        return
    try:
        registration = await rate(
            session, user, callback_data.registration_id, callback_data.rating
        )
    except ActivityError as error:
        await query.answer(error_text(error), show_alert=True)
        return
    await query.answer(_("Thank you!"))
    await show(
        query,
        _("You gave “{title}” {stars}. Thank you!").format(
            title=registration.activity.title, stars="⭐" * (registration.rating or 0)
        ),
    )
    await state.set_state(FeedbackForm.comment)
    await state.update_data(registration_id=registration.id)
    if query.message is not None and query.bot is not None:
        await query.bot.send_message(
            query.message.chat.id,
            _(
                "Would you like to tell the organiser anything? "
                "Write a few words, or tap No comment."
            ),
            reply_markup=form_keyboard([no_comment_text()]),
        )


@router.message(FeedbackForm.comment, F.text)
async def comment_chosen(
    message: Message, state: FSMContext, session: AsyncSession, user: User | None
) -> None:
    text = (message.text or "").strip()
    data = await state.get_data()
    if user is None:
        await state.clear()
        return
    if text.startswith("/") or len(text) > COMMENT_MAX:
        await comment_invalid(message)
        return
    if text and text not in (no_comment_text(), _("No comment")):
        try:
            await add_comment(session, user, int(data.get("registration_id", 0)), text)
        except ActivityError as error:
            await state.clear()
            await message.answer(error_text(error), reply_markup=main_menu_keyboard(user))
            return
        answer = _("Thank you, the organiser will read it.")
    else:
        answer = _("Thank you!")
    await state.clear()
    await message.answer(answer, reply_markup=main_menu_keyboard(user))


@router.message(FeedbackForm.comment)
async def comment_invalid(message: Message) -> None:
    if message.text and len(message.text) > COMMENT_MAX:
        hint = _("That is too long: at most {n} characters, please.").format(n=COMMENT_MAX)
    else:
        hint = _("Please write a few words, or tap No comment.")
    await message.answer(hint, reply_markup=form_keyboard([no_comment_text()]))
