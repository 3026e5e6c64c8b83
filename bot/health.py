"""Is anybody draining the inbox, and is it keeping up? Heartbeats and the verdict of /healthz.

Every process that drains the inbox (a `madoguchi worker`, or a web process that processes) writes
a heartbeat row every WORKER_HEARTBEAT_SECONDS and deletes it when it stops cleanly; a process
killed outright leaves its row to go stale (three intervals). The rows live in the database, so a
web process that stores webhooks only (PROCESS_INBOX_IN_WEB=false) sees workers on other hosts.

/healthz answers 503 when the database is unreachable, when no live process drains the inbox, or
when an event has waited for its first try longer than HEALTH_MAX_PENDING_AGE_SECONDS.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import secrets
import socket
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from anyio import to_thread
from sqlalchemy import Integer, String, and_, delete, exists, select, text
from sqlalchemy.orm import Mapped, Session, aliased, mapped_column

from bot import clock, db, errors
from bot.db import Base, Database, UTCDateTime
from bot.inbox import InboxEvent, InboxStatus
from bot.settings import Settings

log = logging.getLogger(__name__)

# A heartbeat counts as live for this many intervals.
LIVE_INTERVALS = 3
# Rows of processes that died are deleted by the others after this long.
FORGET_AFTER = timedelta(hours=1)
_UNFINISHED_INBOX = "('pending', 'processing')"  # as bot.inbox writes it, for its partial indexes


class WorkerHeartbeat(Base):
    __tablename__ = "worker_heartbeats"

    id: Mapped[str] = mapped_column(String(100), primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))  # "worker" or "web"
    host: Mapped[str] = mapped_column(String(255))
    pid: Mapped[int] = mapped_column(Integer)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime())
    beat_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)


def beat(*, db_session: Session, heartbeat_id: str, kind: str, started_at: datetime) -> None:
    """Records that this process is alive and draining; forgets processes long dead."""
    now = clock.now()
    values = {
        "id": heartbeat_id,
        "kind": kind,
        "host": socket.gethostname()[:255],
        "pid": os.getpid(),
        "started_at": started_at,
        "beat_at": now,
    }
    insert = db.upsert_insert(db_session)(WorkerHeartbeat.__table__).values(values)
    db_session.execute(insert.on_conflict_do_update(index_elements=["id"], set_={"beat_at": now}))
    db_session.execute(delete(WorkerHeartbeat).where(WorkerHeartbeat.beat_at < now - FORGET_AFTER))


def forget(*, db_session: Session, heartbeat_id: str) -> None:
    db_session.execute(delete(WorkerHeartbeat).where(WorkerHeartbeat.id == heartbeat_id))


def live(*, db_session: Session, interval_seconds: float) -> list[WorkerHeartbeat]:
    """The processes whose heartbeat is fresh."""
    since = clock.now() - timedelta(seconds=interval_seconds * LIVE_INTERVALS)
    query = select(WorkerHeartbeat).where(WorkerHeartbeat.beat_at >= since).order_by(WorkerHeartbeat.started_at)
    return list(db_session.scalars(query))


def oldest_waiting_seconds(*, db_session: Session) -> float:
    """How long the oldest event still waiting for its first try has waited (0 when none waits).

    An event held back behind an earlier event of its chat that failed and waits for its retry is
    not counted: that is the retry's backoff, not a stall. Written as bot.inbox.claim_batch is, so
    that it reads only unfinished rows through the partial indexes, in id order, and stops at one.
    """
    earlier = aliased(InboxEvent, name="earlier")
    behind_a_retry = exists().where(
        and_(
            text(f"earlier.status IN {_UNFINISHED_INBOX}"),
            earlier.chat_id == InboxEvent.chat_id,
            earlier.id < InboxEvent.id,
            earlier.attempts > 0,
        )
    )
    query = (
        select(InboxEvent.received_at)
        .where(
            text(f"inbox_events.status IN {_UNFINISHED_INBOX}"),
            InboxEvent.status == InboxStatus.PENDING,
            InboxEvent.attempts == 0,
            ~behind_a_retry,
        )
        .order_by(InboxEvent.id)
        .limit(1)
    )
    received = db_session.scalar(query)
    if received is None:
        return 0.0
    return max((clock.now() - received).total_seconds(), 0.0)


def verdict(
    database: Database, settings: Settings, *, drains_here: bool, own_heartbeat: str | None
) -> tuple[int, dict[str, Any]]:
    """/healthz's status code and body: `status`, `database`, `drainers` (live processes draining
    the inbox), `oldest_pending_seconds`, and a `reason` when unhealthy."""
    try:
        with database.session() as db_session:
            others = [
                h.id
                for h in live(db_session=db_session, interval_seconds=settings.worker_heartbeat_seconds)
                if h.id != own_heartbeat
            ]
            waited = oldest_waiting_seconds(db_session=db_session)
    except Exception as exc:
        log.warning("health check: the database is unreachable: %s", errors.describe(exc))
        return 503, {"status": "unhealthy", "database": "unreachable", "reason": "the database is unreachable"}
    drainers = len(others) + (1 if drains_here else 0)
    reasons = []
    if drainers == 0:
        reasons.append("no live process drains the inbox")
    if waited > settings.health_max_pending_age_seconds:
        reasons.append(
            f"the oldest pending event has waited {waited:.0f} s"
            f" (more than HEALTH_MAX_PENDING_AGE_SECONDS={settings.health_max_pending_age_seconds})"
        )
    body: dict[str, Any] = {
        "status": "unhealthy" if reasons else "ok",
        "database": "ok",
        "drainers": drainers,
        "oldest_pending_seconds": round(waited, 1),
    }
    if reasons:
        body["reason"] = "; ".join(reasons)
    return (503 if reasons else 200), body


class Heartbeat:
    """This process's heartbeat, written while `alive()` says it drains, until `stop` is set."""

    def __init__(self, database: Database, settings: Settings, kind: str) -> None:
        self.id = f"{socket.gethostname()[:60]}:{os.getpid()}:{secrets.token_hex(4)}"
        self._db = database
        self._settings = settings
        self._kind = kind
        self._started_at = clock.now()

    async def run(self, stop: asyncio.Event, alive: Callable[[], bool] = lambda: True) -> None:
        try:
            while not stop.is_set():
                if alive():
                    try:
                        await to_thread.run_sync(self._beat)
                    except Exception as exc:  # the database is away: /healthz says so itself
                        log.warning("heartbeat not recorded: %s", errors.describe(exc))
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), timeout=self._settings.worker_heartbeat_seconds)
        finally:
            with contextlib.suppress(Exception):
                await to_thread.run_sync(self._forget)

    def _beat(self) -> None:
        with self._db.session() as db_session:
            beat(db_session=db_session, heartbeat_id=self.id, kind=self._kind, started_at=self._started_at)

    def _forget(self) -> None:
        with self._db.session() as db_session:
            forget(db_session=db_session, heartbeat_id=self.id)
