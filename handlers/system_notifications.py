"""Generic pushed messages whose text is already final (staff broadcasts, notices typed by
staff): the outbox row carries the text itself, so nothing is translated at send time.

    await enqueue(session, chat_id=..., user_id=..., kind="system.text",
                  params={"text": "..."}, dedup_key="broadcast:7:user:42")

Optional params: "photo" / "document" (a Telegram file id sent before; the text becomes its
caption). Staff-entered text is sent as plain text (no parse mode), never as HTML.
"""

from __future__ import annotations

from typing import Any

from handlers.notifications import Rendered, notification

SYSTEM_TEXT = "system.text"


@notification(SYSTEM_TEXT)
def render_system_text(params: dict[str, Any]) -> Rendered:
    return Rendered(
        text=str(params.get("text") or ""),
        photo=params.get("photo") or None,
        document=params.get("document") or None,
    )
