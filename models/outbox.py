"""The outbox: every pushed message is a row written in the transaction that causes it.

The sender in `bot/` renders each row in the recipient's language at send time. `enqueue` is
idempotent on `dedup_key`, so a scheduler that runs twice, a restart or two processes never
queue the same message twice.
"""

from __future__ import annotations

import enum
from collections.abc import Collection
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import JSON, BigInteger, ForeignKey, Index, String, Text, func, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, CreatedAtMixin, utcnow
from models.notification_kinds import NotificationKind
from models.users import User, _enum


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
    kind: Mapped[str] = mapped_column(String(64))  # a NotificationKind value
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
    # The dedup_key of the earlier row whose sent message this row edits in place (the staff
    # group's request card), or None for a new message. The sender waits for that row to be
    # sent, and sends this one as a new message if it failed or its message can no longer be
    # edited. A key, not a foreign key: the row to edit is found by it and may be gone.
    edit_of: Mapped[str | None] = mapped_column(String(200))


async def enqueue(
    session: AsyncSession,
    *,
    chat_id: int,
    kind: NotificationKind,
    dedup_key: str,
    params: dict[str, Any] | None = None,
    user_id: int | None = None,
    due_at: datetime | None = None,
    broadcast_id: int | None = None,
    edit_of: str | None = None,
) -> bool:
    """Queue one message in the caller's transaction. Returns False if `dedup_key` was
    already queued (then nothing changes). With `edit_of` (the dedup_key of an earlier row)
    the message replaces that row's sent message in place instead of being sent anew."""
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
        "edit_of": edit_of,
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


# -- operations for the sender (bot/sender.py) -------------------------------------------------
# The sender claims due rows (PENDING -> SENDING, committed at once), talks to Telegram outside
# any transaction, then records the outcome of each row in a short transaction of its own. A row
# left SENDING by a crash is put back to PENDING by `resume_stale` and sent again (at least once).

STALE_AFTER = timedelta(minutes=5)
UNREACHABLE_ERROR = "recipient unreachable: they blocked the bot (until they /start again)"


async def enqueue_to(
    session: AsyncSession,
    user: User,
    *,
    kind: NotificationKind,
    dedup_key: str,
    params: dict[str, Any] | None = None,
    due_at: datetime | None = None,
) -> bool:
    """Queue a message for one person's private chat (their chat id is their Telegram id); it
    is rendered in their language and skipped while they have blocked the bot."""
    return await enqueue(
        session,
        chat_id=user.telegram_id,
        user_id=user.id,
        kind=kind,
        dedup_key=dedup_key,
        params=params,
        due_at=due_at,
    )


def _sending_chats() -> Any:
    """Chats with a message in flight: their next message waits, so each chat gets its
    messages in order even when several senders share the table."""
    return select(OutboxMessage.chat_id).where(OutboxMessage.status == OutboxStatus.SENDING)


async def claim_due(
    session: AsyncSession,
    *,
    now: datetime | None = None,
    limit: int = 100,
    skip_chats: Collection[int] = (),
) -> list[OutboxMessage]:
    """Claim up to `limit` due rows, the earliest due first and at most one per chat (the
    chat's earliest), skipping chats that already have a row in flight or are paused
    (`skip_chats`). Claimed rows become SENDING with `locked_at`; the caller commits at once.

    On PostgreSQL the rows are locked with FOR UPDATE SKIP LOCKED, so several senders share the
    table without ever claiming the same row; on SQLite there is one sender (BEGIN IMMEDIATE
    serialises writers anyway)."""
    now = now or utcnow()
    conditions = [
        OutboxMessage.status == OutboxStatus.PENDING,
        OutboxMessage.due_at <= now,
        OutboxMessage.chat_id.not_in(_sending_chats()),
    ]
    if skip_chats:
        conditions.append(OutboxMessage.chat_id.not_in(list(skip_chats)))
    first_per_chat = (
        select(
            OutboxMessage.id,
            func.row_number()
            .over(
                partition_by=OutboxMessage.chat_id,
                order_by=(OutboxMessage.due_at, OutboxMessage.id),
            )
            .label("place"),
        )
        .where(*conditions)
        .subquery()
    )
    statement = (
        select(OutboxMessage)
        .where(OutboxMessage.id.in_(select(first_per_chat.c.id).where(first_per_chat.c.place == 1)))
        .where(OutboxMessage.status == OutboxStatus.PENDING)
        .order_by(OutboxMessage.due_at, OutboxMessage.id)
        .limit(limit)
        .execution_options(populate_existing=True)
    )
    if session.get_bind().dialect.name == "postgresql":
        statement = statement.with_for_update(skip_locked=True)
    rows = list(await session.scalars(statement))
    for row in rows:
        row.status = OutboxStatus.SENDING
        row.locked_at = now
    await session.flush()
    return rows


async def _update_row(session: AsyncSession, row_id: int, **values: Any) -> None:
    await session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.id == row_id)
        .values(**values)
        .execution_options(synchronize_session=False)
    )


async def mark_sent(
    session: AsyncSession,
    row_id: int,
    *,
    telegram_message_id: int | None,
    now: datetime | None = None,
) -> None:
    """Telegram accepted the message (or the edit)."""
    await _update_row(
        session,
        row_id,
        status=OutboxStatus.SENT,
        sent_at=now or utcnow(),
        telegram_message_id=telegram_message_id,
        attempts=OutboxMessage.attempts + 1,
        locked_at=None,
        last_error=None,
    )


async def mark_failed(
    session: AsyncSession, row_id: int, *, error: str, count_attempt: bool = True
) -> None:
    """Give up on the row for good (400, 403, unknown kind, attempts exhausted)."""
    values: dict[str, Any] = {
        "status": OutboxStatus.FAILED,
        "last_error": error[:2000],
        "locked_at": None,
    }
    if count_attempt:
        values["attempts"] = OutboxMessage.attempts + 1
    await _update_row(session, row_id, **values)


async def mark_retry(
    session: AsyncSession,
    row_id: int,
    *,
    due_at: datetime,
    error: str | None = None,
    count_attempt: bool = True,
    chat_id: int | None = None,
) -> None:
    """Put the row back in the queue for `due_at` (429, network error, 5xx; or, without
    counting an attempt, a row the sender could not take up now). `chat_id` moves the row to
    another chat (a group that became a supergroup)."""
    values: dict[str, Any] = {
        "status": OutboxStatus.PENDING,
        "due_at": due_at,
        "locked_at": None,
    }
    if error is not None:
        values["last_error"] = error[:2000]
    if count_attempt:
        values["attempts"] = OutboxMessage.attempts + 1
    if chat_id is not None:
        values["chat_id"] = chat_id
    await _update_row(session, row_id, **values)


async def release(session: AsyncSession, row_ids: Collection[int]) -> None:
    """Hand claimed rows back untouched (a sender stopping before it got to them)."""
    if not row_ids:
        return
    await session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.id.in_(list(row_ids)))
        .where(OutboxMessage.status == OutboxStatus.SENDING)
        .values(status=OutboxStatus.PENDING, locked_at=None)
        .execution_options(synchronize_session=False)
    )


async def resume_stale(
    session: AsyncSession, *, now: datetime | None = None, older_than: timedelta = STALE_AFTER
) -> int:
    """Rows left SENDING by a sender that died (claimed more than `older_than` ago) go back to
    PENDING, to be sent again. Returns how many."""
    cutoff = (now or utcnow()) - older_than
    result = await session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.status == OutboxStatus.SENDING)
        .where(or_(OutboxMessage.locked_at.is_(None), OutboxMessage.locked_at <= cutoff))
        .values(status=OutboxStatus.PENDING, locked_at=None)
        .execution_options(synchronize_session=False)
    )
    return int(getattr(result, "rowcount", 0) or 0)


async def get_by_dedup_key(session: AsyncSession, dedup_key: str) -> OutboxMessage | None:
    return await session.scalar(select(OutboxMessage).where(OutboxMessage.dedup_key == dedup_key))


async def mark_user_unreachable(
    session: AsyncSession, user_id: int, *, now: datetime | None = None
) -> None:
    """Telegram said 403 for this user's private chat: they blocked the bot or deleted their
    account. Nothing more is sent to them until they /start again (`users.mark_reachable`)."""
    await session.execute(
        update(User)
        .where(User.id == user_id)
        .where(User.reachable.is_(True))
        .values(reachable=False, unreachable_at=now or utcnow())
        .execution_options(synchronize_session=False)
    )


async def cancel_pending(session: AsyncSession, *, dedup_prefix: str) -> int:
    """Cancel queued, not yet sent rows whose dedup key starts with `dedup_prefix` (say, the
    reminders of a cancelled sign-up: `cancel_pending(session, dedup_prefix="remind:reg:42:")`).
    A row already handed to Telegram is not recalled. Returns how many were cancelled."""
    if not dedup_prefix:
        raise ValueError("an empty prefix would cancel every queued message")
    escaped = dedup_prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    result = await session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.status == OutboxStatus.PENDING)
        .where(OutboxMessage.dedup_key.like(f"{escaped}%", escape="\\"))
        .values(status=OutboxStatus.CANCELLED, locked_at=None)
        .execution_options(synchronize_session=False)
    )
    return int(getattr(result, "rowcount", 0) or 0)


# -- bulk queueing, and the indexes of the lookups by person and by key prefix ----------------


async def enqueue_many(session: AsyncSession, rows: Collection[dict[str, Any]]) -> list[str]:
    """Queue many messages at once (a scan's whole due work), `ON CONFLICT (dedup_key) DO
    NOTHING` as `enqueue` does each: one statement compiled once, its rows sent as multi-row
    VALUES pages by the driver layer (SQLAlchemy's insertmanyvalues). A row has `chat_id`,
    `kind`, `dedup_key` and optionally `params`, `user_id`, `due_at`, `broadcast_id`,
    `edit_of`. Rows are inserted in the order given (ids ascend, so one chat's messages go
    out in that order). Returns the dedup keys that were new (already queued ones are left
    alone)."""
    if not rows:
        return []
    now = utcnow()
    values = [
        {
            "chat_id": row["chat_id"],
            "user_id": row.get("user_id"),
            "kind": row["kind"],
            "params": row.get("params") or {},
            "dedup_key": row["dedup_key"],
            "due_at": row.get("due_at") or now,
            "status": OutboxStatus.PENDING,
            "attempts": 0,
            "broadcast_id": row.get("broadcast_id"),
            "edit_of": row.get("edit_of"),
            "created_at": now,
        }
        for row in rows
    ]
    table = OutboxMessage.__table__
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    statement = (
        insert(table)  # type: ignore[arg-type]  # a mapped class's Table
        .on_conflict_do_nothing(index_elements=["dedup_key"])
        .returning(table.c.dedup_key)
    )
    return list((await session.execute(statement, values)).scalars())


# Deleting a person cascades to their outbox rows: without this, a scan of the whole outbox.
Index("ix_outbox_user_id", OutboxMessage.user_id)
# `cancel_pending`'s prefix match (LIKE 'request:42:card:%') over the rows still queued. On
# PostgreSQL text_pattern_ops lets LIKE use the index whatever the database's collation; on
# SQLite the partial index keeps the match to the pending rows.
Index(
    "ix_outbox_pending_dedup_key",
    OutboxMessage.dedup_key,
    postgresql_ops={"dedup_key": "text_pattern_ops"},
    postgresql_where=OutboxMessage.status == OutboxStatus.PENDING,
    sqlite_where=OutboxMessage.status == OutboxStatus.PENDING,
)
