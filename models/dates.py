"""Dates and times as people write them, in Chinese and in English.

One reader for every place a date or time is typed: the birthday at registration, a preferred
date for a request, the start, end and deadline of an activity (staff form and file import).

    1948-03-15 · 1948/3/15 · 1948年3月15日 · 19480315 · 50年5月6号 · 一九五零年五月六日
    5月6号 · 20号 · 明天 · 后天 · 下周三 · 下午3点 · 明天上午9点 · 12月10日 下午3点
    十二月十日下午三点 · 三点半 · 九点一刻 · 9:30 · full-width digits (１２月１０日)
    May 6 1950 · tomorrow 9am · 3pm · next friday 3pm · Dec 10 3pm

How it is read:
- the text is normalised first: full-width characters to ASCII (NFKC), the Traditional
  characters of dates (號, 點, 時, 週, 後, 兩) to Simplified, and runs of Chinese numerals to
  digits by `cn2an` ("一九五零" -> 1950, "十二" -> 12, "两" -> 2); a quarter (一刻, 三刻) is
  read before, as 15 and 45 minutes;
- the Chinese forms (and numeric dates) are read by the small grammar below: a date part
  (year-month-day, month-day, a day of the month, a relative day or a weekday), then a time
  part (a period of the day such as 下午, an hour with 点/时/:, minutes, 半 or 一刻);
- text with Latin letters (English) goes to `dateparser`, which knows "tomorrow", "next
  Friday", month names and am/pm; numeric forms are read here first, so "05/06/1950" is never
  guessed between the day-first and month-first orders (only year-first numeric dates).

An hour without a period ("3点") from 1 to 6 is read as the afternoon: nobody books a repair
or a tai chi class for three in the morning, and elders say "3点" for 15:00. "3:00" with a
colon is taken as written.

A two-digit year is the latest year with those two digits that is not in the future for a
birthday ("50年" -> 1950), and 20yy for an event.

Nothing here knows Telegram; the functions take the text and "now" and return a date, a time
or an aware datetime, or None when the text is not one.
"""

from __future__ import annotations

import re
import unicodedata
import warnings
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Literal
from zoneinfo import ZoneInfo

import cn2an

UTC = ZoneInfo("UTC")
Prefer = Literal["past", "future"]

# Traditional forms of the characters dates are written with, and other spellings.
_SIMPLIFY = str.maketrans(
    {
        "號": "号",
        "點": "点",
        "時": "时",
        "週": "周",
        "後": "后",
        "兩": "两",
        "〇": "零",
        "禮": "礼",
        "拜": "拜",
        "晚": "晚",
        "钟": "钟",
        "鐘": "钟",
        "．": ".",
        "／": "/",
        "：": ":",
        "，": ",",
        "、": ",",
    }
)
_NUMERALS = re.compile(r"[零一二两三四五六七八九十百千]+")
_QUARTER = re.compile(r"([一三])刻")
# Chinese numerals inside words that are not numbers
_WORDS_WITH_NUMERALS = {"星期天": "星期7", "星期日": "星期7", "礼拜天": "礼拜7", "礼拜日": "礼拜7"}
_WEEK_NUMERALS = re.compile(r"(周|星期|礼拜)([一二三四五六日天])")
_WEEKDAY_DIGIT = {"一": "1", "二": "2", "三": "3", "四": "4", "五": "5", "六": "6", "日": "7"}


def _numeral(run: str) -> str:
    try:
        return str(int(cn2an.cn2an(run, "smart")))
    except (ValueError, KeyError, IndexError):
        return run


def normalize(text: str) -> str:
    """Full-width to ASCII, Traditional date characters to Simplified, Chinese numerals to
    digits, lower case, no spaces between Chinese parts."""
    text = unicodedata.normalize("NFKC", text).translate(_SIMPLIFY).strip().lower()
    for word, digit in _WORDS_WITH_NUMERALS.items():
        text = text.replace(word, digit)
    text = _WEEK_NUMERALS.sub(lambda m: m[1] + _WEEKDAY_DIGIT.get(m[2], "7"), text)
    text = _QUARTER.sub(lambda m: "15分" if m[1] == "一" else "45分", text)
    return _NUMERALS.sub(lambda m: _numeral(m[0]), text)


# -- the grammar -------------------------------------------------------------------------------

_SEP = r"\s*[-/.]\s*"
_DATE_FORMS = (
    # 1950-05-06, 1950/5/6, 1950.5.6, 1950年5月6日, 50年5月6号
    re.compile(
        rf"(?P<y>\d{{4}}|\d{{2}})(?:{_SEP}|\s*年\s*)(?P<m>\d{{1,2}})(?:{_SEP}|\s*月\s*)"
        r"(?P<d>\d{1,2})\s*(?:日|号)?"
    ),
    re.compile(r"(?P<y>\d{4})(?P<m>\d{2})(?P<d>\d{2})"),  # 19500506
    re.compile(r"(?P<m>\d{1,2})\s*月\s*(?P<d>\d{1,2})\s*(?:日|号)?"),  # 5月6号
    re.compile(rf"(?P<m>\d{{1,2}}){_SEP}(?P<d>\d{{1,2}})(?=\s|$|[^\d:])"),  # 12-01 (then a time)
    re.compile(r"(?P<d>\d{1,2})\s*(?:日|号)"),  # 20号
    re.compile(r"(?P<rel>今天|今日|明天|明日|后天|大后天)"),
    re.compile(r"(?P<next>下个?|这个?|本)?\s*(?:周|星期|礼拜)(?P<wd>[1-7])"),
)
_PERIODS = {
    "凌晨": "night",
    "早上": "morning",
    "早晨": "morning",
    "清早": "morning",
    "上午": "morning",
    "中午": "noon",
    "下午": "afternoon",
    "傍晚": "evening",
    "晚上": "evening",
    "夜里": "evening",
    "晚": "evening",
}
_TIME_FORM = re.compile(
    r"(?P<period>凌晨|早上|早晨|清早|上午|中午|下午|傍晚|晚上|夜里|晚)?\s*"
    r"(?:(?P<h>\d{1,2})\s*(?P<sep>:|点钟|点|时)\s*"
    r"(?:(?P<half>半)|(?P<min>\d{1,2})\s*分?)?"
    r"|(?P<eh>\d{1,2})(?::(?P<emin>\d{2}))?\s*(?P<ampm>am|pm|a\.m\.|p\.m\.))"
)
_RELATIVE_DAYS = {"今天": 0, "今日": 0, "明天": 1, "明日": 1, "后天": 2, "大后天": 3}
_LATIN = re.compile(r"[a-z]")
_FILLER = re.compile(r"[\s,]+")


@dataclass(frozen=True)
class Reading:
    """What a text said: a date (with or without its year) and/or a time."""

    day: date | None = None
    year_given: bool = False
    at: time | None = None


def _year(two_or_four: str, today: date, prefer: Prefer) -> int:
    year = int(two_or_four)
    if len(two_or_four) == 4:
        return year
    if prefer == "past":
        century = today.year - today.year % 100
        return century + year if century + year <= today.year else century - 100 + year
    return 2000 + year


def _date_part(match: re.Match[str], today: date, prefer: Prefer) -> tuple[date, bool] | None:
    groups = match.groupdict()
    try:
        if groups.get("rel"):
            return today + timedelta(days=_RELATIVE_DAYS[groups["rel"]]), True
        if groups.get("wd"):
            weekday = int(groups["wd"]) - 1
            ahead = (weekday - today.weekday()) % 7
            if groups.get("next", "") and groups["next"].startswith("下"):
                start_of_next_week = today + timedelta(days=7 - today.weekday())
                return start_of_next_week + timedelta(days=weekday), True
            return today + timedelta(days=ahead), True
        day = int(groups["d"])
        if groups.get("y"):
            return date(_year(groups["y"], today, prefer), int(groups["m"]), day), True
        if groups.get("m"):
            month = int(groups["m"])
            candidate = date(today.year, month, day)
            if prefer == "future" and candidate < today:
                candidate = date(today.year + 1, month, day)
            return candidate, False
        # a day of the month alone: this month, or the next when that day has passed
        candidate = date(today.year, today.month, day)
        if prefer == "future" and candidate < today:
            month = today.month % 12 + 1
            candidate = date(today.year + (today.month == 12), month, day)
        return candidate, False
    except ValueError:
        return None


def _time_part(match: re.Match[str]) -> time | None:
    groups = match.groupdict()
    if groups.get("eh"):
        hour, minute = int(groups["eh"]), int(groups["emin"] or 0)
        if not 1 <= hour <= 12:
            return None
        pm = groups["ampm"].startswith("p")
        hour = hour % 12 + (12 if pm else 0)
        return time(hour, minute) if minute < 60 else None
    if not groups.get("h"):
        return None
    hour = int(groups["h"])
    minute = 30 if groups.get("half") else int(groups.get("min") or 0)
    period = _PERIODS.get(groups.get("period") or "")
    if period in ("afternoon", "evening") and 1 <= hour < 12:
        hour += 12
    elif period == "noon" and 1 <= hour <= 3:
        hour += 12
    elif period in ("morning", "night") and hour == 12:
        hour = 0
    elif period is None and groups["sep"] != ":" and 1 <= hour <= 6:
        hour += 12  # "3点" is three in the afternoon (see the module's note)
    if hour == 24 and minute == 0:
        hour = 0
    if not (0 <= hour <= 23 and 0 <= minute <= 59):
        return None
    return time(hour, minute)


def read(text: str | None, today: date, *, prefer: Prefer = "future") -> Reading | None:
    """What `text` says: a date and/or a time; None when it is neither (or an impossible
    date such as 2月30日)."""
    if not text or len(text) > 60:
        return None
    norm = normalize(text)
    if _LATIN.search(norm.replace("am", "").replace("pm", "")):
        return _read_english(text, today, prefer)
    compact = _FILLER.sub(" ", norm.replace("的", " ")).strip()
    # the date part, if any, is at the start; the time part, if any, follows
    day: tuple[date, bool] | None = None
    rest = compact
    for form in _DATE_FORMS:
        match = form.match(compact)
        if match is None:
            continue
        day = _date_part(match, today, prefer)
        if day is None:
            return None
        rest = compact[match.end() :].strip()
        break
    at: time | None = None
    if rest:
        match = _TIME_FORM.fullmatch(rest)
        if match is None:
            return None
        at = _time_part(match)
        if at is None:
            return None
    if day is None and at is None:
        return None
    return Reading(day=day[0] if day else None, year_given=bool(day and day[1]), at=at)


def _read_english(text: str, today: date, prefer: Prefer) -> Reading | None:
    """English words (months, weekdays, tomorrow, am/pm), read by dateparser."""
    import dateparser  # imported on first use: it loads its language data then

    base = datetime.combine(today, time(12, 0))
    settings = {
        "RELATIVE_BASE": base,
        "PREFER_DATES_FROM": "past" if prefer == "past" else "future",
        "PREFER_DAY_OF_MONTH": "first",
        "DATE_ORDER": "DMY",
        "RETURN_AS_TIMEZONE_AWARE": False,
    }
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        parsed = dateparser.parse(text, languages=["en"], settings=settings)  # type: ignore[arg-type]
    if parsed is None:
        return None
    lowered = text.lower()
    has_time = bool(re.search(r"\d\s*(am|pm|a\.m\.|p\.m\.)|\d:\d\d|noon|midnight", lowered))
    has_day = parsed.date() != today or bool(
        re.search(
            r"today|tomorrow|yesterday|monday|tuesday|wednesday|thursday|friday|saturday|sunday"
            r"|jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec|day|week|\d{4}",
            lowered,
        )
    )
    year_given = bool(re.search(r"\b\d{4}\b", lowered))
    if prefer == "future" and not year_given and parsed.date() < today:
        try:
            parsed = parsed.replace(year=parsed.year + 1)
        except ValueError:
            return None
    return Reading(
        day=parsed.date() if has_day else None,
        year_given=year_given or not has_day,
        at=parsed.time().replace(second=0, microsecond=0) if has_time else None,
    )


# -- what the capabilities ask for ---------------------------------------------------------


def read_date(text: str | None, today: date, *, prefer: Prefer = "future") -> date | None:
    """A date (a time of day, if given, is ignored)."""
    reading = read(text, today, prefer=prefer)
    return reading.day if reading is not None else None


def read_full_date(text: str | None, today: date) -> date | None:
    """A date in the past whose year is written (a birthday); None without the year."""
    reading = read(text, today, prefer="past")
    if reading is None or reading.day is None or not reading.year_given or reading.at:
        return None
    return reading.day


def read_month_day(text: str | None) -> tuple[int, int] | None:
    """A month and a day without a year ("5月6号", "May 6"), for a birthday whose year was
    tapped; None when the text is not one (or names a year)."""
    leap_year_today = date(2000, 1, 1)  # 29 February exists
    reading = read(text, leap_year_today, prefer="past")
    if reading is None or reading.day is None or reading.year_given or reading.at:
        return None
    return reading.day.month, reading.day.day


def read_year(text: str | None, today: date) -> int | None:
    """A year alone: 1948, 1948年, 48年, 一九四八年 (a birth year)."""
    if not text:
        return None
    match = re.fullmatch(r"(\d{4}|\d{2})\s*年?", normalize(text))
    if match is None:
        return None
    return _year(match[1], today, "past")


def parse_local_datetime(
    text: str, tz: ZoneInfo, now: datetime, *, require_time: bool = True
) -> datetime | None:
    """A date and time in the office's time zone -> aware UTC. A date without a year is the
    next such date from `now`; a time without a date is today's (tomorrow's when it has
    passed). None when there is no time and `require_time`."""
    local_now = now.astimezone(tz)
    reading = read(text, local_now.date(), prefer="future")
    if reading is None or (reading.at is None and require_time):
        return None
    day = reading.day
    at = reading.at or time(0, 0)
    if day is None:
        day = local_now.date()
        if datetime.combine(day, at, tzinfo=tz) < local_now:
            day += timedelta(days=1)
    elif not reading.year_given and datetime.combine(day, at, tzinfo=tz) < local_now - timedelta(
        days=1
    ):
        try:
            day = day.replace(year=day.year + 1)
        except ValueError:
            return None
    return datetime.combine(day, at, tzinfo=tz).astimezone(UTC)


def parse_local_time_on(text: str, day_of: datetime, tz: ZoneInfo) -> datetime | None:
    """A time alone (`11:00`, `11点`, `下午3点半`) on the same local day as `day_of`."""
    local = day_of.astimezone(tz)
    reading = read(text, local.date())
    if reading is None or reading.day is not None or reading.at is None:
        return None
    return datetime.combine(local.date(), reading.at, tzinfo=tz).astimezone(UTC)
