"""The scheduler: APScheduler 3 with its jobs in the application's own database
(SQLAlchemyJobStore, table apscheduler_jobs; on SQLite a file of their own beside the database, see
job_store), run by every web process and every `madoguchi worker`.

Jobs survive restarts (they live in the database) and a run missed while nothing was up happens
at the next start (coalesced into one, within a grace time). Several processes sharing the store
may each run a job: every job is written to be safe to run twice (reminders keep a unique marker
per booking and kind, see notifications/reminders.py), so no job relies on APScheduler for "once".

Jobs:
- reservations:reminders  every REMINDER_SWEEP_SECONDS: pushes the reminders that fell due.
- reservations:purge      nightly at 03:15 (Tokyo): purges form answers past their retention.
- gis:garbage             every REMINDER_SWEEP_SECONDS: the opt-in garbage-day reminders (once a day each).
- bot:retention           nightly at 03:30 (Tokyo): deletes processed webhook events and sent messages
                          older than MESSAGE_LOG_RETENTION_DAYS (they hold what citizens typed).
"""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta
from pathlib import Path

from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from sqlalchemy.engine import make_url

from bot import clock
from bot import inbox as inbox_service
from bot import outbox as outbox_service
from bot.db import Database
from bot.settings import Settings
from notifications import reminders

log = logging.getLogger(__name__)

JOB_TABLE = "apscheduler_jobs"
REMINDER_JOB = "reservations:reminders"
PURGE_JOB = "reservations:purge"
GARBAGE_JOB = "gis:garbage"
RETENTION_JOB = "bot:retention"


def job_store(db: Database) -> SQLAlchemyJobStore:
    """PostgreSQL: the jobs live in the application's database. SQLite: in a file of their own
    beside it (`<database>.scheduler.db`). APScheduler reads and writes its store from the event
    loop, in transactions of its own: on the application's SQLite file, each of those could meet
    the processor's write lock and stall the event loop, and with it every webhook, in SQLite's
    busy handler."""
    url = make_url(db.url)
    if url.get_backend_name() != "sqlite":
        return SQLAlchemyJobStore(engine=db.engine, tablename=JOB_TABLE)
    if not url.database or url.database == ":memory:":
        return SQLAlchemyJobStore(url="sqlite://", tablename=JOB_TABLE)
    path = Path(url.database)
    return SQLAlchemyJobStore(url=f"sqlite:///{path.with_name(path.stem + '.scheduler.db')}", tablename=JOB_TABLE)


def create_scheduler(db: Database) -> AsyncIOScheduler:
    return AsyncIOScheduler(
        jobstores={"default": job_store(db)},
        timezone=clock.TOKYO,
        job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": 6 * 3600},
    )


def add_jobs(scheduler: AsyncIOScheduler, settings: Settings) -> None:
    """(Re)declares the standing jobs; replace_existing keeps one row each however many processes start."""
    scheduler.add_job(
        "notifications.reminders:send_due_reminders",
        "interval",
        seconds=settings.reminder_sweep_seconds,
        id=REMINDER_JOB,
        name="予約のリマインダー",
        replace_existing=True,
    )
    scheduler.add_job(
        "notifications.reminders:purge_personal_data",
        "cron",
        hour=3,
        minute=15,
        id=PURGE_JOB,
        name="個人情報の削除",
        replace_existing=True,
    )
    scheduler.add_job(
        "notifications.scheduler:send_garbage_reminders",
        "interval",
        seconds=settings.reminder_sweep_seconds,
        id=GARBAGE_JOB,
        name="ごみの日のお知らせ",
        replace_existing=True,
    )
    scheduler.add_job(
        "notifications.scheduler:purge_message_log",
        "cron",
        hour=3,
        minute=30,
        id=RETENTION_JOB,
        name="受信・送信記録の削除",
        replace_existing=True,
    )


async def send_garbage_reminders() -> int:
    """The scheduled sweep for the garbage-day reminders (safe to run twice: one claim per citizen and day)."""
    from notifications import garbage

    context = reminders._require()
    return await asyncio.to_thread(garbage.run_garbage_reminders, context.db)


def purge_message_log_now(db: Database, settings: Settings) -> tuple[int, int]:
    before = clock.now() - timedelta(days=settings.message_log_retention_days)
    with db.session() as db_session:
        events = inbox_service.purge_finished(db_session=db_session, before=before)
        messages = outbox_service.purge_finished(db_session=db_session, before=before)
    if events or messages:
        log.info("retention: deleted %d webhook events and %d sent messages", events, messages)
    return events, messages


async def purge_message_log() -> tuple[int, int]:
    context = reminders._require()
    return await asyncio.to_thread(purge_message_log_now, context.db, context.settings)


def start(db: Database, settings: Settings) -> AsyncIOScheduler | None:
    """Starts this process's scheduler (inside a running event loop); None when SCHEDULER_ENABLED=false."""
    reminders.configure(db, settings)
    if not settings.scheduler_enabled:
        return None
    scheduler = create_scheduler(db)
    scheduler.start()
    add_jobs(scheduler, settings)
    log.info("scheduler started (%s job store)", db.dialect)
    return scheduler


def stop(scheduler: AsyncIOScheduler | None) -> None:
    if scheduler is not None and scheduler.running:
        scheduler.shutdown(wait=False)
