"""Texts and keyboards shared by the activity handlers: times in the office's time zone,
category names, the big-button list and the detail card."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from aiogram.types import InlineKeyboardMarkup
from aiogram.utils.i18n import gettext as _
from aiogram.utils.i18n import ngettext
from aiogram.utils.keyboard import InlineKeyboardBuilder

from handlers.activities.callbacks import (
    CatAction,
    CatalogueCb,
    RegAction,
    RegCb,
    SignupAction,
    SignupCb,
)
from models.activities import Activity, Category, signup_open
from models.base import utcnow

PAGE_SIZE = 6

CATEGORY_EMOJI = {
    Category.CALLIGRAPHY: "🖌",
    Category.MUSIC: "🎵",
    Category.FITNESS: "🧘",
    Category.LECTURE: "🩺",
    Category.OUTING: "🚌",
    Category.CELEBRATION: "🏮",
    Category.VOLUNTEERING: "🤝",
    Category.OTHER: "✨",
}


def category_name(category: Category) -> str:
    names = {
        Category.CALLIGRAPHY: _("Calligraphy and painting"),
        Category.MUSIC: _("Singing and music"),
        Category.FITNESS: _("Dance and fitness"),
        Category.LECTURE: _("Lectures and health talks"),
        Category.OUTING: _("Outings and visits"),
        Category.CELEBRATION: _("Holiday celebrations"),
        Category.VOLUNTEERING: _("Volunteering"),
        Category.OTHER: _("Other activities"),
    }
    return names[category]


def category_label(category: Category) -> str:
    return f"{CATEGORY_EMOJI[category]} {category_name(category)}"


def weekday_name(index: int) -> str:
    names = [_("Mon"), _("Tue"), _("Wed"), _("Thu"), _("Fri"), _("Sat"), _("Sun")]
    return names[index]


def format_when(moment: datetime, tz: ZoneInfo | str) -> str:
    """`12月1日（周二）09:00` / `12/1 (Tue) 09:00` in the office's time zone."""
    zone = ZoneInfo(tz) if isinstance(tz, str) else tz
    local = moment.astimezone(zone)
    return _("{month}/{day} ({weekday}) {time}").format(
        month=local.month,
        day=local.day,
        weekday=weekday_name(local.weekday()),
        time=local.strftime("%H:%M"),
    )


def format_time(moment: datetime, tz: ZoneInfo | str) -> str:
    zone = ZoneInfo(tz) if isinstance(tz, str) else tz
    return moment.astimezone(zone).strftime("%H:%M")


def format_span(activity: Activity, tz: ZoneInfo) -> str:
    text = format_when(activity.starts_at, tz)
    if activity.ends_at is not None:
        same_day = (
            activity.ends_at.astimezone(tz).date() == activity.starts_at.astimezone(tz).date()
        )
        end = format_time(activity.ends_at, tz) if same_day else format_when(activity.ends_at, tz)
        text += f" – {end}"
    return text


def places_left_text(activity: Activity, confirmed: int, waiting: int) -> str:
    left = activity.capacity - confirmed
    if left > 0 and waiting == 0:
        return ngettext("{n} place left", "{n} places left", left).format(n=left)
    return _("full, waitlist {n}").format(n=waiting)


def list_button_text(activity: Activity, tz: ZoneInfo, confirmed: int, waiting: int) -> str:
    local = activity.starts_at.astimezone(tz)
    if signup_open(activity, utcnow()):
        places = places_left_text(activity, confirmed, waiting)
    else:
        places = _("sign-up closed")
    return "{date} {time} · {title} · {places}".format(
        date=f"{local.month}/{local.day} {weekday_name(local.weekday())}",
        time=local.strftime("%H:%M"),
        title=activity.title,
        places=places,
    )


def catalogue_keyboard(
    activities: list[Activity],
    counts: dict[int, int],
    waits: dict[int, int],
    tz: ZoneInfo,
    page: int,
    pages: int,
    category: str,
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
            callback_data=CatalogueCb(action=CatAction.PAGE, category=category.value),
        )
    builder.adjust(1)
    return builder.as_markup()


def details_text(
    activity: Activity, tz: ZoneInfo, confirmed: int, waiting: int, *, staff: bool = False
) -> str:
    lines = [activity.title, ""]
    lines.append("🏷 " + category_name(activity.category))
    lines.append("🕘 " + format_span(activity, tz))
    if activity.place:
        lines.append("📍 " + activity.place)
    if activity.organiser is not None:
        lines.append("👤 " + _("Organiser: {name}").format(name=activity.organiser.display_name))
    lines.append(
        "👥 "
        + _("Places: {taken} of {capacity} taken").format(
            taken=confirmed, capacity=activity.capacity
        )
    )
    if waiting:
        lines.append("⏳ " + _("Waiting list: {n}").format(n=waiting))
    if activity.signup_deadline_at is not None:
        lines.append(
            "📝 " + _("Sign up by {when}").format(when=format_when(activity.signup_deadline_at, tz))
        )
    if activity.suits:
        lines.append("🙂 " + _("Suits: {text}").format(text=activity.suits))
    if activity.bring:
        lines.append("🎒 " + _("Please bring: {text}").format(text=activity.bring))
    if activity.description:
        lines += ["", activity.description]
    if activity.is_cancelled:
        lines += ["", "❌ " + _("This activity has been cancelled.")]
    return "\n".join(lines)


def details_keyboard(
    activity: Activity, can_sign_up: bool, full: bool, page: int, category: str
) -> InlineKeyboardMarkup:
    builder = InlineKeyboardBuilder()
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


def cant_come_keyboard(registration_id: int) -> InlineKeyboardMarkup:
    builder = InlineKeyboardBuilder()
    builder.button(
        text="🙅 " + _("I can't come after all"),
        callback_data=RegCb(action=RegAction.ASK, registration_id=registration_id),
    )
    return builder.as_markup()


def confirm_cancel_keyboard(registration_id: int) -> InlineKeyboardMarkup:
    builder = InlineKeyboardBuilder()
    builder.button(
        text="✅ " + _("Yes, cancel my place"),
        callback_data=RegCb(action=RegAction.CANCEL, registration_id=registration_id),
    )
    builder.button(
        text="↩️ " + _("No, keep it"),
        callback_data=RegCb(action=RegAction.KEEP, registration_id=registration_id),
    )
    builder.adjust(1)
    return builder.as_markup()
