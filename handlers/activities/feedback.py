"""After the activity: a participant taps 1-5 stars, then may add a few words (a one-step
form)."""

from __future__ import annotations

from typing import Any

from aiogram import Router
from aiogram.fsm.state import State, StatesGroup
from aiogram.types import CallbackQuery, Message
from aiogram.utils.callback_answer import CallbackAnswer
from aiogram.utils.i18n import gettext as _

from handlers.activities.callbacks import RateCb
from handlers.activities.texts import error_text
from handlers.common import form_keyboard
from handlers.filters import is_label
from handlers.forms import Form, Invalid, Step, StepContext
from handlers.menu import main_menu_keyboard
from handlers.script import for_reader
from handlers.ui import edit_or_send, message_of
from models.activities import COMMENT_MAX, ActivityError, add_comment, rate


class FeedbackForm(StatesGroup):
    comment = State()


REGISTRATION = "registration_id"


def no_comment_text() -> str:
    return "🙂 " + _("No comment")


def no_comment_word() -> str:
    return _("No comment")


def q_comment() -> str:
    return _("Would you like to tell the organiser anything? Write a few words, or tap No comment.")


def parse_comment(message: Message, ctx: StepContext) -> dict[str, Any]:
    text = (message.text or "").strip()
    if is_label(text, no_comment_text, no_comment_word):
        return {"comment": ""}
    if len(text) > COMMENT_MAX:
        raise Invalid(_("That is too long: at most {n} characters, please.").format(n=COMMENT_MAX))
    if not text or text.startswith("/"):
        raise Invalid(_("Please write a few words, or tap No comment."))
    return {"comment": text}


async def save_comment(ctx: StepContext) -> None:
    comment = str(ctx.answers.get("comment") or "")
    answer = _("Thank you!")
    if comment:
        try:
            await add_comment(ctx.session, ctx.user, int(ctx.answers.get(REGISTRATION, 0)), comment)
        except ActivityError as refused:  # nothing to add a comment to: the form ends here
            answer = error_text(refused)
        else:
            answer = _("Thank you, the organiser will read it.")
    await ctx.state.clear()
    await ctx.message.answer(answer, reply_markup=main_menu_keyboard(ctx.user))


COMMENT = Step(
    FeedbackForm.comment,
    prompt=q_comment,
    keyboard=lambda ctx: form_keyboard([no_comment_text()]),
    parse=parse_comment,
)
FEEDBACK = Form("activity_feedback", [COMMENT], data_key="activity_feedback", finish=save_comment)


async def rating_chosen(
    query: CallbackQuery,
    callback_data: RateCb,
    callback_answer: CallbackAnswer,
    **data: Any,
) -> None:
    ctx_user = data["user"]
    registration = await rate(
        data["session"], ctx_user, callback_data.registration_id, callback_data.rating
    )
    callback_answer.text = _("Thank you!")
    await edit_or_send(
        query,
        _("You gave “{title}” {stars}. Thank you!").format(
            title=for_reader(registration.activity.title), stars="⭐" * (registration.rating or 0)
        ),
    )
    message = message_of(query)
    if message is None or await data["state"].get_state() is not None:
        # pressed on a pushed question in the middle of another form: that form goes on
        return
    await FEEDBACK.start(StepContext.of(message, data), answers={REGISTRATION: registration.id})


def setup() -> Router:
    """For registered people: included under the capability's people router."""
    router = Router(name=__name__)
    router.callback_query.register(rating_chosen, RateCb.filter())
    router.include_router(FEEDBACK.router())
    return router
