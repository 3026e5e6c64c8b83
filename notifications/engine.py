"""The broadcast delivery engine's interface: plan a send, watch it, list its outcomes, cancel it, and ask
LINE about the quota and the reach statistics.

`start` writes the whole plan in the caller's transaction (so a broadcast and its send job commit
together): the job, chunks of at most 500 recipients (LINE's multicast limit), each with the
X-Line-Retry-Key it will always be sent with, and one row per recipient. The sending itself is
`notifications.sender`, running in every process that delivers the outbox; it claims due chunks,
so nothing here talks to LINE except `quota` and `insight`.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import Select, bindparam, delete, func, insert, literal, select, update
from sqlalchemy.orm import Session

from bot import clock, db
from bot.citizens import Citizen, CitizenStatus
from bot.line_client import LineClient
from notifications.models import ChunkStatus, JobStatus, RecipientStatus, SendChunk, SendJob, SendRecipient

MAX_CHUNK = 500  # LINE's multicast takes at most 500 user ids
MAX_MESSAGES = 5
AGGREGATION_UNIT = re.compile(r"^[a-zA-Z0-9_]{1,30}$")
BLOCKED = "citizen has blocked the account"


class JobNotFound(LookupError):
    """No send job with that id (it may have been purged after the retention period)."""


@dataclass(frozen=True)
class SendCounts:
    total: int
    sent: int
    failed: int
    skipped: int  # blocked citizens, and recipients of chunks cancelled before they went out
    remaining: int
    status: str  # "sending" | "done" | "cancelled"
    started_at: datetime
    finished_at: datetime | None
    rate_per_second: float | None  # recipients per second so far; None before the first chunk
    eta_seconds: float | None  # None while the rate is unknown


@dataclass(frozen=True)
class RecipientOutcome:
    line_user_id: str
    status: str  # "pending" | "sent" | "failed" | "skipped" | "cancelled"
    error: str | None
    sent_at: datetime | None


@dataclass(frozen=True)
class Quota:
    limit: int | None  # messages this month; None: no limit
    used: int

    @property
    def remaining(self) -> int | None:
        return None if self.limit is None else max(0, self.limit - self.used)


@dataclass(frozen=True)
class ClickCount:
    url: str
    clicks: int | None
    unique_clicks: int | None


@dataclass(frozen=True)
class Insight:
    """LINE's reach statistics for one aggregation unit. A figure is None where LINE withholds it
    (LINE gives none for fewer than 20 people, and none before its daily aggregation has run)."""

    opened: int | None  # uniqueImpression
    clicked: int | None  # uniqueClick
    media_played: int | None  # uniqueMediaPlayed
    clicks: list[ClickCount]


# --- planning ----------------------------------------------------------------------------------------
def start(
    db_session: Session,
    *,
    owner: str,
    messages: list[dict[str, Any]],
    recipients: Select[Any] | Sequence[str],
    aggregation_unit: str | None = None,
    notification_disabled: bool = False,
    chunk_size: int = MAX_CHUNK,
) -> int:
    """Plans a send in the caller's transaction and answers the job's id.

    `recipients` is a Select yielding one column of LINE user ids (planned with INSERT ... SELECT, so a
    large audience never passes through Python) or a list. Duplicates count once; citizens who blocked
    the account are recorded as skipped and never sent to."""
    if not 1 <= chunk_size <= MAX_CHUNK:
        raise ValueError(f"chunk_size must be 1..{MAX_CHUNK}")
    if not 1 <= len(messages) <= MAX_MESSAGES:
        raise ValueError(f"a send carries 1..{MAX_MESSAGES} messages")
    if aggregation_unit is not None and not AGGREGATION_UNIT.match(aggregation_unit):
        raise ValueError("an aggregation unit is 1..30 of a-z, A-Z, 0-9 and _")
    now = clock.now()
    job = SendJob(
        owner=owner,
        messages=list(messages),
        aggregation_unit=aggregation_unit,
        notification_disabled=notification_disabled,
        status=JobStatus.SENDING,
        started_at=now,
    )
    db_session.add(job)
    db_session.flush()
    _insert_recipients(db_session, job.id, recipients)
    blocked = select(Citizen.line_user_id).where(Citizen.status == CitizenStatus.BLOCKED)
    job.skipped = db.affected_rows(
        db_session.execute(
            update(SendRecipient)
            .where(SendRecipient.job_id == job.id, SendRecipient.line_user_id.in_(blocked))
            .values(status=RecipientStatus.SKIPPED, error=BLOCKED)
            .execution_options(synchronize_session=False)
        )
    )
    pending = list(
        db_session.scalars(
            select(SendRecipient.id)
            .where(SendRecipient.job_id == job.id, SendRecipient.status == RecipientStatus.PENDING)
            .order_by(SendRecipient.id)
        )
    )
    job.total = len(pending) + job.skipped
    _plan_chunks(db_session, job.id, pending, chunk_size, now)
    if not pending:
        job.status = JobStatus.DONE
        job.finished_at = now
        job.messages = []
    db_session.flush()
    return job.id


def _insert_recipients(db_session: Session, job_id: int, recipients: Select[Any] | Sequence[str]) -> None:
    table = SendRecipient.__table__
    columns = ["job_id", "line_user_id", "status"]
    if isinstance(recipients, Select):
        source = recipients.subquery()
        user_id = next(iter(source.c))
        rows = (
            select(literal(job_id), user_id, literal(RecipientStatus.PENDING.value))
            .where(user_id.is_not(None))
            .distinct()
        )
        db_session.execute(insert(table).from_select(columns, rows))
        return
    unique = [u for u in dict.fromkeys(recipients) if u]
    if unique:
        db_session.execute(
            insert(table), [{"job_id": job_id, "line_user_id": u, "status": RecipientStatus.PENDING} for u in unique]
        )


_ASSIGN_CHUNK = (
    update(SendRecipient.__table__)
    .where(
        SendRecipient.__table__.c.job_id == bindparam("b_job"),
        SendRecipient.__table__.c.id.between(bindparam("b_first"), bindparam("b_last")),
        SendRecipient.__table__.c.status == RecipientStatus.PENDING,
    )
    .values(chunk_id=bindparam("b_chunk"))
)


def _plan_chunks(db_session: Session, job_id: int, pending: list[int], size: int, now: datetime) -> None:
    """Chunks of `size` recipients in id order; each chunk's recipients are an id range of the job's
    pending rows (so one UPDATE per chunk assigns them), and each gets its retry key now."""
    groups = [pending[i : i + size] for i in range(0, len(pending), size)]
    chunks = [
        SendChunk(
            job_id=job_id,
            seq=seq,
            size=len(group),
            retry_key=str(uuid.uuid4()),
            status=ChunkStatus.PENDING,
            attempts=0,
            next_attempt_at=now,
        )
        for seq, group in enumerate(groups)
    ]
    if not chunks:
        return
    db_session.add_all(chunks)
    db_session.flush()
    db_session.execute(
        _ASSIGN_CHUNK,
        [
            {"b_job": job_id, "b_first": group[0], "b_last": group[-1], "b_chunk": chunk.id}
            for chunk, group in zip(chunks, groups, strict=True)
        ],
    )


# --- watching -----------------------------------------------------------------------------------------
def counts(db_session: Session, job_id: int) -> SendCounts:
    """Progress and results, from the chunks (a few hundred rows for 100,000 recipients)."""
    job = db_session.get(SendJob, job_id)
    if job is None:
        raise JobNotFound(job_id)
    by_status = {status.value: 0 for status in ChunkStatus}
    for status, size in db_session.execute(
        select(SendChunk.status, func.sum(SendChunk.size)).where(SendChunk.job_id == job_id).group_by(SendChunk.status)
    ):
        by_status[str(status)] = int(size or 0)
    sent = by_status[ChunkStatus.SENT]
    remaining = by_status[ChunkStatus.PENDING] + by_status[ChunkStatus.SENDING]
    rate = eta = None
    if sent:
        last_sent = db_session.scalar(select(func.max(SendChunk.sent_at)).where(SendChunk.job_id == job_id))
        until = clock.now() if remaining else (last_sent or clock.now())
        elapsed = (until - job.started_at).total_seconds()
        rate = sent / elapsed if elapsed > 0 else None
        eta = remaining / rate if rate else None
    if not remaining:
        eta = 0.0
    return SendCounts(
        total=job.total,
        sent=sent,
        failed=by_status[ChunkStatus.FAILED],
        skipped=job.skipped + by_status[ChunkStatus.CANCELLED],
        remaining=remaining,
        status=str(job.status),
        started_at=job.started_at,
        finished_at=job.finished_at,
        rate_per_second=rate,
        eta_seconds=eta,
    )


def recipients(
    db_session: Session, job_id: int, *, status: str | None = None, offset: int = 0, limit: int = 100
) -> list[RecipientOutcome]:
    """Each recipient's outcome, in plan order; `status` filters (one of RecipientStatus)."""
    query = select(SendRecipient).where(SendRecipient.job_id == job_id)
    if status is not None:
        query = query.where(SendRecipient.status == RecipientStatus(status))
    rows = db_session.scalars(query.order_by(SendRecipient.id).offset(offset).limit(limit))
    return [RecipientOutcome(r.line_user_id, str(r.status), r.error, r.sent_at) for r in rows]


def cancel(db_session: Session, job_id: int) -> None:
    """Cancels the chunks not sent yet (their recipients become "cancelled"). A chunk in flight
    finishes, and one left in flight by a process that died is still taken over: it may have reached
    LINE, and only its retry key can tell."""
    job = db_session.get(SendJob, job_id, with_for_update=True)
    if job is None:
        raise JobNotFound(job_id)
    if job.status != JobStatus.SENDING:
        return
    cancelled = list(
        db_session.scalars(
            update(SendChunk)
            .where(SendChunk.job_id == job_id, SendChunk.status == ChunkStatus.PENDING)
            .values(status=ChunkStatus.CANCELLED, locked_until=None)
            .returning(SendChunk.id)
            .execution_options(synchronize_session=False)
        )
    )
    if cancelled:
        db_session.execute(
            update(SendRecipient)
            .where(SendRecipient.chunk_id.in_(cancelled))
            .values(status=RecipientStatus.CANCELLED)
            .execution_options(synchronize_session=False)
        )
    job.status = JobStatus.CANCELLED
    job.finished_at = clock.now()
    in_flight = db_session.scalar(
        select(func.count())
        .select_from(SendChunk)
        .where(SendChunk.job_id == job_id, SendChunk.status == ChunkStatus.SENDING)
    )
    if not in_flight:
        job.messages = []


def purge_finished(*, db_session: Session, before: datetime) -> int:
    """Deletes jobs finished before `before` with their chunks and recipients (LINE user ids: personal
    data kept no longer than the message log). Answers how many jobs went."""
    over = select(SendJob.id).where(
        SendJob.status.in_([JobStatus.DONE, JobStatus.CANCELLED]),
        SendJob.finished_at < before,
        ~select(SendChunk.id)
        .where(SendChunk.job_id == SendJob.id, SendChunk.status.in_([ChunkStatus.PENDING, ChunkStatus.SENDING]))
        .exists(),
    )
    ids = list(db_session.scalars(over))
    if not ids:
        return 0
    db_session.execute(delete(SendRecipient).where(SendRecipient.job_id.in_(ids)))
    db_session.execute(delete(SendChunk).where(SendChunk.job_id.in_(ids)))
    return db.affected_rows(db_session.execute(delete(SendJob).where(SendJob.id.in_(ids))))


# --- asking LINE ---------------------------------------------------------------------------------------
async def quota(client: LineClient) -> Quota:
    """This month's message quota and what has been used: for "warn before a large send"."""
    limit = await client.message_quota()
    used = await client.message_quota_consumption()
    return Quota(limit=limit, used=used)


async def insight(client: LineClient, aggregation_unit: str, from_day: date, to_day: date) -> Insight | None:
    """Opens and clicks for an aggregation unit between two days (Tokyo), when LINE has them."""
    body = await client.insight_by_aggregation_unit(aggregation_unit, from_day, to_day)
    if body is None:
        return None
    overview = body.get("overview") or {}
    return Insight(
        opened=overview.get("uniqueImpression"),
        clicked=overview.get("uniqueClick"),
        media_played=overview.get("uniqueMediaPlayed"),
        clicks=[
            ClickCount(str(c.get("url", "")), c.get("click"), c.get("uniqueClick"))
            for c in body.get("clicks") or []
            if isinstance(c, dict)
        ],
    )
