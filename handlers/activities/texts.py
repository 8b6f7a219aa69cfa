"""The words of the activity screens, in one place: times in the office's time zone, category
names, the detail card, the refusals (one text per domain error code), the form's questions
and the import's reasons. Every text through `_()` at call time."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from aiogram.utils.i18n import gettext as _
from aiogram.utils.i18n import ngettext

from handlers.script import for_reader
from models.activities import (
    SERIES_MAX_WEEKS,
    Activity,
    ActivityError,
    ActivityErrorCode,
    ActivityField,
    Category,
)
from models.activity_import import FileProblem, RowProblem

CATEGORY_EMOJI = {
    Category.CALLIGRAPHY: "🖌",
    Category.MUSIC: "🎵",
    Category.FITNESS: "🧘",
    Category.LECTURE: "🩺",
    Category.OUTING: "🚌",
    Category.CELEBRATION: "🏮",
    Category.VOLUNTEERING: "🤝",
    Category.OTHER: "✨",
}


def category_name(category: Category) -> str:
    names = {
        Category.CALLIGRAPHY: _("Calligraphy and painting"),
        Category.MUSIC: _("Singing and music"),
        Category.FITNESS: _("Dance and fitness"),
        Category.LECTURE: _("Lectures and health talks"),
        Category.OUTING: _("Outings and visits"),
        Category.CELEBRATION: _("Holiday celebrations"),
        Category.VOLUNTEERING: _("Volunteering"),
        Category.OTHER: _("Other activities"),
    }
    return names[category]


def category_label(category: Category) -> str:
    return f"{CATEGORY_EMOJI[category]} {category_name(category)}"


def weekday_name(index: int) -> str:
    names = [_("Mon"), _("Tue"), _("Wed"), _("Thu"), _("Fri"), _("Sat"), _("Sun")]
    return names[index]


def format_when(moment: datetime, tz: ZoneInfo | str) -> str:
    """`12月1日（周二）09:00` / `12/1 (Tue) 09:00` in the office's time zone."""
    zone = ZoneInfo(tz) if isinstance(tz, str) else tz
    local = moment.astimezone(zone)
    return _("{month}/{day} ({weekday}) {time}").format(
        month=local.month,
        day=local.day,
        weekday=weekday_name(local.weekday()),
        time=local.strftime("%H:%M"),
    )


def format_time(moment: datetime, tz: ZoneInfo | str) -> str:
    zone = ZoneInfo(tz) if isinstance(tz, str) else tz
    return moment.astimezone(zone).strftime("%H:%M")


def format_span(activity: Activity, tz: ZoneInfo) -> str:
    text = format_when(activity.starts_at, tz)
    if activity.ends_at is not None:
        same_day = (
            activity.ends_at.astimezone(tz).date() == activity.starts_at.astimezone(tz).date()
        )
        end = format_time(activity.ends_at, tz) if same_day else format_when(activity.ends_at, tz)
        text += f" – {end}"
    return text


def places_left_text(activity: Activity, confirmed: int, waiting: int) -> str:
    left = activity.capacity - confirmed
    if left > 0 and waiting == 0:
        return ngettext("{n} place left", "{n} places left", left).format(n=left)
    return _("full, waitlist {n}").format(n=waiting)


def details_text(activity: Activity, tz: ZoneInfo, confirmed: int, waiting: int) -> str:
    lines = [for_reader(activity.title), ""]
    lines.append("🏷 " + category_name(activity.category))
    lines.append("🕘 " + format_span(activity, tz))
    if activity.place:
        lines.append("📍 " + for_reader(activity.place))
    if activity.organiser is not None:
        lines.append("👤 " + _("Organiser: {name}").format(name=activity.organiser.display_name))
    lines.append(
        "👥 "
        + _("Places: {taken} of {capacity} taken").format(
            taken=confirmed, capacity=activity.capacity
        )
    )
    if waiting:
        lines.append("⏳ " + _("Waiting list: {n}").format(n=waiting))
    if activity.signup_deadline_at is not None:
        lines.append(
            "📝 " + _("Sign up by {when}").format(when=format_when(activity.signup_deadline_at, tz))
        )
    if activity.suits:
        lines.append("🙂 " + _("Suits: {text}").format(text=for_reader(activity.suits)))
    if activity.bring:
        lines.append("🎒 " + _("Please bring: {text}").format(text=for_reader(activity.bring)))
    if activity.description:
        lines += ["", for_reader(activity.description)]
    if activity.is_cancelled:
        lines += ["", "❌ " + _("This activity has been cancelled.")]
    return "\n".join(lines)


# -- refusals ----------------------------------------------------------------------------------


def not_registered_text() -> str:
    return _("Please finish registering first: send /start.")


def staff_only_text() -> str:
    return _("This is for office staff only.")


def error_text(error: ActivityError) -> str:
    """The one text for each domain refusal (the capability's `domain_errors` router and the
    form steps that ask again both use it)."""
    code = error.code
    if code in (ActivityErrorCode.TITLE_TOO_LONG, ActivityErrorCode.TEXT_TOO_LONG):
        return _("That is too long: at most {n} characters, please.").format(n=error.limit)
    texts = {
        ActivityErrorCode.NOT_FOUND: _("Sorry, this activity is no longer available."),
        ActivityErrorCode.CANCELLED: _("Sorry, this activity has been cancelled."),
        ActivityErrorCode.STARTED: _("This activity has already started."),
        ActivityErrorCode.DEADLINE_PASSED: _("Sorry, sign-up for this activity has closed."),
        ActivityErrorCode.ALREADY_SIGNED_UP: _("Already signed up — no need to sign up twice."),
        ActivityErrorCode.FORBIDDEN: _("Sorry, you cannot do that for this person."),
        ActivityErrorCode.NOT_ACTIVE: _("This sign-up was already cancelled."),
        ActivityErrorCode.NOT_ATTENDED: _("Only people who came can rate this activity."),
        ActivityErrorCode.NOT_FINISHED: _("You can rate it after the activity."),
        ActivityErrorCode.INVALID: _("That value cannot be used here, please check it."),
        ActivityErrorCode.TITLE_MISSING: _("Please write the name of the activity."),
        ActivityErrorCode.START_IN_PAST: _("That time has already passed."),
        ActivityErrorCode.END_BEFORE_START: _("It must end after it starts."),
        ActivityErrorCode.BAD_CAPACITY: _("Please write a whole number, for example 20."),
        ActivityErrorCode.DEADLINE_AFTER_START: _("Sign-up must close before the activity starts."),
        ActivityErrorCode.BAD_WEEKS: _("Please write a number of weeks from 1 to {n}.").format(
            n=SERIES_MAX_WEEKS
        ),
    }
    return texts[code]


# -- the staff form: questions and field names --------------------------------------------------


def q_title() -> str:
    return _("What is the activity called? (for example: Tai chi for beginners)")


def q_category() -> str:
    return _("Which category is it?")


def q_description() -> str:
    return _("Describe it in a few sentences (or tap Skip).")


def q_place() -> str:
    return _("Where is it held?")


def q_starts() -> str:
    return _("When does it start? Write the date and time, for example 2026-12-01 09:00")


def q_ends() -> str:
    return _("When does it end? Write a time like 11:00 (or tap Skip).")


def q_capacity() -> str:
    return _("How many places are there? Write a number.")


def q_deadline() -> str:
    return _(
        "Until when can people sign up? Write the date and time, "
        "or tap Skip to allow sign-up until it starts."
    )


def q_weeks() -> str:
    return _(
        "Does it repeat every week? Write the number of weeks (for example 12), or tap Only once."
    )


def q_review() -> str:
    return _("Tap “Create” to save it, or “Back to menu” to drop it.")


def not_understood(text: str | None) -> str:
    """Why a typed answer could not be read (the question follows)."""
    if text and text.startswith("/"):
        return _("Let's finish this form first.")
    if not text:
        return _("Please write it as text.")
    return _("Sorry, I could not understand that.")


def category_problem() -> str:
    return _("Please tap one of the category buttons.")


def skip_text() -> str:
    return "⏭ " + _("Skip")


def skip_word() -> str:
    return _("Skip")


def once_text() -> str:
    return "1️⃣ " + _("Only once")


def create_text() -> str:
    return "✅ " + _("Create")


def field_name(field: ActivityField) -> str:
    names = {
        ActivityField.TITLE: _("Title"),
        ActivityField.CATEGORY: _("Category"),
        ActivityField.DESCRIPTION: _("Description"),
        ActivityField.PLACE: _("Place"),
        ActivityField.SUITS: _("Who it suits"),
        ActivityField.BRING: _("What to bring"),
        ActivityField.STARTS_AT: _("Start time"),
        ActivityField.ENDS_AT: _("End time"),
        ActivityField.CAPACITY: _("Number of places"),
        ActivityField.SIGNUP_DEADLINE_AT: _("Sign-up deadline"),
    }
    return names[field]


def weeks_name() -> str:
    return _("Number of weeks")


def edit_question(field: ActivityField) -> str:
    """The question when one field of an existing activity is changed."""
    questions = {
        ActivityField.CATEGORY: q_category,
        ActivityField.STARTS_AT: q_starts,
        ActivityField.ENDS_AT: lambda: _("When does it end? Write a time like 11:00."),
        ActivityField.CAPACITY: q_capacity,
        ActivityField.SIGNUP_DEADLINE_AT: lambda: _(
            "Until when can people sign up? Write the date and time."
        ),
    }
    question = questions.get(field)
    if question is not None:
        return question()
    return _("Please write the new {field}.").format(field=field_name(field))


# -- import ------------------------------------------------------------------------------------


def import_help() -> str:
    return _(
        "Send the file (CSV or XLSX) as a document. The first row holds the column names:\n"
        "title, category, start, end, place, capacity, deadline, description, suits, bring, "
        "weeks\n"
        "(or in Chinese: 标题, 类别, 开始时间, 结束时间, 地点, 名额, 报名截止, 简介, 适合人群, "
        "携带物品, 每周重复).\n"
        "title, start and capacity are required. Times like 2026-12-01 09:00; the end may be "
        "just 11:00; weeks greater than 1 makes a weekly series."
    )


def row_problem_text(problem: RowProblem) -> str:
    texts = {
        RowProblem.MISSING_TITLE: _("the title is missing"),
        RowProblem.TITLE_TOO_LONG: _("the title is too long"),
        RowProblem.TEXT_TOO_LONG: _("a text is too long"),
        RowProblem.UNKNOWN_CATEGORY: _("unknown category"),
        RowProblem.BAD_START: _("the start time is not a date and time"),
        RowProblem.START_IN_PAST: _("the start time has already passed"),
        RowProblem.BAD_END: _("the end time is not a time"),
        RowProblem.END_BEFORE_START: _("it ends before it starts"),
        RowProblem.BAD_CAPACITY: _("the number of places is not a whole number"),
        RowProblem.BAD_DEADLINE: _("the sign-up deadline is not a date and time"),
        RowProblem.DEADLINE_AFTER_START: _("the sign-up deadline is after the start"),
        RowProblem.BAD_WEEKS: _("the number of weeks is not between 1 and 52"),
    }
    return texts[problem]


def file_problem_text(problem: FileProblem, missing: list[str]) -> str:
    texts = {
        FileProblem.TOO_BIG: _("The file is too big (at most 2 MB)."),
        FileProblem.UNREADABLE: _("I could not read this file. Please send a CSV or XLSX file."),
        FileProblem.NO_HEADER: _("The first row must hold the column names."),
        FileProblem.MISSING_COLUMNS: _("These columns are missing: {columns}."),
        FileProblem.TOO_MANY_ROWS: _("Too many rows: at most 1000 at a time."),
    }
    return texts[problem].format(columns=", ".join(missing))
