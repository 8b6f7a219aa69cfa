"""📅 My activities: what I (and the relatives I act for) signed up for, with cancel; the
same cancel confirms the "I can't come after all" button of reminders and notices."""

from __future__ import annotations

from aiogram import F, Router
from aiogram.types import CallbackQuery, InlineKeyboardMarkup, Message
from aiogram.utils.callback_answer import CallbackAnswer
from aiogram.utils.i18n import gettext as _
from sqlalchemy.ext.asyncio import AsyncSession

from handlers.activities.callbacks import RegAction, RegCb
from handlers.activities.catalogue import card_view
from handlers.activities.keyboards import confirm_cancel_keyboard, my_activities_keyboard
from handlers.activities.texts import format_when
from handlers.common import updated_text
from handlers.menu import MenuButton
from handlers.script import for_reader
from handlers.ui import edit_or_send
from models.activities import (
    ActivityError,
    ActivityErrorCode,
    RegistrationStatus,
    cancel_registration,
    is_own,
    registration_seen_by,
    registrations_of,
    waitlist_position,
)
from models.base import utcnow
from models.office import OfficeSettings
from models.users import User


async def mine_view(
    session: AsyncSession, user: User, office: OfficeSettings
) -> tuple[str, InlineKeyboardMarkup | None]:
    registrations = await registrations_of(session, user, utcnow())
    if not registrations:
        return _("You have not signed up for any upcoming activity yet.") + "\n" + _(
            "Tap “🎨 Activities” to see what is on."
        ), None
    lines = [_("Your upcoming activities:"), ""]
    for number, registration in enumerate(registrations, start=1):
        activity = registration.activity
        when = format_when(activity.starts_at, office.tz)
        line = f"{number}. {when} {for_reader(activity.title)}"
        if not is_own(user, registration.profile_id):
            line += f" — {registration.profile.full_name}"
        if registration.status == RegistrationStatus.WAITLISTED:
            position = await waitlist_position(session, registration)
            line += "\n   ⏳ " + _("waiting list, number {n}").format(n=position)
        else:
            line += "\n   ✅ " + _("signed up")
        if activity.place:
            line += "\n   📍 " + for_reader(activity.place)
        lines.append(line)
    markup = my_activities_keyboard(list(enumerate(registrations, start=1)))
    return "\n".join(lines), markup


async def cmd_my_activities(
    message: Message, session: AsyncSession, user: User, office: OfficeSettings
) -> None:
    text, markup = await mine_view(session, user, office)
    await message.answer(text, reply_markup=markup)


async def cancel_asked(
    query: CallbackQuery,
    callback_data: RegCb,
    session: AsyncSession,
    user: User,
    office: OfficeSettings,
    callback_answer: CallbackAnswer,
) -> None:
    registration = await registration_seen_by(session, user, callback_data.registration_id)
    if registration.status == RegistrationStatus.CANCELLED:
        if callback_data.action == RegAction.ASK:  # a reminder or notice: nothing to refresh
            raise ActivityError(ActivityErrorCode.NOT_ACTIVE)
        # a screen shown before the change: it is refreshed in place, and says so (on a
        # phone the edited message may be far up the chat)
        if callback_data.action == RegAction.ASK_IN_LIST:
            text, markup = await mine_view(session, user, office)
        else:
            text, markup = await card_view(session, user, office, registration.activity_id)
        await edit_or_send(query, text, markup)
        callback_answer.text = updated_text()
        return
    activity = registration.activity
    own = is_own(user, registration.profile_id)
    # spoken to the person ("您") unless the place is a relative's
    if own:
        text = _("Cancel your place at “{title}” on {when}?")
    else:
        text = _("Cancel {name}'s place at “{title}” on {when}?")
    text = text.format(
        name=registration.profile.full_name,
        title=for_reader(activity.title),
        when=format_when(activity.starts_at, office.tz),
    )
    if query.bot is not None:  # a new message: the reminder above stays readable
        await query.bot.send_message(
            query.from_user.id, text, reply_markup=confirm_cancel_keyboard(registration.id, own)
        )


async def cancel_confirmed(
    query: CallbackQuery,
    callback_data: RegCb,
    session: AsyncSession,
    user: User,
    office: OfficeSettings,
    callback_answer: CallbackAnswer,
) -> None:
    registration, _promoted = await cancel_registration(
        session, user, callback_data.registration_id, tz=office.timezone
    )
    callback_answer.text = _("Cancelled.")
    if is_own(user, registration.profile_id):
        text = _("Your place at “{title}” is cancelled. Thank you for letting us know!")
    else:
        text = _("{name}'s place at “{title}” is cancelled. Thank you for letting us know!")
    await edit_or_send(
        query,
        text.format(
            title=for_reader(registration.activity.title), name=registration.profile.full_name
        ),
    )


async def cancel_declined(
    query: CallbackQuery, callback_data: RegCb, session: AsyncSession, user: User
) -> None:
    registration = await registration_seen_by(session, user, callback_data.registration_id)
    if is_own(user, registration.profile_id):
        await edit_or_send(query, _("Good, your place is kept. See you there!"))
        return
    await edit_or_send(
        query,
        _("Good, {name}'s place is kept.").format(name=registration.profile.full_name),
    )


def setup() -> Router:
    """For registered people: included under the capability's people router."""
    router = Router(name=__name__)
    router.message.register(cmd_my_activities, MenuButton("my_activities"))
    on = router.callback_query.register
    on(
        cancel_asked,
        RegCb.filter(F.action.in_({RegAction.ASK, RegAction.ASK_IN_LIST, RegAction.ASK_ON_CARD})),
    )
    on(cancel_confirmed, RegCb.filter(F.action == RegAction.CANCEL))
    on(cancel_declined, RegCb.filter(F.action == RegAction.KEEP))
    return router
