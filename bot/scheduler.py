"""The scheduler: runs each capability's scan (bot/jobs.py) on its timetable.

A scan only finds what is due and queues outbox rows, so the scheduler holds no state of its
own: missed runs are coalesced into one, every job also runs once right at start (catching up
on downtime from the data), and a run that fails is logged without stopping the others.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.base import BaseTrigger
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.config import Settings
from bot.jobs import Job, all_jobs
from models.base import utcnow

log = logging.getLogger(__name__)


async def run_scan_once(
    job: Job,
    sessionmaker: async_sessionmaker[AsyncSession],
    settings: Settings,
    now: datetime | None = None,
) -> int:
    """One run of one job in its own transaction. Never raises: returns how many rows the
    scan reported (0 after an error, which is logged and rolled back)."""
    now = now or utcnow()
    try:
        async with sessionmaker() as session:
            try:
                count = await job.scan(session, now, settings.office())
                await session.commit()
            except BaseException:
                await session.rollback()
                raise
    except asyncio.CancelledError:
        raise
    except Exception:
        log.exception("scheduled job %s failed", job.name)
        return 0
    if count:
        log.info("scheduled job %s: %d", job.name, count)
    else:
        log.debug("scheduled job %s: nothing due", job.name)
    return int(count or 0)


def _trigger(job: Job, settings: Settings) -> BaseTrigger:
    if job.every_seconds:
        return IntervalTrigger(seconds=job.every_seconds, timezone=settings.tz)
    if job.daily_at:
        hour, minute = job.daily_at
        return CronTrigger(hour=hour, minute=minute, timezone=settings.tz)
    raise ValueError(f"job {job.name!r} has neither every_seconds nor daily_at")


class _InFlight:
    """Remembers the runs in progress so a shutdown can let them finish."""

    def __init__(self) -> None:
        self.tasks: set[asyncio.Task[object]] = set()

    async def run(
        self,
        job: Job,
        sessionmaker: async_sessionmaker[AsyncSession],
        settings: Settings,
    ) -> int:
        task = asyncio.current_task()
        if task is not None:
            self.tasks.add(task)
        try:
            return await run_scan_once(job, sessionmaker, settings)
        finally:
            if task is not None:
                self.tasks.discard(task)


def create_scheduler(
    sessionmaker: async_sessionmaker[AsyncSession],
    settings: Settings,
    jobs: list[Job] | None = None,
) -> AsyncIOScheduler:
    """An AsyncIOScheduler in the office's time zone with one APScheduler job per `Job`.
    Not started: call `.start()` inside a running event loop."""
    scheduler = AsyncIOScheduler(
        timezone=settings.tz,
        job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": None},
    )
    in_flight = _InFlight()
    scheduler.retiree_in_flight = in_flight  # type: ignore[attr-defined]
    start_now = datetime.now(settings.tz)
    for job in all_jobs() if jobs is None else jobs:
        scheduler.add_job(
            in_flight.run,
            trigger=_trigger(job, settings),
            args=(job, sessionmaker, settings),
            id=job.name,
            name=job.name,
            replace_existing=True,
            next_run_time=start_now,  # one run right away: catch up after downtime
        )
    return scheduler


async def stop_scheduler(scheduler: AsyncIOScheduler, timeout: float = 30.0) -> None:
    """Stop starting new runs, let the runs in progress commit, then shut down."""
    if not scheduler.running:
        return
    scheduler.pause()
    in_flight: _InFlight | None = getattr(scheduler, "retiree_in_flight", None)
    if in_flight and in_flight.tasks:
        await asyncio.wait(set(in_flight.tasks), timeout=timeout)
    scheduler.shutdown(wait=False)
    await asyncio.sleep(0)  # AsyncIOScheduler shuts down on the next turn of the event loop


async def run_scheduler(
    sessionmaker: async_sessionmaker[AsyncSession], settings: Settings, stop: asyncio.Event
) -> None:
    """Run the scheduler until `stop` is set (the `retiree-bot scheduler` process)."""
    scheduler = create_scheduler(sessionmaker, settings)
    scheduler.start()
    log.info("scheduler started with %d jobs (%s)", len(scheduler.get_jobs()), settings.timezone)
    try:
        await stop.wait()
    finally:
        await stop_scheduler(scheduler)
        log.info("scheduler stopped")
