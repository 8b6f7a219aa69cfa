"""➕ New activity (staff): a guided form, once or weekly, as a table of steps.

Each step reads its typed answer (`parse`) and checks it with the domain's own rule for that
field, so a refusal names the domain's reason and the question is asked again. The same steps
serve asking again, changing one answer from the review, and changing one field of an existing
activity (handlers/activities/edit.py).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from functools import partial
from typing import Any, TypeVar

from aiogram import F, Router
from aiogram.filters import StateFilter
from aiogram.fsm.state import State, StatesGroup
from aiogram.types import CallbackQuery, Message
from aiogram.utils.i18n import gettext as _
from aiogram.utils.i18n import ngettext

from handlers.activities.callbacks import ManageAction, ManageCb
from handlers.activities.keyboards import category_reply_keyboard, review_keyboard
from handlers.activities.texts import (
    category_label,
    category_problem,
    create_text,
    error_text,
    field_name,
    format_when,
    not_understood,
    once_text,
    q_capacity,
    q_category,
    q_deadline,
    q_description,
    q_ends,
    q_place,
    q_review,
    q_starts,
    q_title,
    q_weeks,
    skip_text,
    skip_word,
    weeks_name,
)
from handlers.common import form_keyboard
from handlers.filters import TextIs, is_label
from handlers.forms import Form, Invalid, Step, StepContext
from handlers.menu import main_menu_keyboard
from handlers.ui import message_of
from models.activities import (
    ActivityDraft,
    ActivityError,
    ActivityErrorCode,
    ActivityField,
    Category,
    check_capacity,
    check_deadline,
    check_end,
    check_start,
    check_text,
    check_weeks,
    create_activities,
)
from models.activity_import import parse_local_datetime, parse_local_time_on
from models.base import utcnow
from models.office import OfficeSettings


class CreateForm(StatesGroup):
    title = State()
    category = State()
    description = State()
    place = State()
    starts = State()
    ends = State()
    capacity = State()
    deadline = State()
    weeks = State()
    confirm = State()


T = TypeVar("T")
WEEKS = "weeks"  # the answer that is not a field of an activity

# -- reading an answer -------------------------------------------------------------------------


def typed(message: Message) -> str:
    """The typed text, or a refusal saying what was wrong with the message."""
    text = (message.text or "").strip()
    if not text or text.startswith("/"):
        raise Invalid(not_understood(message.text))
    return text


def is_skip(message: Message) -> bool:
    return is_label((message.text or "").strip(), skip_text, skip_word)


def domain_checked(check: Callable[..., T], *args: Any) -> T:
    """Run one of the domain's field checks; its refusal becomes the step's problem."""
    try:
        return check(*args)
    except ActivityError as refused:
        raise Invalid(error_text(refused)) from None


_CATEGORY_LABELS = {category: partial(category_label, category) for category in Category}


def category_by_label(text: str) -> Category | None:
    """A category button's label in any language (or its key, as typed in a file)."""
    text = text.strip()
    for category, label in _CATEGORY_LABELS.items():
        if text == category.value or is_label(text, label):
            return category
    return None


def starts_at_of(ctx: StepContext) -> datetime:
    return datetime.fromisoformat(ctx.answers[ActivityField.STARTS_AT])


Parse = Callable[[Message, StepContext], dict[str, Any]]


def text_parser(field: ActivityField, *, skippable: bool = False) -> Parse:
    """A text answer for `field`, checked against the domain's limit (Skip: empty)."""

    def parse(message: Message, ctx: StepContext) -> dict[str, Any]:
        if skippable and is_skip(message):
            return {field.value: ""}
        return {field.value: domain_checked(check_text, field, typed(message))}

    return parse


def parse_category(message: Message, ctx: StepContext) -> dict[str, Any]:
    category = category_by_label(message.text or "")
    if category is None:
        raise Invalid(category_problem())
    return {ActivityField.CATEGORY.value: category.value}


def parse_starts(message: Message, ctx: StepContext) -> dict[str, Any]:
    now = utcnow()
    starts_at = parse_local_datetime(typed(message), ctx.office.tz, now)
    if starts_at is None:
        raise Invalid(not_understood(message.text))
    domain_checked(check_start, starts_at, now)
    return {ActivityField.STARTS_AT.value: starts_at.isoformat()}


def parse_end(text: str, starts_at: datetime, office: OfficeSettings) -> datetime | None:
    return parse_local_time_on(text, starts_at, office.tz) or parse_local_datetime(
        text, office.tz, starts_at
    )


def parse_ends(message: Message, ctx: StepContext) -> dict[str, Any]:
    if is_skip(message):
        return {ActivityField.ENDS_AT.value: None}
    starts_at = starts_at_of(ctx)
    ends_at = parse_end(typed(message), starts_at, ctx.office)
    if ends_at is None:
        raise Invalid(not_understood(message.text))
    domain_checked(check_end, starts_at, ends_at)
    return {ActivityField.ENDS_AT.value: ends_at.isoformat()}


def parse_capacity(message: Message, ctx: StepContext) -> dict[str, Any]:
    text = (message.text or "").strip()
    if not text.isdigit():
        raise Invalid(_("Please write a whole number, for example 20."))
    domain_checked(check_capacity, int(text))
    return {ActivityField.CAPACITY.value: int(text)}


def parse_deadline(message: Message, ctx: StepContext) -> dict[str, Any]:
    if is_skip(message):
        return {ActivityField.SIGNUP_DEADLINE_AT.value: None}
    deadline = parse_local_datetime(typed(message), ctx.office.tz, utcnow())
    if deadline is None:
        raise Invalid(not_understood(message.text))
    domain_checked(check_deadline, starts_at_of(ctx), deadline)
    return {ActivityField.SIGNUP_DEADLINE_AT.value: deadline.isoformat()}


def parse_weeks(message: Message, ctx: StepContext) -> dict[str, Any]:
    text = (message.text or "").strip()
    if is_label(text, once_text):
        return {WEEKS: 1}
    if not text.isdigit():
        raise Invalid(error_text(ActivityError(ActivityErrorCode.BAD_WEEKS)))
    domain_checked(check_weeks, int(text))
    return {WEEKS: int(text)}


# -- the review --------------------------------------------------------------------------------


def draft_of(answers: dict[str, Any]) -> ActivityDraft:
    def moment(key: str) -> datetime | None:
        value = answers.get(key)
        return datetime.fromisoformat(value) if value else None

    starts_at = moment(ActivityField.STARTS_AT)
    assert starts_at is not None
    return ActivityDraft(
        title=answers[ActivityField.TITLE],
        category=Category(answers[ActivityField.CATEGORY]),
        description=answers.get(ActivityField.DESCRIPTION, ""),
        place=answers.get(ActivityField.PLACE, ""),
        starts_at=starts_at,
        ends_at=moment(ActivityField.ENDS_AT),
        capacity=int(answers[ActivityField.CAPACITY]),
        signup_deadline_at=moment(ActivityField.SIGNUP_DEADLINE_AT),
        weeks=int(answers.get(WEEKS, 1)),
    )


def summary(draft: ActivityDraft, office: OfficeSettings) -> str:
    lines = [
        _("Please check:"),
        "",
        "📌 " + draft.title,
        "🏷 " + category_label(draft.category),
        "🕘 " + format_when(draft.starts_at, office.tz),
    ]
    if draft.ends_at:
        lines[-1] += " – " + format_when(draft.ends_at, office.tz)
    lines.append("📍 " + draft.place)
    lines.append("👥 " + _("Places: {n}").format(n=draft.capacity))
    if draft.signup_deadline_at:
        lines.append(
            "📝 "
            + _("Sign up by {when}").format(when=format_when(draft.signup_deadline_at, office.tz))
        )
    if draft.weeks > 1:
        lines.append(
            "🔁 "
            + _("Every week, {n} sessions, each with its own sign-up list").format(n=draft.weeks)
        )
    if draft.description:
        lines += ["", draft.description]
    return "\n".join(lines)


def review_text(ctx: StepContext) -> str:
    return summary(draft_of(ctx.answers), ctx.office)


def review_markup(ctx: StepContext) -> Any:
    return review_keyboard([step.label() for step in CREATE.fields() if step.label])


# -- the table ---------------------------------------------------------------------------------


def _keyboard(*rows: list[Any]) -> Any:
    return lambda ctx: form_keyboard(*[[label() for label in row] for row in rows])


def _numbers(*labels: str) -> list[Any]:
    return [partial(str, label) for label in labels]


def _label(field: ActivityField) -> Any:
    return partial(field_name, field)


TITLE = Step(
    CreateForm.title,
    prompt=q_title,
    parse=text_parser(ActivityField.TITLE),
    field=ActivityField.TITLE,
    label=_label(ActivityField.TITLE),
)
CATEGORY = Step(
    CreateForm.category,
    prompt=q_category,
    keyboard=lambda ctx: category_reply_keyboard(),
    parse=parse_category,
    field=ActivityField.CATEGORY,
    label=_label(ActivityField.CATEGORY),
)
DESCRIPTION = Step(
    CreateForm.description,
    prompt=q_description,
    keyboard=_keyboard([skip_text]),
    parse=text_parser(ActivityField.DESCRIPTION, skippable=True),
    field=ActivityField.DESCRIPTION,
    label=_label(ActivityField.DESCRIPTION),
)
PLACE = Step(
    CreateForm.place,
    prompt=q_place,
    parse=text_parser(ActivityField.PLACE),
    field=ActivityField.PLACE,
    label=_label(ActivityField.PLACE),
)
STARTS = Step(
    CreateForm.starts,
    prompt=q_starts,
    parse=parse_starts,
    field=ActivityField.STARTS_AT,
    label=_label(ActivityField.STARTS_AT),
    review_after_edit=False,  # the end is read on the start's day: ask it again
)
ENDS = Step(
    CreateForm.ends,
    prompt=q_ends,
    keyboard=_keyboard([skip_text]),
    parse=parse_ends,
    field=ActivityField.ENDS_AT,
    label=_label(ActivityField.ENDS_AT),
)
CAPACITY = Step(
    CreateForm.capacity,
    prompt=q_capacity,
    keyboard=_keyboard(_numbers("10", "20", "30", "50")),
    parse=parse_capacity,
    field=ActivityField.CAPACITY,
    label=_label(ActivityField.CAPACITY),
)
DEADLINE = Step(
    CreateForm.deadline,
    prompt=q_deadline,
    keyboard=_keyboard([skip_text]),
    parse=parse_deadline,
    field=ActivityField.SIGNUP_DEADLINE_AT,
    label=_label(ActivityField.SIGNUP_DEADLINE_AT),
)
WEEKS_STEP = Step(
    CreateForm.weeks,
    prompt=q_weeks,
    keyboard=_keyboard([once_text, *_numbers("4", "8", "12")]),
    parse=parse_weeks,
    field=WEEKS,
    label=weeks_name,
)
REVIEW = Step(CreateForm.confirm, prompt=q_review, text=review_text, keyboard=review_markup)

CREATE = Form(
    "activity_create",
    [TITLE, CATEGORY, DESCRIPTION, PLACE, STARTS, ENDS, CAPACITY, DEADLINE, WEEKS_STEP],
    data_key="activity_create",
    review=REVIEW,
    title=lambda: _("new activity"),
)


# -- handlers ----------------------------------------------------------------------------------


async def new_activity_chosen(query: CallbackQuery, **data: Any) -> None:
    message = message_of(query)
    if message is None:
        return
    # another form open (or this one): kept as a draft, and offered again here
    await data["forms"].leave(data["state"], query.bot, message.chat.id, keep=True)
    await CREATE.start(StepContext.of(message, data))


def changed_field(text: str | None) -> str | None:
    """The answer a review's “✏️ …” button names, in any language."""
    name = (text or "").removeprefix("✏️").strip()
    for step in CREATE.fields():
        if step.label is not None and is_label(name, step.label):
            return step.field
    return None


async def create_chosen(message: Message, **data: Any) -> None:
    ctx = StepContext.of(message, data)
    draft = draft_of(await CREATE.answers(ctx.state))
    created = await create_activities(ctx.session, ctx.user, draft)
    await ctx.state.clear()
    if len(created) == 1:
        text = _("Created: “{title}”. People can sign up now.").format(title=draft.title)
    else:  # a weekly series: say how many sessions (not a plural of the one-off message)
        text = ngettext(
            "Created: “{title}”, {n} weekly session. People can sign up now.",
            "Created: “{title}”, {n} weekly sessions. People can sign up now.",
            len(created),
        ).format(title=draft.title, n=len(created))
    await message.answer(text, reply_markup=main_menu_keyboard(ctx.user))


async def review_answered(message: Message, **data: Any) -> None:
    """A “✏️ …” button goes back to that question; anything else: what the review wants."""
    ctx = StepContext.of(message, data)
    field = changed_field(message.text)
    if field is not None:
        await CREATE.edit(ctx, field)
        return
    await message.answer(q_review(), reply_markup=review_markup(ctx))


def setup() -> Router:
    """Staff only: included under the capability's staff router."""
    router = Router(name=__name__)
    router.callback_query.register(
        new_activity_chosen, ManageCb.filter(F.action == ManageAction.NEW)
    )
    router.message.register(create_chosen, StateFilter(CreateForm.confirm), TextIs(create_text))
    router.message.register(review_answered, StateFilter(CreateForm.confirm))
    router.include_router(CREATE.router())
    return router
