"""The office's settings as the domain and the conversation see them.

One small typed object, built once by `bot/` from the environment (`Settings.office()`) and
handed to handlers (middleware data `office`) and to the scheduler's scans. Nothing below
`bot/` reads the environment or the full runtime settings.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from zoneinfo import ZoneInfo

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

    @cached_property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)
