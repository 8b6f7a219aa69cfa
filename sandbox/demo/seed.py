"""Realistic demo data for the sandbox: two grids, their caseworkers and the office head, a dozen
retirees (some without a Telegram account), their families, upcoming activities and a few open
requests. The activities and requests are made by their own domain operations (models/), as
staff and retirees would make them, so their rules, numbers and notifications are the real ones.

Birthdays are computed from `now`, so the ages, the "over 80" flags and the birthday that falls
in the coming week stay true whatever day the sandbox is started. Seeding twice does nothing.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from models.activities import ActivityDraft, create_activities, sign_up
from models.activities import Category as ActivityCategory
from models.requests import Category as RequestCategory
from models.requests import ServiceRequest, StaffContext, create_request, start, take
from models.users import FamilyLink, Grid, LinkStatus, Relation, RetireeProfile, Role, User

log = logging.getLogger(__name__)

OFFICE_TZ = ZoneInfo("Asia/Shanghai")
DEMO_BOT_ID = 7000000001
DEMO_BOT_USERNAME = "retiree_service_bot"
DEMO_STAFF_CHAT_ID = -1001000000001
DEMO_STAFF_CHAT_TITLE = "幸福里离退休服务站 · 工作群"
DEMO_ADMIN_ID = 100003

GRID_A = "幸福里社区 1-3号楼"
GRID_B = "光明路片区"


@dataclass(frozen=True)
class DemoPerson:
    """One entry of the sandbox page's person picker."""

    telegram_id: int
    first_name: str
    role_hint: str  # retiree, family, staff, supervisor, admin
    description: str
    last_name: str | None = None
    username: str | None = None
    language_code: str = "zh-hans"  # as Telegram sends it


@dataclass
class DemoPeople:
    people: list[DemoPerson] = field(default_factory=list)
    admin_id: int = DEMO_ADMIN_ID
    staff_ids: list[int] = field(default_factory=list)
    staff_chat_id: int = DEMO_STAFF_CHAT_ID
    staff_chat_title: str = DEMO_STAFF_CHAT_TITLE
    seeded_now: bool = False  # False when the database already held the demo data

    def by_id(self, telegram_id: int) -> DemoPerson:
        return next(p for p in self.people if p.telegram_id == telegram_id)


# --- the cast -----------------------------------------------------------------------------------

_LOCALE_OF_CODE = {"zh-hans": "zh_Hans", "zh-hant": "zh_Hant", "en": "en"}


@dataclass(frozen=True)
class _Staff:
    telegram_id: int
    name: str
    role: Role
    username: str
    grid: str | None
    description: str


STAFF: tuple[_Staff, ...] = (
    _Staff(100001, "刘芳", Role.STAFF, "liufang_sg", GRID_A, f"社工，负责{GRID_A}"),
    _Staff(100002, "赵磊", Role.STAFF, "zhaolei_sg", GRID_B, f"社工，负责{GRID_B}"),
    _Staff(DEMO_ADMIN_ID, "陈静", Role.ADMIN, "chenjing_zr", None, "服务站主任（主管、管理员）"),
)


@dataclass(frozen=True)
class _Retiree:
    key: str
    name: str
    age: int
    month_day: tuple[int, int] | None  # None: birthday in the coming week
    phone: str
    grid: str
    address: str
    telegram_id: int | None = None  # None: no Telegram account, entered by staff
    language_code: str = "zh-hans"
    first_name: str | None = None  # Telegram's first/last name when not the Chinese full name
    last_name: str | None = None
    lunar: bool = False
    lives_alone: bool = False
    disability: bool = False
    financial_hardship: bool = False
    lives_in_other_city: bool = False
    note: str = ""


RETIREES: tuple[_Retiree, ...] = (
    _Retiree(
        "wang",
        "王秀英",
        82,
        (3, 8),
        "13811020301",
        GRID_A,
        "幸福里社区1号楼2单元301室",
        telegram_id=200001,
        lives_alone=True,
        note="独居",
    ),
    _Retiree(
        "li",
        "李建国",
        76,
        None,
        "13911020402",
        GRID_A,
        "幸福里社区2号楼1单元402室",
        telegram_id=200002,
        note="生日就在这周",
    ),
    _Retiree(
        "zhang",
        "张桂兰",
        86,
        (8, 15),
        "15010230103",
        GRID_A,
        "幸福里社区3号楼1单元103室",
        telegram_id=200003,
        lunar=True,
        disability=True,
        note="农历生日（八月十五），行动不便",
    ),
    _Retiree(
        "liu",
        "刘德明",
        79,
        (11, 2),
        "13701150504",
        GRID_B,
        "光明路18号院3栋502室",
        telegram_id=200004,
        financial_hardship=True,
        note="生活困难",
    ),
    _Retiree(
        "chen",
        "陈淑珍",
        81,
        (5, 20),
        "18610080205",
        GRID_B,
        "光明路22号院1栋205室",
        telegram_id=200005,
        lives_alone=True,
        note="独居，女儿在深圳",
    ),
    _Retiree(
        "yang",
        "楊志強",
        68,
        (9, 9),
        "13520190606",
        GRID_B,
        "光明路18号院5栋601室",
        telegram_id=200006,
        language_code="zh-hant",
        note="從香港回來，用繁體中文",
    ),
    _Retiree(
        "lin",
        "林文华",
        72,
        (4, 23),
        "17710230707",
        GRID_A,
        "幸福里社区2号楼3单元701室",
        telegram_id=200007,
        language_code="en",
        first_name="Wenhua",
        last_name="Lin",
        note="退休英语教师，用英文界面",
    ),
    _Retiree(
        "huang",
        "黄国平",
        88,
        (1, 17),
        "13001120808",
        GRID_B,
        "光明路9号院2栋108室",
        telegram_id=200008,
        lives_alone=True,
        disability=True,
        note="独居，听力不好",
    ),
    _Retiree(
        "zhou",
        "周丽华",
        70,
        (7, 1),
        "15901130909",
        GRID_A,
        "幸福里社区1号楼1单元202室",
        telegram_id=200009,
        lives_in_other_city=True,
        note="随子女住在杭州",
    ),
    _Retiree(
        "wu",
        "吴振华",
        77,
        (12, 12),
        "18911031010",
        GRID_B,
        "光明路22号院3栋303室",
        telegram_id=200010,
        note="爱参加活动",
    ),
    _Retiree(
        "sun",
        "孙凤英",
        91,
        (2, 28),
        "13601051111",
        GRID_A,
        "幸福里社区3号楼2单元101室",
        lives_alone=True,
        disability=True,
        note="没有Telegram，由社工登记，儿子代办",
    ),
    _Retiree(
        "ma",
        "马德胜",
        84,
        (10, 6),
        "15311071212",
        GRID_B,
        "光明路9号院1栋201室",
        financial_hardship=True,
        note="没有Telegram，由社工登记",
    ),
)


@dataclass(frozen=True)
class _Family:
    telegram_id: int
    name: str
    retiree_key: str
    relation: Relation  # the family member's own role
    retiree_female: bool  # the relative is their mother (else their father)
    status: LinkStatus
    description: str
    username: str | None = None


FAMILY: tuple[_Family, ...] = (
    _Family(
        300001,
        "陈晓燕",
        "chen",
        Relation.DAUGHTER,
        True,
        LinkStatus.APPROVED,
        "陈淑珍的女儿，住在深圳",
    ),
    _Family(300002, "王磊", "wang", Relation.SON, True, LinkStatus.APPROVED, "王秀英的儿子"),
    _Family(
        300003,
        "孙建军",
        "sun",
        Relation.SON,
        True,
        LinkStatus.APPROVED,
        "孙凤英的儿子，替母亲办事",
    ),
    _Family(
        300004,
        "黄敏",
        "huang",
        Relation.DAUGHTER,
        False,
        LinkStatus.PENDING,
        "黄国平的女儿，关联待审核",
    ),
)


def _birthday(now_local: date, age: int, month_day: tuple[int, int] | None) -> date:
    """A birthday giving `age` today; `None` means one that falls four days from now."""
    if month_day is None:
        upcoming = now_local + timedelta(days=4)
        month_day = (upcoming.month, upcoming.day)
        if month_day == (2, 29):
            month_day = (3, 1)
    month, day = month_day
    year = now_local.year - age
    if (month, day) > (now_local.month, now_local.day):
        year -= 1  # not had this year's birthday yet
    return date(year, month, day)


def _age(birthday: date, today: date) -> int:
    return today.year - birthday.year - ((today.month, today.day) < (birthday.month, birthday.day))


# --- seeding ------------------------------------------------------------------------------------


async def seed_demo(session: AsyncSession, *, now: datetime) -> DemoPeople:
    """Create the demo office (idempotent: if its first caseworker exists, nothing is written).

    Flushes; the caller commits."""
    people = demo_people()
    already = await session.scalar(select(User.id).where(User.telegram_id == STAFF[0].telegram_id))
    if already is not None:
        return people
    people.seeded_now = True
    today = now.astimezone(OFFICE_TZ).date()

    staff_users: dict[int, User] = {}
    for member in STAFF:
        user = User(
            telegram_id=member.telegram_id,
            username=member.username,
            display_name=member.name,
            language="zh_Hans",
            telegram_language="zh-hans",
            role=member.role,
            onboarded_at=now - timedelta(days=200),
            profile=None,
            last_seen_at=now - timedelta(hours=2),
        )
        session.add(user)
        staff_users[member.telegram_id] = user
    await session.flush()

    grids: dict[str, Grid] = {}
    for order, name in enumerate((GRID_A, GRID_B)):
        in_charge = next(s for s in STAFF if s.grid == name)
        grid = Grid(name=name, staff_user=staff_users[in_charge.telegram_id], sort_order=order)
        session.add(grid)
        grids[name] = grid
    await session.flush()

    profiles: dict[str, RetireeProfile] = {}
    for index, person in enumerate(RETIREES):
        account: User | None = None
        if person.telegram_id is not None:
            account = User(
                telegram_id=person.telegram_id,
                display_name=person.name,
                language=_LOCALE_OF_CODE[person.language_code],
                telegram_language=person.language_code,
                role=Role.RETIREE,
                onboarded_at=now - timedelta(days=120 - index * 7),
                last_seen_at=now - timedelta(days=index % 4, hours=index),
            )
            session.add(account)
            await session.flush()
        birthday = _birthday(today, person.age, person.month_day)
        caseworker = grids[person.grid].staff_user
        profile = RetireeProfile(
            user=account,  # relationships, not ids: the domain operations below read them
            full_name=person.name,
            phone=person.phone,
            birthday=birthday,
            birthday_is_lunar=person.lunar,
            grid=grids[person.grid],
            address=person.address,
            lives_alone=person.lives_alone,
            over_80=person.age >= 80,
            disability=person.disability,
            financial_hardship=person.financial_hardship,
            lives_in_other_city=person.lives_in_other_city,
            created_by_id=None if account or caseworker is None else caseworker.id,
        )
        session.add(profile)
        profiles[person.key] = profile
    await session.flush()

    admin = staff_users[DEMO_ADMIN_ID]
    family: dict[int, User] = {}
    for relative in FAMILY:
        user = User(
            telegram_id=relative.telegram_id,
            username=relative.username,
            display_name=relative.name,
            language="zh_Hans",
            telegram_language="zh-hans",
            role=Role.FAMILY,
            onboarded_at=now - timedelta(days=60),
            profile=None,
            last_seen_at=now - timedelta(days=1),
        )
        session.add(user)
        family[relative.telegram_id] = user
        await session.flush()
        approved = relative.status == LinkStatus.APPROVED
        session.add(
            FamilyLink(
                family_user_id=user.id,
                profile_id=profiles[relative.retiree_key].id,
                relation=relative.relation,
                retiree_female=relative.retiree_female,
                status=relative.status,
                decided_by_id=admin.id if approved else None,
                decided_at=now - timedelta(days=59) if approved else None,
            )
        )
    await session.flush()

    accounts = staff_users | family
    await _seed_activities(session, now=now, staff=accounts, profiles=profiles)
    await _seed_requests(session, now=now, staff=accounts, profiles=profiles)
    return people


def demo_people() -> DemoPeople:
    """The picker list (staff first, then retirees with an account, then families)."""
    people: list[DemoPerson] = []
    for member in STAFF:
        hint = "admin" if member.role == Role.ADMIN else "staff"
        people.append(
            DemoPerson(
                telegram_id=member.telegram_id,
                first_name=member.name,
                username=member.username,
                role_hint=hint,
                description=member.description,
            )
        )
    for person in RETIREES:
        if person.telegram_id is None:
            continue
        flags = [f"{person.age}岁", person.grid]
        if person.note:
            flags.append(person.note)
        people.append(
            DemoPerson(
                telegram_id=person.telegram_id,
                first_name=person.first_name or person.name,
                last_name=person.last_name,
                language_code=person.language_code,
                role_hint="retiree",
                description="退休人员，" + "，".join(flags),
            )
        )
    for relative in FAMILY:
        people.append(
            DemoPerson(
                telegram_id=relative.telegram_id,
                first_name=relative.name,
                username=relative.username,
                role_hint="family",
                description=f"家属：{relative.description}",
            )
        )
    return DemoPeople(people=people, staff_ids=[s.telegram_id for s in STAFF])


# --- activities and requests, through their own domain operations -------------------------------


def _local(day: date, hour: int, minute: int = 0) -> datetime:
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=OFFICE_TZ)


async def _seed_activities(
    session: AsyncSession,
    *,
    now: datetime,
    staff: dict[int, User],
    profiles: dict[str, RetireeProfile],
) -> None:
    """Upcoming activities and their sign-ups, created and signed up for as staff and retirees
    would (so the capacity, the waitlist and the notifications are the real ones)."""
    today = now.astimezone(OFFICE_TZ).date()
    liu, zhao = staff[100001], staff[100002]
    next_tuesday = today + timedelta(days=(1 - today.weekday()) % 7 or 7)
    plans = [
        (
            liu,
            ActivityDraft(
                title="太极拳晨练",
                category=ActivityCategory.FITNESS,
                starts_at=_local(next_tuesday, 8),
                ends_at=_local(next_tuesday, 9),
                capacity=20,
                place="幸福里社区活动室（2号楼一层）",
                description="王师傅带大家练二十四式太极拳，动作慢，初学也跟得上。",
                suits="身体状况一般即可，膝盖不好的可以坐着练上肢",
                bring="宽松衣服、平底鞋、水杯",
                weeks=4,
            ),
            ["wang", "li", "wu"],
        ),
        (
            liu,
            ActivityDraft(
                title="书法兴趣班：写福字迎新年",
                category=ActivityCategory.CALLIGRAPHY,
                starts_at=_local(today + timedelta(days=3), 14, 30),
                ends_at=_local(today + timedelta(days=3), 16, 30),
                capacity=12,
                place="幸福里社区活动室",
                description="请退休的赵老师讲解楷书基本笔画，每人写一幅福字带回家。",
                bring="老花镜；笔墨纸砚由服务站准备",
            ),
            ["zhang", "lin"],
        ),
        (
            zhao,
            ActivityDraft(
                title="健康讲座：冬季心脑血管疾病预防",
                category=ActivityCategory.LECTURE,
                starts_at=_local(today + timedelta(days=5), 9, 30),
                ends_at=_local(today + timedelta(days=5), 11),
                capacity=40,
                place="光明路社区服务中心二楼会议室",
                description="市第一医院心内科医生主讲，讲后可免费量血压。",
                signup_deadline_at=_local(today + timedelta(days=4), 18),
            ),
            ["chen", "huang", "liu", "ma"],
        ),
        (
            zhao,
            ActivityDraft(
                title="植物园半日游",
                category=ActivityCategory.OUTING,
                starts_at=_local(today + timedelta(days=8), 9),
                ends_at=_local(today + timedelta(days=8), 12),
                capacity=3,
                place="光明路片区门口集合，服务站包车",
                description="名额少，报满后排队候补，有人退出会按顺序通知。",
                suits="能步行一小时左右",
            ),
            ["wu", "yang", "liu", "chen"],  # the fourth waits on the list
        ),
        (
            liu,
            ActivityDraft(
                title="冬至包饺子联谊会",
                category=ActivityCategory.CELEBRATION,
                starts_at=_local(today + timedelta(days=12), 10),
                ends_at=_local(today + timedelta(days=12), 13),
                capacity=30,
                place="幸福里社区食堂",
                description="一起包饺子、吃饺子，欢迎家属陪同。",
            ),
            [],
        ),
    ]
    for organiser, draft, signups in plans:
        created = await create_activities(session, organiser, draft, now=now)
        for key in signups:
            profile = profiles[key]
            actor = profile.user or organiser  # staff sign up those without an account
            await sign_up(session, actor, created[0].id, profile.id, now=now)


StaffStep = Callable[[AsyncSession, User, int, StaffContext], Awaitable[ServiceRequest]]
# who files, for whom, category, what, hours ago, urgent, staff steps
_RequestPlan = tuple[
    User | None, str, RequestCategory, str, int, bool, list[tuple[User, StaffStep]]
]


async def _seed_requests(
    session: AsyncSession,
    *,
    now: datetime,
    staff: dict[int, User],
    profiles: dict[str, RetireeProfile],
) -> None:
    """Open requests, filed by a retiree, a daughter or a caseworker and moved on by staff as
    they would be (so the numbers, deadlines and staff-group cards are the real ones)."""
    liu, zhao = staff[100001], staff[100002]
    daughter = staff[300001]  # the staff dict also holds the family accounts
    plans: list[_RequestPlan] = [
        (
            profiles["wang"].user,
            "wang",
            RequestCategory.HOME_REPAIR,
            "厨房水龙头一直滴水，关不紧，想请人来修一下。",
            26,
            False,
            [(liu, take)],
        ),
        (
            daughter,
            "chen",
            RequestCategory.MEDICAL,
            "我妈妈下周三上午要去市第一医院心内科复查，我在深圳回不去，想请人陪同。",
            5,
            False,
            [],
        ),
        (
            profiles["huang"].user,
            "huang",
            RequestCategory.CARE,
            "最近腿脚不方便，家里好久没打扫了，想请人帮忙。",
            3,
            True,
            [],
        ),
        (
            zhao,
            "ma",
            RequestCategory.PAPERWORK,
            "马大爷电话里说要申请高龄津贴，需要帮忙准备材料、去街道办理。",
            50,
            False,
            [(zhao, take), (zhao, start)],
        ),
    ]
    for actor, key, category, text, hours_ago, urgent, steps in plans:
        if actor is None:
            continue
        created_at = now - timedelta(hours=hours_ago)
        request = await create_request(
            session,
            actor,
            profiles[key].id,
            category=category,
            description=text,
            urgent=urgent,
            now=created_at,
            tz=OFFICE_TZ,
            staff_chat_id=DEMO_STAFF_CHAT_ID,
        )
        for step_number, (worker, step) in enumerate(steps, start=1):
            context = StaffContext(
                now=created_at + timedelta(hours=step_number),
                tz=OFFICE_TZ,
                staff_chat_id=DEMO_STAFF_CHAT_ID,
            )
            await step(session, worker, request.id, context)
