"""Working-day arithmetic for promised times (限时办结).

Working days skip weekends and China's official public holidays and count the official make-up
workdays (调休上班), all from the maintained `chinesecalendar` library, never a hand-made table.
For a year the library has no data for yet (it is updated once the State Council publishes the
next year's arrangement), Monday to Friday are working days, and a warning is logged once.
"""

from __future__ import annotations

import logging
from datetime import UTC, date, datetime, time, timedelta, tzinfo

import chinese_calendar

log = logging.getLogger(__name__)

# A deadline of N working days ends at this local time on the Nth working day (office close).
END_OF_WORKING_DAY = time(18, 0)

_warned_years: set[int] = set()


def is_workday(day: date) -> bool:
    try:
        return bool(chinese_calendar.is_workday(day))
    except NotImplementedError:
        if day.year not in _warned_years:
            _warned_years.add(day.year)
            log.warning(
                "chinesecalendar has no holiday data for %s yet; counting Monday-Friday only. "
                "Upgrade the chinesecalendar package once the official arrangement is out.",
                day.year,
            )
        return day.weekday() < 5


def next_workday(day: date) -> date:
    """The first working day strictly after `day`."""
    day += timedelta(days=1)
    while not is_workday(day):
        day += timedelta(days=1)
    return day


def add_workdays(day: date, count: int) -> date:
    """The `count`-th working day after `day` (`day` itself is not counted)."""
    for _ in range(count):
        day = next_workday(day)
    return day


def workday_deadline(start: datetime, count: int, tz: tzinfo) -> datetime:
    """ "Within `count` working days" of `start`: the end of the office day (18:00 local) on the
    `count`-th working day after the day of `start`. So a request made on Friday afternoon, on
    a Saturday or during a holiday with one working day to answer is due at the end of the next
    working day. Returned in UTC."""
    if start.tzinfo is None:
        raise ValueError("start must be timezone-aware")
    if count <= 0:
        return start.astimezone(UTC)
    local_day = start.astimezone(tz).date()
    due_day = add_workdays(local_day, count)
    return datetime.combine(due_day, END_OF_WORKING_DAY, tzinfo=tz).astimezone(UTC)


def hours_deadline(start: datetime, hours: int) -> datetime:
    """Plain clock hours (urgent requests are answered whatever the day)."""
    return (start + timedelta(hours=hours)).astimezone(UTC)
