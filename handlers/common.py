"""What every conversation step shares: the "back to menu" button and the form keyboards.

Every state accepts /cancel and the back-to-menu button (handled once, in handlers/navigation);
forms build their keyboards with these helpers so the button is always there.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from aiogram.types import KeyboardButton, ReplyKeyboardMarkup
from aiogram.utils.i18n import gettext as _
from aiogram.utils.keyboard import InlineKeyboardBuilder, ReplyKeyboardBuilder

if TYPE_CHECKING:
    from handlers.forms import FormRegistry


def back_to_menu_text() -> str:
    return "🏠 " + _("Back to menu")


def updated_text() -> str:
    """The toast of a screen refreshed in place after a change (it may be far up the chat)."""
    return "🔄 " + _("Updated")


def form_keyboard(
    *rows: list[str] | list[KeyboardButton],
    placeholder: str | None = None,
    with_back: bool = True,
) -> ReplyKeyboardMarkup:
    """A reply keyboard for one form step: the given big buttons, then "back to menu"."""
    builder = ReplyKeyboardBuilder()
    for row in rows:
        builder.row(*[b if isinstance(b, KeyboardButton) else KeyboardButton(text=b) for b in row])
    if with_back:
        builder.row(KeyboardButton(text=back_to_menu_text()))
    return builder.as_markup(
        resize_keyboard=True, is_persistent=True, input_field_placeholder=placeholder
    )


def inline_back_to_menu(builder: InlineKeyboardBuilder) -> InlineKeyboardBuilder:
    """Inline steps add nothing: the reply keyboard under them keeps "back to menu" visible."""
    return builder


def keep_going_hint(state: str | None, forms: FormRegistry) -> str:
    """The second half of every mid-form hint: what we are asking, and the way out."""
    prompt = forms.prompt(state)
    if prompt:
        return _("Let's continue: {question}").format(question=prompt)
    return _("Please answer the question above, or tap “Back to menu”.")


def is_command(text: str | None) -> bool:
    if not text or len(text) < 2:
        return False
    return text.startswith("/") and not text[1].isspace()
