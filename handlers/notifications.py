"""Rendering of pushed messages (outbox rows) in the recipient's language at send time.

Each capability's renderer module offers a plain function listing its renderers by kind:

    def renderers() -> dict[NotificationKind, Renderer]:
        return {NotificationKind.REQUEST_STATUS: render_status, ...}

`handlers.notification_renderers()` collects them all once into a `NotificationRenderers`,
which `bot/` hands to the outbox sender. The sender calls `renderers.render(kind, params,
locale, i18n)`; the renderer runs inside that locale, so `_()` translates for the recipient,
not for whoever caused the message.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from aiogram.types import InlineKeyboardMarkup, ReplyKeyboardMarkup
from aiogram.utils.i18n import I18n

from models.notification_kinds import NotificationKind

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


class NotificationRenderers:
    """One renderer per notification kind, from the capabilities' `renderers()` tables; a kind
    listed by two tables is refused."""

    def __init__(self, *tables: Mapping[NotificationKind, Renderer]) -> None:
        self._renderers: dict[str, Renderer] = {}
        for table in tables:
            for kind, renderer in table.items():
                if kind in self._renderers:
                    raise ValueError(f"two renderers for notification kind {kind!r}")
                self._renderers[kind] = renderer

    def kinds(self) -> set[str]:
        return set(self._renderers)

    def render(
        self, kind: NotificationKind | str, params: dict[str, Any], locale: str, i18n: I18n
    ) -> Rendered:
        """Render one row (its `kind` as stored: a NotificationKind value) in `locale`; raises
        UnknownNotification for a kind nobody renders."""
        renderer = self._renderers.get(kind)
        if renderer is None:
            raise UnknownNotification(kind)
        with i18n.context(), i18n.use_locale(locale):
            return renderer(params)
