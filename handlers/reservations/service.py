"""Counter reservation rules: the city's offices and procedures, the slots their rules make, and
bookings that never overbook, never double-book and never leak personal data.

Capacity: a place is taken only by `UPDATE counter_slots SET booked = booked + 1 WHERE id = :slot
AND booked < capacity AND NOT is_closed` and the row count says whether it was. PostgreSQL re-checks
the condition on the row's newest version when concurrent updates queue on it (READ COMMITTED), and
SQLite has one writer at a time, so on both the last place goes to exactly one caller. The booking
row is written in the same savepoint: if it cannot be (the confirm button's idempotency key is
already used) the place is given back with it.

Callers own the transaction (one per inbox event, one per admin request); functions here flush.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Any

import yaml
from sqlalchemy import Table, delete, func, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from bot import clock
from bot.db import upsert_insert
from bot.settings import Settings
from handlers.reservations import calendar, crypto, forms, qr
from handlers.reservations.models import (
    Closure,
    ClosureCreate,
    CounterSlot,
    Office,
    OfficeCreate,
    OfficeUpdate,
    Procedure,
    ProcedureCreate,
    ProcedureUpdate,
    ReminderKind,
    ReminderSent,
    Reservation,
    ReservationChannel,
    ReservationCreate,
    ReservationStatus,
    SlotRule,
    SlotRuleCreate,
    SlotRuleUpdate,
)

SEED_FILE = Path(__file__).parent / "data" / "counter.yml"
MAX_ID = 2**31 - 1


class ReservationError(Exception):
    """A rule said no. `code` picks the message (catalog reservations.errors.<code>, admin texts)."""

    code = "error"


class NotFound(ReservationError):
    code = "not_found"


class SlotFull(ReservationError):
    code = "slot_full"


class SlotNotBookable(ReservationError):
    """Closed, past, outside the booking window or after the cutoff."""

    code = "slot_not_bookable"


class ProcedureNotAtOffice(ReservationError):
    code = "procedure_not_at_office"


class LimitReached(ReservationError):
    code = "limit_reached"


class InvalidTransition(ReservationError):
    code = "invalid_transition"


class NotToday(ReservationError):
    code = "not_today"


class InvalidAnswers(ReservationError):
    code = "invalid_answers"

    def __init__(self, field: str) -> None:
        super().__init__(field)
        self.field = field


class AlreadyExists(ReservationError):
    code = "already_exists"


# Offices and procedures -----------------------------------------------------------------------


def get_office(*, db_session: Session, office_id: str) -> Office | None:
    return db_session.get(Office, office_id)


def get_all_offices(*, db_session: Session, active_only: bool = True) -> list[Office]:
    query = select(Office).order_by(Office.sort_order, Office.id)
    if active_only:
        query = query.where(Office.is_active.is_(True))
    return list(db_session.scalars(query))


def create_office(*, db_session: Session, office_in: OfficeCreate) -> Office:
    if db_session.get(Office, office_in.id) is not None:
        raise AlreadyExists(office_in.id)
    office = Office(**office_in.model_dump(), updated_at=clock.now())
    db_session.add(office)
    db_session.flush()
    return office


def update_office(*, db_session: Session, office: Office, office_in: OfficeUpdate) -> Office:
    for key, value in office_in.model_dump(exclude_unset=True).items():
        setattr(office, key, value)
    office.updated_at = clock.now()
    db_session.flush()
    return office


def get_procedure(*, db_session: Session, procedure_id: str) -> Procedure | None:
    return db_session.get(Procedure, procedure_id)


def get_active_procedure(*, db_session: Session, procedure_id: str) -> Procedure | None:
    procedure = db_session.get(Procedure, procedure_id)
    return procedure if procedure is not None and procedure.is_active else None


def get_all_procedures(*, db_session: Session, active_only: bool = True) -> list[Procedure]:
    query = select(Procedure).order_by(Procedure.sort_order, Procedure.id)
    if active_only:
        query = query.where(Procedure.is_active.is_(True))
    return list(db_session.scalars(query))


def find_procedure(*, db_session: Session, words: list[str]) -> Procedure | None:
    """The active procedure one of `words` names (an NLU entity value, a keyword or its name)."""
    wanted = [w.strip() for w in words if w and w.strip()]
    if not wanted:
        return None
    for procedure in get_all_procedures(db_session=db_session):
        names = {procedure.name, procedure.id, *procedure.keywords}
        if any(w in names for w in wanted):
            return procedure
    for procedure in get_all_procedures(db_session=db_session):
        if any(w in procedure.name or procedure.name in w for w in wanted if len(w) >= 2):
            return procedure
    return None


def offices_for(*, db_session: Session, procedure: Procedure) -> list[Office]:
    return [o for o in get_all_offices(db_session=db_session) if o.id in procedure.office_ids]


def create_procedure(*, db_session: Session, procedure_in: ProcedureCreate) -> Procedure:
    if db_session.get(Procedure, procedure_in.id) is not None:
        raise AlreadyExists(procedure_in.id)
    procedure = Procedure(**procedure_in.model_dump(), updated_at=clock.now())
    db_session.add(procedure)
    db_session.flush()
    return procedure


def update_procedure(*, db_session: Session, procedure: Procedure, procedure_in: ProcedureUpdate) -> Procedure:
    for key, value in procedure_in.model_dump(exclude_unset=True).items():
        setattr(procedure, key, value)
    procedure.updated_at = clock.now()
    db_session.flush()
    return procedure


# Slot rules and closures ----------------------------------------------------------------------


def get_rule(*, db_session: Session, rule_id: int) -> SlotRule | None:
    return db_session.get(SlotRule, rule_id) if 1 <= rule_id <= MAX_ID else None


def get_all_rules(*, db_session: Session, office_id: str | None = None) -> list[SlotRule]:
    query = select(SlotRule).order_by(SlotRule.office_id, SlotRule.start_time, SlotRule.id)
    if office_id is not None:
        query = query.where(SlotRule.office_id == office_id)
    return list(db_session.scalars(query))


def create_rule(*, db_session: Session, rule_in: SlotRuleCreate, now: datetime | None = None) -> SlotRule:
    _check_times(rule_in.start_time, rule_in.end_time)
    if db_session.get(Office, rule_in.office_id) is None:
        raise NotFound(rule_in.office_id)
    rule = SlotRule(**rule_in.model_dump(), updated_at=clock.now())
    db_session.add(rule)
    db_session.flush()
    resync_future_slots(db_session=db_session, office_id=rule.office_id, now=now)
    return rule


def update_rule(
    *, db_session: Session, rule: SlotRule, rule_in: SlotRuleUpdate, now: datetime | None = None
) -> SlotRule:
    values = rule_in.model_dump(exclude_unset=True)
    _check_times(values.get("start_time", rule.start_time), values.get("end_time", rule.end_time))
    if "weekdays" in values and values["weekdays"] is not None:
        values["weekdays"] = sorted({int(d) for d in values["weekdays"] if 0 <= int(d) <= 6})
    for key, value in values.items():
        setattr(rule, key, value)
    rule.updated_at = clock.now()
    db_session.flush()
    resync_future_slots(db_session=db_session, office_id=rule.office_id, now=now)
    return rule


def delete_rule(*, db_session: Session, rule: SlotRule, now: datetime | None = None) -> None:
    office_id = rule.office_id
    db_session.delete(rule)
    db_session.flush()
    resync_future_slots(db_session=db_session, office_id=office_id, now=now)


def _check_times(start: str, end: str) -> None:
    if calendar.hhmm(start) >= calendar.hhmm(end):
        raise ValueError("start must be before end")


def get_all_closures(*, db_session: Session, since: date | None = None) -> list[Closure]:
    query = select(Closure).order_by(Closure.day, Closure.office_id)
    if since is not None:
        query = query.where(Closure.day >= since)
    return list(db_session.scalars(query))


def get_closure(*, db_session: Session, closure_id: int) -> Closure | None:
    return db_session.get(Closure, closure_id) if 1 <= closure_id <= MAX_ID else None


def create_closure(*, db_session: Session, closure_in: ClosureCreate) -> tuple[Closure, int]:
    """Closes a day (one office, or every office); answers the closure and the bookings it holds
    (they are kept: staff call those citizens)."""
    if closure_in.office_id is not None and db_session.get(Office, closure_in.office_id) is None:
        raise NotFound(closure_in.office_id)
    existing = db_session.scalars(
        select(Closure).where(Closure.day == closure_in.day, _same_office(Closure.office_id, closure_in.office_id))
    ).first()
    if existing is not None:
        raise AlreadyExists(str(closure_in.day))
    closure = Closure(**closure_in.model_dump(), created_at=clock.now())
    db_session.add(closure)
    slots = select(CounterSlot.id).where(CounterSlot.day == closure_in.day)
    if closure_in.office_id is not None:
        slots = slots.where(CounterSlot.office_id == closure_in.office_id)
    db_session.execute(
        update(CounterSlot).where(CounterSlot.id.in_(slots)).values(is_closed=True),
        execution_options={"synchronize_session": False},
    )
    held = db_session.scalar(
        select(func.count())
        .select_from(Reservation)
        .where(Reservation.slot_id.in_(slots), Reservation.status == ReservationStatus.BOOKED)
    )
    db_session.flush()
    return closure, int(held or 0)


def delete_closure(*, db_session: Session, closure: Closure) -> None:
    """Reopens the day: slots closed by the closure open again (slots closed one by one stay closed)."""
    slots = update(CounterSlot).where(CounterSlot.day == closure.day, CounterSlot.is_adjusted.is_(False))
    if closure.office_id is not None:
        slots = slots.where(CounterSlot.office_id == closure.office_id)
    db_session.execute(slots.values(is_closed=False), execution_options={"synchronize_session": False})
    db_session.delete(closure)
    db_session.flush()


def _same_office(column: Any, office_id: str | None) -> Any:
    return column.is_(None) if office_id is None else column == office_id


def _closed_days(db_session: Session, office_id: str, first: date, last: date) -> set[date]:
    rows = db_session.scalars(
        select(Closure.day).where(
            Closure.day >= first, Closure.day <= last, or_(Closure.office_id.is_(None), Closure.office_id == office_id)
        )
    )
    return set(rows)


# Counter slots --------------------------------------------------------------------------------


def _insert_ignoring_duplicates(db_session: Session, table: Table, rows: list[dict[str, Any]], keys: list[str]) -> int:
    """INSERT … ON CONFLICT DO NOTHING (SQLite and PostgreSQL). For one row the answer is exact (1 if
    it was inserted: RETURNING tells, as drivers' rowcount may not); several rows go as one
    executemany and the answer is only how many were offered."""
    if not rows:
        return 0
    statement = upsert_insert(db_session)(table).on_conflict_do_nothing(index_elements=keys)
    if len(rows) == 1:
        returned = db_session.execute(statement.values(**rows[0]).returning(*table.primary_key.columns)).first()
        return 0 if returned is None else 1
    db_session.execute(statement, rows)
    return len(rows)


def ensure_slots(*, db_session: Session, office_id: str, first: date, last: date) -> None:
    """Makes the slots the office's rules give from `first` to `last` (days already made are kept:
    their bookings and staff changes stand). Safe to run from several processes at once."""
    office = db_session.get(Office, office_id)
    if office is None or not office.is_active or last < first:
        return
    rules = [
        calendar.Rule(tuple(r.weekdays), r.start_time, r.end_time, r.slot_minutes, r.capacity)
        for r in get_all_rules(db_session=db_session, office_id=office_id)
        if r.is_active
    ]
    if not rules:
        return
    closed = _closed_days(db_session, office_id, first, last)
    existing = set(
        db_session.scalars(
            select(CounterSlot.starts_at).where(
                CounterSlot.office_id == office_id, CounterSlot.day >= first, CounterSlot.day <= last
            )
        )
    )
    rows: list[dict[str, Any]] = []
    for day in calendar.Window(first, last).days():
        if day in closed:
            continue
        for slot in calendar.slot_times(rules, day, opens=office.opens, closes=office.closes):
            if slot.starts_at not in existing:
                rows.append(
                    {
                        "office_id": office_id,
                        "day": day,
                        "starts_at": slot.starts_at,
                        "ends_at": slot.ends_at,
                        "capacity": slot.capacity,
                        "booked": 0,
                        "is_closed": False,
                        "is_adjusted": False,
                    }
                )
    _insert_ignoring_duplicates(db_session, CounterSlot.__table__, rows, ["office_id", "starts_at"])  # type: ignore[arg-type]


def resync_future_slots(*, db_session: Session, office_id: str, now: datetime | None = None) -> None:
    """After a rule changes: future slots nobody booked and staff did not adjust are made again."""
    now = now or clock.now()
    db_session.execute(
        delete(CounterSlot).where(
            CounterSlot.office_id == office_id,
            CounterSlot.starts_at > now,
            CounterSlot.booked == 0,
            CounterSlot.is_adjusted.is_(False),
            ~CounterSlot.id.in_(select(Reservation.slot_id)),
        ),
        execution_options={"synchronize_session": False},
    )
    db_session.expire_all()
    today = calendar.tokyo_day(now)
    ensure_slots(db_session=db_session, office_id=office_id, first=today, last=today + timedelta(days=366))


def get_slot(*, db_session: Session, slot_id: int) -> CounterSlot | None:
    return db_session.get(CounterSlot, slot_id) if 1 <= slot_id <= MAX_ID else None


def get_slots_for_day(*, db_session: Session, office_id: str, day: date) -> list[CounterSlot]:
    """Every slot of the day (closed and full ones too), for staff."""
    ensure_slots(db_session=db_session, office_id=office_id, first=day, last=day)
    return list(
        db_session.scalars(
            select(CounterSlot)
            .where(CounterSlot.office_id == office_id, CounterSlot.day == day)
            .order_by(CounterSlot.starts_at)
        )
    )


def _citizen_can_book(slot: CounterSlot, now: datetime, settings: Settings) -> bool:
    return (
        slot.free > 0
        and slot.starts_at > now
        and slot.day in calendar.booking_window(now, settings)
        and calendar.is_counter_day(slot.day)
    )


def available_days(
    *, db_session: Session, office_id: str, now: datetime, settings: Settings, limit: int = 10
) -> list[tuple[date, int]]:
    """The next days a citizen can book at this office, with how many places are left."""
    window = calendar.booking_window(now, settings)
    ensure_slots(db_session=db_session, office_id=office_id, first=window.first, last=window.last)
    rows = db_session.execute(
        select(CounterSlot.day, func.sum(CounterSlot.capacity - CounterSlot.booked))
        .where(
            CounterSlot.office_id == office_id,
            CounterSlot.day >= window.first,
            CounterSlot.day <= window.last,
            CounterSlot.is_closed.is_(False),
            CounterSlot.booked < CounterSlot.capacity,
            CounterSlot.starts_at > now,
        )
        .group_by(CounterSlot.day)
        .order_by(CounterSlot.day)
        .limit(limit)
    )
    return [(day, int(free)) for day, free in rows if calendar.is_counter_day(day)]


def available_slots(
    *, db_session: Session, office_id: str, day: date, now: datetime, settings: Settings, for_citizen: bool = True
) -> list[CounterSlot]:
    """Slots with a place left on `day`; a citizen also has to be inside the window and before the cutoff."""
    if for_citizen and day not in calendar.booking_window(now, settings):
        return []
    slots = get_slots_for_day(db_session=db_session, office_id=office_id, day=day)
    return [s for s in slots if s.free > 0 and s.starts_at > now]


def adjust_slot(
    *, db_session: Session, slot: CounterSlot, capacity: int | None = None, is_closed: bool | None = None
) -> CounterSlot:
    """Staff change one slot: capacity (counters staffed) or closed. Lowering capacity below what is
    booked keeps those bookings and takes no more."""
    if capacity is not None:
        if not 0 <= capacity <= 100:
            raise ValueError("capacity must be 0 to 100")
        slot.capacity = capacity
    if is_closed is not None:
        slot.is_closed = is_closed
    slot.is_adjusted = True
    db_session.flush()
    return slot


def _take_place(db_session: Session, slot_id: int) -> None:
    result = db_session.execute(
        update(CounterSlot)
        .where(CounterSlot.id == slot_id, CounterSlot.booked < CounterSlot.capacity, CounterSlot.is_closed.is_(False))
        .values(booked=CounterSlot.booked + 1),
        execution_options={"synchronize_session": False},
    )
    if result.rowcount != 1:
        raise SlotFull(str(slot_id))


def _give_back_place(db_session: Session, slot_id: int) -> None:
    db_session.execute(
        update(CounterSlot)
        .where(CounterSlot.id == slot_id, CounterSlot.booked > 0)
        .values(booked=CounterSlot.booked - 1),
        execution_options={"synchronize_session": False},
    )


# Reservations ---------------------------------------------------------------------------------


@dataclass
class Booked:
    reservation: Reservation
    token: str | None  # None only once purged
    created: bool  # False: the idempotency key found an earlier booking


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
    procedure = get_active_procedure(db_session=db_session, procedure_id=reservation_in.procedure_id)
    if procedure is None:
        raise NotFound(reservation_in.procedure_id)
    slot = _check_slot(get_slot(db_session=db_session, slot_id=reservation_in.slot_id), procedure, now)
    office = db_session.get(Office, slot.office_id)
    if office is None or not office.is_active:
        raise SlotNotBookable("office")
    citizen = reservation_in.channel == ReservationChannel.LINE
    if citizen and not (slot.day in calendar.booking_window(now, settings) and calendar.is_counter_day(slot.day)):
        raise SlotNotBookable("window")
    try:
        answers = forms.clean_all(procedure.fields, reservation_in.answers, today=calendar.tokyo_day(now))
    except forms.InvalidAnswer as exc:
        raise InvalidAnswers(str(exc)) from None
    if citizen:
        if not reservation_in.line_user_id:
            raise NotFound("citizen")
        active = count_active_for_citizen(db_session=db_session, line_user_id=reservation_in.line_user_id, now=now)
        if active >= settings.reservation_max_active:
            raise LimitReached(str(active))
    token = qr.new_token()
    try:
        with db_session.begin_nested():
            _take_place(db_session, slot.id)
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


def token_of(reservation: Reservation, settings: Settings) -> str | None:
    """The QR token, for its owner to see again (None once purged)."""
    return crypto.decrypt(reservation.qr_token_enc, settings) if reservation.qr_token_enc else None


def answers_of(reservation: Reservation, settings: Settings) -> dict[str, str] | None:
    """The form answers (None once purged). Only for counter/admin roles and the citizen's own flow."""
    if reservation.answers_enc is None:
        return None
    return crypto.decrypt_json(reservation.answers_enc, settings)


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
    procedure = get_procedure(db_session=db_session, procedure_id=reservation.procedure_id)
    if procedure is None:
        raise NotFound(reservation.procedure_id)
    slot = _check_slot(get_slot(db_session=db_session, slot_id=slot_id), procedure, now)
    if by_citizen and slot.day not in calendar.booking_window(now, settings):
        raise SlotNotBookable("window")
    old_slot_id = reservation.slot_id
    with db_session.begin_nested():
        # Always lock the lower slot id first, so two moves in opposite directions cannot deadlock.
        if slot.id < old_slot_id:
            _take_place(db_session, slot.id)
            _give_back_place(db_session, old_slot_id)
        else:
            _give_back_place(db_session, old_slot_id)
            _take_place(db_session, slot.id)
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
        if moved.rowcount != 1:
            raise InvalidTransition("changed meanwhile")
    db_session.refresh(reservation)
    db_session.expire(slot)
    return reservation


def cancel(*, db_session: Session, reservation: Reservation, reason: str, now: datetime | None = None) -> Reservation:
    """Cancels an upcoming booking and gives its place back (once, even if two cancels race)."""
    now = now or clock.now()
    done = db_session.execute(
        update(Reservation)
        .where(Reservation.id == reservation.id, Reservation.status == ReservationStatus.BOOKED)
        .values(status=ReservationStatus.CANCELLED, cancelled_at=now, cancel_reason=reason[:200], updated_at=now),
        execution_options={"synchronize_session": False},
    )
    if done.rowcount != 1:
        db_session.refresh(reservation)
        raise InvalidTransition(reservation.status)
    _give_back_place(db_session, reservation.slot_id)
    db_session.refresh(reservation)
    return reservation


# Staff at the counter: what each action moves from and to.
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
    return int(result.rowcount or 0)


# Reminders ------------------------------------------------------------------------------------


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
    inserted = _insert_ignoring_duplicates(
        db_session,
        ReminderSent.__table__,  # type: ignore[arg-type]
        [{"reservation_id": reservation.id, "kind": kind.value, "starts_at": reservation.starts_at, "sent_at": now}],
        ["reservation_id", "kind", "starts_at"],
    )
    return inserted == 1


# Seed -----------------------------------------------------------------------------------------


def seed(*, db_session: Session, path: Path = SEED_FILE) -> int:
    """Adds the offices, procedures and slot rules from the file that are missing (staff edits stay)."""
    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    added = 0
    for item in data.get("offices", []):
        if db_session.get(Office, item["id"]) is None:
            create_office(db_session=db_session, office_in=OfficeCreate(**item))
            added += 1
    for item in data.get("procedures", []):
        if db_session.get(Procedure, item["id"]) is None:
            values = dict(item)
            values["office_ids"] = values.pop("offices", [])
            create_procedure(db_session=db_session, procedure_in=ProcedureCreate(**values))
            added += 1
    for item in data.get("slot_rules", []):
        office_id = item["office"]
        # An office that has any rule is left alone: its rules are the staff's now.
        if get_all_rules(db_session=db_session, office_id=office_id):
            continue
        for rule in [r for r in data["slot_rules"] if r["office"] == office_id]:
            db_session.add(
                SlotRule(
                    office_id=office_id,
                    weekdays=list(rule["weekdays"]),
                    start_time=rule["start"],
                    end_time=rule["end"],
                    slot_minutes=int(rule["minutes"]),
                    capacity=int(rule["capacity"]),
                    is_active=True,
                    updated_at=clock.now(),
                )
            )
            added += 1
        db_session.flush()
    return added
