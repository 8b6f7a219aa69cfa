"""Shared set-up for the service-request tests: people created directly in the database."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from models.base import utcnow
from models.outbox import OutboxMessage
from models.users import FamilyLink, Grid, LinkStatus, Relation, RetireeProfile, Role, User


@dataclass
class People:
    retiree: User
    profile: RetireeProfile
    family: User
    staff: User
    staff2: User
    supervisor: User
    admin: User
    stranger: User  # a retiree with no link to the profile
    grid: Grid


async def make_user(
    session: AsyncSession, telegram_id: int, name: str, role: Role, language: str = "zh_Hans"
) -> User:
    user = User(
        telegram_id=telegram_id,
        display_name=name,
        role=role,
        language=language,
        onboarded_at=utcnow(),
    )
    session.add(user)
    await session.flush()
    return user


async def make_people(session: AsyncSession) -> People:
    staff = await make_user(session, 3001, "李明", Role.STAFF)
    staff2 = await make_user(session, 3002, "赵丽", Role.STAFF)
    supervisor = await make_user(session, 3003, "孙主任", Role.SUPERVISOR)
    admin = await make_user(session, 900001, "管理员", Role.ADMIN)
    grid = Grid(name="东区3号楼", staff_user_id=staff.id)
    session.add(grid)
    retiree = await make_user(session, 1001, "王秀英", Role.RETIREE)
    profile = RetireeProfile(
        user_id=retiree.id,
        full_name="王秀英",
        phone="13800000001",
        address="东区3号楼2单元301",
        grid=grid,
    )
    session.add(profile)
    family = await make_user(session, 2001, "王小明", Role.FAMILY, language="en")
    await session.flush()
    session.add(
        FamilyLink(
            family_user_id=family.id,
            profile_id=profile.id,
            relation=Relation.SON,
            retiree_female=True,
            status=LinkStatus.APPROVED,
        )
    )
    stranger = await make_user(session, 1002, "张三", Role.RETIREE)
    session.add(RetireeProfile(user_id=stranger.id, full_name="张三", phone="13900000002"))
    await session.flush()
    await session.refresh(retiree, ["profile"])
    await session.refresh(stranger, ["profile"])
    await session.commit()
    return People(retiree, profile, family, staff, staff2, supervisor, admin, stranger, grid)


async def outbox(session: AsyncSession, kind: str | None = None) -> list[OutboxMessage]:
    statement = select(OutboxMessage).order_by(OutboxMessage.id)
    if kind is not None:
        statement = statement.where(OutboxMessage.kind == kind)
    rows = list((await session.scalars(statement.execution_options(populate_existing=True))).all())
    await session.commit()  # SQLite: even a read holds the write lock (BEGIN IMMEDIATE)
    return rows
