"""The capability's scheduled jobs (declared in capability.py): the reminder sweep and the nightly
purge of personal data.

Sent once, really: a reminder is pushed only by the transaction that inserts its marker row, and
the push is written to the outbox in that same transaction. Two processes (or a scheduler that ran,
died and ran the job again after a restart) race on the marker; one inserts it, the other finds it
there and sends nothing.

The job functions take ids, open their own session, and never see a request's objects.
"""

from __future__ import annotations

import asyncio
import logging

from bot import clock
from bot.db import Database
from bot.settings import Settings
from handlers.reservations import notify
from handlers.reservations.models import ReminderKind
from handlers.reservations.service import reminders as reminder_service
from handlers.reservations.service import reservations as reservation_service
from notifications import scheduler

log = logging.getLogger(__name__)


def send_reminder(*, db: Database, settings: Settings, reservation_id: int, kind: str) -> bool:
    """One reminder, in one transaction: still booked, still due, not sent yet → marker + push."""
    reminder = ReminderKind(kind)
    with db.session() as db_session:
        reservation = reservation_service.get(db_session=db_session, reservation_id=reservation_id)
        if reservation is None or not reminder_service.reminder_is_due(reservation, reminder, clock.now(), settings):
            return False
        return notify.reminder(db_session=db_session, reservation=reservation, kind=reminder)


def send_due(*, db: Database, settings: Settings) -> int:
    """Every reminder that has fallen due and not gone out (each in its own transaction)."""
    with db.session() as db_session:
        due = reminder_service.due_reminders(db_session=db_session, now=clock.now(), settings=settings)
    sent = 0
    for reservation_id, kind in due:
        try:
            sent += send_reminder(db=db, settings=settings, reservation_id=reservation_id, kind=kind.value)
        except Exception:
            # Recorded, never swallowed silently; the next sweep tries again (the marker keeps it once).
            log.exception("reminder %s for reservation %s failed", kind.value, reservation_id)
    if sent:
        log.info("queued %d reservation reminder(s)", sent)
    return sent


async def send_due_reminders() -> int:
    """The scheduled sweep (every REMINDER_SWEEP_SECONDS): whatever fell due since the last run,
    including everything missed while no process was running."""
    context = scheduler.context()
    return await asyncio.to_thread(send_due, db=context.db, settings=context.settings)


def purge(*, db: Database, settings: Settings) -> int:
    with db.session() as db_session:
        count = reservation_service.purge_personal_data(db_session=db_session, settings=settings, now=clock.now())
    if count:
        log.info("purged personal data of %d past reservation(s)", count)
    return count


async def purge_personal_data() -> int:
    """The nightly job: form answers go PERSONAL_DATA_RETENTION_DAYS after the visit."""
    context = scheduler.context()
    return await asyncio.to_thread(purge, db=context.db, settings=context.settings)
