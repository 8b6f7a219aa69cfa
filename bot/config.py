"""Settings from the environment and an optional `.env` file.

A missing or invalid setting stops the program with one line naming it (see `load_settings`),
never a traceback: the person starting the bot is often an office clerk, not a developer.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Annotated
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from models.office import SUPPORTED_LOCALES, OfficeSettings

DEFAULT_DATABASE_URL = "sqlite+aiosqlite:///./data/retiree-bot.sqlite3"


class ConfigError(SystemExit):
    """Raised with a single human-readable line; SystemExit so no traceback is printed."""

    def __init__(self, line: str) -> None:
        super().__init__(line)
        self.line = line


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_file=".env", env_file_encoding="utf-8", extra="ignore", case_sensitive=False
    )

    bot_token: SecretStr | None = None
    database_url: str = DEFAULT_DATABASE_URL
    redis_url: str | None = None
    timezone: str = "Asia/Shanghai"
    default_locale: str = "zh_Hans"
    telegram_api_url: str | None = None
    webhook_url: str | None = None
    webhook_secret: SecretStr | None = None
    webhook_host: str = "0.0.0.0"
    webhook_port: int = Field(default=8080, ge=1, le=65535)
    admin_ids: Annotated[list[int], NoDecode] = Field(default_factory=list)
    staff_chat_id: int | None = None
    # The office's phone number, given in ❓ Help for those who would rather call.
    office_phone: str | None = Field(default=None, max_length=40)
    # Outbox sender: stay well below Telegram's ~30 messages per second (one rate for all
    # senders of the bot together).
    outbox_rate_per_second: float = Field(default=20.0, gt=0)
    # A message not delivered this long after it was due is given up (an outage never uses up
    # a message: only its age, a 400 or a 403 do). Per kind, in hours: "act.changed=12,...".
    outbox_expiry_days: float = Field(default=3.0, gt=0)
    outbox_expiry_hours_by_kind: Annotated[dict[str, float], NoDecode] = Field(default_factory=dict)
    # A request Telegram does not answer in this many seconds is abandoned (and retried).
    outbox_request_timeout: float = Field(default=5.0, gt=0, le=60)
    # Requests in flight at once (never two to one chat): enough to keep the rate with a slow
    # round trip or a hung request.
    outbox_concurrency: int = Field(default=16, ge=1, le=100)
    throttle_seconds: float = Field(default=0.3, ge=0)
    # Hours before an activity at which participants are reminded ("24,2").
    activity_reminder_hours: Annotated[list[int], NoDecode] = Field(default_factory=lambda: [24, 2])
    log_level: str = "INFO"

    @field_validator("admin_ids", "activity_reminder_hours", mode="before")
    @classmethod
    def _split_ids(cls, value: object) -> object:
        if isinstance(value, str):
            return [int(part) for part in value.replace(";", ",").split(",") if part.strip()]
        if isinstance(value, int):
            return [value]
        return value

    @field_validator("outbox_expiry_hours_by_kind", mode="before")
    @classmethod
    def _kind_hours(cls, value: object) -> object:
        if not isinstance(value, str):
            return value
        hours: dict[str, float] = {}
        for part in filter(None, (p.strip() for p in value.replace(";", ",").split(","))):
            kind, _, raw = part.partition("=")
            try:
                hours[kind.strip()] = float(raw)
            except ValueError:
                raise ValueError(f"use kind=hours, e.g. act.changed=12 (not {part!r})") from None
        return hours

    @field_validator("outbox_expiry_hours_by_kind")
    @classmethod
    def _known_kinds(cls, value: dict[str, float]) -> dict[str, float]:
        from models.notification_kinds import NotificationKind

        known = {kind.value for kind in NotificationKind}
        for kind, hours in value.items():
            if kind not in known:
                raise ValueError(f"unknown notification kind {kind!r}")
            if hours <= 0:
                raise ValueError(f"hours for {kind} must be more than 0")
        return value

    def outbox_expiry(self, kind: str) -> timedelta:
        """How long after it was due a message of `kind` may still be delivered."""
        hours = self.outbox_expiry_hours_by_kind.get(kind)
        return (
            timedelta(hours=hours) if hours is not None else timedelta(days=self.outbox_expiry_days)
        )

    @field_validator("timezone")
    @classmethod
    def _known_timezone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {value!r}") from exc
        return value

    @field_validator("default_locale")
    @classmethod
    def _known_locale(cls, value: str) -> str:
        if value not in SUPPORTED_LOCALES:
            raise ValueError(f"must be one of {', '.join(SUPPORTED_LOCALES)}")
        return value

    @field_validator("database_url")
    @classmethod
    def _known_database(cls, value: str) -> str:
        if not value.startswith(("sqlite+aiosqlite://", "postgresql+asyncpg://")):
            raise ValueError("must start with sqlite+aiosqlite:// or postgresql+asyncpg://")
        return value

    @field_validator("webhook_url")
    @classmethod
    def _https_webhook(cls, value: str | None) -> str | None:
        if value and not value.startswith(("https://", "http://")):
            raise ValueError("must be an http(s) URL")
        return value or None

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    def office(self) -> OfficeSettings:
        """What handlers and the domain may know of the configuration (no secrets)."""
        return OfficeSettings(
            timezone=self.timezone,
            default_locale=self.default_locale,
            staff_chat_id=self.staff_chat_id,
            activity_reminder_hours=tuple(self.activity_reminder_hours),
            admin_ids=frozenset(self.admin_ids),
            phone=(self.office_phone or "").strip() or None,
        )

    @property
    def token(self) -> str | None:
        return self.bot_token.get_secret_value() if self.bot_token else None

    def sqlite_path(self) -> Path | None:
        if not self.database_url.startswith("sqlite"):
            return None
        path = self.database_url.split(":///", 1)[1]
        return None if path in ("", ":memory:") else Path(path)


def load_settings(**overrides: object) -> Settings:
    """Build settings, turning validation errors into one line that names the setting."""
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        error = exc.errors()[0]
        name = str(error["loc"][0]).upper() if error["loc"] else "configuration"
        raise ConfigError(f"Invalid setting {name}: {error['msg']}") from None


def require_token(settings: Settings) -> str:
    if not settings.token:
        raise ConfigError(
            "BOT_TOKEN is not set: put the token from @BotFather in the environment or in .env "
            "(or run `retiree-bot sandbox` to try the bot without Telegram)."
        )
    return settings.token
