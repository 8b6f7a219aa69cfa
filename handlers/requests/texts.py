"""Words of service requests: labels, the staff card, the history, and how times are shown.
Every function calls `_()` inside, so it speaks the current (recipient's) locale."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from aiogram.utils.i18n import gettext as _

from models.requests import (
    MAX_DESCRIPTION,
    MAX_REJECT_REASON,
    MAX_RESULT,
    ErrorCode,
    RequestError,
    ServiceRequest,
)


def category_label(value: str) -> str:
    labels = {
        "home_repair": "🔧 " + _("Home repair"),
        "medical": "🏥 " + _("Medical escort and appointments"),
        "errands": "🛒 " + _("Shopping and errands"),
        "paperwork": "📄 " + _("Benefits and paperwork"),
        "talk": "💬 " + _("Someone to talk to"),
        "care": "🧹 " + _("Cleaning and care"),
        "other": "📝 " + _("Other"),
        "unclassified": "❔ " + _("Not classified yet"),
    }
    return labels.get(value, value)


def status_label(value: str) -> str:
    labels = {
        "new": "🆕 " + _("Waiting to be taken"),
        "accepted": "👍 " + _("Accepted"),
        "in_progress": "🛠 " + _("In progress"),
        "done": "✅ " + _("Done"),
        "cancelled": "↩️ " + _("Cancelled"),
        "rejected": "⛔ " + _("Not accepted"),
    }
    return labels.get(value, value)


def weekday_label(weekday: int) -> str:
    names = [_("Mon"), _("Tue"), _("Wed"), _("Thu"), _("Fri"), _("Sat"), _("Sun")]
    return names[weekday]


def format_day(day: date) -> str:
    return (
        _("{month}/{day}").format(month=day.month, day=day.day) + " " + weekday_label(day.weekday())
    )


def format_when(local_iso: str | None) -> str:
    """A local time "2026-10-12T18:00" as "10月12日 周一 18:00" / "10/12 Mon 18:00"."""
    if not local_iso:
        return "—"
    moment = datetime.fromisoformat(local_iso)
    return f"{format_day(moment.date())} {moment:%H:%M}"


def preferred_label(preferred: str, preferred_date: str | None) -> str:
    if preferred == "date" and preferred_date:
        return format_day(date.fromisoformat(preferred_date))
    return {
        "today": _("Today"),
        "tomorrow": _("Tomorrow"),
        "this_week": _("This week"),
    }.get(preferred, preferred)


def urgency_label(urgent: bool) -> str:
    return "🚨 " + _("Urgent") if urgent else "🙂 " + _("Normal")


def media_line(photos: int, voices: int) -> str:
    parts = []
    if photos:
        parts.append(_("📷 photos: {n}").format(n=photos))
    if voices:
        parts.append(_("🎤 voice messages: {n}").format(n=voices))
    return ", ".join(parts)


def card_text(params: dict[str, Any]) -> str:
    """The staff card: who, where, what, when, status and promised times."""
    lines = []
    head = f"{params['number']} · {category_label(params['category'])}"
    if params.get("urgent"):
        head = "🚨 " + _("URGENT") + " · " + head
    if params.get("overdue"):
        head = "⏰ " + _("OVERDUE") + " · " + head
    lines.append(head)
    lines.append(_("Status: {status}").format(status=status_label(params["status"])))
    if params.get("assignee"):
        lines.append(_("Handled by: {name}").format(name=params["assignee"]))
    lines.append("")
    lines.append("👤 " + params["name"])
    if params.get("phone"):
        lines.append("📞 " + params["phone"])
    if params.get("address"):
        lines.append("🏠 " + params["address"])
    if params.get("grid"):
        lines.append(_("Grid: {grid}").format(grid=params["grid"]))
    if params.get("filed_by"):
        lines.append(_("Asked by: {name}").format(name=params["filed_by"]))
    lines.append("")
    if params.get("description"):
        lines.append(params["description"])
    media = media_line(int(params.get("photos") or 0), int(params.get("voices") or 0))
    if media:
        lines.append(media)
    lines.append(
        _("Preferred time: {when}").format(
            when=preferred_label(params["preferred"], params.get("preferred_date"))
        )
    )
    if params["status"] == "new":
        lines.append(_("Accept by: {when}").format(when=format_when(params.get("accept_due"))))
    if params["status"] in ("new", "accepted", "in_progress"):
        lines.append(_("Finish by: {when}").format(when=format_when(params.get("done_due"))))
    if params.get("reject_reason"):
        lines.append(_("Reason: {reason}").format(reason=params["reject_reason"]))
    if params.get("result"):
        lines.append(result_line(params["result"]))
    return "\n".join(lines)


def result_line(result: str) -> str:
    """The line of result staff added when finishing ("办理结果：已换好水龙头")."""
    return _("Result: {result}").format(result=result)


def event_line(action: str, actor: str | None, note: str | None) -> str:
    texts = {
        "created": _("Request made"),
        "accepted": _("Taken by {actor}"),
        "assigned": _("Given to {note}"),
        "started": _("Work started"),
        "done": _("Done"),
        "cancelled": _("Cancelled"),
        "rejected": _("Not accepted: {note}"),
        "rated": _("Rated {note} ⭐"),
        "commented": _("Comment added"),
    }
    return texts.get(action, action).format(actor=actor or "—", note=note or "")


def status_change_text(params: dict[str, Any]) -> str:
    """What the retiree and family are told when their request changes."""
    number = params["number"]
    category = category_label(params["category"])
    action = params["action"]
    if params.get("is_self"):
        subject = _("Your request {number} ({category})").format(number=number, category=category)
    else:
        subject = _("The request {number} for {name} ({category})").format(
            number=number, name=params["for_name"], category=category
        )
    assignee = params.get("assignee") or "—"
    texts = {
        "created": _("{subject} has been sent to the service office."),
        "accepted": _("{subject} has been accepted. {assignee} will take care of it."),
        "assigned": _("{subject} is now handled by {assignee}."),
        "started": _("{subject}: {assignee} has started working on it."),
        "done": _("{subject} is done."),
        "cancelled": _("{subject} has been cancelled."),
        "rejected": _("{subject} could not be accepted. Reason: {note}"),
    }
    text = texts.get(action, _("{subject} has been updated."))
    text = "🔔 " + text.format(subject=subject, assignee=assignee, note=params.get("note") or "")
    if action == "done" and params.get("note"):
        text += "\n" + result_line(params["note"])
    return text


def filed_for_you_text(params: dict[str, Any]) -> str:
    """To the retiree: who asked for help for them, and for what ("陈晓燕帮您提交了请求：…")."""
    if params.get("by_staff"):
        head = _("{by} of the service office asked for help for you: {category}")
    else:
        head = _("{by} asked the service office for help for you: {category}")
    lines = ["📝 " + head.format(by=params["by"], category=category_label(params["category"]))]
    description = params.get("description") or ""
    if description:
        lines.append("“" + description + ("…" if params.get("more") else "") + "”")
    lines.append(
        _("Number: {number}. You can follow it under “My requests”.").format(
            number=params["number"]
        )
    )
    return "\n".join(lines)


def duplicate_note(open_requests: list[ServiceRequest], for_name: str, own: bool) -> str:
    """Told to whoever files a request while one of the same kind is still open for that
    person: it may be the same thing asked twice. They decide; nothing is stopped."""
    first = open_requests[0]
    values = {
        "number": first.number,
        "status": status_label(first.status.value),
        "name": for_name,
    }
    if own:
        text = _(
            "Please note: you already have an open request of this kind, {number} ({status}). "
            "If it is the same thing, there is no need to ask again: you can follow it under "
            "“My requests”. If it is something else, just go on."
        )
    else:
        text = _(
            "Please note: {name} already has an open request of this kind, {number} "
            "({status}). If it is the same thing, there is no need to ask again: you can "
            "follow it under “My requests”. If it is something else, just go on."
        )
    return "ℹ️ " + text.format(**values)


def done_text() -> str:
    """The description step's button: everything is said."""
    return "✅ " + _("That's all, continue")


def staff_only_text() -> str:
    return _("Only office staff can use these buttons.")


def error_text(error: RequestError) -> str:
    """What a refusal of the domain says to the person (a toast for a button press, a message
    otherwise); the update was rolled back, so nothing changed and the form is as it was."""
    if error.code == ErrorCode.WRONG_STATUS and error.status is not None:
        return _("This request has already changed: it is now “{status}”.").format(
            status=status_label(error.status.value)
        )
    texts = {
        ErrorCode.NOT_FOUND: lambda: _("Sorry, I cannot find this request."),
        ErrorCode.FORBIDDEN: lambda: _("Sorry, you are not allowed to do that for this request."),
        ErrorCode.NOT_STAFF: lambda: _("That person is not a member of staff."),
        ErrorCode.ALREADY_RATED: lambda: _("Thank you, this request has already been rated."),
        ErrorCode.NOT_FOR_THIS_PERSON: lambda: _("Sorry, you cannot ask for help for this person."),
        ErrorCode.DESCRIPTION_MISSING: lambda: _(
            "Please first tell us what you need: type it, or send a voice message or a photo."
        ),
        ErrorCode.DESCRIPTION_TOO_LONG: lambda: _(
            "That is longer than I can take ({limit} characters). Please make it shorter, or "
            "send a voice message instead. What you sent before is kept."
        ).format(limit=MAX_DESCRIPTION),
        ErrorCode.TOO_MANY_ATTACHMENTS: lambda: _(
            "That is enough photos and voice messages, thank you. Please tap “{done}”."
        ).format(done=done_text()),
        ErrorCode.BAD_DATE: lambda: _("Sorry, this request could not be sent."),
        ErrorCode.REASON_MISSING: lambda: _("Please write why the request cannot be accepted."),
        ErrorCode.REASON_TOO_LONG: lambda: _(
            "Please make the reason shorter (at most {limit} characters)."
        ).format(limit=MAX_REJECT_REASON),
        ErrorCode.ALREADY_CLASSIFIED: lambda: _("A colleague has just set the type."),
        ErrorCode.NO_WORDS: lambda: _(
            "Thank you! Could you say it in a few words, or send a voice message? The service "
            "office needs to know what to bring. What you sent before is kept."
        ),
        ErrorCode.RESULT_TOO_LONG: lambda: _(
            "Please make it one short line (at most {limit} characters)."
        ).format(limit=MAX_RESULT),
    }
    text = texts.get(error.code)
    return text() if text is not None else _("Sorry, that did not work.")
