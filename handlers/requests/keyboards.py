"""Keyboards of service requests, built per call (texts through `_()` inside). Which buttons a
request offers is the domain's rule (`staff_ops_for`, `may_rate`, `may_cancel`); the domain
checks every press again."""

from __future__ import annotations

from datetime import date
from typing import Any

from aiogram.types import InlineKeyboardButton, InlineKeyboardMarkup
from aiogram.utils.i18n import gettext as _
from aiogram.utils.keyboard import InlineKeyboardBuilder

from handlers.requests.callbacks import (
    CategoryCb,
    ClassifyCb,
    DateAction,
    DateCb,
    IntakeField,
    MineAction,
    MineCb,
    QueueCb,
    RateCb,
    ReviewAction,
    ReviewCb,
    SkipCommentCb,
    StaffAction,
    StaffCb,
    Urgency,
    UrgencyCb,
    WhenCb,
    WhoCb,
)
from handlers.requests.texts import category_label, weekday_label
from models.requests import (
    CHOSEN_CATEGORIES,
    Category,
    Preferred,
    QueueFilter,
    RequestStatus,
    StaffOp,
    preferred_dates,
    staff_ops_for,
)


def one_per_row(builder: InlineKeyboardBuilder) -> InlineKeyboardMarkup:
    builder.adjust(1)
    return builder.as_markup()


def who_keyboard(profiles: list[tuple[int, str]]) -> InlineKeyboardMarkup:
    builder = InlineKeyboardBuilder()
    for profile_id, name in profiles:
        builder.button(text="👤 " + name, callback_data=WhoCb(profile_id=profile_id))
    return one_per_row(builder)


def category_keyboard() -> InlineKeyboardMarkup:
    builder = InlineKeyboardBuilder()
    for category in CHOSEN_CATEGORIES:
        builder.button(
            text=category_label(category.value), callback_data=CategoryCb(category=category)
        )
    return one_per_row(builder)


def when_keyboard() -> InlineKeyboardMarkup:
    builder = InlineKeyboardBuilder()
    for value, label in (
        (Preferred.TODAY, _("Today")),
        (Preferred.TOMORROW, _("Tomorrow")),
        (Preferred.THIS_WEEK, _("This week")),
        (Preferred.DATE, "📅 " + _("Pick a date")),
    ):
        builder.button(text=label, callback_data=WhenCb(preferred=value))
    builder.adjust(2, 1, 1)
    return builder.as_markup()


def date_keyboard(today: date) -> InlineKeyboardMarkup:
    builder = InlineKeyboardBuilder()
    days = preferred_dates(today)
    for day in days:
        label = _("{month}/{day}").format(month=day.month, day=day.day)
        builder.button(
            text=f"{label} {weekday_label(day.weekday())}",
            callback_data=DateCb(action=DateAction.PICK, day=day.toordinal()),
        )
    builder.button(text="⬅️ " + _("Back"), callback_data=DateCb(action=DateAction.BACK))
    builder.adjust(*([2] * (len(days) // 2)), 1)
    return builder.as_markup()


def urgency_keyboard() -> InlineKeyboardMarkup:
    builder = InlineKeyboardBuilder()
    builder.button(text="🙂 " + _("Normal"), callback_data=UrgencyCb(urgency=Urgency.NORMAL))
    builder.button(text="🚨 " + _("Urgent"), callback_data=UrgencyCb(urgency=Urgency.URGENT))
    return one_per_row(builder)


def summary_keyboard(changes: list[tuple[IntakeField, str]]) -> InlineKeyboardMarkup:
    """ "Send", then one "change" button per answer the review can send the person back to."""
    builder = InlineKeyboardBuilder()
    builder.button(
        text="✅ " + _("Send the request"), callback_data=ReviewCb(action=ReviewAction.SEND)
    )
    for field, label in changes:
        builder.button(
            text="✏️ " + label, callback_data=ReviewCb(action=ReviewAction.CHANGE, field=field)
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
    builder.button(text=_("No comment, thanks"), callback_data=SkipCommentCb(request_id=request_id))
    return builder.as_markup()


def my_list_keyboard(items: list[tuple[int, str]]) -> InlineKeyboardMarkup:
    # Built directly: aiogram's builder copies the keyboard for every button it adds, which
    # costs more than the rest of the screen for a list (bench/queue.py measures both).
    return InlineKeyboardMarkup(
        inline_keyboard=[
            [
                InlineKeyboardButton(
                    text=label,
                    callback_data=MineCb(action=MineAction.OPEN, request_id=request_id).pack(),
                )
            ]
            for request_id, label in items
        ]
    )


def my_request_keyboard(request_id: int, *, rate: bool, cancel: bool) -> InlineKeyboardMarkup:
    builder = InlineKeyboardBuilder()
    if rate:
        builder.button(
            text="⭐ " + _("Rate this service"),
            callback_data=MineCb(action=MineAction.RATE, request_id=request_id),
        )
    if cancel:
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

    ops = staff_ops_for(status)
    if StaffOp.TAKE in ops:
        add(StaffAction.TAKE, "🙋 " + _("Take"))
    if StaffOp.START in ops:
        add(StaffAction.START, "▶️ " + _("Start work"))
    if StaffOp.FINISH in ops:
        add(StaffAction.DONE, "✅ " + _("Done"))
    if StaffOp.ASSIGN in ops:
        add(StaffAction.ASSIGN, "👥 " + _("Assign to…"))
    if StaffOp.REJECT in ops:
        add(StaffAction.REJECT, "⛔ " + _("Reject"))
    if params.get("photos") or params.get("voices"):
        add(StaffAction.MEDIA, "📎 " + _("Photos and voice"))
    builder.adjust(2)
    if params.get("category") == Category.UNCLASSIFIED.value and status.is_open:
        # one tap sets the type (the request was sent by voice, unclassified)
        classify = InlineKeyboardBuilder()
        for category in CHOSEN_CATEGORIES:
            classify.button(
                text=category_label(category.value),
                callback_data=ClassifyCb(request_id=request_id, category=category),
            )
        classify.adjust(2)
        builder.attach(classify)
    if private:
        builder.row(
            InlineKeyboardButton(
                text="⬅️ " + _("Back to the queue"),
                callback_data=QueueCb(view=QueueFilter.ALL).pack(),
            )
        )
    return builder.as_markup()


def finish_keyboard(request_id: int) -> InlineKeyboardMarkup:
    """ "Done" asks first: finish now, or add a line of result that the retiree and family
    read ("已换好水龙头"); or go back to the card."""
    builder = InlineKeyboardBuilder()
    for action, label in (
        (StaffAction.FINISH, "✅ " + _("Yes, finish it")),
        (StaffAction.FINISH_NOTE, "✍️ " + _("Add a line of result, then finish")),
        (StaffAction.BACK, "⬅️ " + _("Back")),
    ):
        builder.button(text=label, callback_data=StaffCb(action=action, request_id=request_id))
    return one_per_row(builder)


def assign_keyboard(request_id: int, staff: list[tuple[int, str]]) -> InlineKeyboardMarkup:
    builder = InlineKeyboardBuilder()
    for user_id, name in staff[:30]:
        builder.button(
            text="👤 " + name,
            callback_data=StaffCb(
                action=StaffAction.ASSIGN_TO, request_id=request_id, assignee_id=user_id
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
    """The filters (3 and 2 a row), then one request a row. Built directly, not with the
    builder, which copies the keyboard for every button (bench/queue.py measures both)."""
    filters = [
        InlineKeyboardButton(text=label, callback_data=QueueCb(view=value).pack())
        for value, label in (
            (QueueFilter.MINE, _("Mine")),
            (QueueFilter.GRIDS, _("My grids")),
            (QueueFilter.UNASSIGNED, _("Unassigned")),
            (QueueFilter.OVERDUE, "⏰ " + _("Overdue")),
            (QueueFilter.ALL, _("All open")),
        )
    ]
    requests = [
        [
            InlineKeyboardButton(
                text=label,
                callback_data=StaffCb(action=StaffAction.OPEN, request_id=request_id).pack(),
            )
        ]
        for request_id, label in items
    ]
    return InlineKeyboardMarkup(inline_keyboard=[filters[:3], filters[3:], *requests])
