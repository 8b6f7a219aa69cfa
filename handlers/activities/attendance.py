"""Staff: the participant list with phone numbers, attendance by tapping names, the XLSX
export (sent back as a document) and the ratings with comments."""

from __future__ import annotations

from aiogram import F, Router
from aiogram.types import BufferedInputFile, CallbackQuery, InlineKeyboardMarkup
from aiogram.utils.i18n import gettext as _
from aiogram.utils.keyboard import InlineKeyboardBuilder
from sqlalchemy.ext.asyncio import AsyncSession

from handlers.activities.callbacks import AttendCb, ManageAction, ManageCb
from handlers.activities.common import error_text, show, staff_activity
from handlers.activities.keyboards import format_when
from models.activities import (
    Activity,
    ActivityError,
    Attendance,
    RegistrationStatus,
    feedback_summary,
    participants,
    toggle_attendance,
)
from models.activity_import import participants_xlsx
from models.office import OfficeSettings
from models.users import User

router = Router(name=__name__)

MARKS = {None: "⬜", Attendance.PRESENT: "✅", Attendance.ABSENT: "❌"}


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
    builder = InlineKeyboardBuilder()
    for registration in confirmed:
        builder.button(
            text=f"{MARKS[registration.attendance]} {registration.profile.full_name}",
            callback_data=AttendCb(activity_id=activity.id, registration_id=registration.id),
        )
    builder.adjust(2)
    tail = InlineKeyboardBuilder()
    tail.button(
        text="📊 " + _("Export as XLSX"),
        callback_data=ManageCb(action=ManageAction.EXPORT, activity_id=activity.id),
    )
    tail.button(
        text="⬅️ " + _("Back"),
        callback_data=ManageCb(action=ManageAction.OPEN, activity_id=activity.id),
    )
    tail.adjust(1)
    builder.attach(tail)
    return "\n".join(lines), builder.as_markup()


@router.callback_query(ManageCb.filter(F.action == ManageAction.PARTICIPANTS))
async def participants_chosen(
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
    await show(query, *await participants_view(session, activity, office))


@router.callback_query(AttendCb.filter())
async def attendance_tapped(
    query: CallbackQuery,
    callback_data: AttendCb,
    session: AsyncSession,
    user: User | None,
    office: OfficeSettings,
) -> None:
    activity = await staff_activity(query, session, user, callback_data.activity_id)
    if activity is None or user is None:
        return
    try:
        registration = await toggle_attendance(session, user, callback_data.registration_id)
    except ActivityError as error:
        await query.answer(error_text(error), show_alert=True)
        return
    if registration.activity_id != activity.id:
        await query.answer(_("Sorry, this activity is no longer available."), show_alert=True)
        return
    await query.answer(
        _("{name}: came").format(name=registration.profile.full_name)
        if registration.attendance == Attendance.PRESENT
        else _("{name}: did not come").format(name=registration.profile.full_name)
    )
    await show(query, *await participants_view(session, activity, office))


@router.callback_query(ManageCb.filter(F.action == ManageAction.EXPORT))
async def export_chosen(
    query: CallbackQuery,
    callback_data: ManageCb,
    session: AsyncSession,
    user: User | None,
    office: OfficeSettings,
) -> None:
    activity = await staff_activity(query, session, user, callback_data.activity_id)
    if activity is None or query.bot is None or query.message is None:
        return
    await query.answer()
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
        query.message.chat.id,
        BufferedInputFile(data, filename=filename),
        caption=_("Participants of “{title}”").format(title=activity.title),
    )


@router.callback_query(ManageCb.filter(F.action == ManageAction.FEEDBACK))
async def feedback_chosen(
    query: CallbackQuery,
    callback_data: ManageCb,
    session: AsyncSession,
    user: User | None,
) -> None:
    activity = await staff_activity(query, session, user, callback_data.activity_id)
    if activity is None:
        return
    await query.answer()
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
    builder = InlineKeyboardBuilder()
    builder.button(
        text="⬅️ " + _("Back"),
        callback_data=ManageCb(action=ManageAction.OPEN, activity_id=activity.id),
    )
    await show(query, text, builder.as_markup())
