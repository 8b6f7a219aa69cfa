"""The outbox: every pushed message is a row written in the transaction that causes it.

The sender in `bot/` renders each row in the recipient's language at send time. `enqueue` is
idempotent on `dedup_key`, so a scheduler that runs twice, a restart or two processes never
queue the same message twice.
"""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, ForeignKey, Index, String, Text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, CreatedAtMixin, utcnow
from models.users import _enum


class OutboxStatus(enum.StrEnum):
    PENDING = "pending"
    SENDING = "sending"
    SENT = "sent"
    FAILED = "failed"  # permanent: 400, 403 or attempts exhausted
    CANCELLED = "cancelled"


class OutboxMessage(CreatedAtMixin, Base):
    __tablename__ = "outbox"
    __table_args__ = (Index("ix_outbox_status_due_at", "status", "due_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    chat_id: Mapped[int] = mapped_column(BigInteger)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(64))
    params: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    dedup_key: Mapped[str] = mapped_column(String(200), unique=True)
    due_at: Mapped[datetime] = mapped_column(default=utcnow)
    status: Mapped[OutboxStatus] = mapped_column(_enum(OutboxStatus), default=OutboxStatus.PENDING)
    attempts: Mapped[int] = mapped_column(default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    locked_at: Mapped[datetime | None]  # when a sender claimed it (status SENDING)
    sent_at: Mapped[datetime | None]
    telegram_message_id: Mapped[int | None] = mapped_column(BigInteger)
    broadcast_id: Mapped[int | None] = mapped_column(index=True)


async def enqueue(
    session: AsyncSession,
    *,
    chat_id: int,
    kind: str,
    dedup_key: str,
    params: dict[str, Any] | None = None,
    user_id: int | None = None,
    due_at: datetime | None = None,
    broadcast_id: int | None = None,
) -> bool:
    """Queue one message in the caller's transaction. Returns False if `dedup_key` was
    already queued (then nothing changes)."""
    values = {
        "chat_id": chat_id,
        "user_id": user_id,
        "kind": kind,
        "params": params or {},
        "dedup_key": dedup_key,
        "due_at": due_at or utcnow(),
        "status": OutboxStatus.PENDING,
        "attempts": 0,
        "broadcast_id": broadcast_id,
        "created_at": utcnow(),
    }
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    statement = (
        insert(OutboxMessage)
        .values(**values)
        .on_conflict_do_nothing(index_elements=["dedup_key"])
        .returning(OutboxMessage.id)
    )
    inserted = (await session.execute(statement)).scalar_one_or_none()
    return inserted is not None
