"""Reservation pushes (this capability's own): the reminders before a visit and the note when staff
cancel a booking.

Each is written to the outbox in the caller's transaction, so it goes out exactly when the change it
tells of commits; the outbox delivers with a stored X-Line-Retry-Key, so a retried push is not
delivered twice. The scheduled sweep that sends reminders is jobs.py.
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from bot import clock
from bot import outbox as outbox_service
from bot.catalog import t
from bot.messages import postback_item, text, to_json
from handlers.reservations import cards
from handlers.reservations.models import ReminderKind, Reservation
from handlers.reservations.service import reminders as reminder_service
from handlers.reservations.service import setup as setup_service


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


def reservation_cancelled(*, db_session: Session, reservation: Reservation) -> bool:
    """Tells the citizen their booking was cancelled by the city; False for a booking not made on
    LINE (or whose LINE id is purged): staff phone those citizens."""
    if reservation.line_user_id is None:
        return False
    procedure = setup_service.get_procedure(db_session=db_session, procedure_id=reservation.procedure_id)
    if procedure is None:
        return False
    body = t(
        "reservations.cancelled_by_staff",
        date=cards.day_text(reservation.visit_day),
        time=cards.time_text(reservation.starts_at),
        procedure=procedure.name,
    )
    outbox_service.enqueue_push(
        db_session=db_session,
        to=reservation.line_user_id,
        messages=to_json([text(body)]),
        purpose=f"reservation_cancelled:{reservation.id}",
    )
    return True
