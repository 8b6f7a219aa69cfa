"""Activities in and out as files: CSV/XLSX import (validated row by row) and the XLSX
participant list. Takes and returns bytes; no Telegram here. Each row is checked with the
domain's own field checks (models/activities.py), and `import_activities` creates the good rows.

Import format: the first row holds column names (English or Chinese, any order):

    title/标题*, category/类别, start/开始时间*, end/结束时间, place/地点, capacity/名额*,
    deadline/报名截止, description/简介, suits/适合人群, bring/携带物品, weeks/每周重复

(* required). Times are in the office's time zone, written like `2026-12-01 09:00`
(also `2026/12/1 9:00`, `12月1日 9:00`); `end` may be just a time (`11:00`). `category` is a
key (`fitness`) or a Chinese name (`文体健身`); empty means "other". `weeks` > 1 makes a weekly
series. CSV may be UTF-8 (with or without BOM) or GB18030 (what Excel on a Chinese Windows
saves). Each bad row is reported with its line number and reason; good rows are imported.
"""

from __future__ import annotations

import csv
import enum
import io
from dataclasses import dataclass, field
from datetime import date, datetime, time
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession

from models.activities import (
    ActivityDraft,
    ActivityError,
    ActivityErrorCode,
    ActivityField,
    Category,
    Registration,
    RegistrationStatus,
    check_capacity,
    check_deadline,
    check_draft,
    check_end,
    check_start,
    check_text,
    check_weeks,
    create_activities,
)
from models.dates import parse_local_datetime, parse_local_time_on
from models.users import User

MAX_FILE_BYTES = 2 * 1024 * 1024
MAX_ROWS = 1000

# Chinese names staff may type in a file (and the English keys).
CATEGORY_ALIASES: dict[str, Category] = {
    "书画": Category.CALLIGRAPHY,
    "书法": Category.CALLIGRAPHY,
    "绘画": Category.CALLIGRAPHY,
    "书法绘画": Category.CALLIGRAPHY,
    "书画艺术": Category.CALLIGRAPHY,
    "歌唱": Category.MUSIC,
    "音乐": Category.MUSIC,
    "合唱": Category.MUSIC,
    "歌唱音乐": Category.MUSIC,
    "文体": Category.FITNESS,
    "健身": Category.FITNESS,
    "舞蹈": Category.FITNESS,
    "太极": Category.FITNESS,
    "广场舞": Category.FITNESS,
    "门球": Category.FITNESS,
    "文体健身": Category.FITNESS,
    "舞蹈健身": Category.FITNESS,
    "讲座": Category.LECTURE,
    "健康讲座": Category.LECTURE,
    "讲座健康": Category.LECTURE,
    "参观": Category.OUTING,
    "出游": Category.OUTING,
    "外出参观": Category.OUTING,
    "参观出游": Category.OUTING,
    "节日": Category.CELEBRATION,
    "节日庆祝": Category.CELEBRATION,
    "节日活动": Category.CELEBRATION,
    "志愿": Category.VOLUNTEERING,
    "志愿服务": Category.VOLUNTEERING,
    "发挥余热": Category.VOLUNTEERING,
    "其他": Category.OTHER,
}

COLUMNS: dict[str, tuple[str, ...]] = {
    "title": ("title", "标题", "活动名称", "名称"),
    "category": ("category", "类别", "分类"),
    "start": ("start", "开始", "开始时间", "时间"),
    "end": ("end", "结束", "结束时间"),
    "place": ("place", "地点"),
    "capacity": ("capacity", "名额", "人数"),
    "deadline": ("deadline", "报名截止", "截止时间", "截止"),
    "description": ("description", "简介", "说明", "内容"),
    "suits": ("suits", "适合", "适合人群"),
    "bring": ("bring", "携带", "携带物品", "带什么"),
    "weeks": ("weeks", "每周重复", "重复周数", "周数"),
}
REQUIRED = ("title", "start", "capacity")


def parse_category(text: str) -> Category | None:
    value = text.strip()
    if not value:
        return Category.OTHER
    lowered = value.lower()
    for category in Category:
        if lowered == category.value:
            return category
    return CATEGORY_ALIASES.get(value)


def _cell_datetime(value: Any, tz: ZoneInfo, now: datetime) -> datetime | None:
    """XLSX cells may already be datetimes (naive = office local time)."""
    if isinstance(value, datetime):
        local = value if value.tzinfo else value.replace(tzinfo=tz)
        return local.astimezone(ZoneInfo("UTC"))
    if isinstance(value, date):
        return None  # a date without a time
    return parse_local_datetime(_text(value), tz, now)


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


class RowProblem(enum.StrEnum):
    """Why a row was not imported (the handler words each one)."""

    MISSING_TITLE = "missing_title"
    TITLE_TOO_LONG = "title_too_long"
    TEXT_TOO_LONG = "text_too_long"
    UNKNOWN_CATEGORY = "unknown_category"
    BAD_START = "bad_start"
    START_IN_PAST = "start_in_past"
    BAD_END = "bad_end"
    END_BEFORE_START = "end_before_start"
    BAD_CAPACITY = "bad_capacity"
    BAD_DEADLINE = "bad_deadline"
    DEADLINE_AFTER_START = "deadline_after_start"
    BAD_WEEKS = "bad_weeks"


class FileProblem(enum.StrEnum):
    TOO_BIG = "too_big"
    UNREADABLE = "unreadable"
    NO_HEADER = "no_header"
    MISSING_COLUMNS = "missing_columns"
    TOO_MANY_ROWS = "too_many_rows"


@dataclass
class RowError:
    line: int  # as the staff member sees it in the spreadsheet (header = line 1)
    problem: RowProblem
    value: str = ""


@dataclass
class ImportResult:
    drafts: list[tuple[int, ActivityDraft]] = field(default_factory=list)  # (line, draft)
    errors: list[RowError] = field(default_factory=list)
    file_problem: FileProblem | None = None
    missing_columns: list[str] = field(default_factory=list)


def _read_rows(data: bytes, filename: str) -> list[list[Any]]:
    if filename.lower().endswith((".xlsx", ".xlsm")) or data[:2] == b"PK":
        from openpyxl import load_workbook

        workbook = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
        sheet = workbook.worksheets[0]
        rows = [list(row) for row in sheet.iter_rows(values_only=True)]
        workbook.close()
        return rows
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            text = data.decode(encoding)
            break
        except UnicodeDecodeError:
            continue
    else:
        raise ValueError("undecodable")
    try:
        dialect: Any = csv.Sniffer().sniff(text[:2048], delimiters=",;\t")
    except csv.Error:
        dialect = csv.excel
    return [list(row) for row in csv.reader(io.StringIO(text), dialect)]


def parse_activities(data: bytes, filename: str, tz: ZoneInfo, now: datetime) -> ImportResult:
    """Validate a CSV or XLSX file of activities row by row."""
    result = ImportResult()
    if len(data) > MAX_FILE_BYTES:
        result.file_problem = FileProblem.TOO_BIG
        return result
    try:
        rows = _read_rows(data, filename)
    except Exception:  # a corrupt zip, a binary file: the staff member just hears "unreadable"
        result.file_problem = FileProblem.UNREADABLE
        return result
    if not rows or not any(_text(c) for c in rows[0]):
        result.file_problem = FileProblem.NO_HEADER
        return result
    header = [_text(c).lower().lstrip("*").strip() for c in rows[0]]
    index: dict[str, int] = {}
    for key, names in COLUMNS.items():
        for position, name in enumerate(header):
            if name in names:
                index[key] = position
                break
    missing = [key for key in REQUIRED if key not in index]
    if missing:
        result.file_problem = FileProblem.MISSING_COLUMNS
        result.missing_columns = missing
        return result
    if len(rows) - 1 > MAX_ROWS:
        result.file_problem = FileProblem.TOO_MANY_ROWS
        return result
    for line, row in enumerate(rows[1:], start=2):
        cells = {key: (row[i] if i < len(row) else None) for key, i in index.items()}
        if not any(_text(v) for v in cells.values()):
            continue  # an empty line
        outcome = _parse_row(cells, tz, now)
        if isinstance(outcome, RowError):
            outcome.line = line
            result.errors.append(outcome)
        else:
            result.drafts.append((line, outcome))
    return result


def _parse_row(cells: dict[str, Any], tz: ZoneInfo, now: datetime) -> ActivityDraft | RowError:
    """Read the cells (a date that is not a date, a number that is not a number...), then the
    domain's own checks, in the order of the columns, so each row gets its first real reason."""

    def error(problem: RowProblem, key: str = "") -> RowError:
        return RowError(0, problem, _text(cells.get(key)) if key else "")

    try:
        title = check_text(ActivityField.TITLE, _text(cells.get("title")))
        category = parse_category(_text(cells.get("category")))
        if category is None:
            return error(RowProblem.UNKNOWN_CATEGORY, "category")
        starts_at = _cell_datetime(cells.get("start"), tz, now)
        if starts_at is None:
            return error(RowProblem.BAD_START, "start")
        check_start(starts_at, now)
        ends_at = None
        end_cell = cells.get("end")
        if _text(end_cell):
            if isinstance(end_cell, time):
                end_cell = end_cell.strftime("%H:%M")
            # a time alone is on the start's day; else a full date and time
            ends_at = (
                None
                if isinstance(end_cell, datetime)
                else (parse_local_time_on(_text(end_cell), starts_at, tz))
            )
            if ends_at is None:
                ends_at = _cell_datetime(end_cell, tz, now)
            if ends_at is None:
                return error(RowProblem.BAD_END, "end")
            check_end(starts_at, ends_at)
        capacity_text = _text(cells.get("capacity"))
        if not capacity_text.isdigit():
            return error(RowProblem.BAD_CAPACITY, "capacity")
        check_capacity(int(capacity_text))
        deadline = None
        if _text(cells.get("deadline")):
            deadline = _cell_datetime(cells.get("deadline"), tz, now)
            if deadline is None:
                return error(RowProblem.BAD_DEADLINE, "deadline")
            check_deadline(starts_at, deadline)
        weeks_text = _text(cells.get("weeks")) or "1"
        if not weeks_text.isdigit():
            return error(RowProblem.BAD_WEEKS, "weeks")
        check_weeks(int(weeks_text))
        texts = {key: _text(cells.get(key)) for key in ("place", "description", "suits", "bring")}
        draft = ActivityDraft(
            title=title,
            category=category,
            starts_at=starts_at,
            ends_at=ends_at,
            capacity=int(capacity_text),
            signup_deadline_at=deadline,
            weeks=int(weeks_text),
            **texts,
        )
        check_draft(draft, now)
    except ActivityError as refused:
        problem = ROW_PROBLEMS.get(refused.code)
        if problem is None:
            raise
        return error(problem, PROBLEM_COLUMNS.get(problem, ""))
    return draft


# The domain's reason for refusing a draft, as the import reports it (and the column it shows).
ROW_PROBLEMS: dict[ActivityErrorCode, RowProblem] = {
    ActivityErrorCode.TITLE_MISSING: RowProblem.MISSING_TITLE,
    ActivityErrorCode.TITLE_TOO_LONG: RowProblem.TITLE_TOO_LONG,
    ActivityErrorCode.TEXT_TOO_LONG: RowProblem.TEXT_TOO_LONG,
    ActivityErrorCode.START_IN_PAST: RowProblem.START_IN_PAST,
    ActivityErrorCode.END_BEFORE_START: RowProblem.END_BEFORE_START,
    ActivityErrorCode.BAD_CAPACITY: RowProblem.BAD_CAPACITY,
    ActivityErrorCode.DEADLINE_AFTER_START: RowProblem.DEADLINE_AFTER_START,
    ActivityErrorCode.BAD_WEEKS: RowProblem.BAD_WEEKS,
}
PROBLEM_COLUMNS: dict[RowProblem, str] = {
    RowProblem.START_IN_PAST: "start",
    RowProblem.END_BEFORE_START: "end",
    RowProblem.BAD_CAPACITY: "capacity",
    RowProblem.DEADLINE_AFTER_START: "deadline",
    RowProblem.BAD_WEEKS: "weeks",
}


@dataclass
class ImportReport:
    imported: int  # activities created (a weekly series counts each session)
    errors: list[RowError]  # every row not imported, in line order, with its reason


async def import_activities(
    session: AsyncSession, actor: User, result: ImportResult, now: datetime
) -> ImportReport:
    """Create the good rows of a parsed file; a row the domain still refuses (the start passed
    while the file was read...) is reported with the domain's reason, the others are kept."""
    imported = 0
    errors = list(result.errors)
    for line, draft in result.drafts:
        try:
            imported += len(await create_activities(session, actor, draft, now))
        except ActivityError as refused:
            problem = ROW_PROBLEMS.get(refused.code)
            if problem is None:
                raise  # not about the row (not staff): the whole import is refused
            errors.append(RowError(line, problem))
    return ImportReport(imported, sorted(errors, key=lambda e: e.line))


def participants_xlsx(
    title: str,
    headers: list[str],
    registrations: list[Registration],
    labels: dict[str, str],
) -> bytes:
    """The participant list as a spreadsheet: number, name, phone, status, attendance,
    rating, comment. `headers` and `labels` come translated from the caller."""
    from openpyxl import Workbook

    workbook = Workbook()
    sheet = workbook.active
    assert sheet is not None
    sheet.title = "participants"
    sheet.append([title])
    sheet.append(headers)
    for number, registration in enumerate(registrations, start=1):
        status = (
            labels["confirmed"]
            if registration.status == RegistrationStatus.CONFIRMED
            else labels["waitlisted"]
        )
        attendance = labels.get(registration.attendance.value) if registration.attendance else ""
        sheet.append(
            [
                number,
                registration.profile.full_name,
                registration.profile.phone or "",
                status,
                attendance or "",
                registration.rating or "",
                registration.comment or "",
            ]
        )
    for column, width in zip("ABCDEFG", (6, 16, 16, 10, 10, 8, 40), strict=True):
        sheet.column_dimensions[column].width = width
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()
