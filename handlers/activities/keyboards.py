"""The keyboards of the activity screens, built per call (labels through `_()` inside)."""

from __future__ import annotations

from collections.abc import Sequence
from zoneinfo import ZoneInfo

from aiogram.types import InlineKeyboardMarkup, ReplyKeyboardMarkup
from aiogram.utils.i18n import gettext as _
from aiogram.utils.keyboard import InlineKeyboardBuilder

from handlers.activities.callbacks import (
    AttendCb,
    CatAction,
    CatalogueCb,
    EditCb,
    ManageAction,
    ManageCb,
    RegAction,
    RegCb,
    SignupAction,
    SignupCb,
)
from handlers.activities.texts import (
    category_label,
    create_text,
    field_name,
    format_when,
    places_left_text,
    weekday_name,
)
from handlers.common import form_keyboard
from handlers.script import for_reader
from models.activities import (
    Activity,
    ActivityField,
    Attendance,
    Category,
    Registration,
    signup_open,
)
from models.base import utcnow
from models.users import RetireeProfile

# The notification renderers take these two from here.
__all__ = ["cant_come_keyboard", "format_when"]

MARKS = {None: "⬜", Attendance.PRESENT: "✅", Attendance.ABSENT: "❌"}


# -- the catalogue (retirees and families) ------------------------------------------------------


def list_button_text(activity: Activity, tz: ZoneInfo, confirmed: int, waiting: int) -> str:
    local = activity.starts_at.astimezone(tz)
    if signup_open(activity, utcnow()):
        places = places_left_text(activity, confirmed, waiting)
    else:
        places = _("sign-up closed")
    return "{date} {time} · {title} · {places}".format(
        date=f"{local.month}/{local.day} {weekday_name(local.weekday())}",
        time=local.strftime("%H:%M"),
        title=for_reader(activity.title),
        places=places,
    )


def catalogue_keyboard(
    activities: list[Activity],
    counts: dict[int, int],
    waits: dict[int, int],
    tz: ZoneInfo,
    page: int,
    pages: int,
    category: Category | None,
) -> InlineKeyboardMarkup:
    builder = InlineKeyboardBuilder()
    for activity in activities:
        builder.button(
            text=list_button_text(
                activity, tz, counts.get(activity.id, 0), waits.get(activity.id, 0)
            ),
            callback_data=CatalogueCb(
                action=CatAction.OPEN, activity_id=activity.id, page=page, category=category
            ),
        )
    builder.adjust(1)
    nav = []
    if page > 0:
        nav.append(
            (
                "◀️ " + _("Previous"),
                CatalogueCb(action=CatAction.PAGE, page=page - 1, category=category),
            )
        )
    if page + 1 < pages:
        nav.append(
            ("▶️ " + _("Next"), CatalogueCb(action=CatAction.PAGE, page=page + 1, category=category))
        )
    if nav:
        nav_builder = InlineKeyboardBuilder()
        for text, data in nav:
            nav_builder.button(text=text, callback_data=data)
        builder.attach(nav_builder)
    filter_builder = InlineKeyboardBuilder()
    filter_builder.button(
        text="🏷 " + _("Choose a category"),
        callback_data=CatalogueCb(action=CatAction.FILTERS, category=category),
    )
    builder.attach(filter_builder)
    return builder.as_markup()


def categories_keyboard() -> InlineKeyboardMarkup:
    builder = InlineKeyboardBuilder()
    builder.button(
        text="📋 " + _("All activities"), callback_data=CatalogueCb(action=CatAction.PAGE)
    )
    for category in Category:
        builder.button(
            text=category_label(category),
            callback_data=CatalogueCb(action=CatAction.PAGE, category=category),
        )
    builder.adjust(1)
    return builder.as_markup()


def details_keyboard(
    activity: Activity,
    can_sign_up: bool,
    full: bool,
    page: int,
    category: Category | None,
    cancels: Sequence[tuple[int, str | None]] = (),
) -> InlineKeyboardMarkup:
    """`cancels`: the viewer's own sign-ups here (registration id, and the relative's name
    or None for the viewer's own), each with its cancel button."""
    builder = InlineKeyboardBuilder()
    for registration_id, name in cancels:
        builder.button(
            text="❌ "
            + (_("Cancel my sign-up") if name is None else _("Cancel {name}'s sign-up")).format(
                name=name
            ),
            callback_data=RegCb(action=RegAction.ASK_ON_CARD, registration_id=registration_id),
        )
    if can_sign_up:
        builder.button(
            text="📝 " + _("Join the waiting list") if full else "✅ " + _("Sign up"),
            callback_data=SignupCb(action=SignupAction.START, activity_id=activity.id),
        )
    builder.button(
        text="⬅️ " + _("Back to the list"),
        callback_data=CatalogueCb(action=CatAction.PAGE, page=page, category=category),
    )
    builder.adjust(1)
    return builder.as_markup()


def cancel_signup_keyboard(registration_id: int, name: str | None) -> InlineKeyboardMarkup:
    """Under a sign-up's confirmation: its cancel button, as on the activity's card."""
    builder = InlineKeyboardBuilder()
    builder.button(
        text="❌ "
        + (_("Cancel my sign-up") if name is None else _("Cancel {name}'s sign-up")).format(
            name=name
        ),
        callback_data=RegCb(action=RegAction.ASK_ON_CARD, registration_id=registration_id),
    )
    return builder.as_markup()


def who_goes_keyboard(
    activity_id: int, profiles: list[tuple[RetireeProfile, bool]]
) -> InlineKeyboardMarkup:
    """One button per person the user may sign up; `True` marks the user's own profile."""
    builder = InlineKeyboardBuilder()
    for profile, own in profiles:
        builder.button(
            text="👤 " + (_("Me") if own else profile.full_name),
            callback_data=SignupCb(
                action=SignupAction.FOR, activity_id=activity_id, profile_id=profile.id
            ),
        )
    builder.adjust(1)
    return builder.as_markup()


def cant_come_keyboard(registration_id: int) -> InlineKeyboardMarkup:
    builder = InlineKeyboardBuilder()
    builder.button(
        text="🙅 " + _("I can't come after all"),
        callback_data=RegCb(action=RegAction.ASK, registration_id=registration_id),
    )
    return builder.as_markup()


def confirm_cancel_keyboard(registration_id: int, own: bool = True) -> InlineKeyboardMarkup:
    """ "Yes, cancel my place" for one's own place; "Yes, cancel the place" for a relative's."""
    builder = InlineKeyboardBuilder()
    builder.button(
        text="✅ " + (_("Yes, cancel my place") if own else _("Yes, cancel the place")),
        callback_data=RegCb(action=RegAction.CANCEL, registration_id=registration_id),
    )
    builder.button(
        text="↩️ " + _("No, keep it"),
        callback_data=RegCb(action=RegAction.KEEP, registration_id=registration_id),
    )
    builder.adjust(1)
    return builder.as_markup()


def my_activities_keyboard(numbered: list[tuple[int, Registration]]) -> InlineKeyboardMarkup:
    builder = InlineKeyboardBuilder()
    for number, registration in numbered:
        builder.button(
            text="❌ "
            + _("Cancel {number}. {title}").format(
                number=number, title=for_reader(registration.activity.title)
            ),
            callback_data=RegCb(action=RegAction.ASK_IN_LIST, registration_id=registration.id),
        )
    builder.adjust(1)
    return builder.as_markup()


# -- staff -------------------------------------------------------------------------------------


def manage_keyboard(rows: list[tuple[str, int]], page: int, pages: int) -> InlineKeyboardMarkup:
    """The staff list: one button per (label, activity id), paging, new and import."""
    builder = InlineKeyboardBuilder()
    for label, activity_id in rows:
        builder.button(
            text=label,
            callback_data=ManageCb(action=ManageAction.OPEN, activity_id=activity_id, page=page),
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
    return builder.as_markup()


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


def cancel_activity_keyboard(activity_id: int) -> InlineKeyboardMarkup:
    builder = InlineKeyboardBuilder()
    builder.button(
        text="❌ " + _("Yes, cancel it and tell everyone"),
        callback_data=ManageCb(action=ManageAction.CANCEL, activity_id=activity_id),
    )
    builder.button(
        text="↩️ " + _("No, keep it"),
        callback_data=ManageCb(action=ManageAction.OPEN, activity_id=activity_id),
    )
    builder.adjust(1)
    return builder.as_markup()


def back_to_card_keyboard(activity_id: int) -> InlineKeyboardMarkup:
    builder = InlineKeyboardBuilder()
    builder.button(
        text="⬅️ " + _("Back"),
        callback_data=ManageCb(action=ManageAction.OPEN, activity_id=activity_id),
    )
    return builder.as_markup()


def edit_fields_keyboard(activity_id: int) -> InlineKeyboardMarkup:
    builder = InlineKeyboardBuilder()
    for field in ActivityField:
        builder.button(
            text=field_name(field), callback_data=EditCb(activity_id=activity_id, field=field)
        )
    builder.button(
        text="⬅️ " + _("Back"),
        callback_data=ManageCb(action=ManageAction.OPEN, activity_id=activity_id),
    )
    builder.adjust(2)
    return builder.as_markup()


def participants_keyboard(activity_id: int, confirmed: list[Registration]) -> InlineKeyboardMarkup:
    builder = InlineKeyboardBuilder()
    for registration in confirmed:
        builder.button(
            text=f"{MARKS[registration.attendance]} {registration.profile.full_name}",
            callback_data=AttendCb(activity_id=activity_id, registration_id=registration.id),
        )
    builder.adjust(2)
    tail = InlineKeyboardBuilder()
    tail.button(
        text="📊 " + _("Export as XLSX"),
        callback_data=ManageCb(action=ManageAction.EXPORT, activity_id=activity_id),
    )
    tail.button(
        text="⬅️ " + _("Back"),
        callback_data=ManageCb(action=ManageAction.OPEN, activity_id=activity_id),
    )
    tail.adjust(1)
    builder.attach(tail)
    return builder.as_markup()


# -- the staff form (reply keyboards) -----------------------------------------------------------


def category_reply_keyboard() -> ReplyKeyboardMarkup:
    labels = [category_label(c) for c in Category]
    return form_keyboard(*[labels[i : i + 2] for i in range(0, len(labels), 2)])


def review_keyboard(change_labels: list[str]) -> ReplyKeyboardMarkup:
    """“Create”, then a button per answer to change it."""
    changes = ["✏️ " + label for label in change_labels]
    return form_keyboard([create_text()], *[changes[i : i + 3] for i in range(0, len(changes), 3)])
