"""📅 My activities: what I (and the relatives I act for) signed up for, with cancel; the
same cancel confirms the "I can't come after all" button of reminders and notices."""

from __future__ import annotations

from aiogram import F, Router
from aiogram.types import CallbackQuery, InlineKeyboardMarkup, Message
from aiogram.utils.i18n import gettext as _
from aiogram.utils.keyboard import InlineKeyboardBuilder
from sqlalchemy.ext.asyncio import AsyncSession

from handlers.activities.callbacks import RegAction, RegCb
from handlers.activities.common import error_text, may_browse, not_registered_text, show
from handlers.activities.keyboards import confirm_cancel_keyboard, format_when
from handlers.menu import MenuButton
from models.activities import (
    ActivityError,
    RegistrationStatus,
    cancel_registration,
    registration_seen_by,
    registrations_of,
    waitlist_position,
)
from models.base import utcnow
from models.office import OfficeSettings
from models.users import User

router = Router(name=__name__)


async def mine_view(
    session: AsyncSession, user: User, office: OfficeSettings
) -> tuple[str, InlineKeyboardMarkup | None]:
    registrations = await registrations_of(session, user, utcnow())
    if not registrations:
        return _("You have not signed up for any upcoming activity yet.") + "\n" + _(
            "Tap “🎨 Activities” to see what is on."
        ), None
    lines = [_("Your upcoming activities:"), ""]
    builder = InlineKeyboardBuilder()
    for number, registration in enumerate(registrations, start=1):
        activity = registration.activity
        line = f"{number}. {format_when(activity.starts_at, office.tz)} {activity.title}"
        if user.profile is None or registration.profile_id != user.profile.id:
            line += f" — {registration.profile.full_name}"
        if registration.status == RegistrationStatus.WAITLISTED:
            position = await waitlist_position(session, registration)
            line += "\n   ⏳ " + _("waiting list, number {n}").format(n=position)
        else:
            line += "\n   ✅ " + _("signed up")
        if activity.place:
            line += "\n   📍 " + activity.place
        lines.append(line)
        builder.button(
            text="❌ " + _("Cancel {number}. {title}").format(number=number, title=activity.title),
            callback_data=RegCb(action=RegAction.ASK, registration_id=registration.id),
        )
    builder.adjust(1)
    return "\n".join(lines), builder.as_markup()


@router.message(MenuButton("my_activities"))
async def cmd_my_activities(
    message: Message, session: AsyncSession, user: User | None, office: OfficeSettings
) -> None:
    if user is None or not may_browse(user):
        await message.answer(not_registered_text())
        return
    text, markup = await mine_view(session, user, office)
    await message.answer(text, reply_markup=markup)


@router.callback_query(RegCb.filter(F.action == RegAction.ASK))
async def cancel_asked(
    query: CallbackQuery,
    callback_data: RegCb,
    session: AsyncSession,
    user: User | None,
    office: OfficeSettings,
) -> None:
    if user is None:
        await query.answer(not_registered_text(), show_alert=True)
        return
    try:
        registration = await registration_seen_by(session, user, callback_data.registration_id)
    except ActivityError as error:
        await query.answer(error_text(error), show_alert=True)
        return
    if registration.status == RegistrationStatus.CANCELLED:
        await query.answer(_("This sign-up was already cancelled."), show_alert=True)
        return
    await query.answer()
    activity = registration.activity
    who = registration.profile.full_name
    text = _("Cancel {name}'s place at “{title}” on {when}?").format(
        name=who, title=activity.title, when=format_when(activity.starts_at, office.tz)
    )
    message = query.message
    if message is not None and query.bot is not None:
        # A new message: the reminder above stays readable.
        await query.bot.send_message(
            message.chat.id, text, reply_markup=confirm_cancel_keyboard(registration.id)
        )


@router.callback_query(RegCb.filter(F.action == RegAction.CANCEL))
async def cancel_confirmed(
    query: CallbackQuery,
    callback_data: RegCb,
    session: AsyncSession,
    user: User | None,
    office: OfficeSettings,
) -> None:
    if user is None:
        await query.answer(not_registered_text(), show_alert=True)
        return
    try:
        registration, _promoted = await cancel_registration(
            session, user, callback_data.registration_id, tz=office.timezone
        )
    except ActivityError as error:
        await query.answer(error_text(error), show_alert=True)
        return
    await query.answer(_("Cancelled."))
    await show(
        query,
        _("Your place at “{title}” is cancelled. Thank you for letting us know!").format(
            title=registration.activity.title
        ),
    )


@router.callback_query(RegCb.filter(F.action == RegAction.KEEP))
async def cancel_declined(query: CallbackQuery) -> None:
    await query.answer()
    await show(query, _("Good, your place is kept. See you there!"))
