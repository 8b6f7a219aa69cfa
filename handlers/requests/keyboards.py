"""Callback data and keyboards of service requests. Callback data carries ids only; the domain
checks the presser's right to each id."""

from __future__ import annotations

import enum
from datetime import date, timedelta
from typing import Any

from aiogram.filters.callback_data import CallbackData
from aiogram.types import InlineKeyboardMarkup
from aiogram.utils.i18n import gettext as _
from aiogram.utils.keyboard import InlineKeyboardBuilder

from handlers.requests.texts import category_label, weekday_label
from models.requests import Category, QueueFilter, RequestStatus


class IntakeStep(enum.StrEnum):
    WHO = "who"
    CATEGORY = "cat"
    WHEN = "when"
    DATE = "date"
    URGENCY = "urg"
    SEND = "send"
    CHANGE = "chg"


class IntakeCb(CallbackData, prefix="rqi"):
    step: IntakeStep
    value: str = ""


class MineAction(enum.StrEnum):
    LIST = "list"
    OPEN = "open"
    CANCEL = "cancel"
    CANCEL_YES = "cancel_yes"
    RATE = "rate"


class MineCb(CallbackData, prefix="rqm"):
    action: MineAction
    request_id: int = 0


class RateCb(CallbackData, prefix="rqr"):
    request_id: int
    stars: int  # 1-5; 0 = no comment, thanks


class StaffAction(enum.StrEnum):
    TAKE = "take"
    ASSIGN = "assign"  # show the staff list
    ASSIGN_TO = "to"  # value = user id
    START = "start"
    DONE = "done"
    REJECT = "reject"
    BACK = "back"  # back from the staff list to the card's buttons
    OPEN = "open"  # open in the private queue
    MEDIA = "media"  # send the photos and voice notes privately


class StaffCb(CallbackData, prefix="rqs"):
    action: StaffAction
    request_id: int
    value: int = 0


class QueueCb(CallbackData, prefix="rqq"):
    view: QueueFilter


def one_per_row(builder: InlineKeyboardBuilder) -> InlineKeyboardMarkup:
    builder.adjust(1)
    return builder.as_markup()


def who_keyboard(profiles: list[tuple[int, str]]) -> InlineKeyboardMarkup:
    builder = InlineKeyboardBuilder()
    for profile_id, name in profiles:
        builder.button(
            text="👤 " + name, callback_data=IntakeCb(step=IntakeStep.WHO, value=str(profile_id))
        )
    return one_per_row(builder)


def category_keyboard() -> InlineKeyboardMarkup:
    builder = InlineKeyboardBuilder()
    for category in Category:
        builder.button(
            text=category_label(category.value),
            callback_data=IntakeCb(step=IntakeStep.CATEGORY, value=category.value),
        )
    return one_per_row(builder)


def when_keyboard() -> InlineKeyboardMarkup:
    builder = InlineKeyboardBuilder()
    for value, label in (
        ("today", _("Today")),
        ("tomorrow", _("Tomorrow")),
        ("this_week", _("This week")),
        ("date", "📅 " + _("Pick a date")),
    ):
        builder.button(text=label, callback_data=IntakeCb(step=IntakeStep.WHEN, value=value))
    builder.adjust(2, 1, 1)
    return builder.as_markup()


DATE_CHOICES = 14


def date_keyboard(today: date) -> InlineKeyboardMarkup:
    builder = InlineKeyboardBuilder()
    for offset in range(DATE_CHOICES):
        day = today + timedelta(days=offset)
        label = _("{month}/{day}").format(month=day.month, day=day.day)
        builder.button(
            text=f"{label} {weekday_label(day.weekday())}",
            callback_data=IntakeCb(step=IntakeStep.DATE, value=day.isoformat()),
        )
    builder.button(
        text="⬅️ " + _("Back"), callback_data=IntakeCb(step=IntakeStep.DATE, value="back")
    )
    builder.adjust(*([2] * (DATE_CHOICES // 2)), 1)
    return builder.as_markup()


def urgency_keyboard() -> InlineKeyboardMarkup:
    builder = InlineKeyboardBuilder()
    builder.button(
        text="🙂 " + _("Normal"), callback_data=IntakeCb(step=IntakeStep.URGENCY, value="normal")
    )
    builder.button(
        text="🚨 " + _("Urgent"), callback_data=IntakeCb(step=IntakeStep.URGENCY, value="urgent")
    )
    return one_per_row(builder)


def summary_keyboard() -> InlineKeyboardMarkup:
    builder = InlineKeyboardBuilder()
    builder.button(text="✅ " + _("Send the request"), callback_data=IntakeCb(step=IntakeStep.SEND))
    for value, label in (
        ("cat", _("Change the type")),
        ("desc", _("Change the description")),
        ("when", _("Change the time")),
        ("urg", _("Change urgency")),
    ):
        builder.button(
            text="✏️ " + label, callback_data=IntakeCb(step=IntakeStep.CHANGE, value=value)
        )
    builder.adjust(1, 2, 2)
    return builder.as_markup()


def stars_keyboard(request_id: int) -> InlineKeyboardMarkup:
    """Five big rows, from five stars down, so the best is where the thumb starts."""
    builder = InlineKeyboardBuilder()
    for stars in range(5, 0, -1):
        builder.button(text="⭐" * stars, callback_data=RateCb(request_id=request_id, stars=stars))
    return one_per_row(builder)


def skip_comment_keyboard(request_id: int) -> InlineKeyboardMarkup:
    builder = InlineKeyboardBuilder()
    builder.button(
        text=_("No comment, thanks"), callback_data=RateCb(request_id=request_id, stars=0)
    )
    return builder.as_markup()


def my_list_keyboard(items: list[tuple[int, str]]) -> InlineKeyboardMarkup:
    builder = InlineKeyboardBuilder()
    for request_id, label in items:
        builder.button(
            text=label, callback_data=MineCb(action=MineAction.OPEN, request_id=request_id)
        )
    return one_per_row(builder)


def my_request_keyboard(
    request_id: int, status: RequestStatus, may_rate: bool
) -> InlineKeyboardMarkup:
    builder = InlineKeyboardBuilder()
    if may_rate:
        builder.button(
            text="⭐ " + _("Rate this service"),
            callback_data=MineCb(action=MineAction.RATE, request_id=request_id),
        )
    if status.is_open:
        builder.button(
            text="❌ " + _("Cancel this request"),
            callback_data=MineCb(action=MineAction.CANCEL, request_id=request_id),
        )
    builder.button(
        text="⬅️ " + _("Back to my requests"), callback_data=MineCb(action=MineAction.LIST)
    )
    return one_per_row(builder)


def cancel_confirm_keyboard(request_id: int) -> InlineKeyboardMarkup:
    builder = InlineKeyboardBuilder()
    builder.button(
        text=_("Yes, cancel it"),
        callback_data=MineCb(action=MineAction.CANCEL_YES, request_id=request_id),
    )
    builder.button(
        text=_("No, keep it"), callback_data=MineCb(action=MineAction.OPEN, request_id=request_id)
    )
    return one_per_row(builder)


def staff_card_keyboard(params: dict[str, Any], private: bool = False) -> InlineKeyboardMarkup:
    """The actions that fit the request's status (the domain checks them again)."""
    request_id = int(params["request_id"])
    status = RequestStatus(params["status"])
    builder = InlineKeyboardBuilder()

    def add(action: StaffAction, label: str) -> None:
        builder.button(text=label, callback_data=StaffCb(action=action, request_id=request_id))

    if status == RequestStatus.NEW:
        add(StaffAction.TAKE, "🙋 " + _("Take"))
    if status == RequestStatus.ACCEPTED:
        add(StaffAction.START, "▶️ " + _("Start work"))
    if status in (RequestStatus.ACCEPTED, RequestStatus.IN_PROGRESS):
        add(StaffAction.DONE, "✅ " + _("Done"))
    if status.is_open:
        add(StaffAction.ASSIGN, "👥 " + _("Assign to…"))
        add(StaffAction.REJECT, "⛔ " + _("Reject"))
    if private and (params.get("photos") or params.get("voices")):
        add(StaffAction.MEDIA, "📎 " + _("Photos and voice"))
    builder.adjust(2)
    if private:
        builder.row()
        builder.button(
            text="⬅️ " + _("Back to the queue"), callback_data=QueueCb(view=QueueFilter.ALL)
        )
        builder.adjust(2, 2, 1)
    return builder.as_markup()


def assign_keyboard(request_id: int, staff: list[tuple[int, str]]) -> InlineKeyboardMarkup:
    builder = InlineKeyboardBuilder()
    for user_id, name in staff[:30]:
        builder.button(
            text="👤 " + name,
            callback_data=StaffCb(
                action=StaffAction.ASSIGN_TO, request_id=request_id, value=user_id
            ),
        )
    builder.button(
        text="⬅️ " + _("Back"), callback_data=StaffCb(action=StaffAction.BACK, request_id=request_id)
    )
    builder.adjust(2)
    return builder.as_markup()


def open_in_queue_keyboard(request_id: int) -> InlineKeyboardMarkup:
    builder = InlineKeyboardBuilder()
    builder.button(
        text="🗂 " + _("Open the request"),
        callback_data=StaffCb(action=StaffAction.OPEN, request_id=request_id),
    )
    return builder.as_markup()


def queue_keyboard(items: list[tuple[int, str]]) -> InlineKeyboardMarkup:
    builder = InlineKeyboardBuilder()
    for value, label in (
        (QueueFilter.MINE, _("Mine")),
        (QueueFilter.GRIDS, _("My grids")),
        (QueueFilter.UNASSIGNED, _("Unassigned")),
        (QueueFilter.OVERDUE, "⏰ " + _("Overdue")),
        (QueueFilter.ALL, _("All open")),
    ):
        builder.button(text=label, callback_data=QueueCb(view=value))
    for request_id, label in items:
        builder.button(
            text=label, callback_data=StaffCb(action=StaffAction.OPEN, request_id=request_id)
        )
    builder.adjust(3, 2, *([1] * len(items)))
    return builder.as_markup()
