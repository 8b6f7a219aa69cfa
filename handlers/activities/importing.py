"""📥 Import from a file (staff): a CSV or XLSX file sent as a document; good rows become
activities, each bad row is reported with its line and the domain's reason."""

from __future__ import annotations

from aiogram import F, Router
from aiogram.filters import StateFilter
from aiogram.fsm.context import FSMContext
from aiogram.fsm.state import State, StatesGroup
from aiogram.types import CallbackQuery, Message
from aiogram.utils.i18n import gettext as _
from aiogram.utils.i18n import ngettext
from sqlalchemy.ext.asyncio import AsyncSession

from handlers.activities.callbacks import ManageAction, ManageCb
from handlers.activities.texts import file_problem_text, import_help, row_problem_text
from handlers.common import form_keyboard
from handlers.menu import main_menu_keyboard
from handlers.ui import message_of
from models.activity_import import (
    MAX_FILE_BYTES,
    FileProblem,
    import_activities,
    parse_activities,
)
from models.base import utcnow
from models.office import OfficeSettings
from models.users import User


class ImportForm(StatesGroup):
    file = State()


async def import_chosen(query: CallbackQuery, state: FSMContext) -> None:
    message = message_of(query)
    if message is None:
        return
    await state.clear()
    await state.set_state(ImportForm.file)
    await message.answer(import_help(), reply_markup=form_keyboard())


async def file_chosen(
    message: Message,
    state: FSMContext,
    session: AsyncSession,
    user: User,
    office: OfficeSettings,
) -> None:
    document = message.document
    if document is None or message.bot is None:
        return
    if document.file_size is not None and document.file_size > MAX_FILE_BYTES:
        await message.answer(file_problem_text(FileProblem.TOO_BIG, []))
        return
    buffer = await message.bot.download(document)
    data = buffer.read() if buffer is not None else b""
    now = utcnow()
    result = parse_activities(data, document.file_name or "", office.tz, now)
    if result.file_problem is not None:
        await message.answer(
            file_problem_text(result.file_problem, result.missing_columns) + "\n\n" + import_help()
        )
        return
    report = await import_activities(session, user, result, now)
    await state.clear()
    lines = [
        ngettext("Imported {n} activity.", "Imported {n} activities.", report.imported).format(
            n=report.imported
        )
    ]
    if report.errors:
        lines.append(
            ngettext(
                "{n} row was not imported:", "{n} rows were not imported:", len(report.errors)
            ).format(n=len(report.errors))
        )
        for error in report.errors[:50]:
            reason = row_problem_text(error.problem)
            if error.value:
                reason += f" ({error.value[:40]})"
            lines.append(_("Line {line}: {reason}").format(line=error.line, reason=reason))
        lines.append(_("Please correct these rows and send them again."))
    await message.answer("\n".join(lines), reply_markup=main_menu_keyboard(user))


def q_file() -> str:
    return _("Please send the CSV or XLSX file as a document (📎 → File).")


async def file_invalid(message: Message) -> None:
    await message.answer(q_file())


def setup() -> Router:
    """Staff only: included under the capability's staff router."""
    router = Router(name=__name__)
    router.callback_query.register(import_chosen, ManageCb.filter(F.action == ManageAction.IMPORT))
    router.message.register(file_chosen, StateFilter(ImportForm.file), F.document)
    router.message.register(file_invalid, StateFilter(ImportForm.file))
    return router
