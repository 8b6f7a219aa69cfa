"""Rendering of pushed messages (outbox rows) in the recipient's language at send time.

A capability registers one renderer per outbox `kind`:

    @notification("request.status_changed")
    def _render_status(params: dict[str, Any]) -> Rendered:
        return Rendered(_("Your request {number} is now {status}.").format(**params))

The sender (bot/sender.py) calls `render(kind, params, locale, i18n)`; the renderer runs inside
that locale, so `_()` translates for the recipient, not for whoever caused the message.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aiogram.types import InlineKeyboardMarkup, ReplyKeyboardMarkup
from aiogram.utils.i18n import I18n

Renderer = Callable[[dict[str, Any]], "Rendered"]


@dataclass
class Rendered:
    text: str
    reply_markup: InlineKeyboardMarkup | ReplyKeyboardMarkup | None = None
    # Optional media: Telegram file ids sent before (photo/voice/document) with `text` as caption.
    photo: str | None = None
    voice: str | None = None
    document: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)


class UnknownNotification(KeyError):
    pass


_RENDERERS: dict[str, Renderer] = {}


def notification(kind: str) -> Callable[[Renderer], Renderer]:
    def register(func: Renderer) -> Renderer:
        if kind in _RENDERERS and _RENDERERS[kind] is not func:
            raise ValueError(f"two renderers for notification kind {kind!r}")
        _RENDERERS[kind] = func
        return func

    return register


def registered_kinds() -> set[str]:
    return set(_RENDERERS)


def render(kind: str, params: dict[str, Any], locale: str, i18n: I18n) -> Rendered:
    import handlers  # setup() imports every capability, registering its renderers

    handlers.setup()
    renderer = _RENDERERS.get(kind)
    if renderer is None:
        raise UnknownNotification(kind)
    with i18n.context(), i18n.use_locale(locale):
        return renderer(params)
