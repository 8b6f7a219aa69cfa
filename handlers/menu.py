"""The main menu: a persistent reply keyboard of large buttons, one emoji each, by role.

Each capability declares its buttons (`X_ITEM = menu_item(...)`); `handlers.menu_items()` lists
them all, once, in one place. Presses are matched with the `MenuButton` filter, which
recognises a button's label in any of the three languages (a keyboard sent before the user
switched language still works).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from aiogram.filters import Filter
from aiogram.types import Message, ReplyKeyboardMarkup
from aiogram.utils.i18n import I18n
from aiogram.utils.i18n import gettext as _
from aiogram.utils.keyboard import ReplyKeyboardBuilder

from handlers.filters import in_all_locales, is_label
from models.users import Role, User


@dataclass(frozen=True)
class MenuItem:
    key: str
    emoji: str
    label: Callable[[], str]  # returns the translated label in the current locale
    roles: frozenset[Role]
    order: int

    def text(self) -> str:
        return f"{self.emoji} {self.label()}"


def menu_item(
    key: str,
    emoji: str,
    label: Callable[[], str],
    roles: set[Role] | frozenset[Role],
    order: int = 100,
) -> MenuItem:
    """A button of the main menu, declared by its capability (listed in `handlers.menu_items`)."""
    return MenuItem(key=key, emoji=emoji, label=label, roles=frozenset(roles), order=order)


def all_items() -> dict[str, MenuItem]:
    from handlers import menu_items  # the one list; imported late: capabilities import this module

    return menu_items()


def menu_items_for(role: Role | None) -> list[MenuItem]:
    if role is None:
        return []
    return sorted((i for i in all_items().values() if role in i.roles), key=lambda i: i.order)


def main_menu_keyboard(user: User) -> ReplyKeyboardMarkup:
    """Two big buttons a row; the keyboard stays open (is_persistent)."""
    builder = ReplyKeyboardBuilder()
    for item in menu_items_for(user.role):
        builder.button(text=item.text())
    builder.adjust(2)
    return builder.as_markup(resize_keyboard=True, is_persistent=True, input_field_placeholder=None)


class MenuButton(Filter):
    """Matches a press of the menu button `key`, whatever language its label was sent in."""

    def __init__(self, key: str) -> None:
        self.key = key

    async def __call__(self, message: Message) -> bool:
        item = all_items().get(self.key)
        return item is not None and is_label(message.text, item.text)


# -- showing the menu --------------------------------------------------------------------------


def start_button_text() -> str:
    return "▶️ " + _("Start")


def start_keyboard() -> ReplyKeyboardMarkup:
    """For someone not registered yet: one big button that starts registration."""
    builder = ReplyKeyboardBuilder()
    builder.button(text=start_button_text())
    return builder.as_markup(resize_keyboard=True, is_persistent=True)


async def show_menu(message: Message, user: User | None, text: str | None = None) -> None:
    """Answers with `text` (or a short line) and the user's main menu; someone who has not
    finished registration gets the Start button instead."""
    if user is not None and user.is_onboarded:
        await message.answer(
            text or _("Here is the menu. Please tap a button."),
            reply_markup=main_menu_keyboard(user),
        )
        return
    hint = _("Tap “Start” below whenever you are ready to register.")
    await message.answer(f"{text}\n\n{hint}" if text else hint, reply_markup=start_keyboard())


def is_menu_text(text: str | None, i18n: I18n | None = None) -> bool:
    """Whether `text` is the label of any main-menu button, in any language."""
    return bool(text) and any(
        text in in_all_locales(item.text, i18n) for item in all_items().values()
    )


class AnyMenuButton(Filter):
    """Matches a press of any main-menu button. A free-text form step filters it out
    (`~AnyMenuButton()`), so the press reaches the menu item's own handler."""

    async def __call__(self, message: Message) -> bool:
        return is_menu_text(message.text)
