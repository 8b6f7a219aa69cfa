"""The registration rules, without Telegram: reading phones, birthdays and names; claiming a
profile staff entered; who may decide a family link."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from models.base import utcnow
from models.outbox import OutboxMessage
from models.registration import (
    LinkOutcome,
    RegistrationError,
    clean_name,
    decide_family_link,
    normalize_phone,
    parse_birthday,
    register_retiree,
    request_family_link,
)
from models.users import LinkStatus, RetireeProfile, Role, User

TODAY = date(2026, 11, 23)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("13812345678", "13812345678"),
        ("138 1234 5678", "13812345678"),
        ("138-1234-5678", "13812345678"),
        ("+86 138 1234 5678", "13812345678"),
        ("008613812345678", "13812345678"),
        ("8613812345678", "13812345678"),
        ("（010）6512-3456", "01065123456"),
        ("0755-2345678", "07552345678"),
        ("65123456", "65123456"),
        ("12812345678", None),  # no such mobile prefix
        ("1381234567", None),
        ("+44 20 7946 0958", None),
        ("１３８１２３４５６７８", None),  # full-width digits are not read as a number
        ("call me", None),
        ("", None),
    ],
)
def test_normalize_phone(text: str, expected: str | None) -> None:
    assert normalize_phone(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("1948-03-15", date(1948, 3, 15)),
        ("1948.3.15", date(1948, 3, 15)),
        ("1948/3/5", date(1948, 3, 5)),
        ("1948年3月15日", date(1948, 3, 15)),
        ("1948 年 3 月 15 号", date(1948, 3, 15)),
        ("19480315", date(1948, 3, 15)),
        ("１９４８年３月１５日", date(1948, 3, 15)),
        ("1948-02-30", None),
        ("2010-01-01", None),  # too young to be a retiree
        ("1890-01-01", None),  # too old
        ("3/15/1948", None),
        ("", None),
    ],
)
def test_parse_birthday(text: str, expected: date | None) -> None:
    assert parse_birthday(text, TODAY) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("王秀英", "王秀英"),
        ("  Li   Ming ", "Li Ming"),
        ("王", None),
        ("x" * 31, None),
        ("12345", None),
        ("/start", None),
        ("<b>Wang</b>", None),
    ],
)
def test_clean_name(text: str, expected: str | None) -> None:
    assert clean_name(text) == expected


async def test_register_claims_the_staff_profile_and_sets_over_80(session: AsyncSession) -> None:
    staff_entered = RetireeProfile(full_name="张建国", phone="+86 138 1234 5678", disability=True)
    other = RetireeProfile(full_name="别人", phone="13900000000")
    user = User(telegram_id=50001, display_name="Zhang")
    session.add_all([staff_entered, other, user])
    await session.flush()
    result = await register_retiree(
        session,
        user,
        full_name="张建国",
        phone="13812345678",
        birthday=date(1946, 11, 24),
        birthday_is_lunar=False,
        grid_id=None,
        today=TODAY,
    )
    assert result.claimed and result.profile.id == staff_entered.id
    assert result.profile.user_id == user.id and result.profile.disability
    assert result.profile.over_80 is False  # 80 tomorrow
    assert user.role == Role.RETIREE and user.onboarded_at is not None
    with pytest.raises(RegistrationError):
        await register_retiree(
            session,
            User(telegram_id=50002),
            full_name="X Y",
            phone="1",
            birthday=date(1946, 1, 1),
            birthday_is_lunar=False,
            grid_id=None,
            today=TODAY,
        )


async def test_only_the_retiree_or_staff_decide(session: AsyncSession) -> None:
    retiree = User(telegram_id=50010, role=Role.RETIREE, onboarded_at=utcnow())
    son = User(telegram_id=50011, display_name="Son")
    stranger = User(telegram_id=50012, role=Role.FAMILY, onboarded_at=utcnow())
    session.add_all([retiree, son, stranger])
    await session.flush()
    session.add(RetireeProfile(full_name="李桂兰", phone="13900002222", user_id=retiree.id))
    await session.flush()
    await session.refresh(retiree, ["profile"])

    request = await request_family_link(
        session, son, phone="13900002222", full_name="李桂兰", relation="Son"
    )
    assert request.outcome == LinkOutcome.SENT_TO_RETIREE and request.link is not None
    assert son.role == Role.FAMILY
    again = await request_family_link(
        session, son, phone="13900002222", full_name="李桂兰", relation="Son"
    )
    assert again.outcome == LinkOutcome.ALREADY_PENDING

    for actor, code in ((stranger, "not_allowed"), (son, "not_allowed")):
        with pytest.raises(RegistrationError) as error:
            await decide_family_link(session, actor, request.link.id, approve=True)
        assert error.value.code == code
    link = await decide_family_link(session, retiree, request.link.id, approve=True)
    assert link.status == LinkStatus.APPROVED and link.decided_by_id == retiree.id
    with pytest.raises(RegistrationError) as error:
        await decide_family_link(session, retiree, request.link.id, approve=False)
    assert error.value.code == "already_decided"
    kinds = [row.kind for row in await session.scalars(select(OutboxMessage))]
    assert sorted(kinds) == ["family.link_decided", "family.link_request"]
    # the retiree cannot link to themselves as family
    own = await request_family_link(
        session, retiree, phone="13900002222", full_name="李桂兰", relation="self"
    )
    assert own.outcome == LinkOutcome.SELF


async def test_daily_scan_marks_those_who_turned_80(session: AsyncSession, settings) -> None:  # type: ignore[no-untyped-def]
    from datetime import UTC, datetime

    from models.registration import refresh_over_80

    turned = RetireeProfile(full_name="甲", birthday=date(1946, 11, 23))
    not_yet = RetireeProfile(full_name="乙", birthday=date(1946, 11, 24))
    unknown = RetireeProfile(full_name="丙")
    session.add_all([turned, not_yet, unknown])
    await session.flush()
    now = datetime(2026, 11, 23, 1, 0, tzinfo=UTC)  # 09:00 in Shanghai
    assert await refresh_over_80(session, now, settings.office()) == 1
    assert await refresh_over_80(session, now, settings.office()) == 0
    await session.commit()
    session.expire_all()
    flags = {p.full_name: p.over_80 for p in await session.scalars(select(RetireeProfile))}
    assert flags == {"甲": True, "乙": False, "丙": False}


async def test_a_typed_phone_alone_does_not_claim_a_strangers_profile(
    session: AsyncSession,
) -> None:
    staff_entered = RetireeProfile(full_name="张建国", phone="13812345678")
    user = User(telegram_id=50020, display_name="Someone")
    session.add_all([staff_entered, user])
    await session.flush()
    kwargs = {
        "phone": "13812345678",
        "birthday": date(1950, 1, 1),
        "birthday_is_lunar": False,
        "grid_id": None,
        "today": TODAY,
    }
    result = await register_retiree(session, user, full_name="王小二", **kwargs)  # type: ignore[arg-type]
    assert not result.claimed and result.profile.id != staff_entered.id
    assert staff_entered.user_id is None
    # the same number shared with Telegram's contact button is the person's own
    owner = User(telegram_id=50021, display_name="Zhang")
    session.add(owner)
    await session.flush()
    result = await register_retiree(
        session,
        owner,
        full_name="张 建国 先生",
        phone_verified=True,
        **kwargs,  # type: ignore[arg-type]
    )
    assert result.claimed and result.profile.id == staff_entered.id


async def test_a_shared_number_is_told_apart_by_name(session: AsyncSession) -> None:
    husband = RetireeProfile(full_name="刘大山", phone="01065123456")
    wife = RetireeProfile(full_name="陈秀兰", phone="010-6512-3456")
    user = User(telegram_id=50030, display_name="Chen")
    session.add_all([husband, wife, user])
    await session.flush()
    result = await register_retiree(
        session,
        user,
        full_name="陈秀兰",
        phone="010 6512 3456",
        birthday=date(1950, 1, 1),
        birthday_is_lunar=False,
        grid_id=None,
        today=TODAY,
        phone_verified=True,
    )
    assert result.claimed and result.profile.id == wife.id and husband.user_id is None
