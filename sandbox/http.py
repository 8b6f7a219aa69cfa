"""The stand-in Bot API over HTTP: Telegram's URL shape (`/bot<token>/<method>`,
`/file/bot<token>/<path>`), its request encodings (query, form, JSON, multipart) and its envelope
(`{"ok": true, "result": ...}` or `{"ok": false, "error_code", "description", "parameters"}`).

Faults can be injected for benchmarks and reliability tests (`FaultConfig`): rate limits over
sliding windows (429 with `retry_after`), 5xx errors, slow answers and dropped connections.
"""

from __future__ import annotations

import asyncio
import json
import math
import random
import re
from collections import deque
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from aiohttp import BodyPartReader, MultipartReader, web

from sandbox.files import Upload
from sandbox.telegram_text import ApiError

if TYPE_CHECKING:
    from sandbox.server import SandboxServer

# Fields whose text must never be turned into a number or a boolean when decoding form data.
STRING_FIELDS = {
    "text",
    "caption",
    "callback_query_id",
    "callback_data",
    "file_id",
    "inline_message_id",
    "secret_token",
    "url",
    "title",
    "description",
    "short_description",
    "name",
    "emoji",
    "language_code",
    "parse_mode",
    "action",
    "business_connection_id",
    "message_effect_id",
    "phone_number",
    "first_name",
    "last_name",
    "vcard",
    "address",
    "foursquare_id",
    "ip_address",
    "media_group_id",
    "question",
    "explanation",
    "custom_title",
    "invite_link",
    "query",
}
FILE_FIELDS = (
    "photo",
    "document",
    "voice",
    "audio",
    "video",
    "animation",
    "video_note",
    "sticker",
)
_RATE_LIMITED_PREFIXES = ("send", "edit", "copyMessage", "forwardMessage")


# -- faults ------------------------------------------------------------------------------------


@dataclass
class FaultConfig:
    global_rate_per_second: float | None = None  # answer 429 with retry_after beyond it
    per_chat_per_second: float | None = None  # Telegram's ~1 msg/s per chat
    error_rate: float = 0.0  # injected 5xx (500/502) at this rate
    slow_rate: float = 0.0
    slow_seconds: float = 1.0
    drop_rate: float = 0.0  # close the connection without answering
    seed: int | None = None

    _NAMES = {
        "global": "global_rate_per_second",
        "per_chat": "per_chat_per_second",
        "error": "error_rate",
        "slow": "slow_rate",
        "slow_seconds": "slow_seconds",
        "drop": "drop_rate",
        "seed": "seed",
    }

    @classmethod
    def parse(cls, spec: str) -> FaultConfig:
        """From a command-line string, e.g. "global=30,per_chat=1,error=0.05,drop=0.01,seed=7".

        Raises ValueError naming the bad part."""
        values: dict[str, Any] = {}
        for part in filter(None, (p.strip() for p in spec.split(","))):
            key, _, raw = part.partition("=")
            name = cls._NAMES.get(key.strip())
            if name is None or not raw:
                known = ", ".join(cls._NAMES)
                raise ValueError(f"unknown fault {part!r}; use name=value with names {known}")
            try:
                values[name] = int(raw) if name == "seed" else float(raw)
            except ValueError:
                raise ValueError(f"fault {key!r} needs a number, not {raw!r}") from None
        return cls(**values)


class RateWindow:
    """At most `rate` accepted requests per second over a sliding window."""

    def __init__(self, rate: float) -> None:
        self.window = max(1.0, 1.0 / rate)
        self.allowed = max(1, int(rate * self.window))
        self.times: deque[float] = deque()

    def retry_after(self, now: float) -> int | None:
        while self.times and now - self.times[0] >= self.window:
            self.times.popleft()
        if len(self.times) >= self.allowed:
            return max(1, math.ceil(self.window - (now - self.times[0])))
        return None

    def take(self, now: float) -> None:
        self.times.append(now)


class FaultInjector:
    """The faults of one FaultConfig: its random draws and its rate windows."""

    def __init__(self, config: FaultConfig) -> None:
        self.config = config
        self._rng = random.Random(config.seed)
        self._global_window: RateWindow | None = None
        self._chat_windows: dict[int, RateWindow] = {}

    def pick(self) -> str | None:
        """ "drop", "error", "slow" or None for this request."""
        f = self.config
        if f.drop_rate and self._rng.random() < f.drop_rate:
            return "drop"
        if f.error_rate and self._rng.random() < f.error_rate:
            return "error"
        if f.slow_rate and self._rng.random() < f.slow_rate:
            return "slow"
        return None

    def error_status(self) -> int:
        return self._rng.choice((500, 502))

    def check_rate(self, method: str, params: dict[str, Any], now: float) -> None:
        """Raises 429 with `retry_after` when sending this would go over a rate limit."""
        if not method.startswith(_RATE_LIMITED_PREFIXES) or method == "sendChatAction":
            return
        windows: list[RateWindow] = []
        if self.config.global_rate_per_second:
            if self._global_window is None:
                self._global_window = RateWindow(self.config.global_rate_per_second)
            windows.append(self._global_window)
        chat_id = params.get("chat_id")
        if self.config.per_chat_per_second and isinstance(chat_id, int):
            window = self._chat_windows.get(chat_id)
            if window is None:
                window = self._chat_windows[chat_id] = RateWindow(self.config.per_chat_per_second)
            windows.append(window)
        waits = [w for w in (window.retry_after(now) for window in windows) if w]
        if waits:
            wait = max(waits)
            raise ApiError(429, f"Too Many Requests: retry after {wait}", {"retry_after": wait})
        for window in windows:
            window.take(now)


# -- the application ---------------------------------------------------------------------------

_SERVER_KEY = web.AppKey("sandbox_bot_api", object)


def build_app(server: SandboxServer) -> web.Application:
    from sandbox.page_api import add_page_routes

    app = web.Application(client_max_size=60 * 1024 * 1024)
    app[_SERVER_KEY] = server
    app.router.add_route("*", r"/bot{token}/{method}", _handle_api)
    app.router.add_get(r"/file/bot{token}/{path:.+}", _handle_file)
    add_page_routes(app, server)
    return app


def _server(request: web.Request) -> SandboxServer:
    return request.app[_SERVER_KEY]  # type: ignore[return-value]


async def _handle_api(request: web.Request) -> web.StreamResponse:
    server = _server(request)
    token = request.match_info["token"]
    method = request.match_info["method"]
    try:
        params, files = await read_params(request)
    except ValueError:
        return envelope_error(ApiError(400, "Bad Request: can't parse request body"))
    if not re.fullmatch(r"\d+:[\w-]+", token):
        server.record(method, params, token, 401)
        return envelope_error(ApiError(401, "Unauthorized"))
    faults = server.fault_injector
    fault = faults.pick()
    if fault == "drop":
        server.record(method, params, token, 0)
        return _drop(request)
    if fault == "error":
        status = faults.error_status()
        server.record(method, params, token, status)
        text = "Internal Server Error" if status == 500 else "Bad Gateway"
        return envelope_error(ApiError(status, text))
    # A slow answer: the request is taken (rate limits, the message, the record) when it
    # arrives, and the answer comes `slow_seconds` later, as over a slow network. A client that
    # gives up meanwhile does not undo it (Telegram has no idempotency key).
    delay = faults.config.slow_seconds if fault == "slow" else 0.0
    try:
        result = await server.call(token, method, params, files)
    except ApiError as error:
        server.record(method, params, token, error.error_code)
        if delay:
            await asyncio.sleep(delay)
        return envelope_error(error)
    server.record(method, params, token, 200)
    if delay:
        await asyncio.sleep(delay)
    return web.json_response({"ok": True, "result": result})


async def _handle_file(request: web.Request) -> web.StreamResponse:
    stored = _server(request).files.by_path(request.match_info["path"])
    if stored is not None:
        return web.Response(
            body=stored.read(), content_type=stored.mime_type or "application/octet-stream"
        )
    return web.json_response(
        {"ok": False, "error_code": 404, "description": "Not Found"}, status=404
    )


def envelope_error(error: ApiError) -> web.Response:
    payload: dict[str, Any] = {
        "ok": False,
        "error_code": error.error_code,
        "description": error.description,
    }
    if error.parameters:
        payload["parameters"] = error.parameters
    return web.json_response(payload, status=error.error_code)


def _drop(request: web.Request) -> web.StreamResponse:
    transport = request.transport
    if transport is not None:
        transport.abort()
    raise asyncio.CancelledError


# -- request and response decoding -------------------------------------------------------------


def decode_value(key: str, value: Any) -> Any:
    """A form or query value as the JSON value it stands for (numbers, booleans, objects)."""
    if not isinstance(value, str) or key in STRING_FIELDS:
        return value
    if value[:1] in "[{":
        try:
            return json.loads(value)
        except ValueError:
            return value
    if re.fullmatch(r"-?\d{1,19}", value):
        return int(value)
    if value in ("true", "false"):
        return value == "true"
    if re.fullmatch(r"-?\d+\.\d+", value):
        return float(value)
    return value


async def read_params(request: web.Request) -> tuple[dict[str, Any], dict[str, Upload]]:
    """A method's parameters, however they were sent, and the files uploaded with them."""
    raw: dict[str, Any] = dict(request.query)
    files: dict[str, Upload] = {}
    if request.method == "POST" and request.can_read_body:
        content_type = request.content_type
        if content_type == "application/json":
            body = await request.json()
            if not isinstance(body, dict):
                raise ValueError("JSON body must be an object")
            raw.update(body)
        elif content_type.startswith("multipart/"):
            reader = await request.multipart()
            while True:
                part = await reader.next()
                if part is None:
                    break
                if not isinstance(part, BodyPartReader):
                    continue
                data = await part.read(decode=True)
                name = part.name or ""
                if part.filename is not None:
                    files[name] = Upload(
                        bytes(data), part.filename, part.headers.get("Content-Type")
                    )
                    if name in FILE_FIELDS:
                        raw[name] = f"attach://{name}"
                else:
                    raw[name] = bytes(data).decode(part.get_charset("utf-8"))
        else:
            raw.update(await request.post())
    return {key: decode_value(key, value) for key, value in raw.items()}, files


async def read_reply(response: Any) -> dict[str, Any] | None:
    """A webhook's answer body (JSON or multipart form) as a dict, if any."""
    content_type = response.content_type or ""
    if content_type == "application/json":
        body = await response.json(content_type=None)
        return body if isinstance(body, dict) else None
    if content_type.startswith("multipart/"):
        reader = MultipartReader.from_response(response)
        fields: dict[str, Any] = {}
        while True:
            part = await reader.next()
            if part is None:
                break
            if isinstance(part, BodyPartReader) and part.name:
                data = await part.read(decode=True)
                fields[part.name] = bytes(data).decode("utf-8", "replace")
        return {key: decode_value(key, value) for key, value in fields.items()}
    return None
