"""Callback data of the activity buttons: enum and int fields only, so a forged or garbled
button fails the filter by itself and falls through to the kind fallback. Never trusted
beyond its shape: the domain checks every id."""

from __future__ import annotations

import enum

from aiogram.filters.callback_data import CallbackData

from handlers.ids import Id, Page, Stars
from models.activities import ActivityField, Category


class CatAction(enum.StrEnum):
    PAGE = "p"
    FILTERS = "f"
    OPEN = "o"


class CatalogueCb(CallbackData, prefix="acl"):
    action: CatAction
    page: Page = 0
    category: Category | None = None  # None: all categories
    activity_id: Id = 0


class SignupAction(enum.StrEnum):
    START = "s"
    FOR = "f"


class SignupCb(CallbackData, prefix="asu"):
    action: SignupAction
    activity_id: Id
    profile_id: Id = 0


class RegAction(enum.StrEnum):
    ASK = "a"  # "cancel" / "can't come" (a reminder, a notice): ask to confirm
    # the same from a screen that shows the state ("My activities", an activity's card): when
    # the sign-up has changed since, that screen is refreshed in place instead ("Updated")
    ASK_IN_LIST = "al"
    ASK_ON_CARD = "ac"
    CANCEL = "c"
    KEEP = "k"


class RegCb(CallbackData, prefix="arg"):
    action: RegAction
    registration_id: Id


class ManageAction(enum.StrEnum):
    LIST = "l"
    OPEN = "o"
    NEW = "n"
    IMPORT = "i"
    PARTICIPANTS = "p"
    EXPORT = "x"
    FEEDBACK = "f"
    EDIT = "e"
    CANCEL_ASK = "ca"
    CANCEL = "c"


class ManageCb(CallbackData, prefix="amg"):
    action: ManageAction
    activity_id: Id = 0
    page: Page = 0


class EditCb(CallbackData, prefix="aed"):
    activity_id: Id
    field: ActivityField


class AttendCb(CallbackData, prefix="aat"):
    activity_id: Id
    registration_id: Id


class RateCb(CallbackData, prefix="art"):
    registration_id: Id
    rating: Stars


STAFF_CALLBACKS: tuple[type[CallbackData], ...] = (ManageCb, EditCb, AttendCb)
PEOPLE_CALLBACKS: tuple[type[CallbackData], ...] = (CatalogueCb, SignupCb, RegCb, RateCb)
