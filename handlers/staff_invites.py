"""Invite codes for new staff: an administrator creates a one-time code (/invite or the menu
button) and gives it to the new colleague, who types it during onboarding."""

from __future__ import annotations

from aiogram import Router
from aiogram.filters import Command, CommandObject
from aiogram.types import Message
from aiogram.utils.i18n import gettext as _
from sqlalchemy.ext.asyncio import AsyncSession

from handlers.menu import MenuButton, register_menu_item
from models.office import OfficeSettings
from models.registration import RegistrationError, create_invite_code
from models.users import Role, User

register_menu_item("invite", "🎟️", lambda: _("Invite a colleague"), {Role.ADMIN}, order=800)

ROLE_WORDS = {"staff": Role.STAFF, "supervisor": Role.SUPERVISOR, "admin": Role.ADMIN}


def role_name(role: Role) -> str:
    return {
        Role.STAFF: _("caseworker"),
        Role.SUPERVISOR: _("supervisor"),
        Role.ADMIN: _("administrator"),
    }.get(role, str(role))


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
    try:
        invite = await create_invite_code(session, user, role=role)
    except RegistrationError:
        await message.answer(_("Sorry, only an administrator can create invite codes."))
        return
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


def setup() -> Router:
    router = Router(name=__name__)
    router.message.register(cmd_invite, Command("invite"))
    router.message.register(cmd_invite, MenuButton("invite"))
    return router
