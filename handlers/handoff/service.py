"""Handoff rules: record a citizen's request for a person (once while one is open), and the office
calendar that says whether anyone is there now: weekdays, office hours (parsed from CITY_HOURS,
e.g. 「平日 8:30〜17:15」), no national holidays, closed over 年末年始 (12/29–1/3).
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from functools import cache

import holidays
from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from bot import clock
from bot.db import affected_rows
from bot.settings import Settings
from handlers.handoff.models import HandoffRequest, HandoffRequestCreate, HandoffStatus

MAX_MESSAGE = 1000
DEFAULT_HOURS = (time(8, 30), time(17, 15))
_HOURS = re.compile(r"(\d{1,2})[:時](\d{2})?\D{0,3}?[〜~\-ー–]\s*(\d{1,2})[:時](\d{2})?")


@dataclass(frozen=True)
class OfficeHours:
    opens: time
    closes: time

    @classmethod
    def from_settings(cls, settings: Settings) -> OfficeHours:
        """Reads the hours from CITY_HOURS (what citizens are told), falling back to 8:30–17:15."""
        match = _HOURS.search(unicodedata.normalize("NFKC", settings.city_hours))
        if match is None:
            return cls(*DEFAULT_HOURS)
        try:
            opens = time(int(match.group(1)), int(match.group(2) or 0))
            closes = time(int(match.group(3)), int(match.group(4) or 0))
        except ValueError:
            return cls(*DEFAULT_HOURS)
        return cls(opens, closes) if opens < closes else cls(*DEFAULT_HOURS)


@cache
def _holidays(year: int) -> holidays.HolidayBase:
    return holidays.country_holidays("JP", years=year)


def is_office_day(day: date) -> bool:
    if day.weekday() >= 5 or day in _holidays(day.year):
        return False
    # 年末年始: the city offices close from 29 December to 3 January.
    return not ((day.month == 12 and day.day >= 29) or (day.month == 1 and day.day <= 3))


def is_open(moment: datetime, hours: OfficeHours) -> bool:
    local = moment.astimezone(clock.TOKYO)
    return is_office_day(local.date()) and hours.opens <= local.time() < hours.closes


def next_opening(moment: datetime, hours: OfficeHours) -> datetime:
    """When the office next opens (Asia/Tokyo), at or after `moment`."""
    local = moment.astimezone(clock.TOKYO)
    day = local.date()
    if is_office_day(day) and local.time() < hours.opens:
        return datetime.combine(day, hours.opens, clock.TOKYO)
    for _ in range(30):
        day += timedelta(days=1)
        if is_office_day(day):
            return datetime.combine(day, hours.opens, clock.TOKYO)
    raise RuntimeError("no office day within 30 days")  # pragma: no cover - calendars are not that empty


# Requests -------------------------------------------------------------------------------------------


def get(*, db_session: Session, handoff_request_id: int) -> HandoffRequest | None:
    return db_session.get(HandoffRequest, handoff_request_id)


def get_open_by_citizen(*, db_session: Session, line_user_id: str) -> HandoffRequest | None:
    return db_session.scalars(
        select(HandoffRequest)
        .where(HandoffRequest.line_user_id == line_user_id, HandoffRequest.status == HandoffStatus.OPEN)
        .order_by(HandoffRequest.requested_at.desc())
        .limit(1)
    ).first()


def get_all_by_status(*, db_session: Session, status: HandoffStatus, limit: int = 200) -> list[HandoffRequest]:
    return list(
        db_session.scalars(
            select(HandoffRequest)
            .where(HandoffRequest.status == status)
            .order_by(HandoffRequest.requested_at)
            .limit(limit)
        )
    )


def create(*, db_session: Session, handoff_in: HandoffRequestCreate, office_open: bool) -> HandoffRequest:
    request = HandoffRequest(
        line_user_id=handoff_in.line_user_id,
        message=handoff_in.message.strip()[:MAX_MESSAGE] if handoff_in.message else None,
        source=handoff_in.source,
        status=HandoffStatus.OPEN,
        office_open=office_open,
        requested_at=clock.now(),
    )
    db_session.add(request)
    db_session.flush()
    return request


def request_person(
    *, db_session: Session, handoff_in: HandoffRequestCreate, office_open: bool
) -> tuple[HandoffRequest, bool]:
    """Records the request unless one from this citizen is still open; answers (request, created).

    A second message while the first is open is added to it, so staff see everything in one place.
    """
    existing = get_open_by_citizen(db_session=db_session, line_user_id=handoff_in.line_user_id)
    if existing is not None:
        if handoff_in.message and handoff_in.message.strip():
            joined = "\n".join(m for m in (existing.message, handoff_in.message.strip()) if m)
            existing.message = joined[-MAX_MESSAGE:]
            db_session.flush()
        return existing, False
    return create(db_session=db_session, handoff_in=handoff_in, office_open=office_open), True


def mark_done(*, db_session: Session, handoff_request: HandoffRequest, staff_name: str) -> HandoffRequest:
    handoff_request.status = HandoffStatus.DONE
    handoff_request.handled_at = clock.now()
    handoff_request.handled_by = staff_name
    db_session.flush()
    return handoff_request


def purge(*, db_session: Session, before: datetime) -> int:
    """Requests made before `before` (the nightly job, HANDOFF_RETENTION_DAYS): handled ones are
    deleted; one still open stays for staff, without the citizen's words. Answers how many changed."""
    deleted = db_session.execute(
        delete(HandoffRequest).where(HandoffRequest.status == HandoffStatus.DONE, HandoffRequest.requested_at < before)
    )
    cleared = db_session.execute(
        update(HandoffRequest)
        .where(HandoffRequest.requested_at < before, HandoffRequest.message.is_not(None))
        .values(message=None)
        .execution_options(synchronize_session=False)
    )
    return affected_rows(deleted) + affected_rows(cleared)
