"""Working days: weekends, China's official holidays and make-up workdays (chinesecalendar)."""

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

from models.workdays import add_workdays, is_workday, next_workday, workday_deadline

SHANGHAI = ZoneInfo("Asia/Shanghai")


def test_weekend_and_plain_weekday() -> None:
    assert is_workday(date(2026, 11, 23))  # Monday
    assert not is_workday(date(2026, 11, 28))  # Saturday
    assert next_workday(date(2026, 11, 27)) == date(2026, 11, 30)  # Friday -> Monday


def test_national_day_2026_holiday_and_make_up_days() -> None:
    # 2026: National Day holiday 1-7 October; make-up workdays Sunday 20 Sep and Saturday 10 Oct.
    assert all(not is_workday(date(2026, 10, d)) for d in range(1, 8))
    assert is_workday(date(2026, 9, 20))  # a Sunday, worked
    assert is_workday(date(2026, 10, 10))  # a Saturday, worked
    assert not is_workday(date(2026, 10, 11))
    # 30 Sep (Wed) + 1 working day skips the whole holiday
    assert next_workday(date(2026, 9, 30)) == date(2026, 10, 8)
    # Friday 9 Oct + 1 working day is the make-up Saturday 10 Oct
    assert next_workday(date(2026, 10, 9)) == date(2026, 10, 10)
    # Saturday 19 Sep + 1 working day is the make-up Sunday 20 Sep
    assert next_workday(date(2026, 9, 19)) == date(2026, 9, 20)
    # 30 Sep + 5 working days: 8, 9, 10 (Sat), 12, 13 October
    assert add_workdays(date(2026, 9, 30), 5) == date(2026, 10, 13)


def test_deadline_ends_at_office_close_local_time() -> None:
    # Friday 25 Sep 2026, 15:00 in Shanghai; 1 working day -> Monday 28 Sep 18:00 local
    start = datetime(2026, 9, 25, 15, 0, tzinfo=SHANGHAI)
    due = workday_deadline(start, 1, SHANGHAI)
    assert due.tzinfo is UTC
    assert due == datetime(2026, 9, 28, 10, 0, tzinfo=UTC)
    # asked during the holiday (3 Oct): due at the end of the first working day after it
    during = datetime(2026, 10, 3, 9, 0, tzinfo=SHANGHAI)
    assert workday_deadline(during, 1, SHANGHAI).astimezone(SHANGHAI).date() == date(2026, 10, 8)
    # late evening in Shanghai is already the next day there, though still the same UTC day
    late = datetime(2026, 10, 9, 16, 30, tzinfo=UTC)  # 00:30 Saturday 10 Oct in Shanghai
    assert workday_deadline(late, 1, SHANGHAI).astimezone(SHANGHAI).date() == date(2026, 10, 12)


def test_year_without_data_falls_back_to_weekdays() -> None:
    assert is_workday(date(2099, 6, 1))  # a Monday
    assert not is_workday(date(2099, 6, 6))  # a Saturday
