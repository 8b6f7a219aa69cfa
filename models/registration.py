"""Registration: language, retiree sign-up, family links and staff invite codes.

The rules live here, not in the conversation: how a phone number or a birthday is read, when a
profile entered by staff is claimed instead of duplicated, who may approve a family link, who is
told about it, and how an invite code is used once only.

Birthdays: `RetireeProfile.birthday` holds the year/month/day as the person gives them; when
`birthday_is_lunar` is true these are the numbers of the lunar calendar (month and day of a
lunar month; a lunar "day 30" of a month that the Gregorian calendar cannot hold, such as
2/30, is not accepted by the form).
"""

from __future__ import annotations

import enum
import re
import secrets
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from models.base import utcnow
from models.dates import read_full_date
from models.errors import DomainError
from models.notification_kinds import NotificationKind
from models.office import OfficeSettings
from models.outbox import enqueue_to
from models.users import (
    FamilyLink,
    Grid,
    InviteCode,
    LinkStatus,
    Relation,
    RetireeProfile,
    Role,
    User,
)

SUPPORTED_LANGUAGES = ("zh_Hans", "zh_Hant", "en")
NAME_MAX_LENGTH = 30
NAME_MIN_LENGTH = 2
RELATION_MAX_LENGTH = 20
MIN_AGE = 30
MAX_AGE = 120
INVITE_TTL = timedelta(days=7)
INVITE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I: read out over the phone
INVITE_LENGTH = 8


class RegistrationCode(enum.StrEnum):
    """Why registration, a family link or an invite code was refused."""

    # what people type
    NAME_TOO_SHORT = "name_too_short"
    NAME_TOO_LONG = "name_too_long"
    NAME_NOT_LETTERS = "name_not_letters"  # digits only, a command, or symbols
    RELATION_TOO_LONG = "relation_too_long"
    BAD_RELATION = "bad_relation"
    CONTACT_NOT_OWN = "contact_not_own"  # a shared contact that is someone else's
    CONTACT_PHONE_UNUSABLE = "contact_phone_unusable"  # not a Chinese number
    # a registration whose answers no longer hold (a stale form after an upgrade)
    BAD_NAME = "bad_name"
    BAD_PHONE = "bad_phone"
    BAD_BIRTHDAY = "bad_birthday"
    UNKNOWN_GRID = "unknown_grid"
    UNKNOWN_LANGUAGE = "unknown_language"
    NO_ROLE = "no_role"
    # family links
    NOT_FOUND = "not_found"
    NOT_ALLOWED = "not_allowed"  # only the retiree (or staff) decide a link
    ALREADY_DECIDED = "already_decided"
    # invite codes
    NOT_ADMIN = "not_admin"  # only an administrator creates codes
    BAD_ROLE = "bad_role"
    INVALID_CODE = "invalid_code"
    USED_CODE = "used_code"
    EXPIRED_CODE = "expired_code"


class RegistrationError(DomainError):
    """A rule said no; `code` tells the conversation which kind answer to give."""

    code: RegistrationCode

    def __init__(self, code: RegistrationCode, detail: str = "") -> None:
        super().__init__(code, detail)


# -- reading what people type ------------------------------------------------------------------

_PHONE_NOISE = re.compile(r"[\s\-－—()（）.·]")
_MOBILE = re.compile(r"1[3-9]\d{9}")
_LANDLINE = re.compile(r"0\d{2,3}[2-9]\d{6,7}")  # area code + 7-8 digit number
_LOCAL = re.compile(r"[2-9]\d{6,7}")  # 7-8 digit number without area code


def normalize_phone(text: str | None) -> str | None:
    """A Chinese mobile (11 digits, 1[3-9]...) or a landline, as digits only; None if neither.
    Spaces, dashes, brackets and a +86 / 0086 prefix are tolerated."""
    if not text:
        return None
    digits = _PHONE_NOISE.sub("", text.strip())
    if digits.startswith("+86"):
        digits = digits[3:]
    elif digits.startswith("0086"):
        digits = digits[4:]
    elif digits.startswith("86") and len(digits) == 13:
        digits = digits[2:]
    if not digits.isdigit() or not digits.isascii():
        return None
    if _MOBILE.fullmatch(digits) or _LANDLINE.fullmatch(digits) or _LOCAL.fullmatch(digits):
        return digits
    return None


def parse_birthday(text: str | None, today: date) -> date | None:
    """A birthday with its year, as people write it (models/dates.py: 1948-03-15, 1948年3月15日,
    50年5月6号, 一九五零年五月六日, May 6 1950...); None if unreadable or not a sensible
    birthday for a retiree (aged MIN_AGE to MAX_AGE)."""
    born = read_full_date(text, today)
    if born is None:
        return None
    return born if is_possible_birthday(born, today) else None


def is_possible_birthday(born: date, today: date) -> bool:
    return MIN_AGE <= age_on(born, today) <= MAX_AGE


def birth_years(today: date) -> range:
    """The years a retiree may be born in, oldest first (for the year picker)."""
    return range(today.year - MAX_AGE, today.year - MIN_AGE + 1)


ADDRESS_MIN_LENGTH = 4
ADDRESS_MAX_LENGTH = 200


def read_address(text: str | None) -> str | None:
    """A home address as typed ("东区3号楼2单元301"): one line, ADDRESS_MIN_LENGTH to
    ADDRESS_MAX_LENGTH characters, with a letter or a digit, not a command; None otherwise."""
    address = " ".join((text or "").split())
    if not ADDRESS_MIN_LENGTH <= len(address) <= ADDRESS_MAX_LENGTH:
        return None
    if address.startswith("/") or not any(ch.isalnum() for ch in address):
        return None
    return address


def age_on(born: date, today: date) -> int:
    return today.year - born.year - ((today.month, today.day) < (born.month, born.day))


def read_name(text: str | None) -> str:
    """A person's name: plain text, NAME_MIN_LENGTH..NAME_MAX_LENGTH characters, no commands,
    no digits-only, no line breaks. Inner runs of spaces are collapsed. Raises
    RegistrationError(NAME_TOO_LONG | NAME_TOO_SHORT | NAME_NOT_LETTERS): it says why."""
    name = " ".join((text or "").split())
    if len(name) > NAME_MAX_LENGTH:
        raise RegistrationError(RegistrationCode.NAME_TOO_LONG)
    if len(name) < NAME_MIN_LENGTH:
        raise RegistrationError(RegistrationCode.NAME_TOO_SHORT)
    if name.startswith("/") or not any(ch.isalpha() for ch in name):
        raise RegistrationError(RegistrationCode.NAME_NOT_LETTERS)
    if any(ch in "<>{}[]@#\\|" for ch in name):
        raise RegistrationError(RegistrationCode.NAME_NOT_LETTERS)
    return name


def clean_name(text: str | None) -> str | None:
    """The name `read_name` reads, or None when it is not one (whatever the reason)."""
    try:
        return read_name(text)
    except RegistrationError:
        return None


# The words people type (or tap, in any of the three languages) for each relation, from the
# family member's side ("I am her daughter"). Anything else is kept as OTHER with its words.
RELATION_WORDS: dict[Relation, tuple[str, ...]] = {
    Relation.SON: ("son", "儿子", "兒子", "儿", "兒"),
    Relation.DAUGHTER: ("daughter", "女儿", "女兒", "闺女", "閨女"),
    Relation.SON_IN_LAW: ("son-in-law", "son in law", "女婿"),
    Relation.DAUGHTER_IN_LAW: (
        "daughter-in-law",
        "daughter in law",
        "儿媳",
        "兒媳",
        "媳妇",
        "媳婦",
        "儿媳妇",
        "兒媳婦",
    ),
    Relation.GRANDSON: ("grandson", "孙子", "孫子", "外孙", "外孫"),
    Relation.GRANDDAUGHTER: ("granddaughter", "孙女", "孫女", "外孙女", "外孫女"),
    Relation.NEPHEW: ("nephew", "侄子", "外甥"),
    Relation.NIECE: ("niece", "侄女", "外甥女"),
    Relation.SPOUSE: (
        "spouse",
        "husband",
        "wife",
        "老伴",
        "丈夫",
        "妻子",
        "老公",
        "老婆",
        "先生",
        "太太",
    ),
}
_RELATION_BY_WORD = {
    word.casefold(): relation for relation, words in RELATION_WORDS.items() for word in words
}


def relation_of_words(words: str) -> Relation | None:
    """The relation these words name ("女儿", "Son-in-law", " daughter "), or None."""
    return _RELATION_BY_WORD.get(" ".join(words.split()).casefold())


@dataclass(frozen=True)
class RelationAnswer:
    """A relation as stored: the code, and the words when it is OTHER."""

    relation: Relation
    note: str | None = None


def read_relation(text: str | None) -> RelationAnswer:
    """How a family member is related ("儿子", "Son", "nephew", "干女儿"): a known word becomes
    its code, anything else OTHER with the words (a word or two). Raises
    RegistrationError(RELATION_TOO_LONG | BAD_RELATION)."""
    words = " ".join((text or "").split())
    if len(words) > RELATION_MAX_LENGTH:
        raise RegistrationError(RegistrationCode.RELATION_TOO_LONG)
    if not words or words.startswith("/") or not any(ch.isalpha() for ch in words):
        raise RegistrationError(RegistrationCode.BAD_RELATION)
    known = relation_of_words(words)
    if known is not None:
        return RelationAnswer(known)
    return RelationAnswer(Relation.OTHER, words)


def clean_relation(text: str | None) -> RelationAnswer | None:
    """The relation `read_relation` reads, or None."""
    try:
        return read_relation(text)
    except RegistrationError:
        return None


def own_phone_from_contact(phone_number: str, contact_user_id: int | None, sender_id: int) -> str:
    """The number of a contact shared with the contact button. Only the person's own contact
    tells their number (and it counts as verified when claiming a profile staff entered).
    Raises RegistrationError(CONTACT_NOT_OWN | CONTACT_PHONE_UNUSABLE)."""
    if contact_user_id != sender_id:
        raise RegistrationError(RegistrationCode.CONTACT_NOT_OWN)
    phone = normalize_phone(phone_number)
    if phone is None:
        raise RegistrationError(RegistrationCode.CONTACT_PHONE_UNUSABLE)
    return phone


def _same_name(a: str, b: str) -> bool:
    return "".join(a.split()).casefold() == "".join(b.split()).casefold()


# -- language, grids, onboarding ---------------------------------------------------------------


def set_language(user: User, locale: str) -> None:
    if locale not in SUPPORTED_LANGUAGES:
        raise RegistrationError(RegistrationCode.UNKNOWN_LANGUAGE)
    user.language = locale


def finish_onboarding(user: User, role: Role | None = None) -> None:
    """Marks the user as onboarded; keeps a role they already have (a bootstrap admin)."""
    if role is not None and not user.is_staff:
        user.role = role
    if user.role is None:
        raise RegistrationError(RegistrationCode.NO_ROLE)
    if user.onboarded_at is None:
        user.onboarded_at = utcnow()


async def list_grids(session: AsyncSession) -> list[Grid]:
    result = await session.scalars(select(Grid).order_by(Grid.sort_order, Grid.name))
    return list(result)


async def grid_by_name(session: AsyncSession, name: str) -> Grid | None:
    return await session.scalar(select(Grid).where(Grid.name == name.strip()))


async def find_profiles_by_phone(
    session: AsyncSession, phone: str, *, unclaimed_only: bool = False
) -> list[RetireeProfile]:
    """Profiles whose phone is the same number, however staff typed it."""
    normalized = normalize_phone(phone)
    if normalized is None:
        return []
    query = select(RetireeProfile).where(RetireeProfile.phone.like(f"%{normalized[-4:]}"))
    if unclaimed_only:
        query = query.where(RetireeProfile.user_id.is_(None))
    result = await session.scalars(query.order_by(RetireeProfile.id))
    return [p for p in result if normalize_phone(p.phone) == normalized]


@dataclass
class RetireeRegistration:
    profile: RetireeProfile
    claimed: bool  # an existing profile (entered by staff) was linked to the user


async def register_retiree(
    session: AsyncSession,
    user: User,
    *,
    full_name: str,
    phone: str,
    birthday: date,
    birthday_is_lunar: bool,
    grid_id: int | None,
    today: date,
    phone_verified: bool = False,
    address: str | None = None,
) -> RetireeRegistration:
    """Creates the user's retiree profile, or claims the one staff entered with the same phone
    (no duplicate), or updates the user's own profile if they register again.

    A typed phone number proves nothing, so a staff-entered profile is claimed only when the
    number came from Telegram's own contact button (`phone_verified`) or the name matches too;
    otherwise a new profile is made (staff can merge) rather than handing someone a stranger's
    record."""
    name = clean_name(full_name)
    normalized = normalize_phone(phone)
    if name is None:
        raise RegistrationError(RegistrationCode.BAD_NAME)
    if normalized is None:
        raise RegistrationError(RegistrationCode.BAD_PHONE)
    if not MIN_AGE <= age_on(birthday, today) <= MAX_AGE:
        raise RegistrationError(RegistrationCode.BAD_BIRTHDAY)
    if grid_id is not None and await session.get(Grid, grid_id) is None:
        raise RegistrationError(RegistrationCode.UNKNOWN_GRID)

    claimed = False
    profile = await session.scalar(select(RetireeProfile).where(RetireeProfile.user_id == user.id))
    if profile is None:
        same_phone = await find_profiles_by_phone(session, normalized, unclaimed_only=True)
        candidates = [p for p in same_phone if _same_name(p.full_name, name)]
        if not candidates and phone_verified and len(same_phone) == 1:
            candidates = same_phone  # a couple sharing one number: only the name tells
        if candidates:
            profile = candidates[0]
            claimed = True
        else:
            profile = RetireeProfile(full_name=name, created_by_id=user.id)
            session.add(profile)
        profile.user_id = user.id
    profile.full_name = name
    profile.phone = normalized
    profile.birthday = birthday
    profile.birthday_is_lunar = birthday_is_lunar
    if grid_id is not None or not claimed:
        profile.grid_id = grid_id
    if address:
        profile.address = read_address(address) or profile.address
    profile.over_80 = age_on(birthday, today) >= 80
    finish_onboarding(user, Role.RETIREE)
    await session.flush()
    await session.refresh(user, ["profile"])
    await session.refresh(profile, ["grid", "user"])
    return RetireeRegistration(profile=profile, claimed=claimed)


# -- family links ------------------------------------------------------------------------------


class LinkOutcome(enum.StrEnum):
    SENT_TO_RETIREE = "sent_to_retiree"  # the relative has an account and is asked
    SENT_TO_STAFF = "sent_to_staff"  # no account: the grid's caseworker (or admins) decide
    NOT_FOUND = "not_found"  # no profile with that phone and name
    ALREADY_LINKED = "already_linked"
    ALREADY_PENDING = "already_pending"
    SELF = "self"  # the family member found their own profile


def _relation_answer(relation: Relation | str, note: str | None) -> RelationAnswer | None:
    if isinstance(relation, Relation) and relation != Relation.OTHER:
        return RelationAnswer(relation)
    return clean_relation(note if isinstance(relation, Relation) else relation)


def link_params(link: FamilyLink) -> dict[str, object]:
    """How a link's relation travels in an outbox row (worded by the reader's renderer)."""
    return {
        "link_id": link.id,
        "relation": link.relation.value,
        "relation_note": link.relation_note,
        "retiree_female": link.retiree_female,
    }


@dataclass
class LinkRequest:
    outcome: LinkOutcome
    link: FamilyLink | None = None


async def _approvers(session: AsyncSession, profile: RetireeProfile) -> list[User]:
    """Who decides a link: the retiree if they have an account, else the grid's caseworker,
    else every administrator."""
    if profile.user is not None and profile.user.reachable:
        return [profile.user]
    if profile.grid is not None and profile.grid.staff_user is not None:
        return [profile.grid.staff_user]
    admins = await session.scalars(select(User).where(User.role == Role.ADMIN).order_by(User.id))
    return list(admins)


async def request_family_link(
    session: AsyncSession,
    family_user: User,
    *,
    phone: str,
    full_name: str,
    relation: Relation | str,
    note: str | None = None,
    retiree_female: bool | None = None,
) -> LinkRequest:
    """A family member asks to be linked to a relative found by phone and name. `relation` is
    a code (with `note`, the words, for OTHER) or the words typed; `retiree_female` says
    whether the relative is the mother or the father (for relations that depend on it). The
    pending link is stored and the approver is asked through the outbox. The asker becomes a
    family member (onboarded) whatever the outcome, so they can try again from their menu."""
    answer = _relation_answer(relation, note)
    if answer is None:
        raise RegistrationError(RegistrationCode.BAD_RELATION)
    if family_user.role is None:
        finish_onboarding(family_user, Role.FAMILY)
    elif family_user.onboarded_at is None:
        finish_onboarding(family_user)

    matches = [
        p
        for p in await find_profiles_by_phone(session, phone)
        if _same_name(p.full_name, full_name)
    ]
    if not matches:
        await session.flush()
        return LinkRequest(LinkOutcome.NOT_FOUND)
    profile = matches[0]
    if profile.user_id == family_user.id:
        return LinkRequest(LinkOutcome.SELF)

    link = await session.scalar(
        select(FamilyLink)
        .where(FamilyLink.family_user_id == family_user.id)
        .where(FamilyLink.profile_id == profile.id)
    )
    if link is not None and link.status == LinkStatus.APPROVED:
        return LinkRequest(LinkOutcome.ALREADY_LINKED, link)
    if link is not None and link.status == LinkStatus.PENDING:
        return LinkRequest(LinkOutcome.ALREADY_PENDING, link)
    if link is None:
        link = FamilyLink(family_user_id=family_user.id, profile_id=profile.id)
        session.add(link)
    link.relation = answer.relation
    link.relation_note = answer.note
    link.retiree_female = retiree_female if answer.relation.asks_retiree_gender else None
    link.status = LinkStatus.PENDING
    link.decided_by_id = None
    link.decided_at = None
    await session.flush()
    await session.refresh(link, ["profile", "family_user"])

    approvers = await _approvers(session, profile)
    to_retiree = bool(approvers) and approvers[0].id == profile.user_id
    attempt = int(utcnow().timestamp())
    for approver in approvers:
        await enqueue_to(
            session,
            approver,
            kind=(
                NotificationKind.FAMILY_LINK_REQUEST
                if to_retiree
                else NotificationKind.FAMILY_LINK_REQUEST_STAFF
            ),
            params={
                **link_params(link),
                "family_name": family_user.display_name,
                "retiree_name": profile.full_name,
            },
            dedup_key=f"family:link:{link.id}:ask:{approver.id}:{attempt}",
        )
    outcome = LinkOutcome.SENT_TO_RETIREE if to_retiree else LinkOutcome.SENT_TO_STAFF
    return LinkRequest(outcome, link)


async def may_decide_link(actor: User, link: FamilyLink) -> bool:
    """The retiree themselves, or staff (the retiree may have no account)."""
    if actor.is_staff:
        return True
    return link.profile.user_id is not None and link.profile.user_id == actor.id


async def decide_family_link(
    session: AsyncSession, actor: User, link_id: int, *, approve: bool
) -> FamilyLink:
    """Approve or decline a pending link; the family member is told through the outbox.
    Raises RegistrationError(NOT_FOUND | NOT_ALLOWED | ALREADY_DECIDED)."""
    link = await session.get(FamilyLink, link_id)
    if link is None:
        raise RegistrationError(RegistrationCode.NOT_FOUND)
    if not await may_decide_link(actor, link):
        raise RegistrationError(RegistrationCode.NOT_ALLOWED)
    if link.status != LinkStatus.PENDING:
        raise RegistrationError(RegistrationCode.ALREADY_DECIDED)
    now = utcnow()
    link.status = LinkStatus.APPROVED if approve else LinkStatus.REJECTED
    link.decided_by_id = actor.id
    link.decided_at = now
    family_user = link.family_user
    await enqueue_to(
        session,
        family_user,
        kind=NotificationKind.FAMILY_LINK_DECIDED,
        params={
            "link_id": link.id,
            "approved": approve,
            "retiree_name": link.profile.full_name,
        },
        dedup_key=f"family:link:{link.id}:decided:{int(now.timestamp())}",
    )
    await session.flush()
    return link


async def approve_family_link(session: AsyncSession, actor: User, link_id: int) -> FamilyLink:
    return await decide_family_link(session, actor, link_id, approve=True)


async def reject_family_link(session: AsyncSession, actor: User, link_id: int) -> FamilyLink:
    return await decide_family_link(session, actor, link_id, approve=False)


async def links_of(session: AsyncSession, family_user_id: int) -> list[FamilyLink]:
    """All of a family member's links (pending, approved and declined), for "My family"."""
    result = await session.scalars(
        select(FamilyLink)
        .where(FamilyLink.family_user_id == family_user_id)
        .order_by(FamilyLink.created_at, FamilyLink.id)
    )
    return list(result)


async def set_activity_reminders(
    session: AsyncSession, actor: User, link_id: int, on: bool
) -> FamilyLink:
    """A family member chooses whether they also get their relative's activity reminders
    (off until they turn it on). Only for their own approved link: NOT_FOUND otherwise,
    whatever id a button carries."""
    link = await session.get(FamilyLink, link_id)
    if link is None or link.family_user_id != actor.id or link.status != LinkStatus.APPROVED:
        raise RegistrationError(RegistrationCode.NOT_FOUND)
    link.activity_reminders = on
    await session.flush()
    return link


async def pending_links_for_retiree(session: AsyncSession, user: User) -> list[FamilyLink]:
    result = await session.scalars(
        select(FamilyLink)
        .join(RetireeProfile, RetireeProfile.id == FamilyLink.profile_id)
        .where(RetireeProfile.user_id == user.id)
        .where(FamilyLink.status == LinkStatus.PENDING)
        .order_by(FamilyLink.id)
    )
    return list(result)


# -- staff invite codes ------------------------------------------------------------------------

STAFF_ROLES_BY_INVITE = (Role.STAFF, Role.SUPERVISOR, Role.ADMIN)


async def create_invite_code(
    session: AsyncSession,
    creator: User,
    *,
    role: Role = Role.STAFF,
    ttl: timedelta = INVITE_TTL,
    now: datetime | None = None,
) -> InviteCode:
    """Only an administrator creates codes; each is good for one person, until it expires."""
    if creator.role != Role.ADMIN:
        raise RegistrationError(RegistrationCode.NOT_ADMIN)
    if role not in STAFF_ROLES_BY_INVITE:
        raise RegistrationError(RegistrationCode.BAD_ROLE)
    now = now or utcnow()
    code = "".join(secrets.choice(INVITE_ALPHABET) for _ in range(INVITE_LENGTH))
    invite = InviteCode(code=code, role=role, created_by_id=creator.id, expires_at=now + ttl)
    session.add(invite)
    await session.flush()
    return invite


def normalize_invite_code(text: str | None) -> str:
    return "".join((text or "").split()).replace("-", "").upper()[:32]


async def redeem_invite_code(
    session: AsyncSession, user: User, text: str, *, now: datetime | None = None
) -> Role:
    """Uses the code for `user` (atomically: two people typing it at once, one wins).
    Raises RegistrationError(INVALID_CODE | USED_CODE | EXPIRED_CODE)."""
    now = now or utcnow()
    code = normalize_invite_code(text)
    invite = await session.scalar(select(InviteCode).where(InviteCode.code == code))
    if invite is None or not code:
        raise RegistrationError(RegistrationCode.INVALID_CODE)
    if invite.used_at is not None:
        raise RegistrationError(RegistrationCode.USED_CODE)
    if invite.expires_at is not None and invite.expires_at <= now:
        raise RegistrationError(RegistrationCode.EXPIRED_CODE)
    claimed = await session.execute(
        update(InviteCode)
        .where(InviteCode.id == invite.id)
        .where(InviteCode.used_at.is_(None))
        .values(used_by_id=user.id, used_at=now)
        .execution_options(synchronize_session=False)
    )
    if claimed.rowcount != 1:  # type: ignore[attr-defined]
        raise RegistrationError(RegistrationCode.USED_CODE)
    role = invite.role
    user.role = role
    if user.onboarded_at is None:
        user.onboarded_at = now
    await session.flush()
    return role


# -- the scheduler: people turn 80 -------------------------------------------------------------


def eightieth_birthday_cutoff(today: date) -> date:
    """Whoever was born on or before this date is 80 or older today."""
    try:
        return today.replace(year=today.year - 80)
    except ValueError:  # 29 February in a year that has none
        return today.replace(year=today.year - 80, day=28)


async def refresh_over_80(session: AsyncSession, now: datetime, office: OfficeSettings) -> int:
    """Daily scan: sets `over_80` for those who turned 80 since registering (their care level
    changes). Queues nothing; returns how many profiles changed."""
    today = now.astimezone(office.tz).date()
    result = await session.execute(
        update(RetireeProfile)
        .where(RetireeProfile.over_80.is_(False))
        .where(RetireeProfile.birthday.is_not(None))
        .where(RetireeProfile.birthday <= eightieth_birthday_cutoff(today))
        .values(over_80=True)
        .execution_options(synchronize_session=False)
    )
    return int(getattr(result, "rowcount", 0) or 0)
