"""Activities: the programme, sign-ups with a waiting list, reminders, attendance, feedback.

Menu items: "activities" and "my_activities" (retirees and families), "manage_activities"
(staff, supervisors, administrators). Importing this package registers them; the notification
renderers are listed by `handlers.activities.renderers.renderers()`.

    activities             messages: private chats only
    ├── people             registered people (`IsRegistered`): catalogue, sign-up, mine, rating
    ├── not registered     the same buttons from someone who has not registered: a kind word
    ├── staff              `IsStaff`, once: the list and card, create, edit, import, attendance
    ├── staff only         a staff button pressed by anyone else: "for office staff only"
    └── errors             an ActivityError from any handler here: rolled back, told kindly
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from aiogram import F, Router
from aiogram.filters import or_f
from aiogram.filters.callback_data import CallbackData
from aiogram.types import CallbackQuery, Message
from aiogram.utils.i18n import gettext as _

from handlers.activities.create import CREATE
from handlers.activities.edit import EDIT
from handlers.activities.feedback import FEEDBACK
from handlers.forms import Form
from handlers.menu import MenuButton, menu_item
from models.users import Role

ACTIVITIES_ITEM = menu_item(
    "activities", "🎨", lambda: _("Activities"), {Role.RETIREE, Role.FAMILY}, order=30
)
MY_ACTIVITIES_ITEM = menu_item(
    "my_activities", "📅", lambda: _("My activities"), {Role.RETIREE, Role.FAMILY}, order=31
)
MANAGE_ACTIVITIES_ITEM = menu_item(
    "manage_activities",
    "🗓",
    lambda: _("Manage activities"),
    {Role.STAFF, Role.SUPERVISOR, Role.ADMIN},
    order=30,
)

FORMS: list[Form] = [CREATE, EDIT, FEEDBACK]


def _refusals(
    name: str,
    text: Callable[[], str],
    menu_keys: Sequence[str],
    callbacks: Sequence[type[CallbackData]],
) -> Router:
    """After a gated router: the same menu buttons and button presses from someone the gate
    keeps out get a kind word (a toast for a press), not the generic fallback."""
    router = Router(name=name)

    async def refuse_message(message: Message) -> None:
        await message.answer(text())

    async def refuse_press(query: CallbackQuery) -> None:
        await query.answer(text(), show_alert=True)

    for key in menu_keys:
        router.message.register(refuse_message, MenuButton(key))
    router.callback_query.register(refuse_press, or_f(*[cb.filter() for cb in callbacks]))
    return router


def setup() -> Router:
    from handlers.activities import (
        attendance,
        catalogue,
        create,
        edit,
        feedback,
        importing,
        manage,
        mine,
        signup,
    )
    from handlers.activities.callbacks import PEOPLE_CALLBACKS, STAFF_CALLBACKS
    from handlers.activities.texts import error_text, not_registered_text, staff_only_text
    from handlers.errors import domain_errors
    from handlers.filters import IsRegistered, IsStaff
    from models.activities import ActivityError

    people = Router(name="activities:people")
    people.message.filter(IsRegistered())
    people.callback_query.filter(IsRegistered())
    people.include_routers(catalogue.setup(), signup.setup(), mine.setup(), feedback.setup())

    staff = Router(name="activities:staff")
    staff.message.filter(IsStaff())
    staff.callback_query.filter(IsStaff())
    staff.include_routers(
        manage.setup(), create.setup(), edit.setup(), importing.setup(), attendance.setup()
    )

    router = Router(name="activities")
    router.message.filter(F.chat.type == "private")
    router.include_routers(
        people,
        _refusals(
            "activities:not-registered",
            not_registered_text,
            ["activities", "my_activities"],
            list(PEOPLE_CALLBACKS),
        ),
        staff,
        _refusals(
            "activities:staff-only",
            staff_only_text,
            ["manage_activities"],
            list(STAFF_CALLBACKS),
        ),
        domain_errors(ActivityError, error_text),
    )
    return router
