"""Service requests (服务请求): intake, lifecycle, promised times, escalation and satisfaction.

The rules live here: who may see and act on a request (callback data is never trusted, every
operation checks the actor against the request id), which transitions are allowed, when a
request is due (首问负责、限时办结), who is told of each change (always through the outbox,
in the transaction of the change), and the periodic scan that reminds and escalates overdue
requests and asks once more for a missing rating.

Lifecycle: new -> accepted (assigned to a staff member) -> in progress -> done; or cancelled by
the requester before done, or rejected by staff with a reason. Every transition is a
`RequestEvent` (who, when, optional note).

Promised times come from `DeadlinePolicy` rows (per category and urgency, category "*" for all)
and fall back to `DEFAULT_POLICIES`; an office overrides them with `set_deadline_policy`.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, tzinfo
from typing import Any

from sqlalchemy import (
    BigInteger,
    ForeignKey,
    Index,
    String,
    Text,
    UniqueConstraint,
    bindparam,
    literal_column,
    not_,
    or_,
    select,
    union,
    update,
)
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import (
    Mapped,
    joinedload,
    lazyload,
    mapped_column,
    relationship,
    selectinload,
)
from sqlalchemy.orm.attributes import set_committed_value

from models.base import Base, CreatedAtMixin, insert_for, utcnow
from models.errors import DomainError
from models.notification_kinds import NotificationKind
from models.office import OfficeSettings
from models.outbox import (
    OutboxMessage,
    OutboxStatus,
    cancel_pending,
    enqueue,
    enqueue_many,
    enqueue_to,
)
from models.users import (
    FamilyLink,
    Grid,
    LinkStatus,
    RetireeProfile,
    Role,
    User,
    _enum,
    family_of,
    may_act_for,
    people_to_notify,
    profiles_to_act_for,
)
from models.workdays import hours_deadline, workday_deadline

NUMBER_PREFIX = "FW"
RATING_REMINDER_AFTER = timedelta(days=3)
MAX_DESCRIPTION = 2000
MAX_ATTACHMENTS = 10
MAX_REJECT_REASON = 500
MAX_RESULT = 200  # the one line of result staff may add when finishing ("已换好水龙头")
PREFERRED_DATE_DAYS = 14  # a preferred date is today or one of the next 13 days


class Category(enum.StrEnum):
    HOME_REPAIR = "home_repair"
    MEDICAL = "medical"  # medical escort and appointments
    ERRANDS = "errands"  # shopping and errands
    PAPERWORK = "paperwork"  # benefits and paperwork (待遇、报销、证明)
    TALK = "talk"  # someone to talk to (精神慰藉)
    CARE = "care"  # cleaning and care
    OTHER = "other"
    # said by voice or in a sentence at the menu and sent in one tap: staff classify it
    UNCLASSIFIED = "unclassified"


# What people choose from (and staff classify into); UNCLASSIFIED is only ever set by the
# one-tap request and left by staff.
CHOSEN_CATEGORIES = tuple(c for c in Category if c != Category.UNCLASSIFIED)


class Preferred(enum.StrEnum):
    TODAY = "today"
    TOMORROW = "tomorrow"
    THIS_WEEK = "this_week"
    DATE = "date"


class RequestStatus(enum.StrEnum):
    NEW = "new"
    ACCEPTED = "accepted"
    IN_PROGRESS = "in_progress"
    DONE = "done"
    CANCELLED = "cancelled"
    REJECTED = "rejected"

    @property
    def is_open(self) -> bool:
        return self in (RequestStatus.NEW, RequestStatus.ACCEPTED, RequestStatus.IN_PROGRESS)


OPEN_STATUSES = (RequestStatus.NEW, RequestStatus.ACCEPTED, RequestStatus.IN_PROGRESS)
WORKING_STATUSES = (RequestStatus.ACCEPTED, RequestStatus.IN_PROGRESS)


class AttachmentKind(enum.StrEnum):
    PHOTO = "photo"
    VOICE = "voice"


class EventAction(enum.StrEnum):
    CREATED = "created"
    ACCEPTED = "accepted"  # taken by the actor
    ASSIGNED = "assigned"  # given to someone (note = assignee's name)
    STARTED = "started"
    DONE = "done"
    CANCELLED = "cancelled"
    REJECTED = "rejected"
    RATED = "rated"
    COMMENTED = "commented"


class QueueFilter(enum.StrEnum):
    MINE = "mine"
    GRIDS = "grids"
    UNASSIGNED = "unassigned"
    OVERDUE = "overdue"
    ALL = "all"


class ErrorCode(enum.StrEnum):
    NOT_FOUND = "not_found"
    FORBIDDEN = "forbidden"  # the actor has no right to this request or action
    WRONG_STATUS = "wrong_status"  # e.g. a double tap on Done, or cancelling a done request
    NOT_STAFF = "not_staff"  # "assign to" someone who is not staff
    ALREADY_RATED = "already_rated"
    BAD_INPUT = "bad_input"
    NOT_FOR_THIS_PERSON = "not_for_this_person"  # asking for someone one may not act for
    DESCRIPTION_MISSING = "description_missing"  # neither words nor a photo or voice message
    DESCRIPTION_TOO_LONG = "description_too_long"  # more than MAX_DESCRIPTION characters
    TOO_MANY_ATTACHMENTS = "too_many_attachments"  # more than MAX_ATTACHMENTS
    BAD_DATE = "bad_date"  # a preferred date missing, or given without choosing "date"
    REASON_MISSING = "reason_missing"  # a rejection needs a reason
    REASON_TOO_LONG = "reason_too_long"  # more than MAX_REJECT_REASON characters
    ALREADY_CLASSIFIED = "already_classified"  # a colleague set the category a moment ago
    NO_WORDS = "no_words"  # a description of only emoji or punctuation
    RESULT_TOO_LONG = "result_too_long"  # a finishing result of more than MAX_RESULT characters


class RequestError(DomainError):
    code: ErrorCode

    def __init__(self, code: ErrorCode, status: RequestStatus | None = None) -> None:
        super().__init__(code, f"status {status.value}" if status is not None else "")
        self.status = status  # the request's current status, when that explains the refusal


# --- entities ---------------------------------------------------------------------------------


def _open_status(column: Any = None) -> Any:
    """`status IN ('new', 'accepted', 'in_progress')` with the values written into the SQL, so
    both databases match it to the partial index of open requests (a bound parameter would
    not prove the index's condition)."""
    column = literal_column("status") if column is None else column
    return column.in_([literal_column(f"'{status.value}'") for status in OPEN_STATUSES])


class ServiceRequest(CreatedAtMixin, Base):
    __tablename__ = "service_requests"
    __table_args__ = (
        Index("ix_service_requests_status_assignee", "status", "assignee_id"),
        # the staff queue: open requests in queue order, whatever else the table holds
        Index(
            "ix_service_requests_open_id",
            "id",
            postgresql_where=_open_status(),
            sqlite_where=_open_status(),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[str] = mapped_column(String(20), unique=True)  # FW-2026-00042
    profile_id: Mapped[int] = mapped_column(
        ForeignKey("retiree_profiles.id", ondelete="CASCADE"), index=True
    )
    created_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), index=True
    )
    category: Mapped[Category] = mapped_column(_enum(Category))
    description: Mapped[str] = mapped_column(Text, default="")
    preferred: Mapped[Preferred] = mapped_column(_enum(Preferred), default=Preferred.THIS_WEEK)
    preferred_date: Mapped[date | None]
    urgent: Mapped[bool] = mapped_column(default=False)
    status: Mapped[RequestStatus] = mapped_column(_enum(RequestStatus), default=RequestStatus.NEW)
    assignee_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    accept_due_at: Mapped[datetime]
    done_due_at: Mapped[datetime]
    escalate_after_minutes: Mapped[int] = mapped_column(default=240)
    accepted_at: Mapped[datetime | None]
    started_at: Mapped[datetime | None]
    closed_at: Mapped[datetime | None]  # done, cancelled or rejected
    reject_reason: Mapped[str | None] = mapped_column(Text)
    # 0 nothing sent, 1 the responsible person reminded, 2 the supervisor alerted
    accept_alert_level: Mapped[int] = mapped_column(default=0)
    done_alert_level: Mapped[int] = mapped_column(default=0)
    rating: Mapped[int | None]
    rating_comment: Mapped[str | None] = mapped_column(Text)
    rating_voice_file_id: Mapped[str | None] = mapped_column(String(200))
    rated_at: Mapped[datetime | None]
    rate_reminded_at: Mapped[datetime | None]
    # When the scan next has something to do for this request (remind, escalate, ask again
    # for a rating), or None: `next_alert_at(request)`, kept by every change. The scan reads
    # only the rows whose moment has come, through this index.
    next_alert_at: Mapped[datetime | None] = mapped_column(index=True)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    profile: Mapped[RetireeProfile] = relationship(lazy="selectin")
    created_by: Mapped[User | None] = relationship(foreign_keys=[created_by_id], lazy="selectin")
    assignee: Mapped[User | None] = relationship(foreign_keys=[assignee_id], lazy="selectin")
    attachments: Mapped[list[RequestAttachment]] = relationship(
        lazy="selectin", order_by="RequestAttachment.id", cascade="all, delete-orphan"
    )
    events: Mapped[list[RequestEvent]] = relationship(
        lazy="selectin", order_by="RequestEvent.id", cascade="all, delete-orphan"
    )

    def is_overdue(self, now: datetime) -> bool:
        if self.status == RequestStatus.NEW:
            return self.accept_due_at <= now or self.done_due_at <= now
        if self.status in WORKING_STATUSES:
            return self.done_due_at <= now
        return False


def next_alert_at(request: ServiceRequest) -> datetime | None:
    """The next moment the scan has work for this request: a new request's accept deadline
    (then the escalation after it), a request in hand's done deadline (then its escalation),
    a done request's rating reminder; None when nothing is left. Never later than the real
    moment: the scan looks again at whatever it reads and moves this on."""
    escalate_after = timedelta(minutes=request.escalate_after_minutes)
    if request.status == RequestStatus.NEW:
        due, level = request.accept_due_at, request.accept_alert_level
    elif request.status in WORKING_STATUSES:
        due, level = request.done_due_at, request.done_alert_level
    elif (
        request.status == RequestStatus.DONE
        and request.rating is None
        and request.rate_reminded_at is None
        and request.closed_at is not None
    ):
        return request.closed_at + RATING_REMINDER_AFTER
    else:
        return None
    if level == 0:
        return due
    if level == 1:
        return due + escalate_after
    return None


class RequestAttachment(CreatedAtMixin, Base):
    """A voice note or photo sent with the description (Telegram file id)."""

    __tablename__ = "request_attachments"

    id: Mapped[int] = mapped_column(primary_key=True)
    request_id: Mapped[int] = mapped_column(
        ForeignKey("service_requests.id", ondelete="CASCADE"), index=True
    )
    kind: Mapped[AttachmentKind] = mapped_column(_enum(AttachmentKind))
    file_id: Mapped[str] = mapped_column(String(200))


class RequestEvent(CreatedAtMixin, Base):
    """One step of a request's history: who did what, when, with an optional note."""

    __tablename__ = "request_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    request_id: Mapped[int] = mapped_column(
        ForeignKey("service_requests.id", ondelete="CASCADE"), index=True
    )
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    action: Mapped[EventAction] = mapped_column(_enum(EventAction))
    status: Mapped[RequestStatus] = mapped_column(_enum(RequestStatus))  # status after the step
    note: Mapped[str | None] = mapped_column(Text)

    actor: Mapped[User | None] = relationship(lazy="selectin")


class RequestCounter(Base):
    """Per-year sequence for tracking numbers, bumped by an atomic upsert in the transaction
    that creates the request (unique under concurrency on SQLite and PostgreSQL)."""

    __tablename__ = "request_counters"

    year: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    last: Mapped[int] = mapped_column(BigInteger, default=0)


class DeadlinePolicy(CreatedAtMixin, Base):
    """An office's override of the promised times for a category ("*" = every category) and
    urgency. For each of accept/done give hours (clock hours) or working days, not both."""

    __tablename__ = "request_deadline_policies"
    __table_args__ = (UniqueConstraint("category", "urgent"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    category: Mapped[str] = mapped_column(String(20))  # a Category value or "*"
    urgent: Mapped[bool]
    accept_hours: Mapped[int | None]
    accept_workdays: Mapped[int | None]
    done_hours: Mapped[int | None]
    done_workdays: Mapped[int | None]
    escalate_after_hours: Mapped[int] = mapped_column(default=4)


# --- promised times ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Policy:
    accept_hours: int | None = None
    accept_workdays: int | None = None
    done_hours: int | None = None
    done_workdays: int | None = None
    # after a deadline passes the responsible person is reminded at once, and the supervisor
    # is alerted this long after the deadline if nothing happened
    escalate_after_hours: int = 4

    def accept_due(self, start: datetime, tz: tzinfo) -> datetime:
        return _due(start, self.accept_hours, self.accept_workdays, tz)

    def done_due(self, start: datetime, tz: tzinfo) -> datetime:
        return _due(start, self.done_hours, self.done_workdays, tz)


def _due(start: datetime, hours: int | None, workdays: int | None, tz: tzinfo) -> datetime:
    if hours is not None:
        return hours_deadline(start, hours)
    return workday_deadline(start, workdays if workdays is not None else 1, tz)


# urgent: accepted within 2 hours, done within 2 working days;
# normal: accepted within 1 working day, done within 5 working days.
DEFAULT_POLICIES: dict[bool, Policy] = {
    True: Policy(accept_hours=2, done_workdays=2, escalate_after_hours=1),
    False: Policy(accept_workdays=1, done_workdays=5, escalate_after_hours=4),
}


async def policy_for(session: AsyncSession, category: Category, urgent: bool) -> Policy:
    rows = await session.scalars(
        select(DeadlinePolicy)
        .where(DeadlinePolicy.urgent == urgent)
        .where(DeadlinePolicy.category.in_([category.value, "*"]))
    )
    by_category = {row.category: row for row in rows}
    row = by_category.get(category.value) or by_category.get("*")
    if row is None:
        return DEFAULT_POLICIES[urgent]
    return Policy(
        accept_hours=row.accept_hours,
        accept_workdays=row.accept_workdays,
        done_hours=row.done_hours,
        done_workdays=row.done_workdays,
        escalate_after_hours=row.escalate_after_hours,
    )


async def set_deadline_policy(
    session: AsyncSession,
    category: Category | None,
    urgent: bool,
    *,
    accept_hours: int | None = None,
    accept_workdays: int | None = None,
    done_hours: int | None = None,
    done_workdays: int | None = None,
    escalate_after_hours: int = 4,
) -> DeadlinePolicy:
    """Override the promised times for one category (None = every category) and urgency.
    Applies to requests made from now on."""
    for hours, days in ((accept_hours, accept_workdays), (done_hours, done_workdays)):
        if (hours is None) == (days is None):
            raise ValueError("give either hours or working days for each deadline")
    key = category.value if category is not None else "*"
    row = await session.scalar(
        select(DeadlinePolicy)
        .where(DeadlinePolicy.category == key)
        .where(DeadlinePolicy.urgent == urgent)
    )
    if row is None:
        row = DeadlinePolicy(category=key, urgent=urgent)
        session.add(row)
    row.accept_hours, row.accept_workdays = accept_hours, accept_workdays
    row.done_hours, row.done_workdays = done_hours, done_workdays
    row.escalate_after_hours = escalate_after_hours
    await session.flush()
    return row


# --- tracking numbers -------------------------------------------------------------------------


async def next_number(session: AsyncSession, year: int) -> str:
    """FW-<year>-<5 digits>: an atomic upsert on the year's counter row, so two requests made
    at the same moment (several bot processes on PostgreSQL) never share a number."""
    dialect = session.get_bind().dialect.name
    insert = insert_for(dialect)
    upsert = (
        insert(RequestCounter)
        .values(year=year, last=1)
        .on_conflict_do_update(index_elements=["year"], set_={"last": RequestCounter.last + 1})
        .returning(RequestCounter.last)
    )
    sequence = (await session.execute(upsert)).scalar_one()
    return f"{NUMBER_PREFIX}-{year}-{sequence:05d}"


# --- people -----------------------------------------------------------------------------------


def _is_supervisor(user: User) -> bool:
    return user.role in (Role.SUPERVISOR, Role.ADMIN)


async def staff_members(session: AsyncSession) -> list[User]:
    rows = await session.scalars(
        select(User)
        .where(User.role.in_([Role.STAFF, Role.SUPERVISOR, Role.ADMIN]))
        .order_by(User.display_name, User.id)
    )
    return list(rows)


async def supervisors(session: AsyncSession) -> list[User]:
    """Who is alerted on escalations and low ratings: supervisors, else administrators (the
    people only: their relationships are not loaded)."""
    for role in (Role.SUPERVISOR, Role.ADMIN):
        rows = list(
            await session.scalars(select(User).where(User.role == role).options(lazyload("*")))
        )
        if rows:
            return rows
    return []


def requester_user(request: ServiceRequest) -> User | None:
    """Who is asked to rate: whoever asked (a family member on behalf of a relative), or the
    retiree when staff filed the request for them."""
    creator = request.created_by
    if creator is not None and not creator.is_staff:
        return creator
    return request.profile.user


async def requester_side(session: AsyncSession, request: ServiceRequest) -> list[User]:
    """The retiree, their approved family and whoever filed it (if not staff), each once."""
    users = people_to_notify(request.profile, await family_of(session, request.profile_id))
    creator = request.created_by
    if creator is not None and not creator.is_staff and all(u.id != creator.id for u in users):
        users.append(creator)
    return users


# --- reading ----------------------------------------------------------------------------------


async def _load(session: AsyncSession, request_id: int, *, lock: bool = False) -> ServiceRequest:
    statement = select(ServiceRequest).where(ServiceRequest.id == request_id)
    if lock:
        statement = statement.with_for_update().execution_options(populate_existing=True)
    request = await session.scalar(statement)
    if request is None:
        raise RequestError(ErrorCode.NOT_FOUND)
    return request


async def may_view(session: AsyncSession, actor: User, request: ServiceRequest) -> bool:
    if actor.is_staff:
        return True
    if request.created_by_id == actor.id:
        return True
    return await may_act_for(session, actor, request.profile_id)


async def get_request(session: AsyncSession, actor: User, request_id: int) -> ServiceRequest:
    """A request the actor may see, or RequestError (NOT_FOUND / FORBIDDEN)."""
    request = await _load(session, request_id)
    if not await may_view(session, actor, request):
        raise RequestError(ErrorCode.FORBIDDEN)
    return request


async def requests_of(session: AsyncSession, user: User, limit: int = 20) -> list[ServiceRequest]:
    """ "My requests": for the retiree themselves, their linked relatives, and any they filed,
    newest first. A UNION of three indexed lookups (filed by them, their own profile, their
    approved relatives' profiles) picks the newest `limit` ids; only those rows are loaded,
    with their history (the list shows the latest step)."""
    own = select(RetireeProfile.id).where(RetireeProfile.user_id == user.id)
    linked = select(FamilyLink.profile_id).where(
        FamilyLink.family_user_id == user.id, FamilyLink.status == LinkStatus.APPROVED
    )
    mine = union(
        select(ServiceRequest.id).where(ServiceRequest.created_by_id == user.id),
        select(ServiceRequest.id).where(ServiceRequest.profile_id.in_(own)),
        select(ServiceRequest.id).where(ServiceRequest.profile_id.in_(linked)),
    ).subquery()
    newest = select(mine.c.id).order_by(mine.c.id.desc()).limit(limit).subquery()
    rows = await session.scalars(
        select(ServiceRequest)
        .join(newest, ServiceRequest.id == newest.c.id)
        .order_by(ServiceRequest.id.desc())
        .options(
            selectinload(ServiceRequest.events).options(
                selectinload(RequestEvent.actor).lazyload("*")
            ),
            lazyload("*"),
        )
    )
    return list(rows)


def overdue_condition(now: datetime) -> Any:
    """`ServiceRequest.is_overdue(now)` for an open request, in SQL."""
    return or_(
        ServiceRequest.done_due_at <= now,
        (ServiceRequest.status == RequestStatus.NEW) & (ServiceRequest.accept_due_at <= now),
    )


async def staff_queue(
    session: AsyncSession, actor: User, queue_filter: QueueFilter, now: datetime, limit: int = 30
) -> list[ServiceRequest]:
    """Open requests for the staff queue; overdue ones first, then oldest first. Paged in
    SQL (the partial index of open requests); only the rows shown are loaded, each with its
    retiree's profile joined in (the label shows the name) and nothing else."""
    if not actor.is_staff:
        raise RequestError(ErrorCode.FORBIDDEN)
    statement = select(ServiceRequest).where(_open_status(ServiceRequest.status))
    if queue_filter == QueueFilter.MINE:
        statement = statement.where(ServiceRequest.assignee_id == actor.id)
    elif queue_filter == QueueFilter.GRIDS:
        my_grids = select(Grid.id).where(Grid.staff_user_id == actor.id)
        in_grid = select(RetireeProfile.id).where(RetireeProfile.grid_id.in_(my_grids))
        statement = statement.where(ServiceRequest.profile_id.in_(in_grid))
    elif queue_filter == QueueFilter.UNASSIGNED:
        statement = statement.where(ServiceRequest.assignee_id.is_(None))
    elif queue_filter == QueueFilter.OVERDUE:
        statement = statement.where(overdue_condition(now))
    # Overdue ones first, then the rest, each oldest first: two reads of the open requests'
    # partial index in id order that stop at `limit` (the second only if the first falls
    # short), never a sort of every open request.
    statement = statement.options(joinedload(ServiceRequest.profile).lazyload("*"), lazyload("*"))
    rows = list(
        await session.scalars(
            statement.where(overdue_condition(now)).order_by(ServiceRequest.id).limit(limit)
        )
    )
    if len(rows) < limit and queue_filter != QueueFilter.OVERDUE:
        rows += await session.scalars(
            statement.where(not_(overdue_condition(now)))
            .order_by(ServiceRequest.id)
            .limit(limit - len(rows))
        )
    return rows


# --- snapshots for rendering (the renderers have no database) ---------------------------------


def _local(value: datetime | None, tz: tzinfo) -> str | None:
    return value.astimezone(tz).strftime("%Y-%m-%dT%H:%M") if value is not None else None


def card_params(request: ServiceRequest, now: datetime, tz: tzinfo) -> dict[str, Any]:
    """Everything the staff card shows, as plain JSON (rendered later, in a locale)."""
    profile = request.profile
    creator = request.created_by
    filed_by = None
    if creator is not None and (profile.user_id is None or creator.id != profile.user_id):
        filed_by = creator.display_name
    return {
        "request_id": request.id,
        "number": request.number,
        "category": request.category.value,
        "urgent": request.urgent,
        "status": request.status.value,
        "description": request.description[:1500],
        "preferred": request.preferred.value,
        "preferred_date": request.preferred_date.isoformat() if request.preferred_date else None,
        "name": profile.full_name,
        "phone": profile.phone,
        "address": profile.address,
        "grid": profile.grid.name if profile.grid is not None else None,
        "filed_by": filed_by,
        "assignee": request.assignee.display_name if request.assignee is not None else None,
        "accept_due": _local(request.accept_due_at, tz),
        "done_due": _local(request.done_due_at, tz),
        "created": _local(request.created_at, tz),
        "overdue": request.is_overdue(now),
        "photos": sum(1 for a in request.attachments if a.kind == AttachmentKind.PHOTO),
        "voices": sum(1 for a in request.attachments if a.kind == AttachmentKind.VOICE),
        "reject_reason": request.reject_reason,
        "result": result_of(request),
        "rating": request.rating,
    }


def result_of(request: ServiceRequest) -> str | None:
    """The one line staff added when finishing the request, if any."""
    if request.status != RequestStatus.DONE:
        return None
    done = [e for e in request.events if e.action == EventAction.DONE]
    return done[-1].note if done else None


def _card_key(request_id: int) -> str:
    return f"request:{request_id}:card"


async def _post_card(
    session: AsyncSession,
    request: ServiceRequest,
    staff_chat_id: int | None,
    now: datetime,
    tz: tzinfo,
    *,
    version: str | None = None,
) -> None:
    """The staff group's card: sent once, then edited in place (the outbox row's `edit_of`)."""
    row = _card_row(request, staff_chat_id, card_params(request, now, tz), version=version)
    if row is not None:
        await enqueue(session, **row)


def _card_row(
    request: ServiceRequest,
    staff_chat_id: int | None,
    params: dict[str, Any],
    *,
    version: str | None = None,
) -> dict[str, Any] | None:
    """The outbox row of the group card (`version` None: the first; else an edit of it)."""
    if staff_chat_id is None:
        return None
    edit_of = None if version is None else _card_key(request.id)
    key = _card_key(request.id) if version is None else f"{_card_key(request.id)}:{version}"
    return {
        "chat_id": staff_chat_id,
        "kind": NotificationKind.REQUEST_STAFF_CARD,
        "params": params,
        "dedup_key": key,
        "edit_of": edit_of,
    }


async def _tell_requester_side(
    session: AsyncSession,
    request: ServiceRequest,
    event: RequestEvent,
    actor: User | None,
    told_otherwise: frozenset[int] = frozenset(),
) -> None:
    """Each change goes to the retiree and linked family (not to whoever made it, nor to
    those `told_otherwise`: user ids who get a message of their own about this change)."""
    for person in await requester_side(session, request):
        if actor is not None and person.id == actor.id:
            continue
        if person.id in told_otherwise:
            continue
        await enqueue_to(
            session,
            person,
            kind=NotificationKind.REQUEST_STATUS,
            params={
                "request_id": request.id,
                "number": request.number,
                "category": request.category.value,
                "action": event.action.value,
                "status": request.status.value,
                "note": event.note,
                "assignee": request.assignee.display_name if request.assignee else None,
                "for_name": request.profile.full_name,
                "is_self": request.profile.user_id == person.id,
            },
            dedup_key=f"request:{request.id}:event:{event.id}:to:{person.id}",
        )


async def _send_media_to(session: AsyncSession, request: ServiceRequest, staff: User) -> None:
    """The voice notes and photos go privately to whoever handles the request."""
    total = len(request.attachments)
    for index, attachment in enumerate(request.attachments, start=1):
        await enqueue_to(
            session,
            staff,
            kind=NotificationKind.REQUEST_MEDIA,
            params={
                "request_id": request.id,
                "number": request.number,
                "kind": attachment.kind.value,
                "file_id": attachment.file_id,
                "index": index,
                "total": total,
            },
            dedup_key=f"request:{request.id}:media:{attachment.id}:to:{staff.id}",
        )


def _record(
    session: AsyncSession,
    request: ServiceRequest,
    actor: User | None,
    action: EventAction,
    note: str | None = None,
) -> RequestEvent:
    event = RequestEvent(
        request_id=request.id,
        actor_id=actor.id if actor else None,
        action=action,
        status=request.status,
        note=note,
    )
    event.actor = actor
    request.events.append(event)
    session.add(event)
    return event


# --- intake -----------------------------------------------------------------------------------


@dataclass
class Attachment:
    kind: AttachmentKind
    file_id: str


async def profile_to_ask_for(session: AsyncSession, actor: User, profile_id: int) -> RetireeProfile:
    """The person chosen to ask help for: one of `profiles_to_act_for`, else RequestError
    NOT_FOR_THIS_PERSON (a forged or outdated choice)."""
    for profile in await profiles_to_act_for(session, actor):
        if profile.id == profile_id:
            return profile
    raise RequestError(ErrorCode.NOT_FOR_THIS_PERSON)


def check_description(description: str, attachments: int) -> str:
    """A request says what is needed: words, or at least one photo or voice message; at most
    MAX_DESCRIPTION characters and MAX_ATTACHMENTS attachments. The description as stored."""
    description = description.strip()
    if len(description) > MAX_DESCRIPTION:
        raise RequestError(ErrorCode.DESCRIPTION_TOO_LONG)
    if attachments > MAX_ATTACHMENTS:
        raise RequestError(ErrorCode.TOO_MANY_ATTACHMENTS)
    if not description and not attachments:
        raise RequestError(ErrorCode.DESCRIPTION_MISSING)
    return description


def has_words(text: str) -> bool:
    """Whether a text says something in words or numbers (not only emoji or punctuation)."""
    return any(ch.isalnum() for ch in text)


def check_description_words(text: str) -> str:
    """A typed piece of a description: RequestError(NO_WORDS) when it is only emoji or
    punctuation ("👍", "？？？"), which tells staff nothing."""
    if text.strip() and not has_words(text):
        raise RequestError(ErrorCode.NO_WORDS)
    return text


def preferred_dates(today: date) -> list[date]:
    """The days one may pick as a preferred date: today and the following days."""
    return [today + timedelta(days=offset) for offset in range(PREFERRED_DATE_DAYS)]


def may_prefer(day: date, today: date) -> bool:
    return 0 <= (day - today).days < PREFERRED_DATE_DAYS


async def create_request(
    session: AsyncSession,
    actor: User,
    profile_id: int,
    *,
    category: Category,
    description: str,
    attachments: list[Attachment] | None = None,
    preferred: Preferred = Preferred.THIS_WEEK,
    preferred_date: date | None = None,
    urgent: bool = False,
    now: datetime | None = None,
    tz: tzinfo = UTC,
    staff_chat_id: int | None = None,
) -> ServiceRequest:
    """File a request for a retiree (oneself, a linked relative, or by staff for anyone)."""
    if not await may_act_for(session, actor, profile_id):
        raise RequestError(ErrorCode.NOT_FOR_THIS_PERSON)
    attachments = attachments or []
    description = check_description(description, len(attachments))
    if (preferred == Preferred.DATE) != (preferred_date is not None):
        raise RequestError(ErrorCode.BAD_DATE)
    now = now or utcnow()
    policy = await policy_for(session, category, urgent)
    request = ServiceRequest(
        number=await next_number(session, now.astimezone(tz).year),
        profile_id=profile_id,
        created_by_id=actor.id,
        category=category,
        description=description,
        preferred=preferred,
        preferred_date=preferred_date,
        urgent=urgent,
        status=RequestStatus.NEW,
        accept_alert_level=0,
        done_alert_level=0,
        accept_due_at=policy.accept_due(now, tz),
        done_due_at=policy.done_due(now, tz),
        escalate_after_minutes=policy.escalate_after_hours * 60,
        created_at=now,
        attachments=[RequestAttachment(kind=a.kind, file_id=a.file_id) for a in attachments],
        events=[],
    )
    request.next_alert_at = next_alert_at(request)
    session.add(request)
    await session.flush()
    await session.refresh(request, ["profile", "created_by", "assignee"])
    event = _record(session, request, actor, EventAction.CREATED)
    await session.flush()
    await _post_card(session, request, staff_chat_id, now, tz)
    retiree = request.profile.user
    if retiree is not None and retiree.id != actor.id:
        # who asked and what, in one message of its own (not the plain "sent" notice)
        await _tell_requester_side(session, request, event, actor, frozenset({retiree.id}))
        await _tell_filed_for_you(session, request, actor, retiree)
    else:
        await _tell_requester_side(session, request, event, actor)
    return request


async def _tell_filed_for_you(
    session: AsyncSession, request: ServiceRequest, actor: User, retiree: User
) -> None:
    """A relative (or staff) asked for help for the retiree: they are told who and what."""
    await enqueue_to(
        session,
        retiree,
        kind=NotificationKind.REQUEST_FILED_FOR_YOU,
        params={
            "request_id": request.id,
            "number": request.number,
            "category": request.category.value,
            "description": request.description[:80],
            "more": len(request.description) > 80,
            "by": actor.display_name,
            "by_staff": actor.is_staff,
        },
        dedup_key=f"request:{request.id}:filed_for:{retiree.id}",
    )


async def likely_duplicates(
    session: AsyncSession, profile_id: int, category: Category
) -> list[ServiceRequest]:
    """Requests still open for the same person and of the same kind: filing another one is
    likely the same thing asked twice (told to whoever files it, who decides)."""
    rows = await session.scalars(
        select(ServiceRequest)
        .where(ServiceRequest.profile_id == profile_id)
        .where(ServiceRequest.category == category)
        .where(ServiceRequest.status.in_(OPEN_STATUSES))
        .order_by(ServiceRequest.id.desc())
        .limit(3)
    )
    return list(rows)


# --- staff actions ----------------------------------------------------------------------------


async def classify(
    session: AsyncSession,
    actor: User,
    request_id: int,
    category: Category,
    ctx: StaffContext,
) -> ServiceRequest:
    """Staff set the category of a request sent unclassified (help by voice, in one tap).
    Only once: a colleague who pressed a moment earlier wins (ALREADY_CLASSIFIED). The
    promised times stay as promised when it was filed."""
    _require_staff(actor)
    if category == Category.UNCLASSIFIED:
        raise RequestError(ErrorCode.BAD_INPUT)
    request = await _load(session, request_id, lock=True)
    _require_status(request, *OPEN_STATUSES)
    if request.category != Category.UNCLASSIFIED:
        raise RequestError(ErrorCode.ALREADY_CLASSIFIED)
    request.category = category
    request.updated_at = ctx.now
    await session.flush()
    await cancel_pending(session, dedup_prefix=f"{_card_key(request.id)}:")
    if ctx.update_card:
        await _post_card(
            session, request, ctx.staff_chat_id, ctx.now, ctx.tz, version=f"k{category.value}"
        )
    return request


class StaffOp(enum.StrEnum):
    TAKE = "take"
    ASSIGN = "assign"
    START = "start"
    FINISH = "finish"
    REJECT = "reject"


# Which status each staff action moves a request on from (the card shows just these buttons).
STAFF_OP_FROM: dict[StaffOp, tuple[RequestStatus, ...]] = {
    StaffOp.TAKE: (RequestStatus.NEW,),
    StaffOp.ASSIGN: OPEN_STATUSES,
    StaffOp.START: (RequestStatus.ACCEPTED,),
    StaffOp.FINISH: WORKING_STATUSES,
    StaffOp.REJECT: OPEN_STATUSES,
}
# Taking is for a request nobody has; the others, once a request is someone's, are for them
# or a supervisor/administrator.
_OWNER_ONLY = frozenset({StaffOp.ASSIGN, StaffOp.START, StaffOp.FINISH, StaffOp.REJECT})


def staff_ops_for(status: RequestStatus) -> list[StaffOp]:
    """The staff actions a request in this status offers, in the card's order."""
    return [op for op, allowed in STAFF_OP_FROM.items() if status in allowed]


def _require_staff(actor: User) -> None:
    if not actor.is_staff:
        raise RequestError(ErrorCode.FORBIDDEN)


def check_staff_op(actor: User, request: ServiceRequest, op: StaffOp) -> None:
    """Whether `actor` may do `op` on the request now; RequestError (FORBIDDEN, WRONG_STATUS)
    if not. The operations check it themselves; a handler asks before offering the next
    screen of an action (the list of colleagues, the question for a reason)."""
    _require_staff(actor)
    if request.status not in STAFF_OP_FROM[op]:
        raise RequestError(ErrorCode.WRONG_STATUS, request.status)
    if (
        op in _OWNER_ONLY
        and request.assignee_id not in (None, actor.id)
        and not _is_supervisor(actor)
    ):
        raise RequestError(ErrorCode.FORBIDDEN)


def _require_status(request: ServiceRequest, *allowed: RequestStatus) -> None:
    if request.status not in allowed:
        raise RequestError(ErrorCode.WRONG_STATUS, request.status)


async def _after_change(
    session: AsyncSession,
    request: ServiceRequest,
    event: RequestEvent,
    actor: User,
    now: datetime,
    tz: tzinfo,
    staff_chat_id: int | None,
    update_card: bool,
    told_otherwise: frozenset[int] = frozenset(),
) -> None:
    request.updated_at = now
    request.next_alert_at = next_alert_at(request)
    await session.flush()
    # Edits still waiting in the outbox (a group is paced at one message per few seconds) show
    # an older state: withdraw them, whether the card is re-queued here or was just edited
    # directly by the handler, so a late old edit never overwrites a newer card.
    await cancel_pending(session, dedup_prefix=f"{_card_key(request.id)}:")
    if update_card:
        await _post_card(session, request, staff_chat_id, now, tz, version=f"e{event.id}")
    await _tell_requester_side(session, request, event, actor, told_otherwise)


@dataclass
class StaffContext:
    """What every staff action needs besides the actor and the request id. `update_card`:
    False when the handler edits the pressed group card itself."""

    now: datetime
    tz: tzinfo
    staff_chat_id: int | None
    update_card: bool = True


async def take(
    session: AsyncSession, actor: User, request_id: int, ctx: StaffContext
) -> ServiceRequest:
    """首问负责: the staff member who takes a new request owns it."""
    _require_staff(actor)
    request = await _load(session, request_id, lock=True)
    check_staff_op(actor, request, StaffOp.TAKE)
    request.status = RequestStatus.ACCEPTED
    request.assignee_id, request.assignee = actor.id, actor
    request.accepted_at = ctx.now
    event = _record(session, request, actor, EventAction.ACCEPTED)
    await _after_change(session, request, event, actor, ctx.now, ctx.tz, ctx.staff_chat_id,
                        ctx.update_card)  # fmt: skip
    await _send_media_to(session, request, actor)
    return request


async def assign(
    session: AsyncSession, actor: User, request_id: int, assignee_id: int, ctx: StaffContext
) -> ServiceRequest:
    _require_staff(actor)
    request = await _load(session, request_id, lock=True)
    check_staff_op(actor, request, StaffOp.ASSIGN)
    assignee = await session.get(User, assignee_id)
    if assignee is None or not assignee.is_staff:
        raise RequestError(ErrorCode.NOT_STAFF)
    if request.assignee_id == assignee.id:
        raise RequestError(ErrorCode.WRONG_STATUS, request.status)
    if request.status == RequestStatus.NEW:
        request.status = RequestStatus.ACCEPTED
        request.accepted_at = ctx.now
    request.assignee_id, request.assignee = assignee.id, assignee
    event = _record(session, request, actor, EventAction.ASSIGNED, note=assignee.display_name)
    await _after_change(session, request, event, actor, ctx.now, ctx.tz, ctx.staff_chat_id,
                        ctx.update_card)  # fmt: skip
    if assignee.id != actor.id:
        await enqueue_to(
            session,
            assignee,
            kind=NotificationKind.REQUEST_ASSIGNED,
            params={**card_params(request, ctx.now, ctx.tz), "by": actor.display_name},
            dedup_key=f"request:{request.id}:assigned:{event.id}",
        )
    await _send_media_to(session, request, assignee)
    return request


async def start(
    session: AsyncSession, actor: User, request_id: int, ctx: StaffContext
) -> ServiceRequest:
    _require_staff(actor)
    request = await _load(session, request_id, lock=True)
    check_staff_op(actor, request, StaffOp.START)
    request.status = RequestStatus.IN_PROGRESS
    request.started_at = ctx.now
    event = _record(session, request, actor, EventAction.STARTED)
    await _after_change(session, request, event, actor, ctx.now, ctx.tz, ctx.staff_chat_id,
                        ctx.update_card)  # fmt: skip
    return request


def check_result(result: str | None) -> str | None:
    """The one line of result as stored (spaces and line breaks folded), None when empty;
    RequestError RESULT_TOO_LONG beyond MAX_RESULT characters (refused, never cut)."""
    text = " ".join((result or "").split())
    if len(text) > MAX_RESULT:
        raise RequestError(ErrorCode.RESULT_TOO_LONG)
    return text or None


async def finish(
    session: AsyncSession,
    actor: User,
    request_id: int,
    ctx: StaffContext,
    note: str | None = None,
) -> ServiceRequest:
    """Done (办结), with an optional one-line result ("已换好水龙头") that reaches the retiree
    and family. Whoever is asked to rate gets one message: the completion, its result and
    the stars (not a status change and then a rating question); the others a status change
    with the result."""
    result = check_result(note)
    _require_staff(actor)
    request = await _load(session, request_id, lock=True)
    check_staff_op(actor, request, StaffOp.FINISH)
    request.status = RequestStatus.DONE
    request.closed_at = ctx.now
    event = _record(session, request, actor, EventAction.DONE, note=result)
    rater = requester_user(request)
    await _after_change(session, request, event, actor, ctx.now, ctx.tz, ctx.staff_chat_id,
                        ctx.update_card,
                        frozenset({rater.id}) if rater is not None else frozenset())  # fmt: skip
    await _ask_rating(session, request, "ask")
    return request


def check_reject_reason(reason: str) -> str:
    """The reason as stored (stripped), or RequestError REASON_MISSING / REASON_TOO_LONG."""
    reason = reason.strip()
    if not reason:
        raise RequestError(ErrorCode.REASON_MISSING)
    if len(reason) > MAX_REJECT_REASON:
        raise RequestError(ErrorCode.REASON_TOO_LONG)
    return reason


async def reject(
    session: AsyncSession, actor: User, request_id: int, reason: str, ctx: StaffContext
) -> ServiceRequest:
    """Not accepted, with a reason the requester side is told (at most MAX_REJECT_REASON
    characters: refused when longer, never cut)."""
    reason = check_reject_reason(reason)
    _require_staff(actor)
    request = await _load(session, request_id, lock=True)
    check_staff_op(actor, request, StaffOp.REJECT)
    request.status = RequestStatus.REJECTED
    request.closed_at = ctx.now
    request.reject_reason = reason
    event = _record(session, request, actor, EventAction.REJECTED, note=reason)
    await _after_change(session, request, event, actor, ctx.now, ctx.tz, ctx.staff_chat_id,
                        ctx.update_card)  # fmt: skip
    return request


# --- requester actions ------------------------------------------------------------------------


async def _require_requester_side(
    session: AsyncSession, actor: User, request: ServiceRequest
) -> None:
    """The retiree, approved family, or whoever filed it; staff use Reject instead."""
    if request.created_by_id == actor.id and not actor.is_staff:
        return
    if actor.is_staff or not await may_act_for(session, actor, request.profile_id):
        raise RequestError(ErrorCode.FORBIDDEN)


def may_cancel(request: ServiceRequest, actor: User) -> bool:
    """Whether to offer "cancel": the request is still open and the actor is not staff (staff
    reject instead). `cancel` checks this and that the actor is on the requester side."""
    return request.status.is_open and not actor.is_staff


def _rating_refusal(request: ServiceRequest, actor: User) -> RequestError | None:
    if actor.is_staff:
        return RequestError(ErrorCode.FORBIDDEN)
    if request.status != RequestStatus.DONE:
        return RequestError(ErrorCode.WRONG_STATUS, request.status)
    if request.rating is not None:
        return RequestError(ErrorCode.ALREADY_RATED)
    return None


def may_rate(request: ServiceRequest, actor: User) -> bool:
    """Whether to offer the stars: the request is done, not rated yet, and the actor is not
    staff. `rate` checks this and that the actor is on the requester side."""
    return _rating_refusal(request, actor) is None


async def cancel(
    session: AsyncSession,
    actor: User,
    request_id: int,
    *,
    now: datetime | None = None,
    tz: tzinfo = UTC,
    staff_chat_id: int | None = None,
) -> ServiceRequest:
    now = now or utcnow()
    request = await _load(session, request_id, lock=True)
    await _require_requester_side(session, actor, request)
    if not may_cancel(request, actor):
        raise RequestError(ErrorCode.WRONG_STATUS, request.status)
    request.status = RequestStatus.CANCELLED
    request.closed_at = now
    event = _record(session, request, actor, EventAction.CANCELLED)
    await _after_change(session, request, event, actor, now, tz, staff_chat_id, True)
    if request.assignee is not None:
        await enqueue_to(
            session,
            request.assignee,
            kind=NotificationKind.REQUEST_CANCELLED_STAFF,
            params={"request_id": request.id, "number": request.number},
            dedup_key=f"request:{request.id}:cancelled:to:{request.assignee.id}",
        )
    return request


async def _ask_rating(session: AsyncSession, request: ServiceRequest, stage: str) -> bool:
    person = requester_user(request)
    if person is None:
        return False
    return await enqueue_to(
        session,
        person,
        kind=(
            NotificationKind.REQUEST_RATE
            if stage == "ask"
            else NotificationKind.REQUEST_RATE_REMINDER
        ),
        params={
            "request_id": request.id,
            "number": request.number,
            "category": request.category.value,
            "for_name": request.profile.full_name,
            "is_self": request.profile.user_id == person.id,
            "result": result_of(request),
        },
        dedup_key=f"request:{request.id}:rate:{stage}",
    )


async def _alert_supervisors_low_rating(
    session: AsyncSession, request: ServiceRequest, stage: str
) -> None:
    for supervisor in await supervisors(session):
        await enqueue_to(
            session,
            supervisor,
            kind=NotificationKind.REQUEST_LOW_RATING,
            params={
                "request_id": request.id,
                "number": request.number,
                "category": request.category.value,
                "rating": request.rating,
                "comment": request.rating_comment,
                "voice": request.rating_voice_file_id,
                "name": request.profile.full_name,
                "phone": request.profile.phone,
                "assignee": request.assignee.display_name if request.assignee else None,
            },
            dedup_key=f"request:{request.id}:low_rating:{stage}:to:{supervisor.id}",
        )


async def rate(
    session: AsyncSession, actor: User, request_id: int, stars: int, now: datetime | None = None
) -> ServiceRequest:
    """1-5 stars, once. 1-2 stars alert the supervisor."""
    if stars not in range(1, 6):
        raise RequestError(ErrorCode.BAD_INPUT)
    request = await _load(session, request_id, lock=True)
    await _require_requester_side(session, actor, request)
    refusal = _rating_refusal(request, actor)
    if refusal is not None:
        raise refusal
    request.rating = stars
    request.rated_at = now or utcnow()
    request.next_alert_at = next_alert_at(request)  # no rating reminder any more
    _record(session, request, actor, EventAction.RATED, note=str(stars))
    await session.flush()
    if stars <= 2:
        await _alert_supervisors_low_rating(session, request, "rating")
    return request


async def comment_rating(
    session: AsyncSession,
    actor: User,
    request_id: int,
    *,
    text: str | None = None,
    voice_file_id: str | None = None,
) -> ServiceRequest:
    """A comment (text or voice) after the stars; a low rating's comment goes to the
    supervisor too."""
    request = await _load(session, request_id, lock=True)
    await _require_requester_side(session, actor, request)
    if request.rating is None:
        raise RequestError(ErrorCode.WRONG_STATUS, request.status)
    if request.rating_comment is not None or request.rating_voice_file_id is not None:
        raise RequestError(ErrorCode.ALREADY_RATED)
    if text is not None:
        text = text.strip()[:MAX_DESCRIPTION]
    if not text and not voice_file_id:
        raise RequestError(ErrorCode.BAD_INPUT)
    request.rating_comment = text or None
    request.rating_voice_file_id = voice_file_id
    _record(session, request, actor, EventAction.COMMENTED, note=text or None)
    await session.flush()
    if request.rating <= 2:
        await _alert_supervisors_low_rating(session, request, "comment")
    return request


# --- the scan: overdue reminders, escalations, rating reminders -------------------------------

SCAN_BATCH = 500  # due requests read (and their messages queued) per round


def _overdue_rows(
    request: ServiceRequest,
    deadline: str,
    stage: str,
    recipients: list[User],
    staff_chat_id: int | None,
    params: dict[str, Any],
) -> list[dict[str, Any]]:
    """The outbox rows of one overdue notice: each recipient's private chat, or the staff
    group when there is nobody to tell."""
    params = {**params, "deadline": deadline, "stage": stage}
    kind = NotificationKind.REQUEST_OVERDUE
    prefix = f"request:{request.id}:overdue:{deadline}:{stage}"
    if not recipients:
        if staff_chat_id is None:
            return []
        return [
            {
                "chat_id": staff_chat_id,
                "kind": kind,
                "params": params,
                "dedup_key": f"{prefix}:group",
            }
        ]
    return [
        {
            "chat_id": person.telegram_id,
            "user_id": person.id,
            "kind": kind,
            "params": params,
            "dedup_key": f"{prefix}:to:{person.id}",
        }
        for person in recipients
    ]


def _overdue_work(
    request: ServiceRequest,
    now: datetime,
    tz: tzinfo,
    staff_chat_id: int | None,
    boss: list[User],
) -> tuple[list[dict[str, Any]], bool]:
    """An open request's overdue notices, and whether its group card gets the ⏰ mark now.
    A passed deadline reminds the responsible person once (the grid's caseworker before it
    is taken, then whoever has it), and alerts the supervisors once `escalate_after` later;
    the alert levels record both."""
    if request.status == RequestStatus.NEW:
        deadline, due, level = "accept", request.accept_due_at, request.accept_alert_level
        grid = request.profile.grid
        first = [grid.staff_user] if grid is not None and grid.staff_user else []
    else:
        deadline, due, level = "done", request.done_due_at, request.done_alert_level
        first = [request.assignee] if request.assignee is not None else []
    if level >= 2 or due > now:
        return [], False
    params = card_params(request, now, tz)
    rows: list[dict[str, Any]] = []
    late_card = False
    if level < 1:
        rows += _overdue_rows(request, deadline, "remind", first, staff_chat_id, params)
        level = 1
        # The group card shows the ⏰ mark from now on (once per deadline: level 0 -> 1).
        card = _card_row(request, staff_chat_id, params, version=f"late-{deadline}")
        rows += [card] if card is not None else []
        late_card = True
    if due + timedelta(minutes=request.escalate_after_minutes) <= now:
        rows += _overdue_rows(request, deadline, "escalate", boss, staff_chat_id, params)
        level = 2
    if deadline == "accept":
        request.accept_alert_level = level
    else:
        request.done_alert_level = level
    return rows, late_card


def _rating_reminder_work(request: ServiceRequest, now: datetime) -> list[dict[str, Any]]:
    """A done request not rated three days on: the requester is asked once more."""
    if (
        request.status != RequestStatus.DONE
        or request.rating is not None
        or request.rate_reminded_at is not None
        or request.closed_at is None
        or request.closed_at > now - RATING_REMINDER_AFTER
    ):
        return []
    request.rate_reminded_at = now
    person = requester_user(request)
    if person is None:
        return []
    return [
        {
            "chat_id": person.telegram_id,
            "user_id": person.id,
            "kind": NotificationKind.REQUEST_RATE_REMINDER,
            "params": {
                "request_id": request.id,
                "number": request.number,
                "category": request.category.value,
                "for_name": request.profile.full_name,
                "is_self": request.profile.user_id == person.id,
            },
            "dedup_key": f"request:{request.id}:rate:reminder",
        }
    ]


async def _cancel_card_edits(session: AsyncSession, request_ids: list[int]) -> None:
    """`cancel_pending(prefix="request:<id>:card:")` for many requests in one statement: the
    rows under that prefix are exactly the card's edits, whose `edit_of` is the card's key."""
    if not request_ids:
        return
    await session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.status == OutboxStatus.PENDING)
        .where(OutboxMessage.edit_of.in_([_card_key(i) for i in request_ids]))
        .values(status=OutboxStatus.CANCELLED, locked_at=None)
        .execution_options(synchronize_session=False)
    )


def _due_ids(now: datetime) -> Any:
    """The requests whose next moment has come: a range read of the `next_alert_at` index,
    the only statement of a run with nothing to do."""
    return (
        select(ServiceRequest.id)
        .where(ServiceRequest.next_alert_at <= now)
        .order_by(ServiceRequest.next_alert_at, ServiceRequest.id)
        .limit(SCAN_BATCH)
    )


def _with_what_notices_show(ids: list[int]) -> Any:
    """These requests with just what their notices show, joined in: the retiree and their
    grid's caseworker, who filed it, who has it; the attachments; never the history."""
    return (
        select(ServiceRequest)
        .where(ServiceRequest.id.in_(ids))
        .order_by(ServiceRequest.id)
        .options(
            joinedload(ServiceRequest.profile).options(
                joinedload(RetireeProfile.user).lazyload("*"),
                joinedload(RetireeProfile.grid).joinedload(Grid.staff_user).lazyload("*"),
            ),
            joinedload(ServiceRequest.created_by).lazyload("*"),
            joinedload(ServiceRequest.assignee).lazyload("*"),
            selectinload(ServiceRequest.attachments),
            lazyload("*"),
        )
        .execution_options(populate_existing=True)
    )


_SCAN_STATE = ("accept_alert_level", "done_alert_level", "rate_reminded_at", "next_alert_at")


async def _record_scan_state(session: AsyncSession, done: list[ServiceRequest]) -> None:
    """Write what the scan changed on each request (alert levels, rating reminder, next
    moment) with one executemany, and take it as the requests' loaded state (the unit of work
    would issue one UPDATE per run of same-shaped rows instead)."""
    table = ServiceRequest.__table__
    stamp = utcnow()
    values: dict[str, Any] = {name: bindparam(f"new_{name}") for name in _SCAN_STATE}
    await session.execute(
        update(table)  # type: ignore[arg-type]  # a mapped class's Table
        .where(table.c.id == bindparam("request_id"))
        .values({**values, "updated_at": stamp}),
        [
            {"request_id": r.id, **{f"new_{name}": getattr(r, name) for name in _SCAN_STATE}}
            for r in done
        ],
    )
    for request in done:
        for name in _SCAN_STATE:
            set_committed_value(request, name, getattr(request, name))
        set_committed_value(request, "updated_at", stamp)


async def scan_requests(
    session: AsyncSession, now: datetime, tz: tzinfo, staff_chat_id: int | None
) -> int:
    """Remind and escalate overdue requests and ask once more for a missing rating; each
    message is queued once (dedup keys and the alert levels), however often the scan runs.

    Set-based: one indexed select finds the requests whose `next_alert_at` has come (nothing
    else happens when none has); they are loaded with what their notices show in one more,
    their messages go in with one insert, the cards' stale edits are withdrawn with one
    update, and the levels and next moments are written with one executemany; a round per
    SCAN_BATCH requests. Returns how many notices were queued (the staff group's card edits
    are not counted)."""
    queued = 0
    boss: list[User] | None = None
    while True:
        ids = list(await session.scalars(_due_ids(now)))
        if not ids:
            return queued
        due = list((await session.scalars(_with_what_notices_show(ids))).unique())
        if boss is None:
            boss = await supervisors(session)
        rows: list[dict[str, Any]] = []
        late_cards: list[int] = []
        with session.no_autoflush:  # the state changes go in with _record_scan_state
            for request in due:
                if request.status.is_open:
                    work, late_card = _overdue_work(request, now, tz, staff_chat_id, boss)
                    if late_card:
                        late_cards.append(request.id)
                else:
                    work = _rating_reminder_work(request, now)
                rows += work
                request.next_alert_at = next_alert_at(request)
            await _cancel_card_edits(session, late_cards)  # before the new cards go in
            new = set(await enqueue_many(session, rows))
            await _record_scan_state(session, due)
        card = NotificationKind.REQUEST_STAFF_CARD
        queued += sum(1 for row in rows if row["dedup_key"] in new and row["kind"] != card)
        if len(ids) < SCAN_BATCH:
            return queued


async def scan(session: AsyncSession, now: datetime, office: OfficeSettings) -> int:
    """The scheduler's entry point (bot/jobs.py): `scan_requests` with the office's settings."""
    return await scan_requests(session, now, office.tz, office.staff_chat_id)
