"""The demo city's sample sessions (data/classes.yml): a few series for the coming months, marked
as samples. Added once: when any sample session exists, staff own them (edits and deletions stay)."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Any

import yaml
from sqlalchemy import select
from sqlalchemy.orm import Session

from bot import clock
from handlers.classes.models import ClassSession, SessionCreate, VenueIn
from handlers.classes.service import sessions

SEED_FILE = Path(__file__).parent.parent / "data" / "classes.yml"


def _hhmm(value: str) -> time:
    hour, minute = (int(part) for part in value.split(":"))
    return time(hour, minute)


def _months_later(day: date, months: int) -> date:
    month = day.month - 1 + months
    return date(day.year + month // 12, month % 12 + 1, 1) - timedelta(days=1)


def seed(*, db_session: Session, path: Path = SEED_FILE, now: datetime | None = None) -> int:
    if db_session.scalar(select(ClassSession.id).where(ClassSession.is_sample.is_(True)).limit(1)) is not None:
        return 0
    now = now or clock.now()
    data: dict[str, Any] = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    venues = data.get("venues", {})
    today = sessions.tokyo_day(now)
    added = 0
    for item in data.get("series", []):
        recurrence = sessions.Recurrence(
            first_day=today + timedelta(days=1),
            last_day=_months_later(today, int(item.get("months", 3))),
            weekday=int(item["weekday"]),
            nth=item.get("nth"),
            start=_hhmm(item["start"]),
            end=_hhmm(item["end"]),
        )
        starts = datetime.combine(recurrence.first_day, recurrence.start, clock.TOKYO)
        template = SessionCreate(
            title=item["title"],
            level=item.get("level", "first"),
            description=item.get("description", ""),
            starts_at=starts,
            ends_at=datetime.combine(recurrence.first_day, recurrence.end, clock.TOKYO),
            venue=VenueIn(**venues[item["venue"]]),
            capacity=int(item["capacity"]),
            bring=item.get("bring", ""),
            phones=item.get("phones", []),
            mode=item.get("mode", "first_come"),
            priority_age=item.get("priority_age"),
            signup_deadline=starts - timedelta(days=7) if item.get("mode") == "lottery" else None,
            is_sample=True,
        )
        series_id = sessions.new_series_id()
        for session_in in sessions.series_sessions(template, recurrence):
            sessions.create(db_session=db_session, session_in=session_in, series_id=series_id, now=now)
            added += 1
    return added
