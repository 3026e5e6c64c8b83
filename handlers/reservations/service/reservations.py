"""Bookings: made on LINE, by phone or at the counter, that never overbook, never double-book and
never leak personal data; moved, cancelled, and followed at the counter (arrived, done, no-show).

A booking's place is taken in the same savepoint as its row is written (slots.take_place): if the
row cannot be written (the confirm button's idempotency key is already used) the place is given
back with it.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from bot import clock, qr
from bot import personal_data as crypto
from bot.db import affected_rows
from bot.settings import Settings
from handlers.reservations import calendar, forms
from handlers.reservations.models import (
    MAX_ID,
    CounterSlot,
    Office,
    Procedure,
    Reservation,
    ReservationChannel,
    ReservationCreate,
    ReservationStatus,
)
from handlers.reservations.service import setup, slots
from handlers.reservations.service.errors import (
    InvalidAnswers,
    InvalidTransition,
    LimitReached,
    NotFound,
    NotToday,
    ProcedureNotAtOffice,
    SlotNotBookable,
)


@dataclass
class Booked:
    reservation: Reservation
    token: str | None  # None only once purged
    created: bool  # False: the idempotency key found an earlier booking


# Reading --------------------------------------------------------------------------------------


def get(*, db_session: Session, reservation_id: int) -> Reservation | None:
    return db_session.get(Reservation, reservation_id) if 1 <= reservation_id <= MAX_ID else None


def get_for_citizen(
    *, db_session: Session, reservation_id: int | str | None, line_user_id: str | None
) -> Reservation | None:
    """The booking, only if this citizen made it: ids from postbacks are never trusted on their own."""
    try:
        number = int(str(reservation_id))
    except (TypeError, ValueError):
        return None
    reservation = get(db_session=db_session, reservation_id=number)
    if reservation is None or not line_user_id or reservation.line_user_id != line_user_id:
        return None
    return reservation


def get_by_token(*, db_session: Session, token: str) -> Reservation | None:
    normalised = qr.normalise_token(token)
    if normalised is None:
        return None
    return db_session.scalars(select(Reservation).where(Reservation.qr_token_hash == qr.token_hash(normalised))).first()


def has_live_token(db_session: Session, digest: str) -> bool:
    """Whether a QR token digest is a booking's that is not cancelled (purged tokens are gone)."""
    return (
        db_session.scalar(
            select(Reservation.id).where(
                Reservation.qr_token_hash == digest, Reservation.status != ReservationStatus.CANCELLED
            )
        )
        is not None
    )


def get_by_idempotency_key(*, db_session: Session, key: str) -> Reservation | None:
    return db_session.scalars(select(Reservation).where(Reservation.idempotency_key == key)).first()


def get_upcoming_for_citizen(*, db_session: Session, line_user_id: str, now: datetime) -> list[Reservation]:
    return list(
        db_session.scalars(
            select(Reservation)
            .where(
                Reservation.line_user_id == line_user_id,
                Reservation.status == ReservationStatus.BOOKED,
                Reservation.visit_day >= calendar.tokyo_day(now),
            )
            .order_by(Reservation.starts_at)
        )
    )


def count_active_for_citizen(*, db_session: Session, line_user_id: str, now: datetime) -> int:
    return int(
        db_session.scalar(
            select(func.count())
            .select_from(Reservation)
            .where(
                Reservation.line_user_id == line_user_id,
                Reservation.status == ReservationStatus.BOOKED,
                Reservation.visit_day >= calendar.tokyo_day(now),
            )
        )
        or 0
    )


def get_all_for_day(*, db_session: Session, day: date, office_id: str | None = None) -> list[Reservation]:
    query = select(Reservation).where(Reservation.visit_day == day).order_by(Reservation.starts_at, Reservation.id)
    if office_id:
        query = query.where(Reservation.office_id == office_id)
    return list(db_session.scalars(query))


def token_of(reservation: Reservation, settings: Settings) -> str | None:
    """The QR token, for its owner to see again (None once purged)."""
    return crypto.decrypt(reservation.qr_token_enc, settings) if reservation.qr_token_enc else None


def answers_of(reservation: Reservation, settings: Settings) -> dict[str, str] | None:
    """The form answers (None once purged). Only for counter/admin roles and the citizen's own flow."""
    if reservation.answers_enc is None:
        return None
    return crypto.decrypt_json(reservation.answers_enc, settings)


# Booking --------------------------------------------------------------------------------------


def idempotency_key(line_user_id: str, nonce: str) -> str:
    """The confirm button's key, bound to the citizen (another citizen's nonce finds nothing of theirs)."""
    return hashlib.sha256(f"{line_user_id}\x00{nonce}".encode()).hexdigest()


def _check_slot(slot: CounterSlot | None, procedure: Procedure, now: datetime) -> CounterSlot:
    if slot is None or slot.is_closed or slot.starts_at <= now:
        raise SlotNotBookable("slot")
    if slot.office_id not in procedure.office_ids:
        raise ProcedureNotAtOffice(slot.office_id)
    return slot


def create(
    *, db_session: Session, reservation_in: ReservationCreate, settings: Settings, now: datetime | None = None
) -> Booked:
    """Books a place. LINE bookings keep the booking window, the cutoff and the per-citizen limit;
    phone and counter bookings (staff) keep capacity only."""
    now = now or clock.now()
    key = reservation_in.idempotency_key
    if key:
        earlier = _earlier_booking(db_session, reservation_in, settings)
        if earlier is not None:
            return earlier
    procedure = setup.get_active_procedure(db_session=db_session, procedure_id=reservation_in.procedure_id)
    if procedure is None:
        raise NotFound(reservation_in.procedure_id)
    slot = _check_slot(slots.get_slot(db_session=db_session, slot_id=reservation_in.slot_id), procedure, now)
    office = db_session.get(Office, slot.office_id)
    if office is None or not office.is_active:
        raise SlotNotBookable("office")
    citizen = reservation_in.channel == ReservationChannel.LINE
    if citizen and not (slot.day in calendar.booking_window(now, settings) and calendar.is_counter_day(slot.day)):
        raise SlotNotBookable("window")
    try:
        answers = forms.clean_all(procedure.fields, reservation_in.answers, today=calendar.tokyo_day(now))
    except forms.InvalidAnswer as exc:
        raise InvalidAnswers(exc.field or exc.reason) from None
    if citizen:
        if not reservation_in.line_user_id:
            raise NotFound("citizen")
        active = count_active_for_citizen(db_session=db_session, line_user_id=reservation_in.line_user_id, now=now)
        if active >= settings.reservation_max_active:
            raise LimitReached(str(active))
    token = qr.new_token()
    try:
        with db_session.begin_nested():
            slots.take_place(db_session=db_session, slot_id=slot.id)
            reservation = Reservation(
                slot_id=slot.id,
                office_id=slot.office_id,
                procedure_id=procedure.id,
                visit_day=slot.day,
                starts_at=slot.starts_at,
                status=ReservationStatus.BOOKED,
                channel=reservation_in.channel,
                line_user_id=reservation_in.line_user_id,
                qr_token_hash=qr.token_hash(token),
                qr_token_enc=crypto.encrypt(token, settings),
                answers_enc=crypto.encrypt_json(answers, settings),
                idempotency_key=key,
                created_by=reservation_in.created_by,
                created_at=now,
                updated_at=now,
            )
            db_session.add(reservation)
            db_session.flush()
    except IntegrityError:
        # The same confirm tap, processed at the same moment elsewhere, booked first.
        earlier = _earlier_booking(db_session, reservation_in, settings) if key else None
        if earlier is None:
            raise
        return earlier
    db_session.expire(slot)
    return Booked(reservation, token, created=True)


def _earlier_booking(db_session: Session, reservation_in: ReservationCreate, settings: Settings) -> Booked | None:
    earlier = get_by_idempotency_key(db_session=db_session, key=reservation_in.idempotency_key or "")
    if earlier is None:
        return None
    if earlier.line_user_id != reservation_in.line_user_id:
        raise NotFound("idempotency key")
    return Booked(earlier, token_of(earlier, settings), created=False)


# Moving and cancelling ------------------------------------------------------------------------


def reschedule(
    *,
    db_session: Session,
    reservation: Reservation,
    slot_id: int,
    settings: Settings,
    now: datetime | None = None,
    by_citizen: bool = True,
) -> Reservation:
    """Moves a booking to another slot: the new place is taken and the old one given back together."""
    now = now or clock.now()
    if reservation.status != ReservationStatus.BOOKED:
        raise InvalidTransition(reservation.status)
    if slot_id == reservation.slot_id:
        return reservation
    procedure = setup.get_procedure(db_session=db_session, procedure_id=reservation.procedure_id)
    if procedure is None:
        raise NotFound(reservation.procedure_id)
    slot = _check_slot(slots.get_slot(db_session=db_session, slot_id=slot_id), procedure, now)
    if by_citizen and slot.day not in calendar.booking_window(now, settings):
        raise SlotNotBookable("window")
    old_slot_id = reservation.slot_id
    with db_session.begin_nested():
        # Always lock the lower slot id first, so two moves in opposite directions cannot deadlock.
        if slot.id < old_slot_id:
            slots.take_place(db_session=db_session, slot_id=slot.id)
            slots.give_back_place(db_session=db_session, slot_id=old_slot_id)
        else:
            slots.give_back_place(db_session=db_session, slot_id=old_slot_id)
            slots.take_place(db_session=db_session, slot_id=slot.id)
        moved = db_session.execute(
            update(Reservation)
            .where(
                Reservation.id == reservation.id,
                Reservation.slot_id == old_slot_id,
                Reservation.status == ReservationStatus.BOOKED,
            )
            .values(
                slot_id=slot.id, office_id=slot.office_id, visit_day=slot.day, starts_at=slot.starts_at, updated_at=now
            ),
            execution_options={"synchronize_session": False},
        )
        if affected_rows(moved) != 1:
            raise InvalidTransition("changed meanwhile")
    db_session.refresh(reservation)
    db_session.expire(slot)
    return reservation


def cancel(*, db_session: Session, reservation: Reservation, reason: str, now: datetime | None = None) -> Reservation:
    """Cancels an upcoming booking and gives its place back (once, even if two cancels race).
    Its form answers and QR token go with it (the token's digest stays: a cancelled code scans as such)."""
    now = now or clock.now()
    done = db_session.execute(
        update(Reservation)
        .where(Reservation.id == reservation.id, Reservation.status == ReservationStatus.BOOKED)
        .values(
            status=ReservationStatus.CANCELLED,
            cancelled_at=now,
            cancel_reason=reason[:200],
            updated_at=now,
            answers_enc=None,
            qr_token_enc=None,
            answers_purged_at=now,
        ),
        execution_options={"synchronize_session": False},
    )
    if affected_rows(done) != 1:
        db_session.refresh(reservation)
        raise InvalidTransition(reservation.status)
    slots.give_back_place(db_session=db_session, slot_id=reservation.slot_id)
    db_session.refresh(reservation)
    return reservation


# At the counter -------------------------------------------------------------------------------

# What each counter action moves from and to.
COUNTER_ACTIONS: dict[str, tuple[frozenset[ReservationStatus], ReservationStatus]] = {
    "check_in": (frozenset({ReservationStatus.BOOKED}), ReservationStatus.ARRIVED),
    "complete": (frozenset({ReservationStatus.BOOKED, ReservationStatus.ARRIVED}), ReservationStatus.DONE),
    "no_show": (frozenset({ReservationStatus.BOOKED}), ReservationStatus.NO_SHOW),
}


def record_visit(
    *, db_session: Session, reservation: Reservation, action: str, now: datetime | None = None
) -> Reservation:
    """check_in (arrived) / complete (done) / no_show, on the day of the visit."""
    now = now or clock.now()
    if action not in COUNTER_ACTIONS:
        raise InvalidTransition(action)
    allowed, target = COUNTER_ACTIONS[action]
    if reservation.visit_day != calendar.tokyo_day(now) and action != "complete":
        raise NotToday(str(reservation.visit_day))
    if reservation.status not in allowed:
        raise InvalidTransition(reservation.status)
    reservation.status = target
    reservation.updated_at = now
    if target == ReservationStatus.ARRIVED:
        reservation.arrived_at = now
    elif target == ReservationStatus.DONE:
        reservation.done_at = now
        reservation.arrived_at = reservation.arrived_at or now
    db_session.flush()
    return reservation


def check_in(*, db_session: Session, reservation: Reservation, now: datetime | None = None) -> Reservation:
    return record_visit(db_session=db_session, reservation=reservation, action="check_in", now=now)


# Personal data --------------------------------------------------------------------------------


def purge_personal_data(*, db_session: Session, settings: Settings, now: datetime | None = None) -> int:
    """Form answers, the QR token and the LINE user id go `personal_data_retention_days` after the visit."""
    now = now or clock.now()
    before = calendar.tokyo_day(now) - timedelta(days=settings.personal_data_retention_days)
    result = db_session.execute(
        update(Reservation)
        .where(Reservation.visit_day < before, Reservation.answers_purged_at.is_(None))
        .values(answers_enc=None, qr_token_enc=None, qr_token_hash=None, line_user_id=None, answers_purged_at=now),
        execution_options={"synchronize_session": False},
    )
    return affected_rows(result)
