"""Logging for the runtime: level from LOG_LEVEL, one line per record, and the bot token never
written out (aiogram and aiohttp put the token in request URLs and error messages)."""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterable

from bot.config import ConfigError

LOG_FORMAT = "%(asctime)s %(levelname)-7s %(name)s: %(message)s"
REDACTED = "***"


class TokenRedactingFilter(logging.Filter):
    """Replaces every secret (the bot token, the webhook secret) in a record's message and
    traceback before any handler formats it. Attach it to handlers, so records from every
    logger pass through it."""

    def __init__(self, secrets: Iterable[str | None] = ()) -> None:
        super().__init__()
        self._secrets: list[str] = []
        for secret in secrets:
            self.add_secret(secret)

    def add_secret(self, secret: str | None) -> None:
        if not secret:
            return
        candidates = [secret]
        # "123456:AAH..." also appears URL-encoded, and the part after the colon is the secret.
        if ":" in secret:
            bot_id, key = secret.split(":", 1)
            candidates += [f"{bot_id}%3A{key}", f"{bot_id}%3a{key}", key]
        for candidate in candidates:
            if len(candidate) >= 8 and candidate not in self._secrets:
                self._secrets.append(candidate)
        self._secrets.sort(key=len, reverse=True)  # longest first: replace the whole token

    def redact(self, text: str) -> str:
        for secret in self._secrets:
            if secret in text:
                text = text.replace(secret, REDACTED)
        return text

    def filter(self, record: logging.LogRecord) -> bool:
        if not self._secrets:
            return True
        try:
            message = record.getMessage()
        except Exception:  # a broken format string: leave the record to the formatter
            return True
        redacted = self.redact(message)
        if redacted != message or record.args:
            record.msg, record.args = redacted, None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = self.redact(record.exc_text)
        if record.stack_info:
            record.stack_info = self.redact(record.stack_info)
        return True


def parse_level(level: str) -> int:
    value = logging.getLevelName(level.strip().upper())
    if not isinstance(value, int):
        raise ConfigError(
            f"Invalid setting LOG_LEVEL: {level!r} is not one of DEBUG, INFO, WARNING, ERROR"
        )
    return value


def setup_logging(level: str = "INFO", secrets: Iterable[str | None] = ()) -> TokenRedactingFilter:
    """Configure the root logger once (idempotent: a second call replaces our handler)."""
    numeric = parse_level(level)
    redactor = TokenRedactingFilter(secrets)
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter(LOG_FORMAT))
    handler.addFilter(redactor)
    handler.set_name("retiree-bot")
    root = logging.getLogger()
    for old in list(root.handlers):
        if old.get_name() == "retiree-bot":
            root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(numeric)
    # Every scheduler tick and every handled update at INFO is noise for an office clerk.
    quiet = max(numeric, logging.WARNING)
    logging.getLogger("apscheduler.executors.default").setLevel(quiet)
    logging.getLogger("apscheduler.scheduler").setLevel(quiet)
    logging.getLogger("aiohttp.access").setLevel(quiet)
    logging.getLogger("alembic.runtime.plugins").setLevel(quiet)
    return redactor
