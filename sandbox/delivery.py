"""Update delivery, as Telegram does it: the queue of updates waiting for the bot, handed out by
long polling (getUpdates) or posted to the bot's webhook (setWebhook), never both at once.

Long polling: one poller at a time (a newer getUpdates ends the older one with 409 Conflict),
`offset` confirms updates, `allowed_updates` filters them. Webhook: updates are posted one at a
time, in order, with the secret token header; a failed delivery is retried with a growing delay
and shown in getWebhookInfo; a method in the webhook's answer is executed.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import itertools
import json
import re
import time
from collections import deque
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import ClientError, ClientSession

from sandbox.http import read_reply
from sandbox.telegram_text import ApiError, BadRequest, int_param

# Update types the bot gets only when it names them in allowed_updates.
OPT_IN_UPDATE_TYPES = {"chat_member", "message_reaction", "message_reaction_count"}

# Runs a Bot API method (token, method, params) the bot put in its webhook answer.
ExecuteReply = Callable[[str, str, dict[str, Any]], Awaitable[None]]


class Delivery:
    def __init__(self) -> None:
        self.retry_base = 0.2  # seconds; doubles after each failed webhook delivery
        self.retry_max = 10.0
        self._updates: deque[dict[str, Any]] = deque()
        self._update_ids = itertools.count(1)
        self._allowed_updates: list[str] | None = None
        self._new_update = asyncio.Event()
        self._poller_generation = 0
        self._webhook: dict[str, Any] | None = None
        self._webhook_wake = asyncio.Event()
        self._webhook_task: asyncio.Task[None] | None = None
        self._webhook_error: tuple[int, str] | None = None
        self._client: ClientSession | None = None
        self._execute: ExecuteReply | None = None
        self._closing = False

    # -- lifecycle -------------------------------------------------------------------------
    def start(self, client: ClientSession, execute: ExecuteReply) -> None:
        self._client = client
        self._execute = execute
        self._closing = False
        self._webhook_task = asyncio.create_task(self._webhook_loop())

    def close(self) -> None:
        """The server stops: a waiting getUpdates returns at once, empty."""
        self._closing = True
        self._new_update.set()

    async def stop(self) -> None:
        if self._webhook_task is not None:
            self._webhook_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._webhook_task
            self._webhook_task = None

    # -- the queue -------------------------------------------------------------------------
    def enqueue(self, kind: str, payload: dict[str, Any]) -> None:
        if self._allowed_updates:
            if kind not in self._allowed_updates:
                return
        elif kind in OPT_IN_UPDATE_TYPES:
            return
        update = {"update_id": next(self._update_ids), kind: copy.deepcopy(payload)}
        self._updates.append(update)
        self._new_update.set()
        self._webhook_wake.set()

    def pending_updates(self) -> list[dict[str, Any]]:
        return copy.deepcopy(list(self._updates))

    # -- long polling ----------------------------------------------------------------------
    async def get_updates(self, params: dict[str, Any]) -> list[dict[str, Any]]:
        if self._webhook is not None:
            raise ApiError(
                409,
                "Conflict: can't use getUpdates method while webhook is active; use "
                "deleteWebhook to delete the webhook first",
            )
        offset = int_param(params.get("offset"), 0)
        limit = min(max(int_param(params.get("limit"), 100), 1), 100)
        timeout = max(int_param(params.get("timeout"), 0), 0)
        if "allowed_updates" in params and params["allowed_updates"] is not None:
            allowed = params["allowed_updates"]
            self._allowed_updates = list(allowed) if allowed else None
        if offset < 0:
            keep = -offset
            while len(self._updates) > keep:
                self._updates.popleft()
        elif offset:
            while self._updates and self._updates[0]["update_id"] < offset:
                self._updates.popleft()
        self._poller_generation += 1
        generation = self._poller_generation
        self._new_update.set()  # an earlier poller, if any, ends with a conflict
        deadline = time.monotonic() + timeout
        while True:
            if generation != self._poller_generation:
                raise ApiError(
                    409,
                    "Conflict: terminated by other getUpdates request; make sure that only one "
                    "bot instance is running",
                )
            if self._updates or time.monotonic() >= deadline or self._closing:
                return copy.deepcopy(list(itertools.islice(self._updates, limit)))
            self._new_update.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(
                    self._new_update.wait(), max(0.0, deadline - time.monotonic())
                )

    # -- webhook ---------------------------------------------------------------------------
    def set_webhook(self, params: dict[str, Any], token: str) -> bool:
        url = params.get("url") or ""
        if not url:
            self._webhook = None
            return True
        if not re.match(r"^https?://", str(url)):
            raise BadRequest("bad webhook: An HTTPS URL must be provided for webhook")
        secret = params.get("secret_token")
        if secret is not None and not re.fullmatch(r"[A-Za-z0-9_-]{1,256}", str(secret)):
            raise BadRequest("bad webhook: secret token contains unallowed characters")
        if params.get("drop_pending_updates") is True:
            self._updates.clear()
        if params.get("allowed_updates") is not None:
            self._allowed_updates = list(params["allowed_updates"]) or None
        self._webhook = {
            "url": str(url),
            "secret_token": secret,
            "token": token,
            "max_connections": int_param(params.get("max_connections"), 40),
        }
        self._webhook_wake.set()
        return True

    def delete_webhook(self, params: dict[str, Any]) -> bool:
        self._webhook = None
        if params.get("drop_pending_updates") is True:
            self._updates.clear()
        return True

    def webhook_info(self) -> dict[str, Any]:
        info: dict[str, Any] = {
            "url": self._webhook["url"] if self._webhook else "",
            "has_custom_certificate": False,
            "pending_update_count": len(self._updates),
        }
        if self._webhook:
            info["max_connections"] = self._webhook["max_connections"]
            if self._allowed_updates:
                info["allowed_updates"] = list(self._allowed_updates)
            if self._webhook_error:
                info["last_error_date"], info["last_error_message"] = self._webhook_error
        return info

    async def _webhook_loop(self) -> None:
        delay = self.retry_base
        while True:
            if self._webhook is None or not self._updates:
                self._webhook_wake.clear()
                await self._webhook_wake.wait()
                continue
            webhook = self._webhook
            update = self._updates[0]
            ok = await self._deliver(webhook, update)
            if ok:
                if self._updates and self._updates[0] is update:
                    self._updates.popleft()
                delay = self.retry_base
                continue
            self._webhook_wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._webhook_wake.wait(), delay)
            delay = min(delay * 2, self.retry_max)

    async def _deliver(self, webhook: dict[str, Any], update: dict[str, Any]) -> bool:
        assert self._client is not None and self._execute is not None
        headers = {"Content-Type": "application/json"}
        if webhook.get("secret_token"):
            headers["X-Telegram-Bot-Api-Secret-Token"] = webhook["secret_token"]
        try:
            async with self._client.post(
                webhook["url"], data=json.dumps(update), headers=headers
            ) as response:
                if not 200 <= response.status < 300:
                    self._webhook_error = (
                        int(time.time()),
                        f"Wrong response from the webhook: {response.status} {response.reason}",
                    )
                    return False
                reply = await read_reply(response)
        except (ClientError, OSError, TimeoutError) as exc:
            self._webhook_error = (int(time.time()), f"Connection failed: {exc!r:.100}")
            return False
        self._webhook_error = None
        if reply and isinstance(reply.get("method"), str):
            # A method answered in the webhook response: Telegram executes it, answer unseen.
            method = reply.pop("method")
            await self._execute(webhook["token"], method, reply)
        return True
