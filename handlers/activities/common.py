"""Small helpers shared by the activity routers: who may use what, and kind error texts."""

from __future__ import annotations

from aiogram.types import CallbackQuery, InaccessibleMessage, Message
from aiogram.utils.i18n import gettext as _
from sqlalchemy.ext.asyncio import AsyncSession

from models.activities import Activity, ActivityError, ActivityErrorCode, get_activity
from models.users import Role, User

PEOPLE_ROLES = frozenset({Role.RETIREE, Role.FAMILY})
STAFF_ROLES = frozenset({Role.STAFF, Role.SUPERVISOR, Role.ADMIN})


def may_browse(user: User | None) -> bool:
    return user is not None and user.is_onboarded


def is_staff(user: User | None) -> bool:
    return user is not None and user.is_onboarded and user.is_staff


def not_registered_text() -> str:
    return _("Please finish registering first: send /start.")


def staff_only_text() -> str:
    return _("This is for office staff only.")


def error_text(error: ActivityError) -> str:
    texts = {
        ActivityErrorCode.NOT_FOUND: _("Sorry, this activity is no longer available."),
        ActivityErrorCode.CANCELLED: _("Sorry, this activity has been cancelled."),
        ActivityErrorCode.STARTED: _("This activity has already started."),
        ActivityErrorCode.DEADLINE_PASSED: _("Sorry, sign-up for this activity has closed."),
        ActivityErrorCode.ALREADY_SIGNED_UP: _("Already signed up — no need to sign up twice."),
        ActivityErrorCode.FORBIDDEN: _("Sorry, you cannot do that for this person."),
        ActivityErrorCode.NOT_ACTIVE: _("This sign-up was already cancelled."),
        ActivityErrorCode.NOT_ATTENDED: _("Only people who came can rate this activity."),
        ActivityErrorCode.NOT_FINISHED: _("You can rate it after the activity."),
        ActivityErrorCode.INVALID: _("That value cannot be used here, please check it."),
    }
    return texts[error.code]


def query_message(query: CallbackQuery) -> Message | None:
    """The message under the button, if the bot can still edit it."""
    message = query.message
    if message is None or isinstance(message, InaccessibleMessage):
        return None
    return message


async def show(query: CallbackQuery, text: str, reply_markup=None) -> None:  # type: ignore[no-untyped-def]
    """Replace the message under the button (or send a new one if it is gone)."""
    message = query_message(query)
    if message is not None and message.text is not None:
        await message.edit_text(text, reply_markup=reply_markup)
    elif query.from_user is not None and query.bot is not None:
        await query.bot.send_message(query.from_user.id, text, reply_markup=reply_markup)


async def staff_activity(
    query: CallbackQuery, session: AsyncSession, user: User | None, activity_id: int
) -> Activity | None:
    """The activity a staff button names, or None after a kind refusal (not staff, or the
    activity is gone): every staff action on an activity starts here."""
    if not is_staff(user):
        await query.answer(staff_only_text(), show_alert=True)
        return None
    activity = await get_activity(session, activity_id)
    if activity is None:
        await query.answer(_("Sorry, this activity is no longer available."), show_alert=True)
    return activity
