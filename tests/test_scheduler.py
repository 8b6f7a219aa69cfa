"""The scheduler runs each capability's scan on its timetable, in the office's time zone, once
right at start (catching up on downtime), each run in its own transaction; a failing scan is
logged and rolled back and does not stop the others."""

from __future__ import annotations

import asyncio
import logging
import time
from datetime import datetime, timedelta

import pytest
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.config import Settings
from bot.jobs import Job, all_jobs, prune_processed_updates
from bot.scheduler import create_scheduler, run_scan_once, stop_scheduler
from models import OutboxMessage, ProcessedUpdate, enqueue, utcnow


async def queue_hello(session: AsyncSession, now: datetime, settings: Settings) -> int:
    queued = await enqueue(
        session, chat_id=42, kind="test.hello", dedup_key=f"hello:{now.date()}", params={}
    )
    return int(queued)


async def half_done_then_fail(session: AsyncSession, now: datetime, settings: Settings) -> int:
    await enqueue(session, chat_id=43, kind="test.half", dedup_key="half", params={})
    raise RuntimeError("a bug in a scan")


async def outbox_keys(sessionmaker: async_sessionmaker[AsyncSession]) -> set[str]:
    async with sessionmaker() as session:
        return set(await session.scalars(select(OutboxMessage.dedup_key)))


async def test_a_run_commits_what_the_scan_queued(sessionmaker, settings: Settings) -> None:
    job = Job("test.hello", queue_hello, every_seconds=60)
    now = datetime(2026, 1, 28, 1, 0, tzinfo=settings.tz)
    assert await run_scan_once(job, sessionmaker, settings, now=now) == 1
    assert await outbox_keys(sessionmaker) == {"hello:2026-01-28"}
    # Running again finds it already queued: idempotent.
    assert await run_scan_once(job, sessionmaker, settings, now=now) == 0


async def test_a_failing_scan_is_rolled_back_and_logged(
    sessionmaker, settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    job = Job("test.failing", half_done_then_fail, every_seconds=60)
    with caplog.at_level(logging.ERROR, logger="bot.scheduler"):
        assert await run_scan_once(job, sessionmaker, settings) == 0
    assert "test.failing" in caplog.text and "a bug in a scan" in caplog.text
    assert await outbox_keys(sessionmaker) == set()


async def test_jobs_follow_their_timetable_in_the_office_time_zone(sessionmaker, settings) -> None:
    jobs = [
        Job("test.every", queue_hello, every_seconds=300),
        Job("test.daily", queue_hello, daily_at=(8, 30)),
    ]
    scheduler = create_scheduler(sessionmaker, settings, jobs)
    scheduler.start(paused=True)  # jobs are only fully configured once started
    by_id = {job.id: job for job in scheduler.get_jobs()}
    await stop_scheduler(scheduler)
    assert set(by_id) == {"test.every", "test.daily"}
    every, daily = by_id["test.every"], by_id["test.daily"]
    assert isinstance(every.trigger, IntervalTrigger)
    assert every.trigger.interval == timedelta(seconds=300)
    assert isinstance(daily.trigger, CronTrigger)
    assert str(daily.trigger.timezone) == "Asia/Shanghai"
    fields = {f.name: str(f) for f in daily.trigger.fields}
    assert (fields["hour"], fields["minute"]) == ("8", "30")
    for job in (every, daily):
        assert job.coalesce is True and job.max_instances == 1
        assert job.misfire_grace_time is None  # a late run still happens (once)
        # one immediate run at start, whatever the timetable
        assert abs((job.next_run_time - datetime.now(settings.tz)).total_seconds()) < 60


def test_every_registered_job_has_a_timetable(sessionmaker, settings) -> None:
    jobs = all_jobs()
    assert "housekeeping.processed_updates" in {job.name for job in jobs}
    assert len({job.name for job in jobs}) == len(jobs), "two jobs with one name"
    scheduler = create_scheduler(sessionmaker, settings)
    assert len(scheduler.get_jobs()) == len(jobs)


async def test_the_scheduler_runs_every_job_at_start_and_one_failure_stops_nothing(
    sessionmaker, settings: Settings
) -> None:
    jobs = [
        Job("test.failing", half_done_then_fail, every_seconds=3600),
        Job("test.hello", queue_hello, daily_at=(3, 0)),
    ]
    scheduler = create_scheduler(sessionmaker, settings, jobs)
    scheduler.start()
    try:
        deadline = time.monotonic() + 60
        while not await outbox_keys(sessionmaker):
            assert time.monotonic() < deadline, "the start-up run never happened"
            await asyncio.sleep(0.05)
    finally:
        await stop_scheduler(scheduler)
    assert not scheduler.running
    keys = await outbox_keys(sessionmaker)
    assert any(k.startswith("hello:") for k in keys) and "half" not in keys


async def test_housekeeping_forgets_old_update_ids(sessionmaker, settings: Settings) -> None:
    now = utcnow()
    async with sessionmaker() as session:
        session.add_all(
            [
                ProcessedUpdate(bot_id=1, update_id=1, processed_at=now - timedelta(days=8)),
                ProcessedUpdate(bot_id=1, update_id=2, processed_at=now - timedelta(days=6)),
                ProcessedUpdate(bot_id=1, update_id=3, processed_at=now),
            ]
        )
        await session.commit()
    job = Job("housekeeping", prune_processed_updates, every_seconds=3600)
    assert await run_scan_once(job, sessionmaker, settings, now=now) == 1
    async with sessionmaker() as session:
        kept = set(await session.scalars(select(ProcessedUpdate.update_id)))
    assert kept == {2, 3}
