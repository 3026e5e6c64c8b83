"""Reservation pushes (this capability's own): the reminders before a visit and the note when staff
cancel a booking; and the capability's scheduled jobs (declared in capability.py): the reminder
sweep and the nightly purge of personal data.

A push is written to the outbox in the caller's transaction, so it goes out exactly when the change
it tells of commits; the outbox delivers with a stored X-Line-Retry-Key, so a retried push is not
delivered twice.

Sent once, really: a reminder is pushed only by the transaction that inserts its marker row
(service/reminders.py), and the push is written to the outbox in that same transaction. Two
processes (or a scheduler that ran, died and ran the job again after a restart) race on the marker;
one inserts it, the other finds it there and sends nothing. The job functions take ids, open their
own session, and never see a request's objects.
"""

from __future__ import annotations

import asyncio
import logging

from sqlalchemy.orm import Session

from bot import clock
from bot import outbox as outbox_service
from bot.catalog import t
from bot.db import Database
from bot.messages import postback_item, text, to_json
from bot.settings import Settings
from handlers.reservations import cards
from handlers.reservations.models import ReminderKind, Reservation
from handlers.reservations.service import reminders as reminder_service
from handlers.reservations.service import reservations as reservation_service
from handlers.reservations.service import setup as setup_service
from notifications import scheduler

log = logging.getLogger(__name__)

# Pushes ---------------------------------------------------------------------------------------


def reminder(*, db_session: Session, reservation: Reservation, kind: ReminderKind) -> bool:
    """The day-before or same-day reminder, once: False when it went out already (its marker is
    there) or there is nobody to tell."""
    procedure = setup_service.get_procedure(db_session=db_session, procedure_id=reservation.procedure_id)
    office = setup_service.get_office(db_session=db_session, office_id=reservation.office_id)
    if procedure is None or office is None or reservation.line_user_id is None:
        return False
    if not reminder_service.claim_reminder(db_session=db_session, reservation=reservation, kind=kind, now=clock.now()):
        return False
    show_qr = t("reservations.button_show_qr")
    message = text(
        cards.reminder_text(kind.value, reservation, procedure, office),
        [postback_item(show_qr, "rsv_show", display=show_qr, id=reservation.id)],
    )
    outbox_service.enqueue_push(
        db_session=db_session,
        to=reservation.line_user_id,
        messages=to_json([message]),
        purpose=f"reminder:{kind.value}:{reservation.id}",
    )
    return True


def reservation_cancelled(*, db_session: Session, reservation: Reservation, reason: str = "") -> bool:
    """Tells the citizen their booking was cancelled by the city, with the reason staff gave (or
    plainly that it was, when they gave none); False for a booking not made on LINE (or whose LINE
    id is purged): staff phone those citizens."""
    if reservation.line_user_id is None:
        return False
    procedure = setup_service.get_procedure(db_session=db_session, procedure_id=reservation.procedure_id)
    if procedure is None:
        return False
    said = " ".join(reason.split())[:200]
    body = t(
        "reservations.cancelled_by_staff" if said else "reservations.cancelled_by_staff_no_reason",
        date=cards.day_text(reservation.visit_day),
        time=cards.time_text(reservation.starts_at),
        procedure=procedure.name,
        reason=said,
    )
    outbox_service.enqueue_push(
        db_session=db_session,
        to=reservation.line_user_id,
        messages=to_json([text(body)]),
        purpose=f"reservation_cancelled:{reservation.id}",
    )
    return True


# Scheduled jobs -------------------------------------------------------------------------------


def send_reminder(*, db: Database, settings: Settings, reservation_id: int, kind: str) -> bool:
    """One reminder, in one transaction: still booked, still due, not sent yet → marker + push."""
    reminder_kind = ReminderKind(kind)
    with db.session() as db_session:
        reservation = reservation_service.get(db_session=db_session, reservation_id=reservation_id)
        if reservation is None:
            return False
        if not reminder_service.reminder_is_due(reservation, reminder_kind, clock.now(), settings):
            return False
        return reminder(db_session=db_session, reservation=reservation, kind=reminder_kind)


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
