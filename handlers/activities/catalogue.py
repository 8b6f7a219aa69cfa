"""🎨 Activities: upcoming activities as a paged list of big buttons, a category filter and
the detail card with the sign-up button."""

from __future__ import annotations

from aiogram import F, Router
from aiogram.types import CallbackQuery, InlineKeyboardMarkup, Message
from aiogram.utils.i18n import gettext as _
from sqlalchemy.ext.asyncio import AsyncSession

from handlers.activities.callbacks import CatAction, CatalogueCb
from handlers.activities.common import may_browse, not_registered_text, show
from handlers.activities.keyboards import (
    PAGE_SIZE,
    catalogue_keyboard,
    categories_keyboard,
    category_name,
    details_keyboard,
    details_text,
)
from handlers.menu import MenuButton
from models.activities import (
    Category,
    confirmed_count,
    counts_for,
    get_activity,
    signup_open,
    upcoming_activities,
    waitlist_count,
    waitlist_counts_for,
)
from models.base import utcnow
from models.office import OfficeSettings
from models.users import User

router = Router(name=__name__)


def _category(value: str) -> Category | None:
    try:
        return Category(value) if value else None
    except ValueError:
        return None


async def catalogue_view(
    session: AsyncSession, office: OfficeSettings, page: int, category: str
) -> tuple[str, InlineKeyboardMarkup]:
    chosen = _category(category)
    now = utcnow()
    total = (await upcoming_activities(session, now, category=chosen, limit=1))[1]
    pages = max(1, -(-total // PAGE_SIZE))
    page = min(max(page, 0), pages - 1)
    activities, total = await upcoming_activities(
        session, now, category=chosen, offset=page * PAGE_SIZE, limit=PAGE_SIZE
    )
    ids = [a.id for a in activities]
    counts = await counts_for(session, ids)
    waits = await waitlist_counts_for(session, ids)
    heading = _("Upcoming activities") if chosen is None else category_name(chosen)
    if not activities:
        text = heading + "\n\n" + _("There are no activities to sign up for right now.")
    else:
        text = (
            heading
            + (f" ({page + 1}/{pages})" if pages > 1 else "")
            + "\n\n"
            + _("Tap an activity to see the details and sign up.")
        )
    markup = catalogue_keyboard(
        activities, counts, waits, office.tz, page, pages, chosen.value if chosen else ""
    )
    return text, markup


@router.message(MenuButton("activities"))
async def cmd_activities(
    message: Message, session: AsyncSession, user: User | None, office: OfficeSettings
) -> None:
    if not may_browse(user):
        await message.answer(not_registered_text())
        return
    text, markup = await catalogue_view(session, office, 0, "")
    await message.answer(text, reply_markup=markup)


@router.callback_query(CatalogueCb.filter(F.action == CatAction.PAGE))
async def page_chosen(
    query: CallbackQuery,
    callback_data: CatalogueCb,
    session: AsyncSession,
    user: User | None,
    office: OfficeSettings,
) -> None:
    await query.answer()
    if not may_browse(user):
        return
    text, markup = await catalogue_view(session, office, callback_data.page, callback_data.category)
    await show(query, text, markup)


@router.callback_query(CatalogueCb.filter(F.action == CatAction.FILTERS))
async def filters_chosen(query: CallbackQuery, user: User | None) -> None:
    await query.answer()
    if not may_browse(user):
        return
    await show(query, _("Which kind of activity would you like?"), categories_keyboard())


@router.callback_query(CatalogueCb.filter(F.action == CatAction.OPEN))
async def activity_chosen(
    query: CallbackQuery,
    callback_data: CatalogueCb,
    session: AsyncSession,
    user: User | None,
    office: OfficeSettings,
) -> None:
    activity = await get_activity(session, callback_data.activity_id)
    if activity is None or not may_browse(user):
        await query.answer(_("Sorry, this activity is no longer available."), show_alert=True)
        return
    await query.answer()
    confirmed = await confirmed_count(session, activity.id)
    waiting = await waitlist_count(session, activity.id)
    full = confirmed >= activity.capacity or waiting > 0
    text = details_text(activity, office.tz, confirmed, waiting)
    if not signup_open(activity, utcnow()) and not activity.is_cancelled:
        text += "\n\n" + _("Sign-up for this activity is closed.")
    markup = details_keyboard(
        activity,
        signup_open(activity, utcnow()),
        full,
        callback_data.page,
        callback_data.category,
    )
    await show(query, text, markup)
