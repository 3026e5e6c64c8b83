"""Counter slots: made from the offices' rules as days come into view, what is free, and the places
in them.

Capacity: a place is taken only by `UPDATE counter_slots SET booked = booked + 1 WHERE id = :slot
AND booked < capacity AND NOT is_closed` and the row count says whether it was. PostgreSQL re-checks
the condition on the row's newest version when concurrent updates queue on it (READ COMMITTED), and
SQLite has one writer at a time, so on both the last place goes to exactly one caller.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import delete, func, or_, select, update
from sqlalchemy.orm import Session

from bot import clock
from bot.db import affected_rows, upsert_insert
from bot.settings import Settings
from handlers.reservations import calendar
from handlers.reservations.models import (
    MAX_ID,
    Closure,
    CounterSlot,
    Office,
    Reservation,
    ReservationStatus,
    SlotRule,
)
from handlers.reservations.service.errors import SlotFull

# Making slots ---------------------------------------------------------------------------------


def ensure_slots(*, db_session: Session, office_id: str, first: date, last: date) -> None:
    """Makes the slots the office's rules give from `first` to `last` (days already made are kept:
    their bookings and staff changes stand). Safe to run from several processes at once."""
    office = db_session.get(Office, office_id)
    if office is None or not office.is_active or last < first:
        return
    rules = [
        calendar.Rule(tuple(r.weekdays), r.start_time, r.end_time, r.slot_minutes, r.capacity)
        for r in db_session.scalars(
            select(SlotRule)
            .where(SlotRule.office_id == office_id, SlotRule.is_active.is_(True))
            .order_by(SlotRule.start_time, SlotRule.id)
        )
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
    if rows:
        # Another process may be making the same day: its rows stand, ours are skipped.
        table = CounterSlot.__table__
        insert = upsert_insert(db_session)(table).on_conflict_do_nothing(index_elements=["office_id", "starts_at"])
        db_session.execute(insert, rows)


def _closed_days(db_session: Session, office_id: str, first: date, last: date) -> set[date]:
    rows = db_session.scalars(
        select(Closure.day).where(
            Closure.day >= first, Closure.day <= last, or_(Closure.office_id.is_(None), Closure.office_id == office_id)
        )
    )
    return set(rows)


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


def close_day(*, db_session: Session, day: date, office_id: str | None) -> int:
    """Closes the day's slots (one office's, or every office's); answers how many bookings they hold."""
    day_slots = select(CounterSlot.id).where(CounterSlot.day == day)
    if office_id is not None:
        day_slots = day_slots.where(CounterSlot.office_id == office_id)
    db_session.execute(
        update(CounterSlot).where(CounterSlot.id.in_(day_slots)).values(is_closed=True),
        execution_options={"synchronize_session": False},
    )
    held = db_session.scalar(
        select(func.count())
        .select_from(Reservation)
        .where(Reservation.slot_id.in_(day_slots), Reservation.status == ReservationStatus.BOOKED)
    )
    return int(held or 0)


def reopen_day(*, db_session: Session, day: date, office_id: str | None) -> None:
    """Opens the day's slots again, except those staff closed one by one."""
    day_slots = update(CounterSlot).where(CounterSlot.day == day, CounterSlot.is_adjusted.is_(False))
    if office_id is not None:
        day_slots = day_slots.where(CounterSlot.office_id == office_id)
    db_session.execute(day_slots.values(is_closed=False), execution_options={"synchronize_session": False})


# Reading slots --------------------------------------------------------------------------------


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


def available_days(
    *,
    db_session: Session,
    office_id: str,
    now: datetime,
    settings: Settings,
    limit: int = 10,
    since: date | None = None,
) -> list[tuple[date, int]]:
    """The next days a citizen can book at this office (from `since` on, when given), with how many
    places are left."""
    window = calendar.booking_window(now, settings)
    ensure_slots(db_session=db_session, office_id=office_id, first=window.first, last=window.last)
    rows = db_session.execute(
        select(CounterSlot.day, func.sum(CounterSlot.capacity - CounterSlot.booked))
        .where(
            CounterSlot.office_id == office_id,
            CounterSlot.day >= max(window.first, since or window.first),
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


def why_unavailable(
    *, db_session: Session, office_id: str, day: date, now: datetime, settings: Settings
) -> calendar.Unavailable:
    """Why a citizen cannot book `day` at the office (asked when it has no free slot for them)."""
    reason = calendar.outside_window(day, now, settings)
    if reason is not None:
        return reason
    slots = get_slots_for_day(db_session=db_session, office_id=office_id, day=day)
    if all(s.is_closed for s in slots):  # none made (no rule that weekday), or the day is closed
        return calendar.Unavailable.CLOSED
    return calendar.Unavailable.FULL


def next_available_day(
    *, db_session: Session, office_id: str, after: date, now: datetime, settings: Settings
) -> date | None:
    """The first day after `after` a citizen can book at the office; else the first at all."""
    for since in (after + timedelta(days=1), None):
        days = available_days(
            db_session=db_session, office_id=office_id, now=now, settings=settings, limit=1, since=since
        )
        if days:
            return days[0][0]
    return None


def available_slots(
    *, db_session: Session, office_id: str, day: date, now: datetime, settings: Settings, for_citizen: bool = True
) -> list[CounterSlot]:
    """Slots with a place left on `day`; a citizen also has to be inside the window and before the cutoff."""
    if for_citizen and day not in calendar.booking_window(now, settings):
        return []
    slots = get_slots_for_day(db_session=db_session, office_id=office_id, day=day)
    return [s for s in slots if s.free > 0 and s.starts_at > now]


# Changing slots -------------------------------------------------------------------------------


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


def take_place(*, db_session: Session, slot_id: int) -> None:
    """One place in the slot, or SlotFull (the conditional UPDATE above)."""
    result = db_session.execute(
        update(CounterSlot)
        .where(CounterSlot.id == slot_id, CounterSlot.booked < CounterSlot.capacity, CounterSlot.is_closed.is_(False))
        .values(booked=CounterSlot.booked + 1),
        execution_options={"synchronize_session": False},
    )
    if affected_rows(result) != 1:
        raise SlotFull(str(slot_id))


def give_back_place(*, db_session: Session, slot_id: int) -> None:
    db_session.execute(
        update(CounterSlot)
        .where(CounterSlot.id == slot_id, CounterSlot.booked > 0)
        .values(booked=CounterSlot.booked - 1),
        execution_options={"synchronize_session": False},
    )
