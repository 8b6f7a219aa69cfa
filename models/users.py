"""People: Telegram accounts, retiree profiles, grids, family links and staff invite codes."""

from __future__ import annotations

import enum
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import (
    BigInteger,
    Enum,
    ForeignKey,
    Index,
    Select,
    String,
    UniqueConstraint,
    false,
    select,
)
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, joinedload, mapped_column, relationship

from models.base import Base, CreatedAtMixin, utcnow


def _enum(cls: type[enum.Enum]) -> Enum:
    # Stored as short strings (not native enums) so adding a value needs no type migration.
    return Enum(cls, native_enum=False, length=20, values_callable=lambda e: [m.value for m in e])


class Role(enum.StrEnum):
    RETIREE = "retiree"
    FAMILY = "family"
    STAFF = "staff"
    SUPERVISOR = "supervisor"
    ADMIN = "admin"

    @property
    def is_staff(self) -> bool:
        return self in (Role.STAFF, Role.SUPERVISOR, Role.ADMIN)


class LinkStatus(enum.StrEnum):
    PENDING = "pending"
    APPROVED = "approved"
    REJECTED = "rejected"


class Relation(enum.StrEnum):
    """How a family member is related to the retiree, as the family member said it (their own
    role: "I am her daughter"). Stored as this code and worded from the reader's side in the
    reader's language (handlers/family.py); OTHER keeps the words typed in `relation_note`."""

    SON = "son"
    DAUGHTER = "daughter"
    SON_IN_LAW = "son_in_law"
    DAUGHTER_IN_LAW = "daughter_in_law"
    GRANDSON = "grandson"
    GRANDDAUGHTER = "granddaughter"
    NEPHEW = "nephew"
    NIECE = "niece"
    SPOUSE = "spouse"
    OTHER = "other"

    @property
    def asks_retiree_gender(self) -> bool:
        """Whether the retiree's side of it depends on the retiree being a man or a woman
        (a daughter's mother or father); a spouse is 老伴 either way, a niece's elder an
        elder relative."""
        return self in _GENDERED_ELDER


_GENDERED_ELDER = frozenset(
    {
        Relation.SON,
        Relation.DAUGHTER,
        Relation.SON_IN_LAW,
        Relation.DAUGHTER_IN_LAW,
        Relation.GRANDSON,
        Relation.GRANDDAUGHTER,
    }
)


class User(CreatedAtMixin, Base):
    """A Telegram account that has talked to the bot. Its private chat id equals telegram_id."""

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    telegram_id: Mapped[int] = mapped_column(BigInteger, unique=True)
    username: Mapped[str | None] = mapped_column(String(64))
    display_name: Mapped[str] = mapped_column(String(200), default="")
    language: Mapped[str | None] = mapped_column(String(10))  # chosen locale; None = not chosen
    telegram_language: Mapped[str | None] = mapped_column(String(16))  # Telegram's language_code
    # None until onboarding says who; indexed: staff lists and supervisors are found by role
    role: Mapped[Role | None] = mapped_column(_enum(Role), index=True)
    reachable: Mapped[bool] = mapped_column(default=True)  # False after 403 (blocked the bot)
    unreachable_at: Mapped[datetime | None]
    onboarded_at: Mapped[datetime | None]
    last_seen_at: Mapped[datetime | None]

    profile: Mapped[RetireeProfile | None] = relationship(
        back_populates="user", foreign_keys="RetireeProfile.user_id", lazy="selectin"
    )

    @property
    def is_staff(self) -> bool:
        return self.role is not None and self.role.is_staff

    @property
    def is_onboarded(self) -> bool:
        return self.onboarded_at is not None and self.role is not None


class Grid(CreatedAtMixin, Base):
    """A residential grid (片区/楼栋) with the caseworker responsible for it."""

    __tablename__ = "grids"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    staff_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    sort_order: Mapped[int] = mapped_column(default=0)

    staff_user: Mapped[User | None] = relationship(lazy="selectin")


class RetireeProfile(CreatedAtMixin, Base):
    """A retiree the office serves; may exist without a Telegram account (entered by staff)."""

    __tablename__ = "retiree_profiles"
    # the daily over-80 scan looks only at those not flagged yet, by birthday
    __table_args__ = (Index("ix_retiree_profiles_over_80_birthday", "over_80", "birthday"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), unique=True
    )
    full_name: Mapped[str] = mapped_column(String(100))
    phone: Mapped[str | None] = mapped_column(String(20), index=True)
    birthday: Mapped[date | None]
    birthday_is_lunar: Mapped[bool] = mapped_column(default=False)
    grid_id: Mapped[int | None] = mapped_column(
        ForeignKey("grids.id", ondelete="SET NULL"), index=True
    )
    address: Mapped[str | None] = mapped_column(String(300))
    lives_alone: Mapped[bool] = mapped_column(default=False)
    over_80: Mapped[bool] = mapped_column(default=False)
    disability: Mapped[bool] = mapped_column(default=False)
    financial_hardship: Mapped[bool] = mapped_column(default=False)
    lives_in_other_city: Mapped[bool] = mapped_column(default=False)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))

    user: Mapped[User | None] = relationship(
        back_populates="profile", foreign_keys=[user_id], lazy="selectin"
    )
    grid: Mapped[Grid | None] = relationship(lazy="selectin")


class FamilyLink(CreatedAtMixin, Base):
    """A family member's link to a retiree; only an approved link lets them see and act."""

    __tablename__ = "family_links"
    __table_args__ = (UniqueConstraint("family_user_id", "profile_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    family_user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    profile_id: Mapped[int] = mapped_column(
        ForeignKey("retiree_profiles.id", ondelete="CASCADE"), index=True
    )
    relation: Mapped[Relation] = mapped_column(_enum(Relation), default=Relation.OTHER)
    relation_note: Mapped[str | None] = mapped_column(String(50))  # the words, for OTHER
    retiree_female: Mapped[bool | None]  # the retiree is a woman (mother); None: not said
    # The family member also gets the relative's activity reminders (they opt in).
    activity_reminders: Mapped[bool] = mapped_column(default=False, server_default=false())
    status: Mapped[LinkStatus] = mapped_column(_enum(LinkStatus), default=LinkStatus.PENDING)
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    decided_at: Mapped[datetime | None]

    family_user: Mapped[User] = relationship(foreign_keys=[family_user_id], lazy="selectin")
    profile: Mapped[RetireeProfile] = relationship(lazy="selectin")


class InviteCode(CreatedAtMixin, Base):
    """A one-time code an administrator gives a new staff member."""

    __tablename__ = "invite_codes"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    role: Mapped[Role] = mapped_column(_enum(Role), default=Role.STAFF)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    expires_at: Mapped[datetime | None]
    used_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    used_at: Mapped[datetime | None]


async def get_user_by_telegram_id(session: AsyncSession, telegram_id: int) -> User | None:
    return await session.scalar(select(User).where(User.telegram_id == telegram_id))


# last_seen_at is kept to within this much: writing it on every update would make every update
# a write (on SQLite, the one write lock) for a figure nobody needs to the second.
LAST_SEEN_RESOLUTION = timedelta(minutes=5)


def current_user_query(telegram_id: int, *also: Any) -> Select[Any]:
    """The one statement that loads the current user on every update: the user with their
    profile, its grid and the grid's caseworker joined in (the same graph the relationships'
    defaults would load with three more statements), plus any `also` columns or entities the
    runtime wants in the same round trip (the conversation state, the duplicate-update mark)."""
    return (
        select(User, *also)
        .where(User.telegram_id == telegram_id)
        .options(
            joinedload(User.profile)
            .joinedload(RetireeProfile.grid)
            .joinedload(Grid.staff_user, innerjoin=False),
        )
    )


def new_user(
    telegram_id: int,
    *,
    display_name: str = "",
    username: str | None = None,
    telegram_language: str | None = None,
    now: datetime | None = None,
) -> User:
    user = User(
        telegram_id=telegram_id,
        display_name=display_name[:200],
        username=username,
        telegram_language=telegram_language,
        last_seen_at=now or utcnow(),
    )
    user.profile = None  # known: a new account has no profile (no query to find out)
    return user


def telegram_changes(
    user: User,
    *,
    display_name: str = "",
    username: str | None = None,
    telegram_language: str | None = None,
    admin_ids: frozenset[int] | set[int] | list[int] = frozenset(),
    now: datetime | None = None,
) -> dict[str, Any]:
    """What keeping the Telegram-side fields fresh would change, and only that: the name,
    username and language when they differ, last_seen_at at most every
    `LAST_SEEN_RESOLUTION`, the admin role for a bootstrap administrator (ADMIN_IDS). Empty
    when nothing is to be written."""
    now = now or utcnow()
    changes: dict[str, Any] = {}
    name = display_name[:200] or user.display_name
    if name != user.display_name:
        changes["display_name"] = name
    if username != user.username:
        changes["username"] = username
    language = telegram_language or user.telegram_language
    if language != user.telegram_language:
        changes["telegram_language"] = language
    if user.last_seen_at is None or now - user.last_seen_at >= LAST_SEEN_RESOLUTION:
        changes["last_seen_at"] = now
    if user.telegram_id in admin_ids and user.role != Role.ADMIN:
        changes["role"] = Role.ADMIN
    return changes


def refresh_from_telegram(user: User, **fields: Any) -> bool:
    """Apply `telegram_changes`; returns whether anything changed (something to write)."""
    changes = telegram_changes(user, **fields)
    for field, value in changes.items():
        setattr(user, field, value)
    return bool(changes)


async def load_or_create_user(
    session: AsyncSession,
    telegram_id: int,
    *,
    display_name: str = "",
    username: str | None = None,
    telegram_language: str | None = None,
    admin_ids: frozenset[int] | set[int] | list[int] = frozenset(),
) -> User:
    """The one way to load the current user: creates the row on first contact and keeps the
    Telegram-side fields fresh (writing only what changed). Bootstrap administrators
    (ADMIN_IDS) get the admin role."""
    user = (await session.execute(current_user_query(telegram_id))).scalar_one_or_none()
    now = utcnow()
    created = user is None
    if user is None:
        user = new_user(
            telegram_id,
            display_name=display_name,
            username=username,
            telegram_language=telegram_language,
            now=now,
        )
        session.add(user)
    fields = {"display_name": display_name, "username": username}
    changed = refresh_from_telegram(
        user, **fields, telegram_language=telegram_language, admin_ids=admin_ids, now=now
    )
    if created or changed:
        await session.flush()
    return user


def mark_reachable(user: User) -> None:
    """A user who blocked the bot and came back with /start can be written to again."""
    user.reachable = True
    user.unreachable_at = None


async def linked_profiles(session: AsyncSession, family_user_id: int) -> list[RetireeProfile]:
    """The retirees a family member may act for (approved links only)."""
    result = await session.scalars(
        select(RetireeProfile)
        .join(FamilyLink, FamilyLink.profile_id == RetireeProfile.id)
        .where(FamilyLink.family_user_id == family_user_id)
        .where(FamilyLink.status == LinkStatus.APPROVED)
        .order_by(RetireeProfile.full_name)
    )
    return list(result)


async def profiles_to_act_for(session: AsyncSession, user: User) -> list[RetireeProfile]:
    """The people this user may ask for (help, a place at an activity...): themselves (a
    retiree with a profile) first, then their approved-linked relatives by name, each once.
    The same people `may_act_for` allows, staff aside (staff act for anyone, from their own
    screens, not by choosing from this list)."""
    profiles: list[RetireeProfile] = []
    if user.profile is not None:
        profiles.append(user.profile)
    for profile in await linked_profiles(session, user.id):
        if all(profile.id != p.id for p in profiles):
            profiles.append(profile)
    return profiles


async def family_of(session: AsyncSession, profile_id: int) -> list[User]:
    """Family members to tell when something happens to this retiree (approved links only)."""
    result = await session.scalars(
        select(User)
        .join(FamilyLink, FamilyLink.family_user_id == User.id)
        .where(FamilyLink.profile_id == profile_id)
        .where(FamilyLink.status == LinkStatus.APPROVED)
    )
    return list(result)


async def family_links_of(session: AsyncSession, profile_id: int) -> list[FamilyLink]:
    """The approved links of this retiree (each with its family member and their choices,
    such as `activity_reminders`), oldest first."""
    result = await session.scalars(
        select(FamilyLink)
        .where(FamilyLink.profile_id == profile_id)
        .where(FamilyLink.status == LinkStatus.APPROVED)
        .order_by(FamilyLink.id)
    )
    return list(result)


async def may_act_for(session: AsyncSession, actor: User, profile_id: int) -> bool:
    """A retiree acts for themselves, a family member for an approved-linked relative, staff
    for anyone. Every handler taking a profile id from a button asks this first."""
    if actor.is_staff:
        return True
    if actor.profile is not None and actor.profile.id == profile_id:
        return True
    link = await session.scalar(
        select(FamilyLink.id)
        .where(FamilyLink.family_user_id == actor.id)
        .where(FamilyLink.profile_id == profile_id)
        .where(FamilyLink.status == LinkStatus.APPROVED)
    )
    return link is not None


def people_to_notify(profile: RetireeProfile, family: list[User]) -> list[User]:
    """The retiree (if they have an account) and their approved family, each once."""
    users = [profile.user] if profile.user is not None else []
    for member in family:
        if all(member.id != u.id for u in users):
            users.append(member)
    return users
