"""Signing up: for oneself, or a family member for a linked relative; the answer says
"confirmed" or the place on the waiting list."""

from __future__ import annotations

from aiogram import F, Router
from aiogram.types import CallbackQuery
from aiogram.utils.i18n import gettext as _
from aiogram.utils.keyboard import InlineKeyboardBuilder
from sqlalchemy.ext.asyncio import AsyncSession

from handlers.activities.callbacks import SignupAction, SignupCb
from handlers.activities.common import error_text, may_browse, not_registered_text, show
from handlers.activities.keyboards import format_when
from models.activities import ActivityError, get_activity, profiles_for, sign_up
from models.office import OfficeSettings
from models.users import User

router = Router(name=__name__)


@router.callback_query(SignupCb.filter(F.action == SignupAction.START))
async def signup_started(
    query: CallbackQuery,
    callback_data: SignupCb,
    session: AsyncSession,
    user: User | None,
    office: OfficeSettings,
) -> None:
    if user is None or not may_browse(user):
        await query.answer(not_registered_text(), show_alert=True)
        return
    activity = await get_activity(session, callback_data.activity_id)
    if activity is None:
        await query.answer(_("Sorry, this activity is no longer available."), show_alert=True)
        return
    profiles = await profiles_for(session, user)
    if not profiles:
        await query.answer()
        await show(
            query,
            _(
                "To sign up, the office needs to know who is coming. "
                "Please register as a retiree, or wait until your relative link is approved."
            ),
        )
        return
    if len(profiles) == 1:
        await _sign_up(query, session, user, office, activity.id, profiles[0].id)
        return
    await query.answer()
    builder = InlineKeyboardBuilder()
    for profile in profiles:
        label = _("Me") if user.profile is not None and profile.id == user.profile.id else None
        builder.button(
            text="👤 " + (label or profile.full_name),
            callback_data=SignupCb(
                action=SignupAction.FOR, activity_id=activity.id, profile_id=profile.id
            ),
        )
    builder.adjust(1)
    await show(
        query,
        _("Who is going to “{title}”?").format(title=activity.title),
        builder.as_markup(),
    )


@router.callback_query(SignupCb.filter(F.action == SignupAction.FOR))
async def profile_chosen(
    query: CallbackQuery,
    callback_data: SignupCb,
    session: AsyncSession,
    user: User | None,
    office: OfficeSettings,
) -> None:
    if user is None or not may_browse(user):
        await query.answer(not_registered_text(), show_alert=True)
        return
    await _sign_up(
        query, session, user, office, callback_data.activity_id, callback_data.profile_id
    )


async def _sign_up(
    query: CallbackQuery,
    session: AsyncSession,
    user: User,
    office: OfficeSettings,
    activity_id: int,
    profile_id: int,
) -> None:
    try:
        result = await sign_up(session, user, activity_id, profile_id, tz=office.timezone)
    except ActivityError as error:
        await query.answer(error_text(error), show_alert=True)
        return
    await query.answer()
    registration = result.registration
    activity = registration.activity
    me = registration.profile.user_id == user.id
    when = format_when(activity.starts_at, office.tz)
    if result.confirmed:
        text = (
            _("✅ You are signed up for “{title}”.")
            if me
            else _("✅ {name} is signed up for “{title}”.")
        ).format(title=activity.title, name=registration.profile.full_name)
        text += "\n🕘 " + when
        if activity.place:
            text += "\n📍 " + activity.place
        text += "\n\n" + _("We will send a reminder before it starts.")
    else:
        text = (
            _("The activity is full. You are number {position} on the waiting list.")
            if me
            else _("The activity is full. {name} is number {position} on the waiting list.")
        ).format(position=result.position, name=registration.profile.full_name)
        text += "\n" + _("If a place frees up, we will tell you at once.")
    text += "\n" + _("You can see and cancel it under “My activities”.")
    await show(query, text)
