"""Invite codes for new staff: an administrator creates a one-time code (/invite or the menu
button) and gives it to the new colleague, who types it during onboarding ("I work at the
service office"), a one-step form. The rules (who may create one, once only, until when) are
the domain's, models/registration.py; a refused code is told by the capability's error handler
(handlers/onboarding/errors.py), and the person is still asked for the code."""

from __future__ import annotations

from typing import Any

from aiogram import Router
from aiogram.filters import Command, CommandObject
from aiogram.fsm.state import State, StatesGroup
from aiogram.types import Message
from aiogram.utils.i18n import gettext as _
from sqlalchemy.ext.asyncio import AsyncSession

from handlers.forms import Form, Step, StepContext, text_answer
from handlers.menu import MenuButton, main_menu_keyboard, menu_item
from models.office import OfficeSettings
from models.registration import create_invite_code, redeem_invite_code
from models.users import Role, User

INVITE_ITEM = menu_item("invite", "🎟️", lambda: _("Invite a colleague"), {Role.ADMIN}, order=800)

ROLE_WORDS = {"staff": Role.STAFF, "supervisor": Role.SUPERVISOR, "admin": Role.ADMIN}


def role_name(role: Role) -> str:
    return {
        Role.STAFF: _("caseworker"),
        Role.SUPERVISOR: _("supervisor"),
        Role.ADMIN: _("administrator"),
    }.get(role, str(role))


# -- creating a code ---------------------------------------------------------------------------


async def cmd_invite(
    message: Message,
    session: AsyncSession,
    user: User,
    office: OfficeSettings,
    command: CommandObject | None = None,
) -> None:
    """`/invite` makes a caseworker code; `/invite supervisor` or `/invite admin` others."""
    role = Role.STAFF
    if command is not None and command.args:
        role = ROLE_WORDS.get(command.args.strip().lower(), Role.STAFF)
    invite = await create_invite_code(session, user, role=role)
    expires = invite.expires_at.astimezone(office.tz) if invite.expires_at else None
    await message.answer(
        _(
            "New invite code for a {role}: {code}\n\n"
            "It works once and until {date}. Give it to your new colleague: they open this "
            "bot, send /start, choose “I work at the service office” and type the code."
        ).format(
            role=role_name(role),
            code=invite.code,
            date=expires.strftime("%Y-%m-%d") if expires else "-",
        )
    )


# -- redeeming it: a one-step form -------------------------------------------------------------


class Redeeming(StatesGroup):
    # Stored as "Onboarding:invite_code", its name from before it moved here.
    invite_code = State(group_name="Onboarding")


def _q_invite() -> str:
    return _("Please type the invite code you got from the administrator.")


def parse_code(message: Message, ctx: StepContext) -> dict[str, Any]:
    return {"code": text_answer(message)}


async def code_redeemed(ctx: StepContext) -> None:
    """A code the domain refuses raises: the update rolls back, the error handler says why,
    and the person is still at this step."""
    await redeem_invite_code(ctx.session, ctx.user, str(ctx.answers.get("code", "")))
    await ctx.state.clear()
    await ctx.message.answer(
        _("Welcome to the team! Your staff account is ready."),
        reply_markup=main_menu_keyboard(ctx.user),
    )


CODE = Step(Redeeming.invite_code, prompt=_q_invite, parse=parse_code, field="code")
INVITE = Form("staff_invite", [CODE], data_key="invite", finish=code_redeemed)
FORMS = [INVITE]


async def start_redeeming(ctx: StepContext) -> None:
    await INVITE.start(ctx, intro=_("Staff accounts need an invite code from the administrator."))


def setup() -> Router:
    """The form first: at its step, /invite is not taken for a new code."""
    creating = Router(name=f"{__name__}.create")
    creating.message.register(cmd_invite, Command("invite"))
    creating.message.register(cmd_invite, MenuButton("invite"))
    router = Router(name=__name__)
    router.include_routers(INVITE.router(), creating)
    return router
