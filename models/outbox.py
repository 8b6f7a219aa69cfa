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

from sqlalchemy import (
    JSON,
    BigInteger,
    ForeignKey,
    Index,
    String,
    Text,
    and_,
    delete,
    func,
    or_,
    select,
    update,
)
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, CreatedAtMixin, insert_for, utcnow
from models.notification_kinds import NotificationKind
from models.users import User, _enum


class OutboxStatus(enum.StrEnum):
    PENDING = "pending"
    SENDING = "sending"
    SENT = "sent"
    FAILED = "failed"  # permanent: 400, 403, or past its expiry
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
    claimed_by: Mapped[str | None] = mapped_column(String(64))  # that sender (outbox_senders)
    # Not to be tried before (after a 429 or a failed request): the row keeps its place, its
    # chat's later rows wait behind it.
    retry_at: Mapped[datetime | None]
    sent_at: Mapped[datetime | None] = mapped_column(index=True)
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
    insert = insert_for(dialect)
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
# left SENDING by a sender that died is put back to PENDING when that sender's lease lapses
# (`reclaim_orphans`) and sent again: at least once, a duplicate only when the sender died
# between Telegram's answer and the commit of the outcome.

# How long a sender's lease lasts without renewal (a crashed sender's rows wait this long on
# PostgreSQL; the sender renews it every few seconds).
STALE_AFTER = timedelta(seconds=15)
PRIVATE_SPACING = timedelta(seconds=1)  # Telegram: about one message a second to a chat
GROUP_SPACING = timedelta(seconds=3)  # and about 20 a minute to a group
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
    """Chats with a message in flight (by any sender): their next message waits, so each chat
    gets its messages in order and never two requests at once."""
    return select(OutboxMessage.chat_id).where(OutboxMessage.status == OutboxStatus.SENDING)


def _recent_chats(now: datetime, private: timedelta, group: timedelta) -> Any:
    """Chats written to less than `private` (a person) or `group` (a group: negative id) ago,
    by any sender: Telegram allows about one message a second to a chat, 20 a minute to a
    group."""
    return select(OutboxMessage.chat_id).where(
        OutboxMessage.sent_at > now - max(private, group),
        or_(
            and_(OutboxMessage.chat_id > 0, OutboxMessage.sent_at > now - private),
            and_(OutboxMessage.chat_id < 0, OutboxMessage.sent_at > now - group),
        ),
    )


async def claim_due(
    session: AsyncSession,
    *,
    now: datetime | None = None,
    limit: int = 100,
    skip_chats: Collection[int] = (),
    sender_id: str | None = None,
    private_spacing: timedelta = PRIVATE_SPACING,
    group_spacing: timedelta = GROUP_SPACING,
) -> list[OutboxMessage]:
    """Claim up to `limit` due rows for `sender_id`, the earliest due first and at most one
    per chat: the chat's next row in queue order (`due_at`, then id). A chat is skipped while
    that row waits (`retry_at`: after a 429 or a failed request it keeps its place and the
    chat's later rows wait behind it), while the chat has a row in flight, while it was written
    to within its spacing, or when it is in `skip_chats`. Claimed rows become SENDING with
    `locked_at` and `claimed_by`; the caller commits at once.

    On PostgreSQL the rows are locked with FOR UPDATE SKIP LOCKED, so several senders share the
    table without ever claiming the same row or two rows of one chat; on SQLite there is one
    sender (BEGIN IMMEDIATE serialises writers anyway)."""
    now = now or utcnow()
    # First the candidates, without locks: each chat's next row in queue order, where the chat
    # may take one now. Then those rows are locked and claimed if still pending (another sender
    # may have taken one meanwhile: skipped). Two plain steps keep the plan simple whatever the
    # table's statistics say (one statement with the window in a semi-join was planned as a
    # nested loop, quadratic in the backlog, on a freshly filled table).
    queued = (
        select(
            OutboxMessage.id,
            OutboxMessage.chat_id,
            OutboxMessage.due_at,
            OutboxMessage.retry_at,
            func.row_number()
            .over(
                partition_by=OutboxMessage.chat_id,
                order_by=(OutboxMessage.due_at, OutboxMessage.id),
            )
            .label("place"),
        )
        .where(OutboxMessage.status == OutboxStatus.PENDING, OutboxMessage.due_at <= now)
        .subquery()
    )
    conditions = [
        queued.c.place == 1,
        or_(queued.c.retry_at.is_(None), queued.c.retry_at <= now),
        queued.c.chat_id.not_in(_sending_chats()),
        queued.c.chat_id.not_in(_recent_chats(now, private_spacing, group_spacing)),
    ]
    if skip_chats:
        conditions.append(queued.c.chat_id.not_in(list(skip_chats)))
    candidates = list(
        await session.scalars(
            select(queued.c.id)
            .where(*conditions)
            .order_by(queued.c.due_at, queued.c.id)
            .limit(limit * 2 + 10)  # senders claiming at once split these (SKIP LOCKED)
        )
    )
    if not candidates:
        return []
    statement = (
        select(OutboxMessage)
        .where(OutboxMessage.id.in_(candidates), OutboxMessage.status == OutboxStatus.PENDING)
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
        row.claimed_by = sender_id
    await session.flush()
    return rows


async def _update_row(session: AsyncSession, row_id: int, **values: Any) -> None:
    await session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.id == row_id)
        .values(**values)
        .execution_options(synchronize_session=False)
    )


_UNCLAIMED: dict[str, Any] = {"locked_at": None, "claimed_by": None}


async def mark_sent(
    session: AsyncSession,
    row_id: int,
    *,
    telegram_message_id: int | None,
    now: datetime | None = None,
) -> None:
    """Telegram accepted the message (or the edit). `sent_at` also spaces the chat's next."""
    await _update_row(
        session,
        row_id,
        status=OutboxStatus.SENT,
        sent_at=now or utcnow(),
        telegram_message_id=telegram_message_id,
        attempts=OutboxMessage.attempts + 1,
        last_error=None,
        retry_at=None,
        **_UNCLAIMED,
    )


async def mark_failed(
    session: AsyncSession, row_id: int, *, error: str, count_attempt: bool = True
) -> None:
    """Give up on the row for good (400, 403, unknown kind, past its expiry)."""
    values: dict[str, Any] = {
        "status": OutboxStatus.FAILED,
        "last_error": error[:2000],
        **_UNCLAIMED,
    }
    if count_attempt:
        values["attempts"] = OutboxMessage.attempts + 1
    await _update_row(session, row_id, **values)


async def mark_retry(
    session: AsyncSession,
    row_id: int,
    *,
    retry_at: datetime | None,
    error: str | None = None,
    count_attempt: bool = True,
    chat_id: int | None = None,
    due_at: datetime | None = None,
) -> None:
    """Put the row back in the queue, in its place, not to be tried before `retry_at` (a 429's
    `retry_after`; a failed request; an edit waiting for its original): its chat's later rows
    wait behind it, other chats do not. `count_attempt` records an answer from Telegram (a
    429); `chat_id` moves the row to another chat (a group that became a supergroup); `due_at`
    moves it in the queue instead (an edit that must go behind the message it edits)."""
    values: dict[str, Any] = {"status": OutboxStatus.PENDING, "retry_at": retry_at, **_UNCLAIMED}
    if due_at is not None:
        values["due_at"] = due_at
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
        .values(status=OutboxStatus.PENDING, **_UNCLAIMED)
        .execution_options(synchronize_session=False)
    )


# -- senders and their leases ------------------------------------------------------------------
# A sender registers a row in `outbox_senders` and renews `heartbeat_at` every few seconds; its
# claims carry its id. A sender that stops cleanly hands its rows back and deletes its row; the
# rows of one that died are taken back when its lease lapses (`reclaim_orphans`, seconds), or
# at once by its replacement's start-up on SQLite, where only one sender runs
# (`reclaim_all`). A live sender's claims are never taken: no duplicate without a crash.


class OutboxSenderLease(Base):
    __tablename__ = "outbox_senders"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    host: Mapped[str] = mapped_column(String(200))
    pid: Mapped[int]
    started_at: Mapped[datetime]
    heartbeat_at: Mapped[datetime]
    # Renewed with each heartbeat: once past, the sender is taken to be gone. Each sender sets
    # its own (longer than its request timeout), so no one cuts another's request short.
    lease_until: Mapped[datetime]


async def register_sender(
    session: AsyncSession,
    sender_id: str,
    *,
    host: str,
    pid: int,
    lease: timedelta = STALE_AFTER,
    now: datetime | None = None,
) -> None:
    now = now or utcnow()
    await session.merge(
        OutboxSenderLease(
            id=sender_id,
            host=host[:200],
            pid=pid,
            started_at=now,
            heartbeat_at=now,
            lease_until=now + lease,
        )
    )
    await session.flush()


async def renew_lease(
    session: AsyncSession,
    sender_id: str,
    *,
    lease: timedelta = STALE_AFTER,
    now: datetime | None = None,
) -> bool:
    """Renew the sender's lease; False if it was taken away (the sender was thought dead and
    its rows were handed to others: it must register again)."""
    now = now or utcnow()
    result = await session.execute(
        update(OutboxSenderLease)
        .where(OutboxSenderLease.id == sender_id)
        .values(heartbeat_at=now, lease_until=now + lease)
        .execution_options(synchronize_session=False)
    )
    return bool(getattr(result, "rowcount", 0))


async def deregister_sender(session: AsyncSession, sender_id: str) -> int:
    """A sender stopping cleanly: its claimed rows go back to the queue, its lease is gone.
    Returns how many rows it handed back."""
    result = await session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.status == OutboxStatus.SENDING)
        .where(OutboxMessage.claimed_by == sender_id)
        .values(status=OutboxStatus.PENDING, **_UNCLAIMED)
        .execution_options(synchronize_session=False)
    )
    await session.execute(delete(OutboxSenderLease).where(OutboxSenderLease.id == sender_id))
    return int(getattr(result, "rowcount", 0) or 0)


async def reclaim_orphans(
    session: AsyncSession, *, now: datetime | None = None, legacy_after: timedelta = STALE_AFTER
) -> int:
    """Senders whose lease lapsed are gone: their claimed rows go back to the queue (they will
    be sent again: at least once). Rows of a live sender are left alone. Returns how many."""
    now = now or utcnow()
    cutoff = now - legacy_after
    await session.execute(delete(OutboxSenderLease).where(OutboxSenderLease.lease_until < now))
    live = select(OutboxSenderLease.id)
    result = await session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.status == OutboxStatus.SENDING)
        .where(
            or_(
                and_(OutboxMessage.claimed_by.is_not(None), OutboxMessage.claimed_by.not_in(live)),
                # claimed before leases existed (an upgrade in the middle of a send)
                and_(
                    OutboxMessage.claimed_by.is_(None),
                    or_(OutboxMessage.locked_at.is_(None), OutboxMessage.locked_at < cutoff),
                ),
            )
        )
        .values(status=OutboxStatus.PENDING, **_UNCLAIMED)
        .execution_options(synchronize_session=False)
    )
    return int(getattr(result, "rowcount", 0) or 0)


async def reclaim_all(session: AsyncSession, *, except_sender: str | None = None) -> int:
    """Every claimed row back to the queue, and every other sender's lease gone: for the start of
    the one sender on SQLite, when no other can be sending. Returns how many rows."""
    statement = delete(OutboxSenderLease)
    if except_sender is not None:
        statement = statement.where(OutboxSenderLease.id != except_sender)
    await session.execute(statement)
    result = await session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.status == OutboxStatus.SENDING)
        .values(status=OutboxStatus.PENDING, **_UNCLAIMED)
        .execution_options(synchronize_session=False)
    )
    return int(getattr(result, "rowcount", 0) or 0)


async def resume_stale(
    session: AsyncSession, *, now: datetime | None = None, older_than: timedelta = STALE_AFTER
) -> int:
    """Rows left SENDING by a sender that is gone (its lease lapsed; a row claimed without a
    lease, `older_than` ago). Returns how many went back to the queue."""
    return await reclaim_orphans(session, now=now, legacy_after=older_than)


# -- one rate for every sender -----------------------------------------------------------------
# A token bucket kept as a theoretical arrival time (GCRA): each request takes the next slot,
# `interval` after the previous one, and waits for it. Slots follow from the bucket, not from
# the moment a request is ready, so time lost oversleeping is not lost from the rate; and every
# sender sharing the row shares the rate. Times are seconds on the senders' wall clock.


class OutboxRate(Base):
    __tablename__ = "outbox_rate"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    tat: Mapped[float]


async def reserve_send_slot(
    session: AsyncSession, name: str, *, interval: float, now: float, count: int = 1
) -> float:
    """Reserve the next `count` send slots of bucket `name` (every sender of one bot shares
    it); returns when the first one is, in seconds from `now` (0 or more). The caller commits
    at once, so the row is locked only for this moment."""
    dialect = session.get_bind().dialect.name
    insert = insert_for(dialect)
    await session.execute(
        insert(OutboxRate)
        .values(name=name, tat=now)
        .on_conflict_do_nothing(index_elements=["name"])
    )
    start = (
        func.max(OutboxRate.tat, now) if dialect == "sqlite" else func.greatest(OutboxRate.tat, now)
    )
    tat = (
        await session.execute(
            update(OutboxRate)
            .where(OutboxRate.name == name)
            .values(tat=start + interval * count)
            .returning(OutboxRate.tat)
            .execution_options(synchronize_session=False)
        )
    ).scalar_one()
    return max(0.0, float(tat) - interval * count - now)


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
    insert = insert_for(dialect)
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
