"""Webhook mode: an aiohttp server that takes updates from Telegram (behind a reverse proxy).

Only requests carrying the secret we registered with `setWebhook` are accepted (anything else
gets 401 and is not processed). Updates are processed in the background so Telegram gets its
answer at once; on shutdown the server stops taking requests and the updates in hand finish.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from typing import Any
from urllib.parse import urlsplit

from aiogram import Bot, Dispatcher
from aiogram.methods import TelegramMethod
from aiogram.types import Update
from aiogram.webhook.aiohttp_server import SimpleRequestHandler, setup_application
from aiohttp import web
from pydantic import ValidationError

from bot.config import Settings

log = logging.getLogger(__name__)

DEFAULT_PATH = "/webhook"
HEALTH_PATH = "/healthz"


def webhook_secret(settings: Settings, token: str) -> str:
    """WEBHOOK_SECRET if set, else one derived from the token: the same in every process of a
    deployment (each calls setWebhook), never the token itself. Telegram allows 1-256 chars of
    A-Z, a-z, 0-9, _ and -."""
    if settings.webhook_secret is not None:
        secret = settings.webhook_secret.get_secret_value()
        if secret:
            return secret
    return hashlib.sha256(f"retiree-bot-webhook:{token}".encode()).hexdigest()


def webhook_path(url: str) -> str:
    """The path part of WEBHOOK_URL is where we listen (the proxy forwards it unchanged)."""
    path = urlsplit(url).path
    return path if path and path != "/" else DEFAULT_PATH


class WebhookHandler(SimpleRequestHandler):
    """aiogram's handler with a required secret; on shutdown it waits for the updates in hand
    instead of closing the Bot session under them (the runtime closes the session after)."""

    def __init__(self, dispatcher: Dispatcher, bot: Bot, secret_token: str, **data: Any) -> None:
        if not secret_token:
            raise ValueError("a webhook without a secret token would accept forged updates")
        super().__init__(
            dispatcher, bot, handle_in_background=True, secret_token=secret_token, **data
        )

    def verify_secret(self, telegram_secret_token: str, bot: Bot) -> bool:
        ok = super().verify_secret(telegram_secret_token, bot)
        if not ok:
            log.warning("webhook request with a missing or wrong secret token refused")
        return ok

    async def _handle_request_background(self, bot: Bot, request: web.Request) -> web.Response:
        """Telegram gets its answer at once; the update is handled in the background. A body
        that is not an Update (empty, not JSON, the wrong shape) is refused with 400 and one
        log line, before any task is started for it."""
        try:
            raw = await request.json(loads=bot.session.json_loads)
            update = Update.model_validate(raw, context={"bot": bot})
        except (ValueError, TypeError, ValidationError) as exc:
            reason = str(exc).strip().splitlines()[0][:200] if str(exc).strip() else "empty"
            log.warning(
                "webhook request refused: the body is not a Telegram update (%s: %s)",
                type(exc).__name__,
                reason,
            )
            return web.json_response({"ok": False, "description": "not an update"}, status=400)
        task = asyncio.create_task(self._feed(bot, update))
        self._background_feed_update_tasks.add(task)
        task.add_done_callback(self._background_feed_update_tasks.discard)
        return web.json_response({}, dumps=bot.session.json_dumps)

    async def _feed(self, bot: Bot, update: Update) -> None:
        try:
            result = await self.dispatcher.feed_update(bot, update, **self.data)
            if isinstance(result, TelegramMethod):
                await self.dispatcher.silent_call_request(bot=bot, result=result)
        except Exception:  # the error handlers ran already; never an unretrieved exception
            log.exception("webhook update %s failed", update.update_id)

    async def wait_in_hand(self, timeout: float = 30.0) -> None:
        tasks = set(self._background_feed_update_tasks)
        if tasks:
            log.info("waiting for %d update(s) in hand", len(tasks))
            await asyncio.wait(tasks, timeout=timeout)

    async def close(self) -> None:
        await self.wait_in_hand()


WEBHOOK_HANDLER = web.AppKey("webhook_handler", WebhookHandler)


async def _health(_request: web.Request) -> web.Response:
    return web.Response(text="ok")


def create_webhook_app(
    dispatcher: Dispatcher,
    bot: Bot,
    *,
    secret_token: str,
    path: str = DEFAULT_PATH,
    **data: Any,
) -> web.Application:
    """The aiohttp application: POST `path` for updates, GET /healthz for the load balancer.
    Dispatcher startup/shutdown hooks run with the application's."""
    app = web.Application()
    handler = WebhookHandler(dispatcher, bot, secret_token, **data)
    handler.register(app, path=path)
    app.router.add_get(HEALTH_PATH, _health)
    setup_application(app, dispatcher, bot=bot, **data)
    app[WEBHOOK_HANDLER] = handler
    return app


async def start_webhook_server(
    app: web.Application, host: str, port: int
) -> tuple[web.AppRunner, int]:
    """Start serving; returns the runner and the port actually bound (port 0 picks one)."""
    runner = web.AppRunner(app, handle_signals=False, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, host, port)
    await site.start()
    bound = port
    server = getattr(site, "_server", None)
    sockets = getattr(server, "sockets", None) or []
    if sockets:
        bound = int(sockets[0].getsockname()[1])
    log.info("webhook server listening on %s:%d", host, bound)
    return runner, bound
