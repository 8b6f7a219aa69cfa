"""Typed where the request form expects a tap: used, not thrown away.

- At "What kind of help is needed?" a sentence (or a voice message, a photo) is what is
  needed: it is kept as the description, and the type is asked again, its buttons under the
  new message; once a type is tapped the form goes on to the time (the description is not
  asked a second time).
- At "When would suit you?" (and the date picker) a day typed as people write it ("明天",
  "5月6号", "下周三", "tomorrow") is that day, when it can be picked; otherwise the question
  comes again with its buttons.
"""

from __future__ import annotations

from typing import Any

from aiogram import F, Router
from aiogram.types import Message
from aiogram.utils.i18n import gettext as _

from handlers.common import is_command
from handlers.forms import StepContext
from handlers.menu import AnyMenuButton
from handlers.requests.intake import CATEGORY, DATE, DESCRIBED, INTAKE, WHEN, IntakeForm
from handlers.requests.quick_help import said_of
from handlers.requests.texts import preferred_label
from models.base import utcnow
from models.dates import read_date
from models.requests import (
    Preferred,
    check_description,
    check_description_words,
    may_prefer,
)


async def category_typed(message: Message, **data: Any) -> None:
    """What is needed, told before the type: kept, and the type asked again."""
    ctx = StepContext.of(message, data)
    text, attachments = said_of(message)
    if is_command(text):
        await INTAKE.ask_again(ctx, problem=_("That command is not available here."))
        return
    check_description_words(text)  # only emoji: a gentle hint, the question stays
    answers = await INTAKE.answers(ctx.state)
    description = "\n".join(p for p in (answers.get("description"), text) if p)
    kept = [*(answers.get("attachments") or []), *attachments]
    # too long, or too many: the domain's reason, and what was told before is kept
    description = check_description(description, len(kept))
    await INTAKE.store(ctx, description=description, attachments=kept, **{DESCRIBED: True})
    await INTAKE.ask(
        ctx,
        CATEGORY,
        prefix=_("Thank you, I have written that down. Now please tap what kind of help it is."),
    )


async def when_typed(message: Message, **data: Any) -> None:
    """A day typed at "When would suit you?" or at the date picker."""
    ctx = StepContext.of(message, data)
    today = utcnow().astimezone(ctx.office.tz).date()
    day = read_date(message.text, today)
    if day is None or not may_prefer(day, today):
        problem = (
            _("I could not read that as a day. Please tap one of the buttons.")
            if day is None
            else _("That day cannot be chosen here. Please tap one of the buttons.")
        )
        await INTAKE.ask_again(ctx, problem=problem)
        return
    await message.answer(preferred_label(Preferred.DATE.value, day.isoformat()))
    step = DATE if await ctx.state.get_state() == IntakeForm.date.state else WHEN
    await INTAKE.answer(
        ctx, step, {"preferred": Preferred.DATE.value, "preferred_date": day.isoformat()}
    )


def setup() -> Router:
    """Private chats; after the form's own handlers (buttons), before the fallback."""
    router = Router(name=__name__)
    router.message.register(
        category_typed, IntakeForm.category, F.text | F.voice | F.photo, ~AnyMenuButton()
    )
    router.message.register(
        when_typed, IntakeForm.when, F.text, ~AnyMenuButton(), ~F.text.startswith("/")
    )
    router.message.register(
        when_typed, IntakeForm.date, F.text, ~AnyMenuButton(), ~F.text.startswith("/")
    )
    return router
