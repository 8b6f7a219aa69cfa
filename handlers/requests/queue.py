"""The staff member's private request queue: filters (mine, my grids, not taken, overdue, all
open), opening one request as a card (its buttons are the card's, handlers/requests/card.py,
the photos and voice notes too). Under the capability's staff router (`IsStaff`
once); the overdue mark is the domain's (`ServiceRequest.is_overdue`).
"""

from __future__ import annotations

from aiogram import F, Router
from aiogram.fsm.context import FSMContext
from aiogram.types import CallbackQuery, InlineKeyboardMarkup, Message
from aiogram.utils.callback_answer import CallbackAnswer
from aiogram.utils.i18n import I18n
from aiogram.utils.i18n import gettext as _
from sqlalchemy.ext.asyncio import AsyncSession

from handlers.menu import MenuButton, menu_item
from handlers.requests.callbacks import QueueCb, StaffAction, StaffCb, stale
from handlers.requests.card import render_card
from handlers.requests.keyboards import queue_keyboard
from handlers.requests.texts import category_label
from handlers.ui import edit_or_send, message_of
from models.base import utcnow
from models.office import OfficeSettings
from models.requests import QueueFilter, get_request, staff_queue
from models.users import Role, User

REQUEST_QUEUE_ITEM = menu_item(
    "request_queue",
    "🗂",
    lambda: _("Request queue"),
    {Role.STAFF, Role.SUPERVISOR, Role.ADMIN},
    order=20,
)


def _filter_title(queue_filter: QueueFilter) -> str:
    return {
        QueueFilter.MINE: _("My requests in hand"),
        QueueFilter.GRIDS: _("Requests from my grids"),
        QueueFilter.UNASSIGNED: _("Not yet taken"),
        QueueFilter.OVERDUE: _("Overdue"),
        QueueFilter.ALL: _("All open requests"),
    }[queue_filter]


async def _queue_view(
    session: AsyncSession, user: User, queue_filter: QueueFilter
) -> tuple[str, InlineKeyboardMarkup]:
    now = utcnow()
    requests = await staff_queue(session, user, queue_filter, now)
    lines = ["🗂 " + _filter_title(queue_filter)]
    if not requests:
        lines.append(_("Nothing here right now."))
    items = []
    for request in requests:
        mark = "⏰ " if request.is_overdue(now) else ""
        urgent = "🚨 " if request.urgent else ""
        label = (
            f"{mark}{urgent}{request.number} · {category_label(request.category.value)} · "
            f"{request.profile.full_name}"
        )
        items.append((request.id, label))
    if requests:
        lines.append(_("Tap a request to open it. ⏰ = overdue."))
    return "\n".join(lines), queue_keyboard(items)


async def cmd_request_queue(
    message: Message, state: FSMContext, session: AsyncSession, user: User
) -> None:
    await state.clear()
    text, markup = await _queue_view(session, user, QueueFilter.ALL)
    await message.answer(text, reply_markup=markup)


async def queue_filter_chosen(
    callback: CallbackQuery, callback_data: QueueCb, session: AsyncSession, user: User
) -> None:
    text, markup = await _queue_view(session, user, callback_data.view)
    await edit_or_send(callback, text, markup)


async def request_opened(
    callback: CallbackQuery,
    callback_data: StaffCb,
    callback_answer: CallbackAnswer,
    session: AsyncSession,
    user: User,
    office: OfficeSettings,
    i18n: I18n,
) -> None:
    message = message_of(callback)
    if message is None:
        return stale(callback_answer)
    request = await get_request(session, user, callback_data.request_id)
    text, markup = render_card(request, office, i18n, private=message.chat.type == "private")
    await edit_or_send(callback, text, markup)


def setup() -> Router:
    """Under the staff router (`IsStaff`) and the private-chat filter."""
    router = Router(name=__name__)
    router.message.register(cmd_request_queue, MenuButton("request_queue"))
    router.callback_query.register(queue_filter_chosen, QueueCb.filter())
    router.callback_query.register(request_opened, StaffCb.filter(F.action == StaffAction.OPEN))
    return router
