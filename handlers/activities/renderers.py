"""How the activity notices look, rendered in the recipient's language at send time.

Kinds: act.promoted, act.reminder, act.cancelled, act.changed, act.feedback,
act.signed_up_for_you; `renderers()` lists them.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from aiogram.utils.i18n import gettext as _
from aiogram.utils.i18n import ngettext
from aiogram.utils.keyboard import InlineKeyboardBuilder

from handlers.activities.callbacks import RateCb
from handlers.activities.keyboards import cant_come_keyboard, format_when
from handlers.notifications import Rendered, Renderer
from handlers.script import for_reader
from models.notification_kinds import NotificationKind


def _when(params: dict[str, Any]) -> str:
    return format_when(datetime.fromisoformat(params["starts_at"]), params.get("tz") or "UTC")


def _place(params: dict[str, Any]) -> str:
    return "\n📍 " + for_reader(params["place"]) if params.get("place") else ""


def _title(params: dict[str, Any]) -> str:
    """The title as staff typed it, in the recipient's script (rendered in their locale)."""
    return for_reader(str(params["title"]))


def render_promoted(params: dict[str, Any]) -> Rendered:
    if params.get("self", True):
        head = _("Good news! A place has opened up and you are now signed up for “{title}”.")
    else:
        head = _("Good news! A place has opened up and {name} is now signed up for “{title}”.")
    text = (
        "🎉 "
        + head.format(title=_title(params), name=params["name"])
        + "\n🕘 "
        + _when(params)
        + _place(params)
        + "\n\n"
        + _("If you cannot come, please tap the button below so someone else can go.")
    )
    return Rendered(text, cant_come_keyboard(int(params["registration_id"])))


def render_reminder(params: dict[str, Any]) -> Rendered:
    hours = int(params.get("hours", 24))
    if hours >= 24 and hours % 24 == 0:
        soon = ngettext("in {n} day", "in {n} days", hours // 24).format(n=hours // 24)
    else:
        soon = ngettext("in {n} hour", "in {n} hours", hours).format(n=hours)
    if params.get("self", True):
        head = _("Reminder: “{title}” starts {soon}.")
    else:
        head = _("Reminder: “{title}” for {name} starts {soon}.")
    text = (
        "⏰ "
        + head.format(title=_title(params), name=params["name"], soon=soon)
        + "\n🕘 "
        + _when(params)
        + _place(params)
        + "\n\n"
        + _("If you cannot come, please tap the button below so someone else can go.")
    )
    return Rendered(text, cant_come_keyboard(int(params["registration_id"])))


def render_cancelled(params: dict[str, Any]) -> Rendered:
    if params.get("self", True):
        head = _("Sorry, “{title}” on {when} has been cancelled by the office.")
    else:
        head = _("Sorry, “{title}” on {when} ({name} was signed up) has been cancelled.")
    return Rendered(
        "❌ "
        + head.format(title=_title(params), when=_when(params), name=params["name"])
        + "\n"
        + _("You don't need to do anything.")
    )


def render_changed(params: dict[str, Any]) -> Rendered:
    head = _("Please note: “{title}” has changed.").format(title=_title(params))
    text = "📢 " + head + "\n🕘 " + _when(params) + _place(params)
    if params.get("name") and not params.get("self", True):
        text += "\n👤 " + params["name"]
    return Rendered(text, cant_come_keyboard(int(params["registration_id"])))


def render_feedback(params: dict[str, Any]) -> Rendered:
    if params.get("self", True):
        head = _("Thank you for coming to “{title}”! How did you like it?")
    else:
        head = _("Thank you for bringing {name} to “{title}”! How did they like it?")
    builder = InlineKeyboardBuilder()
    registration_id = int(params["registration_id"])
    for rating in range(1, 6):
        builder.button(
            text=f"{rating} " + "⭐" * rating,
            callback_data=RateCb(registration_id=registration_id, rating=rating),
        )
    builder.adjust(1)
    text = (
        "🌟 "
        + head.format(title=_title(params), name=params["name"])
        + "\n"
        + _("Tap a button: 1 = not good, 5 = very good.")
    )
    return Rendered(text, builder.as_markup())


def render_signed_up_for_you(params: dict[str, Any]) -> Rendered:
    if params.get("waitlisted"):
        head = _("{by} put you on the waiting list for “{title}” (number {position}).")
    else:
        head = _("{by} signed you up for “{title}”.")
    text = (
        "📝 "
        + head.format(by=params["by"], title=_title(params), position=params.get("position"))
        + "\n🕘 "
        + _when(params)
        + _place(params)
    )
    return Rendered(text, cant_come_keyboard(int(params["registration_id"])))


def renderers() -> dict[NotificationKind, Renderer]:
    return {
        NotificationKind.ACT_PROMOTED: render_promoted,
        NotificationKind.ACT_REMINDER: render_reminder,
        NotificationKind.ACT_CANCELLED: render_cancelled,
        NotificationKind.ACT_CHANGED: render_changed,
        NotificationKind.ACT_FEEDBACK: render_feedback,
        NotificationKind.ACT_SIGNED_UP_FOR_YOU: render_signed_up_for_you,
    }
