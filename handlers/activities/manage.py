"""🗓 Manage activities (staff): the list (upcoming and the last two weeks), the staff card,
and calling an activity off. Every handler here is under the staff router (`IsStaff`)."""

from __future__ import annotations

from datetime import timedelta

from aiogram import F, Router
from aiogram.types import CallbackQuery, InlineKeyboardMarkup, Message
from aiogram.utils.i18n import gettext as _
from aiogram.utils.i18n import ngettext
from sqlalchemy.ext.asyncio import AsyncSession

from handlers.activities.callbacks import ManageAction, ManageCb
from handlers.activities.keyboards import (
    cancel_activity_keyboard,
    manage_keyboard,
    staff_card_keyboard,
)
from handlers.activities.texts import details_text, format_when
from handlers.menu import MenuButton
from handlers.ui import edit_or_send
from models.activities import (
    Activity,
    activity_to_change,
    cancel_activity,
    confirmed_count,
    counts_for,
    require_activity,
    upcoming_activities,
    waitlist_count,
    waitlist_counts_for,
)
from models.base import utcnow
from models.office import OfficeSettings
from models.users import User

MANAGE_PAGE = 8
RECENT = timedelta(days=14)  # ended activities stay in the list for attendance and feedback


async def manage_view(
    session: AsyncSession, office: OfficeSettings, page: int
) -> tuple[str, InlineKeyboardMarkup]:
    now = utcnow()
    total = (await upcoming_activities(session, now, since=now - RECENT, limit=1))[1]
    pages = max(1, -(-total // MANAGE_PAGE))
    page = min(max(page, 0), pages - 1)
    activities, _total = await upcoming_activities(
        session, now, since=now - RECENT, offset=page * MANAGE_PAGE, limit=MANAGE_PAGE
    )
    ids = [a.id for a in activities]
    counts = await counts_for(session, ids)
    waits = await waitlist_counts_for(session, ids)
    rows = []
    for activity in activities:
        local = activity.starts_at.astimezone(office.tz)
        mark = "✔️ " if activity.starts_at <= now else ""
        label = f"{mark}{local.month}/{local.day} {local:%H:%M} {activity.title} · "
        label += f"{counts.get(activity.id, 0)}/{activity.capacity}"
        if waits.get(activity.id):
            label += f" (+{waits[activity.id]})"
        rows.append((label, activity.id))
    text = _("Activities (upcoming and the last two weeks):")
    if not activities:
        text = _("No activities yet. Create one, or import a CSV/XLSX file.")
    return text, manage_keyboard(rows, page, pages)


async def staff_card(
    session: AsyncSession, office: OfficeSettings, activity: Activity, page: int = 0
) -> tuple[str, InlineKeyboardMarkup]:
    await session.refresh(activity)
    confirmed = await confirmed_count(session, activity.id)
    waiting = await waitlist_count(session, activity.id)
    text = details_text(activity, office.tz, confirmed, waiting)
    return text, staff_card_keyboard(activity.id, page, activity.is_closed(utcnow()))


async def cmd_manage(message: Message, session: AsyncSession, office: OfficeSettings) -> None:
    text, markup = await manage_view(session, office, 0)
    await message.answer(text, reply_markup=markup)


async def list_chosen(
    query: CallbackQuery, callback_data: ManageCb, session: AsyncSession, office: OfficeSettings
) -> None:
    await edit_or_send(query, *await manage_view(session, office, callback_data.page))


async def activity_chosen(
    query: CallbackQuery, callback_data: ManageCb, session: AsyncSession, office: OfficeSettings
) -> None:
    activity = await require_activity(session, callback_data.activity_id)
    await edit_or_send(query, *await staff_card(session, office, activity, callback_data.page))


async def cancel_asked(
    query: CallbackQuery, callback_data: ManageCb, session: AsyncSession, office: OfficeSettings
) -> None:
    activity = await activity_to_change(session, callback_data.activity_id, utcnow())
    await edit_or_send(
        query,
        _("Cancel “{title}” on {when}? Everyone signed up or waiting will be told.").format(
            title=activity.title, when=format_when(activity.starts_at, office.tz)
        ),
        cancel_activity_keyboard(activity.id),
    )


async def cancel_confirmed(
    query: CallbackQuery,
    callback_data: ManageCb,
    session: AsyncSession,
    user: User,
    office: OfficeSettings,
) -> None:
    told = await cancel_activity(session, user, callback_data.activity_id, tz=office.timezone)
    text = ngettext(
        "The activity is cancelled. {n} person will be told.",
        "The activity is cancelled. {n} people will be told.",
        told,
    ).format(n=told)
    await edit_or_send(query, text)


def setup() -> Router:
    """Staff only: included under the capability's staff router."""
    router = Router(name=__name__)
    router.message.register(cmd_manage, MenuButton("manage_activities"))
    on = router.callback_query.register
    on(list_chosen, ManageCb.filter(F.action == ManageAction.LIST))
    on(activity_chosen, ManageCb.filter(F.action == ManageAction.OPEN))
    on(cancel_asked, ManageCb.filter(F.action == ManageAction.CANCEL_ASK))
    on(cancel_confirmed, ManageCb.filter(F.action == ManageAction.CANCEL))
    return router
