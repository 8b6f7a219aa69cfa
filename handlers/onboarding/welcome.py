"""Who are you? The one question after the language, whose answer picks the next form: a
retiree's registration, a family member's link to their relative, or a staff invite code."""

from __future__ import annotations

from typing import Any

from aiogram.fsm.state import State, StatesGroup
from aiogram.types import Message, ReplyKeyboardMarkup
from aiogram.utils.i18n import gettext as _

from handlers.common import form_keyboard
from handlers.filters import is_label
from handlers.forms import Form, Invalid, Step, StepContext, default_problem
from handlers.onboarding.family_link import start_link_form
from handlers.onboarding.registration import start_registration
from handlers.staff_invites import start_redeeming
from models.users import Role

# The language buttons (each in its own language; handlers/language.py takes the tap).
LANGUAGE_NAMES = ("简体中文", "繁體中文", "English")


class Welcome(StatesGroup):
    role = State(group_name="Onboarding")  # stored as "Onboarding:role", as before the split


def role_retiree_text() -> str:
    return "👴 " + _("I am a retiree")


def role_family_text() -> str:
    return "👨‍👩‍👧 " + _("I am a family member")


def role_staff_text() -> str:
    return "🧑‍💼 " + _("I work at the service office")


def _q_role() -> str:
    return _("Who are you? Please tap one of the buttons.")


# The buttons, one a row, and who each one says the person is.
ROLES = (
    (role_retiree_text, Role.RETIREE),
    (role_family_text, Role.FAMILY),
    (role_staff_text, Role.STAFF),
)


def role_keyboard(ctx: StepContext) -> ReplyKeyboardMarkup:
    """The roles, one a row; while the language is only what Telegram told us, the three
    languages too, so another is one tap away without being asked."""
    rows = [[label()] for label, _role in ROLES]
    if ctx.user.language is None:
        rows.append(list(LANGUAGE_NAMES))
    return form_keyboard(*rows)


def parse_role(message: Message, ctx: StepContext) -> dict[str, Any]:
    role = next((role for label, role in ROLES if is_label(message.text, label)), None)
    if role is None:
        raise Invalid(default_problem(message))
    return {"role": role.value}


async def role_chosen(ctx: StepContext) -> None:
    """The answer decides which form comes next; each begins with fresh answers."""
    role = Role(ctx.answers["role"])
    if role == Role.RETIREE:
        await start_registration(ctx)
    elif role == Role.FAMILY:
        await start_link_form(ctx, first_time=True)
    else:
        await start_redeeming(ctx)


ROLE = Step(Welcome.role, prompt=_q_role, keyboard=role_keyboard, parse=parse_role, field="role")
WELCOME = Form("welcome", [ROLE], data_key="welcome", finish=role_chosen)


async def ask_role(ctx: StepContext) -> None:
    await WELCOME.start(ctx, intro=_("Welcome to the retiree service office!"))
