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

from sqlalchemy import Select, case, delete, func, insert, literal, select, update
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
    _insert_recipients(db_session, job.id, recipients, chunk_size)
    sizes = dict(
        db_session.execute(
            select(SendRecipient.chunk_seq, func.count())
            .where(SendRecipient.job_id == job.id, SendRecipient.chunk_seq.is_not(None))
            .group_by(SendRecipient.chunk_seq)
        ).all()
    )
    job.skipped = int(
        db_session.scalar(
            select(func.count()).where(SendRecipient.job_id == job.id, SendRecipient.status == RecipientStatus.SKIPPED)
        )
        or 0
    )
    job.total = sum(sizes.values()) + job.skipped
    if sizes:
        db_session.execute(
            insert(SendChunk.__table__),
            [
                {
                    "job_id": job.id,
                    "seq": seq,
                    "size": size,
                    "retry_key": str(uuid.uuid4()),  # the chunk's key, for every try, before the first
                    "status": ChunkStatus.PENDING,
                    "attempts": 0,
                    "next_attempt_at": now,
                }
                for seq, size in sorted(sizes.items())
            ],
        )
    else:
        job.status = JobStatus.DONE
        job.finished_at = now
        job.messages = []
    db_session.flush()
    return job.id


def _insert_recipients(
    db_session: Session, job_id: int, recipients: Select[Any] | Sequence[str], chunk_size: int
) -> None:
    """One row per distinct user id: blocked citizens "skipped" (in no chunk), the others numbered into
    chunks of `chunk_size` as they are inserted."""
    table = SendRecipient.__table__
    columns = ["job_id", "line_user_id", "status", "error", "chunk_seq"]
    blocked = select(Citizen.line_user_id).where(Citizen.status == CitizenStatus.BLOCKED)
    if isinstance(recipients, Select):
        source = recipients.subquery()
        user_id = next(iter(source.c))
        audience = select(user_id.label("uid")).where(user_id.is_not(None)).distinct().subquery()
        known_blocked = blocked.subquery()
        reachable = known_blocked.c.line_user_id.is_(None)
        # Numbered among the reachable only, so that every chunk but the last is full.
        number = func.row_number().over(partition_by=reachable, order_by=audience.c.uid)
        rows = select(
            literal(job_id),
            audience.c.uid,
            case((reachable, literal(RecipientStatus.PENDING.value)), else_=literal(RecipientStatus.SKIPPED.value)),
            case((reachable, None), else_=literal(BLOCKED)),
            case((reachable, (number - 1) // chunk_size), else_=None),
        ).select_from(audience.outerjoin(known_blocked, known_blocked.c.line_user_id == audience.c.uid))
        db_session.execute(insert(table).from_select(columns, rows))
        return
    unique = [u for u in dict.fromkeys(recipients) if u]
    if not unique:
        return
    refused = set(db_session.scalars(blocked))
    values: list[dict[str, Any]] = []
    sendable = 0
    for user in unique:
        row: dict[str, Any] = {"job_id": job_id, "line_user_id": user, "status": RecipientStatus.PENDING}
        if user in refused:
            row.update(status=RecipientStatus.SKIPPED, error=BLOCKED, chunk_seq=None)
        else:
            row.update(error=None, chunk_seq=sendable // chunk_size)
            sendable += 1
        values.append(row)
    db_session.execute(insert(table), values)


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
    """Cancels the chunks never tried (their recipients become "cancelled"). A chunk already tried
    finishes: one in flight, one left in flight by a process that died, one waiting to be tried again
    after a 5xx or a timeout. Each may have reached LINE, and only its retry key can tell."""
    job = db_session.get(SendJob, job_id, with_for_update=True)
    if job is None:
        raise JobNotFound(job_id)
    if job.status != JobStatus.SENDING:
        return
    cancelled = list(
        db_session.scalars(
            update(SendChunk)
            .where(SendChunk.job_id == job_id, SendChunk.status == ChunkStatus.PENDING, SendChunk.attempts == 0)
            .values(status=ChunkStatus.CANCELLED, locked_until=None)
            .returning(SendChunk.seq)
            .execution_options(synchronize_session=False)
        )
    )
    if cancelled:
        db_session.execute(
            update(SendRecipient)
            .where(SendRecipient.job_id == job_id, SendRecipient.chunk_seq.in_(cancelled))
            .values(status=RecipientStatus.CANCELLED)
            .execution_options(synchronize_session=False)
        )
    job.status = JobStatus.CANCELLED
    job.finished_at = clock.now()
    in_flight = db_session.scalar(
        select(func.count())
        .select_from(SendChunk)
        .where(SendChunk.job_id == job_id, SendChunk.status.in_([ChunkStatus.PENDING, ChunkStatus.SENDING]))
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
