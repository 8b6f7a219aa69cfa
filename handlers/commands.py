"""The command list Telegram shows in the "/" menu, per language.

Telegram picks the list by the user's app language code: no code = the default list (in the
office's default language, zh_Hans), "zh" = Simplified Chinese, "en" = English. Telegram's
language_code does not tell Traditional from Simplified Chinese ("zh" covers both), so
Traditional Chinese readers see the Simplified list there; every answer of the bot itself
follows the language they chose with /language.
"""

from __future__ import annotations

from collections.abc import Iterable

from aiogram import Bot
from aiogram.types import BotCommand, BotCommandScopeChat, BotCommandScopeDefault
from aiogram.utils.i18n import I18n, get_i18n
from aiogram.utils.i18n import gettext as _

# (Telegram language_code or None for the default list, our locale)
COMMAND_LANGUAGES: tuple[tuple[str | None, str], ...] = (
    (None, "zh_Hans"),
    ("zh", "zh_Hans"),
    ("en", "en"),
)


def bot_commands(locale: str, i18n: I18n | None = None, *, admin: bool = False) -> list[BotCommand]:
    i18n = i18n or get_i18n()
    with i18n.context(), i18n.use_locale(locale):
        commands = [
            BotCommand(command="start", description=_("Start or open the menu")),
            BotCommand(command="menu", description=_("Show the main menu")),
            BotCommand(command="help", description=_("How to use this bot")),
            BotCommand(command="language", description=_("Change the language")),
            BotCommand(command="cancel", description=_("Stop the current question")),
        ]
        if admin:
            commands.append(
                BotCommand(command="invite", description=_("Invite code for a new colleague"))
            )
        return commands


async def set_commands(bot: Bot, i18n: I18n, admin_ids: Iterable[int] = ()) -> None:
    """Everyone's list per language; administrators (ADMIN_IDS) also see /invite in their
    private chat with the bot (pass `settings.admin_ids`)."""
    for language_code, locale in COMMAND_LANGUAGES:
        await bot.set_my_commands(
            bot_commands(locale, i18n),
            scope=BotCommandScopeDefault(),
            language_code=language_code,
        )
    for admin_id in admin_ids:
        for language_code, locale in COMMAND_LANGUAGES:
            await bot.set_my_commands(
                bot_commands(locale, i18n, admin=True),
                scope=BotCommandScopeChat(chat_id=admin_id),
                language_code=language_code,
            )
