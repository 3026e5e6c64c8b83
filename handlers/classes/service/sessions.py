"""Sessions: what is offered, when signups are open, how many places are left; a recurring series
created at once (e.g. every second Tuesday for six months)."""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from bot import clock
from handlers.classes.models import (
    MAX_ID,
    ClassSession,
    Mode,
    SessionCreate,
    SessionRead,
    SessionStatus,
    SessionUpdate,
    Signup,
    SignupStatus,
    check_times,
)
from handlers.classes.service.errors import InvalidSession

# A lottery without a deadline set closes applications this long before the class.
DEFAULT_LOTTERY_DEADLINE = timedelta(days=7)
MAX_SERIES = 60
# What a PATCH may clear with null.
NULLABLE = frozenset({"latitude", "longitude", "signup_opens_at", "signup_deadline", "priority_age"})


@dataclass(frozen=True)
class Counts:
    confirmed: int = 0
    waitlisted: int = 0
    applied: int = 0

    def places_left(self, session: ClassSession) -> int:
        return max(0, session.capacity - self.confirmed)


def tokyo_day(moment: datetime) -> date:
    return moment.astimezone(clock.TOKYO).date()


# Reading --------------------------------------------------------------------------------------


def get(*, db_session: Session, session_id: int) -> ClassSession | None:
    return db_session.get(ClassSession, session_id) if 1 <= session_id <= MAX_ID else None


def lock(*, db_session: Session, session_id: int) -> ClassSession | None:
    """Takes the session's row lock for the rest of the transaction (and a place in its arrival
    order): every change to a session's signups starts here, so they happen one at a time and each
    sees the last one's result, on SQLite and on PostgreSQL alike."""
    if not 1 <= session_id <= MAX_ID:
        return None
    db_session.execute(
        update(ClassSession)
        .where(ClassSession.id == session_id)
        .values(seq=ClassSession.seq + 1)
        .execution_options(synchronize_session=False)
    )
    return db_session.get(ClassSession, session_id, populate_existing=True)


def counts(*, db_session: Session, session_ids: Sequence[int]) -> dict[int, Counts]:
    if not session_ids:
        return {}
    rows = db_session.execute(
        select(Signup.session_id, Signup.status, func.count())
        .where(Signup.session_id.in_(list(session_ids)), Signup.status != SignupStatus.CANCELLED)
        .group_by(Signup.session_id, Signup.status)
    )
    found: dict[int, dict[str, int]] = {}
    for session_id, status, count in rows:
        found.setdefault(session_id, {})[str(status)] = int(count)
    return {
        session_id: Counts(
            confirmed=found.get(session_id, {}).get(SignupStatus.CONFIRMED, 0),
            waitlisted=found.get(session_id, {}).get(SignupStatus.WAITLISTED, 0),
            applied=found.get(session_id, {}).get(SignupStatus.APPLIED, 0),
        )
        for session_id in session_ids
    }


def counts_of(*, db_session: Session, session: ClassSession) -> Counts:
    return counts(db_session=db_session, session_ids=[session.id])[session.id]


def read(*, db_session: Session, session: ClassSession, known: Counts | None = None) -> SessionRead:
    count = known or counts_of(db_session=db_session, session=session)
    out = SessionRead.model_validate(session)
    out.confirmed, out.waitlisted, out.applied = count.confirmed, count.waitlisted, count.applied
    out.places_left = count.places_left(session)
    return out


def upcoming(
    *,
    db_session: Session,
    now: datetime,
    month: tuple[int, int] | None = None,
    venue: str | None = None,
    include_cancelled: bool = False,
    limit: int | None = None,
) -> list[ClassSession]:
    """Sessions not yet started, soonest first; `month` (year, month) and `venue` narrow them."""
    query = select(ClassSession).where(ClassSession.starts_at > now).order_by(ClassSession.starts_at, ClassSession.id)
    if not include_cancelled:
        query = query.where(ClassSession.status == SessionStatus.OPEN)
    if month is not None:
        start = datetime(month[0], month[1], 1, tzinfo=clock.TOKYO)
        end = datetime(month[0] + month[1] // 12, month[1] % 12 + 1, 1, tzinfo=clock.TOKYO)
        query = query.where(ClassSession.starts_at >= start, ClassSession.starts_at < end)
    if venue:
        query = query.where(ClassSession.venue == venue)
    if limit:
        query = query.limit(limit)
    return list(db_session.scalars(query))


def between(*, db_session: Session, start: datetime, end: datetime) -> list[ClassSession]:
    return list(
        db_session.scalars(
            select(ClassSession)
            .where(ClassSession.starts_at >= start, ClassSession.starts_at < end)
            .order_by(ClassSession.starts_at, ClassSession.id)
        )
    )


def venues(*, db_session: Session, now: datetime) -> list[str]:
    """The venues of upcoming sessions, by how soon their next session is."""
    names: list[str] = []
    for session in upcoming(db_session=db_session, now=now):
        if session.venue not in names:
            names.append(session.venue)
    return names


def deadline_of(session: ClassSession) -> datetime:
    """When signups close: the deadline set, else the start."""
    return session.signup_deadline or session.starts_at


def is_open_for_signup(session: ClassSession, now: datetime) -> bool:
    if session.status != SessionStatus.OPEN or session.starts_at <= now or now > deadline_of(session):
        return False
    if session.mode == Mode.LOTTERY and session.drawn_at is not None:
        return False
    return session.signup_opens_at is None or session.signup_opens_at <= now


def takes_applications(session: ClassSession) -> bool:
    """A lottery before its draw: signups are applications."""
    return session.mode == Mode.LOTTERY and session.drawn_at is None


# Writing --------------------------------------------------------------------------------------


def _columns(fields: SessionCreate | SessionUpdate) -> dict[str, Any]:
    values = fields.model_dump(exclude_unset=True, exclude={"venue", "venue_address", "latitude", "longitude"})
    if "phones" in values and values["phones"] is not None:
        values["phones"] = [str(p) for p in values["phones"]]
    values.update(fields.venue_fields())
    return values


def create(
    *, db_session: Session, session_in: SessionCreate, series_id: str | None = None, now: datetime | None = None
) -> ClassSession:
    now = now or clock.now()
    values = _columns(session_in)
    session = ClassSession(
        level=values.pop("level", None) or "first",
        description=values.pop("description", None) or "",
        bring=values.pop("bring", None) or "",
        phones=values.pop("phones", None) or [],
        mode=values.pop("mode", None) or Mode.FIRST_COME,
        is_sample=bool(values.pop("is_sample", False)),
        status=SessionStatus.OPEN,
        seq=0,
        series_id=series_id,
        created_at=now,
        updated_at=now,
        **values,
    )
    session.venue_address = session.venue_address or ""
    if session.mode == Mode.LOTTERY and session.signup_deadline is None:
        session.signup_deadline = session.starts_at - DEFAULT_LOTTERY_DEADLINE
    _check(session)
    db_session.add(session)
    db_session.flush()
    return session


def update_fields(*, db_session: Session, session: ClassSession, session_in: SessionUpdate) -> ClassSession:
    """Changes what staff changed. The mode (先着順/抽選) changes only while nobody has signed up:
    applications would never be drawn, or a draw would seat people ahead of those already waiting."""
    values = _columns(session_in)
    if "mode" in values and values["mode"] is not None and values["mode"] != session.mode:
        taken = counts_of(db_session=db_session, session=session)
        if session.drawn_at is not None or taken.confirmed + taken.waitlisted + taken.applied > 0:
            raise InvalidSession("the mode cannot change once people have signed up")
    for name, value in values.items():
        if value is None and name not in NULLABLE:
            raise InvalidSession(f"{name} cannot be empty")
        setattr(session, name, value)
    if session.mode == Mode.LOTTERY and session.signup_deadline is None:
        session.signup_deadline = session.starts_at - DEFAULT_LOTTERY_DEADLINE  # else it is never drawn
    _check(session)
    session.updated_at = clock.now()
    db_session.flush()
    return session


def _check(session: ClassSession) -> None:
    try:
        check_times(session.starts_at, session.ends_at, session.signup_opens_at, session.signup_deadline)
    except ValueError as exc:
        raise InvalidSession(str(exc)) from None
    if not session.title or not session.venue:
        raise InvalidSession("title and venue are required")


def cancel_session(*, db_session: Session, session: ClassSession) -> None:
    session.status = SessionStatus.CANCELLED
    session.updated_at = clock.now()
    db_session.flush()


# A recurring series ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Recurrence:
    """Every `weekday` (0 = Monday) from `first_day` to `last_day`; `nth` (1–5) keeps only the nth
    such weekday of each month (第2火曜), None keeps every week."""

    first_day: date
    last_day: date
    weekday: int
    nth: int | None
    start: time
    end: time

    def days(self) -> list[date]:
        found: list[date] = []
        day = self.first_day + timedelta(days=(self.weekday - self.first_day.weekday()) % 7)
        while day <= self.last_day:
            if self.nth is None or (day.day - 1) // 7 + 1 == self.nth:
                found.append(day)
            day += timedelta(days=7)
        return found


def series_sessions(template: SessionCreate, recurrence: Recurrence) -> list[SessionCreate]:
    """One SessionCreate per day of the recurrence, the template's deadline kept at the same distance."""
    days = recurrence.days()
    if not days:
        raise InvalidSession("the series has no day")
    if len(days) > MAX_SERIES:
        raise InvalidSession(f"a series has at most {MAX_SERIES} sessions")
    out: list[SessionCreate] = []
    for day in days:
        starts = datetime.combine(day, recurrence.start, clock.TOKYO)
        shift = starts - template.starts_at
        values = template.model_dump(exclude_unset=True)
        values["starts_at"] = starts
        values["ends_at"] = datetime.combine(day, recurrence.end, clock.TOKYO)
        for name in ("signup_opens_at", "signup_deadline"):
            if values.get(name) is not None:
                values[name] = values[name] + shift
        out.append(SessionCreate.model_validate(values))
    return out


def new_series_id() -> str:
    return secrets.token_hex(8)
