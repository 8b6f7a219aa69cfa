"""Activities: the programme, sign-ups with a waiting list, reminders, attendance, feedback.

Menu items: "activities" and "my_activities" (retirees and families), "manage_activities"
(staff, supervisors, administrators). Importing this package registers them; the notification
renderers are listed by `handlers.activities.renderers.renderers()`.
"""

from __future__ import annotations

from aiogram import Router
from aiogram.utils.i18n import gettext as _

from handlers.menu import register_menu_item
from models.users import Role

register_menu_item(
    "activities", "🎨", lambda: _("Activities"), {Role.RETIREE, Role.FAMILY}, order=30
)
register_menu_item(
    "my_activities", "📅", lambda: _("My activities"), {Role.RETIREE, Role.FAMILY}, order=31
)
register_menu_item(
    "manage_activities",
    "🗓",
    lambda: _("Manage activities"),
    {Role.STAFF, Role.SUPERVISOR, Role.ADMIN},
    order=30,
)


def routers() -> list[Router]:
    from handlers.activities import attendance, catalogue, feedback, mine, signup, staff_manage

    return [
        catalogue.router,
        signup.router,
        mine.router,
        staff_manage.router,
        attendance.router,
        feedback.router,
    ]
