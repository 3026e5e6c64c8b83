"""The scheduler: APScheduler 3 with its jobs in the application's own database
(SQLAlchemyJobStore, table apscheduler_jobs; on SQLite a file of their own beside the database, see
job_store), run by every web process and every `madoguchi worker`.

Jobs survive restarts (they live in the database) and a run missed while nothing was up happens
at the next start (coalesced into one, within a grace time). Several processes sharing the store
may each run a job: every job is written to be safe to run twice (a unique marker, a conditional
UPDATE), so no job relies on APScheduler for "once".

The jobs are the capabilities' own (`Capability.jobs`, e.g. reservations' reminders) plus the
platform's housekeeping below. A job is a function without arguments; it finds this process's
database and settings with `context()`.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from sqlalchemy.engine import make_url

from bot import clock, transcript
from bot import conversation as conversation_service
from bot import inbox as inbox_service
from bot import outbox as outbox_service
from bot.capability import Job
from bot.db import Database
from bot.settings import Settings
from notifications import engine

log = logging.getLogger(__name__)

JOB_TABLE = "apscheduler_jobs"


@dataclass(frozen=True)
class JobContext:
    db: Database
    settings: Settings


_context: JobContext | None = None


def context() -> JobContext:
    """The database and settings this process's jobs use (set when its scheduler starts)."""
    if _context is None:
        raise RuntimeError("the scheduler was not started in this process")
    return _context


async def purge_message_log() -> tuple[int, int]:
    current = context()
    return await asyncio.to_thread(purge_message_log_now, current.db, current.settings)


# The platform's own housekeeping, beside the capabilities' jobs.
RETENTION_JOB = Job(
    id="bot:retention",
    func="notifications.scheduler:purge_message_log",
    name="受信・送信記録の削除",
    trigger="cron",
    schedule=lambda settings: {"hour": 3, "minute": 30},
)
CORE_JOBS: tuple[Job, ...] = (RETENTION_JOB,)


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


def add_jobs(scheduler: AsyncIOScheduler, settings: Settings, jobs: Sequence[Job]) -> None:
    """(Re)declares the standing jobs; replace_existing keeps one row each however many processes start."""
    for job in (*CORE_JOBS, *jobs):
        scheduler.add_job(
            job.func, job.trigger, id=job.id, name=job.name, replace_existing=True, **job.schedule(settings)
        )


def purge_past_retention(*, db: Database, days: int, purge: Callable[..., int], what: str) -> int:
    """A retention sweep in its own transaction: `purge(db_session=..., before=...)` deletes what is
    older than `days`; answers how many went."""
    before = clock.now() - timedelta(days=days)
    with db.session() as db_session:
        count = purge(db_session=db_session, before=before)
    if count:
        log.info("retention: deleted %d %s", count, what)
    return count


def purge_message_log_now(db: Database, settings: Settings) -> tuple[int, int]:
    """Webhook events, messages and finished send jobs past MESSAGE_LOG_RETENTION_DAYS, conversations that ran out, and
    chat transcripts past TRANSCRIPT_RETENTION_HOURS.
    Answers (events, messages) deleted."""
    now = clock.now()
    before = now - timedelta(days=settings.message_log_retention_days)
    with db.session() as db_session:
        events = inbox_service.purge_finished(db_session=db_session, before=before)
        messages = outbox_service.purge_finished(db_session=db_session, before=before)
        conversations = conversation_service.purge_expired(db_session=db_session, now=now)
        transcript.purge(db_session=db_session, before=now - timedelta(hours=settings.transcript_retention_hours))
        # Finished send jobs hold who was sent what: kept as long as the sent messages are.
        send_jobs = engine.purge_finished(db_session=db_session, before=before)
    if events or messages or conversations or send_jobs:
        log.info(
            "retention: deleted %d webhook events, %d sent messages, %d expired conversations and %d send jobs",
            events,
            messages,
            conversations,
            send_jobs,
        )
    return events, messages


def start(db: Database, settings: Settings, jobs: Sequence[Job] = ()) -> AsyncIOScheduler | None:
    """Starts this process's scheduler (inside a running event loop); None when SCHEDULER_ENABLED=false."""
    global _context
    _context = JobContext(db, settings)
    if not settings.scheduler_enabled:
        return None
    scheduler = create_scheduler(db)
    scheduler.start()
    add_jobs(scheduler, settings, jobs)
    log.info("scheduler started (%s job store)", db.dialect)
    return scheduler


def stop(scheduler: AsyncIOScheduler | None) -> None:
    if scheduler is not None and scheduler.running:
        scheduler.shutdown(wait=False)
