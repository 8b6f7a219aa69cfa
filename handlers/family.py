"""Family links, as the family member and the retiree see them: "My family" (the relatives a
family member is linked to, and ➕ to add one with the family link form,
handlers/onboarding/family_link.py),
and the retiree's (or the office's) answer to a link request. The rules (who may decide, who is
told) are the domain's, models/registration.py."""

from __future__ import annotations

import enum
from typing import Any

from aiogram import F, Router
from aiogram.filters.callback_data import CallbackData
from aiogram.fsm.context import FSMContext
from aiogram.types import CallbackQuery, InlineKeyboardMarkup, Message
from aiogram.utils.callback_answer import CallbackAnswer
from aiogram.utils.i18n import gettext as _
from aiogram.utils.keyboard import InlineKeyboardBuilder
from sqlalchemy.ext.asyncio import AsyncSession

from handlers.forms import StepContext
from handlers.ids import Id
from handlers.menu import MenuButton, menu_item
from handlers.notifications import Rendered, Renderer
from handlers.onboarding.family_link import start_link_form
from handlers.relations import relative_in_list, says_related, says_related_to
from handlers.ui import edit_or_send
from models.notification_kinds import NotificationKind
from models.registration import decide_family_link, links_of, set_activity_reminders
from models.users import FamilyLink, LinkStatus, Role, User

FAMILY_ITEM = menu_item("family", "👨‍👩‍👧", lambda: _("My family"), {Role.FAMILY}, order=10)


class LinkAction(enum.StrEnum):
    APPROVE = "ok"
    DECLINE = "no"


class LinkDecision(CallbackData, prefix="fl"):
    action: LinkAction
    link_id: Id


class FamilyMenuAction(enum.StrEnum):
    ADD = "add"
    REMINDERS_ON = "ron"  # also get the relative's activity reminders
    REMINDERS_OFF = "roff"


class FamilyMenu(CallbackData, prefix="fm"):
    action: FamilyMenuAction
    link_id: Id = 0  # for the reminder switches


# -- "My family" -------------------------------------------------------------------------------


def _status_line(status: LinkStatus) -> str:
    return {
        LinkStatus.APPROVED: "✅ " + _("linked"),
        LinkStatus.PENDING: "⏳ " + _("waiting for approval"),
        LinkStatus.REJECTED: "❌ " + _("declined"),
    }[status]


def family_keyboard(links: list[FamilyLink] | None = None) -> InlineKeyboardMarkup:
    """➕ Add a relative, and per approved link the switch for the relative's activity
    reminders (off until the family member turns it on)."""
    builder = InlineKeyboardBuilder()
    for link in links or []:
        if link.status != LinkStatus.APPROVED:
            continue
        name = link.profile.full_name
        if link.activity_reminders:
            text = "🔔 " + _("Activity reminders for {name}: on (tap to turn off)")
            action = FamilyMenuAction.REMINDERS_OFF
        else:
            text = "🔕 " + _("Activity reminders for {name}: off (tap to turn on)")
            action = FamilyMenuAction.REMINDERS_ON
        builder.button(
            text=text.format(name=name), callback_data=FamilyMenu(action=action, link_id=link.id)
        )
    builder.button(
        text="➕ " + _("Add a relative"), callback_data=FamilyMenu(action=FamilyMenuAction.ADD)
    )
    builder.adjust(1)
    return builder.as_markup()


def family_text(links: list[FamilyLink]) -> str:
    if not links:
        return _("You are not linked to any relative yet.")
    lines = [_("Your relatives:")]
    for link in links:
        lines.append(
            _("• {relative}: {status}").format(
                relative=relative_in_list(link), status=_status_line(link.status)
            )
        )
    if any(link.status == LinkStatus.APPROVED for link in links):
        lines += [
            "",
            _(
                "You are told when a relative gets a place off a waiting list, or when an "
                "activity they signed up for is moved or cancelled. Their activity reminders "
                "too, if you turn them on below."
            ),
        ]
    return "\n".join(lines)


async def my_family(message: Message, state: FSMContext, session: AsyncSession, user: User) -> None:
    await state.clear()
    links = await links_of(session, user.id)
    await message.answer(family_text(links), reply_markup=family_keyboard(links))


async def reminders_switched(
    callback: CallbackQuery,
    callback_data: FamilyMenu,
    callback_answer: CallbackAnswer,
    session: AsyncSession,
    user: User,
) -> None:
    """The switch for a relative's activity reminders; "My family" is shown anew in place.
    Someone else's link (a forged id) is refused by the domain as not found."""
    on = callback_data.action == FamilyMenuAction.REMINDERS_ON
    link = await set_activity_reminders(session, user, callback_data.link_id, on)
    name = link.profile.full_name
    if on:
        callback_answer.text = _("You will also get {name}'s activity reminders.").format(name=name)
    else:
        callback_answer.text = _("You will no longer get {name}'s activity reminders.").format(
            name=name
        )
    links = await links_of(session, user.id)
    await edit_or_send(callback, family_text(links), family_keyboard(links))


async def add_relative(callback: CallbackQuery, **data: Any) -> None:
    ctx = StepContext.of_query(callback, data)
    if ctx is not None and ctx.message.chat.type == "private":
        await start_link_form(ctx, first_time=False)


# -- approval ----------------------------------------------------------------------------------


def decision_keyboard(link_id: int) -> InlineKeyboardMarkup:
    builder = InlineKeyboardBuilder()
    builder.button(
        text="✅ " + _("Approve"),
        callback_data=LinkDecision(action=LinkAction.APPROVE, link_id=link_id),
    )
    builder.button(
        text="❌ " + _("Decline"),
        callback_data=LinkDecision(action=LinkAction.DECLINE, link_id=link_id),
    )
    builder.adjust(2)
    return builder.as_markup()


async def link_decided(
    callback: CallbackQuery, callback_data: LinkDecision, session: AsyncSession, user: User
) -> None:
    """The domain checks that this person may decide this link (a refusal is told by the
    capability's error handler, handlers/onboarding/errors.py)."""
    approve = callback_data.action == LinkAction.APPROVE
    link = await decide_family_link(session, user, callback_data.link_id, approve=approve)
    name = link.family_user.display_name
    if approve:
        text = _("You approved the link with {name}.").format(name=name)
    else:
        text = _("You declined the link with {name}.").format(name=name)
    await callback.answer(text)
    await edit_or_send(callback, text)


def setup() -> Router:
    router = Router(name=__name__)
    router.message.register(my_family, MenuButton("family"))
    router.callback_query.register(
        add_relative, FamilyMenu.filter(F.action == FamilyMenuAction.ADD)
    )
    router.callback_query.register(
        reminders_switched,
        FamilyMenu.filter(
            F.action.in_({FamilyMenuAction.REMINDERS_ON, FamilyMenuAction.REMINDERS_OFF})
        ),
    )
    router.callback_query.register(link_decided, LinkDecision.filter())
    return router


# -- pushed messages ---------------------------------------------------------------------------


def render_link_request(params: dict[str, Any]) -> Rendered:
    """To the retiree, in their words: "Mei Chen 说她是您的女儿，想和您关联。…"."""
    text = (
        says_related(params)
        + " "
        + _(
            "If you approve, this family member can see your requests, ask for help and sign "
            "you up for activities for you, and is told when something happens. Do you approve?"
        )
    )
    return Rendered(text, decision_keyboard(int(params["link_id"])))


def render_link_request_staff(params: dict[str, Any]) -> Rendered:
    text = (
        says_related_to(params)
        + " "
        + _(
            "{retiree_name} has no Telegram account to approve the link. Please check with "
            "them (for example by phone) and decide."
        ).format(retiree_name=params.get("retiree_name", ""))
    )
    return Rendered(text, decision_keyboard(int(params["link_id"])))


def render_link_decided(params: dict[str, Any]) -> Rendered:
    name = params.get("retiree_name", "")
    if params.get("approved"):
        text = _("Good news: your link with {name} was approved. You can see it under “My family”.")
    else:
        text = _(
            "Your request to be linked with {name} was declined. If you think this is a "
            "mistake, please contact the service office."
        )
    return Rendered(text.format(name=name))


def renderers() -> dict[NotificationKind, Renderer]:
    return {
        NotificationKind.FAMILY_LINK_REQUEST: render_link_request,
        NotificationKind.FAMILY_LINK_REQUEST_STAFF: render_link_request_staff,
        NotificationKind.FAMILY_LINK_DECIDED: render_link_decided,
    }
