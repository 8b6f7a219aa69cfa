"""Assembly of the running bot: migrations, catalogs, Bot + Dispatcher, command list, outbox
sender, scheduler, and updates by long polling or webhook; and its orderly shutdown.

`run_bot` is everything `retiree-bot run` does, as a coroutine that returns when `stop` is set,
so the sandbox can run the same bot in-process against its local Bot API server.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from aiogram import Bot, Dispatcher
from aiogram.client.session.base import BaseSession
from aiogram.exceptions import (
    TelegramAPIError,
    TelegramBadRequest,
    TelegramNetworkError,
    TelegramRetryAfter,
    TelegramServerError,
    TelegramUnauthorizedError,
)
from aiogram.utils.i18n import I18n
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from bot.config import Settings, require_token
from bot.db import create_engine, create_sessionmaker, upgrade
from bot.factory import create_bot, create_dispatcher
from bot.i18n import create_i18n

log = logging.getLogger(__name__)

T = TypeVar("T")

SHUTDOWN_GRACE_SECONDS = 30.0
# Any constant will do: all processes of one deployment take the same lock around migrations.
MIGRATION_LOCK_ID = 7_201_948_331


async def apply_migrations(database_url: str) -> None:
    """Upgrade to every head. On PostgreSQL several processes may start at once (bot, sender,
    scheduler): an advisory lock lets one migrate while the others wait, then find nothing to do."""
    if not database_url.startswith("postgresql"):
        await upgrade(database_url, "heads")
        return
    engine = create_engine(database_url, pool_size=1, max_overflow=0)
    try:
        async with engine.connect() as connection:
            await connection.execute(
                text("SELECT pg_advisory_lock(:id)"), {"id": MIGRATION_LOCK_ID}
            )
            await connection.commit()
            try:
                await upgrade(database_url, "heads")
            finally:
                await connection.execute(
                    text("SELECT pg_advisory_unlock(:id)"), {"id": MIGRATION_LOCK_ID}
                )
                await connection.commit()
    finally:
        await engine.dispose()


async def migrate_or_exit(database_url: str) -> None:
    """Apply migrations; a database that cannot be reached stops the program with one line."""
    from sqlalchemy.exc import DBAPIError

    try:
        await apply_migrations(database_url)
    except (OSError, DBAPIError) as exc:
        reason = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0]
        raise SystemExit(
            f"Cannot use the database (DATABASE_URL): {type(exc).__name__}: {reason}"
        ) from None


REDIS_CHECK_TIMEOUT = 5.0


async def check_redis_or_exit(redis_url: str) -> None:
    """REDIS_URL must answer at start, like the database: otherwise the program stops with one
    line (never the URL, which may hold a password) instead of failing every update."""
    from redis.asyncio import Redis
    from redis.exceptions import RedisError

    try:
        client = Redis.from_url(
            redis_url,
            socket_connect_timeout=REDIS_CHECK_TIMEOUT,
            socket_timeout=REDIS_CHECK_TIMEOUT,
        )
    except ValueError as exc:
        raise SystemExit(f"Invalid setting REDIS_URL: {exc}") from None
    try:
        await client.ping()
    except (RedisError, OSError, TimeoutError) as exc:
        reason = (str(exc).strip().splitlines() or [""])[0].replace(redis_url, "REDIS_URL")
        raise SystemExit(f"Cannot use Redis (REDIS_URL): {type(exc).__name__}: {reason}") from None
    finally:
        await client.aclose()


async def _retry(
    what: str, call: Callable[[], Awaitable[T]], stop: asyncio.Event
) -> tuple[bool, T | None]:
    """Retry a start-up call while Telegram is unreachable (backing off up to 30 s) until it
    succeeds or `stop` is set. Returns (succeeded, result)."""
    delay = 1.0
    while not stop.is_set():
        try:
            return True, await call()
        except TelegramRetryAfter as exc:
            wait = float(exc.retry_after)
        except (TelegramNetworkError, TelegramServerError) as exc:
            wait = delay
            delay = min(delay * 2, 30.0)
            log.warning("%s failed (%s); retrying in %.0f s", what, exc, wait)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=wait)
    return False, None


async def set_bot_commands(bot: Bot, i18n: I18n, admin_ids: list[int] | None = None) -> None:
    """The command list shown by Telegram in each language; administrators also see theirs."""
    from handlers.commands import set_commands

    try:
        await set_commands(bot, i18n, admin_ids or ())
    except TelegramUnauthorizedError:
        raise
    except TelegramAPIError as exc:
        log.warning("could not set the bot's command list (%s); continuing", exc)


def create_sender(
    bot: Bot,
    sessionmaker: async_sessionmaker[AsyncSession],
    i18n: I18n,
    settings: Settings,
) -> Any | None:
    """The outbox sender (bot/sender.py), or None with a warning if it is not installed."""
    try:
        from bot.sender import OutboxSender
    except ModuleNotFoundError as exc:
        if exc.name != "bot.sender":
            raise
        log.warning("outbox sender is not available (bot.sender missing): no pushed messages")
        return None
    from handlers import notification_renderers

    return OutboxSender(
        bot=bot,
        sessionmaker=sessionmaker,
        i18n=i18n,
        settings=settings,
        renderers=notification_renderers(),
    )


class _Runtime:
    """The process's database engine and sessions (the only engine it creates)."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.engine: AsyncEngine = create_engine(settings.database_url)
        self.sessionmaker = create_sessionmaker(self.engine)

    async def close(self) -> None:
        await self.engine.dispose()


async def _wait_tasks(tasks: set[asyncio.Task[Any]], what: str) -> None:
    pending = {t for t in tasks if not t.done()}
    if not pending:
        return
    log.info("letting %d %s finish", len(pending), what)
    _done, still = await asyncio.wait(pending, timeout=SHUTDOWN_GRACE_SECONDS)
    for task in still:
        task.cancel()
    if still:
        log.warning(
            "%d %s did not finish in %.0f s and were cancelled",
            len(still),
            what,
            SHUTDOWN_GRACE_SECONDS,
        )
        await asyncio.gather(*still, return_exceptions=True)


async def _stop_task(task: asyncio.Task[Any] | None, what: str) -> None:
    if task is None:
        return
    try:
        await asyncio.wait_for(asyncio.shield(task), timeout=SHUTDOWN_GRACE_SECONDS)
    except TimeoutError:
        log.warning("%s did not stop in %.0f s; cancelling", what, SHUTDOWN_GRACE_SECONDS)
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    except Exception:
        log.exception("%s failed", what)


def _concurrency(settings: Settings) -> int:
    """Updates in hand at once (bounded, so memory stays bounded under a burst). Most of an
    update's time is spent waiting for Telegram, outside any transaction (commit, then send),
    so SQLite's one writer is not what limits it: the same bound on both databases."""
    return 64


async def _poll(
    dispatcher: Dispatcher, bot: Bot, stop: asyncio.Event, concurrency: int, **data: Any
) -> None:
    """Long polling until `stop`; then the updates in hand finish before returning.
    At most `concurrency` updates are handled at once (memory stays bounded under a burst)."""
    ok, _ = await _retry(
        "deleteWebhook", lambda: bot.delete_webhook(drop_pending_updates=False), stop
    )
    if not ok:
        return

    async def finish_updates_in_hand(**_kwargs: Any) -> None:
        await _wait_tasks(set(dispatcher._handle_update_tasks), "update(s) in hand")

    # start_polling cancels the long poll but lets the update tasks already started run on;
    # they must finish before the shutdown hooks close the FSM storage, so this hook goes first.
    dispatcher.shutdown.register(finish_updates_in_hand)
    dispatcher.shutdown.handlers.insert(0, dispatcher.shutdown.handlers.pop())
    polling = asyncio.create_task(
        dispatcher.start_polling(
            bot,
            handle_signals=False,
            close_bot_session=False,
            tasks_concurrency_limit=concurrency,
            **data,
        ),
        name="polling",
    )
    stopping = asyncio.create_task(stop.wait(), name="stop")
    try:
        await asyncio.wait({polling, stopping}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        stopping.cancel()
        if not polling.done():
            log.info("stopping: no new updates are taken")
            await dispatcher.stop_polling()
        await finish_updates_in_hand()  # (done already by the hook when polling ran)
    await polling  # re-raises a polling failure (e.g. the token was rejected)


async def _serve_webhook(
    dispatcher: Dispatcher, bot: Bot, token: str, settings: Settings, stop: asyncio.Event
) -> None:
    from bot.webhook import create_webhook_app, start_webhook_server, webhook_path, webhook_secret

    assert settings.webhook_url
    secret = webhook_secret(settings, token)
    app = create_webhook_app(
        dispatcher, bot, secret_token=secret, path=webhook_path(settings.webhook_url)
    )
    try:
        runner, _port = await start_webhook_server(
            app, settings.webhook_host, settings.webhook_port
        )
    except OSError as exc:
        raise SystemExit(
            f"Cannot listen on WEBHOOK_HOST:WEBHOOK_PORT "
            f"({settings.webhook_host}:{settings.webhook_port}): {exc.strerror or exc}"
        ) from None
    try:
        try:
            ok, _ = await _retry(
                "setWebhook",
                lambda: bot.set_webhook(
                    settings.webhook_url or "",
                    secret_token=secret,
                    allowed_updates=dispatcher.resolve_used_update_types(),
                ),
                stop,
            )
        except TelegramBadRequest as exc:
            raise SystemExit(f"WEBHOOK_URL was refused by Telegram: {exc.message}") from None
        if ok:
            log.info("webhook set; waiting for updates")
        await stop.wait()
    finally:
        log.info("stopping: no new updates are taken")
        # Stops listening, waits for requests in progress, then the handler's close waits for
        # the updates in hand and the dispatcher's shutdown hooks run.
        await runner.cleanup()


async def run_bot(
    settings: Settings,
    *,
    stop: asyncio.Event | None = None,
    session: BaseSession | None = None,
    with_sender: bool = True,
    with_scheduler: bool = True,
    migrate: bool = True,
) -> None:
    """Run the bot until `stop` is set (or polling fails): everything `retiree-bot run` does.

    `session` replaces the Bot's HTTP session (the sandbox and tests); TELEGRAM_API_URL is
    honoured either way. Returns after an orderly shutdown: updates stop, the update in hand
    finishes, the sender and scheduler stop, sessions and the database are closed."""
    token = require_token(settings)
    stop = stop or asyncio.Event()
    if migrate:
        await migrate_or_exit(settings.database_url)
    if settings.redis_url:
        await check_redis_or_exit(settings.redis_url)
    i18n = create_i18n(settings.default_locale)
    runtime = _Runtime(settings)
    bot = create_bot(settings, token, session=session)
    dispatcher = create_dispatcher(settings, runtime.sessionmaker, i18n=i18n)
    sender_stop = asyncio.Event()
    sender_task: asyncio.Task[Any] | None = None
    scheduler = None
    try:
        # Check the token first (TelegramUnauthorizedError ends the run with one line), waiting
        # out a network that is not up yet.
        ok, me = await _retry("getMe", bot.me, stop)
        if not ok:
            return
        log.info(
            "bot @%s: %s, database %s, conversation state in %s, sender %s, scheduler %s",
            getattr(me, "username", "?"),
            "webhook" if settings.webhook_url else "long polling",
            settings.database_url.split("+", 1)[0],
            "Redis" if settings.redis_url else "the database",
            "on" if with_sender else "off",
            "on" if with_scheduler else "off",
        )
        await set_bot_commands(bot, i18n, settings.admin_ids)
        if with_sender:
            sender = create_sender(bot, runtime.sessionmaker, i18n, settings)
            if sender is not None:
                sender_task = asyncio.create_task(sender.run(sender_stop), name="outbox-sender")
        if with_scheduler:
            from bot.scheduler import create_scheduler

            scheduler = create_scheduler(runtime.sessionmaker, settings)
            scheduler.start()
            log.info(
                "scheduler started: %d jobs (%s)", len(scheduler.get_jobs()), settings.timezone
            )
        if settings.webhook_url:
            await _serve_webhook(dispatcher, bot, token, settings, stop)
        else:
            await _poll(dispatcher, bot, stop, concurrency=_concurrency(settings))
    finally:
        # The updates have stopped: now the sender (which may have rows from the last
        # updates to deliver) and the scheduler, then the connections.
        sender_stop.set()
        await _stop_task(sender_task, "outbox sender")
        if scheduler is not None:
            from bot.scheduler import stop_scheduler

            await stop_scheduler(scheduler)
        with contextlib.suppress(Exception):
            await dispatcher.storage.close()
        await bot.session.close()
        await runtime.close()
        log.info("stopped")


async def run_sender_only(
    settings: Settings, *, stop: asyncio.Event, session: BaseSession | None = None
) -> None:
    """The `retiree-bot sender` process: delivers the outbox, takes no updates."""
    token = require_token(settings)
    await migrate_or_exit(settings.database_url)
    i18n = create_i18n(settings.default_locale)
    runtime = _Runtime(settings)
    bot = create_bot(settings, token, session=session)
    try:
        sender = create_sender(bot, runtime.sessionmaker, i18n, settings)
        if sender is None:
            raise SystemExit("The outbox sender is not available in this installation.")
        ok, _ = await _retry("getMe", bot.me, stop)  # a rejected token: one line, exit
        if not ok:
            return
        log.info("outbox sender started")
        await sender.run(stop)
    finally:
        await bot.session.close()
        await runtime.close()
        log.info("stopped")


async def run_scheduler_only(settings: Settings, *, stop: asyncio.Event) -> None:
    """The `retiree-bot scheduler` process: finds what is due and queues it; needs no token."""
    from bot.scheduler import run_scheduler

    await migrate_or_exit(settings.database_url)
    runtime = _Runtime(settings)
    try:
        await run_scheduler(runtime.sessionmaker, settings, stop)
    finally:
        await runtime.close()
        log.info("stopped")
