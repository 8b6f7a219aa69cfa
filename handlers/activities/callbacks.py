"""Callback data of the activity buttons: enum and int fields only, so a forged or garbled
button fails the filter by itself and falls through to the kind fallback. Never trusted
beyond its shape: the domain checks every id."""

from __future__ import annotations

import enum

from aiogram.filters.callback_data import CallbackData

from handlers.ids import Id
from models.activities import ActivityField, Category


class CatAction(enum.StrEnum):
    PAGE = "p"
    FILTERS = "f"
    OPEN = "o"


class CatalogueCb(CallbackData, prefix="acl"):
    action: CatAction
    page: int = 0
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
    ASK = "a"  # "cancel" / "can't come": ask to confirm
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
    page: int = 0


class EditCb(CallbackData, prefix="aed"):
    activity_id: Id
    field: ActivityField


class AttendCb(CallbackData, prefix="aat"):
    activity_id: Id
    registration_id: Id


class RateCb(CallbackData, prefix="art"):
    registration_id: Id
    rating: int


STAFF_CALLBACKS: tuple[type[CallbackData], ...] = (ManageCb, EditCb, AttendCb)
PEOPLE_CALLBACKS: tuple[type[CallbackData], ...] = (CatalogueCb, SignupCb, RegCb, RateCb)
