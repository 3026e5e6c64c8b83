"""The send rate cap, held across every process: a token bucket in the database.

LINE limits multicast by requests per second per channel (2,000/s; LINE_CONTRACT.md), whoever sends
them, so the cap counts multicast requests and lives in one row that every process updates under its
lock (PostgreSQL: SELECT ... FOR UPDATE; SQLite: the write transaction is the lock). A process takes
tokens in the same transaction that claims the chunks they pay for, so no chunk goes out unpaid and no
token is spent on a chunk nobody claimed.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot import clock, db
from notifications.models import RateBucket

MULTICAST_BUCKET = "line:multicast"


@dataclass(frozen=True)
class Refill:
    """A bucket's arithmetic, separate from its storage: `tokens` at `at` for `rate` per second, with
    one second's worth as the burst (the way LINE's own limit and the sandbox's behave)."""

    rate: float
    tokens: float
    at: datetime

    @property
    def capacity(self) -> float:
        return max(1.0, self.rate)

    def at_time(self, now: datetime) -> Refill:
        # max(0, ...): a clock that goes back (a test's travel) must not drain the bucket.
        elapsed = max(0.0, (now - self.at).total_seconds())
        return Refill(self.rate, min(self.capacity, self.tokens + elapsed * self.rate), now)

    def seconds_until(self, count: float = 1.0) -> float:
        """How long until `count` tokens are there (0 when they are)."""
        return max(0.0, (count - self.tokens) / self.rate)


def spend(
    db_session: Session, *, rate: float, want: int, use: Callable[[int], int], name: str = MULTICAST_BUCKET
) -> tuple[int, float]:
    """Offers up to `want` tokens to `use`, which answers how many it used; they leave the bucket in the
    caller's transaction. Answers (used, seconds until the next token when the bucket offered fewer than
    wanted, else 0). A rate of 0 or less means no cap."""
    if rate <= 0:
        return use(want), 0.0
    db_session.execute(
        db.upsert_insert(db_session)(RateBucket)
        .values(name=name, tokens=max(1.0, rate), updated_at=clock.now())
        .on_conflict_do_nothing(index_elements=["name"])
    )
    row = db_session.scalars(select(RateBucket).where(RateBucket.name == name).with_for_update()).one()
    # The time is read only now, under the lock: read before it, a process that waited for another
    # would write an older time back and the next reader would be paid for the wait twice.
    now = clock.now()
    bucket = Refill(rate, row.tokens, row.updated_at).at_time(now)
    offered = min(want, math.floor(bucket.tokens))
    used = use(offered) if offered > 0 else 0
    left = Refill(rate, bucket.tokens - used, now)
    row.tokens = left.tokens
    row.updated_at = now
    # Short of tokens (not of work): the caller waits for the next one instead of polling.
    return used, (left.seconds_until() if offered < want else 0.0)
