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
from aiogram.utils.i18n import gettext as _
from aiogram.utils.keyboard import InlineKeyboardBuilder
from sqlalchemy.ext.asyncio import AsyncSession

from handlers.forms import StepContext
from handlers.ids import Id
from handlers.menu import MenuButton, menu_item
from handlers.notifications import Rendered, Renderer
from handlers.onboarding.family_link import start_link_form
from handlers.ui import edit_or_send
from models.notification_kinds import NotificationKind
from models.registration import decide_family_link, links_of
from models.users import LinkStatus, Role, User

FAMILY_ITEM = menu_item("family", "👨‍👩‍👧", lambda: _("My family"), {Role.FAMILY}, order=10)


class LinkAction(enum.StrEnum):
    APPROVE = "ok"
    DECLINE = "no"


class LinkDecision(CallbackData, prefix="fl"):
    action: LinkAction
    link_id: Id


class FamilyMenuAction(enum.StrEnum):
    ADD = "add"


class FamilyMenu(CallbackData, prefix="fm"):
    action: FamilyMenuAction


# -- "My family" -------------------------------------------------------------------------------


def _status_line(status: LinkStatus) -> str:
    return {
        LinkStatus.APPROVED: "✅ " + _("linked"),
        LinkStatus.PENDING: "⏳ " + _("waiting for approval"),
        LinkStatus.REJECTED: "❌ " + _("declined"),
    }[status]


def family_keyboard() -> InlineKeyboardMarkup:
    builder = InlineKeyboardBuilder()
    builder.button(
        text="➕ " + _("Add a relative"), callback_data=FamilyMenu(action=FamilyMenuAction.ADD)
    )
    return builder.as_markup()


async def my_family(message: Message, state: FSMContext, session: AsyncSession, user: User) -> None:
    await state.clear()
    links = await links_of(session, user.id)
    if not links:
        text = _("You are not linked to any relative yet.")
    else:
        lines = [_("Your relatives:")]
        for link in links:
            relation = f" ({link.relation})" if link.relation else ""
            lines.append(f"• {link.profile.full_name}{relation}: {_status_line(link.status)}")
        text = "\n".join(lines)
    await message.answer(text, reply_markup=family_keyboard())


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
    router.callback_query.register(link_decided, LinkDecision.filter())
    return router


# -- pushed messages ---------------------------------------------------------------------------


def render_link_request(params: dict[str, Any]) -> Rendered:
    text = _(
        "{family_name} asks to be linked to you as your {relation}. If you approve, they can "
        "see your requests, act for you and be told when something happens. Do you approve?"
    ).format(family_name=params.get("family_name", ""), relation=params.get("relation", ""))
    return Rendered(text, decision_keyboard(int(params["link_id"])))


def render_link_request_staff(params: dict[str, Any]) -> Rendered:
    text = _(
        "{family_name} asks to be linked to {retiree_name} as their {relation}. "
        "{retiree_name} has no Telegram account to approve it. Please check with them "
        "(for example by phone) and decide."
    ).format(
        family_name=params.get("family_name", ""),
        retiree_name=params.get("retiree_name", ""),
        relation=params.get("relation", ""),
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
