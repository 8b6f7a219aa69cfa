"""Generic pushed messages whose text is already final (staff broadcasts, notices typed by
staff): the outbox row carries the text itself, so nothing is translated at send time.

    await enqueue(session, chat_id=..., user_id=..., kind=NotificationKind.SYSTEM_TEXT,
                  params={"text": "..."}, dedup_key="broadcast:7:user:42")

Optional params: "photo" / "document" (a Telegram file id sent before; the text becomes its
caption). Staff-entered text is sent as plain text (no parse mode), never as HTML.
"""

from __future__ import annotations

from typing import Any

from handlers.notifications import Rendered, Renderer
from models.notification_kinds import NotificationKind


def render_system_text(params: dict[str, Any]) -> Rendered:
    return Rendered(
        text=str(params.get("text") or ""),
        photo=params.get("photo") or None,
        document=params.get("document") or None,
    )


def renderers() -> dict[NotificationKind, Renderer]:
    return {NotificationKind.SYSTEM_TEXT: render_system_text}
