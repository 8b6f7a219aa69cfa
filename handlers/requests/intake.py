"""Asking for help: (for whom) -> type -> description (text, voice, photos) -> preferred time
-> normal or urgent -> summary to confirm or change -> tracking number and promised time.

The form is a table of steps (`INTAKE`); the steps are answered by inline buttons (their
handlers call `INTAKE.answer`) and the description by several messages, ended with "That's
all". Changing an answer from the summary is `INTAKE.edit`, the date picker's "back" is
`INTAKE.back`.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from aiogram import F, Router
from aiogram.fsm.context import FSMContext
from aiogram.fsm.state import State, StatesGroup
from aiogram.types import CallbackQuery, InlineKeyboardMarkup, Message
from aiogram.utils.callback_answer import CallbackAnswer
from aiogram.utils.i18n import gettext as _
from sqlalchemy.ext.asyncio import AsyncSession

from handlers.common import form_keyboard, is_command
from handlers.filters import TextIs
from handlers.forms import EDITING, Form, Step, StepContext
from handlers.menu import AnyMenuButton, MenuButton, main_menu_keyboard, menu_item
from handlers.requests.callbacks import (
    CategoryCb,
    DateAction,
    DateCb,
    IntakeField,
    ReviewAction,
    ReviewCb,
    Urgency,
    UrgencyCb,
    WhenCb,
    WhoCb,
    stale,
)
from handlers.requests.keyboards import (
    category_keyboard,
    date_keyboard,
    summary_keyboard,
    urgency_keyboard,
    when_keyboard,
    who_keyboard,
)
from handlers.requests.texts import (
    category_label,
    done_text,
    duplicate_note,
    format_when,
    media_line,
    preferred_label,
    urgency_label,
)
from handlers.ui import edit_markup, edit_or_send, message_of
from models.base import utcnow
from models.office import OfficeSettings
from models.requests import (
    MAX_DESCRIPTION,
    Attachment,
    AttachmentKind,
    Category,
    Preferred,
    check_description,
    check_description_words,
    create_request,
    likely_duplicates,
    may_prefer,
    profile_to_ask_for,
)
from models.users import Role, User, profiles_to_act_for

REQUEST_HELP_ITEM = menu_item(
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


# -- the steps ---------------------------------------------------------------------------------


async def _who_keyboard(ctx: StepContext) -> InlineKeyboardMarkup:
    profiles = await profiles_to_act_for(ctx.session, ctx.user)
    return who_keyboard([(p.id, p.full_name) for p in profiles])


def _has_description(ctx: StepContext) -> bool:
    return bool(ctx.answers.get("description") or ctx.answers.get("attachments"))


def _description_question(ctx: StepContext) -> str:
    if not _has_description(ctx):
        return _(
            "Please tell us what you need: type it, send a voice message or photos. "
            "You can send several. When you have finished, tap “{done}”."
        ).format(done=done_text())
    # changing it (or taking it up again): what is there stays unless rewritten
    lines = [_("What you have told us so far:"), ctx.answers.get("description") or "—"]
    media = _media(ctx.answers)
    if media:
        lines.append(media)
    lines += [
        "",
        _(
            "Send more text, voice messages or photos to add to it, or tap “{rewrite}” to "
            "write the text anew (photos and voice messages stay). When you have finished, "
            "tap “{done}”."
        ).format(rewrite=rewrite_text(), done=done_text()),
    ]
    return "\n".join(lines)


def _description_keyboard(ctx: StepContext) -> Any:
    if _has_description(ctx):
        return form_keyboard([done_text()], [rewrite_text()])
    return form_keyboard([done_text()])


def rewrite_text() -> str:
    return "✏️ " + _("Write the text anew")


def _media(answers: dict[str, Any]) -> str:
    attachments = answers.get("attachments") or []
    photos = sum(1 for a in attachments if a["kind"] == AttachmentKind.PHOTO)
    voices = sum(1 for a in attachments if a["kind"] == AttachmentKind.VOICE)
    return media_line(photos, voices)


def _today(office: OfficeSettings) -> date:
    return utcnow().astimezone(office.tz).date()


def _urgency_question(ctx: StepContext) -> str:
    if ctx.answers.get(EDITING):  # changing it from the summary: the short question
        return _("Is it urgent?")
    return _("Is it urgent? Urgent means it cannot wait (for example, water is leaking).")


def summary_text(answers: dict[str, Any]) -> str:
    lines = [
        _("Please check your request:"),
        "",
        _("For: {name}").format(name=answers.get("for_name") or ""),
        _("Type: {category}").format(category=category_label(answers["category"])),
        _("What is needed: {text}").format(text=answers.get("description") or "—"),
    ]
    media = _media(answers)
    if media:
        lines.append(media)
    lines += [
        _("Preferred time: {when}").format(
            when=preferred_label(answers["preferred"], answers.get("preferred_date"))
        ),
        urgency_label(bool(answers.get("urgent"))),
    ]
    return "\n".join(lines)


def _summary_keyboard(ctx: StepContext) -> InlineKeyboardMarkup:
    return summary_keyboard(
        [
            (IntakeField(step.field), step.label())
            for step in INTAKE.fields()
            if step.field and step.label
        ]
    )


WHO = Step(
    IntakeForm.who,
    prompt=lambda: _("Who needs the help? Please tap a name."),
    keyboard=_who_keyboard,
    field="profile_id",
    # asked only when there is a choice: with one person the form starts knowing whom
    applies=lambda ctx: "profile_id" not in ctx.answers,
)
CATEGORY = Step(
    IntakeForm.category,
    prompt=lambda: _("What kind of help is needed?"),
    keyboard=lambda ctx: category_keyboard(),
    field=IntakeField.CATEGORY.value,
    label=lambda: _("Change the type"),
)
# In the answers: what is needed was told before the type (typed at the type question, or said
# at the main menu), so the description step is not asked in line (it stays changeable).
DESCRIBED = "described"
DESCRIPTION = Step(
    IntakeForm.description,
    prompt=lambda: _("Please tell us what you need: type it, send a voice message or photos."),
    text=_description_question,
    keyboard=_description_keyboard,
    field=IntakeField.DESCRIPTION.value,
    label=lambda: _("Change the description"),
    applies=lambda ctx: not ctx.answers.get(DESCRIBED),
)
WHEN = Step(
    IntakeForm.when,
    prompt=lambda: _("When would suit you?"),
    keyboard=lambda ctx: when_keyboard(),
    field=IntakeField.WHEN.value,
    label=lambda: _("Change the time"),
)
DATE = Step(
    IntakeForm.date,
    prompt=lambda: _("Please tap a date."),
    keyboard=lambda ctx: date_keyboard(_today(ctx.office)),
    # never next in line: opened by "Pick a date" on the WHEN step, replacing its buttons
    applies=lambda ctx: False,
)
URGENCY = Step(
    IntakeForm.urgency,
    prompt=lambda: _("Is it urgent?"),
    text=_urgency_question,
    keyboard=lambda ctx: urgency_keyboard(),
    field=IntakeField.URGENCY.value,
    label=lambda: _("Change urgency"),
)
CONFIRM = Step(
    IntakeForm.confirm,
    prompt=lambda: _("Please check the request and tap “Send the request”."),
    text=lambda ctx: summary_text(ctx.answers),
    keyboard=_summary_keyboard,
)
INTAKE = Form(
    "request_intake",
    [WHO, CATEGORY, DESCRIPTION, WHEN, DATE, URGENCY],
    data_key="request",
    review=CONFIRM,
    title=lambda: _("help request"),
)


# -- starting ----------------------------------------------------------------------------------


async def cmd_request_help(message: Message, **data: Any) -> None:
    ctx = StepContext.of(message, data)
    user = ctx.user
    await ctx.state.clear()
    if not user.is_onboarded:
        await message.answer(_("Please finish registering first: tap /start."))
        return
    profiles = await profiles_to_act_for(ctx.session, user)
    if not profiles:
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
    only = profiles[0] if len(profiles) == 1 else None
    answers = {"profile_id": only.id, "for_name": only.full_name} if only else {}
    await INTAKE.start(ctx, answers=answers)


# -- the buttons -------------------------------------------------------------------------------


async def who_chosen(
    callback: CallbackQuery, callback_data: WhoCb, callback_answer: CallbackAnswer, **data: Any
) -> None:
    ctx = StepContext.of_query(callback, data)
    if ctx is None:
        return stale(callback_answer)
    profile = await profile_to_ask_for(ctx.session, ctx.user, callback_data.profile_id)
    await edit_or_send(callback, _("Help for: {name}").format(name=profile.full_name))
    await INTAKE.answer(ctx, WHO, {"profile_id": profile.id, "for_name": profile.full_name})


async def category_chosen(
    callback: CallbackQuery,
    callback_data: CategoryCb,
    callback_answer: CallbackAnswer,
    **data: Any,
) -> None:
    ctx = StepContext.of_query(callback, data)
    if ctx is None:
        return stale(callback_answer)
    await edit_or_send(callback, category_label(callback_data.category.value))
    await _point_out_duplicate(ctx, callback_data.category)
    await INTAKE.answer(ctx, CATEGORY, {"category": callback_data.category.value})


async def _point_out_duplicate(ctx: StepContext, category: Category) -> None:
    """The same person already has an open request of this kind: say so, and go on."""
    answers = await INTAKE.answers(ctx.state)
    if "profile_id" not in answers:
        return
    profile_id = int(answers["profile_id"])
    open_ones = await likely_duplicates(ctx.session, profile_id, category)
    if open_ones:
        own = ctx.user.profile is not None and ctx.user.profile.id == profile_id
        await ctx.message.answer(duplicate_note(open_ones, str(answers.get("for_name", "")), own))


async def when_chosen(
    callback: CallbackQuery, callback_data: WhenCb, callback_answer: CallbackAnswer, **data: Any
) -> None:
    ctx = StepContext.of_query(callback, data)
    if ctx is None:
        return stale(callback_answer)
    preferred = callback_data.preferred.value
    await edit_or_send(callback, preferred_label(preferred, None))
    await INTAKE.answer(ctx, WHEN, {"preferred": preferred, "preferred_date": None})


async def date_asked(callback: CallbackQuery, callback_answer: CallbackAnswer, **data: Any) -> None:
    """After “Pick a date” the days replace the choices, under the same message."""
    ctx = StepContext.of_query(callback, data)
    if ctx is None:
        return stale(callback_answer)
    await INTAKE.ask(ctx, DATE, in_place=True)


def _picked_day(day: int, today: date) -> date | None:
    """The day on the pressed button, if it is one that may be picked today."""
    if not 1 <= day <= date.max.toordinal():  # forged: no day at all
        return None
    chosen = date.fromordinal(day)
    return chosen if may_prefer(chosen, today) else None


async def date_chosen(
    callback: CallbackQuery, callback_data: DateCb, callback_answer: CallbackAnswer, **data: Any
) -> None:
    ctx = StepContext.of_query(callback, data)
    if ctx is None:
        return stale(callback_answer)
    chosen = _picked_day(callback_data.day, _today(ctx.office))
    if chosen is None:  # yesterday's picker, or forged: today's days again
        stale(callback_answer)
        await INTAKE.ask_again(ctx)
        return
    await edit_or_send(callback, preferred_label(Preferred.DATE.value, chosen.isoformat()))
    await INTAKE.answer(
        ctx, DATE, {"preferred": Preferred.DATE.value, "preferred_date": chosen.isoformat()}
    )


async def date_back(callback: CallbackQuery, callback_answer: CallbackAnswer, **data: Any) -> None:
    ctx = StepContext.of_query(callback, data)
    if ctx is None:
        return stale(callback_answer)
    await INTAKE.back(ctx, DATE, in_place=True)


async def urgency_chosen(
    callback: CallbackQuery,
    callback_data: UrgencyCb,
    callback_answer: CallbackAnswer,
    **data: Any,
) -> None:
    ctx = StepContext.of_query(callback, data)
    if ctx is None:
        return stale(callback_answer)
    urgent = callback_data.urgency == Urgency.URGENT
    await edit_or_send(callback, urgency_label(urgent))
    await INTAKE.answer(ctx, URGENCY, {"urgent": urgent})


async def change_chosen(
    callback: CallbackQuery,
    callback_data: ReviewCb,
    callback_answer: CallbackAnswer,
    **data: Any,
) -> None:
    ctx = StepContext.of_query(callback, data)
    if ctx is None or callback_data.field is None:
        return stale(callback_answer)
    await edit_markup(callback, None)
    # the description is shown with "add" and "write anew": nothing told is dropped here
    await INTAKE.edit(ctx, callback_data.field.value)


async def send_chosen(
    callback: CallbackQuery,
    callback_answer: CallbackAnswer,
    state: FSMContext,
    session: AsyncSession,
    user: User,
    office: OfficeSettings,
) -> None:
    message = message_of(callback)
    answers = await INTAKE.answers(state)
    if message is None or "category" not in answers or "profile_id" not in answers:
        return stale(callback_answer)
    preferred_date = answers.get("preferred_date")
    request = await create_request(
        session,
        user,
        int(answers["profile_id"]),
        category=Category(answers["category"]),
        description=answers.get("description") or "",
        attachments=[
            Attachment(AttachmentKind(a["kind"]), a["file_id"])
            for a in answers.get("attachments") or []
        ],
        preferred=Preferred(answers.get("preferred") or Preferred.THIS_WEEK),
        preferred_date=date.fromisoformat(preferred_date) if preferred_date else None,
        urgent=bool(answers.get("urgent")),
        tz=office.tz,
        staff_chat_id=office.staff_chat_id,
    )
    await state.clear()
    await edit_markup(callback, None)
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


# -- the description: several messages, then "That's all" ------------------------------------


async def description_done(message: Message, **data: Any) -> None:
    ctx = StepContext.of(message, data)
    answers = await INTAKE.answers(ctx.state)
    # nothing told yet: the domain's reason, and the step waits as it was
    check_description(answers.get("description") or "", len(answers.get("attachments") or []))
    await message.answer(_("Thank you, got it."), reply_markup=form_keyboard())
    await INTAKE.advance(ctx, DESCRIPTION)


async def description_rewritten(message: Message, **data: Any) -> None:
    """The text is written anew; the photos and voice messages stay."""
    ctx = StepContext.of(message, data)
    await INTAKE.store(ctx, description="")
    await message.answer(
        _(
            "Good, the text is cleared (photos and voice messages stay). Please tell us "
            "again what you need, then tap “{done}”."
        ).format(done=done_text()),
        reply_markup=form_keyboard([done_text()]),
    )


async def description_text(message: Message, **data: Any) -> None:
    text = (message.text or "").strip()
    if is_command(text):
        await message.answer(
            _(
                "Please describe what you need, or tap “{done}”. What you sent before is kept."
            ).format(done=done_text())
        )
        return
    ctx = StepContext.of(message, data)
    answers = await INTAKE.answers(ctx.state)
    description = answers.get("description") or ""
    check_description_words(text)  # only emoji or punctuation: a gentle hint, nothing lost
    combined = f"{description}\n{text}".strip() if description else text
    # too long: the domain's reason, and what was sent before is kept
    check_description(combined, len(answers.get("attachments") or []))
    await INTAKE.store(ctx, description=combined)
    await _ack_piece(message)


async def description_media(message: Message, **data: Any) -> None:
    ctx = StepContext.of(message, data)
    answers = await INTAKE.answers(ctx.state)
    attachments: list[dict[str, str]] = list(answers.get("attachments") or [])
    if message.voice is not None:
        attachments.append({"kind": AttachmentKind.VOICE.value, "file_id": message.voice.file_id})
    elif message.photo:
        attachments.append(
            {"kind": AttachmentKind.PHOTO.value, "file_id": message.photo[-1].file_id}
        )
    description = answers.get("description") or ""
    caption = (message.caption or "").strip()
    if caption:  # a photo is kept even when its caption no longer fits
        description = (f"{description}\n{caption}" if description else caption)[:MAX_DESCRIPTION]
    # one too many: the domain's reason, and nothing more is kept
    check_description(description, len(attachments))
    first_of_album = message.media_group_id is None or (
        answers.get("album") != message.media_group_id
    )
    await INTAKE.store(
        ctx, attachments=attachments, description=description, album=message.media_group_id
    )
    if first_of_album:
        await _ack_piece(message)


async def _ack_piece(message: Message) -> None:
    await message.answer(
        _("Got it. You can add more, or tap “{done}”.").format(done=done_text()),
        reply_markup=form_keyboard([done_text()]),
    )


async def description_invalid(message: Message) -> None:
    await message.answer(
        _(
            "I can take text, voice messages and photos here. Please describe what you need, "
            "or tap “{done}”. What you sent before is kept."
        ).format(done=done_text())
    )


def setup() -> Router:
    """Private chats (the capability's private router carries the chat filter)."""
    router = Router(name=__name__)
    router.message.register(cmd_request_help, MenuButton("request_help"))
    router.callback_query.register(who_chosen, IntakeForm.who, WhoCb.filter(), INTAKE.live())
    router.callback_query.register(
        category_chosen, IntakeForm.category, CategoryCb.filter(), INTAKE.live()
    )
    router.callback_query.register(
        date_asked, IntakeForm.when, WhenCb.filter(F.preferred == Preferred.DATE), INTAKE.live()
    )
    router.callback_query.register(when_chosen, IntakeForm.when, WhenCb.filter(), INTAKE.live())
    router.callback_query.register(
        date_chosen, IntakeForm.date, DateCb.filter(F.action == DateAction.PICK), INTAKE.live()
    )
    router.callback_query.register(
        date_back, IntakeForm.date, DateCb.filter(F.action == DateAction.BACK), INTAKE.live()
    )
    router.callback_query.register(
        urgency_chosen, IntakeForm.urgency, UrgencyCb.filter(), INTAKE.live()
    )
    router.callback_query.register(
        change_chosen,
        IntakeForm.confirm,
        ReviewCb.filter(F.action == ReviewAction.CHANGE),
        INTAKE.live(),
    )
    router.callback_query.register(
        send_chosen,
        IntakeForm.confirm,
        ReviewCb.filter(F.action == ReviewAction.SEND),
        INTAKE.live(),
    )
    router.message.register(description_done, IntakeForm.description, TextIs(done_text))
    router.message.register(description_rewritten, IntakeForm.description, TextIs(rewrite_text))
    router.message.register(description_text, IntakeForm.description, F.text, ~AnyMenuButton())
    router.message.register(description_media, IntakeForm.description, F.voice | F.photo)
    router.message.register(description_invalid, IntakeForm.description, ~AnyMenuButton())
    return router
