"""Staff: the participant list with phone numbers, attendance by tapping names, the XLSX
export (sent back as a document) and the ratings with comments."""

from __future__ import annotations

from aiogram import F, Router
from aiogram.types import BufferedInputFile, CallbackQuery, InlineKeyboardMarkup
from aiogram.utils.callback_answer import CallbackAnswer
from aiogram.utils.i18n import gettext as _
from sqlalchemy.ext.asyncio import AsyncSession

from handlers.activities.callbacks import AttendCb, ManageAction, ManageCb
from handlers.activities.keyboards import MARKS, back_to_card_keyboard, participants_keyboard
from handlers.activities.texts import format_when
from handlers.ui import edit_or_send
from models.activities import (
    Activity,
    Attendance,
    RegistrationStatus,
    feedback_summary,
    participants,
    require_activity,
    toggle_attendance,
)
from models.activity_import import participants_xlsx
from models.office import OfficeSettings
from models.users import User


async def participants_view(
    session: AsyncSession, activity: Activity, office: OfficeSettings
) -> tuple[str, InlineKeyboardMarkup]:
    regs = await participants(session, activity.id)
    confirmed = [r for r in regs if r.status == RegistrationStatus.CONFIRMED]
    waiting = [r for r in regs if r.status == RegistrationStatus.WAITLISTED]
    lines = [
        f"{activity.title} — {format_when(activity.starts_at, office.tz)}",
        _("Signed up: {n} of {capacity}").format(n=len(confirmed), capacity=activity.capacity),
        "",
    ]
    for number, registration in enumerate(confirmed, start=1):
        phone = registration.profile.phone or _("no phone")
        lines.append(
            f"{number}. {MARKS[registration.attendance]} {registration.profile.full_name}  {phone}"
        )
    if waiting:
        lines += ["", _("Waiting list:")]
        for number, registration in enumerate(waiting, start=1):
            phone = registration.profile.phone or _("no phone")
            lines.append(f"{number}. {registration.profile.full_name}  {phone}")
    if confirmed:
        lines += ["", _("Tap a name to mark: ✅ came, ❌ did not come.")]
    return "\n".join(lines), participants_keyboard(activity.id, confirmed)


async def participants_chosen(
    query: CallbackQuery, callback_data: ManageCb, session: AsyncSession, office: OfficeSettings
) -> None:
    activity = await require_activity(session, callback_data.activity_id)
    await edit_or_send(query, *await participants_view(session, activity, office))


async def attendance_tapped(
    query: CallbackQuery,
    callback_data: AttendCb,
    session: AsyncSession,
    user: User,
    office: OfficeSettings,
    callback_answer: CallbackAnswer,
) -> None:
    registration = await toggle_attendance(
        session, user, callback_data.activity_id, callback_data.registration_id
    )
    name = registration.profile.full_name
    callback_answer.text = (
        _("{name}: came").format(name=name)
        if registration.attendance == Attendance.PRESENT
        else _("{name}: did not come").format(name=name)
    )
    await edit_or_send(query, *await participants_view(session, registration.activity, office))


async def export_chosen(
    query: CallbackQuery, callback_data: ManageCb, session: AsyncSession, office: OfficeSettings
) -> None:
    activity = await require_activity(session, callback_data.activity_id)
    if query.bot is None:
        return
    regs = await participants(session, activity.id)
    headers = [
        _("No."),
        _("Name"),
        _("Phone"),
        _("Status"),
        _("Attendance"),
        _("Rating"),
        _("Comment"),
    ]
    labels = {
        "confirmed": _("signed up"),
        "waitlisted": _("waiting list"),
        "present": _("came"),
        "absent": _("did not come"),
    }
    title = f"{activity.title} {format_when(activity.starts_at, office.tz)}"
    data = participants_xlsx(title, headers, regs, labels)
    local = activity.starts_at.astimezone(office.tz)
    filename = f"activity-{activity.id}-{local:%Y%m%d}.xlsx"
    await query.bot.send_document(
        query.from_user.id,
        BufferedInputFile(data, filename=filename),
        caption=_("Participants of “{title}”").format(title=activity.title),
    )


async def feedback_chosen(
    query: CallbackQuery, callback_data: ManageCb, session: AsyncSession
) -> None:
    activity = await require_activity(session, callback_data.activity_id)
    summary = await feedback_summary(session, activity.id)
    if summary.count == 0:
        text = _("No ratings yet for “{title}”.").format(title=activity.title)
    else:
        text = _("“{title}”: average {average} ⭐ from {n} ratings.").format(
            title=activity.title, average=summary.average, n=summary.count
        )
        if summary.comments:
            text += "\n\n" + _("Comments:")
            for name, rating, comment in summary.comments:
                text += f"\n• {name} ({rating}⭐): {comment}"
    await edit_or_send(query, text, back_to_card_keyboard(activity.id))


def setup() -> Router:
    """Staff only: included under the capability's staff router."""
    router = Router(name=__name__)
    on = router.callback_query.register
    on(participants_chosen, ManageCb.filter(F.action == ManageAction.PARTICIPANTS))
    on(attendance_tapped, AttendCb.filter())
    on(export_chosen, ManageCb.filter(F.action == ManageAction.EXPORT))
    on(feedback_chosen, ManageCb.filter(F.action == ManageAction.FEEDBACK))
    return router
