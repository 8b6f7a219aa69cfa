"""Staff side of service requests: the card in the staff group (edited in place when its
buttons are pressed), the private request queue with filters, and the same actions there
(the group card is then updated through the outbox). Only staff may act; the domain checks
every request id against the presser."""

from __future__ import annotations

from aiogram import Bot, F, Router
from aiogram.exceptions import TelegramAPIError, TelegramBadRequest
from aiogram.fsm.context import FSMContext
from aiogram.fsm.state import State, StatesGroup
from aiogram.fsm.storage.base import StorageKey
from aiogram.types import CallbackQuery, InaccessibleMessage, Message
from aiogram.utils.i18n import I18n
from aiogram.utils.i18n import gettext as _
from sqlalchemy.ext.asyncio import AsyncSession

from handlers.common import form_keyboard, is_command, register_state_prompt
from handlers.menu import AnyMenuButton, MenuButton, main_menu_keyboard, register_menu_item
from handlers.requests.keyboards import (
    QueueCb,
    StaffAction,
    StaffCb,
    assign_keyboard,
    queue_keyboard,
    staff_card_keyboard,
)
from handlers.requests.mine import error_text
from handlers.requests.texts import card_text, category_label
from models.base import utcnow
from models.office import OfficeSettings
from models.requests import (
    AttachmentKind,
    ErrorCode,
    QueueFilter,
    RequestError,
    ServiceRequest,
    StaffContext,
    assign,
    card_params,
    finish,
    get_request,
    reject,
    staff_members,
    staff_queue,
    start,
    take,
)
from models.users import Role, User

router = Router(name=__name__)

register_menu_item(
    "request_queue",
    "🗂",
    lambda: _("Request queue"),
    {Role.STAFF, Role.SUPERVISOR, Role.ADMIN},
    order=20,
)


class RejectForm(StatesGroup):
    reason = State()


register_state_prompt(
    RejectForm.reason, lambda: _("Please write why the request cannot be accepted.")
)


def _refusal() -> str:
    return _("Only office staff can use these buttons.")


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
) -> tuple[str, object]:
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


@router.message(F.chat.type == "private", MenuButton("request_queue"))
async def cmd_request_queue(
    message: Message, state: FSMContext, session: AsyncSession, user: User
) -> None:
    await state.clear()
    if not user.is_staff:
        await message.answer(_refusal())
        return
    text, markup = await _queue_view(session, user, QueueFilter.ALL)
    await message.answer(text, reply_markup=markup)  # type: ignore[arg-type]


@router.callback_query(QueueCb.filter())
async def queue_filter_chosen(
    callback: CallbackQuery, callback_data: QueueCb, session: AsyncSession, user: User
) -> None:
    if not user.is_staff or not isinstance(callback.message, Message):
        await callback.answer(_refusal(), show_alert=True)
        return
    await callback.answer()
    text, markup = await _queue_view(session, user, callback_data.view)
    await _edit(callback.message, text, markup)


def _render_card(
    request: ServiceRequest, office: OfficeSettings, private: bool, i18n: I18n, user_locale: bool
) -> tuple[str, object]:
    """The group card speaks the office's default language; the private view the user's."""
    params = card_params(request, utcnow(), office.tz)
    if user_locale:
        return card_text(params), staff_card_keyboard(params, private=private)
    with i18n.use_locale(office.default_locale):
        return card_text(params), staff_card_keyboard(params, private=private)


@router.callback_query(StaffCb.filter())
async def staff_pressed(
    callback: CallbackQuery,
    callback_data: StaffCb,
    session: AsyncSession,
    user: User | None,
    office: OfficeSettings,
    i18n: I18n,
    bot: Bot,
    state: FSMContext,
) -> None:
    message = callback.message
    if user is None or not user.is_staff:
        await callback.answer(_refusal(), show_alert=True)
        return
    if message is None or isinstance(message, InaccessibleMessage):
        await callback.answer(_("This button is no longer active."), show_alert=True)
        return
    private = message.chat.type == "private"
    ctx = StaffContext(
        now=utcnow(),
        tz=office.tz,
        staff_chat_id=office.staff_chat_id,
        # in the group the pressed card is edited right here; from the queue via the outbox
        update_card=private,
    )
    action = callback_data.action
    request_id = callback_data.request_id
    try:
        if action == StaffAction.TAKE:
            request = await take(session, user, request_id, ctx)
        elif action == StaffAction.START:
            request = await start(session, user, request_id, ctx)
        elif action == StaffAction.DONE:
            request = await finish(session, user, request_id, ctx)
        elif action == StaffAction.ASSIGN_TO:
            request = await assign(session, user, request_id, callback_data.value, ctx)
        else:
            request = await get_request(session, user, request_id)
    except RequestError as error:
        await callback.answer(error_text(error), show_alert=True)
        return

    if action == StaffAction.ASSIGN:
        if not request.status.is_open:
            await callback.answer(
                error_text(RequestError(ErrorCode.WRONG_STATUS, request.status)), show_alert=True
            )
            return
        await callback.answer()
        staff = [(u.id, u.display_name or str(u.telegram_id)) for u in await staff_members(session)]
        try:
            await message.edit_reply_markup(reply_markup=assign_keyboard(request.id, staff))
        except TelegramBadRequest:
            pass  # pressed twice: the list is already there
        return
    if action == StaffAction.REJECT:
        await _ask_reject_reason(callback, request, user, private, state, bot)
        return
    if action == StaffAction.MEDIA:
        await callback.answer()
        await _send_media(bot, user, request)
        return
    done = {
        StaffAction.TAKE: _("You have taken {number}."),
        StaffAction.START: _("Started {number}."),
        StaffAction.DONE: _("{number} is done. Thank you!"),
        StaffAction.ASSIGN_TO: _("{number} has been given to {name}."),
    }.get(action)
    await callback.answer(
        done.format(
            number=request.number,
            name=request.assignee.display_name if request.assignee else "",
        )
        if done
        else None
    )
    text, markup = _render_card(request, office, private, i18n, user_locale=private)
    await _edit(message, text, markup)


async def _edit(message: Message, text: str, markup: object) -> None:
    """Edit in place; two people pressing at once may leave nothing to change."""
    try:
        await message.edit_text(text, reply_markup=markup)  # type: ignore[arg-type]
    except TelegramBadRequest as error:
        if "not modified" not in str(error):
            raise


async def _send_media(bot: Bot, user: User, request: ServiceRequest) -> None:
    """Voice notes and photos go to the staff member's private chat (a direct answer)."""
    total = len(request.attachments)
    for index, attachment in enumerate(request.attachments, start=1):
        caption = _("{number}: attachment {index} of {total}").format(
            number=request.number, index=index, total=total
        )
        if attachment.kind == AttachmentKind.VOICE:
            await bot.send_voice(user.telegram_id, attachment.file_id, caption=caption)
        else:
            await bot.send_photo(user.telegram_id, attachment.file_id, caption=caption)


async def _ask_reject_reason(
    callback: CallbackQuery,
    request: ServiceRequest,
    user: User,
    private: bool,
    state: FSMContext,
    bot: Bot,
) -> None:
    """The reason is asked in the private chat (also when Reject is pressed in the group)."""
    if not request.status.is_open:
        await callback.answer(
            error_text(RequestError(ErrorCode.WRONG_STATUS, request.status)), show_alert=True
        )
        return
    if private:
        private_state = state
    else:
        key = StorageKey(bot_id=bot.id, chat_id=user.telegram_id, user_id=user.telegram_id)
        private_state = FSMContext(storage=state.storage, key=key)
    prompt = _("Why can {number} not be accepted? Please write the reason.").format(
        number=request.number
    )
    try:
        await bot.send_message(user.telegram_id, prompt, reply_markup=form_keyboard())
    except TelegramAPIError:
        await callback.answer(
            _("Please open a private chat with me first (tap my name, then Start)."),
            show_alert=True,
        )
        return
    await private_state.set_state(RejectForm.reason)
    await private_state.update_data(reject_request_id=request.id)
    await callback.answer(
        None if private else _("I have asked you for the reason in our private chat.")
    )


@router.message(F.chat.type == "private", RejectForm.reason, F.text, ~AnyMenuButton())
async def reject_reason_chosen(
    message: Message,
    state: FSMContext,
    session: AsyncSession,
    user: User,
    office: OfficeSettings,
) -> None:
    reason = (message.text or "").strip()
    if is_command(reason) or not reason:
        await message.answer(_("Please write why the request cannot be accepted."))
        return
    if len(reason) > 500:
        await message.answer(_("Please make the reason shorter (at most 500 characters)."))
        return
    data = await state.get_data()
    ctx = StaffContext(
        now=utcnow(), tz=office.tz, staff_chat_id=office.staff_chat_id, update_card=True
    )
    try:
        request = await reject(session, user, int(data.get("reject_request_id") or 0), reason, ctx)
    except RequestError as error:
        await state.clear()
        await message.answer(error_text(error), reply_markup=main_menu_keyboard(user))
        return
    await state.clear()
    await message.answer(
        _("{number} was not accepted. The requester has been told why.").format(
            number=request.number
        ),
        reply_markup=main_menu_keyboard(user),
    )


@router.message(F.chat.type == "private", RejectForm.reason)
async def reject_reason_invalid(message: Message) -> None:
    await message.answer(_("Please write why the request cannot be accepted."))
