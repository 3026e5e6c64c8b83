"""The outbox: every message the bot sends is written here first, in the same transaction as the
change that caused it, then delivered by `bot.delivery`. A crash between the two loses nothing,
and a push carries a stored X-Line-Retry-Key, so a retried push is never delivered twice. Once a
row is finished (sent, skipped, failed for good) its body is emptied: what citizens were told,
often their own answers, is not kept; the row stays, for counting, until the retention purge.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, fields
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict
from sqlalchemy import ForeignKey, Index, Integer, String, Text, delete, func, insert, or_, select, text, update
from sqlalchemy.orm import Mapped, Session, mapped_column
from sqlalchemy.orm.attributes import set_committed_value

from bot import clock, db
from bot.db import Base, JSONType, UTCDateTime


class OutboxKind(StrEnum):
    REPLY = "reply"
    PUSH = "push"
    MULTICAST = "multicast"


class OutboxStatus(StrEnum):
    PENDING = "pending"
    SENDING = "sending"
    SENT = "sent"
    FAILED = "failed"
    SKIPPED = "skipped"


# The rows still to send: the partial indexes' condition.
UNFINISHED_STATUSES = "('pending', 'sending')"  # as literal SQL: see bot.inbox.claim_batch
UNFINISHED = text(f"status IN {UNFINISHED_STATUSES}")


class OutboxMessage(Base):
    __tablename__ = "outbox_messages"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    kind: Mapped[OutboxKind] = mapped_column(String(16))
    inbox_event_id: Mapped[int | None] = mapped_column(ForeignKey("inbox_events.id", ondelete="SET NULL"))
    reply_token: Mapped[str | None] = mapped_column(String(255))
    reply_deadline: Mapped[datetime | None] = mapped_column(UTCDateTime())
    to: Mapped[str | None] = mapped_column(String(64), index=True)
    recipients: Mapped[list[str] | None] = mapped_column(JSONType)
    messages: Mapped[list[dict[str, Any]]] = mapped_column(JSONType)
    notification_disabled: Mapped[bool] = mapped_column(default=False)
    retry_key: Mapped[str] = mapped_column(String(36))
    purpose: Mapped[str] = mapped_column(String(64), default="reply")
    status: Mapped[OutboxStatus] = mapped_column(String(16), default=OutboxStatus.PENDING)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    ambiguous_attempt: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime())
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime())
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    request_id: Mapped[str | None] = mapped_column(String(64))
    last_error: Mapped[str | None] = mapped_column(Text)

    __table_args__ = (
        Index("ix_outbox_messages_status_next", "status", "next_attempt_at"),
        # Claiming walks the unfinished rows in id order; the inbox asks per chat (migration 0006).
        Index("ix_outbox_messages_unfinished", "id", postgresql_where=UNFINISHED, sqlite_where=UNFINISHED),
        Index("ix_outbox_messages_unfinished_to", "to", postgresql_where=UNFINISHED, sqlite_where=UNFINISHED),
    )


@dataclass(frozen=True)
class Outgoing:
    """A claimed row as the sender needs it: plain data, safe to pass between threads."""

    id: int
    kind: OutboxKind
    to: str | None
    recipients: list[str] | None
    messages: list[dict[str, Any]]
    retry_key: str
    reply_token: str | None
    reply_deadline: datetime | None
    notification_disabled: bool
    ambiguous_attempt: bool
    attempts: int

    @classmethod
    def of(cls, row: OutboxMessage) -> Outgoing:
        return cls(
            id=row.id,
            kind=OutboxKind(row.kind),
            to=row.to,
            recipients=row.recipients,
            messages=list(row.messages),
            retry_key=row.retry_key,
            reply_token=row.reply_token,
            reply_deadline=row.reply_deadline,
            notification_disabled=row.notification_disabled,
            ambiguous_attempt=row.ambiguous_attempt,
            attempts=row.attempts,
        )

    @classmethod
    def of_values(cls, row_id: int, values: dict[str, Any]) -> Outgoing:
        """A row just inserted with these column values."""
        return cls(id=row_id, **{name: values[name] for name in _OUTGOING_COLUMNS})


_OUTGOING_COLUMNS = [f.name for f in fields(Outgoing) if f.name != "id"]


class OutboxMessageRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    kind: OutboxKind
    to: str | None
    purpose: str
    status: OutboxStatus
    attempts: int
    created_at: datetime
    sent_at: datetime | None
    last_error: str | None


def _values(*, lease_seconds: int | None = None, **values: Any) -> dict[str, Any]:
    """A new row's columns; with `lease_seconds` it is born claimed by the caller, who sends it
    right away (another process takes it over only if the lease runs out)."""
    now = clock.now()
    claimed = lease_seconds is not None
    return {
        "retry_key": str(uuid.uuid4()),
        "created_at": now,
        "next_attempt_at": now,
        "status": OutboxStatus.SENDING if claimed else OutboxStatus.PENDING,
        "locked_until": now + timedelta(seconds=lease_seconds) if lease_seconds is not None else None,
        "attempts": 1 if claimed else 0,
        "ambiguous_attempt": False,
        **values,
    }


def _new(*, lease_seconds: int | None = None, **values: Any) -> OutboxMessage:
    return OutboxMessage(**_values(lease_seconds=lease_seconds, **values))


@dataclass(frozen=True)
class Answer:
    """An event's answer, to be queued with the other answers of its batch."""

    inbox_event_id: int | None
    reply_token: str | None
    reply_deadline: datetime | None
    to: str | None
    messages: Sequence[dict[str, Any]]


def enqueue_answers(*, db_session: Session, answers: Sequence[Answer], lease_seconds: int) -> list[Outgoing]:
    """Queues the answers to a batch of events, in one statement, born claimed by the caller.

    Each goes by reply token while it is valid, else by push. LINE takes at most five messages
    per request, so longer answers become several rows; only the first can use the reply token.
    """
    rows: list[dict[str, Any]] = []
    for answer in answers:
        for start in range(0, len(answer.messages), 5):
            use_reply = start == 0 and answer.reply_token is not None
            rows.append(
                _values(
                    kind=OutboxKind.REPLY if use_reply else OutboxKind.PUSH,
                    inbox_event_id=answer.inbox_event_id,
                    reply_token=answer.reply_token if use_reply else None,
                    reply_deadline=answer.reply_deadline if use_reply else None,
                    to=answer.to,
                    recipients=None,
                    messages=list(answer.messages[start : start + 5]),
                    purpose="reply",
                    notification_disabled=False,
                    lease_seconds=lease_seconds,
                )
            )
    if not rows:
        return []
    table = OutboxMessage.__table__
    statement = insert(table).returning(table.c.id, sort_by_parameter_order=True)
    ids = db_session.execute(statement, rows).scalars().all()
    return [Outgoing.of_values(row_id, row) for row_id, row in zip(ids, rows, strict=True)]


def enqueue_push(
    *,
    db_session: Session,
    to: str,
    messages: Sequence[dict[str, Any]],
    purpose: str,
    notification_disabled: bool = False,
) -> OutboxMessage:
    if not 1 <= len(messages) <= 5:
        raise ValueError("a push carries 1 to 5 messages")
    row = _new(
        kind=OutboxKind.PUSH,
        to=to,
        messages=list(messages),
        purpose=purpose,
        notification_disabled=notification_disabled,
    )
    db_session.add(row)
    db_session.flush()
    return row


def claim_batch(
    *, db_session: Session, limit: int, lease_seconds: int, ids: Sequence[int] | None = None
) -> list[OutboxMessage]:
    now = clock.now()
    due = or_(
        (OutboxMessage.status == OutboxStatus.PENDING) & (OutboxMessage.next_attempt_at <= now),
        (OutboxMessage.status == OutboxStatus.SENDING) & (OutboxMessage.locked_until <= now),
    )
    query = select(OutboxMessage).where(due).order_by(OutboxMessage.id).limit(limit)
    if ids is not None:
        query = query.where(OutboxMessage.id.in_(list(ids)))
    if db_session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True)
    rows = list(db_session.scalars(query))
    if not rows:
        return []
    locked_until = now + timedelta(seconds=lease_seconds)
    # A row still "sending" was left by a process that died or stalled mid-try: that try may have
    # reached LINE, so this one starts unsure (bot.delivery asks LINE about the reply token first).
    db_session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.id.in_([r.id for r in rows]))
        .values(
            status=OutboxStatus.SENDING,
            locked_until=locked_until,
            attempts=OutboxMessage.attempts + 1,
            ambiguous_attempt=or_(OutboxMessage.ambiguous_attempt, OutboxMessage.status == OutboxStatus.SENDING),
        )
        .execution_options(synchronize_session=False)
    )
    for row in rows:
        set_committed_value(row, "ambiguous_attempt", row.ambiguous_attempt or row.status == OutboxStatus.SENDING)
        set_committed_value(row, "status", OutboxStatus.SENDING)
        set_committed_value(row, "locked_until", locked_until)
        set_committed_value(row, "attempts", row.attempts + 1)
    return rows


def count_by_status(*, db_session: Session) -> dict[str, int]:
    return db.count_by_status(db_session, OutboxMessage.status, OutboxStatus)


def get_all_failed(*, db_session: Session, limit: int = 200) -> list[OutboxMessage]:
    query = (
        select(OutboxMessage)
        .where(OutboxMessage.status == OutboxStatus.FAILED)
        .order_by(OutboxMessage.id.desc())
        .limit(limit)
    )
    return list(db_session.scalars(query))


def next_due_in(*, db_session: Session) -> float | None:
    due = db_session.scalar(
        select(func.min(OutboxMessage.next_attempt_at)).where(OutboxMessage.status == OutboxStatus.PENDING)
    )
    if due is None:
        return None
    return max((due - clock.now()).total_seconds(), 0.0)


def purge_finished(*, db_session: Session, before: datetime) -> int:
    """Deletes messages sent, skipped or failed before `before` (their text may hold personal data)."""
    result = db_session.execute(
        delete(OutboxMessage).where(
            OutboxMessage.status.in_([OutboxStatus.SENT, OutboxStatus.SKIPPED, OutboxStatus.FAILED]),
            OutboxMessage.created_at < before,
        )
    )
    return db.affected_rows(result)
