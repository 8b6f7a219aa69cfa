"""Dates and times as people write them (models/dates.py): a table of real phrasings in
Simplified and Traditional Chinese and English, for birthdays, request dates and activity
times."""

from __future__ import annotations

from datetime import date, datetime, time
from zoneinfo import ZoneInfo

import pytest

from models.activity_import import parse_local_datetime, parse_local_time_on
from models.dates import normalize, read_date, read_full_date, read_month_day, read_year
from models.registration import parse_birthday

TZ = ZoneInfo("Asia/Shanghai")
UTC = ZoneInfo("UTC")
# Friday 20 November 2026, 10:00 in the office
NOW = datetime(2026, 11, 20, 10, 0, tzinfo=TZ)
TODAY = NOW.date()


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # Simplified Chinese
        ("50年5月6号", date(1950, 5, 6)),
        ("1950年5月6日", date(1950, 5, 6)),
        ("一九五零年五月六日", date(1950, 5, 6)),
        ("一九五〇年五月六号", date(1950, 5, 6)),
        ("五零年五月六号", date(1950, 5, 6)),
        ("１９５０年５月６日", date(1950, 5, 6)),
        ("1950 年 5 月 6 日", date(1950, 5, 6)),
        ("1950-05-06", date(1950, 5, 6)),
        ("1950.5.6", date(1950, 5, 6)),
        ("19500506", date(1950, 5, 6)),
        # Traditional Chinese
        ("1950年5月6號", date(1950, 5, 6)),
        ("一九五〇年十二月三十一號", date(1950, 12, 31)),
        # English
        ("May 6 1950", date(1950, 5, 6)),
        ("6 May 1950", date(1950, 5, 6)),
        ("6th of May, 1950", date(1950, 5, 6)),
        # not a birthday
        ("5月6号", None),  # no year: the picker asks it
        ("1950年2月30日", None),
        ("2010-01-01", None),  # too young for a retiree
        ("3/15/1948", None),  # month-first numbers are never guessed
        ("下午3点", None),
        ("hello", None),
        ("", None),
    ],
)
def test_birthdays(text: str, expected: date | None) -> None:
    assert parse_birthday(text, TODAY) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("5月6号", (5, 6)),
        ("五月六日", (5, 6)),
        ("5月6號", (5, 6)),
        ("２月２９日", (2, 29)),
        ("May 6", (5, 6)),
        ("1950年5月6日", None),  # has a year
        ("下午3点", None),
    ],
)
def test_month_and_day_after_a_tapped_year(text: str, expected: tuple[int, int] | None) -> None:
    assert read_month_day(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [("1948", 1948), ("1948年", 1948), ("48年", 1948), ("一九四八年", 1948), ("四八年", 1948)],
)
def test_a_year_alone(text: str, expected: int) -> None:
    assert read_year(text, TODAY) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # Simplified Chinese
        ("下午3点", datetime(2026, 11, 20, 15, 0)),
        ("下午三点半", datetime(2026, 11, 20, 15, 30)),
        ("3点", datetime(2026, 11, 20, 15, 0)),  # an hour from 1 to 6 is the afternoon
        ("明天上午9点", datetime(2026, 11, 21, 9, 0)),
        ("明天 上午 9点", datetime(2026, 11, 21, 9, 0)),
        ("后天下午三点半", datetime(2026, 11, 22, 15, 30)),
        ("12月10日 下午3点", datetime(2026, 12, 10, 15, 0)),
        ("十二月十日下午三点", datetime(2026, 12, 10, 15, 0)),
        ("１２月１０日　下午３点", datetime(2026, 12, 10, 15, 0)),
        ("12月1日 9点", datetime(2026, 12, 1, 9, 0)),
        ("12月1日9:30", datetime(2026, 12, 1, 9, 30)),
        ("下周三下午两点", datetime(2026, 11, 25, 14, 0)),
        ("星期天上午十点", datetime(2026, 11, 22, 10, 0)),
        ("晚上7点", datetime(2026, 11, 20, 19, 0)),
        ("中午12点", datetime(2026, 11, 20, 12, 0)),
        ("下午三点零五分", datetime(2026, 11, 20, 15, 5)),
        ("明天九点一刻", datetime(2026, 11, 21, 9, 15)),
        ("2026-12-01 09:00", datetime(2026, 12, 1, 9, 0)),
        ("2026/12/1 9:00", datetime(2026, 12, 1, 9, 0)),
        ("12-01 09:00", datetime(2026, 12, 1, 9, 0)),
        ("1-5 9:00", datetime(2027, 1, 5, 9, 0)),  # past without a year: next year
        # Traditional Chinese
        ("明天上午9點", datetime(2026, 11, 21, 9, 0)),
        ("12月10號 下午3點", datetime(2026, 12, 10, 15, 0)),
        ("後天下午兩點", datetime(2026, 11, 22, 14, 0)),
        ("下週三上午十點", datetime(2026, 11, 25, 10, 0)),
        # English
        ("tomorrow 9am", datetime(2026, 11, 21, 9, 0)),
        ("3pm", datetime(2026, 11, 20, 15, 0)),
        ("3 pm", datetime(2026, 11, 20, 15, 0)),
        ("next friday 3pm", datetime(2026, 11, 27, 15, 0)),
        ("Dec 10 3pm", datetime(2026, 12, 10, 15, 0)),
        ("December 10 at 3 pm", datetime(2026, 12, 10, 15, 0)),
        # not a date and time
        ("明天", None),  # no time
        ("tomorrow", None),
        ("2月30日 9点", None),
        ("2026-13-01 09:00", None),
        ("25:00", None),
        ("12-01", None),
        ("帮我修水龙头", None),
        ("hello", None),
        ("3", None),
    ],
)
def test_dates_and_times(text: str, expected: datetime | None) -> None:
    got = parse_local_datetime(text, TZ, NOW)
    if expected is None:
        assert got is None
    else:
        assert got == expected.replace(tzinfo=TZ).astimezone(UTC)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("5月6号", date(2027, 5, 6)),  # the next 6 May
        ("12月10日", date(2026, 12, 10)),
        ("明天", date(2026, 11, 21)),
        ("後天", date(2026, 11, 22)),
        ("25号", date(2026, 11, 25)),
        ("下周一", date(2026, 11, 23)),
        ("tomorrow", date(2026, 11, 21)),
        ("Dec 10", date(2026, 12, 10)),
        ("下午3点", None),
        ("修水管", None),
    ],
)
def test_a_day_for_a_request(text: str, expected: date | None) -> None:
    assert read_date(text, TODAY) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [("11:00", time(11, 0)), ("11点", time(11, 0)), ("下午4点半", time(16, 30)), ("4pm", time(16))],
)
def test_an_end_time_on_the_start_day(text: str, expected: time) -> None:
    starts = datetime(2026, 12, 1, 9, 0, tzinfo=TZ)
    got = parse_local_time_on(text, starts, TZ)
    assert got is not None and got.astimezone(TZ).time() == expected
    assert got.astimezone(TZ).date() == starts.date()


def test_normalising_reads_numerals_and_traditional_characters() -> None:
    assert normalize("一九五零年十二月三十一號") == "1950年12月31号"
    assert normalize("下午兩點") == "下午2点"
    assert normalize("１２：３０") == "12:30"


def test_a_full_date_needs_its_year() -> None:
    assert read_full_date("5月6号", TODAY) is None
    assert read_full_date("50年5月6号", TODAY) == date(1950, 5, 6)
