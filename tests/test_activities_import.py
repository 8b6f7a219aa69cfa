"""Importing activities from CSV/XLSX: good rows imported, each bad row reported with its line
number and reason; and the staff conversation that receives the file."""

from __future__ import annotations

import io
from collections.abc import AsyncGenerator
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from openpyxl import Workbook, load_workbook
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from models.activities import Activity, Category
from models.activity_import import (
    FileProblem,
    RowProblem,
    parse_activities,
    parse_local_datetime,
    participants_xlsx,
)
from models.users import Role
from tests.chat import Chat, Person, last_message
from tests.recording import RecordingSession
from tests.test_activities_helpers import make_user

TZ = ZoneInfo("Asia/Shanghai")
NOW = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)  # 10:00 in Shanghai

CSV = """标题,类别,开始时间,结束时间,地点,名额,报名截止,简介,适合人群,携带物品,每周重复
太极拳,文体健身,2026-12-01 09:00,10:30,活动中心,20,2026-11-30 18:00,慢慢练,初学者,毛巾,12
,讲座,2026-12-02 09:00,,礼堂,50,,,,,
健康讲座,讲座,明天上午,,礼堂,50,,,,,
参观博物馆,出游,2026/12/5 8:30,,博物馆,二十,,,,,
合唱,唱歌跳舞,2026-12-06 15:00,,音乐室,30,,,,,
旧活动,其他,2026-01-01 09:00,,活动室,10,,,,,
书法,书画,12月8日 14:00,13:00,书画室,15,,,,,
重阳登高,节日,2026-12-09 08:00,,公园,40,2026-12-10 08:00,,,,
门球,fitness,2026-12-10 09:00,11:00,门球场,16,,,,,
"""


def test_csv_good_rows_imported_and_bad_rows_reported() -> None:
    result = parse_activities(CSV.encode("utf-8-sig"), "activities.csv", TZ, NOW)
    assert result.file_problem is None
    titles = [draft.title for _line, draft in result.drafts]
    assert titles == ["太极拳", "门球"]
    tai_chi = result.drafts[0][1]
    assert tai_chi.starts_at == datetime(2026, 12, 1, 1, 0, tzinfo=UTC)
    assert tai_chi.ends_at == datetime(2026, 12, 1, 2, 30, tzinfo=UTC)
    assert tai_chi.weeks == 12 and tai_chi.capacity == 20 and tai_chi.category == Category.FITNESS
    assert tai_chi.bring == "毛巾" and tai_chi.suits == "初学者"
    assert [(e.line, e.problem) for e in result.errors] == [
        (3, RowProblem.MISSING_TITLE),
        (4, RowProblem.BAD_START),
        (5, RowProblem.BAD_CAPACITY),
        (6, RowProblem.UNKNOWN_CATEGORY),
        (7, RowProblem.START_IN_PAST),
        (8, RowProblem.END_BEFORE_START),
        (9, RowProblem.DEADLINE_AFTER_START),
    ]
    assert result.errors[2].value == "二十"


def test_gb18030_csv_and_english_headers() -> None:
    text = "title,category,start,capacity\n歌咏比赛,music,2026-12-20 14:00,80\n"
    result = parse_activities(text.encode("gb18030"), "a.csv", TZ, NOW)
    assert [d.title for _l, d in result.drafts] == ["歌咏比赛"]
    assert result.drafts[0][1].category == Category.MUSIC


def test_xlsx_with_real_date_cells() -> None:
    workbook = Workbook()
    sheet = workbook.active
    assert sheet is not None
    sheet.append(["标题", "开始时间", "名额", "类别"])
    sheet.append(["剪纸", datetime(2026, 12, 3, 9, 30), 12, "书画"])
    sheet.append(["坏行", "不是时间", 12, ""])
    buffer = io.BytesIO()
    workbook.save(buffer)
    result = parse_activities(buffer.getvalue(), "list.xlsx", TZ, NOW)
    assert [d.title for _l, d in result.drafts] == ["剪纸"]
    assert result.drafts[0][1].starts_at == datetime(2026, 12, 3, 1, 30, tzinfo=UTC)
    assert [(e.line, e.problem) for e in result.errors] == [(3, RowProblem.BAD_START)]


def test_file_level_problems() -> None:
    assert parse_activities(b"\x00\x01garbage", "x.xlsx", TZ, NOW).file_problem == (
        FileProblem.UNREADABLE
    )
    missing = parse_activities("标题,地点\n太极,公园\n".encode(), "a.csv", TZ, NOW)
    assert missing.file_problem == FileProblem.MISSING_COLUMNS
    assert missing.missing_columns == ["start", "capacity"]
    assert parse_activities(b"", "a.csv", TZ, NOW).file_problem == FileProblem.NO_HEADER


def test_typed_times_in_the_office_zone() -> None:
    for text in ("2026-12-01 09:00", "2026/12/1 9:00", "12月1日 9点", "12-01 09:00"):
        assert parse_local_datetime(text, TZ, NOW) == datetime(2026, 12, 1, 1, 0, tzinfo=UTC)
    # Without a year, a date already past means next year.
    assert parse_local_datetime("1-5 9:00", TZ, NOW) == datetime(2027, 1, 5, 1, 0, tzinfo=UTC)
    for text in ("tomorrow", "2026-13-01 09:00", "12-01", "25:00"):
        assert parse_local_datetime(text, TZ, NOW) is None


def test_participant_export_is_a_real_spreadsheet() -> None:
    data = participants_xlsx("太极", ["No.", "Name"], [], {"confirmed": "c", "waitlisted": "w"})
    sheet = load_workbook(io.BytesIO(data)).active
    assert sheet is not None and sheet["A1"].value == "太极" and sheet["B2"].value == "Name"


# -- the conversation (on PostgreSQL: it keeps FSM state, see test_activities_staff.py) ------

STAFF = Person(6109, "钱老师")


@pytest.fixture
def database_url(pg_database_url: str) -> str:
    return pg_database_url


@pytest.mark.postgres
async def test_staff_imports_a_file_sent_as_a_document(
    chat: Chat, session: AsyncSession, recording: RecordingSession, monkeypatch: pytest.MonkeyPatch
) -> None:
    await make_user(session, STAFF.id, Role.STAFF, "钱老师")
    await session.commit()
    start = (datetime.now(TZ) + timedelta(days=10)).strftime("%Y-%m-%d")
    content = (
        "标题,开始时间,名额,每周重复\n"
        f"太极拳,{start} 09:00,20,4\n"
        f"坏行,{start} 09:00,很多,\n"
        f"书法,{start} 14:00,10,\n"
    ).encode()

    async def stream(*args: Any, **kwargs: Any) -> AsyncGenerator[bytes, None]:
        yield content

    monkeypatch.setattr(recording, "stream_content", stream)

    menu = last_message(await chat.send(STAFF, "🗓 活动管理"))
    help_text = last_message(await chat.press(STAFF, menu.callback_data("从文件导入")))
    assert "第一行是列名" in help_text.text
    hint = last_message(await chat.send(STAFF, "这是文件"))
    assert "作为文件发过来" in hint.text
    document = {
        "file_id": "doc-1",
        "file_unique_id": "udoc-1",
        "file_name": "活动.csv",
        "mime_type": "text/csv",
        "file_size": len(content),
    }
    sent = await chat.send(STAFF, document=document)
    assert any(r.method == "getFile" for r in sent)
    report = last_message(sent)
    assert "已导入 5 个活动" in report.text
    assert "有 1 行没有导入" in report.text and "第 3 行：名额不是整数（很多）" not in report.text
    assert "第 3 行：名额不是整数 (很多)" in report.text
    count = await session.scalar(select(func.count(Activity.id)))
    await session.commit()
    assert count == 5


# -- every bad row gets its own reason (the domain's checks, not "not a date and time") -------

HEADER = "title,category,start,end,capacity,deadline,weeks,place\n"
GOOD = {
    "title": "太极拳",
    "category": "fitness",
    "start": "2026-12-01 09:00",
    "end": "10:30",
    "capacity": "20",
    "deadline": "2026-11-30 18:00",
    "weeks": "1",
    "place": "活动中心",
}


@pytest.mark.parametrize(
    ("changes", "problem", "value"),
    [
        ({"title": ""}, RowProblem.MISSING_TITLE, ""),
        ({"title": "长" * 101}, RowProblem.TITLE_TOO_LONG, ""),
        ({"place": "远" * 201}, RowProblem.TEXT_TOO_LONG, ""),
        ({"category": "打麻将"}, RowProblem.UNKNOWN_CATEGORY, "打麻将"),
        ({"start": "下周二上午"}, RowProblem.BAD_START, "下周二上午"),
        ({"start": "2026-11-01 09:00"}, RowProblem.START_IN_PAST, "2026-11-01 09:00"),
        ({"end": "晚上"}, RowProblem.BAD_END, "晚上"),
        ({"end": "08:00"}, RowProblem.END_BEFORE_START, "08:00"),
        ({"capacity": "很多"}, RowProblem.BAD_CAPACITY, "很多"),
        ({"capacity": "0"}, RowProblem.BAD_CAPACITY, "0"),
        ({"capacity": "20000"}, RowProblem.BAD_CAPACITY, "20000"),
        ({"deadline": "尽快"}, RowProblem.BAD_DEADLINE, "尽快"),
        ({"deadline": "2026-12-02 09:00"}, RowProblem.DEADLINE_AFTER_START, "2026-12-02 09:00"),
        ({"weeks": "每周"}, RowProblem.BAD_WEEKS, "每周"),
        ({"weeks": "53"}, RowProblem.BAD_WEEKS, "53"),
    ],
)
def test_each_bad_row_says_its_own_reason(
    changes: dict[str, str], problem: RowProblem, value: str
) -> None:
    row = {**GOOD, **changes}
    text = HEADER + ",".join(row[key] for key in HEADER.strip().split(",")) + "\n"
    result = parse_activities(text.encode(), "a.csv", TZ, NOW)
    assert result.drafts == []
    assert [(e.line, e.problem, e.value) for e in result.errors] == [(2, problem, value)]


def test_a_good_row_passes_the_same_checks() -> None:
    text = HEADER + ",".join(GOOD[key] for key in HEADER.strip().split(",")) + "\n"
    result = parse_activities(text.encode(), "a.csv", TZ, NOW)
    assert result.errors == [] and [d.title for _l, d in result.drafts] == ["太极拳"]


@pytest.mark.postgres
async def test_a_row_the_domain_refuses_at_creation_keeps_the_domain_reason(
    session: AsyncSession,
) -> None:
    """Between reading the file and saving it the start may pass: the row is reported as
    "already passed", not as "not a date and time"; the other rows are imported."""
    from models.activity_import import import_activities

    staff = await make_user(session, 6110, Role.STAFF)
    text = (
        "title,start,capacity,weeks\n"
        "太极拳,2026-11-23 10:30,20,2\n"  # 30 minutes after NOW
        "书法,2026-12-01 14:00,10,\n"
    )
    result = parse_activities(text.encode(), "a.csv", TZ, NOW)
    assert result.errors == [] and len(result.drafts) == 2
    report = await import_activities(session, staff, result, NOW + timedelta(hours=1))
    assert report.imported == 1
    assert [(e.line, e.problem) for e in report.errors] == [(2, RowProblem.START_IN_PAST)]
