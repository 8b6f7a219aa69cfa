"""Asking for help: (for whom) -> type -> description (text, voice, photos) -> preferred time
-> normal or urgent -> summary to confirm or change -> tracking number and promised time."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from aiogram import F, Router
from aiogram.fsm.context import FSMContext
from aiogram.fsm.state import State, StatesGroup
from aiogram.types import CallbackQuery, InaccessibleMessage, Message
from aiogram.utils.i18n import gettext as _
from sqlalchemy.ext.asyncio import AsyncSession

from handlers.common import form_keyboard, is_command, register_state_prompt
from handlers.menu import AnyMenuButton, MenuButton, main_menu_keyboard, register_menu_item
from handlers.requests.keyboards import (
    DATE_CHOICES,
    IntakeCb,
    IntakeStep,
    category_keyboard,
    date_keyboard,
    summary_keyboard,
    urgency_keyboard,
    when_keyboard,
    who_keyboard,
)
from handlers.requests.texts import (
    category_label,
    format_when,
    media_line,
    preferred_label,
    urgency_label,
)
from models.base import utcnow
from models.office import OfficeSettings
from models.requests import (
    MAX_ATTACHMENTS,
    MAX_DESCRIPTION,
    Attachment,
    AttachmentKind,
    Category,
    Preferred,
    RequestError,
    create_request,
)
from models.users import Role, User, linked_profiles, may_act_for

router = Router(name=__name__)
router.message.filter(F.chat.type == "private")

register_menu_item(
    "request_help", "🆘", lambda: _("Request help"), {Role.RETIREE, Role.FAMILY}, order=20
)


class IntakeForm(StatesGroup):
    who = State()
    category = State()
    description = State()
    when = State()
    date = State()
    urgency = State()
    confirm = State()


register_state_prompt(IntakeForm.who, lambda: _("Who needs the help? Please tap a name."))
register_state_prompt(IntakeForm.category, lambda: _("What kind of help is needed?"))
register_state_prompt(
    IntakeForm.description,
    lambda: _("Please tell us what you need: type it, send a voice message or photos."),
)
register_state_prompt(IntakeForm.when, lambda: _("When would suit you?"))
register_state_prompt(IntakeForm.date, lambda: _("Please tap a date."))
register_state_prompt(IntakeForm.urgency, lambda: _("Is it urgent?"))
register_state_prompt(
    IntakeForm.confirm, lambda: _("Please check the request and tap “Send the request”.")
)


def done_text() -> str:
    return "✅ " + _("That's all, continue")


def _done_texts() -> set[str]:
    from aiogram.utils.i18n import get_i18n

    i18n = get_i18n()
    texts = set()
    for locale in i18n.available_locales:
        with i18n.use_locale(locale):
            texts.add(done_text())
    return texts


async def _message_of(callback: CallbackQuery) -> Message | None:
    if callback.message is None or isinstance(callback.message, InaccessibleMessage):
        return None
    return callback.message


@router.message(MenuButton("request_help"))
async def cmd_request_help(
    message: Message, state: FSMContext, session: AsyncSession, user: User | None
) -> None:
    await state.clear()
    if user is None or not user.is_onboarded:
        await message.answer(_("Please finish registering first: tap /start."))
        return
    choices: list[tuple[int, str]] = []
    if user.profile is not None:
        choices.append((user.profile.id, user.profile.full_name))
    if user.role == Role.FAMILY or user.profile is None:
        choices += [(p.id, p.full_name) for p in await linked_profiles(session, user.id)]
    if not choices:
        if user.role == Role.FAMILY:
            text = _(
                "First link your relative under “My family”; then you can ask for help for them."
            )
        else:
            text = _("Your details are not complete yet. Please call the service office.")
        await message.answer(text, reply_markup=main_menu_keyboard(user))
        return
    await message.answer(
        _("Let's ask the service office for help. You can stop any time with “Back to menu”."),
        reply_markup=form_keyboard(),
    )
    if len(choices) == 1:
        await state.update_data(profile_id=choices[0][0], for_name=choices[0][1])
        await _ask_category(message, state)
        return
    await state.set_state(IntakeForm.who)
    await message.answer(
        _("Who needs the help? Please tap a name."), reply_markup=who_keyboard(choices)
    )


@router.callback_query(IntakeForm.who, IntakeCb.filter(F.step == IntakeStep.WHO))
async def who_chosen(
    callback: CallbackQuery,
    callback_data: IntakeCb,
    state: FSMContext,
    session: AsyncSession,
    user: User,
) -> None:
    message = await _message_of(callback)
    profile_id = int(callback_data.value) if callback_data.value.isdigit() else 0
    if message is None or not await may_act_for(session, user, profile_id):
        await callback.answer(_("Sorry, you cannot ask for help for this person."), show_alert=True)
        return
    await callback.answer()
    names = {p.id: p.full_name for p in await linked_profiles(session, user.id)}
    if user.profile is not None:
        names[user.profile.id] = user.profile.full_name
    await state.update_data(profile_id=profile_id, for_name=names.get(profile_id, ""))
    await message.edit_text(_("Help for: {name}").format(name=names.get(profile_id, "")))
    await _ask_category(message, state)


async def _ask_category(message: Message, state: FSMContext) -> None:
    await state.set_state(IntakeForm.category)
    await message.answer(_("What kind of help is needed?"), reply_markup=category_keyboard())


@router.callback_query(IntakeForm.category, IntakeCb.filter(F.step == IntakeStep.CATEGORY))
async def category_chosen(
    callback: CallbackQuery, callback_data: IntakeCb, state: FSMContext
) -> None:
    message = await _message_of(callback)
    if message is None or callback_data.value not in {c.value for c in Category}:
        await callback.answer(_("This button is no longer active."), show_alert=True)
        return
    await callback.answer()
    await state.update_data(category=callback_data.value)
    await message.edit_text(category_label(callback_data.value))
    data = await state.get_data()
    if data.get("editing"):
        await _show_summary(message, state)
        return
    await _ask_description(message, state)


async def _ask_description(message: Message, state: FSMContext) -> None:
    await state.set_state(IntakeForm.description)
    await state.update_data(description="", attachments=[])
    await message.answer(
        _(
            "Please tell us what you need: type it, send a voice message or photos. "
            "You can send several. When you have finished, tap “{done}”."
        ).format(done=done_text()),
        reply_markup=form_keyboard([done_text()]),
    )


@router.message(IntakeForm.description, F.text.func(lambda text: text in _done_texts()))
async def description_done(message: Message, state: FSMContext) -> None:
    data = await state.get_data()
    if not data.get("description") and not data.get("attachments"):
        await message.answer(
            _("Please first tell us what you need: type it, or send a voice message or a photo.")
        )
        return
    await message.answer(_("Thank you, got it."), reply_markup=form_keyboard())
    if data.get("editing"):
        await _show_summary(message, state)
        return
    await _ask_when(message, state)


@router.message(IntakeForm.description, F.text, ~AnyMenuButton())
async def description_text(message: Message, state: FSMContext) -> None:
    text = (message.text or "").strip()
    if is_command(text):
        return await _unknown_in_description(message)
    data = await state.get_data()
    description = data.get("description") or ""
    combined = f"{description}\n{text}".strip() if description else text
    if len(combined) > MAX_DESCRIPTION:
        await message.answer(
            _(
                "That is longer than I can take ({limit} characters). Please make it shorter, or "
                "send a voice message instead. What you sent before is kept."
            ).format(limit=MAX_DESCRIPTION)
        )
        return
    await state.update_data(description=combined)
    await _ack_piece(message)


async def _unknown_in_description(message: Message) -> None:
    await message.answer(
        _("Please describe what you need, or tap “{done}”. What you sent before is kept.").format(
            done=done_text()
        )
    )


@router.message(IntakeForm.description, F.voice | F.photo)
async def description_media(message: Message, state: FSMContext) -> None:
    data = await state.get_data()
    attachments: list[dict[str, str]] = list(data.get("attachments") or [])
    if len(attachments) >= MAX_ATTACHMENTS:
        await message.answer(
            _("That is enough photos and voice messages, thank you. Please tap “{done}”.").format(
                done=done_text()
            )
        )
        return
    if message.voice is not None:
        attachments.append({"kind": "voice", "file_id": message.voice.file_id})
    elif message.photo:
        attachments.append({"kind": "photo", "file_id": message.photo[-1].file_id})
    updates: dict[str, Any] = {"attachments": attachments}
    caption = (message.caption or "").strip()
    if caption:
        description = data.get("description") or ""
        combined = f"{description}\n{caption}".strip() if description else caption
        updates["description"] = combined[:MAX_DESCRIPTION]
    first_of_album = message.media_group_id is None or (data.get("album") != message.media_group_id)
    updates["album"] = message.media_group_id
    await state.update_data(**updates)
    if first_of_album:
        await _ack_piece(message)


async def _ack_piece(message: Message) -> None:
    await message.answer(
        _("Got it. You can add more, or tap “{done}”.").format(done=done_text()),
        reply_markup=form_keyboard([done_text()]),
    )


@router.message(IntakeForm.description, ~AnyMenuButton())
async def description_invalid(message: Message) -> None:
    await message.answer(
        _(
            "I can take text, voice messages and photos here. Please describe what you need, "
            "or tap “{done}”. What you sent before is kept."
        ).format(done=done_text())
    )


async def _ask_when(message: Message, state: FSMContext) -> None:
    await state.set_state(IntakeForm.when)
    await message.answer(_("When would suit you?"), reply_markup=when_keyboard())


@router.callback_query(IntakeForm.when, IntakeCb.filter(F.step == IntakeStep.WHEN))
async def when_chosen(
    callback: CallbackQuery, callback_data: IntakeCb, state: FSMContext, office: OfficeSettings
) -> None:
    message = await _message_of(callback)
    if message is None or callback_data.value not in {p.value for p in Preferred}:
        await callback.answer(_("This button is no longer active."), show_alert=True)
        return
    await callback.answer()
    if callback_data.value == Preferred.DATE:
        await state.set_state(IntakeForm.date)
        today = utcnow().astimezone(office.tz).date()
        await message.edit_text(_("Please tap a date."), reply_markup=date_keyboard(today))
        return
    await state.update_data(preferred=callback_data.value, preferred_date=None)
    await message.edit_text(preferred_label(callback_data.value, None))
    await _after_when(message, state)


@router.callback_query(IntakeForm.date, IntakeCb.filter(F.step == IntakeStep.DATE))
async def date_chosen(
    callback: CallbackQuery, callback_data: IntakeCb, state: FSMContext, office: OfficeSettings
) -> None:
    message = await _message_of(callback)
    today = utcnow().astimezone(office.tz).date()
    if message is not None and callback_data.value == "back":
        await callback.answer()
        await state.set_state(IntakeForm.when)
        await message.edit_text(_("When would suit you?"), reply_markup=when_keyboard())
        return
    try:
        chosen = date.fromisoformat(callback_data.value)
    except ValueError:
        chosen = None
    if message is None or chosen is None or not 0 <= (chosen - today).days < DATE_CHOICES:
        await callback.answer(_("This button is no longer active."), show_alert=True)
        if message is not None:
            await message.answer(_("Please tap a date."), reply_markup=date_keyboard(today))
        return
    await callback.answer()
    await state.update_data(preferred=Preferred.DATE.value, preferred_date=chosen.isoformat())
    await message.edit_text(preferred_label("date", chosen.isoformat()))
    await _after_when(message, state)


async def _after_when(message: Message, state: FSMContext) -> None:
    data = await state.get_data()
    if data.get("editing"):
        await _show_summary(message, state)
        return
    await state.set_state(IntakeForm.urgency)
    await message.answer(
        _("Is it urgent? Urgent means it cannot wait (for example, water is leaking)."),
        reply_markup=urgency_keyboard(),
    )


@router.callback_query(IntakeForm.urgency, IntakeCb.filter(F.step == IntakeStep.URGENCY))
async def urgency_chosen(
    callback: CallbackQuery, callback_data: IntakeCb, state: FSMContext
) -> None:
    message = await _message_of(callback)
    if message is None or callback_data.value not in ("normal", "urgent"):
        await callback.answer(_("This button is no longer active."), show_alert=True)
        return
    await callback.answer()
    urgent = callback_data.value == "urgent"
    await state.update_data(urgent=urgent)
    await message.edit_text(urgency_label(urgent))
    await _show_summary(message, state)


def summary_text(data: dict[str, Any]) -> str:
    attachments = data.get("attachments") or []
    photos = sum(1 for a in attachments if a["kind"] == "photo")
    voices = sum(1 for a in attachments if a["kind"] == "voice")
    lines = [
        _("Please check your request:"),
        "",
        _("For: {name}").format(name=data.get("for_name") or ""),
        _("Type: {category}").format(category=category_label(data["category"])),
        _("What is needed: {text}").format(text=data.get("description") or "—"),
    ]
    media = media_line(photos, voices)
    if media:
        lines.append(media)
    lines += [
        _("Preferred time: {when}").format(
            when=preferred_label(data["preferred"], data.get("preferred_date"))
        ),
        urgency_label(bool(data.get("urgent"))),
    ]
    return "\n".join(lines)


async def _show_summary(message: Message, state: FSMContext) -> None:
    await state.set_state(IntakeForm.confirm)
    await state.update_data(editing=True)
    data = await state.get_data()
    await message.answer(summary_text(data), reply_markup=summary_keyboard())


@router.callback_query(IntakeForm.confirm, IntakeCb.filter(F.step == IntakeStep.CHANGE))
async def change_chosen(
    callback: CallbackQuery, callback_data: IntakeCb, state: FSMContext
) -> None:
    message = await _message_of(callback)
    if message is None or callback_data.value not in ("cat", "desc", "when", "urg"):
        await callback.answer(_("This button is no longer active."), show_alert=True)
        return
    await callback.answer()
    await message.edit_reply_markup(reply_markup=None)
    if callback_data.value == "cat":
        await _ask_category(message, state)
    elif callback_data.value == "desc":
        await _ask_description(message, state)
    elif callback_data.value == "when":
        await _ask_when(message, state)
    else:
        await state.set_state(IntakeForm.urgency)
        await message.answer(_("Is it urgent?"), reply_markup=urgency_keyboard())


@router.callback_query(IntakeForm.confirm, IntakeCb.filter(F.step == IntakeStep.SEND))
async def send_chosen(
    callback: CallbackQuery,
    state: FSMContext,
    session: AsyncSession,
    user: User,
    office: OfficeSettings,
) -> None:
    message = await _message_of(callback)
    data = await state.get_data()
    if message is None or "category" not in data or "profile_id" not in data:
        await callback.answer(_("This button is no longer active."), show_alert=True)
        return
    preferred_date = data.get("preferred_date")
    try:
        request = await create_request(
            session,
            user,
            int(data["profile_id"]),
            category=Category(data["category"]),
            description=data.get("description") or "",
            attachments=[
                Attachment(AttachmentKind(a["kind"]), a["file_id"])
                for a in data.get("attachments") or []
            ],
            preferred=Preferred(data.get("preferred") or Preferred.THIS_WEEK),
            preferred_date=date.fromisoformat(preferred_date) if preferred_date else None,
            urgent=bool(data.get("urgent")),
            tz=office.tz,
            staff_chat_id=office.staff_chat_id,
        )
    except RequestError:
        await callback.answer(_("Sorry, this request could not be sent."), show_alert=True)
        return
    await callback.answer()
    await state.clear()
    await message.edit_reply_markup(reply_markup=None)
    due = request.accept_due_at.astimezone(office.tz)
    await message.answer(
        "✅ "
        + _(
            "Your request has been sent.\nTracking number: {number}\n"
            "The service office will get back to you by {when}.\n"
            "You can follow it under “My requests”."
        ).format(number=request.number, when=format_when(_local_iso(due))),
        reply_markup=main_menu_keyboard(user),
    )


def _local_iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M")
