"""Signing up: for oneself, or a family member for a linked relative (whom one may sign up is
the domain's one rule, `profiles_for` / `may_act_for`); the answer says "confirmed" or the
place on the waiting list."""

from __future__ import annotations

from aiogram import F, Router
from aiogram.types import CallbackQuery
from aiogram.utils.callback_answer import CallbackAnswer
from aiogram.utils.i18n import gettext as _
from sqlalchemy.ext.asyncio import AsyncSession

from handlers.activities.callbacks import SignupAction, SignupCb
from handlers.activities.catalogue import card_view, viewer_state
from handlers.activities.keyboards import cancel_signup_keyboard, who_goes_keyboard
from handlers.activities.texts import format_when
from handlers.common import updated_text
from handlers.script import for_reader
from handlers.ui import edit_or_send
from models.activities import is_own, profiles_for, require_activity, sign_up
from models.office import OfficeSettings
from models.users import User


async def signup_started(
    query: CallbackQuery,
    callback_data: SignupCb,
    session: AsyncSession,
    user: User,
    office: OfficeSettings,
    callback_answer: CallbackAnswer,
) -> None:
    activity = await require_activity(session, callback_data.activity_id)
    _lines, _cancels, anyone_left = await viewer_state(session, user, activity.id)
    if not anyone_left:  # a card shown before they signed up: refreshed, and it says so
        await edit_or_send(query, *await card_view(session, user, office, activity.id))
        callback_answer.text = updated_text()
        return
    profiles = await profiles_for(session, user)
    if not profiles:
        await edit_or_send(
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
    await edit_or_send(
        query,
        _("Who is going to “{title}”?").format(title=for_reader(activity.title)),
        who_goes_keyboard(activity.id, [(p, is_own(user, p.id)) for p in profiles]),
    )


async def profile_chosen(
    query: CallbackQuery,
    callback_data: SignupCb,
    session: AsyncSession,
    user: User,
    office: OfficeSettings,
) -> None:
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
    result = await sign_up(session, user, activity_id, profile_id, tz=office.timezone)
    registration = result.registration
    activity = registration.activity
    me = is_own(user, registration.profile_id)
    when = format_when(activity.starts_at, office.tz)
    if result.confirmed:
        text = (
            _("✅ You are signed up for “{title}”.")
            if me
            else _("✅ {name} is signed up for “{title}”.")
        ).format(title=for_reader(activity.title), name=registration.profile.full_name)
        text += "\n🕘 " + when
        if activity.place:
            text += "\n📍 " + for_reader(activity.place)
        text += "\n\n" + _("We will send a reminder before it starts.")
    else:
        text = (
            _("The activity is full. You are number {position} on the waiting list.")
            if me
            else _("The activity is full. {name} is number {position} on the waiting list.")
        ).format(position=result.position, name=registration.profile.full_name)
        text += "\n" + _("If a place frees up, we will tell you at once.")
    text += "\n" + _("You can see and cancel it under “My activities”.")
    name = None if me else registration.profile.full_name
    await edit_or_send(query, text, cancel_signup_keyboard(registration.id, name))


def setup() -> Router:
    """For registered people: included under the capability's people router."""
    router = Router(name=__name__)
    on = router.callback_query.register
    on(signup_started, SignupCb.filter(F.action == SignupAction.START))
    on(profile_chosen, SignupCb.filter(F.action == SignupAction.FOR))
    return router
