"""The staff card's buttons: take, start, done (confirmed, optionally with a line of result),
assign to a colleague, reject, and the photos and voice notes sent again where the button was
pressed. The card lives in the staff group (edited in place right here when pressed) and in a
staff member's private queue (then the group card follows through the outbox). These handlers
sit under the capability's staff router (`IsStaff` once); whether this person may do this to
this request now is the domain's rule (`check_staff_op`, checked again by each operation).
A request sent unclassified gets its type from one tap here too.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from aiogram import Bot, F, Router
from aiogram.exceptions import TelegramAPIError
from aiogram.fsm.context import FSMContext
from aiogram.fsm.storage.base import StorageKey
from aiogram.types import CallbackQuery, InlineKeyboardMarkup, Message
from aiogram.utils.callback_answer import CallbackAnswer
from aiogram.utils.i18n import I18n
from aiogram.utils.i18n import gettext as _
from sqlalchemy.ext.asyncio import AsyncSession

from handlers.requests.callbacks import ClassifyCb, StaffAction, StaffCb, stale
from handlers.requests.finish import ask_result
from handlers.requests.keyboards import assign_keyboard, finish_keyboard, staff_card_keyboard
from handlers.requests.private_line import staff_context
from handlers.requests.reject import ask_reason
from handlers.requests.texts import card_text, category_label
from handlers.ui import edit_markup, edit_or_send, message_of
from models.base import utcnow
from models.office import OfficeSettings
from models.requests import (
    AttachmentKind,
    ServiceRequest,
    StaffContext,
    StaffOp,
    assign,
    card_params,
    check_staff_op,
    classify,
    finish,
    get_request,
    staff_members,
    start,
    take,
)
from models.users import User


def render_card(
    request: ServiceRequest, office: OfficeSettings, i18n: I18n, *, private: bool
) -> tuple[str, InlineKeyboardMarkup]:
    """The group card speaks the office's default language; the private view the user's."""
    params = card_params(request, utcnow(), office.tz)
    if private:
        return card_text(params), staff_card_keyboard(params, private=True)
    with i18n.use_locale(office.default_locale):
        return card_text(params), staff_card_keyboard(params)


def _in_private(message: Message) -> bool:
    return message.chat.type == "private"


def _staff_context(office: OfficeSettings, message: Message) -> StaffContext:
    return staff_context(office, update_card=_in_private(message))


async def _show_card(
    callback: CallbackQuery,
    message: Message,
    request: ServiceRequest,
    office: OfficeSettings,
    i18n: I18n,
) -> None:
    """Two people pressing at once may leave nothing to change: that is fine (edit_or_send)."""
    text, markup = render_card(request, office, i18n, private=_in_private(message))
    await edit_or_send(callback, text, markup)


async def _moved_on(
    callback: CallbackQuery,
    callback_answer: CallbackAnswer,
    request: ServiceRequest,
    thanks: str,
    office: OfficeSettings,
    i18n: I18n,
) -> None:
    """After take, start, done or assign-to: a short thank-you and the card anew."""
    callback_answer.text = thanks
    message = message_of(callback)
    if message is not None:
        await _show_card(callback, message, request, office, i18n)


def _context_of(callback: CallbackQuery, office: OfficeSettings) -> StaffContext | None:
    message = message_of(callback)
    return _staff_context(office, message) if message is not None else None


async def _take(session: AsyncSession, user: User, cb: StaffCb, ctx: StaffContext) -> Moved:
    request = await take(session, user, cb.request_id, ctx)
    return request, _("You have taken {number}.").format(number=request.number)


async def _start(session: AsyncSession, user: User, cb: StaffCb, ctx: StaffContext) -> Moved:
    request = await start(session, user, cb.request_id, ctx)
    return request, _("Started {number}.").format(number=request.number)


async def _finish(session: AsyncSession, user: User, cb: StaffCb, ctx: StaffContext) -> Moved:
    """Confirmed "Finish it": done without a line of result."""
    request = await finish(session, user, cb.request_id, ctx)
    return request, _("{number} is done. Thank you!").format(number=request.number)


async def _assign_to(session: AsyncSession, user: User, cb: StaffCb, ctx: StaffContext) -> Moved:
    request = await assign(session, user, cb.request_id, cb.assignee_id, ctx)
    name = request.assignee.display_name if request.assignee else ""
    return request, _("{number} has been given to {name}.").format(number=request.number, name=name)


async def _classify(session: AsyncSession, user: User, cb: ClassifyCb, ctx: StaffContext) -> Moved:
    """One tap sets the type of a request sent unclassified; the card shows it at once."""
    request = await classify(session, user, cb.request_id, cb.category, ctx)
    label = category_label(request.category.value)
    return request, _("{number}: {category}").format(number=request.number, category=label)


Moved = tuple[ServiceRequest, str]  # the request after the move, and the thank-you toast
Move = Callable[[AsyncSession, User, Any, StaffContext], Awaitable[Moved]]

# The card's moves: each a domain operation and its toast; one handler per action, from here.
MOVES: dict[StaffAction, Move] = {
    StaffAction.TAKE: _take,
    StaffAction.START: _start,
    StaffAction.FINISH: _finish,
    StaffAction.ASSIGN_TO: _assign_to,
}


def move_chosen(move: Move) -> Callable[..., Awaitable[None]]:
    """The handler of one move: the domain decides whether it may happen now; the card is
    shown anew with a short thank-you."""

    async def chosen(
        callback: CallbackQuery,
        callback_data: StaffCb | ClassifyCb,
        callback_answer: CallbackAnswer,
        session: AsyncSession,
        user: User,
        office: OfficeSettings,
        i18n: I18n,
    ) -> None:
        ctx = _context_of(callback, office)
        if ctx is None:
            return stale(callback_answer)
        request, thanks = await move(session, user, callback_data, ctx)
        await _moved_on(callback, callback_answer, request, thanks, office, i18n)

    chosen.__name__ = f"{move.__name__.lstrip('_')}_chosen"
    return chosen


async def assign_chosen(
    callback: CallbackQuery,
    callback_data: StaffCb,
    callback_answer: CallbackAnswer,
    session: AsyncSession,
    user: User,
) -> None:
    """The colleagues to give the request to, in place of the card's buttons."""
    request = await get_request(session, user, callback_data.request_id)
    check_staff_op(user, request, StaffOp.ASSIGN)
    staff = [(u.id, u.display_name or str(u.telegram_id)) for u in await staff_members(session)]
    await edit_markup(callback, assign_keyboard(request.id, staff))  # twice: already there


async def done_chosen(
    callback: CallbackQuery,
    callback_data: StaffCb,
    callback_answer: CallbackAnswer,
    session: AsyncSession,
    user: User,
) -> None:
    """ "Done" asks first, in place of the card's buttons: finish now, or with a line of
    result; a double tap or a colleague's finished request is refused by the domain."""
    request = await get_request(session, user, callback_data.request_id)
    check_staff_op(user, request, StaffOp.FINISH)
    await edit_markup(callback, finish_keyboard(request.id))


async def _private_state(user: User, state: FSMContext, bot: Bot, message: Message) -> FSMContext:
    """The staff member's own private conversation, also when the press was in the group."""
    if _in_private(message):
        return state
    key = StorageKey(bot_id=bot.id, chat_id=user.telegram_id, user_id=user.telegram_id)
    return FSMContext(storage=state.storage, key=key)


def _open_private_chat_first(callback_answer: CallbackAnswer) -> None:
    callback_answer.text = _("Please open a private chat with me first (tap my name, then Start).")
    callback_answer.show_alert = True


async def finish_note_chosen(
    callback: CallbackQuery,
    callback_data: StaffCb,
    callback_answer: CallbackAnswer,
    session: AsyncSession,
    user: User,
    state: FSMContext,
    bot: Bot,
    office: OfficeSettings,
    i18n: I18n,
) -> None:
    """The line of result is asked in the private chat (also when pressed in the group); the
    card shows its buttons again meanwhile."""
    message = message_of(callback)
    if message is None:
        return stale(callback_answer)
    request = await get_request(session, user, callback_data.request_id)
    check_staff_op(user, request, StaffOp.FINISH)
    try:
        await ask_result(bot, user, request, await _private_state(user, state, bot, message))
    except TelegramAPIError:  # the bot may not write first to someone who never opened it
        return _open_private_chat_first(callback_answer)
    await _show_card(callback, message, request, office, i18n)
    if not _in_private(message):
        callback_answer.text = _("I have asked you for the result in our private chat.")


async def media_chosen(
    callback: CallbackQuery,
    callback_data: StaffCb,
    callback_answer: CallbackAnswer,
    session: AsyncSession,
    user: User,
) -> None:
    """The request's photos and voice notes, sent again (by their file ids) into the chat
    where the button was pressed: the staff group or the private queue."""
    message = message_of(callback)
    if message is None:
        return stale(callback_answer)
    request = await get_request(session, user, callback_data.request_id)
    total = len(request.attachments)
    if not total:
        callback_answer.text = _("This request has no photos or voice messages.")
        return
    for index, attachment in enumerate(request.attachments, start=1):
        caption = _("{number}: attachment {index} of {total}").format(
            number=request.number, index=index, total=total
        )
        if attachment.kind == AttachmentKind.VOICE:
            await message.answer_voice(attachment.file_id, caption=caption)
        else:
            await message.answer_photo(attachment.file_id, caption=caption)


async def back_chosen(
    callback: CallbackQuery,
    callback_data: StaffCb,
    callback_answer: CallbackAnswer,
    session: AsyncSession,
    user: User,
    office: OfficeSettings,
    i18n: I18n,
) -> None:
    """From the list of colleagues back to the card."""
    message = message_of(callback)
    if message is None:
        return stale(callback_answer)
    request = await get_request(session, user, callback_data.request_id)
    await _show_card(callback, message, request, office, i18n)


async def reject_chosen(
    callback: CallbackQuery,
    callback_data: StaffCb,
    callback_answer: CallbackAnswer,
    session: AsyncSession,
    user: User,
    state: FSMContext,
    bot: Bot,
) -> None:
    """The reason is asked in the private chat (also when Reject is pressed in the group)."""
    message = message_of(callback)
    if message is None:
        return stale(callback_answer)
    request = await get_request(session, user, callback_data.request_id)
    check_staff_op(user, request, StaffOp.REJECT)
    try:
        await ask_reason(bot, user, request, await _private_state(user, state, bot, message))
    except TelegramAPIError:  # the bot may not write first to someone who never opened it
        return _open_private_chat_first(callback_answer)
    if not _in_private(message):
        callback_answer.text = _("I have asked you for the reason in our private chat.")


def setup() -> Router:
    """Under the staff router (`IsStaff`); the card is pressed in the staff group or in a
    private chat, so there is no chat filter here."""
    router = Router(name=__name__)
    for action, move in MOVES.items():
        router.callback_query.register(move_chosen(move), StaffCb.filter(F.action == action))
    router.callback_query.register(assign_chosen, StaffCb.filter(F.action == StaffAction.ASSIGN))
    router.callback_query.register(back_chosen, StaffCb.filter(F.action == StaffAction.BACK))
    router.callback_query.register(reject_chosen, StaffCb.filter(F.action == StaffAction.REJECT))
    router.callback_query.register(move_chosen(_classify), ClassifyCb.filter())
    router.callback_query.register(done_chosen, StaffCb.filter(F.action == StaffAction.DONE))
    router.callback_query.register(
        finish_note_chosen, StaffCb.filter(F.action == StaffAction.FINISH_NOTE)
    )
    router.callback_query.register(media_chosen, StaffCb.filter(F.action == StaffAction.MEDIA))
    return router
