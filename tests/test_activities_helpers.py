"""Shared builders for the activity tests (people and activities made directly in the
database; no onboarding conversation needed)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from models.activities import Activity, ActivityStatus, Category
from models.base import utcnow
from models.outbox import OutboxMessage
from models.users import FamilyLink, LinkStatus, Relation, RetireeProfile, Role, User


async def make_user(
    session: AsyncSession,
    telegram_id: int,
    role: Role,
    name: str = "",
    language: str = "zh_Hans",
) -> User:
    user = User(
        telegram_id=telegram_id,
        display_name=name or f"user{telegram_id}",
        role=role,
        language=language,
        onboarded_at=utcnow(),
    )
    session.add(user)
    await session.flush()
    await session.refresh(user, ["profile"])
    return user


async def make_retiree(
    session: AsyncSession,
    telegram_id: int | None,
    name: str,
    phone: str | None = None,
    language: str = "zh_Hans",
) -> RetireeProfile:
    user = None
    if telegram_id is not None:
        user = await make_user(session, telegram_id, Role.RETIREE, name, language)
    profile = RetireeProfile(full_name=name, phone=phone, user_id=user.id if user else None)
    session.add(profile)
    await session.flush()
    await session.refresh(profile, ["user"])
    if user is not None:
        await session.refresh(user, ["profile"])
    return profile


async def link_family(
    session: AsyncSession,
    family: User,
    profile: RetireeProfile,
    relation: Relation = Relation.DAUGHTER,
    retiree_female: bool | None = True,
) -> None:
    session.add(
        FamilyLink(
            family_user_id=family.id,
            profile_id=profile.id,
            relation=relation,
            retiree_female=retiree_female,
            status=LinkStatus.APPROVED,
        )
    )
    await session.flush()


async def make_activity(
    session: AsyncSession,
    *,
    title: str = "太极拳晨练",
    capacity: int = 20,
    starts_in: timedelta = timedelta(days=3),
    deadline_in: timedelta | None = None,
    category: Category = Category.FITNESS,
    organiser: User | None = None,
    now: datetime | None = None,
    **extra: Any,
) -> Activity:
    now = now or utcnow()
    activity = Activity(
        title=title,
        category=category,
        description=extra.pop("description", "慢慢来，适合初学者"),
        place=extra.pop("place", "老干部活动中心二楼"),
        starts_at=now + starts_in,
        ends_at=now + starts_in + timedelta(hours=1, minutes=30),
        capacity=capacity,
        signup_deadline_at=now + deadline_in if deadline_in is not None else None,
        organiser_id=organiser.id if organiser else None,
        status=ActivityStatus.OPEN,
        next_seq=1,
        **extra,
    )
    session.add(activity)
    await session.flush()
    return activity


async def outbox_rows(session: AsyncSession, kind: str | None = None) -> list[OutboxMessage]:
    query = select(OutboxMessage).order_by(OutboxMessage.id)
    if kind is not None:
        query = query.where(OutboxMessage.kind == kind)
    rows = list(await session.scalars(query.execution_options(populate_existing=True)))
    await session.commit()  # SQLite: even a read holds the write lock (BEGIN IMMEDIATE)
    return rows
