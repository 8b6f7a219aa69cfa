"""The outbox's domain operations (models/outbox.py) on SQLite and PostgreSQL: idempotent
enqueue, cancelling queued rows, and the claim/resume steps the sender is built on."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from models.base import utcnow
from models.outbox import (
    OutboxMessage,
    OutboxStatus,
    cancel_pending,
    claim_due,
    enqueue,
    enqueue_to,
    mark_user_unreachable,
    release,
    resume_stale,
)
from models.users import User, mark_reachable


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest) -> str:
    if request.param == "sqlite":
        return str(request.getfixturevalue("sqlite_database_url"))
    return str(request.getfixturevalue("pg_database_url"))


async def statuses(session: AsyncSession) -> dict[str, OutboxStatus]:
    session.expire_all()
    rows = await session.execute(select(OutboxMessage.dedup_key, OutboxMessage.status))
    await session.commit()
    return {key: status for key, status in rows}


async def test_enqueue_is_idempotent_on_the_dedup_key(session: AsyncSession) -> None:
    first = await enqueue(
        session, chat_id=1, kind="test.ping", dedup_key="remind:registration:42:24h"
    )
    again = await enqueue(
        session,
        chat_id=1,
        kind="test.ping",
        dedup_key="remind:registration:42:24h",
        params={"changed": True},
    )
    await session.commit()
    assert (first, again) == (True, False)
    stored = list(await session.scalars(select(OutboxMessage)))
    await session.commit()
    assert len(stored) == 1 and stored[0].params == {}
    assert stored[0].status == OutboxStatus.PENDING and stored[0].attempts == 0


async def test_enqueue_to_addresses_the_persons_private_chat(session: AsyncSession) -> None:
    person = User(telegram_id=7_700_123, display_name="王秀英")
    session.add(person)
    await session.flush()
    assert await enqueue_to(session, person, kind="test.ping", dedup_key="to:1", params={"a": 1})
    row = await session.scalar(select(OutboxMessage).where(OutboxMessage.dedup_key == "to:1"))
    assert row is not None
    assert (row.chat_id, row.user_id, row.params) == (7_700_123, person.id, {"a": 1})


async def test_enqueue_belongs_to_the_callers_transaction(session: AsyncSession) -> None:
    await enqueue(session, chat_id=1, kind="test.ping", dedup_key="rolled-back")
    await session.rollback()
    assert await statuses(session) == {}
    # The key is free again: the change that failed may be retried.
    assert await enqueue(session, chat_id=1, kind="test.ping", dedup_key="rolled-back")
    await session.commit()


async def test_cancel_pending_cancels_only_queued_rows_with_the_prefix(
    session: AsyncSession,
) -> None:
    for key in ("remind:reg:4:24h", "remind:reg:4:2h", "remind:reg:42:24h", "remind:reg_4:x"):
        await enqueue(session, chat_id=1, kind="test.ping", dedup_key=key)
    await enqueue(session, chat_id=1, kind="test.ping", dedup_key="remind:reg:4:sent")
    await session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.dedup_key == "remind:reg:4:sent")
        .values(status=OutboxStatus.SENT)
    )
    await session.commit()

    assert await cancel_pending(session, dedup_prefix="remind:reg:4:") == 2
    await session.commit()
    assert await statuses(session) == {
        "remind:reg:4:24h": OutboxStatus.CANCELLED,
        "remind:reg:4:2h": OutboxStatus.CANCELLED,
        "remind:reg:42:24h": OutboxStatus.PENDING,  # another sign-up
        "remind:reg_4:x": OutboxStatus.PENDING,  # "_" is not a wildcard
        "remind:reg:4:sent": OutboxStatus.SENT,  # already out: not recalled
    }
    assert await cancel_pending(session, dedup_prefix="remind:reg:4:") == 0
    with pytest.raises(ValueError):
        await cancel_pending(session, dedup_prefix="")


async def test_claim_takes_due_rows_in_order_one_per_chat(session: AsyncSession) -> None:
    now = utcnow()
    await enqueue(session, chat_id=1, kind="k", dedup_key="1b", due_at=now - timedelta(seconds=5))
    await enqueue(session, chat_id=1, kind="k", dedup_key="1a", due_at=now - timedelta(seconds=9))
    await enqueue(session, chat_id=2, kind="k", dedup_key="2a", due_at=now - timedelta(seconds=7))
    await enqueue(session, chat_id=3, kind="k", dedup_key="3a", due_at=now - timedelta(seconds=1))
    await enqueue(session, chat_id=4, kind="k", dedup_key="4-later", due_at=now + timedelta(1))
    await session.commit()

    claimed = await claim_due(session, skip_chats={3})
    await session.commit()
    assert [r.dedup_key for r in claimed] == ["1a", "2a"]
    assert all(r.status == OutboxStatus.SENDING and r.locked_at is not None for r in claimed)

    # Chat 1 has a message in flight: its next one waits, whatever the skip list says.
    assert [r.dedup_key for r in await claim_due(session)] == ["3a"]
    await session.commit()

    await release(session, [claimed[0].id])
    await session.commit()
    assert [r.dedup_key for r in await claim_due(session)] == ["1a"]
    await session.commit()


async def test_claim_respects_the_limit(session: AsyncSession) -> None:
    for n in range(5):
        await enqueue(session, chat_id=n, kind="k", dedup_key=f"n{n}")
    await session.commit()
    assert len(await claim_due(session, limit=3)) == 3
    await session.commit()
    assert len(await claim_due(session, limit=3)) == 2
    await session.commit()
    count = await session.scalar(
        select(func.count()).where(OutboxMessage.status == OutboxStatus.SENDING)
    )
    await session.commit()
    assert count == 5


async def test_resume_stale_returns_only_old_claims(session: AsyncSession) -> None:
    hour_ago = utcnow() - timedelta(hours=1)
    await enqueue(session, chat_id=1, kind="k", dedup_key="old", due_at=hour_ago)
    await enqueue(session, chat_id=2, kind="k", dedup_key="young", due_at=hour_ago)
    await session.commit()
    await claim_due(session, now=utcnow() - timedelta(minutes=10), limit=1)
    await session.commit()
    await claim_due(session)
    await session.commit()
    assert await resume_stale(session) == 1
    await session.commit()
    assert await statuses(session) == {"old": OutboxStatus.PENDING, "young": OutboxStatus.SENDING}
    assert await resume_stale(session, older_than=timedelta(0)) == 1
    await session.commit()


async def test_unreachable_user_until_mark_reachable(session: AsyncSession) -> None:
    user = User(telegram_id=777)
    session.add(user)
    await session.commit()
    await mark_user_unreachable(session, user.id)
    await session.commit()
    await session.refresh(user)
    assert user.reachable is False and user.unreachable_at is not None
    mark_reachable(user)
    await session.commit()
    await session.refresh(user)
    await session.commit()
    assert user.reachable is True and user.unreachable_at is None
