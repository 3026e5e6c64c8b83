"""The one clock. Stored times are UTC; citizens and staff see Asia/Tokyo.

Tests move time with `travel_to`, which changes what `now()` answers everywhere.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

TOKYO = ZoneInfo("Asia/Tokyo")

_offset = timedelta(0)


def now() -> datetime:
    """The current time, timezone-aware UTC."""
    return datetime.now(UTC) + _offset


def now_tokyo() -> datetime:
    return now().astimezone(TOKYO)


def travel_to(moment: datetime | None) -> None:
    """Shifts the clock so that now() is `moment` (None: back to real time)."""
    global _offset
    _offset = timedelta(0) if moment is None else moment - datetime.now(UTC)


def from_millis(ms: int | float) -> datetime:
    return datetime.fromtimestamp(ms / 1000, UTC)
