"""Which reminders are due, and the marker that lets each go out once.

A reminder is sent only by the transaction that inserts its marker row (reservation, kind, visit
time; unique): two processes racing on it cannot both send it, and a booking moved to another day
is reminded of the new day.
"""

from __future__ import annotations

from datetime import datetime, time, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from bot import clock
from bot.db import upsert_insert
from bot.settings import Settings
from handlers.reservations import calendar
from handlers.reservations.models import ReminderKind, ReminderSent, Reservation, ReservationStatus


def reminder_due_at(reservation: Reservation, kind: ReminderKind, settings: Settings) -> datetime:
    if kind == ReminderKind.DAY_BEFORE:
        day, at = reservation.visit_day - timedelta(days=1), settings.reminder_day_before_time
    else:
        day, at = reservation.visit_day, settings.reminder_same_day_time
    return datetime.combine(day, calendar.hhmm(at), clock.TOKYO)


def reminder_is_due(reservation: Reservation, kind: ReminderKind, now: datetime, settings: Settings) -> bool:
    """Due from its time until it makes no sense: the day before, until the visit day begins; on the
    day, until the visit. Bookings made after the reminder time get none (they just booked)."""
    if reservation.status != ReservationStatus.BOOKED or not reservation.line_user_id:
        return False
    due = reminder_due_at(reservation, kind, settings)
    if reservation.created_at >= due or now < due:
        return False
    if kind == ReminderKind.DAY_BEFORE:
        return now < datetime.combine(reservation.visit_day, time(0), clock.TOKYO)
    return now < reservation.starts_at


def due_reminders(*, db_session: Session, now: datetime, settings: Settings) -> list[tuple[int, ReminderKind]]:
    today = calendar.tokyo_day(now)
    candidates = db_session.scalars(
        select(Reservation).where(
            Reservation.status == ReservationStatus.BOOKED,
            Reservation.line_user_id.is_not(None),
            Reservation.visit_day >= today,
            Reservation.visit_day <= today + timedelta(days=1),
        )
    )
    due: list[tuple[int, ReminderKind]] = []
    for reservation in candidates:
        for kind in ReminderKind:
            if reminder_is_due(reservation, kind, now, settings) and not _reminder_sent(db_session, reservation, kind):
                due.append((reservation.id, kind))
    return due


def _reminder_sent(db_session: Session, reservation: Reservation, kind: ReminderKind) -> bool:
    return (
        db_session.scalar(
            select(func.count())
            .select_from(ReminderSent)
            .where(
                ReminderSent.reservation_id == reservation.id,
                ReminderSent.kind == kind,
                ReminderSent.starts_at == reservation.starts_at,
            )
        )
        or 0
    ) > 0


def claim_reminder(*, db_session: Session, reservation: Reservation, kind: ReminderKind, now: datetime) -> bool:
    """Records that this reminder goes out; False if another process (or an earlier run) already did.
    Commit it with the push, so both happen or neither."""
    table = ReminderSent.__table__
    marker = (
        upsert_insert(db_session)(table)
        .values(reservation_id=reservation.id, kind=kind.value, starts_at=reservation.starts_at, sent_at=now)
        .on_conflict_do_nothing(index_elements=["reservation_id", "kind", "starts_at"])
        # RETURNING tells whether the row went in (drivers' rowcount may not).
        .returning(*table.primary_key.columns)
    )
    return db_session.execute(marker).first() is not None
