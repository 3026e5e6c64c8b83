"""The counter as the city sets it up: offices, procedures, slot rules and closed days.

A change that moves slots (a rule edited, a day closed or reopened) moves them here too, through
slots.py, in the caller's transaction.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot import clock
from handlers.reservations import calendar
from handlers.reservations.models import (
    MAX_ID,
    Closure,
    ClosureCreate,
    Office,
    OfficeCreate,
    OfficeUpdate,
    Procedure,
    ProcedureCreate,
    ProcedureUpdate,
    SlotRule,
    SlotRuleCreate,
    SlotRuleUpdate,
)
from handlers.reservations.service import slots
from handlers.reservations.service.errors import AlreadyExists, NotFound, ReservationError


class OutsideOfficeHours(ReservationError):
    """A slot rule reaching outside its office's 受付時間: no slot would be made there."""

    def __init__(self, office: Office, start: str, end: str) -> None:
        super().__init__(f"{start}-{end} is outside {office.id}'s hours {office.opens}-{office.closes}")
        self.office, self.start, self.end = office, start, end


# Offices --------------------------------------------------------------------------------------


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


# Procedures -----------------------------------------------------------------------------------


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


# Slot rules -----------------------------------------------------------------------------------


def get_rule(*, db_session: Session, rule_id: int) -> SlotRule | None:
    return db_session.get(SlotRule, rule_id) if 1 <= rule_id <= MAX_ID else None


def get_all_rules(*, db_session: Session, office_id: str | None = None) -> list[SlotRule]:
    query = select(SlotRule).order_by(SlotRule.office_id, SlotRule.start_time, SlotRule.id)
    if office_id is not None:
        query = query.where(SlotRule.office_id == office_id)
    return list(db_session.scalars(query))


def create_rule(*, db_session: Session, rule_in: SlotRuleCreate, now: datetime | None = None) -> SlotRule:
    _check_times(rule_in.start_time, rule_in.end_time)
    office = db_session.get(Office, rule_in.office_id)
    if office is None:
        raise NotFound(rule_in.office_id)
    _check_office_hours(office, rule_in.start_time, rule_in.end_time)
    rule = SlotRule(**rule_in.model_dump(), updated_at=clock.now())
    db_session.add(rule)
    db_session.flush()
    slots.resync_future_slots(db_session=db_session, office_id=rule.office_id, now=now)
    return rule


def update_rule(
    *, db_session: Session, rule: SlotRule, rule_in: SlotRuleUpdate, now: datetime | None = None
) -> SlotRule:
    values = rule_in.model_dump(exclude_unset=True)
    start, end = values.get("start_time") or rule.start_time, values.get("end_time") or rule.end_time
    _check_times(start, end)
    office = db_session.get(Office, rule.office_id)
    if office is not None:
        _check_office_hours(office, start, end)
    if "weekdays" in values and values["weekdays"] is not None:
        values["weekdays"] = sorted({int(d) for d in values["weekdays"] if 0 <= int(d) <= 6})
    for key, value in values.items():
        setattr(rule, key, value)
    rule.updated_at = clock.now()
    db_session.flush()
    slots.resync_future_slots(db_session=db_session, office_id=rule.office_id, now=now)
    return rule


def delete_rule(*, db_session: Session, rule: SlotRule, now: datetime | None = None) -> None:
    office_id = rule.office_id
    db_session.delete(rule)
    db_session.flush()
    slots.resync_future_slots(db_session=db_session, office_id=office_id, now=now)


def _check_times(start: str, end: str) -> None:
    if calendar.hhmm(start) >= calendar.hhmm(end):
        raise ValueError("start must be before end")


def _check_office_hours(office: Office, start: str, end: str) -> None:
    """Slots are made only inside the office's 受付時間, so a rule reaching past them is refused."""
    if calendar.hhmm(start) < calendar.hhmm(office.opens) or calendar.hhmm(end) > calendar.hhmm(office.closes):
        raise OutsideOfficeHours(office, start, end)


# Closed days ----------------------------------------------------------------------------------


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
    same_office = (
        Closure.office_id.is_(None) if closure_in.office_id is None else Closure.office_id == closure_in.office_id
    )
    existing = db_session.scalars(select(Closure).where(Closure.day == closure_in.day, same_office)).first()
    if existing is not None:
        raise AlreadyExists(str(closure_in.day))
    closure = Closure(**closure_in.model_dump(), created_at=clock.now())
    db_session.add(closure)
    held = slots.close_day(db_session=db_session, day=closure_in.day, office_id=closure_in.office_id)
    db_session.flush()
    return closure, held


def delete_closure(*, db_session: Session, closure: Closure) -> None:
    """Reopens the day: slots closed by the closure open again (slots closed one by one stay closed)."""
    slots.reopen_day(db_session=db_session, day=closure.day, office_id=closure.office_id)
    db_session.delete(closure)
    db_session.flush()
