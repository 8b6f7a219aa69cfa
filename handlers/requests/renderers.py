"""How service-request notices look, rendered in the recipient's language at send time.

Kinds: request.staff_card (the staff group's card, later edited in place: the outbox row's
`edit_of`), request.status (to the retiree and family), request.media (a photo or voice note
to the staff member handling it), request.assigned, request.overdue (reminder / escalation),
request.rate (the completion with its result and the stars), request.rate_reminder,
request.low_rating, request.cancelled_staff, request.filed_for_you (to the retiree: who asked
for them, and what); `renderers()` lists them.
"""

from __future__ import annotations

from typing import Any

from aiogram.utils.i18n import gettext as _

from handlers.notifications import Rendered, Renderer
from handlers.requests.keyboards import open_in_queue_keyboard, staff_card_keyboard, stars_keyboard
from handlers.requests.texts import (
    card_text,
    category_label,
    filed_for_you_text,
    result_line,
    status_change_text,
)
from models.notification_kinds import NotificationKind


def render_staff_card(params: dict[str, Any]) -> Rendered:
    return Rendered(card_text(params), staff_card_keyboard(params))


def render_status(params: dict[str, Any]) -> Rendered:
    return Rendered(status_change_text(params))


def render_media(params: dict[str, Any]) -> Rendered:
    caption = _("{number}: attachment {index} of {total}").format(
        number=params["number"], index=params["index"], total=params["total"]
    )
    if params["kind"] == "voice":
        return Rendered(caption, voice=params["file_id"])
    return Rendered(caption, photo=params["file_id"])


def render_assigned(params: dict[str, Any]) -> Rendered:
    head = "👥 " + _("{by} gave you this request:").format(by=params["by"])
    return Rendered(head + "\n\n" + card_text(params), open_in_queue_keyboard(params["request_id"]))


def render_overdue(params: dict[str, Any]) -> Rendered:
    if params["deadline"] == "accept":
        head = _("Nobody has taken this request yet, and the promised time has passed.")
    else:
        head = _("This request is not done yet, and the promised time has passed.")
    if params["stage"] == "escalate":
        head = "🚨 " + _("Escalation") + ": " + head
    else:
        head = "⏰ " + _("Reminder") + ": " + head
    return Rendered(head + "\n\n" + card_text(params), open_in_queue_keyboard(params["request_id"]))


def _rate_question(params: dict[str, Any]) -> str:
    category = category_label(params["category"])
    if params.get("is_self"):
        return _("Your request {number} ({category}) is done. How satisfied are you?").format(
            number=params["number"], category=category
        )
    return _("The request {number} for {name} ({category}) is done. How satisfied are you?").format(
        number=params["number"], name=params["for_name"], category=category
    )


def render_rate(params: dict[str, Any]) -> Rendered:
    """The one completion message the requester gets: done, the result, and the stars."""
    lines = ["✅ " + _rate_question(params)]
    if params.get("result"):
        lines.append(result_line(params["result"]))
    lines.append(_("Please tap the stars: 5 is best."))
    return Rendered("\n".join(lines), stars_keyboard(int(params["request_id"])))


def render_filed_for_you(params: dict[str, Any]) -> Rendered:
    return Rendered(filed_for_you_text(params))


def render_rate_reminder(params: dict[str, Any]) -> Rendered:
    text = (
        "⭐ "
        + _("A gentle reminder: we would be glad to hear how we did.")
        + "\n"
        + _rate_question(params)
    )
    return Rendered(text, stars_keyboard(int(params["request_id"])))


def render_low_rating(params: dict[str, Any]) -> Rendered:
    lines = [
        "⚠️ "
        + _("Low rating {stars} ⭐ for {number} ({category}).").format(
            stars=params["rating"],
            number=params["number"],
            category=category_label(params["category"]),
        ),
        _("Retiree: {name}").format(name=params["name"])
        + (f" · 📞 {params['phone']}" if params.get("phone") else ""),
        _("Handled by: {name}").format(name=params.get("assignee") or "—"),
    ]
    if params.get("comment"):
        lines.append(_("Comment: {comment}").format(comment=params["comment"]))
    if params.get("voice"):
        return Rendered("\n".join(lines), voice=params["voice"])
    return Rendered("\n".join(lines), open_in_queue_keyboard(params["request_id"]))


def render_cancelled_staff(params: dict[str, Any]) -> Rendered:
    return Rendered(
        "↩️ "
        + _("The requester cancelled {number}. No need to go any more.").format(
            number=params["number"]
        )
    )


def renderers() -> dict[NotificationKind, Renderer]:
    return {
        NotificationKind.REQUEST_STAFF_CARD: render_staff_card,
        NotificationKind.REQUEST_STATUS: render_status,
        NotificationKind.REQUEST_MEDIA: render_media,
        NotificationKind.REQUEST_ASSIGNED: render_assigned,
        NotificationKind.REQUEST_OVERDUE: render_overdue,
        NotificationKind.REQUEST_RATE: render_rate,
        NotificationKind.REQUEST_RATE_REMINDER: render_rate_reminder,
        NotificationKind.REQUEST_LOW_RATING: render_low_rating,
        NotificationKind.REQUEST_CANCELLED_STAFF: render_cancelled_staff,
        NotificationKind.REQUEST_FILED_FOR_YOU: render_filed_for_you,
    }
