"""The counter calendar: which days the offices open, which times the slot rules make of them, and
which of those a citizen may still book from LINE (the booking window and the day-before cutoff).

Closed: weekends, Japanese national holidays (the maintained `holidays` package, JP, including
substitute holidays) and 年末年始 (29 December to 3 January), plus closures staff enter per office.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from enum import StrEnum
from functools import cache

import holidays

from bot import clock
from bot.settings import Settings


@cache
def _holidays(year: int) -> holidays.HolidayBase:
    return holidays.country_holidays("JP", years=year)


def holiday_name(day: date) -> str | None:
    return _holidays(day.year).get(day)


def is_year_end(day: date) -> bool:
    """年末年始: 12/29–1/3, when city offices close."""
    return (day.month == 12 and day.day >= 29) or (day.month == 1 and day.day <= 3)


def is_counter_day(day: date) -> bool:
    """A weekday that is neither a national holiday nor 年末年始 (office closures come on top)."""
    return day.weekday() < 5 and day not in _holidays(day.year) and not is_year_end(day)


def hhmm(value: str) -> time:
    hours, minutes = value.split(":")
    return time(int(hours), int(minutes))


@dataclass(frozen=True)
class SlotTime:
    starts_at: datetime  # aware, Tokyo
    ends_at: datetime
    capacity: int


@dataclass(frozen=True)
class Rule:
    """A slot rule as the calendar needs it (models.SlotRule has the same fields)."""

    weekdays: tuple[int, ...]
    start_time: str
    end_time: str
    slot_minutes: int
    capacity: int


def slot_times(rules: Iterable[Rule], day: date, *, opens: str = "00:00", closes: str = "23:59") -> list[SlotTime]:
    """The slots the rules make on `day`, inside the office's hours; overlapping rules: first wins."""
    if not is_counter_day(day):
        return []
    office_open = datetime.combine(day, hhmm(opens), clock.TOKYO)
    office_close = datetime.combine(day, hhmm(closes), clock.TOKYO)
    found: dict[datetime, SlotTime] = {}
    for rule in rules:
        if day.weekday() not in rule.weekdays or rule.slot_minutes <= 0:
            continue
        step = timedelta(minutes=rule.slot_minutes)
        start = datetime.combine(day, hhmm(rule.start_time), clock.TOKYO)
        end = datetime.combine(day, hhmm(rule.end_time), clock.TOKYO)
        while start + step <= end:
            if office_open <= start and start + step <= office_close:
                found.setdefault(start, SlotTime(start, start + step, rule.capacity))
            start += step
    return [found[k] for k in sorted(found)]


@dataclass(frozen=True)
class Window:
    first: date
    last: date

    def days(self) -> Iterator[date]:
        day = self.first
        while day <= self.last:
            yield day
            day += timedelta(days=1)

    def __contains__(self, day: object) -> bool:
        return isinstance(day, date) and self.first <= day <= self.last


def booking_window(now: datetime, settings: Settings) -> Window:
    """The days a citizen may book from LINE: from tomorrow (setting) to N days ahead; a day whose
    cutoff (the day before, at the cutoff time) has passed is no longer in it."""
    today = now.astimezone(clock.TOKYO).date()
    first = today + timedelta(days=settings.reservation_min_days_ahead)
    while not before_cutoff(first, now, settings):
        first += timedelta(days=1)
    return Window(first, today + timedelta(days=settings.reservation_window_days))


def cutoff(day: date, settings: Settings) -> datetime:
    return datetime.combine(day - timedelta(days=1), hhmm(settings.reservation_cutoff_time), clock.TOKYO)


def before_cutoff(day: date, now: datetime, settings: Settings) -> bool:
    return now < cutoff(day, settings)


class Unavailable(StrEnum):
    """Why a citizen cannot book a day on LINE (each is told in its own words)."""

    PAST = "past"
    TOO_SOON = "too_soon"  # today, or sooner than the days ahead LINE bookings need
    CUTOFF = "cutoff"  # the cutoff the day before has passed
    TOO_FAR = "too_far"  # beyond the booking window
    CLOSED = "closed"  # weekend, holiday, 年末年始, a closure, or no slots that day
    FULL = "full"


def outside_window(day: date, now: datetime, settings: Settings) -> Unavailable | None:
    """Why the calendar alone refuses `day` to a citizen (None: it is a counter day in the window);
    a closed day says so before the cutoff does, as it is the reason that holds."""
    today = tokyo_day(now)
    if day < today:
        return Unavailable.PAST
    if not is_counter_day(day):
        return Unavailable.CLOSED
    if day < today + timedelta(days=settings.reservation_min_days_ahead):
        return Unavailable.TOO_SOON
    if not before_cutoff(day, now, settings):
        return Unavailable.CUTOFF
    if day > today + timedelta(days=settings.reservation_window_days):
        return Unavailable.TOO_FAR
    return None


def tokyo_day(moment: datetime) -> date:
    return moment.astimezone(clock.TOKYO).date()
