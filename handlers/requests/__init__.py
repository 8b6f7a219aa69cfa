"""Service requests (issue 4): intake, my requests and rating, the staff card and queue.

    handlers.requests
    ├── requests:private        messages from private chats only (the filter set once here)
    │   ├── intake              🆘 the request form (retirees and family)
    │   ├── typed_answers       typed at the type or time question: used, not thrown away
    │   ├── mine                📋 my requests, cancelling, the rating and its comment
    │   └── quick_help          a voice message or a sentence at the menu: "send it?" (2 taps)
    ├── requests:staff          IsStaff once, for messages and presses
    │   ├── requests:staff-private   messages from private chats only
    │   │   ├── queue           🗂 the private queue
    │   │   ├── reject          the reason for a rejection (a one-step form)
    │   │   └── finish          the line of result when finishing (a one-step form)
    │   └── card                the card's buttons, in the staff group or the private queue
    ├── requests:staff-only     anyone else pressing a staff button: told kindly, nothing done
    └── errors:RequestError     a refusal of the domain, told in the person's language

`FORMS` are the capability's forms (intake, rating comment, rejection reason, result) for the bot's
FormRegistry: hints and asking again come from their step tables.
"""

from __future__ import annotations

from aiogram import F, Router
from aiogram.types import CallbackQuery, Message
from aiogram.utils.callback_answer import CallbackAnswer

from handlers.errors import domain_errors
from handlers.filters import IsStaff
from handlers.forms import Form
from handlers.menu import MenuButton
from handlers.requests import (
    card,
    finish,
    intake,
    mine,
    queue,
    quick_help,
    reject,
    renderers,
    typed_answers,
)
from handlers.requests.callbacks import ClassifyCb, QueueCb, StaffCb
from handlers.requests.texts import error_text, staff_only_text
from models.requests import RequestError

del renderers  # imported for its @notification registrations

FORMS: list[Form] = [intake.INTAKE, mine.RATING, reject.REJECT, finish.RESULT]


def setup() -> Router:
    private = Router(name="requests:private")
    private.message.filter(F.chat.type == "private")
    private.include_routers(
        intake.setup(),
        typed_answers.setup(),  # typed where a tap is expected: used, not thrown away
        mine.setup(),
        quick_help.setup(),  # a voice message or a sentence at the menu: offered as a request
    )

    staff_private = Router(name="requests:staff-private")
    staff_private.message.filter(F.chat.type == "private")
    staff_private.include_routers(queue.setup(), reject.setup(), finish.setup())
    staff = Router(name="requests:staff")
    staff.message.filter(IsStaff())
    staff.callback_query.filter(IsStaff())
    staff.include_routers(staff_private, card.setup())

    staff_only = Router(name="requests:staff-only")
    staff_only.callback_query.register(staff_button_refused, StaffCb.filter(), ~IsStaff())
    staff_only.callback_query.register(staff_button_refused, QueueCb.filter(), ~IsStaff())
    staff_only.callback_query.register(staff_button_refused, ClassifyCb.filter(), ~IsStaff())
    staff_only.message.register(
        staff_menu_refused, F.chat.type == "private", MenuButton("request_queue"), ~IsStaff()
    )

    router = Router(name=__name__)
    router.include_routers(private, staff, staff_only, domain_errors(RequestError, error_text))
    return router


async def staff_button_refused(callback: CallbackQuery, callback_answer: CallbackAnswer) -> None:
    """Someone not (or no longer) on the staff pressed a card or queue button: told kindly,
    nothing done."""
    callback_answer.text = staff_only_text()
    callback_answer.show_alert = True


async def staff_menu_refused(message: Message) -> None:
    await message.answer(staff_only_text())
