"""🗓 Manage activities (staff): the list, a guided form to create (once or weekly), editing a
field, calling an activity off, and importing a CSV/XLSX file sent as a document."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from aiogram import F, Router
from aiogram.filters import StateFilter
from aiogram.fsm.context import FSMContext
from aiogram.fsm.state import State, StatesGroup
from aiogram.types import CallbackQuery, InlineKeyboardMarkup, Message
from aiogram.utils.i18n import gettext as _
from aiogram.utils.i18n import ngettext
from aiogram.utils.keyboard import InlineKeyboardBuilder
from sqlalchemy.ext.asyncio import AsyncSession

from handlers.activities.callbacks import EditCb, ManageAction, ManageCb
from handlers.activities.common import error_text, is_staff, show, staff_activity, staff_only_text
from handlers.activities.keyboards import (
    category_label,
    details_text,
    format_when,
)
from handlers.common import form_keyboard, register_state_prompt
from handlers.menu import MenuButton, main_menu_keyboard
from models.activities import (
    DESCRIPTION_MAX,
    PLACE_MAX,
    SERIES_MAX_WEEKS,
    SHORT_TEXT_MAX,
    TITLE_MAX,
    ActivityDraft,
    ActivityError,
    Category,
    cancel_activity,
    confirmed_count,
    counts_for,
    create_activities,
    get_activity,
    upcoming_activities,
    update_activity,
    waitlist_count,
    waitlist_counts_for,
)
from models.activity_import import (
    MAX_FILE_BYTES,
    FileProblem,
    RowError,
    RowProblem,
    parse_activities,
    parse_local_datetime,
    parse_local_time_on,
)
from models.base import utcnow
from models.office import OfficeSettings
from models.users import User

router = Router(name=__name__)
router.message.filter(F.chat.type == "private")

MANAGE_PAGE = 8
RECENT = timedelta(days=14)  # ended activities stay in the list for attendance and feedback


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


class EditForm(StatesGroup):
    value = State()


class ImportForm(StatesGroup):
    file = State()


# -- button texts ------------------------------------------------------------------------------


def skip_text() -> str:
    return "⏭ " + _("Skip")


def once_text() -> str:
    return "1️⃣ " + _("Only once")


def create_text() -> str:
    return "✅ " + _("Create")


def _skip_texts() -> set[str]:
    return {skip_text(), _("Skip")}


def category_by_label(text: str) -> Category | None:
    for category in Category:
        if text.strip() in (category_label(category), category.value):
            return category
    return None


# -- the list and the staff card -------------------------------------------------------------


async def manage_view(
    session: AsyncSession, office: OfficeSettings, page: int
) -> tuple[str, InlineKeyboardMarkup]:
    now = utcnow()
    total = (await upcoming_activities(session, now, since=now - RECENT, limit=1))[1]
    pages = max(1, -(-total // MANAGE_PAGE))
    page = min(max(page, 0), pages - 1)
    activities, _total = await upcoming_activities(
        session, now, since=now - RECENT, offset=page * MANAGE_PAGE, limit=MANAGE_PAGE
    )
    ids = [a.id for a in activities]
    counts = await counts_for(session, ids)
    waits = await waitlist_counts_for(session, ids)
    builder = InlineKeyboardBuilder()
    for activity in activities:
        local = activity.starts_at.astimezone(office.tz)
        mark = "✔️ " if activity.starts_at <= now else ""
        label = f"{mark}{local.month}/{local.day} {local:%H:%M} {activity.title} · "
        label += f"{counts.get(activity.id, 0)}/{activity.capacity}"
        if waits.get(activity.id):
            label += f" (+{waits[activity.id]})"
        builder.button(
            text=label,
            callback_data=ManageCb(action=ManageAction.OPEN, activity_id=activity.id, page=page),
        )
    if page > 0:
        builder.button(
            text="◀️ " + _("Previous"),
            callback_data=ManageCb(action=ManageAction.LIST, page=page - 1),
        )
    if page + 1 < pages:
        builder.button(
            text="▶️ " + _("Next"), callback_data=ManageCb(action=ManageAction.LIST, page=page + 1)
        )
    builder.button(text="➕ " + _("New activity"), callback_data=ManageCb(action=ManageAction.NEW))
    builder.button(
        text="📥 " + _("Import from a file"), callback_data=ManageCb(action=ManageAction.IMPORT)
    )
    builder.adjust(1)
    text = _("Activities (upcoming and the last two weeks):")
    if not activities:
        text = _("No activities yet. Create one, or import a CSV/XLSX file.")
    return text, builder.as_markup()


def staff_card_keyboard(activity_id: int, page: int, closed: bool) -> InlineKeyboardMarkup:
    builder = InlineKeyboardBuilder()
    entries = [
        ("👥 " + _("Participants and attendance"), ManageAction.PARTICIPANTS),
        ("📊 " + _("Export as XLSX"), ManageAction.EXPORT),
        ("⭐ " + _("Ratings and comments"), ManageAction.FEEDBACK),
    ]
    if not closed:  # cancelled or already started: nothing to edit or call off
        entries += [
            ("✏️ " + _("Edit"), ManageAction.EDIT),
            ("❌ " + _("Cancel this activity"), ManageAction.CANCEL_ASK),
        ]
    entries.append(("⬅️ " + _("Back to the list"), ManageAction.LIST))
    for text, action in entries:
        builder.button(
            text=text, callback_data=ManageCb(action=action, activity_id=activity_id, page=page)
        )
    builder.adjust(1)
    return builder.as_markup()


async def staff_card(
    session: AsyncSession, office: OfficeSettings, activity_id: int, page: int = 0
) -> tuple[str, InlineKeyboardMarkup] | None:
    activity = await get_activity(session, activity_id)
    if activity is None:
        return None
    await session.refresh(activity)
    confirmed = await confirmed_count(session, activity.id)
    waiting = await waitlist_count(session, activity.id)
    text = details_text(activity, office.tz, confirmed, waiting, staff=True)
    closed = activity.is_cancelled or activity.starts_at <= utcnow()
    return text, staff_card_keyboard(activity.id, page, closed)


@router.message(MenuButton("manage_activities"))
async def cmd_manage(
    message: Message, session: AsyncSession, user: User | None, office: OfficeSettings
) -> None:
    if not is_staff(user):
        await message.answer(staff_only_text())
        return
    text, markup = await manage_view(session, office, 0)
    await message.answer(text, reply_markup=markup)


@router.callback_query(ManageCb.filter(F.action == ManageAction.LIST))
async def list_chosen(
    query: CallbackQuery,
    callback_data: ManageCb,
    session: AsyncSession,
    user: User | None,
    office: OfficeSettings,
) -> None:
    if not is_staff(user):
        await query.answer(staff_only_text(), show_alert=True)
        return
    await query.answer()
    text, markup = await manage_view(session, office, callback_data.page)
    await show(query, text, markup)


@router.callback_query(ManageCb.filter(F.action == ManageAction.OPEN))
async def manage_activity_chosen(
    query: CallbackQuery,
    callback_data: ManageCb,
    session: AsyncSession,
    user: User | None,
    office: OfficeSettings,
) -> None:
    if not is_staff(user):
        await query.answer(staff_only_text(), show_alert=True)
        return
    card = await staff_card(session, office, callback_data.activity_id, callback_data.page)
    if card is None:
        await query.answer(_("Sorry, this activity is no longer available."), show_alert=True)
        return
    await query.answer()
    await show(query, *card)


# -- cancel an activity ------------------------------------------------------------------------


@router.callback_query(ManageCb.filter(F.action == ManageAction.CANCEL_ASK))
async def cancel_activity_asked(
    query: CallbackQuery,
    callback_data: ManageCb,
    session: AsyncSession,
    user: User | None,
    office: OfficeSettings,
) -> None:
    activity = await staff_activity(query, session, user, callback_data.activity_id)
    if activity is None:
        return
    await query.answer()
    builder = InlineKeyboardBuilder()
    builder.button(
        text="❌ " + _("Yes, cancel it and tell everyone"),
        callback_data=ManageCb(action=ManageAction.CANCEL, activity_id=activity.id),
    )
    builder.button(
        text="↩️ " + _("No, keep it"),
        callback_data=ManageCb(action=ManageAction.OPEN, activity_id=activity.id),
    )
    builder.adjust(1)
    await show(
        query,
        _("Cancel “{title}” on {when}? Everyone signed up or waiting will be told.").format(
            title=activity.title, when=format_when(activity.starts_at, office.tz)
        ),
        builder.as_markup(),
    )


@router.callback_query(ManageCb.filter(F.action == ManageAction.CANCEL))
async def cancel_activity_confirmed(
    query: CallbackQuery,
    callback_data: ManageCb,
    session: AsyncSession,
    user: User | None,
    office: OfficeSettings,
) -> None:
    if user is None or not is_staff(user):
        await query.answer(staff_only_text(), show_alert=True)
        return
    try:
        told = await cancel_activity(session, user, callback_data.activity_id, tz=office.timezone)
    except ActivityError as error:
        await query.answer(error_text(error), show_alert=True)
        return
    await query.answer()
    text = ngettext(
        "The activity is cancelled. {n} person will be told.",
        "The activity is cancelled. {n} people will be told.",
        told,
    ).format(n=told)
    await show(query, text)


# -- the guided form ---------------------------------------------------------------------------


def _q_title() -> str:
    return _("What is the activity called? (for example: Tai chi for beginners)")


def _q_category() -> str:
    return _("Which category is it?")


def _q_description() -> str:
    return _("Describe it in a few sentences (or tap Skip).")


def _q_place() -> str:
    return _("Where is it held?")


def _q_starts() -> str:
    return _("When does it start? Write the date and time, for example 2026-12-01 09:00")


def _q_ends() -> str:
    return _("When does it end? Write a time like 11:00 (or tap Skip).")


def _q_capacity() -> str:
    return _("How many places are there? Write a number.")


def _q_deadline() -> str:
    return _(
        "Until when can people sign up? Write the date and time, "
        "or tap Skip to allow sign-up until it starts."
    )


def _q_weeks() -> str:
    return _(
        "Does it repeat every week? Write the number of weeks (for example 12), or tap Only once."
    )


for _state, _prompt in (
    (CreateForm.title, _q_title),
    (CreateForm.category, _q_category),
    (CreateForm.description, _q_description),
    (CreateForm.place, _q_place),
    (CreateForm.starts, _q_starts),
    (CreateForm.ends, _q_ends),
    (CreateForm.capacity, _q_capacity),
    (CreateForm.deadline, _q_deadline),
    (CreateForm.weeks, _q_weeks),
):
    register_state_prompt(_state, _prompt)  # the navigation router's hints repeat the question


def _category_keyboard() -> Any:
    labels = [category_label(c) for c in Category]
    return form_keyboard(*[labels[i : i + 2] for i in range(0, len(labels), 2)])


async def _ask(message: Message, question: str, keyboard: Any = None) -> None:
    await message.answer(question, reply_markup=keyboard or form_keyboard())


def _hint(message: Message) -> str:
    if message.text and message.text.startswith("/"):
        return _("Let's finish this form first.")
    if not message.text:
        return _("Please write it as text.")
    return _("Sorry, I could not understand that.")


@router.callback_query(ManageCb.filter(F.action == ManageAction.NEW))
async def new_activity_chosen(query: CallbackQuery, state: FSMContext, user: User | None) -> None:
    if not is_staff(user):
        await query.answer(staff_only_text(), show_alert=True)
        return
    await query.answer()
    await state.clear()
    await state.set_state(CreateForm.title)
    if query.message is not None and query.bot is not None:
        await query.bot.send_message(
            query.message.chat.id, _q_title(), reply_markup=form_keyboard()
        )


def _text_ok(message: Message, limit: int) -> str | None:
    text = (message.text or "").strip()
    if not text or text.startswith("/") or len(text) > limit:
        return None
    return text


@router.message(CreateForm.title, F.text)
async def title_chosen(message: Message, state: FSMContext) -> None:
    text = _text_ok(message, TITLE_MAX)
    if text is None:
        await title_invalid(message)
        return
    await state.update_data(title=text)
    await state.set_state(CreateForm.category)
    await _ask(message, _q_category(), _category_keyboard())


@router.message(CreateForm.title)
async def title_invalid(message: Message) -> None:
    if message.text and len(message.text) > TITLE_MAX:
        hint = _("That is too long: at most {n} characters, please.").format(n=TITLE_MAX)
    else:
        hint = _hint(message)
    await message.answer(hint + "\n" + _q_title())


@router.message(CreateForm.category, F.text)
async def category_chosen(message: Message, state: FSMContext) -> None:
    category = category_by_label(message.text or "")
    if category is None:
        await message.answer(_("Please tap one of the category buttons."))
        return
    await state.update_data(category=category.value)
    await state.set_state(CreateForm.description)
    await _ask(message, _q_description(), form_keyboard([skip_text()]))


@router.message(CreateForm.category)
async def category_invalid(message: Message) -> None:
    await message.answer(_("Please tap one of the category buttons."))


@router.message(CreateForm.description, F.text)
async def description_chosen(message: Message, state: FSMContext) -> None:
    raw = message.text or ""
    if raw.strip() in _skip_texts():
        text = ""
    else:
        checked = _text_ok(message, DESCRIPTION_MAX)
        if checked is None:
            await description_invalid(message)
            return
        text = checked
    await state.update_data(description=text)
    await state.set_state(CreateForm.place)
    await _ask(message, _q_place())


@router.message(CreateForm.description)
async def description_invalid(message: Message) -> None:
    if message.text and len(message.text) > DESCRIPTION_MAX:
        hint = _("That is too long: at most {n} characters, please.").format(n=DESCRIPTION_MAX)
    else:
        hint = _hint(message)
    await message.answer(hint + "\n" + _q_description())


@router.message(CreateForm.place, F.text)
async def place_chosen(message: Message, state: FSMContext) -> None:
    text = _text_ok(message, PLACE_MAX)
    if text is None:
        await place_invalid(message)
        return
    await state.update_data(place=text)
    await state.set_state(CreateForm.starts)
    await _ask(message, _q_starts())


@router.message(CreateForm.place)
async def place_invalid(message: Message) -> None:
    await message.answer(_hint(message) + "\n" + _q_place())


@router.message(CreateForm.starts, F.text)
async def starts_chosen(message: Message, state: FSMContext, office: OfficeSettings) -> None:
    now = utcnow()
    starts_at = parse_local_datetime(message.text or "", office.tz, now)
    if starts_at is None:
        await starts_invalid(message)
        return
    if starts_at <= now:
        await message.answer(_("That time has already passed.") + "\n" + _q_starts())
        return
    await state.update_data(starts_at=starts_at.isoformat())
    await state.set_state(CreateForm.ends)
    await _ask(message, _q_ends(), form_keyboard([skip_text()]))


@router.message(CreateForm.starts)
async def starts_invalid(message: Message) -> None:
    await message.answer(_hint(message) + "\n" + _q_starts())


def _parse_end(text: str, starts_at: datetime, office: OfficeSettings) -> datetime | None:
    return parse_local_time_on(text, starts_at, office.tz) or parse_local_datetime(
        text, office.tz, starts_at
    )


@router.message(CreateForm.ends, F.text)
async def ends_chosen(message: Message, state: FSMContext, office: OfficeSettings) -> None:
    data = await state.get_data()
    starts_at = datetime.fromisoformat(data["starts_at"])
    text = (message.text or "").strip()
    ends_at = None
    if text not in _skip_texts():
        ends_at = _parse_end(text, starts_at, office)
        if ends_at is None:
            await ends_invalid(message)
            return
        if ends_at <= starts_at:
            await message.answer(_("It must end after it starts.") + "\n" + _q_ends())
            return
    await state.update_data(ends_at=ends_at.isoformat() if ends_at else None)
    await state.set_state(CreateForm.capacity)
    await _ask(message, _q_capacity(), form_keyboard(["10", "20", "30", "50"]))


@router.message(CreateForm.ends)
async def ends_invalid(message: Message) -> None:
    await message.answer(_hint(message) + "\n" + _q_ends())


def _parse_capacity(text: str) -> int | None:
    text = text.strip()
    if not text.isdigit() or not 1 <= int(text) <= 10_000:
        return None
    return int(text)


@router.message(CreateForm.capacity, F.text)
async def capacity_chosen(message: Message, state: FSMContext) -> None:
    capacity = _parse_capacity(message.text or "")
    if capacity is None:
        await capacity_invalid(message)
        return
    await state.update_data(capacity=capacity)
    await state.set_state(CreateForm.deadline)
    await _ask(message, _q_deadline(), form_keyboard([skip_text()]))


@router.message(CreateForm.capacity)
async def capacity_invalid(message: Message) -> None:
    await message.answer(_("Please write a whole number, for example 20.") + "\n" + _q_capacity())


@router.message(CreateForm.deadline, F.text)
async def deadline_chosen(message: Message, state: FSMContext, office: OfficeSettings) -> None:
    data = await state.get_data()
    starts_at = datetime.fromisoformat(data["starts_at"])
    text = (message.text or "").strip()
    deadline = None
    if text not in _skip_texts():
        deadline = parse_local_datetime(text, office.tz, utcnow())
        if deadline is None:
            await deadline_invalid(message)
            return
        if deadline > starts_at:
            await message.answer(
                _("Sign-up must close before the activity starts.") + "\n" + _q_deadline()
            )
            return
    await state.update_data(deadline=deadline.isoformat() if deadline else None)
    await state.set_state(CreateForm.weeks)
    await _ask(message, _q_weeks(), form_keyboard([once_text(), "4", "8", "12"]))


@router.message(CreateForm.deadline)
async def deadline_invalid(message: Message) -> None:
    await message.answer(_hint(message) + "\n" + _q_deadline())


def _draft(data: dict[str, Any]) -> ActivityDraft:
    return ActivityDraft(
        title=data["title"],
        category=Category(data["category"]),
        description=data.get("description", ""),
        place=data.get("place", ""),
        starts_at=datetime.fromisoformat(data["starts_at"]),
        ends_at=datetime.fromisoformat(data["ends_at"]) if data.get("ends_at") else None,
        capacity=int(data["capacity"]),
        signup_deadline_at=(
            datetime.fromisoformat(data["deadline"]) if data.get("deadline") else None
        ),
        weeks=int(data.get("weeks", 1)),
    )


def _summary(draft: ActivityDraft, office: OfficeSettings) -> str:
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


@router.message(CreateForm.weeks, F.text)
async def weeks_chosen(message: Message, state: FSMContext, office: OfficeSettings) -> None:
    text = (message.text or "").strip()
    if text == once_text():
        weeks = 1
    elif text.isdigit() and 1 <= int(text) <= SERIES_MAX_WEEKS:
        weeks = int(text)
    else:
        await weeks_invalid(message)
        return
    await state.update_data(weeks=weeks)
    await state.set_state(CreateForm.confirm)
    draft = _draft(await state.get_data())
    await _ask(message, _summary(draft, office), form_keyboard([create_text()]))


@router.message(CreateForm.weeks)
async def weeks_invalid(message: Message) -> None:
    await message.answer(
        _("Please write a number of weeks from 1 to {n}.").format(n=SERIES_MAX_WEEKS)
        + "\n"
        + _q_weeks()
    )


@router.message(CreateForm.confirm, F.text)
async def confirm_chosen(
    message: Message,
    state: FSMContext,
    session: AsyncSession,
    user: User | None,
    office: OfficeSettings,
) -> None:
    if (message.text or "").strip() != create_text():
        await confirm_invalid(message)
        return
    if user is None or not is_staff(user):
        await state.clear()
        await message.answer(staff_only_text())
        return
    draft = _draft(await state.get_data())
    try:
        created = await create_activities(session, user, draft)
    except ActivityError as error:
        await message.answer(error_text(error))
        return
    await state.clear()
    if len(created) == 1:
        text = _("Created: “{title}”. People can sign up now.").format(title=draft.title)
    else:  # a weekly series: say how many sessions (not a plural of the one-off message)
        text = ngettext(
            "Created: “{title}”, {n} weekly session. People can sign up now.",
            "Created: “{title}”, {n} weekly sessions. People can sign up now.",
            len(created),
        ).format(title=draft.title, n=len(created))
    await message.answer(text, reply_markup=main_menu_keyboard(user))


@router.message(CreateForm.confirm)
async def confirm_invalid(message: Message) -> None:
    await message.answer(
        _("Tap “Create” to save it, or “Back to menu” to drop it."),
        reply_markup=form_keyboard([create_text()]),
    )


# -- editing one field -------------------------------------------------------------------------


def field_names() -> dict[str, str]:
    return {
        "title": _("Title"),
        "category": _("Category"),
        "description": _("Description"),
        "place": _("Place"),
        "suits": _("Who it suits"),
        "bring": _("What to bring"),
        "starts_at": _("Start time"),
        "ends_at": _("End time"),
        "capacity": _("Number of places"),
        "signup_deadline_at": _("Sign-up deadline"),
    }


@router.callback_query(ManageCb.filter(F.action == ManageAction.EDIT))
async def edit_chosen(query: CallbackQuery, callback_data: ManageCb, user: User | None) -> None:
    if not is_staff(user):
        await query.answer(staff_only_text(), show_alert=True)
        return
    await query.answer()
    builder = InlineKeyboardBuilder()
    for key, name in field_names().items():
        builder.button(
            text=name, callback_data=EditCb(activity_id=callback_data.activity_id, field=key)
        )
    builder.button(
        text="⬅️ " + _("Back"),
        callback_data=ManageCb(action=ManageAction.OPEN, activity_id=callback_data.activity_id),
    )
    builder.adjust(2)
    await show(query, _("What would you like to change?"), builder.as_markup())


def _edit_question(field: str) -> str:
    questions = {
        "category": _q_category(),
        "starts_at": _q_starts(),
        "ends_at": _("When does it end? Write a time like 11:00."),
        "capacity": _q_capacity(),
        "signup_deadline_at": _("Until when can people sign up? Write the date and time."),
    }
    return questions.get(field) or _("Please write the new {field}.").format(
        field=field_names()[field]
    )


@router.callback_query(EditCb.filter())
async def edit_field_chosen(
    query: CallbackQuery,
    callback_data: EditCb,
    state: FSMContext,
    session: AsyncSession,
    user: User | None,
) -> None:
    activity = await staff_activity(query, session, user, callback_data.activity_id)
    if activity is None:
        return
    if callback_data.field not in field_names():
        await query.answer(_("Sorry, this activity is no longer available."), show_alert=True)
        return
    await query.answer()
    await state.set_state(EditForm.value)
    await state.update_data(activity_id=activity.id, field=callback_data.field)
    keyboard = _category_keyboard() if callback_data.field == "category" else form_keyboard()
    if query.message is not None and query.bot is not None:
        await query.bot.send_message(
            query.message.chat.id, _edit_question(callback_data.field), reply_markup=keyboard
        )


def _parse_value(field: str, text: str, starts_at: datetime, office: OfficeSettings) -> Any:
    """The typed value for `field`, or None if the text does not fit."""
    if field == "category":
        return category_by_label(text)
    if field in ("starts_at", "signup_deadline_at"):
        return parse_local_datetime(text, office.tz, utcnow())
    if field == "ends_at":
        return _parse_end(text, starts_at, office)
    if field == "capacity":
        return _parse_capacity(text)
    limit = {"title": TITLE_MAX, "place": PLACE_MAX, "description": DESCRIPTION_MAX}
    if not text or text.startswith("/") or len(text) > limit.get(field, SHORT_TEXT_MAX):
        return None
    return text


@router.message(EditForm.value, F.text)
async def value_chosen(
    message: Message,
    state: FSMContext,
    session: AsyncSession,
    user: User | None,
    office: OfficeSettings,
) -> None:
    data = await state.get_data()
    activity = await get_activity(session, int(data.get("activity_id", 0)))
    field = str(data.get("field", ""))
    if user is None or not is_staff(user) or activity is None or field not in field_names():
        await state.clear()
        await message.answer(_("Sorry, this activity is no longer available."))
        return
    value = _parse_value(field, (message.text or "").strip(), activity.starts_at, office)
    if value is None:
        await value_invalid(message, state)
        return
    try:
        activity, promoted = await update_activity(
            session, user, activity.id, field, value, tz=office.timezone
        )
    except ActivityError as error:
        await message.answer(error_text(error) + "\n" + _edit_question(field))
        return
    await state.clear()
    text = _("Saved.")
    if promoted:
        text += " " + ngettext(
            "{n} person moved up from the waiting list and was told.",
            "{n} people moved up from the waiting list and were told.",
            len(promoted),
        ).format(n=len(promoted))
    await message.answer(text, reply_markup=main_menu_keyboard(user))
    card = await staff_card(session, office, activity.id)
    if card is not None:
        await message.answer(card[0], reply_markup=card[1])


@router.message(EditForm.value)
async def value_invalid(message: Message, state: FSMContext) -> None:
    data = await state.get_data()
    field = str(data.get("field", "title"))
    hint = _hint(message)
    await message.answer(hint + "\n" + _edit_question(field if field in field_names() else "title"))


# -- import ------------------------------------------------------------------------------------


def import_help() -> str:
    return _(
        "Send the file (CSV or XLSX) as a document. The first row holds the column names:\n"
        "title, category, start, end, place, capacity, deadline, description, suits, bring, "
        "weeks\n"
        "(or in Chinese: 标题, 类别, 开始时间, 结束时间, 地点, 名额, 报名截止, 简介, 适合人群, "
        "携带物品, 每周重复).\n"
        "title, start and capacity are required. Times like 2026-12-01 09:00; the end may be "
        "just 11:00; weeks greater than 1 makes a weekly series."
    )


@router.callback_query(ManageCb.filter(F.action == ManageAction.IMPORT))
async def import_chosen(query: CallbackQuery, state: FSMContext, user: User | None) -> None:
    if not is_staff(user):
        await query.answer(staff_only_text(), show_alert=True)
        return
    await query.answer()
    await state.clear()
    await state.set_state(ImportForm.file)
    if query.message is not None and query.bot is not None:
        await query.bot.send_message(
            query.message.chat.id, import_help(), reply_markup=form_keyboard()
        )


def row_problem_text(problem: RowProblem) -> str:
    texts = {
        RowProblem.MISSING_TITLE: _("the title is missing"),
        RowProblem.TITLE_TOO_LONG: _("the title is too long"),
        RowProblem.TEXT_TOO_LONG: _("a text is too long"),
        RowProblem.UNKNOWN_CATEGORY: _("unknown category"),
        RowProblem.BAD_START: _("the start time is not a date and time"),
        RowProblem.START_IN_PAST: _("the start time has already passed"),
        RowProblem.BAD_END: _("the end time is not a time"),
        RowProblem.END_BEFORE_START: _("it ends before it starts"),
        RowProblem.BAD_CAPACITY: _("the number of places is not a whole number"),
        RowProblem.BAD_DEADLINE: _("the sign-up deadline is not a date and time"),
        RowProblem.DEADLINE_AFTER_START: _("the sign-up deadline is after the start"),
        RowProblem.BAD_WEEKS: _("the number of weeks is not between 1 and 52"),
    }
    return texts[problem]


def file_problem_text(problem: FileProblem, missing: list[str]) -> str:
    texts = {
        FileProblem.TOO_BIG: _("The file is too big (at most 2 MB)."),
        FileProblem.UNREADABLE: _("I could not read this file. Please send a CSV or XLSX file."),
        FileProblem.NO_HEADER: _("The first row must hold the column names."),
        FileProblem.MISSING_COLUMNS: _("These columns are missing: {columns}."),
        FileProblem.TOO_MANY_ROWS: _("Too many rows: at most 1000 at a time."),
    }
    return texts[problem].format(columns=", ".join(missing))


@router.message(ImportForm.file, F.document)
async def file_chosen(
    message: Message,
    state: FSMContext,
    session: AsyncSession,
    user: User | None,
    office: OfficeSettings,
) -> None:
    document = message.document
    if user is None or not is_staff(user) or document is None or message.bot is None:
        await state.clear()
        await message.answer(staff_only_text())
        return
    if document.file_size is not None and document.file_size > MAX_FILE_BYTES:
        await message.answer(file_problem_text(FileProblem.TOO_BIG, []))
        return
    buffer = await message.bot.download(document)
    data = buffer.read() if buffer is not None else b""
    now = utcnow()
    result = parse_activities(data, document.file_name or "", office.tz, now)
    if result.file_problem is not None:
        await message.answer(
            file_problem_text(result.file_problem, result.missing_columns) + "\n\n" + import_help()
        )
        return
    imported = 0
    errors = list(result.errors)
    for line, draft in result.drafts:
        try:
            imported += len(await create_activities(session, user, draft, now))
        except ActivityError:
            errors.append(_row_error(line))
    await state.clear()
    lines = [
        ngettext("Imported {n} activity.", "Imported {n} activities.", imported).format(n=imported)
    ]
    if errors:
        lines.append(
            ngettext(
                "{n} row was not imported:", "{n} rows were not imported:", len(errors)
            ).format(n=len(errors))
        )
        for error in sorted(errors, key=lambda e: e.line)[:50]:
            reason = row_problem_text(error.problem)
            if error.value:
                reason += f" ({error.value[:40]})"
            lines.append(_("Line {line}: {reason}").format(line=error.line, reason=reason))
        lines.append(_("Please correct these rows and send them again."))
    await message.answer("\n".join(lines), reply_markup=main_menu_keyboard(user))


def _row_error(line: int) -> RowError:
    return RowError(line, RowProblem.BAD_START)


@router.message(StateFilter(ImportForm.file))
async def file_invalid(message: Message) -> None:
    await message.answer(_("Please send the CSV or XLSX file as a document (📎 → File)."))
