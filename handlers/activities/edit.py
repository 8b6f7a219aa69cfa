"""✏️ Edit (staff): change one field of an activity that is neither cancelled nor started.

The questions are the create form's steps (the same `parse`, the same domain checks), each in
a state of its own, asked with the edit's wording; the one that applies is the field chosen.
Saving is `update_activity`, which checks the whole activity again.
"""

from __future__ import annotations

from datetime import datetime
from functools import partial
from typing import Any

from aiogram import F, Router
from aiogram.fsm.state import State, StatesGroup
from aiogram.types import CallbackQuery
from aiogram.utils.i18n import gettext as _
from aiogram.utils.i18n import ngettext
from sqlalchemy.ext.asyncio import AsyncSession

from handlers.activities import create
from handlers.activities.callbacks import EditCb, ManageAction, ManageCb
from handlers.activities.keyboards import category_reply_keyboard, edit_fields_keyboard
from handlers.activities.manage import staff_card
from handlers.activities.texts import edit_question, error_text
from handlers.common import form_keyboard
from handlers.forms import Form, Step, StepContext
from handlers.menu import main_menu_keyboard
from handlers.ui import edit_or_send, message_of
from models.activities import (
    ActivityError,
    ActivityField,
    Category,
    activity_to_change,
    update_activity,
)
from models.base import utcnow


class EditForm(StatesGroup):
    title = State()
    category = State()
    description = State()
    place = State()
    suits = State()
    bring = State()
    starts_at = State()
    ends_at = State()
    capacity = State()
    signup_deadline_at = State()


FIELD = "field"  # which field is being changed
ACTIVITY = "activity_id"


def _changing(field: ActivityField, ctx: StepContext) -> bool:
    return bool(ctx.answers.get(FIELD) == field)


def _edit_step(field: ActivityField, parse: Any) -> Step:
    """The create step's `parse` (or a text one), asked with the edit's question."""
    keyboard = (lambda ctx: category_reply_keyboard()) if field == ActivityField.CATEGORY else None
    return Step(
        getattr(EditForm, field.value),
        prompt=partial(edit_question, field),
        keyboard=keyboard or (lambda ctx: form_keyboard()),
        parse=parse,
        applies=partial(_changing, field),
    )


_PARSERS: dict[ActivityField, Any] = {
    ActivityField(step.field): step.parse
    for step in create.CREATE.steps
    if step.field in set(ActivityField)
}
_PARSERS.setdefault(ActivityField.SUITS, create.text_parser(ActivityField.SUITS))
_PARSERS.setdefault(ActivityField.BRING, create.text_parser(ActivityField.BRING))

EDIT_STEPS = {field: _edit_step(field, _PARSERS[field]) for field in ActivityField}


def typed_value(field: ActivityField, answers: dict[str, Any]) -> Any:
    value = answers[field]
    if field == ActivityField.CATEGORY:
        return Category(value)
    if field in (
        ActivityField.STARTS_AT,
        ActivityField.ENDS_AT,
        ActivityField.SIGNUP_DEADLINE_AT,
    ):
        return datetime.fromisoformat(value) if value else None
    if field == ActivityField.CAPACITY:
        return int(value)
    return value


async def save(ctx: StepContext) -> None:
    field = ActivityField(ctx.answers[FIELD])
    try:
        activity, promoted = await update_activity(
            ctx.session,
            ctx.user,
            int(ctx.answers[ACTIVITY]),
            field,
            typed_value(field, ctx.answers),
            tz=ctx.office.timezone,
        )
    except ActivityError as refused:  # e.g. a deadline after the activity's start: ask again
        await EDIT.ask(ctx, EDIT_STEPS[field], problem=error_text(refused))
        return
    await ctx.state.clear()
    text = _("Saved.")
    if promoted:
        text += " " + ngettext(
            "{n} person moved up from the waiting list and was told.",
            "{n} people moved up from the waiting list and were told.",
            len(promoted),
        ).format(n=len(promoted))
    await ctx.message.answer(text, reply_markup=main_menu_keyboard(ctx.user))
    card_text, markup = await staff_card(ctx.session, ctx.office, activity)
    await ctx.message.answer(card_text, reply_markup=markup)


EDIT = Form("activity_edit", list(EDIT_STEPS.values()), data_key="activity_edit", finish=save)


async def edit_chosen(query: CallbackQuery, callback_data: ManageCb, session: AsyncSession) -> None:
    activity = await activity_to_change(session, callback_data.activity_id, utcnow())
    await edit_or_send(
        query, _("What would you like to change?"), edit_fields_keyboard(activity.id)
    )


async def field_chosen(query: CallbackQuery, callback_data: EditCb, **data: Any) -> None:
    activity = await activity_to_change(data["session"], callback_data.activity_id, utcnow())
    message = message_of(query)
    if message is None:
        return
    # another form open: kept as a draft (a half-made new activity is not lost here)
    await data["forms"].leave(data["state"], query.bot, message.chat.id, keep=True)
    answers = {
        FIELD: callback_data.field.value,
        ACTIVITY: activity.id,
        ActivityField.STARTS_AT.value: activity.starts_at.isoformat(),
    }
    await EDIT.start(StepContext.of(message, data), answers=answers)


def setup() -> Router:
    """Staff only: included under the capability's staff router."""
    router = Router(name=__name__)
    router.callback_query.register(edit_chosen, ManageCb.filter(F.action == ManageAction.EDIT))
    router.callback_query.register(field_chosen, EditCb.filter())
    router.include_router(EDIT.router())
    return router
