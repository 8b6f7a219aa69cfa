"""Activities: the office's programme, sign-ups with capacity and a waitlist, reminders,
attendance and feedback.

Rules live here (capacity, waitlist order, deadlines, who may act, who is told). Every pushed
message is an outbox row written in the same transaction as the change that causes it.

Concurrency: a sign-up or cancellation first locks the activity row (`SELECT ... FOR UPDATE`
on PostgreSQL; on SQLite the engine begins every transaction with BEGIN IMMEDIATE, so writers
are serialised already). Counts and waitlist positions are computed inside that lock, so 200
simultaneous sign-ups for 20 places give exactly 20 confirmed and a gapless waitlist. The
unique constraint (activity, profile) is the last guard against a double sign-up.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import (
    ForeignKey,
    Index,
    String,
    Text,
    UniqueConstraint,
    func,
    or_,
    select,
    update,
)
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, aliased, mapped_column, relationship

from models import outbox
from models.base import Base, CreatedAtMixin, utcnow
from models.errors import DomainError
from models.notification_kinds import NotificationKind
from models.office import DEFAULT_TIMEZONE, OfficeSettings
from models.outbox import enqueue_to
from models.users import (
    FamilyLink,
    LinkStatus,
    RetireeProfile,
    User,
    _enum,
    family_links_of,
    may_act_for,
)


class Category(enum.StrEnum):
    """From the office's practice."""

    CALLIGRAPHY = "calligraphy"  # calligraphy and painting
    MUSIC = "music"  # singing and music
    FITNESS = "fitness"  # dance and fitness: tai chi, square dance, gateball
    LECTURE = "lecture"  # lectures and health talks
    OUTING = "outing"  # outings and visits
    CELEBRATION = "celebration"  # holiday celebrations
    VOLUNTEERING = "volunteering"  # 发挥余热
    OTHER = "other"


class ActivityStatus(enum.StrEnum):
    OPEN = "open"
    CANCELLED = "cancelled"


class RegistrationStatus(enum.StrEnum):
    CONFIRMED = "confirmed"
    WAITLISTED = "waitlisted"
    CANCELLED = "cancelled"


class Attendance(enum.StrEnum):
    PRESENT = "present"
    ABSENT = "absent"


ACTIVE = (RegistrationStatus.CONFIRMED, RegistrationStatus.WAITLISTED)
TITLE_MAX = 100
PLACE_MAX = 200
DESCRIPTION_MAX = 2000
SHORT_TEXT_MAX = 300
COMMENT_MAX = 1000
CAPACITY_MAX = 10_000
SERIES_MAX_WEEKS = 52


class ActivitySeries(CreatedAtMixin, Base):
    """A weekly recurring series: each session is its own Activity with its own list."""

    __tablename__ = "activity_series"

    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(String(TITLE_MAX))
    weeks: Mapped[int]
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))


class Activity(CreatedAtMixin, Base):
    __tablename__ = "activities"
    __table_args__ = (Index("ix_activities_status_starts_at", "status", "starts_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(String(TITLE_MAX))
    category: Mapped[Category] = mapped_column(_enum(Category), default=Category.OTHER)
    description: Mapped[str] = mapped_column(Text, default="")
    place: Mapped[str] = mapped_column(String(PLACE_MAX), default="")
    suits: Mapped[str] = mapped_column(String(SHORT_TEXT_MAX), default="")  # who it suits
    bring: Mapped[str] = mapped_column(String(SHORT_TEXT_MAX), default="")  # what to bring
    starts_at: Mapped[datetime]
    ends_at: Mapped[datetime | None]
    capacity: Mapped[int]
    signup_deadline_at: Mapped[datetime | None]
    status: Mapped[ActivityStatus] = mapped_column(
        _enum(ActivityStatus), default=ActivityStatus.OPEN
    )
    cancelled_at: Mapped[datetime | None]
    organiser_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    series_id: Mapped[int | None] = mapped_column(
        ForeignKey("activity_series.id", ondelete="SET NULL"), index=True
    )
    # Waitlist order: each new or renewed registration takes the next number (in the lock).
    next_seq: Mapped[int] = mapped_column(default=1)
    # The scan's watermark: the nearest reminder (hours before the start) already queued for
    # the current start; None before the first, and again when the start moves.
    reminded_hours: Mapped[int | None]

    organiser: Mapped[User | None] = relationship(lazy="selectin")

    @property
    def is_cancelled(self) -> bool:
        return self.status == ActivityStatus.CANCELLED

    def is_closed(self, now: datetime) -> bool:
        """Cancelled or already started: nothing left to edit or call off."""
        return self.is_cancelled or self.starts_at <= now

    @property
    def finishes_at(self) -> datetime:
        return self.ends_at or self.starts_at + timedelta(hours=2)


class Registration(CreatedAtMixin, Base):
    __tablename__ = "activity_registrations"
    __table_args__ = (
        UniqueConstraint("activity_id", "profile_id"),
        Index("ix_activity_registrations_activity_id_status_seq", "activity_id", "status", "seq"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    activity_id: Mapped[int] = mapped_column(ForeignKey("activities.id", ondelete="CASCADE"))
    profile_id: Mapped[int] = mapped_column(
        ForeignKey("retiree_profiles.id", ondelete="CASCADE"), index=True
    )
    registered_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL")
    )
    status: Mapped[RegistrationStatus] = mapped_column(_enum(RegistrationStatus))
    seq: Mapped[int]  # order of arrival within the activity
    confirmed_at: Mapped[datetime | None]
    cancelled_at: Mapped[datetime | None]
    attendance: Mapped[Attendance | None] = mapped_column(_enum(Attendance))
    rating: Mapped[int | None]
    comment: Mapped[str | None] = mapped_column(Text)
    rated_at: Mapped[datetime | None]
    feedback_asked_at: Mapped[datetime | None]  # the scan asked for feedback (once)

    activity: Mapped[Activity] = relationship(lazy="selectin")
    profile: Mapped[RetireeProfile] = relationship(lazy="selectin")
    registered_by: Mapped[User | None] = relationship(lazy="selectin")


# -- errors --------------------------------------------------------------------------------


class ActivityErrorCode(enum.StrEnum):
    NOT_FOUND = "not_found"
    CANCELLED = "cancelled"
    STARTED = "started"
    DEADLINE_PASSED = "deadline_passed"
    ALREADY_SIGNED_UP = "already_signed_up"
    FORBIDDEN = "forbidden"
    NOT_ACTIVE = "not_active"
    NOT_ATTENDED = "not_attended"
    NOT_FINISHED = "not_finished"
    INVALID = "invalid"
    # An activity's fields (creating, editing, importing): what is wrong with the draft.
    TITLE_MISSING = "title_missing"
    TITLE_TOO_LONG = "title_too_long"
    TEXT_TOO_LONG = "text_too_long"  # place, description, who it suits, what to bring
    START_IN_PAST = "start_in_past"
    END_BEFORE_START = "end_before_start"
    BAD_CAPACITY = "bad_capacity"
    DEADLINE_AFTER_START = "deadline_after_start"
    BAD_WEEKS = "bad_weeks"


class ActivityError(DomainError):
    """A rule of activities said no. `limit` is the allowed maximum for a *_TOO_LONG code."""

    code: ActivityErrorCode

    def __init__(self, code: ActivityErrorCode, detail: str = "", *, limit: int = 0) -> None:
        super().__init__(code, detail)
        self.code = code
        self.limit = limit


# -- reading -------------------------------------------------------------------------------


async def get_activity(session: AsyncSession, activity_id: int) -> Activity | None:
    return await session.get(Activity, activity_id)


async def require_activity(session: AsyncSession, activity_id: int) -> Activity:
    """The activity a button names, or NOT_FOUND."""
    activity = await session.get(Activity, activity_id)
    if activity is None:
        raise ActivityError(ActivityErrorCode.NOT_FOUND)
    return activity


async def activity_to_change(session: AsyncSession, activity_id: int, now: datetime) -> Activity:
    """An activity staff may still edit or call off: it exists, is not cancelled and has not
    started (CANCELLED / STARTED otherwise)."""
    activity = await require_activity(session, activity_id)
    _refuse_closed(activity, now)
    return activity


async def _lock_activity(session: AsyncSession, activity_id: int) -> Activity:
    """The activity row, locked for the rest of the transaction (PostgreSQL: FOR UPDATE;
    SQLite: the whole database is already write-locked by BEGIN IMMEDIATE)."""
    activity = await session.scalar(
        select(Activity)
        .where(Activity.id == activity_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    if activity is None:
        raise ActivityError(ActivityErrorCode.NOT_FOUND)
    return activity


async def confirmed_count(session: AsyncSession, activity_id: int) -> int:
    return int(
        await session.scalar(
            select(func.count(Registration.id))
            .where(Registration.activity_id == activity_id)
            .where(Registration.status == RegistrationStatus.CONFIRMED)
        )
        or 0
    )


async def waitlist_count(session: AsyncSession, activity_id: int) -> int:
    return int(
        await session.scalar(
            select(func.count(Registration.id))
            .where(Registration.activity_id == activity_id)
            .where(Registration.status == RegistrationStatus.WAITLISTED)
        )
        or 0
    )


async def waitlist_position(session: AsyncSession, registration: Registration) -> int | None:
    """1 for the first in line; None unless waitlisted."""
    if registration.status != RegistrationStatus.WAITLISTED:
        return None
    ahead = await session.scalar(
        select(func.count(Registration.id))
        .where(Registration.activity_id == registration.activity_id)
        .where(Registration.status == RegistrationStatus.WAITLISTED)
        .where(Registration.seq < registration.seq)
    )
    return int(ahead or 0) + 1


async def counts_for(session: AsyncSession, activity_ids: Sequence[int]) -> dict[int, int]:
    """Confirmed count per activity (missing = 0)."""
    if not activity_ids:
        return {}
    rows = await session.execute(
        select(Registration.activity_id, func.count(Registration.id))
        .where(Registration.activity_id.in_(list(activity_ids)))
        .where(Registration.status == RegistrationStatus.CONFIRMED)
        .group_by(Registration.activity_id)
    )
    return {int(a): int(n) for a, n in rows.all()}


async def waitlist_counts_for(session: AsyncSession, activity_ids: Sequence[int]) -> dict[int, int]:
    if not activity_ids:
        return {}
    rows = await session.execute(
        select(Registration.activity_id, func.count(Registration.id))
        .where(Registration.activity_id.in_(list(activity_ids)))
        .where(Registration.status == RegistrationStatus.WAITLISTED)
        .group_by(Registration.activity_id)
    )
    return {int(a): int(n) for a, n in rows.all()}


async def upcoming_activities(
    session: AsyncSession,
    now: datetime,
    *,
    category: Category | None = None,
    offset: int = 0,
    limit: int = 6,
    include_cancelled: bool = False,
    since: datetime | None = None,
) -> tuple[list[Activity], int]:
    """A page of activities starting after `since` (default `now`), soonest first, and the
    total count for paging."""
    query = select(Activity).where(Activity.starts_at > (since or now))
    if not include_cancelled:
        query = query.where(Activity.status == ActivityStatus.OPEN)
    if category is not None:
        query = query.where(Activity.category == category)
    total = int(await session.scalar(select(func.count()).select_from(query.subquery())) or 0)
    page = await session.scalars(
        query.order_by(Activity.starts_at, Activity.id).offset(offset).limit(limit)
    )
    return list(page), total


def signup_open(activity: Activity, now: datetime) -> bool:
    if activity.is_cancelled or activity.starts_at <= now:
        return False
    return activity.signup_deadline_at is None or now < activity.signup_deadline_at


def is_own(user: User, profile_id: int) -> bool:
    """The user's own retiree profile (not a relative's)."""
    return user.profile is not None and user.profile.id == profile_id


async def profiles_for(session: AsyncSession, user: User) -> list[RetireeProfile]:
    """The people this user may sign up: `models.users.profiles_to_act_for` (the one rule)."""
    from models.users import profiles_to_act_for

    return await profiles_to_act_for(session, user)


async def registrations_of(session: AsyncSession, user: User, now: datetime) -> list[Registration]:
    """Active registrations for upcoming activities of everyone this user may act for."""
    profile_ids = [p.id for p in await profiles_for(session, user)]
    if not profile_ids:
        return []
    result = await session.scalars(
        select(Registration)
        .join(Activity, Activity.id == Registration.activity_id)
        .where(Registration.profile_id.in_(profile_ids))
        .where(Registration.status.in_(ACTIVE))
        .where(Activity.status == ActivityStatus.OPEN)
        .where(Activity.starts_at > now)
        .order_by(Activity.starts_at, Registration.id)
    )
    return list(result)


async def registration_for(
    session: AsyncSession, activity_id: int, profile_id: int
) -> Registration | None:
    return await session.scalar(
        select(Registration)
        .where(Registration.activity_id == activity_id)
        .where(Registration.profile_id == profile_id)
    )


# -- recipients and notices ----------------------------------------------------------------


# What a linked family member hears of their relative's activities without asking: a place off
# the waiting list, a cancelled or moved activity. Reminders only if they turned them on.
_FAMILY_ALWAYS_TOLD = frozenset(
    {NotificationKind.ACT_PROMOTED, NotificationKind.ACT_CANCELLED, NotificationKind.ACT_CHANGED}
)


async def _recipients(
    session: AsyncSession, registration: Registration, kind: NotificationKind
) -> list[User]:
    """Who hears about a registration: the retiree (if they use the bot) and the family
    member who signed them up; the other approved family members for the news in
    `_FAMILY_ALWAYS_TOLD`, and for reminders those who opted in (`FamilyLink.
    activity_reminders`). If nobody else would hear it, all the approved family do."""
    users: list[User] = []
    profile = registration.profile
    if profile.user is not None:
        users.append(profile.user)
    by = registration.registered_by
    if by is not None and not by.is_staff and all(by.id != u.id for u in users):
        users.append(by)
    links = await family_links_of(session, profile.id)
    if not users:
        return [link.family_user for link in links]
    for link in links:
        told = kind in _FAMILY_ALWAYS_TOLD or (
            kind == NotificationKind.ACT_REMINDER and link.activity_reminders
        )
        if told and all(link.family_user_id != u.id for u in users):
            users.append(link.family_user)
    return users


def _activity_params(activity: Activity) -> dict[str, Any]:
    return {
        "activity_id": activity.id,
        "title": activity.title,
        "starts_at": activity.starts_at.isoformat(),
        "place": activity.place,
    }


async def _notify(
    session: AsyncSession,
    registration: Registration,
    kind: NotificationKind,
    key: str,
    params: dict[str, Any],
    due_at: datetime | None = None,
    tz: str | None = None,
) -> int:
    count = 0
    base = {
        **_activity_params(registration.activity),
        "registration_id": registration.id,
        "name": registration.profile.full_name,
        "tz": tz or office_timezone(),
        **params,
    }
    for user in await _recipients(session, registration, kind):
        user_params = {**base, "self": registration.profile.user_id == user.id}
        if await enqueue_to(
            session,
            user,
            kind=kind,
            params=user_params,
            dedup_key=f"{key}:u{user.id}",
            due_at=due_at,
        ):
            count += 1
    return count


def office_timezone() -> str:
    """The time zone named in notices when a caller gives none (callers pass the office's)."""
    return DEFAULT_TIMEZONE


async def cancel_pending(session: AsyncSession, dedup_prefix: str) -> int:
    """Withdraw queued, not yet sent messages whose dedup key starts with the prefix."""
    return await outbox.cancel_pending(session, dedup_prefix=dedup_prefix)


# -- sign-up, cancellation, promotion ------------------------------------------------------


@dataclass
class SignUpResult:
    registration: Registration
    confirmed: bool
    position: int | None  # waitlist position (1 = next in line)


async def sign_up(
    session: AsyncSession,
    actor: User,
    activity_id: int,
    profile_id: int,
    now: datetime | None = None,
    tz: str | None = None,
) -> SignUpResult:
    """Sign `profile_id` up for the activity: confirmed while places remain and nobody is
    waiting, otherwise on the waitlist (told its position). Raises ActivityError."""
    now = now or utcnow()
    activity = await _lock_activity(session, activity_id)  # first statement: take the lock
    if not await may_act_for(session, actor, profile_id):
        raise ActivityError(ActivityErrorCode.FORBIDDEN)
    if activity.is_cancelled:
        raise ActivityError(ActivityErrorCode.CANCELLED)
    if activity.starts_at <= now:
        raise ActivityError(ActivityErrorCode.STARTED)
    if activity.signup_deadline_at is not None and now >= activity.signup_deadline_at:
        raise ActivityError(ActivityErrorCode.DEADLINE_PASSED)
    if await session.get(RetireeProfile, profile_id) is None:
        raise ActivityError(ActivityErrorCode.NOT_FOUND)

    registration = await session.scalar(
        select(Registration)
        .where(Registration.activity_id == activity_id)
        .where(Registration.profile_id == profile_id)
        .execution_options(populate_existing=True)
    )
    if registration is not None and registration.status in ACTIVE:
        raise ActivityError(ActivityErrorCode.ALREADY_SIGNED_UP)

    confirmed = await confirmed_count(session, activity_id)
    waiting = await waitlist_count(session, activity_id)
    status = (
        RegistrationStatus.CONFIRMED
        if confirmed < activity.capacity and waiting == 0
        else RegistrationStatus.WAITLISTED
    )
    seq = activity.next_seq
    activity.next_seq = seq + 1
    if registration is None:
        registration = Registration(activity_id=activity_id, profile_id=profile_id, seq=seq)
        session.add(registration)
    registration.seq = seq
    registration.status = status
    registration.registered_by_id = actor.id
    registration.cancelled_at = None
    registration.attendance = None
    registration.confirmed_at = now if status == RegistrationStatus.CONFIRMED else None
    await session.flush()
    await session.refresh(registration, ["activity", "profile", "registered_by"])
    position = None if status == RegistrationStatus.CONFIRMED else waiting + 1
    retiree = registration.profile.user
    if retiree is not None and retiree.id != actor.id:
        # A relative (or staff) signed them up: the retiree hears it too.
        await enqueue_to(
            session,
            retiree,
            kind=NotificationKind.ACT_SIGNED_UP_FOR_YOU,
            params={
                **_activity_params(activity),
                "registration_id": registration.id,
                "by": actor.display_name,
                "waitlisted": position is not None,
                "position": position,
                "tz": tz or office_timezone(),
            },
            dedup_key=f"act:signedup:{registration.id}:{seq}",
        )
    return SignUpResult(registration, status == RegistrationStatus.CONFIRMED, position)


async def _promote(
    session: AsyncSession, activity: Activity, now: datetime, tz: str | None = None
) -> list[Registration]:
    """Fill free places from the head of the waitlist, telling each promoted person."""
    promoted: list[Registration] = []
    if activity.is_cancelled or activity.starts_at <= now:
        return promoted
    free = activity.capacity - await confirmed_count(session, activity.id)
    if free <= 0:
        return promoted
    heads = await session.scalars(
        select(Registration)
        .where(Registration.activity_id == activity.id)
        .where(Registration.status == RegistrationStatus.WAITLISTED)
        .order_by(Registration.seq)
        .limit(free)
        .execution_options(populate_existing=True)
    )
    for registration in list(heads):
        registration.status = RegistrationStatus.CONFIRMED
        registration.confirmed_at = now
        promoted.append(registration)
    await session.flush()
    for registration in promoted:
        await _notify(
            session,
            registration,
            NotificationKind.ACT_PROMOTED,
            f"act:promoted:{registration.id}:{registration.seq}",
            {},
            tz=tz,
        )
    return promoted


async def registration_seen_by(
    session: AsyncSession, actor: User, registration_id: int
) -> Registration:
    """A sign-up as seen by someone who may act for its participant; anyone else learns
    nothing about it (not even whose it is), whatever id a button carries."""
    registration = await session.get(Registration, registration_id)
    if registration is None:
        raise ActivityError(ActivityErrorCode.NOT_FOUND)
    if not await may_act_for(session, actor, registration.profile_id):
        raise ActivityError(ActivityErrorCode.FORBIDDEN)
    return registration


async def cancel_registration(
    session: AsyncSession,
    actor: User,
    registration_id: int,
    now: datetime | None = None,
    tz: str | None = None,
) -> tuple[Registration, list[Registration]]:
    """The participant (or their family, or staff) withdraws; a freed place goes to the first
    on the waitlist. Returns the registration and whoever was promoted."""
    now = now or utcnow()
    registration = await session.get(Registration, registration_id)
    if registration is None:
        raise ActivityError(ActivityErrorCode.NOT_FOUND)
    activity = await _lock_activity(session, registration.activity_id)
    await session.refresh(registration)
    if not await may_act_for(session, actor, registration.profile_id):
        raise ActivityError(ActivityErrorCode.FORBIDDEN)
    if registration.status not in ACTIVE:
        raise ActivityError(ActivityErrorCode.NOT_ACTIVE)
    if activity.is_cancelled:
        raise ActivityError(ActivityErrorCode.CANCELLED)
    if activity.starts_at <= now:
        raise ActivityError(ActivityErrorCode.STARTED)
    was_confirmed = registration.status == RegistrationStatus.CONFIRMED
    registration.status = RegistrationStatus.CANCELLED
    registration.cancelled_at = now
    registration.confirmed_at = None
    await session.flush()
    await cancel_pending(session, f"act:remind:{registration.id}:")
    promoted = await _promote(session, activity, now, tz) if was_confirmed else []
    return registration, promoted


# -- staff: create, edit, cancel -----------------------------------------------------------


class ActivityField(enum.StrEnum):
    """The fields staff may change on an existing activity (one at a time)."""

    TITLE = "title"
    CATEGORY = "category"
    DESCRIPTION = "description"
    PLACE = "place"
    SUITS = "suits"
    BRING = "bring"
    STARTS_AT = "starts_at"
    ENDS_AT = "ends_at"
    CAPACITY = "capacity"
    SIGNUP_DEADLINE_AT = "signup_deadline_at"


EDITABLE_FIELDS = tuple(ActivityField)
TEXT_LIMITS: dict[ActivityField, int] = {
    ActivityField.TITLE: TITLE_MAX,
    ActivityField.PLACE: PLACE_MAX,
    ActivityField.DESCRIPTION: DESCRIPTION_MAX,
    ActivityField.SUITS: SHORT_TEXT_MAX,
    ActivityField.BRING: SHORT_TEXT_MAX,
}


@dataclass
class ActivityDraft:
    title: str
    category: Category
    starts_at: datetime
    capacity: int
    ends_at: datetime | None = None
    place: str = ""
    description: str = ""
    signup_deadline_at: datetime | None = None
    suits: str = ""
    bring: str = ""
    weeks: int = 1  # >1: a weekly series, each session its own sign-up list


# The rules for an activity's fields, one check each, so a form can check one answer as it
# comes and the whole draft is checked again (the same functions) when it is saved.


def check_text(field: ActivityField, value: str) -> str:
    """A text field, stripped; the title is required, every text has its length limit."""
    text = value.strip()
    limit = TEXT_LIMITS[field]
    if field == ActivityField.TITLE:
        if not text:
            raise ActivityError(ActivityErrorCode.TITLE_MISSING, field)
        if len(text) > limit:
            raise ActivityError(ActivityErrorCode.TITLE_TOO_LONG, field, limit=limit)
    elif len(text) > limit:
        raise ActivityError(ActivityErrorCode.TEXT_TOO_LONG, field, limit=limit)
    return text


def check_start(starts_at: datetime, now: datetime) -> None:
    if starts_at <= now:
        raise ActivityError(ActivityErrorCode.START_IN_PAST)


def check_end(starts_at: datetime, ends_at: datetime | None) -> None:
    if ends_at is not None and ends_at <= starts_at:
        raise ActivityError(ActivityErrorCode.END_BEFORE_START)


def check_capacity(capacity: int) -> None:
    if not 1 <= capacity <= CAPACITY_MAX:
        raise ActivityError(ActivityErrorCode.BAD_CAPACITY)


def check_deadline(starts_at: datetime, deadline: datetime | None) -> None:
    if deadline is not None and deadline > starts_at:
        raise ActivityError(ActivityErrorCode.DEADLINE_AFTER_START)


def check_weeks(weeks: int) -> None:
    if not 1 <= weeks <= SERIES_MAX_WEEKS:
        raise ActivityError(ActivityErrorCode.BAD_WEEKS)


def check_draft(draft: ActivityDraft, now: datetime, *, check_start_time: bool = True) -> None:
    """Every rule for an activity's fields, in the order a form asks them; raises the first
    ActivityError (its code says which rule)."""
    for text_field in TEXT_LIMITS:
        check_text(text_field, getattr(draft, text_field.value))
    if check_start_time:
        check_start(draft.starts_at, now)
    check_end(draft.starts_at, draft.ends_at)
    check_capacity(draft.capacity)
    check_deadline(draft.starts_at, draft.signup_deadline_at)
    check_weeks(draft.weeks)


def validate_draft(
    draft: ActivityDraft, now: datetime, *, check_start: bool = True
) -> ActivityErrorCode | None:
    """What is wrong with the draft, or None (`check_draft` without raising)."""
    try:
        check_draft(draft, now, check_start_time=check_start)
    except ActivityError as error:
        return error.code
    return None


def _require_staff(actor: User) -> None:
    if not actor.is_staff:
        raise ActivityError(ActivityErrorCode.FORBIDDEN)


def _refuse_closed(activity: Activity, now: datetime) -> None:
    if activity.is_cancelled:
        raise ActivityError(ActivityErrorCode.CANCELLED)
    if activity.starts_at <= now:
        raise ActivityError(ActivityErrorCode.STARTED)  # nothing to change or call off any more


async def create_activities(
    session: AsyncSession, actor: User, draft: ActivityDraft, now: datetime | None = None
) -> list[Activity]:
    """One activity, or a weekly series of `draft.weeks` sessions (each its own list)."""
    _require_staff(actor)
    now = now or utcnow()
    check_draft(draft, now)
    series_id = None
    if draft.weeks > 1:
        series = ActivitySeries(title=draft.title, weeks=draft.weeks, created_by_id=actor.id)
        session.add(series)
        await session.flush()
        series_id = series.id
    created = []
    for week in range(draft.weeks):
        shift = timedelta(weeks=week)
        activity = Activity(
            title=draft.title.strip(),
            category=draft.category,
            description=draft.description.strip(),
            place=draft.place.strip(),
            suits=draft.suits.strip(),
            bring=draft.bring.strip(),
            starts_at=draft.starts_at + shift,
            ends_at=draft.ends_at + shift if draft.ends_at else None,
            capacity=draft.capacity,
            signup_deadline_at=(
                draft.signup_deadline_at + shift if draft.signup_deadline_at else None
            ),
            organiser_id=actor.id,
            series_id=series_id,
            status=ActivityStatus.OPEN,
            next_seq=1,
        )
        session.add(activity)
        created.append(activity)
    await session.flush()
    return created


async def update_activity(
    session: AsyncSession,
    actor: User,
    activity_id: int,
    field: ActivityField | str,
    value: Any,
    now: datetime | None = None,
    tz: str | None = None,
) -> tuple[Activity, list[Registration]]:
    """Change one field of an activity that is neither cancelled nor started. Raising the
    capacity promotes from the waitlist (lowering it never removes anyone already confirmed).
    Returns the activity and whoever was promoted."""
    _require_staff(actor)
    try:
        field = ActivityField(field)
    except ValueError:
        raise ActivityError(ActivityErrorCode.INVALID, str(field)) from None
    now = now or utcnow()
    activity = await _lock_activity(session, activity_id)
    _refuse_closed(activity, now)
    draft = ActivityDraft(
        title=activity.title,
        category=activity.category,
        starts_at=activity.starts_at,
        capacity=activity.capacity,
        ends_at=activity.ends_at,
        signup_deadline_at=activity.signup_deadline_at,
    )
    if field in TEXT_LIMITS:
        if not isinstance(value, str):
            raise ActivityError(ActivityErrorCode.INVALID, field)
        value = check_text(field, value)
    if field == ActivityField.CATEGORY and not isinstance(value, Category):
        raise ActivityError(ActivityErrorCode.INVALID, field)
    if hasattr(draft, field.value):
        setattr(draft, field.value, value)
    if field == ActivityField.STARTS_AT and draft.ends_at is not None:
        draft.ends_at = draft.ends_at + (value - activity.starts_at)  # keep the duration
    check_draft(draft, now, check_start_time=field == ActivityField.STARTS_AT)
    setattr(activity, field.value, value)
    if field == ActivityField.STARTS_AT:
        activity.ends_at = draft.ends_at
        activity.reminded_hours = None  # the new start's reminders are all still to come
    await session.flush()
    if field in (ActivityField.STARTS_AT, ActivityField.PLACE, ActivityField.ENDS_AT):
        await _tell_change(session, activity, field.value, now, tz)
    promoted = await _promote(session, activity, now, tz) if field == ActivityField.CAPACITY else []
    return activity, promoted


async def _tell_change(
    session: AsyncSession, activity: Activity, field: str, now: datetime, tz: str | None
) -> None:
    """A new time or place: everyone signed up or waiting is told; reminders queued for the
    old time are withdrawn (the scan queues new ones, keyed by the new start)."""
    registrations = await session.scalars(
        select(Registration)
        .where(Registration.activity_id == activity.id)
        .where(Registration.status.in_(ACTIVE))
    )
    stamp = int(now.timestamp() * 1000)
    for registration in list(registrations):
        if field == "starts_at":
            await cancel_pending(session, f"act:remind:{registration.id}:")
        await _notify(
            session,
            registration,
            NotificationKind.ACT_CHANGED,
            f"act:changed:{registration.id}:{field}:{stamp}",
            {"field": field},
            tz=tz,
        )


async def cancel_activity(
    session: AsyncSession,
    actor: User,
    activity_id: int,
    now: datetime | None = None,
    tz: str | None = None,
) -> int:
    """Staff call the activity off: everyone signed up or waiting is told. Returns how many
    registrations were affected."""
    _require_staff(actor)
    now = now or utcnow()
    activity = await _lock_activity(session, activity_id)
    _refuse_closed(activity, now)
    activity.status = ActivityStatus.CANCELLED
    activity.cancelled_at = now
    registrations = list(
        await session.scalars(
            select(Registration)
            .where(Registration.activity_id == activity_id)
            .where(Registration.status.in_(ACTIVE))
            .order_by(Registration.seq)
        )
    )
    await session.flush()
    for registration in registrations:
        await cancel_pending(session, f"act:remind:{registration.id}:")
        await cancel_pending(session, f"act:promoted:{registration.id}:")
        await _notify(
            session,
            registration,
            NotificationKind.ACT_CANCELLED,
            f"act:cancelled:{registration.id}",
            {"waitlisted": registration.status == RegistrationStatus.WAITLISTED},
            tz=tz,
        )
    return len(registrations)


# -- participants, attendance, feedback ----------------------------------------------------


async def participants(session: AsyncSession, activity_id: int) -> list[Registration]:
    """Confirmed first, then the waitlist, each in order of arrival."""
    result = await session.scalars(
        select(Registration)
        .where(Registration.activity_id == activity_id)
        .where(Registration.status.in_(ACTIVE))
        .order_by(Registration.status, Registration.seq)
    )
    regs = list(result)
    return [r for r in regs if r.status == RegistrationStatus.CONFIRMED] + [
        r for r in regs if r.status == RegistrationStatus.WAITLISTED
    ]


async def toggle_attendance(
    session: AsyncSession, actor: User, activity_id: int, registration_id: int
) -> Registration:
    """A tap on a name in the activity's list: not marked -> present -> absent -> present.
    A registration of another activity is refused before anything changes."""
    _require_staff(actor)
    registration = await session.get(Registration, registration_id)
    if registration is None or registration.activity_id != activity_id:
        raise ActivityError(ActivityErrorCode.NOT_FOUND)
    if registration.status != RegistrationStatus.CONFIRMED:
        raise ActivityError(ActivityErrorCode.NOT_ACTIVE)
    registration.attendance = (
        Attendance.ABSENT if registration.attendance == Attendance.PRESENT else Attendance.PRESENT
    )
    await session.flush()
    return registration


async def rate(
    session: AsyncSession,
    actor: User,
    registration_id: int,
    rating: int,
    now: datetime | None = None,
) -> Registration:
    """A participant who attended rates the activity 1-5 (again = change the rating)."""
    now = now or utcnow()
    registration = await session.get(Registration, registration_id)
    if registration is None:
        raise ActivityError(ActivityErrorCode.NOT_FOUND)
    if actor.is_staff and not is_own(actor, registration.profile_id):
        raise ActivityError(ActivityErrorCode.FORBIDDEN)  # feedback comes from participants
    if not await may_act_for(session, actor, registration.profile_id):
        raise ActivityError(ActivityErrorCode.FORBIDDEN)
    if registration.attendance != Attendance.PRESENT:
        raise ActivityError(ActivityErrorCode.NOT_ATTENDED)
    if registration.activity.starts_at > now:
        raise ActivityError(ActivityErrorCode.NOT_FINISHED)
    if not 1 <= rating <= 5:
        raise ActivityError(ActivityErrorCode.INVALID)
    registration.rating = rating
    registration.rated_at = now
    await session.flush()
    return registration


async def add_comment(
    session: AsyncSession, actor: User, registration_id: int, comment: str
) -> Registration:
    registration = await session.get(Registration, registration_id)
    if registration is None:
        raise ActivityError(ActivityErrorCode.NOT_FOUND)
    if not await may_act_for(session, actor, registration.profile_id):
        raise ActivityError(ActivityErrorCode.FORBIDDEN)
    if registration.rating is None:
        raise ActivityError(ActivityErrorCode.NOT_ACTIVE)
    registration.comment = comment.strip()[:COMMENT_MAX]
    await session.flush()
    return registration


@dataclass
class FeedbackSummary:
    count: int
    average: float | None
    comments: list[tuple[str, int, str]]  # (name, rating, comment)


async def feedback_summary(session: AsyncSession, activity_id: int) -> FeedbackSummary:
    regs = list(
        await session.scalars(
            select(Registration)
            .where(Registration.activity_id == activity_id)
            .where(Registration.rating.is_not(None))
            .order_by(Registration.rated_at, Registration.id)
        )
    )
    ratings = [r.rating for r in regs if r.rating is not None]
    average = round(sum(ratings) / len(ratings), 1) if ratings else None
    comments = [(r.profile.full_name, r.rating or 0, r.comment) for r in regs if r.comment]
    return FeedbackSummary(len(ratings), average, comments)


# -- the scheduler's scan ------------------------------------------------------------------

FEEDBACK_DELAY = timedelta(hours=1)  # ask an hour after the end
FEEDBACK_WINDOW = timedelta(days=7)  # attendance marked later than this: don't ask any more


def reminder_hours(office: OfficeSettings) -> tuple[int, ...]:
    """Hours before the start at which participants are reminded, latest first."""
    return tuple(sorted({h for h in office.activity_reminder_hours if h > 0}, reverse=True))


async def scan(session: AsyncSession, now: datetime, office: OfficeSettings) -> int:
    """Queue due reminders (once each) and feedback requests. Idempotent by dedup key.

    Set-based: each part reads only what is newly due through an index (the activities whose
    next reminder moment has come, per the `reminded_hours` watermark; the sign-ups that
    attended and were not asked yet), then the people to tell in one select, queues every
    message with one insert and records what it did with one update; nothing more when
    nothing is due."""
    tz = office.timezone
    queued = await _scan_reminders(session, now, reminder_hours(office), tz)
    queued += await _scan_feedback(session, now, tz)
    return queued


@dataclass(frozen=True)
class _Person:
    id: int
    telegram_id: int


async def _family_by_profile(
    session: AsyncSession, profile_ids: set[int]
) -> dict[int, list[tuple[_Person, bool]]]:
    """`family_of` for many retirees in one select (approved links only), each with whether
    they asked for the relative's activity reminders."""
    if not profile_ids:
        return {}
    rows = await session.execute(
        select(FamilyLink.profile_id, User.id, User.telegram_id, FamilyLink.activity_reminders)
        .join(User, User.id == FamilyLink.family_user_id)
        .where(FamilyLink.profile_id.in_(sorted(profile_ids)))
        .where(FamilyLink.status == LinkStatus.APPROVED)
        .order_by(FamilyLink.profile_id, FamilyLink.id)
    )
    family: dict[int, list[tuple[_Person, bool]]] = {}
    for profile_id, user_id, telegram_id, reminders in rows:
        family.setdefault(profile_id, []).append((_Person(user_id, telegram_id), bool(reminders)))
    return family


def _reminded(people: list[_Person], family: list[tuple[_Person, bool]]) -> list[_Person]:
    """`_recipients` for a reminder: the retiree and whoever signed them up, plus the family
    who opted in; when neither of the first two uses the bot, all the family."""
    if not people:
        return [person for person, _opted_in in family]
    told = list(people)
    for person, opted_in in family:
        if opted_in and all(person.id != p.id for p in told):
            told.append(person)
    return told


def _signups_with_people() -> Any:
    """Sign-ups with what their notices need: the activity, the retiree's name and account,
    and who signed them up (with their role: staff are not told as family would be)."""
    retiree = aliased(User)
    by = aliased(User)
    return (
        select(
            Registration.id.label("registration_id"),
            Registration.confirmed_at,
            Registration.profile_id,
            Activity.id.label("activity_id"),
            Activity.title,
            Activity.starts_at,
            Activity.place,
            RetireeProfile.full_name,
            retiree.id.label("retiree_id"),
            retiree.telegram_id.label("retiree_chat"),
            by.id.label("by_id"),
            by.telegram_id.label("by_chat"),
            by.role.label("by_role"),
        )
        .join(Activity, Activity.id == Registration.activity_id)
        .join(RetireeProfile, RetireeProfile.id == Registration.profile_id)
        .outerjoin(retiree, retiree.id == RetireeProfile.user_id)
        .outerjoin(by, by.id == Registration.registered_by_id)
        .order_by(Registration.activity_id, Registration.id)
    )


def _row_params(row: Any, tz: str) -> dict[str, Any]:
    """What `_notify` puts in every notice about a sign-up."""
    return {
        "activity_id": row.activity_id,
        "title": row.title,
        "starts_at": row.starts_at.isoformat(),
        "place": row.place,
        "registration_id": row.registration_id,
        "name": row.full_name,
        "tz": tz,
    }


async def _scan_reminders(
    session: AsyncSession, now: datetime, hours: tuple[int, ...], tz: str
) -> int:
    if not hours:
        return 0
    # An activity is due when one of its reminder moments (start - h) has come and a nearer
    # one has not been queued yet; the watermark says which was.
    due_for = [
        (Activity.starts_at <= now + timedelta(hours=h))
        & (Activity.reminded_hours.is_(None) | (Activity.reminded_hours > h))
        for h in hours
    ]
    activities = (
        await session.execute(
            select(Activity.id, Activity.starts_at)
            .where(Activity.status == ActivityStatus.OPEN)
            .where(Activity.starts_at > now)
            .where(Activity.starts_at <= now + timedelta(hours=max(hours)))
            .where(or_(*due_for))
        )
    ).all()
    if not activities:
        return 0
    # The nearest reminder whose moment has come (a late scan sends only the latest one).
    nearest = {
        activity_id: min(h for h in hours if now >= starts_at - timedelta(hours=h))
        for activity_id, starts_at in activities
    }
    signups = (
        await session.execute(
            _signups_with_people()
            .where(Registration.activity_id.in_(sorted(nearest)))
            .where(Registration.status == RegistrationStatus.CONFIRMED)
        )
    ).all()
    to_tell: list[tuple[Any, list[_Person]]] = []
    for row in signups:
        window_opened = row.starts_at - timedelta(hours=nearest[row.activity_id])
        if row.confirmed_at is not None and row.confirmed_at > window_opened:
            continue  # signed up (or promoted) inside this window: they know already
        to_tell.append((row, _signup_recipients(row)))
    family = await _family_by_profile(session, {row.profile_id for row, _people in to_tell})
    messages: list[dict[str, Any]] = []
    for row, people in to_tell:
        h = nearest[row.activity_id]
        base = {**_row_params(row, tz), "hours": h}
        for person in _reminded(people, family.get(row.profile_id, [])):
            messages.append(
                {
                    "chat_id": person.telegram_id,
                    "user_id": person.id,
                    "kind": NotificationKind.ACT_REMINDER,
                    "params": {**base, "self": row.retiree_id == person.id},
                    "dedup_key": (
                        f"act:remind:{row.registration_id}:{h}h:"
                        f"{int(row.starts_at.timestamp())}:u{person.id}"
                    ),
                }
            )
    queued = len(await outbox.enqueue_many(session, messages))
    for h in sorted(set(nearest.values())):
        await session.execute(
            update(Activity)
            .where(Activity.id.in_(sorted(a for a, n in nearest.items() if n == h)))
            .values(reminded_hours=h)
            .execution_options(synchronize_session="fetch")
        )
    return queued


def _signup_recipients(row: Any) -> list[_Person]:
    """`_recipients` from a row of `_signups_with_people`: the retiree (if they use the bot)
    and whoever signed them up unless staff; empty when neither (then their family)."""
    people = [_Person(row.retiree_id, row.retiree_chat)] if row.retiree_id is not None else []
    by_staff = row.by_role is not None and row.by_role.is_staff
    if row.by_id is not None and not by_staff and row.by_id != row.retiree_id:
        people.append(_Person(row.by_id, row.by_chat))
    return people


async def _scan_feedback(session: AsyncSession, now: datetime, tz: str) -> int:
    finished = or_(
        Activity.ends_at.is_(None)
        & (Activity.starts_at <= now - FEEDBACK_DELAY - timedelta(hours=2)),
        Activity.ends_at <= now - FEEDBACK_DELAY,
    )
    # Who came to an activity that ended, and was not asked yet: the last week's activities
    # by their index, their sign-ups by theirs (the only statement when nobody is due).
    due = list(
        await session.scalars(
            select(Registration.id)
            .join(Activity, Activity.id == Registration.activity_id)
            .where(Activity.status == ActivityStatus.OPEN)
            .where(Activity.starts_at <= now)
            .where(Activity.starts_at > now - FEEDBACK_WINDOW)
            .where(finished)
            .where(Registration.status == RegistrationStatus.CONFIRMED)
            .where(Registration.attendance == Attendance.PRESENT)
            .where(Registration.rating.is_(None))
            .where(Registration.feedback_asked_at.is_(None))
        )
    )
    if not due:
        return 0
    signups = (await session.execute(_signups_with_people().where(Registration.id.in_(due)))).all()
    messages: list[dict[str, Any]] = []
    for row in signups:
        if row.retiree_id is not None:  # the retiree, else whoever signed them up
            person = _Person(row.retiree_id, row.retiree_chat)
        elif row.by_id is not None:
            person = _Person(row.by_id, row.by_chat)
        else:
            continue
        messages.append(
            {
                "chat_id": person.telegram_id,
                "user_id": person.id,
                "kind": NotificationKind.ACT_FEEDBACK,
                "params": {**_row_params(row, tz), "self": row.retiree_id == person.id},
                "dedup_key": f"act:feedback:{row.registration_id}:u{person.id}",
            }
        )
    queued = len(await outbox.enqueue_many(session, messages))
    await session.execute(
        update(Registration)
        .where(Registration.id.in_([row.registration_id for row in signups]))
        .values(feedback_asked_at=now)
        .execution_options(synchronize_session="fetch")
    )
    return queued
