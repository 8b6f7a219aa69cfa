"""My requests: the list with status and latest update, one request's history, cancel while
not done, and the satisfaction rating (stars, then an optional comment by text or voice).

Who may cancel or rate is the domain's rule (`may_cancel`, `may_rate`, checked again by
`cancel` and `rate`); a refusal reaches the person through the capability's error handler.
"""

from __future__ import annotations

from typing import Any

from aiogram import F, Router
from aiogram.fsm.context import FSMContext
from aiogram.fsm.state import State, StatesGroup
from aiogram.types import CallbackQuery, InlineKeyboardMarkup, Message
from aiogram.utils.callback_answer import CallbackAnswer
from aiogram.utils.i18n import gettext as _
from sqlalchemy.ext.asyncio import AsyncSession

from handlers.common import is_command, updated_text
from handlers.forms import BUTTONS, GIVEN, Form, Invalid, Step, StepContext, default_problem
from handlers.menu import AnyMenuButton, MenuButton, main_menu_keyboard, menu_item
from handlers.requests.callbacks import MineAction, MineCb, RateCb, SkipCommentCb
from handlers.requests.keyboards import (
    cancel_confirm_keyboard,
    my_list_keyboard,
    my_request_keyboard,
    skip_comment_keyboard,
    stars_keyboard,
)
from handlers.requests.texts import category_label, error_text, event_line, status_label
from handlers.ui import edit_markup, edit_or_send
from models.office import OfficeSettings
from models.requests import (
    RequestError,
    ServiceRequest,
    cancel,
    comment_rating,
    get_request,
    may_cancel,
    may_rate,
    rate,
    requests_of,
)
from models.users import Role, User

MY_REQUESTS_ITEM = menu_item(
    "my_requests", "📋", lambda: _("My requests"), {Role.RETIREE, Role.FAMILY}, order=21
)


class RatingForm(StatesGroup):
    comment = State()


def _list_label(request: ServiceRequest) -> str:
    return f"{request.number} · {category_label(request.category.value)}"


def _latest(request: ServiceRequest, office: OfficeSettings) -> str:
    if not request.events:
        return ""
    event = request.events[-1]
    when = event.created_at.astimezone(office.tz).strftime("%m-%d %H:%M")
    actor = event.actor.display_name if event.actor else None
    return f"{when} {event_line(event.action.value, actor, event.note)}"


async def _list_view(
    session: AsyncSession, user: User, office: OfficeSettings
) -> tuple[str, InlineKeyboardMarkup | None]:
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


async def _show_history(
    callback: CallbackQuery,
    request: ServiceRequest,
    user: User,
    office: OfficeSettings,
    head: str | None = None,
) -> None:
    text = history_text(request, office)
    markup = my_request_keyboard(
        request.id, rate=may_rate(request, user), cancel=may_cancel(request, user)
    )
    await edit_or_send(callback, f"{head}\n\n{text}" if head else text, markup)


# -- the list and one request ------------------------------------------------------------------


async def cmd_my_requests(
    message: Message, state: FSMContext, session: AsyncSession, user: User, office: OfficeSettings
) -> None:
    await state.clear()
    text, markup = await _list_view(session, user, office)
    await message.answer(text, reply_markup=markup or main_menu_keyboard(user))


async def list_chosen(
    callback: CallbackQuery, session: AsyncSession, user: User, office: OfficeSettings
) -> None:
    text, markup = await _list_view(session, user, office)
    await edit_or_send(callback, text, markup)


async def request_opened(
    callback: CallbackQuery,
    callback_data: MineCb,
    session: AsyncSession,
    user: User,
    office: OfficeSettings,
) -> None:
    request = await get_request(session, user, callback_data.request_id)
    await _show_history(callback, request, user, office)


async def cancel_chosen(
    callback: CallbackQuery,
    callback_data: MineCb,
    callback_answer: CallbackAnswer,
    session: AsyncSession,
    user: User,
    office: OfficeSettings,
) -> None:
    """Asks first; a request that can no longer be cancelled shows its history instead."""
    request = await get_request(session, user, callback_data.request_id)
    if not may_cancel(request, user):  # a screen from before a change: refreshed, and says so
        await _show_history(callback, request, user, office)
        callback_answer.text = updated_text()
        return
    await edit_or_send(
        callback,
        _("Cancel the request {number}?").format(number=request.number),
        cancel_confirm_keyboard(request.id),
    )


async def cancel_confirmed(
    callback: CallbackQuery,
    callback_data: MineCb,
    session: AsyncSession,
    user: User,
    office: OfficeSettings,
) -> None:
    request = await cancel(
        session,
        user,
        callback_data.request_id,
        tz=office.tz,
        staff_chat_id=office.staff_chat_id,
    )
    await _show_history(
        callback, request, user, office, head="↩️ " + _("The request has been cancelled.")
    )


async def rate_chosen(
    callback: CallbackQuery,
    callback_data: MineCb,
    callback_answer: CallbackAnswer,
    session: AsyncSession,
    user: User,
    office: OfficeSettings,
) -> None:
    """The stars; a request that can no longer be rated shows its history instead."""
    request = await get_request(session, user, callback_data.request_id)
    if not may_rate(request, user):  # a screen from before a change: refreshed, and says so
        await _show_history(callback, request, user, office)
        callback_answer.text = updated_text()
        return
    await edit_or_send(
        callback,
        _("How satisfied are you with {number}? 5 stars is best.").format(number=request.number),
        stars_keyboard(request.id),
    )


# -- the rating: stars, then an optional comment -----------------------------------------------


async def stars_chosen(
    callback: CallbackQuery,
    callback_data: RateCb,
    callback_answer: CallbackAnswer,
    state: FSMContext,
    session: AsyncSession,
    user: User,
) -> None:
    request = await rate(session, user, callback_data.request_id, callback_data.stars)
    callback_answer.text = _("Thank you!")
    text = _("Thank you! You gave {number} {stars}.").format(
        number=request.number, stars="⭐" * (request.rating or 0)
    )
    if await state.get_state() is not None:
        # pressed on a pushed question while in another form: keep that form going
        await edit_or_send(callback, text)
        return
    await state.set_state(RatingForm.comment)
    answers: dict[str, Any] = {"request_id": request.id, GIVEN: ["request_id"]}
    if isinstance(callback.message, Message):  # its "no comment" button is the form's now
        answers[BUTTONS] = callback.message.message_id
    await state.update_data({RATING.data_key: answers})
    text += "\n" + COMMENT.prompt()
    await edit_or_send(callback, text, skip_comment_keyboard(request.id))


async def comment_skipped(callback: CallbackQuery, state: FSMContext, user: User) -> None:
    """Only the button of the rating being asked now (`RATING.live()`): one from a finished
    rating is stale and changes nothing."""
    await state.clear()
    await edit_markup(callback, None)
    if isinstance(callback.message, Message):
        await callback.message.answer(
            _("Thank you for your rating!"), reply_markup=main_menu_keyboard(user)
        )


def parse_comment(message: Message, ctx: StepContext) -> dict[str, Any]:
    if message.voice is not None:
        return {"voice_file_id": message.voice.file_id}
    if message.text is None or not message.text.strip():
        raise Invalid(default_problem(message))
    if is_command(message.text):
        raise Invalid("")  # just the question again
    return {"text": message.text}


async def comment_finished(ctx: StepContext) -> None:
    """The comment is stored; a request that no longer takes one (rated and commented from
    another device, say) ends the form with the reason instead of asking again."""
    await ctx.state.clear()
    try:
        await comment_rating(
            ctx.session,
            ctx.user,
            int(ctx.answers.get("request_id") or 0),
            text=ctx.answers.get("text"),
            voice_file_id=ctx.answers.get("voice_file_id"),
        )
    except RequestError as error:
        await ctx.message.answer(error_text(error), reply_markup=main_menu_keyboard(ctx.user))
        return
    await ctx.message.answer(
        _("Thank you for your comment! It helps us do better."),
        reply_markup=main_menu_keyboard(ctx.user),
    )


COMMENT = Step(
    RatingForm.comment,
    prompt=lambda: _("Would you like to add a comment? Type it or send a voice message."),
    keyboard=lambda ctx: skip_comment_keyboard(int(ctx.answers.get("request_id") or 0)),
    parse=parse_comment,
    field="comment",
)
RATING = Form("request_rating", [COMMENT], data_key="request_rating", finish=comment_finished)


def setup() -> Router:
    """Private chats (the capability's private router carries the chat filter)."""
    router = Router(name=__name__)
    router.message.register(cmd_my_requests, MenuButton("my_requests"))
    router.callback_query.register(list_chosen, MineCb.filter(F.action == MineAction.LIST))
    router.callback_query.register(request_opened, MineCb.filter(F.action == MineAction.OPEN))
    router.callback_query.register(cancel_chosen, MineCb.filter(F.action == MineAction.CANCEL))
    router.callback_query.register(
        cancel_confirmed, MineCb.filter(F.action == MineAction.CANCEL_YES)
    )
    router.callback_query.register(rate_chosen, MineCb.filter(F.action == MineAction.RATE))
    router.callback_query.register(stars_chosen, RateCb.filter(F.stars.in_({1, 2, 3, 4, 5})))
    router.callback_query.register(
        comment_skipped, RatingForm.comment, SkipCommentCb.filter(), RATING.live()
    )
    router.include_router(RATING.router(~AnyMenuButton()))
    return router
