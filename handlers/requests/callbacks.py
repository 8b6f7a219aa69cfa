"""Callback data of service requests: one factory per screen, typed fields only (ints and
enums), so forged or outdated data fails the filter and reaches the kind fallback by itself.
Ids are never trusted: the domain checks the presser's right to each one.

The staff card's, the queue's, "my requests"' and the rating's data keep their packed form
(cards and rating questions stay in chats for days); the intake's buttons live only as long
as the form.
"""

from __future__ import annotations

import enum

from aiogram.filters.callback_data import CallbackData
from aiogram.utils.callback_answer import CallbackAnswer
from aiogram.utils.i18n import gettext as _

from handlers.ids import Day, Id, Stars
from models.requests import Category, Preferred, QueueFilter

# -- intake ------------------------------------------------------------------------------------


class WhoCb(CallbackData, prefix="rqw"):
    profile_id: Id


class CategoryCb(CallbackData, prefix="rqc"):
    category: Category


class WhenCb(CallbackData, prefix="rqt"):
    preferred: Preferred


class DateAction(enum.StrEnum):
    PICK = "pick"
    BACK = "back"  # back to "when would suit you?"


class DateCb(CallbackData, prefix="rqd"):
    action: DateAction
    day: Day = 0  # the picked day as `date.toordinal()`: exactly the day on the button


class Urgency(enum.StrEnum):
    NORMAL = "normal"
    URGENT = "urgent"


class UrgencyCb(CallbackData, prefix="rqu"):
    urgency: Urgency


class ReviewAction(enum.StrEnum):
    SEND = "send"
    CHANGE = "chg"


class IntakeField(enum.StrEnum):
    """The answers the review can change: the `field` of the intake form's steps."""

    CATEGORY = "category"
    DESCRIPTION = "description"
    WHEN = "preferred"
    URGENCY = "urgent"


class ReviewCb(CallbackData, prefix="rqv"):
    action: ReviewAction
    field: IntakeField | None = None  # for CHANGE


# -- my requests and the rating ----------------------------------------------------------------


class MineAction(enum.StrEnum):
    LIST = "list"
    OPEN = "open"
    CANCEL = "cancel"
    CANCEL_YES = "cancel_yes"
    RATE = "rate"


class MineCb(CallbackData, prefix="rqm"):
    action: MineAction
    request_id: Id = 0


class RateCb(CallbackData, prefix="rqr"):
    request_id: Id
    stars: Stars  # 1-5 (the domain refuses anything else)


class SkipCommentCb(CallbackData, prefix="rqn"):
    request_id: Id


# -- staff -------------------------------------------------------------------------------------


class StaffAction(enum.StrEnum):
    TAKE = "take"
    ASSIGN = "assign"  # show the staff list
    ASSIGN_TO = "to"  # assignee_id = the colleague's user id
    START = "start"
    DONE = "done"  # ask to confirm: finish, or finish with a line of result
    FINISH = "fin"  # confirmed: finish now
    FINISH_NOTE = "fnote"  # finish after writing a line of result (asked privately)
    REJECT = "reject"
    BACK = "back"  # back from the staff list to the card's buttons
    OPEN = "open"  # open in the private queue
    MEDIA = "media"  # send the photos and voice notes again, where the button was pressed


class StaffCb(CallbackData, prefix="rqs"):
    action: StaffAction
    request_id: Id
    assignee_id: Id = 0  # for ASSIGN_TO


class ClassifyCb(CallbackData, prefix="rqk"):
    """Staff set the type of a request sent unclassified, in one tap on its card."""

    request_id: Id
    category: Category


class QueueCb(CallbackData, prefix="rqq"):
    view: QueueFilter


def stale(callback_answer: CallbackAnswer) -> None:
    """The press is answered with "no longer active" (the message under it is gone)."""
    callback_answer.text = _("This button is no longer active.")
    callback_answer.show_alert = True
