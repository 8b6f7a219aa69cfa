"""The last resort when a handler fails: log it with context and tell the person kindly.

The error handler runs outside the other middlewares (aiogram's errors middleware is the
outermost): the update's database session has already been rolled back and closed, and the
locale middleware has exited. So the locale is resolved here from a fresh read of the stored
user, then Telegram's language_code, then the office default. The conversation state is left
as it is, so what the person already entered is kept; the update is not marked processed, so a
redelivery is handled again.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any, TypeVar

from aiogram import Bot, Router
from aiogram.filters import ExceptionTypeFilter
from aiogram.types import Chat, ErrorEvent
from aiogram.types import User as TelegramUser
from aiogram.utils.i18n import I18n
from aiogram.utils.i18n import gettext as _
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from models.errors import DomainError
from models.office import preferred_locale
from models.users import get_user_by_telegram_id

log = logging.getLogger(__name__)

E = TypeVar("E", bound=DomainError)


def error_text() -> str:
    return _(
        "Sorry, something went wrong on our side. What you entered is kept — please try again."
    )


async def resolve_locale(
    i18n: I18n,
    telegram_user: TelegramUser | None,
    sessionmaker: async_sessionmaker[AsyncSession] | None,
) -> str:
    """Stored language first, then Telegram's language_code, then the default."""
    stored = None
    if telegram_user is not None and sessionmaker is not None:
        try:
            async with sessionmaker() as session:
                user = await get_user_by_telegram_id(session, telegram_user.id)
                stored = user.language if user is not None else None
        except Exception:  # the database may be what failed
            log.warning("could not read the user's language", exc_info=True)
    code = telegram_user.language_code if telegram_user else None
    return preferred_locale(stored, code, i18n.default_locale)


async def in_their_language(data: dict[str, Any], text: Callable[[], str]) -> str:
    """`text()` in the language of whoever sent the update (from the handler data)."""
    i18n: I18n = data["i18n"]
    locale = await resolve_locale(i18n, data.get("event_from_user"), data.get("sessionmaker"))
    with i18n.context(), i18n.use_locale(locale):
        return text()


def setup() -> Router:
    """The last resort: after every capability's own error handlers."""
    router = Router(name=__name__)
    router.errors.register(on_error)
    return router


def domain_errors(error_type: type[E], text_of: Callable[[E], str]) -> Router:
    """One capability's error handler: a `error_type` raised by a domain operation (the update
    has been rolled back, so nothing changed and the form is as it was) is told to the person
    with `text_of(error)` in their language: a toast for a button press, a message otherwise."""
    router = Router(name=f"errors:{error_type.__name__}")

    async def on_domain_error(event: ErrorEvent, bot: Bot, **data: Any) -> bool:
        error = event.exception
        assert isinstance(error, error_type)
        log.info("update %s refused: %s", event.update.update_id, error)
        text = await in_their_language(data, lambda: text_of(error))
        callback = event.update.callback_query
        chat: Chat | None = data.get("event_chat")
        try:
            if callback is not None:
                await bot.answer_callback_query(callback.id, text=text, show_alert=True)
            elif chat is not None:
                await bot.send_message(chat.id, text)
        except Exception:
            log.warning("could not tell user about a refusal", exc_info=True)
        return True

    router.errors.register(on_domain_error, ExceptionTypeFilter(error_type))
    return router


async def on_error(
    event: ErrorEvent,
    bot: Bot,
    i18n: I18n,
    event_from_user: TelegramUser | None = None,
    event_chat: Chat | None = None,
    sessionmaker: async_sessionmaker[AsyncSession] | None = None,
    **_data: Any,
) -> bool:
    update = event.update
    user_id = event_from_user.id if event_from_user else None
    log.error(
        "update %s (%s) from user %s failed: %s: %s",
        update.update_id,
        update.event_type,
        user_id,
        type(event.exception).__name__,
        event.exception,
        exc_info=event.exception,
    )
    try:
        callback = update.callback_query
        if callback is not None:
            try:
                await bot.answer_callback_query(callback.id)
            except Exception:  # already answered before the failure, or too old
                log.debug("callback query %s could not be answered", callback.id)
        chat_id = event_chat.id if event_chat else user_id
        if chat_id is None or (event_from_user is not None and event_from_user.is_bot):
            return True
        if update.event_type not in ("message", "edited_message", "callback_query"):
            return True  # nobody is waiting for an answer (membership changes, polls...)
        locale = await resolve_locale(i18n, event_from_user, sessionmaker)
        with i18n.context(), i18n.use_locale(locale):
            text = error_text()
        await bot.send_message(chat_id, text)
    except Exception:
        log.warning("could not tell user %s about the failure", user_id, exc_info=True)
    return True
