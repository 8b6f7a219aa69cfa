"""A local stand-in for Telegram's Bot API server, plus the chat page that talks to it.

The bot connects to it exactly as it would to Telegram (`TELEGRAM_API_URL=<api_url>`): same URL
shape (`/bot<token>/<method>`, `/file/bot<token>/<path>`), same envelope, same refusals and
description strings, long polling or webhook delivery. People are simulated by the test or the
browser page (`user_sends`, `user_presses`), and everything the bot asks for is recorded in
`requests`. Faults (rate limits, 5xx, slow answers, dropped connections) can be injected for
benchmarks and reliability tests.

`SandboxServer` is the world (sandbox/world.py: people, chats, messages) served over HTTP
(sandbox/http.py), with the Bot API methods of sandbox/methods.py, update delivery
(sandbox/delivery.py) and files (sandbox/files.py). All state is in memory and lives as long as
the server: it is a development and training tool, not a message store.
"""

from __future__ import annotations

import inspect
import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aiohttp import ClientSession, ClientTimeout, web

from sandbox.delivery import Delivery
from sandbox.files import FileStore, Upload
from sandbox.http import FaultConfig, FaultInjector, build_app
from sandbox.methods import METHODS
from sandbox.telegram_text import ApiError
from sandbox.world import World

__all__ = ["FaultConfig", "RecordedRequest", "SandboxServer"]

log = logging.getLogger(__name__)


@dataclass
class RecordedRequest:
    method: str
    params: dict[str, Any]
    token: str
    status: int  # HTTP status answered; 0 when the connection was dropped on purpose
    at: float


class SandboxServer(World):
    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        faults: FaultConfig | None = None,
        bot_username: str = "retiree_service_bot",
        bot_name: str = "Retiree Service",
        file_dir: Path | None = None,
    ) -> None:
        self.delivery = Delivery()
        super().__init__(
            FileStore(file_dir),
            self.delivery.enqueue,
            bot_username=bot_username,
            bot_name=bot_name,
        )
        self.host = host
        self.port = port
        self.requests: list[RecordedRequest] = []
        self.token = ""  # of the last request: a webhook is set for it
        self.fault_injector = FaultInjector(faults or FaultConfig())
        self._runner: web.AppRunner | None = None
        self._client: ClientSession | None = None

    @property
    def faults(self) -> FaultConfig:
        return self.fault_injector.config

    @faults.setter
    def faults(self, faults: FaultConfig) -> None:
        """Change the faults while running (a benchmark phase): limits and the RNG start over."""
        self.fault_injector = FaultInjector(faults)

    @property
    def file_dir(self) -> Path | None:
        return self.files.file_dir

    @property
    def webhook_retry_base(self) -> float:
        """Seconds before the first retry of a failed webhook delivery; doubles after each."""
        return self.delivery.retry_base

    @webhook_retry_base.setter
    def webhook_retry_base(self, seconds: float) -> None:
        self.delivery.retry_base = seconds

    @property
    def webhook_retry_max(self) -> float:
        return self.delivery.retry_max

    @webhook_retry_max.setter
    def webhook_retry_max(self, seconds: float) -> None:
        self.delivery.retry_max = seconds

    # -- lifecycle -------------------------------------------------------------------------
    @property
    def base_url(self) -> str:
        host = "127.0.0.1" if self.host in ("", "0.0.0.0") else self.host
        return f"http://{host}:{self.port}"

    @property
    def api_url(self) -> str:
        return self.base_url

    def build_app(self) -> web.Application:
        return build_app(self)

    async def start(self) -> None:
        self.files.prepare()
        self._client = ClientSession(timeout=ClientTimeout(total=30))
        self.open()
        self._runner = web.AppRunner(
            self.build_app(), handle_signals=False, access_log=None, shutdown_timeout=2.0
        )
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port)
        await site.start()
        server = getattr(site, "_server", None)
        if self.port == 0 and server is not None and server.sockets:
            self.port = server.sockets[0].getsockname()[1]
        self.delivery.start(self._client, self._execute_reply)
        log.info("Sandbox Bot API server at %s", self.base_url)

    async def stop(self) -> None:
        # Long polls (the bot's getUpdates, the page's events) return at once, empty.
        self.delivery.close()
        self.close()
        await self.delivery.stop()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        if self._client is not None:
            await self._client.close()
            self._client = None

    async def __aenter__(self) -> SandboxServer:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    # -- the Bot API -----------------------------------------------------------------------
    async def call(
        self, token: str, method: str, params: dict[str, Any], files: dict[str, Upload]
    ) -> Any:
        """Run one Bot API method for the bot with that token; its result or ApiError."""
        self.bot_id = int(token.split(":", 1)[0])
        self.token = token
        handler = METHODS.get(method)
        if handler is None:
            raise ApiError(404, "Not Found: method not found")
        self.fault_injector.check_rate(method, params, time.monotonic())
        result = handler(self, params, files)
        if inspect.isawaitable(result):
            result = await result
        return result

    async def _execute_reply(self, token: str, method: str, params: dict[str, Any]) -> None:
        """A method the bot put in its webhook answer: run, recorded, its answer unseen."""
        try:
            await self.call(token, method, params, files={})
            self.record(method, params, token, 200)
        except ApiError as error:
            self.record(method, params, token, error.error_code)

    def record(self, method: str, params: dict[str, Any], token: str, status: int) -> None:
        self.requests.append(RecordedRequest(method, params, token, status, time.time()))

    def pending_updates(self) -> list[dict[str, Any]]:
        return self.delivery.pending_updates()

    def file_bytes(self, file_id: str) -> tuple[bytes, str] | None:
        return self.files.file_bytes(file_id)
