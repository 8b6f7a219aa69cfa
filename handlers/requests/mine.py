"""My requests: the list with status and latest update, one request's history, cancel while
not done, and the satisfaction rating (stars, then an optional comment by text or voice)."""

from __future__ import annotations

from aiogram import F, Router
from aiogram.fsm.context import FSMContext
from aiogram.fsm.state import State, StatesGroup
from aiogram.types import CallbackQuery, InaccessibleMessage, Message
from aiogram.utils.i18n import gettext as _
from sqlalchemy.ext.asyncio import AsyncSession

from handlers.common import is_command, register_state_prompt
from handlers.menu import AnyMenuButton, MenuButton, main_menu_keyboard, register_menu_item
from handlers.requests.keyboards import (
    MineAction,
    MineCb,
    RateCb,
    cancel_confirm_keyboard,
    my_list_keyboard,
    my_request_keyboard,
    skip_comment_keyboard,
    stars_keyboard,
)
from handlers.requests.texts import category_label, event_line, status_label
from models.office import OfficeSettings
from models.requests import (
    ErrorCode,
    RequestError,
    RequestStatus,
    ServiceRequest,
    cancel,
    comment_rating,
    get_request,
    rate,
    requests_of,
)
from models.users import Role, User

router = Router(name=__name__)

register_menu_item(
    "my_requests", "📋", lambda: _("My requests"), {Role.RETIREE, Role.FAMILY}, order=21
)


class RatingForm(StatesGroup):
    comment = State()


register_state_prompt(
    RatingForm.comment,
    lambda: _("Would you like to add a comment? Type it or send a voice message."),
)


def error_text(error: RequestError) -> str:
    if error.code == ErrorCode.WRONG_STATUS and error.status is not None:
        return _("This request has already changed: it is now “{status}”.").format(
            status=status_label(error.status.value)
        )
    return {
        ErrorCode.NOT_FOUND: _("Sorry, I cannot find this request."),
        ErrorCode.FORBIDDEN: _("Sorry, you are not allowed to do that for this request."),
        ErrorCode.NOT_STAFF: _("That person is not a member of staff."),
        ErrorCode.ALREADY_RATED: _("Thank you, this request has already been rated."),
    }.get(error.code, _("Sorry, that did not work."))


def _list_label(request: ServiceRequest) -> str:
    return f"{request.number} · {category_label(request.category.value)}"


def _latest(request: ServiceRequest, office: OfficeSettings) -> str:
    if not request.events:
        return ""
    event = request.events[-1]
    when = event.created_at.astimezone(office.tz).strftime("%m-%d %H:%M")
    actor = event.actor.display_name if event.actor else None
    return f"{when} {event_line(event.action.value, actor, event.note)}"


@router.message(F.chat.type == "private", MenuButton("my_requests"))
async def cmd_my_requests(
    message: Message, state: FSMContext, session: AsyncSession, user: User, office: OfficeSettings
) -> None:
    await state.clear()
    text, markup = await _list_view(session, user, office)
    await message.answer(text, reply_markup=markup or main_menu_keyboard(user))


async def _list_view(session: AsyncSession, user: User, office: OfficeSettings):  # type: ignore[no-untyped-def]
    requests = await requests_of(session, user)
    if not requests:
        return _("You have no requests yet. Tap “🆘 Request help” when you need something."), None
    lines = [_("Your requests (newest first):"), ""]
    for request in requests:
        lines.append(f"{request.number} · {category_label(request.category.value)}")
        lines.append("   " + status_label(request.status.value))
        latest = _latest(request, office)
        if latest:
            lines.append("   " + latest)
    lines += ["", _("Tap a request to see its history.")]
    items = [(r.id, _list_label(r)) for r in requests]
    return "\n".join(lines), my_list_keyboard(items)


def history_text(request: ServiceRequest, office: OfficeSettings) -> str:
    lines = [
        f"{request.number} · {category_label(request.category.value)}",
        _("For: {name}").format(name=request.profile.full_name),
        _("Status: {status}").format(status=status_label(request.status.value)),
        "",
        request.description or "",
        "",
        _("History:"),
    ]
    for event in request.events:
        when = event.created_at.astimezone(office.tz).strftime("%m-%d %H:%M")
        actor = event.actor.display_name if event.actor else None
        lines.append(f"• {when} {event_line(event.action.value, actor, event.note)}")
    if request.rating:
        lines.append(_("Your rating: {stars}").format(stars="⭐" * request.rating))
    return "\n".join(lines)


def _may_rate(request: ServiceRequest, user: User) -> bool:
    return request.status == RequestStatus.DONE and request.rating is None and not user.is_staff


@router.callback_query(MineCb.filter())
async def mine_pressed(
    callback: CallbackQuery,
    callback_data: MineCb,
    session: AsyncSession,
    user: User,
    office: OfficeSettings,
) -> None:
    message = callback.message
    if message is None or isinstance(message, InaccessibleMessage):
        await callback.answer(_("This button is no longer active."), show_alert=True)
        return
    action = callback_data.action
    if action == MineAction.LIST:
        await callback.answer()
        text, markup = await _list_view(session, user, office)
        await message.edit_text(text, reply_markup=markup)
        return
    try:
        request = await get_request(session, user, callback_data.request_id)
        if action == MineAction.CANCEL_YES:
            request = await cancel(
                session,
                user,
                request.id,
                tz=office.tz,
                staff_chat_id=office.staff_chat_id,
            )
        elif action in (MineAction.CANCEL, MineAction.RATE) and user.is_staff:
            raise RequestError(ErrorCode.FORBIDDEN)
    except RequestError as error:
        await callback.answer(error_text(error), show_alert=True)
        return
    await callback.answer()
    if action == MineAction.CANCEL:
        if not request.status.is_open:
            await message.edit_text(
                history_text(request, office),
                reply_markup=my_request_keyboard(request.id, request.status, False),
            )
            return
        await message.edit_text(
            _("Cancel the request {number}?").format(number=request.number),
            reply_markup=cancel_confirm_keyboard(request.id),
        )
        return
    if action == MineAction.RATE and _may_rate(request, user):
        await message.edit_text(
            _("How satisfied are you with {number}? 5 stars is best.").format(
                number=request.number
            ),
            reply_markup=stars_keyboard(request.id),
        )
        return
    text = history_text(request, office)
    if action == MineAction.CANCEL_YES:
        text = "↩️ " + _("The request has been cancelled.") + "\n\n" + text
    await message.edit_text(
        text,
        reply_markup=my_request_keyboard(request.id, request.status, _may_rate(request, user)),
    )


@router.callback_query(RateCb.filter(F.stars == 0))
async def comment_skipped(callback: CallbackQuery, state: FSMContext, user: User) -> None:
    await callback.answer()
    await state.clear()
    if isinstance(callback.message, Message):
        await callback.message.edit_reply_markup(reply_markup=None)
        await callback.message.answer(
            _("Thank you for your rating!"), reply_markup=main_menu_keyboard(user)
        )


@router.callback_query(RateCb.filter())
async def stars_chosen(
    callback: CallbackQuery,
    callback_data: RateCb,
    state: FSMContext,
    session: AsyncSession,
    user: User,
) -> None:
    try:
        request = await rate(session, user, callback_data.request_id, callback_data.stars)
    except RequestError as error:
        await callback.answer(error_text(error), show_alert=True)
        return
    await callback.answer(_("Thank you!"))
    text = _("Thank you! You gave {number} {stars}.").format(
        number=request.number, stars="⭐" * (request.rating or 0)
    )
    if await state.get_state() is not None:
        # pressed on a pushed question while in another form: keep that form going
        if isinstance(callback.message, Message):
            await callback.message.edit_text(text)
        return
    await state.set_state(RatingForm.comment)
    await state.update_data(rating_request_id=request.id)
    text += "\n" + _("Would you like to add a comment? Type it or send a voice message.")
    if isinstance(callback.message, Message):
        await callback.message.edit_text(text, reply_markup=skip_comment_keyboard(request.id))


@router.message(RatingForm.comment, F.text | F.voice, ~AnyMenuButton())
async def comment_chosen(
    message: Message, state: FSMContext, session: AsyncSession, user: User
) -> None:
    if message.text is not None and is_command(message.text):
        await message.answer(_("Would you like to add a comment? Type it or send a voice message."))
        return
    data = await state.get_data()
    try:
        await comment_rating(
            session,
            user,
            int(data.get("rating_request_id") or 0),
            text=message.text,
            voice_file_id=message.voice.file_id if message.voice else None,
        )
    except RequestError as error:
        await state.clear()
        await message.answer(error_text(error), reply_markup=main_menu_keyboard(user))
        return
    await state.clear()
    await message.answer(
        _("Thank you for your comment! It helps us do better."),
        reply_markup=main_menu_keyboard(user),
    )
