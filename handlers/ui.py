"""Answering on screen: replacing the message under a button, or sending a new one."""

from __future__ import annotations

import logging

from aiogram.exceptions import TelegramBadRequest
from aiogram.types import (
    CallbackQuery,
    InaccessibleMessage,
    InlineKeyboardMarkup,
    Message,
)

log = logging.getLogger(__name__)


def message_of(query: CallbackQuery) -> Message | None:
    """The message under the button, if the bot can still edit it."""
    message = query.message
    if message is None or isinstance(message, InaccessibleMessage):
        return None
    return message


def not_modified(error: TelegramBadRequest) -> bool:
    """Telegram refuses an edit that changes nothing; for us that edit has succeeded."""
    return "message is not modified" in error.message


def _gone(error: TelegramBadRequest) -> bool:
    text = error.message.lower()
    return "message to edit not found" in text or "message can't be edited" in text


async def edit_or_send(
    query: CallbackQuery, text: str, reply_markup: InlineKeyboardMarkup | None = None
) -> None:
    """Replace the message under the button with `text`; send a new message when it cannot be
    edited (too old, deleted, or a photo). Pressing a button that changes nothing is fine."""
    message = message_of(query)
    if message is not None and message.text is not None:
        try:
            await message.edit_text(text, reply_markup=reply_markup)
            return
        except TelegramBadRequest as error:
            if not_modified(error):
                return
            if not _gone(error):
                raise
            log.debug("message %s can no longer be edited; sending a new one", message.message_id)
    if query.bot is not None:
        await query.bot.send_message(query.from_user.id, text, reply_markup=reply_markup)


async def edit_markup(query: CallbackQuery, reply_markup: InlineKeyboardMarkup | None) -> None:
    """Change (or remove) the buttons under the message; nothing to change is fine."""
    message = message_of(query)
    if message is None:
        return
    try:
        await message.edit_reply_markup(reply_markup=reply_markup)
    except TelegramBadRequest as error:
        if not (not_modified(error) or _gone(error)):
            raise
