"""The garbage reminder: the evening before a collection day, one push to each citizen who asked for
it (「前日に通知する」), saying what goes out tomorrow in their district.

Idempotent and safe to run from several processes: a citizen is claimed for the day with one
conditional UPDATE before the push is queued in the same transaction, so a second run (or a second
process) finds nothing to do. Blocked citizens are skipped (and not marked, so a returning friend
is reminded again).

Wiring: the scheduler runs `send_garbage_reminders` (this capability's job "gis:garbage"); `madoguchi
garbage remind` does one sweep by hand (for cron).
"""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime

from sqlalchemy.orm import Session

from bot import citizens as citizen_service
from bot import clock
from bot import outbox as outbox_service
from bot.catalog import t
from bot.db import Database
from bot.messages import postback_item, text, to_json
from handlers.garbage import service as garbage_service
from handlers.garbage.service import DueReminder
from notifications import scheduler

log = logging.getLogger(__name__)

PURPOSE = "garbage_reminder"


def due_garbage_reminders(now: datetime, *, db_session: Session) -> list[DueReminder]:
    """Who is to be reminded now, for which day and kinds (nothing before 18:00 Tokyo time)."""
    return garbage_service.due_reminders(db_session=db_session, now=now)


def reminder_message(reminder: DueReminder) -> dict:
    day = reminder.day
    date_words = t("gis.garbage.date", month=day.month, day=day.day, weekday=t("gis.garbage.weekdays")[day.weekday()])
    body = t(
        "gis.garbage.reminder_push",
        date=date_words,
        categories="・".join(reminder.categories),
        district=reminder.district,
        note=t("gis.garbage.sample_note"),
    )
    stop = postback_item(t("gis.garbage.reminder_off_button"), "gis_garbage_reminder", on=0)
    return to_json([text(body, [stop])])[0]


def send_due_garbage_reminders(*, db_session: Session, now: datetime) -> int:
    """Queues the pushes due now in the caller's transaction; answers how many were queued."""
    queued = 0
    for reminder in due_garbage_reminders(now, db_session=db_session):
        if not citizen_service.is_reachable(db_session=db_session, line_user_id=reminder.line_user_id):
            continue
        if not garbage_service.claim_reminder(
            db_session=db_session, line_user_id=reminder.line_user_id, day=reminder.day
        ):
            continue  # another run got there first
        outbox_service.enqueue_push(
            db_session=db_session, to=reminder.line_user_id, messages=[reminder_message(reminder)], purpose=PURPOSE
        )
        queued += 1
    if queued:
        log.info("garbage reminders queued: %d", queued)
    return queued


def run_garbage_reminders(database: Database, now: datetime | None = None) -> int:
    """One sweep in its own transaction (for a scheduler job or cron)."""
    with database.session() as db_session:
        return send_due_garbage_reminders(db_session=db_session, now=now or clock.now())


async def send_garbage_reminders() -> int:
    """The scheduled sweep (every REMINDER_SWEEP_SECONDS); safe to run twice: one claim per citizen and day."""
    return await asyncio.to_thread(run_garbage_reminders, scheduler.context().db)
