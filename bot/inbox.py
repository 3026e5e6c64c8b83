"""The webhook inbox: every event is stored before LINE gets its 200, then processed once.

Claiming follows one rule on both databases: an event is taken only when no earlier event of the
same chat is still waiting for its first try or being processed, and no answer to one is still
being sent, so one citizen's messages are handled and answered in order while different citizens
are handled in parallel. On PostgreSQL several processes
claim with FOR UPDATE SKIP LOCKED; a claim is a lease, so a process killed mid-way loses nothing:
its events become claimable again when the lease runs out.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict
from sqlalchemy import Index, Integer, String, Text, and_, delete, exists, func, or_, select, text, update
from sqlalchemy.orm import Mapped, Session, aliased, mapped_column

from bot import clock, db
from bot.db import Base, JSONType, UTCDateTime
from bot.events import Event, clean_json, event_key
from bot.outbox import UNFINISHED_STATUSES as outbox_unfinished
from bot.outbox import OutboxMessage, OutboxStatus

log = logging.getLogger(__name__)

# Waits between tries of a failing event (seconds); the last failure makes a dead letter.
RETRY_BACKOFF = (1, 5, 30, 120, 600)


class InboxStatus(StrEnum):
    PENDING = "pending"
    PROCESSING = "processing"
    DONE = "done"
    DEAD = "dead"
    # Recorded, never processed: an event that cannot be taken as it is (see Event.refusal).
    REFUSED = "refused"


# The statuses of rows still to process or send: the partial indexes' condition (see claim_batch).
_UNFINISHED_INBOX = "('pending', 'processing')"
_UNFINISHED = text(f"status IN {_UNFINISHED_INBOX}")
_DEAD = text("status = 'dead'")


class InboxEvent(Base):
    __tablename__ = "inbox_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    event_key: Mapped[str] = mapped_column(String(64), unique=True)
    event_type: Mapped[str] = mapped_column(String(40))
    chat_id: Mapped[str | None] = mapped_column(String(64))
    user_id: Mapped[str | None] = mapped_column(String(64), index=True)
    mode: Mapped[str] = mapped_column(String(16), default="active")
    is_redelivery: Mapped[bool] = mapped_column(default=False)
    event_time: Mapped[datetime] = mapped_column(UTCDateTime())
    received_at: Mapped[datetime] = mapped_column(UTCDateTime())
    payload: Mapped[dict[str, Any]] = mapped_column(JSONType)
    status: Mapped[InboxStatus] = mapped_column(String(16), default=InboxStatus.PENDING)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime())
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime())
    last_error: Mapped[str | None] = mapped_column(Text)
    processed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    __table_args__ = (
        # Claiming walks the unfinished rows in id order, and per chat (migration 0006).
        Index("ix_inbox_events_unfinished", "id", postgresql_where=_UNFINISHED, sqlite_where=_UNFINISHED),
        Index(
            "ix_inbox_events_unfinished_chat", "chat_id", "id", postgresql_where=_UNFINISHED, sqlite_where=_UNFINISHED
        ),
        Index("ix_inbox_events_dead", "id", postgresql_where=_DEAD, sqlite_where=_DEAD),
    )

    @property
    def event(self) -> Event:
        return Event(self.payload)


class InboxEventRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    event_key: str
    event_type: str
    user_id: str | None
    mode: str
    is_redelivery: bool
    event_time: datetime
    received_at: datetime
    status: InboxStatus
    attempts: int
    last_error: str | None
    processed_at: datetime | None


def _row(raw: dict[str, Any], key: str, now: datetime, oldest: datetime | None) -> dict[str, Any]:
    event = Event(raw)
    refusal = event.refusal(oldest=oldest)
    if refusal is not None:
        # Kept as a record (type, time, why), without what it carried: it is never processed.
        log.warning("webhook event %s refused: %s", key, refusal)
        return {
            "event_key": key,
            "event_type": event.type[:40],
            "chat_id": None,
            "user_id": None,
            "mode": event.mode[:16],
            "is_redelivery": event.is_redelivery,
            "event_time": event.timestamp,
            "received_at": now,
            "payload": {"type": event.type[:40], "refused": refusal},
            "status": InboxStatus.REFUSED,
            "attempts": 0,
            "next_attempt_at": now,
            "last_error": refusal,
            "processed_at": now,
        }
    return {
        "event_key": key,
        "event_type": event.type[:40],
        "chat_id": event.chat_id,
        "user_id": event.user_id,
        "mode": event.mode[:16],
        "is_redelivery": event.is_redelivery,
        "event_time": event.timestamp,
        "received_at": now,
        "payload": raw,
        "status": InboxStatus.PENDING,
        "attempts": 0,
        "next_attempt_at": now,
        "last_error": None,
        "processed_at": None,
    }


@functools.cache
def _insert_new(insert: Any) -> Any:
    """INSERT ... ON CONFLICT (event_key) DO NOTHING RETURNING event_key, built once per dialect so
    that SQLAlchemy compiles it once; executed with many rows, it is sent as multi-row VALUES."""
    table = InboxEvent.__table__
    return insert(table).on_conflict_do_nothing(index_elements=["event_key"]).returning(table.c.event_key)


# PostgreSQL: workers LISTEN on this channel; a commit that adds due events NOTIFYs it.
WAKE_CHANNEL = "madoguchi_inbox"


def announce(*, db_session: Session) -> None:
    """Wakes the workers of every process when this transaction commits (PostgreSQL NOTIFY; the
    notification is sent at commit, and not at all on rollback). SQLite: nothing, its one
    process wakes its own processor."""
    if db_session.get_bind().dialect.name == "postgresql":
        db_session.execute(select(func.pg_notify(WAKE_CHANNEL, "")))


def store_requests(
    *, db_session: Session, requests: Sequence[Sequence[dict[str, Any]]], retention_days: int | None = None
) -> list[int]:
    """Inserts the events of several webhook requests not seen before (by webhookEventId), in one
    statement, and announces them to the workers; answers how many of each request's events
    were new. Each event is stored as both databases can hold it (Event's clean_json); one that
    cannot be taken (an id too long, older than `retention_days`) is stored as refused, never
    processed, and never takes its neighbours down with it."""
    now = clock.now()
    oldest = now - timedelta(days=retention_days) if retention_days else None
    rows: list[dict[str, Any]] = []
    keys_per_request: list[list[str]] = []
    seen: set[str] = set()
    for raw_events in requests:
        keys = []
        for dirty in raw_events:
            raw = clean_json(dirty)
            key = event_key(raw)
            keys.append(key)
            if key not in seen:
                seen.add(key)
                rows.append(_row(raw, key, now, oldest))
        keys_per_request.append(keys)
    if not rows:
        return [0 for _ in requests]
    new = set(db_session.execute(_insert_new(db.upsert_insert(db_session)), rows).scalars())
    if new:
        announce(db_session=db_session)
    counts = []
    for keys in keys_per_request:
        counts.append(sum(1 for key in dict.fromkeys(keys) if key in new))
        new.difference_update(keys)  # an event repeated in a later request was not new there
    return counts


def store(*, db_session: Session, raw_events: Sequence[dict[str, Any]], retention_days: int | None = None) -> int:
    """Inserts events not seen before (by webhookEventId); returns how many were new."""
    return store_requests(db_session=db_session, requests=[raw_events], retention_days=retention_days)[0]


@dataclass(frozen=True)
class Claim:
    """A claimed event, as much as the processor needs before it loads the event to handle it."""

    id: int
    event_type: str
    chat_id: str | None
    user_id: str | None
    attempts: int = 1  # which try this claim is, counting it (over the limit: a dead letter, not a try)


def claim_batch(*, db_session: Session, limit: int, lease_seconds: int) -> list[Claim]:
    """Takes up to `limit` due events (in order per chat) and leases them to this process.

    The query is written for the partial indexes of migration 0006: every table it reads carries
    the index's condition as literal SQL, so both databases walk only unfinished rows (in id
    order, stopping at `limit`), whatever their statistics say and in prepared plans too.
    """
    now = clock.now()
    earlier = aliased(InboxEvent, name="earlier")
    blocked_by_earlier = exists().where(
        and_(
            text(f"earlier.status IN {_UNFINISHED_INBOX}"),
            earlier.chat_id == InboxEvent.chat_id,
            earlier.id < InboxEvent.id,
            or_(
                and_(earlier.status == InboxStatus.PROCESSING, earlier.locked_until > now),
                and_(earlier.status == InboxStatus.PENDING, earlier.attempts == 0),
            ),
        )
    )
    # ...and no answer to an earlier event of the chat is still on its way out, so that answers
    # reach the citizen in order even when two processes handle consecutive events.
    answer_in_flight = exists().where(
        and_(
            text(f"outbox_messages.status IN {outbox_unfinished}"),
            OutboxMessage.to == InboxEvent.chat_id,
            OutboxMessage.inbox_event_id.is_not(None),
            or_(
                and_(OutboxMessage.status == OutboxStatus.SENDING, OutboxMessage.locked_until > now),
                and_(OutboxMessage.status == OutboxStatus.PENDING, OutboxMessage.attempts == 0),
            ),
        )
    )
    due = or_(
        and_(InboxEvent.status == InboxStatus.PENDING, InboxEvent.next_attempt_at <= now),
        # A lease that ran out: the process holding it died mid-way.
        and_(InboxEvent.status == InboxStatus.PROCESSING, InboxEvent.locked_until <= now),
    )
    query = (
        select(InboxEvent.id, InboxEvent.event_type, InboxEvent.chat_id, InboxEvent.user_id, InboxEvent.attempts)
        .where(
            text(f"inbox_events.status IN {_UNFINISHED_INBOX}"),
            due,
            or_(InboxEvent.chat_id.is_(None), and_(~blocked_by_earlier, ~answer_in_flight)),
        )
        .order_by(InboxEvent.id)
        .limit(limit)
    )
    if db_session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True, of=InboxEvent)
    picked: list[Claim] = []
    chats: set[str] = set()
    for event_id, event_type, chat_id, user_id, attempts in db_session.execute(query):
        claim = Claim(event_id, event_type, chat_id, user_id, attempts + 1)
        # One event per chat per batch keeps a chat's events strictly ordered.
        if claim.chat_id is not None:
            if claim.chat_id in chats:
                continue
            chats.add(claim.chat_id)
        picked.append(claim)
    if picked:
        db_session.execute(
            update(InboxEvent)
            .where(InboxEvent.id.in_([c.id for c in picked]))
            .values(
                status=InboxStatus.PROCESSING,
                locked_until=now + timedelta(seconds=lease_seconds),
                attempts=InboxEvent.attempts + 1,
            )
            .execution_options(synchronize_session=False)
        )
    return picked


def get(*, db_session: Session, inbox_event_id: int) -> InboxEvent | None:
    return db_session.get(InboxEvent, inbox_event_id)


def lock_claimed(*, db_session: Session, inbox_event_ids: Sequence[int]) -> dict[int, InboxEvent]:
    """Loads claimed events inside the transaction that will finish them (row-locked on PostgreSQL),
    in one query. Events no longer ours to process (finished by another process) are left out."""
    if not inbox_event_ids:
        return {}
    query = (
        select(InboxEvent)
        .where(InboxEvent.id.in_(list(inbox_event_ids)))
        .execution_options(populate_existing=True)  # the row as it is now, not as the session saw it
    )
    if db_session.get_bind().dialect.name == "postgresql":
        query = query.order_by(InboxEvent.id).with_for_update()
    return {e.id: e for e in db_session.scalars(query) if e.status == InboxStatus.PROCESSING}


# What a processed event keeps: its kind, ids and times, never what the citizen typed, tapped or
# shared (message text, postback data, locations, stickers' words): those are personal data, and
# the event's answer, already written, no longer needs them.
_KEPT = ("type", "mode", "timestamp", "webhookEventId", "deliveryContext", "source")
_KEPT_INSIDE = {
    "message": ("id", "type"),
    "unsend": ("messageId",),
    "follow": ("isUnblocked",),
    "joined": ("members",),
    "left": ("members",),
}


def redacted(payload: dict[str, Any]) -> dict[str, Any]:
    """The event as it is kept once processed: what it was, from whom and when, marked redacted."""
    kept = {key: payload[key] for key in _KEPT if key in payload}
    for key, fields in _KEPT_INSIDE.items():
        inner = payload.get(key)
        if isinstance(inner, dict):
            kept[key] = {field: inner[field] for field in fields if field in inner}
    kept["redacted"] = True
    return kept


def mark_done(*, db_session: Session, inbox_event_ids: Sequence[int]) -> None:
    """Finishes processed events, in one statement, and redacts them in it (see `redacted`): what
    the citizen sent leaves the inbox in the transaction that commits its answer."""
    if not inbox_event_ids:
        return
    now = clock.now()
    rows = []
    for inbox_event_id in dict.fromkeys(inbox_event_ids):
        # Loaded by lock_claimed in this transaction: found in the session, no query.
        inbox_event = db_session.get(InboxEvent, inbox_event_id)
        if inbox_event is None:
            continue
        rows.append(
            {
                "id": inbox_event_id,
                "status": InboxStatus.DONE,
                "processed_at": now,
                "locked_until": None,
                "last_error": None,
                "payload": redacted(inbox_event.payload),
            }
        )
    if rows:
        db_session.execute(update(InboxEvent), rows)


def mark_failed(*, db_session: Session, inbox_event_id: int, error: str, max_attempts: int) -> InboxEvent | None:
    """Schedules another try with backoff, or keeps the event as a dead letter with its error."""
    inbox_event = db_session.get(InboxEvent, inbox_event_id)
    if inbox_event is None:
        return None
    inbox_event.last_error = error[:4000]
    inbox_event.locked_until = None
    if inbox_event.attempts >= max_attempts:
        inbox_event.status = InboxStatus.DEAD
        inbox_event.processed_at = clock.now()
    else:
        wait = RETRY_BACKOFF[min(inbox_event.attempts - 1, len(RETRY_BACKOFF) - 1)]
        inbox_event.status = InboxStatus.PENDING
        inbox_event.next_attempt_at = clock.now() + timedelta(seconds=wait)
    db_session.flush()
    return inbox_event


def retry_dead(*, db_session: Session, inbox_event_id: int) -> InboxEvent | None:
    """Puts a dead letter back in the queue (staff action); answers None if it is not dead."""
    inbox_event = db_session.get(InboxEvent, inbox_event_id)
    if inbox_event is None or inbox_event.status != InboxStatus.DEAD:
        return None
    inbox_event.status = InboxStatus.PENDING
    inbox_event.attempts = 0
    inbox_event.next_attempt_at = clock.now()
    inbox_event.processed_at = None
    db_session.flush()
    announce(db_session=db_session)
    return inbox_event


def get_all_dead(*, db_session: Session, limit: int = 200) -> list[InboxEvent]:
    # The condition as literal SQL, as the partial index ix_inbox_events_dead is written.
    query = select(InboxEvent).where(_DEAD).order_by(InboxEvent.id.desc()).limit(limit)
    return list(db_session.scalars(query))


def count_by_status(*, db_session: Session) -> dict[str, int]:
    return db.count_by_status(db_session, InboxEvent.status, InboxStatus)


def next_due_in(*, db_session: Session) -> float | None:
    """Seconds until the next pending event is due (None when nothing waits)."""
    due = db_session.scalar(
        select(func.min(InboxEvent.next_attempt_at)).where(InboxEvent.status == InboxStatus.PENDING)
    )
    if due is None:
        return None
    return max((due - clock.now()).total_seconds(), 0.0)


def purge_finished(*, db_session: Session, before: datetime) -> int:
    """Deletes events finished (done or dead) before `before`: what citizens typed is personal data
    and is kept only as long as staff need it to investigate."""
    result = db_session.execute(
        delete(InboxEvent).where(
            InboxEvent.status.in_([InboxStatus.DONE, InboxStatus.DEAD, InboxStatus.REFUSED]),
            InboxEvent.received_at < before,
        )
    )
    return db.affected_rows(result)
