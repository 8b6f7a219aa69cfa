"""The office's settings as the domain and the conversation see them.

One small typed object, built once by `bot/` from the environment (`Settings.office()`) and
handed to handlers (middleware data `office`) and to the scheduler's scans. Nothing below
`bot/` reads the environment or the full runtime settings.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from zoneinfo import ZoneInfo

SUPPORTED_LOCALES = ("zh_Hans", "zh_Hant", "en")
DEFAULT_TIMEZONE = "Asia/Shanghai"
DEFAULT_REMINDER_HOURS: tuple[int, ...] = (24, 2)


@dataclass(frozen=True)
class OfficeSettings:
    timezone: str = DEFAULT_TIMEZONE
    default_locale: str = "zh_Hans"
    # The staff group where request cards appear (None: the private queue only).
    staff_chat_id: int | None = None
    # Hours before an activity at which participants are reminded.
    activity_reminder_hours: tuple[int, ...] = DEFAULT_REMINDER_HOURS
    # Telegram user ids of the bootstrap administrators.
    admin_ids: frozenset[int] = field(default_factory=frozenset)
    # The office's phone number (OFFICE_PHONE), for those who would rather call; None: not set.
    phone: str | None = None

    @cached_property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)


def locale_from_language_code(code: str | None) -> str | None:
    """Map Telegram's IETF language_code (zh-hans, zh-CN, zh-TW, en-GB...) to our locales."""
    if not code:
        return None
    code = code.lower().replace("_", "-")
    if code.startswith("zh"):
        if any(tag in code for tag in ("hant", "-tw", "-hk", "-mo")):
            return "zh_Hant"
        return "zh_Hans"
    if code.startswith("en"):
        return "en"
    return None


def preferred_locale(stored: str | None, telegram_code: str | None, default: str) -> str:
    """The one rule for whom we speak to in which language: the language the person chose,
    then the one their Telegram app uses, then the office's default."""
    if stored in SUPPORTED_LOCALES:
        return str(stored)
    return locale_from_language_code(telegram_code) or default
