"""Filters every capability uses: a button label in any language, and the router gates.

Gates sit on routers, once (`router.message.filter(IsStaff())`), not at the top of handlers:
a router of staff screens carries `IsStaff`, so a handler under it can take `user: User` as a
member of staff without checking again.
"""

from __future__ import annotations

from collections.abc import Callable

from aiogram.filters import Filter
from aiogram.types import CallbackQuery, Message
from aiogram.utils.i18n import I18n, get_i18n

from models.users import User

Label = Callable[[], str]  # returns a translated label in the current locale (calls `_()`)

_LABEL_CACHE: dict[tuple[int, Label], frozenset[str]] = {}


def in_all_locales(label: Label, i18n: I18n | None = None) -> frozenset[str]:
    """The label in every language the bot speaks: a keyboard sent before the person changed
    language still works. Cached: catalogs do not change while the process runs."""
    i18n = i18n or get_i18n()
    key = (id(i18n), label)
    cached = _LABEL_CACHE.get(key)
    if cached is None:
        texts = set()
        for locale in i18n.available_locales:
            with i18n.use_locale(locale):
                texts.add(label())
        cached = _LABEL_CACHE[key] = frozenset(texts)
    return cached


def is_label(text: str | None, *labels: Label) -> bool:
    return bool(text) and any(text in in_all_locales(label) for label in labels)


class TextIs(Filter):
    """A message whose text is one of these labels, in any language."""

    def __init__(self, *labels: Label) -> None:
        self.labels = labels

    async def __call__(self, message: Message) -> bool:
        return is_label(message.text, *self.labels)


class IsRegistered(Filter):
    """Someone who finished registration (any role)."""

    async def __call__(self, event: Message | CallbackQuery, user: User | None = None) -> bool:
        return user is not None and user.is_onboarded


class IsStaff(Filter):
    """A registered member of staff (caseworker, supervisor or administrator)."""

    async def __call__(self, event: Message | CallbackQuery, user: User | None = None) -> bool:
        return user is not None and user.is_onboarded and user.is_staff
