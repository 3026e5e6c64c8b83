"""Sends the send jobs' chunks: a loop in every process that delivers the outbox (the web process with
PROCESS_INBOX_IN_WEB, and every `madoguchi worker`).

Each round claims due chunks (paying the shared rate bucket in the same transaction), sends each by
multicast with the chunk's own retry key, a few at once, and records each outcome in a transaction of
its own. The database is the only shared state, so any number of processes share the work:

- A claim leases the chunk (locked_until). PostgreSQL: FOR UPDATE SKIP LOCKED, so workers never wait
  for each other's chunks; SQLite: its one writer makes the claim atomic.
- A process that dies mid-send leaves its chunk "sending"; when the lease runs out, another claims it
  and sends it again with the same retry key. LINE answers 409 if it had accepted it: delivered once.
- An outcome is written only by the claim that is still current (the chunk's attempt count), so a
  process that stalled past its lease and was overtaken records nothing.
- 5xx, timeouts and 429 wait (exponential backoff with jitter, in the database, so the retry also
  pays the rate bucket); any other 4xx, or the monthly quota, fails the chunk with LINE's reason.

The database is never touched on the event loop: SQLite's write lock held by a request would stall
the loop, and with it every webhook. Everything from the database runs in worker threads.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from anyio import CapacityLimiter, to_thread
from sqlalchemy import ColumnElement, and_, func, or_, select, update
from sqlalchemy.orm import Session

from bot import clock, db, errors
from bot.db import Database
from bot.line_client import LineApiError, LineClient
from bot.settings import Settings
from notifications import rate
from notifications.models import ChunkStatus, JobStatus, RecipientStatus, SendChunk, SendJob, SendRecipient

log = logging.getLogger(__name__)

MAX_BACKOFF_SECONDS = 300.0
STOP_PATIENCE_SECONDS = 10.0


@dataclass(frozen=True)
class ClaimedChunk:
    """A chunk this process holds, with what sending it takes: plain data, safe between threads."""

    id: int
    job_id: int
    seq: int
    attempts: int
    retry_key: str
    to: list[str]
    messages: list[dict[str, Any]]
    aggregation_unit: str | None
    notification_disabled: bool


@dataclass(frozen=True)
class ChunkOutcome:
    request_id: str | None = None
    error: LineApiError | None = None


def backoff_seconds(attempts: int, base: float, rand: random.Random | None = None) -> float:
    """The wait after the `attempts`-th try: the base doubled per try, at most MAX_BACKOFF_SECONDS,
    half of it random ("equal jitter"), so the chunks a burst of 429s sent back do not return together."""
    ceiling = min(MAX_BACKOFF_SECONDS, base * 2 ** max(0, attempts - 1))
    return ceiling / 2 + (rand or random).uniform(0, ceiling / 2)


class BroadcastSender:
    def __init__(
        self, db: Database, settings: Settings, client: LineClient, limiter: CapacityLimiter | None = None
    ) -> None:
        self._db = db
        self._settings = settings
        self._client = client
        self._limiter = limiter or CapacityLimiter(2)

    async def run_forever(self, stop: asyncio.Event) -> None:
        """Keeps up to BROADCAST_CONCURRENCY chunks in flight until `stop`; then lets those finish
        (a chunk cut off mid-send is taken over after its lease, with its retry key)."""
        in_flight: set[asyncio.Task[None]] = set()
        stopping = asyncio.create_task(stop.wait(), name="broadcast-stop")
        poll = self._settings.broadcast_poll_seconds
        try:
            while not stop.is_set():
                free = self._settings.broadcast_concurrency - len(in_flight)
                wait: float | None = poll
                if free > 0:
                    try:
                        claimed, token_wait = await to_thread.run_sync(self._claim, free, limiter=self._limiter)
                    except Exception as error:  # the database is away: try again after a poll
                        log.error("claiming broadcast chunks failed: %s", errors.describe(error))
                        claimed, token_wait = [], 0.0
                    for chunk in claimed:
                        task = asyncio.create_task(self._send(chunk), name=f"broadcast-chunk-{chunk.id}")
                        in_flight.add(task)
                        task.add_done_callback(in_flight.discard)
                    if token_wait:
                        wait = min(poll, token_wait)  # the bucket, not the work, is short
                    elif len(claimed) == free:
                        wait = None  # every slot busy: go on when one frees
                else:
                    wait = None
                await asyncio.wait({stopping, *in_flight}, timeout=wait, return_when=asyncio.FIRST_COMPLETED)
        finally:
            if in_flight:
                await asyncio.wait(in_flight, timeout=STOP_PATIENCE_SECONDS)
            for task in list(in_flight):
                task.cancel()
            stopping.cancel()

    async def send_due(self) -> int:
        """One round, waiting for its chunks (for tests and tools): how many chunks went."""
        claimed, _ = await to_thread.run_sync(self._claim, self._settings.broadcast_concurrency, limiter=self._limiter)
        await asyncio.gather(*(self._send(chunk) for chunk in claimed))
        return len(claimed)

    # --- claiming --------------------------------------------------------------------------------------
    def _claim(self, want: int) -> tuple[list[ClaimedChunk], float]:
        with self._db.session() as db_session:
            if db_session.scalar(select(SendChunk.id).where(_due(clock.now())).limit(1)) is None:
                return [], 0.0  # nothing to send: the shared bucket's row is left alone
            rows: list[Any] = []

            def claim(count: int) -> int:
                rows.extend(_claim_chunks(db_session, count, self._settings.broadcast_lease_seconds))
                return len(rows)

            _, token_wait = rate.spend(db_session, rate=self._settings.broadcast_rate_per_second, want=want, use=claim)
            return _with_recipients(db_session, rows), token_wait

    # --- sending ---------------------------------------------------------------------------------------
    async def _send(self, chunk: ClaimedChunk) -> None:
        try:
            result = await self._client.multicast(
                chunk.to,
                chunk.messages,
                retry_key=chunk.retry_key,
                notification_disabled=chunk.notification_disabled,
                custom_aggregation_units=[chunk.aggregation_unit] if chunk.aggregation_unit else None,
                retry=False,
            )
            outcome = ChunkOutcome(request_id=result.request_id)
        except LineApiError as error:
            outcome = ChunkOutcome(error=error)
        except Exception as error:  # a bug must not lose the chunk: it is tried again
            log.error("broadcast chunk %s crashed: %s", chunk.id, errors.describe_with_stack(error))
            outcome = ChunkOutcome(error=LineApiError(None, errors.describe(error), retryable=True))
        try:
            await to_thread.run_sync(self._record, chunk, outcome, limiter=self._limiter)
        except Exception as error:  # unrecorded: the lease runs out and the retry key settles it
            log.error("recording broadcast chunk %s failed: %s", chunk.id, errors.describe(error))

    # --- recording -------------------------------------------------------------------------------------
    def _record(self, chunk: ClaimedChunk, outcome: ChunkOutcome) -> None:
        now = clock.now()
        error = outcome.error
        mine = (SendChunk.id == chunk.id, SendChunk.attempts == chunk.attempts, SendChunk.status == ChunkStatus.SENDING)
        with self._db.session() as db_session:
            if error is None:
                values: dict[str, Any] = {"status": ChunkStatus.SENT, "sent_at": now, "request_id": outcome.request_id}
                recipient_values: dict[str, Any] = {"status": RecipientStatus.SENT, "sent_at": now}
            elif error.retryable and chunk.attempts < self._settings.broadcast_max_attempts:
                wait = backoff_seconds(chunk.attempts, self._settings.broadcast_retry_base_seconds)
                values = {"status": ChunkStatus.PENDING, "next_attempt_at": now + timedelta(seconds=wait)}
                recipient_values = {}
                log.warning("broadcast chunk %s: %s; next try in %.1fs", chunk.id, error, wait)
            else:
                reason = str(error)[:1000]
                values = {"status": ChunkStatus.FAILED}
                recipient_values = {"status": RecipientStatus.FAILED, "error": reason}
                log.error("broadcast chunk %s failed for good: %s", chunk.id, error)
            values.update(locked_until=None, last_error=None if error is None else str(error)[:4000])
            changed = db_session.execute(
                update(SendChunk).where(*mine).values(**values).execution_options(synchronize_session=False)
            )
            if db.affected_rows(changed) != 1:
                log.info("broadcast chunk %s: taken over by another process; its outcome is theirs", chunk.id)
                return
            if not recipient_values:
                return
            db_session.execute(
                update(SendRecipient)
                .where(SendRecipient.job_id == chunk.job_id, SendRecipient.chunk_seq == chunk.seq)
                .values(**recipient_values)
                .execution_options(synchronize_session=False)
            )
            _finish_job_if_over(db_session, chunk.job_id)


def _due(now: datetime) -> ColumnElement[bool]:
    """Chunks to send now: pending and due, or "sending" under a lease that ran out (a process died)."""
    return or_(
        and_(SendChunk.status == ChunkStatus.PENDING, SendChunk.next_attempt_at <= now),
        and_(SendChunk.status == ChunkStatus.SENDING, SendChunk.locked_until <= now),
    )


def _claim_chunks(db_session: Session, limit: int, lease_seconds: int) -> list[Any]:
    now = clock.now()
    query = (
        select(SendChunk.id, SendChunk.job_id, SendChunk.seq, SendChunk.attempts, SendChunk.retry_key, SendChunk.status)
        .where(_due(now))
        .order_by(SendChunk.id)
        .limit(limit)
    )
    if db_session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True)
    rows = list(db_session.execute(query))
    if not rows:
        return []
    for row in rows:
        if row.status == ChunkStatus.SENDING:
            log.warning("broadcast chunk %s: its sender stopped mid-send; resending with its retry key", row.id)
    db_session.execute(
        update(SendChunk)
        .where(SendChunk.id.in_([r.id for r in rows]))
        .values(
            status=ChunkStatus.SENDING,
            locked_until=now + timedelta(seconds=lease_seconds),
            attempts=SendChunk.attempts + 1,
        )
        .execution_options(synchronize_session=False)
    )
    return rows


def _with_recipients(db_session: Session, rows: list[Any]) -> list[ClaimedChunk]:
    if not rows:
        return []
    to: dict[tuple[int, int | None], list[str]] = defaultdict(list)
    for row in rows:
        for user_id in db_session.scalars(
            select(SendRecipient.line_user_id)
            .where(SendRecipient.job_id == row.job_id, SendRecipient.chunk_seq == row.seq)
            .order_by(SendRecipient.id)
        ):
            to[(row.job_id, row.seq)].append(user_id)
    jobs = {job.id: job for job in db_session.scalars(select(SendJob).where(SendJob.id.in_({r.job_id for r in rows})))}
    return [
        ClaimedChunk(
            id=r.id,
            job_id=r.job_id,
            attempts=r.attempts + 1,
            retry_key=r.retry_key,
            seq=r.seq,
            to=to[(r.job_id, r.seq)],
            messages=list(jobs[r.job_id].messages),
            aggregation_unit=jobs[r.job_id].aggregation_unit,
            notification_disabled=jobs[r.job_id].notification_disabled,
        )
        for r in rows
    ]


def _finish_job_if_over(db_session: Session, job_id: int) -> None:
    """Marks the job done when no chunk is left to send, and forgets its message bodies. The job's row
    is locked first, so of two processes finishing its last chunks at once, the later sees both."""
    job = db_session.get(SendJob, job_id, with_for_update=True)
    if job is None:
        return
    unfinished = db_session.scalar(
        select(func.count())
        .select_from(SendChunk)
        .where(SendChunk.job_id == job_id, SendChunk.status.in_([ChunkStatus.PENDING, ChunkStatus.SENDING]))
    )
    if unfinished:
        return
    if job.status == JobStatus.SENDING:
        job.status = JobStatus.DONE
        job.finished_at = clock.now()
    job.messages = []


def release_leases(database: Database) -> int:
    """SQLite runs as one process: chunks its previous life left "sending" are due again at once (sent
    with their retry keys, so one LINE had already is answered 409), not after their lease."""
    with database.session() as db_session:
        result = db_session.execute(
            update(SendChunk)
            .where(SendChunk.status == ChunkStatus.SENDING)
            .values(locked_until=clock.now())
            .execution_options(synchronize_session=False)
        )
        return db.affected_rows(result)


async def run(db: Database, settings: Settings, client: LineClient, stop: asyncio.Event) -> None:
    """The sending loop of one process (bot/app.py and bot/worker.py start it beside the inbox's)."""
    if db.dialect == "sqlite":
        await to_thread.run_sync(release_leases, db)
    with contextlib.suppress(asyncio.CancelledError):
        await BroadcastSender(db, settings, client).run_forever(stop)
