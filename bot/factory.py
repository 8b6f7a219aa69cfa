"""One factory builds Bot and Dispatcher, for production and for tests alike."""

from __future__ import annotations

from aiogram import Bot, Dispatcher
from aiogram.client.default import DefaultBotProperties
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.session.base import BaseSession
from aiogram.client.telegram import TelegramAPIServer
from aiogram.fsm.storage.base import BaseEventIsolation, BaseStorage
from aiogram.fsm.storage.memory import SimpleEventIsolation
from aiogram.utils.i18n import I18n, gettext
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.config import Settings
from bot.fsm_storage import create_storage
from bot.i18n import UserLocaleMiddleware, create_i18n
from bot.middlewares import (
    CallbackAnswerMiddleware,
    CurrentUserMiddleware,
    DbSessionMiddleware,
    RetryOnWriteLockMiddleware,
    ThrottlingMiddleware,
)


def create_bot(settings: Settings, token: str, session: BaseSession | None = None) -> Bot:
    if session is None:
        session = AiohttpSession()
    if settings.telegram_api_url:
        session.api = TelegramAPIServer.from_base(settings.telegram_api_url.rstrip("/"))
    # Plain text by default: user-entered names and descriptions must never be parsed as HTML.
    return Bot(token=token, session=session, default=DefaultBotProperties(parse_mode=None))


def create_dispatcher(
    settings: Settings,
    sessionmaker: async_sessionmaker[AsyncSession],
    *,
    storage: BaseStorage | None = None,
    i18n: I18n | None = None,
) -> Dispatcher:
    import handlers  # handlers import the domain; keep bot/ import-light

    if storage is None:
        storage = create_storage(settings.redis_url, sessionmaker)
    if i18n is None:
        i18n = create_i18n(settings.default_locale)
    # One update at a time per person: two quick messages must not race on their form state.
    # Across processes (Redis) the lock lives in Redis too.
    # (RedisStorage has create_isolation; redis is imported only when REDIS_URL is set.)
    create_isolation = getattr(storage, "create_isolation", None)
    isolation: BaseEventIsolation = (
        create_isolation() if create_isolation is not None else SimpleEventIsolation()
    )
    dispatcher = Dispatcher(
        storage=storage,
        events_isolation=isolation,
        settings=settings,  # the runtime's own; handlers take `office` (no secrets, no bot/)
        office=settings.office(),
        sessionmaker=sessionmaker,
        i18n=i18n,
        forms=handlers.forms(),
    )
    # aiogram's FSM middleware would read the state on a connection of its own before the
    # update's session opens; DbSessionMiddleware takes its place (same lock, same context)
    # and CurrentUserMiddleware reads the state with the user, in the update's session.
    dispatcher.update.outer_middleware.unregister(dispatcher.fsm)
    dispatcher.update.outer_middleware(DbSessionMiddleware(sessionmaker, dispatcher.fsm))
    dispatcher.update.outer_middleware(CurrentUserMiddleware(settings.admin_ids))
    dispatcher.update.outer_middleware(UserLocaleMiddleware(i18n))
    throttling = ThrottlingMiddleware(
        settings.throttle_seconds,
        hint=lambda: gettext("One moment please, I am still answering your last message."),
    )
    dispatcher.message.outer_middleware(throttling)
    dispatcher.callback_query.outer_middleware(throttling)
    # Every button press is answered once, by its handler or after it (inner: runs only when a
    # handler matched; the fallback answers the rest).
    dispatcher.callback_query.middleware(CallbackAnswerMiddleware())
    # Innermost, around the handler itself: on SQLite, a handler whose first write finds the
    # write lock taken runs again with the lock taken up front (filters are not run twice).
    retry = RetryOnWriteLockMiddleware()
    for name, observer in dispatcher.observers.items():
        if name not in ("update", "error"):
            observer.middleware(retry)
    dispatcher.include_router(handlers.setup())
    return dispatcher
