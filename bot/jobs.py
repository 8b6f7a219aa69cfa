"""The scheduler's work list: each capability's domain scan, wired in one place.

A scan is `async def scan(session: AsyncSession, now: datetime, office: OfficeSettings) -> int`: it
finds what is due and enqueues outbox rows (idempotently, by dedup key) in `session`, returning
how many it queued. The scheduler commits. State lives in the database, so a run that is missed
or repeated catches up or does nothing.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from models.office import OfficeSettings

Scan = Callable[[AsyncSession, datetime, OfficeSettings], Awaitable[int]]


@dataclass(frozen=True)
class Job:
    name: str
    scan: Scan
    every_seconds: int | None = None  # periodic scan
    daily_at: tuple[int, int] | None = None  # (hour, minute) in the office's time zone


async def prune_processed_updates(
    session: AsyncSession, now: datetime, office: OfficeSettings
) -> int:
    """Housekeeping: forget processed update ids after a week (Telegram redelivers within a day)."""
    from datetime import timedelta

    from sqlalchemy import delete

    from models.runtime import ProcessedUpdate

    cutoff = now - timedelta(days=7)
    result = await session.execute(
        delete(ProcessedUpdate).where(ProcessedUpdate.processed_at < cutoff)
    )
    return int(getattr(result, "rowcount", 0) or 0)


def _requests_scan() -> Scan:
    from models.requests import scan  # overdue reminders/escalations, rating reminders

    return scan


def _activities_scan() -> Scan:
    from models.activities import scan  # reminders (24h/2h before) and feedback requests

    return scan


def _over_80_scan() -> Scan:
    from models.registration import refresh_over_80  # people who turned 80 since registering

    return refresh_over_80


def all_jobs() -> list[Job]:
    """Capabilities add their jobs here (one line each)."""
    jobs: list[Job] = []
    jobs.append(Job("housekeeping.processed_updates", prune_processed_updates, every_seconds=3600))
    jobs.append(Job("requests.deadlines_and_ratings", _requests_scan(), every_seconds=300))
    jobs.append(Job("activities.reminders_and_feedback", _activities_scan(), every_seconds=60))
    jobs.append(Job("registration.over_80", _over_80_scan(), daily_at=(3, 10)))
    return jobs
