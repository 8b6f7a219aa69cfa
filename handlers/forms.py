"""Forms as tables of steps.

A form is a list of `Step`s: the state, the question, the keyboard, and how to read an answer.
Everything a conversation does with a form is then a lookup in that table:

- asking a step's question (and asking it again after bad input, with the problem first);
- going on to the next step (skipping steps that do not apply), or back to the review when the
  person was changing one answer from it;
- going back one step;
- editing one field from the review (`Form.edit(ctx, field)`), or asking which one first (the
  form's `change` step: its buttons are the labels of the fields that apply);
- resuming after /language: the current state's question, asked again in the new language;
- the kind hint for an unexpected message (`FormRegistry.prompt(state)`).

Answers live in the FSM data under the form's `data_key` (a dict), so a form never tramples on
another's data and the whole form survives a restart with the FSM state.

A step reads typed answers with `parse(message, ctx) -> dict` (raise `Invalid(problem)` to
refuse). Steps answered by buttons (inline callbacks, a contact) have their own handlers in the
capability, which call `form.answer(ctx, step, values)` to store and go on (a button's handler
builds its context with `StepContext.of_query(callback, data)`; `ask(..., in_place=True)`
then replaces the message under the button instead of sending a new one). `Form.router()`
registers the one message handler that feeds typed answers to `parse` for every such step.

    NAME = Step(Onboarding.name, prompt=_q_name, parse=parse_name, field="name", label=_l_name)
    REGISTRATION = Form("registration", [NAME, PHONE, ...], data_key="reg", review=CONFIRM)
"""

from __future__ import annotations

import inspect
import logging
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, TypeAlias, TypeVar, cast

from aiogram import Bot, Router
from aiogram.exceptions import TelegramBadRequest
from aiogram.filters import Filter, StateFilter
from aiogram.fsm.context import FSMContext
from aiogram.fsm.state import State, StatesGroup
from aiogram.types import (
    CallbackQuery,
    ForceReply,
    InlineKeyboardMarkup,
    Message,
    ReplyKeyboardMarkup,
)
from aiogram.utils.i18n import I18n
from aiogram.utils.i18n import gettext as _
from sqlalchemy.ext.asyncio import AsyncSession

from handlers.common import form_keyboard, is_command
from handlers.filters import is_label
from handlers.ui import edit_or_send, message_of
from models.office import OfficeSettings
from models.users import User

log = logging.getLogger(__name__)

Markup = InlineKeyboardMarkup | ReplyKeyboardMarkup | ForceReply
T = TypeVar("T")
MaybeAwaitable: TypeAlias = T | Awaitable[T]


class Invalid(Exception):
    """An answer a step cannot take; `problem` is shown before the question is asked again."""

    def __init__(self, problem: str) -> None:
        super().__init__(problem)
        self.problem = problem


@dataclass
class StepContext:
    """What a step's callables may use: where to answer, the form's answers so far, and the
    update's session, person and office settings (all from middleware data)."""

    message: Message
    state: FSMContext
    session: AsyncSession
    user: User
    office: OfficeSettings
    i18n: I18n
    answers: dict[str, Any] = field(default_factory=dict)
    # The button press this context comes from, if any (see `of_query`, `Form.ask(in_place=)`).
    query: CallbackQuery | None = None
    # Every form of the bot (dispatcher data), so starting one can keep another as a draft.
    forms: FormRegistry | None = None

    @classmethod
    def of(cls, message: Message, data: dict[str, Any]) -> StepContext:
        """Built from a handler's middleware data (`**data` / the named arguments)."""
        return cls(
            message=message,
            state=data["state"],
            session=data["session"],
            user=data["user"],
            office=data["office"],
            i18n=data["i18n"],
            forms=data.get("forms"),
        )

    @classmethod
    def of_query(cls, query: CallbackQuery, data: dict[str, Any]) -> StepContext | None:
        """Built from a button press (a step answered by an inline button): questions go to
        the chat of the message under the button. None when that message is no longer
        accessible (the press is then best answered as a stale button)."""
        message = message_of(query)
        if message is None:
            return None
        ctx = cls.of(message, data)
        ctx.query = query
        return ctx


@dataclass(frozen=True)
class Step:
    state: State
    # The question in the current locale; short, and also used in hints ("Let's continue: …").
    prompt: Callable[[], str]
    # The full text when the step is asked (a review shows the answers); defaults to `prompt`.
    text: Callable[[StepContext], MaybeAwaitable[str]] | None = None
    keyboard: Callable[[StepContext], MaybeAwaitable[Markup | None]] | None = None
    # Reads a typed answer: returns the values to store, or raises Invalid.
    parse: Callable[[Message, StepContext], MaybeAwaitable[dict[str, Any]]] | None = None
    # The answer this step fills, and its name on the review's "change" buttons.
    field: str | None = None
    label: Callable[[], str] | None = None
    # Whether the step applies (e.g. no communities entered: nothing to choose).
    applies: Callable[[StepContext], MaybeAwaitable[bool]] | None = None
    # After changing this answer from the review, go on to the next step instead of back to the
    # review (a birthday's calendar must be asked again after the date changes).
    review_after_edit: bool = True


async def _resolve(value: MaybeAwaitable[T]) -> T:
    if inspect.isawaitable(value):
        return await cast(Awaitable[T], value)
    return cast(T, value)


def default_problem(message: Message) -> str:
    """Why a message could not be taken, when the step has nothing more specific to say."""
    if is_command(message.text):
        return _("That command is not available here.")
    if message.text is None:
        return _("Sorry, I can only read typed text here.")
    return _("Sorry, I did not understand that.")


EDITING = "_editing"  # in the form's answers: the person came from the review to change one
# In the form's answers: the message that carries the form's live inline buttons. A press on
# any other message is stale (`Form.live()`), and the buttons come off it when the form ends.
BUTTONS = "_buttons"
GIVEN = "_given"  # in the form's answers: what the form was started with (not typed by anyone)
DRAFTS = "drafts"  # the FSM destiny keeping unfinished forms, one per form name
# In the FSM data while another question is asked in the middle of a form ("leave without
# sending?", "which language?"): the form's state, to go back to (and to keep as a draft).
HELD = "_held"
OFFER = "_offer"  # in the FSM data while offering a draft: which form, and how to start it anew


class FormFlow(StatesGroup):
    """The engine's own questions, around any form."""

    offer = State()  # "you did not finish … last time: continue / start again"
    leaving = State()  # "what you entered is not sent yet: continue / discard"


def continue_text() -> str:
    return "▶️ " + _("Continue where I left off")


def restart_text() -> str:
    return "🔄 " + _("Start again")


def discard_text() -> str:
    return "🗑 " + _("Discard it")


def q_offer() -> str:
    return _("Continue where you left off, or start again?")


def q_leaving() -> str:
    return _("What you entered has not been sent yet. Continue, or discard it?")


def drafts_of(state: FSMContext) -> FSMContext:
    """The person's drafts: FSM data of its own (so clearing a form never clears them), in the
    same storage as the form, so they survive a restart."""
    return FSMContext(storage=state.storage, key=replace(state.key, destiny=DRAFTS))


async def remove_buttons(bot: Bot | None, chat_id: int, message_id: Any) -> None:
    """Take a finished form's inline buttons off its message; gone or unchanged is fine."""
    if bot is None or not isinstance(message_id, int):
        return
    try:
        await bot.edit_message_reply_markup(
            chat_id=chat_id, message_id=message_id, reply_markup=None
        )
    except TelegramBadRequest as error:
        log.debug("buttons of message %s stay: %s", message_id, error.message)


class Form:
    def __init__(
        self,
        name: str,
        steps: Sequence[Step],
        *,
        data_key: str,
        review: Step | None = None,
        change: Step | None = None,
        finish: Callable[[StepContext], Awaitable[None]] | None = None,
        title: Callable[[], str] | None = None,
    ) -> None:
        """`review` is the summary step the form ends on (its buttons are the capability's);
        without one, `finish` runs when the last step is answered. `change` is the "what would
        you like to change?" step the review's change button leads to (`ask_change`): unless
        it has a keyboard of its own, its buttons are the labels of the fields that apply, and
        a label (in any language) asks that field's step, which comes back to the review.
        `title` names the form when a draft of it is offered ("your help request")."""
        self.name = name
        self.title = title
        self.steps = list(steps)
        self.data_key = data_key
        self.review = review
        if change is not None and change.keyboard is None:
            change = replace(change, keyboard=self.change_keyboard)
        self.change = change
        self.finish = finish
        self._by_state = {s.state.state: s for s in self.all_steps()}
        if len(self._by_state) != len(self.all_steps()):
            raise ValueError(f"form {name!r} has two steps in one state")

    # -- the table ---------------------------------------------------------------------------
    def all_steps(self) -> list[Step]:
        return [*self.steps, *(s for s in (self.review, self.change) if s is not None)]

    def step_for(self, state: str | None) -> Step | None:
        return self._by_state.get(state) if state else None

    def by_field(self, name: str) -> Step | None:
        return next((s for s in self.steps if s.field == name), None)

    def fields(self) -> list[Step]:
        """The steps the review can send the person back to, in order."""
        return [s for s in self.steps if s.field and s.label]

    # -- answers -----------------------------------------------------------------------------
    async def answers(self, state: FSMContext) -> dict[str, Any]:
        return dict((await state.get_data()).get(self.data_key) or {})

    async def _load(self, ctx: StepContext) -> StepContext:
        ctx.answers = await self.answers(ctx.state)
        return ctx

    async def store(self, ctx: StepContext, **values: Any) -> None:
        ctx.answers = {**await self.answers(ctx.state), **values}
        await ctx.state.update_data({self.data_key: ctx.answers})

    @staticmethod
    def entered(answers: Mapping[str, Any]) -> bool:
        """Whether the person entered anything (beyond what the form was started with)."""
        given = set(answers.get(GIVEN) or ())
        return any(
            not key.startswith("_") and key not in given and value not in (None, "", [], {})
            for key, value in answers.items()
        )

    def live(self) -> Filter:
        """A button press on the message that carries this form's buttons now: a button of an
        earlier form (finished, abandoned, or another instance of this one) fails it and gets
        the fallback's "no longer active" toast."""
        return _LiveButton(self)

    # -- asking ------------------------------------------------------------------------------
    async def start(
        self,
        ctx: StepContext,
        *,
        intro: str | None = None,
        answers: dict[str, Any] | None = None,
        fresh: bool = False,
    ) -> None:
        """Begin with fresh answers (or the given ones) at the first step that applies. When
        the person left this form half-filled before, they are asked first whether to go on
        with it (unless `fresh`)."""
        given = dict(answers or {})
        if not fresh and self.name in await drafts_of(ctx.state).get_data():
            await ctx.state.set_state(FormFlow.offer)
            await ctx.state.set_data({OFFER: {"form": self.name, "intro": intro, "answers": given}})
            title = self.title() if self.title else _("form")
            await ctx.message.answer(
                _("You did not finish your {form} last time.").format(form=title)
                + "\n"
                + q_offer(),
                reply_markup=offer_keyboard(),
            )
            return
        ctx.answers = {**given, GIVEN: sorted(given)}
        await ctx.state.update_data({self.data_key: ctx.answers})
        first = await self._next_applicable(ctx, 0)
        if first is None:
            await self._end(ctx)
            return
        await self.ask(ctx, first, prefix=intro)

    async def ask(
        self,
        ctx: StepContext,
        step: Step,
        *,
        problem: str | None = None,
        prefix: str | None = None,
        in_place: bool = False,
    ) -> None:
        """Put the step's question (after `problem` or `prefix`, if any) with its keyboard.
        `in_place`: replace the message whose button was pressed (one inline picker opening
        another, e.g. "pick a date" and its "back"), when the context has a press and the
        step's keyboard is inline."""
        await ctx.state.set_state(step.state)
        text = await _resolve(step.text(ctx)) if step.text else step.prompt()
        keyboard = await _resolve(step.keyboard(ctx)) if step.keyboard else form_keyboard()
        head = problem or prefix
        text = f"{head}\n{text}" if head else text
        if in_place and ctx.query is not None and isinstance(keyboard, InlineKeyboardMarkup):
            await edit_or_send(ctx.query, text, keyboard)
            under = message_of(ctx.query)
            if under is not None:
                await self.store(ctx, **{BUTTONS: under.message_id})
            return
        sent = await ctx.message.answer(text, reply_markup=keyboard)
        if isinstance(keyboard, InlineKeyboardMarkup):
            await self.store(ctx, **{BUTTONS: sent.message_id})

    async def ask_again(
        self, ctx: StepContext, *, problem: str | None = None, prefix: str | None = None
    ) -> bool:
        """The current step's question again (after /language, a draft taken up again, or bad
        input). False when the current state is not one of this form's."""
        step = self.step_for(await ctx.state.get_state())
        if step is None:
            return False
        await self._load(ctx)
        await self.ask(ctx, step, problem=problem, prefix=prefix)
        return True

    # -- moving ------------------------------------------------------------------------------
    async def answer(self, ctx: StepContext, step: Step, values: dict[str, Any]) -> None:
        """Store the values a step produced and go on."""
        await self.store(ctx, **values)
        await self.advance(ctx, step)

    async def advance(self, ctx: StepContext, step: Step) -> None:
        """After `step`: back to the review when changing one answer, else the next step."""
        await self._load(ctx)
        if ctx.answers.get(EDITING) and step.review_after_edit and self.review is not None:
            await self.show_review(ctx)
            return
        following = await self._next_applicable(ctx, self.steps.index(step) + 1)
        if following is None:
            await self._end(ctx)
            return
        await self.ask(ctx, following)

    async def back(self, ctx: StepContext, step: Step, *, in_place: bool = False) -> bool:
        """One step back (the nearest earlier step that applies). False at the first step."""
        await self._load(ctx)
        index = self.steps.index(step) if step in self.steps else len(self.steps)
        for earlier in reversed(self.steps[:index]):
            if await self._applies(ctx, earlier):
                await self.ask(ctx, earlier, in_place=in_place)
                return True
        return False

    async def edit(self, ctx: StepContext, field_name: str) -> bool:
        """From the review: ask the step that fills `field_name`; answering it comes back."""
        step = self.by_field(field_name)
        if step is None:
            return False
        await self.store(ctx, **{EDITING: True})
        await self.ask(ctx, step)
        return True

    async def editable(self, ctx: StepContext) -> list[Step]:
        """The fields the review may send the person back to, among the steps that apply."""
        return [s for s in self.fields() if await self._applies(ctx, s)]

    async def change_keyboard(self, ctx: StepContext) -> Markup:
        """The `change` step's buttons: the labels of the editable fields, two a row."""
        labels = [s.label() for s in await self.editable(ctx) if s.label is not None]
        return form_keyboard(*(labels[i : i + 2] for i in range(0, len(labels), 2)))

    async def ask_change(self, ctx: StepContext) -> None:
        """From the review: which answer would you like to change?"""
        assert self.change is not None
        await self._load(ctx)
        await self.ask(ctx, self.change)

    async def _change_chosen(self, message: Message, ctx: StepContext) -> None:
        assert self.change is not None
        chosen = next(
            (
                s
                for s in await self.editable(ctx)
                if s.field and s.label and is_label(message.text, s.label)
            ),
            None,
        )
        if chosen is None or chosen.field is None:
            await self.ask(ctx, self.change, problem=default_problem(message))
            return
        await self.edit(ctx, chosen.field)

    async def show_review(self, ctx: StepContext) -> None:
        assert self.review is not None
        await self.store(ctx, **{EDITING: False})
        await self.ask(ctx, self.review)

    async def _end(self, ctx: StepContext) -> None:
        if self.review is not None:
            await self.show_review(ctx)
        elif self.finish is not None:
            # the last answer is in: the form's buttons come off before its closing words
            await remove_buttons(ctx.message.bot, ctx.message.chat.id, ctx.answers.get(BUTTONS))
            await self.finish(ctx)

    async def _applies(self, ctx: StepContext, step: Step) -> bool:
        return True if step.applies is None else bool(await _resolve(step.applies(ctx)))

    async def _next_applicable(self, ctx: StepContext, start: int) -> Step | None:
        for candidate in self.steps[start:]:
            if await self._applies(ctx, candidate):
                return candidate
        return None

    # -- typed answers -----------------------------------------------------------------------
    async def take_text(self, message: Message, ctx: StepContext) -> None:
        """Feed a message to the current step's `parse`; a refusal asks again, data kept."""
        step = self.step_for(await ctx.state.get_state())
        if step is None:
            return
        await self._load(ctx)
        if step is self.change:
            await self._change_chosen(message, ctx)
            return
        if step.parse is None:
            return
        try:
            values: dict[str, Any] = await _resolve(step.parse(message, ctx))
        except Invalid as refusal:
            await self.ask(ctx, step, problem=refusal.problem)
            return
        await self.answer(ctx, step, values)

    def router(self, *filters: Any) -> Router:
        """The message handler for every step that reads typed answers. Include it after the
        capability's own handlers for those states (buttons, contacts), so they win."""
        router = Router(name=f"form:{self.name}")
        states = [s.state for s in self.all_steps() if s.parse is not None or s is self.change]

        async def answer_typed(message: Message, **data: Any) -> None:
            await self.take_text(message, StepContext.of(message, data))

        if states:
            router.message.register(answer_typed, StateFilter(*states), *filters)
        return router


class _LiveButton(Filter):
    def __init__(self, form: Form) -> None:
        self.form = form

    async def __call__(self, query: CallbackQuery, state: FSMContext) -> bool:
        message = message_of(query)
        if message is None:
            return False
        return bool((await self.form.answers(state)).get(BUTTONS) == message.message_id)


def offer_keyboard() -> ReplyKeyboardMarkup:
    return form_keyboard([continue_text()], [restart_text()])


def leaving_keyboard() -> ReplyKeyboardMarkup:
    """No "back to menu" here: this is the question it asked."""
    return form_keyboard([continue_text()], [discard_text()], with_back=False)


class FormRegistry:
    """All forms of the bot, for what navigation does in any state: the current question for
    a hint, and asking it again after /language. `questions` are the states that wait for an
    answer without being a form's step (the language picker, a file to import): they have a
    question for hints, but nothing to resume."""

    def __init__(
        self, forms: Iterable[Form], questions: Mapping[str, Callable[[], str]] | None = None
    ) -> None:
        self.forms = list(forms)
        self.questions = {
            str(FormFlow.offer.state): q_offer,
            str(FormFlow.leaving.state): q_leaving,
            **dict(questions or {}),
        }
        self._by_name = {form.name: form for form in self.forms}
        self._owner: dict[str, Form] = {}
        for form in self.forms:
            for step in form.all_steps():
                key = step.state.state
                assert key is not None
                if key in self._owner:
                    raise ValueError(f"state {key} is in two forms")
                self._owner[key] = form

    def form_for(self, state: str | None) -> Form | None:
        return self._owner.get(state) if state else None

    def by_name(self, name: Any) -> Form | None:
        return self._by_name.get(name) if isinstance(name, str) else None

    async def current(self, state: FSMContext) -> tuple[Form, str] | None:
        """The open form and its step's state; while another question is asked in the middle of
        it ("leave without sending?", "which language?"), the form held meanwhile."""
        raw = await state.get_state()
        if self.form_for(raw) is None:
            raw = (await state.get_data()).get(HELD)
        form = self.form_for(raw)
        return (form, str(raw)) if form is not None else None

    async def entered(self, state: FSMContext) -> bool:
        """Whether the open form has anything the person entered."""
        found = await self.current(state)
        return found is not None and found[0].entered(await found[0].answers(state))

    async def leave(self, state: FSMContext, bot: Bot | None, chat_id: int, *, keep: bool) -> bool:
        """End whatever is open: the form's inline buttons come off its message, and with
        `keep` what was entered is kept as a draft, offered the next time the form is opened
        (`Form.start`). True when a draft was kept."""
        found = await self.current(state)
        kept = False
        if found is not None:
            form, step_state = found
            answers = await form.answers(state)
            await remove_buttons(bot, chat_id, answers.pop(BUTTONS, None))
            if keep and form.entered(answers):
                drafts = drafts_of(state)
                saved = await drafts.get_data()
                saved[form.name] = {"state": step_state, "answers": answers}
                await drafts.set_data(saved)
                kept = True
        await state.clear()
        return kept

    async def take_draft(self, state: FSMContext, form: Form) -> dict[str, Any] | None:
        """The form's draft, removed from the drafts (it is taken up again, or discarded)."""
        drafts = drafts_of(state)
        saved = await drafts.get_data()
        draft = saved.pop(form.name, None)
        if draft is not None:
            await drafts.set_data(saved)
        return draft if isinstance(draft, dict) else None

    def prompt(self, state: str | None) -> str | None:
        form = self.form_for(state)
        step = form.step_for(state) if form else None
        if step is not None:
            return step.prompt()
        question = self.questions.get(state) if state else None
        return question() if question is not None else None


def text_answer(message: Message) -> str:
    """The typed text of an answer; anything else (a sticker, a command) is refused kindly."""
    if message.text is None or is_command(message.text):
        raise Invalid(default_problem(message))
    return message.text.strip()


__all__ = [
    "BUTTONS",
    "EDITING",
    "HELD",
    "Form",
    "FormFlow",
    "FormRegistry",
    "Invalid",
    "Step",
    "StepContext",
    "default_problem",
    "text_answer",
]
