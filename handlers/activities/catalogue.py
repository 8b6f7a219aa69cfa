"""🎨 Activities: upcoming activities as a paged list of big buttons, a category filter and
the detail card with the sign-up button."""

from __future__ import annotations

from aiogram import F, Router
from aiogram.types import CallbackQuery, InlineKeyboardMarkup, Message
from aiogram.utils.i18n import gettext as _
from sqlalchemy.ext.asyncio import AsyncSession

from handlers.activities.callbacks import CatAction, CatalogueCb
from handlers.activities.keyboards import (
    catalogue_keyboard,
    categories_keyboard,
    details_keyboard,
)
from handlers.activities.texts import category_name, details_text
from handlers.menu import MenuButton
from handlers.ui import edit_or_send
from models.activities import (
    ACTIVE,
    Category,
    RegistrationStatus,
    confirmed_count,
    counts_for,
    is_own,
    profiles_for,
    registration_for,
    require_activity,
    signup_open,
    upcoming_activities,
    waitlist_count,
    waitlist_counts_for,
    waitlist_position,
)
from models.base import utcnow
from models.office import OfficeSettings
from models.users import User

PAGE_SIZE = 6


async def catalogue_view(
    session: AsyncSession, office: OfficeSettings, page: int, category: Category | None
) -> tuple[str, InlineKeyboardMarkup]:
    now = utcnow()
    total = (await upcoming_activities(session, now, category=category, limit=1))[1]
    pages = max(1, -(-total // PAGE_SIZE))
    page = min(max(page, 0), pages - 1)
    activities, total = await upcoming_activities(
        session, now, category=category, offset=page * PAGE_SIZE, limit=PAGE_SIZE
    )
    ids = [a.id for a in activities]
    counts = await counts_for(session, ids)
    waits = await waitlist_counts_for(session, ids)
    heading = _("Upcoming activities") if category is None else category_name(category)
    if not activities:
        text = heading + "\n\n" + _("There are no activities to sign up for right now.")
    else:
        text = (
            heading
            + (f" ({page + 1}/{pages})" if pages > 1 else "")
            + "\n\n"
            + _("Tap an activity to see the details and sign up.")
        )
    markup = catalogue_keyboard(activities, counts, waits, office.tz, page, pages, category)
    return text, markup


async def cmd_activities(message: Message, session: AsyncSession, office: OfficeSettings) -> None:
    text, markup = await catalogue_view(session, office, 0, None)
    await message.answer(text, reply_markup=markup)


async def page_chosen(
    query: CallbackQuery,
    callback_data: CatalogueCb,
    session: AsyncSession,
    office: OfficeSettings,
) -> None:
    text, markup = await catalogue_view(session, office, callback_data.page, callback_data.category)
    await edit_or_send(query, text, markup)


async def filters_chosen(query: CallbackQuery) -> None:
    await edit_or_send(query, _("Which kind of activity would you like?"), categories_keyboard())


async def viewer_state(
    session: AsyncSession, user: User, activity_id: int
) -> tuple[list[str], list[tuple[int, str | None]], bool]:
    """The viewer's own sign-ups for the activity (and those of the relatives they act for):
    the lines the card shows, the cancel buttons, and whether anyone is left to sign up."""
    lines: list[str] = []
    cancels: list[tuple[int, str | None]] = []
    anyone_left = False
    for profile in await profiles_for(session, user):
        registration = await registration_for(session, activity_id, profile.id)
        if registration is None or registration.status not in ACTIVE:
            anyone_left = True
            continue
        name = None if is_own(user, profile.id) else profile.full_name
        if registration.status == RegistrationStatus.WAITLISTED:
            position = await waitlist_position(session, registration)
            line = "⏳ " + (
                _("You are number {n} on the waiting list")
                if name is None
                else _("{name} is number {n} on the waiting list")
            ).format(n=position, name=name)
        else:
            line = "✅ " + (
                _("You are signed up") if name is None else _("{name} is signed up")
            ).format(name=name)
        lines.append(line)
        cancels.append((registration.id, name))
    return lines, cancels, anyone_left or not lines


async def card_view(
    session: AsyncSession,
    user: User,
    office: OfficeSettings,
    activity_id: int,
    page: int = 0,
    category: Category | None = None,
) -> tuple[str, InlineKeyboardMarkup]:
    """An activity's card as this viewer sees it: their own state, "cancel" for a place they
    (or a relative) have, "sign up" only while someone they act for is not on it."""
    activity = await require_activity(session, activity_id)
    confirmed = await confirmed_count(session, activity.id)
    waiting = await waitlist_count(session, activity.id)
    full = confirmed >= activity.capacity or waiting > 0
    text = details_text(activity, office.tz, confirmed, waiting)
    open_now = signup_open(activity, utcnow())
    if not open_now and not activity.is_cancelled:
        text += "\n\n" + _("Sign-up for this activity is closed.")
    lines, cancels, anyone_left = await viewer_state(session, user, activity.id)
    if lines:
        text += "\n\n" + "\n".join(lines)
    if activity.is_cancelled or activity.starts_at <= utcnow():
        cancels = []
    markup = details_keyboard(activity, open_now and anyone_left, full, page, category, cancels)
    return text, markup


async def activity_chosen(
    query: CallbackQuery,
    callback_data: CatalogueCb,
    session: AsyncSession,
    user: User,
    office: OfficeSettings,
) -> None:
    text, markup = await card_view(
        session, user, office, callback_data.activity_id, callback_data.page, callback_data.category
    )
    await edit_or_send(query, text, markup)


def setup() -> Router:
    """For registered people: included under the capability's people router."""
    router = Router(name=__name__)
    router.message.register(cmd_activities, MenuButton("activities"))
    on = router.callback_query.register
    on(page_chosen, CatalogueCb.filter(F.action == CatAction.PAGE))
    on(filters_chosen, CatalogueCb.filter(F.action == CatAction.FILTERS))
    on(activity_chosen, CatalogueCb.filter(F.action == CatAction.OPEN))
    return router
