"""Sends outbox rows to LINE and records the outcomes.

Reply while the token is surely valid; otherwise, or when LINE refuses the token, push with the
row's retry key (stored with the row when it was written), so a retried push is delivered once:
LINE answers a repeated key with 409, which is taken as delivered. Transient failures (5xx,
timeouts, 429) wait and try again; other 4xx are final and kept with their reason for staff.
Nothing is pushed to a citizen who blocked the account.

No answer goes out twice, whatever process dies when:

- A try is unclear when it may have reached LINE without us learning so: a timeout, a dropped
  connection, a 5xx, or a process that died while the row was "sending" (bot.outbox.claim_batch
  marks a row taken over that way). An unclear reply is tried again with its token, whatever the
  time: LINE accepts a token once, so "Invalid reply token" then means the earlier try used it,
  and the answer is recorded as delivered, never pushed. A reply is only begun while a process
  taking it over one outbox lease later can still ask in the token's life (bot.processor).
- Before the first push of an answer meant as a reply, the row says so (kind "push"): whoever
  takes it over pushes with the same retry key instead of asking about the token.
- A row is the business of the process that claimed it last: a process whose lease ran out and
  whose row was taken over records nothing (each write checks the row's try count).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta

from anyio import CapacityLimiter, to_thread
from sqlalchemy import bindparam, update
from sqlalchemy.orm import Session

from bot import citizens as citizen_service
from bot import clock, db, errors
from bot import outbox as outbox_service
from bot.db import Database
from bot.line_client import LineApiError, LineClient, SendResult
from bot.outbox import OutboxKind, OutboxMessage, OutboxStatus, Outgoing
from bot.settings import Settings

log = logging.getLogger(__name__)

OUTBOX_BACKOFF = (1, 5, 15, 60, 300, 900, 1800, 3600)
REPLY_RETRY_DELAY = 0.3
# Besides the outbox lease, what a takeover may take before it asks LINE about a reply token (the
# poll, a busy process). A reply is begun only this long and a lease before the token's deadline.
REPLY_TAKEOVER_MARGIN = timedelta(seconds=5)


class LeaseLost(Exception):
    """Another process took the row over while this one was sending it: the outcome is theirs."""


@dataclass
class Outcome:
    item: Outgoing
    kind: OutboxKind
    result: SendResult | None = None
    error: LineApiError | None = None
    ambiguous: bool = False
    lost: bool = False  # taken over by another process: record nothing


# Marks rows sent, as long as they are still this process's try (see LeaseLost).
_table = OutboxMessage.__table__
_MARK_SENT = (
    update(_table)
    .where(
        _table.c.id == bindparam("b_id"),
        _table.c.attempts == bindparam("b_attempts"),
        _table.c.status == OutboxStatus.SENDING,
    )
    .values(
        kind=bindparam("b_kind"),
        status=OutboxStatus.SENT,
        sent_at=bindparam("b_sent_at"),
        locked_until=None,
        last_error=None,
        request_id=bindparam("b_request_id"),
        # Delivered: the body (what citizens are told, often their own answers) is not kept.
        messages=[],
    )
)


class Delivery:
    def __init__(
        self, db: Database, settings: Settings, client: LineClient, limiter: CapacityLimiter | None = None
    ) -> None:
        self._db = db
        self._settings = settings
        self._client = client
        self._limiter = limiter or CapacityLimiter(2)

    async def send(self, items: Sequence[Outgoing]) -> None:
        """Sends rows this process has claimed, all at once, and records the outcomes together."""
        if not items:
            return
        outcomes = await asyncio.gather(*(self._attempt(item) for item in items))
        await to_thread.run_sync(self._record, outcomes, limiter=self._limiter)

    async def drain_due(self, limit: int = 100) -> int:
        """Sends whatever is due: retries, scheduled pushes, rows left by a process that died."""
        items = await to_thread.run_sync(self._claim_due, limit, limiter=self._limiter)
        await self.send(items)
        return len(items)

    def _claim_due(self, limit: int) -> list[Outgoing]:
        with self._db.session() as db_session:
            rows = outbox_service.claim_batch(
                db_session=db_session, limit=limit, lease_seconds=self._settings.outbox_lease_seconds
            )
            items = []
            for row in rows:
                if (
                    row.kind != OutboxKind.MULTICAST
                    and row.to
                    and row.to.startswith("U")
                    and not (citizen_service.is_reachable(db_session=db_session, line_user_id=row.to))
                ):
                    row.status = OutboxStatus.SKIPPED
                    row.last_error = "citizen has blocked the account"
                    row.messages = []  # never sent: the body is not kept
                    continue
                items.append(Outgoing.of(row))
            return items

    async def _attempt(self, item: Outgoing) -> Outcome:
        outcome = Outcome(item=item, kind=item.kind)
        try:
            outcome.result = await self._deliver(item, outcome)
        except LeaseLost:
            log.info("outbox %s: taken over by another process; this one stops", item.id)
            outcome.lost = True
        except LineApiError as error:
            outcome.error = error
        except Exception as error:  # a bug must not lose the message: keep it for a retry
            log.error("delivery of outbox %s crashed: %s", item.id, errors.describe_with_stack(error))
            outcome.error = LineApiError(None, errors.describe(error), retryable=True)
        return outcome

    async def _deliver(self, item: Outgoing, outcome: Outcome) -> SendResult:
        if item.kind == OutboxKind.REPLY:
            result = await self._try_reply(item, outcome)
            if result is not None:
                return result
            # Pushed from now on: the row says so before the first push (see the module docstring).
            if not await to_thread.run_sync(self._switch_to_push, item, limiter=self._limiter):
                raise LeaseLost
            outcome.kind = OutboxKind.PUSH
        if outcome.kind == OutboxKind.PUSH:
            if not item.to:
                raise LineApiError(None, "no recipient for push", retryable=False)
            return await self._client.push(
                item.to, item.messages, retry_key=item.retry_key, notification_disabled=item.notification_disabled
            )
        return await self._client.multicast(
            item.recipients or [],
            item.messages,
            retry_key=item.retry_key,
            notification_disabled=item.notification_disabled,
        )

    async def _try_reply(self, item: Outgoing, outcome: Outcome) -> SendResult | None:
        """The reply's result, or None when the answer must be pushed instead.

        After an unclear try the token is tried whatever the time, and a refusal means delivered."""
        if not item.reply_token:
            return None
        unclear = item.ambiguous_attempt
        if not (unclear or _in_time(item)):
            return None
        for attempt in range(2):
            try:
                return await self._client.reply(
                    item.reply_token, item.messages, notification_disabled=item.notification_disabled
                )
            except LineApiError as error:
                if error.is_invalid_reply_token:
                    if unclear:
                        log.warning("outbox %s: the token was used by an earlier, unclear try: delivered", item.id)
                        return SendResult(request_id=None, status=200, already_accepted=True)
                    log.info("outbox %s: reply token refused; answering by push", item.id)
                    return None
                if not error.retryable:
                    raise
                if error.status is None or error.status >= 500:
                    unclear = True  # it may have reached LINE (a 429 did not)
                outcome.ambiguous = unclear
                if attempt == 0 and (unclear or _in_time(item)):
                    await asyncio.sleep(REPLY_RETRY_DELAY)
                    continue
                raise
        raise AssertionError("unreachable")

    def _switch_to_push(self, item: Outgoing) -> bool:
        """Records that this answer is pushed from now on (renewing the lease); False when the row
        is no longer this process's to send."""
        with self._db.session() as db_session:
            result = db_session.execute(
                update(OutboxMessage)
                .where(
                    OutboxMessage.id == item.id,
                    OutboxMessage.attempts == item.attempts,
                    OutboxMessage.status == OutboxStatus.SENDING,
                )
                .values(
                    kind=OutboxKind.PUSH,
                    locked_until=clock.now() + timedelta(seconds=self._settings.outbox_lease_seconds),
                )
                .execution_options(synchronize_session=False)
            )
            return db.affected_rows(result) == 1

    def _record(self, outcomes: Sequence[Outcome]) -> None:
        now = clock.now()
        sent = []
        with self._db.session() as db_session:
            for outcome in outcomes:
                if outcome.lost:
                    continue
                if outcome.error is None:
                    result = outcome.result
                    sent.append(
                        {
                            "b_id": outcome.item.id,
                            "b_attempts": outcome.item.attempts,
                            "b_kind": outcome.kind,
                            "b_sent_at": now,
                            "b_request_id": result.request_id if result else None,
                        }
                    )
                else:
                    self._record_failure(db_session, outcome)
            if sent:
                db_session.execute(_MARK_SENT, sent)

    def _record_failure(self, db_session: Session, outcome: Outcome) -> None:
        error = outcome.error
        assert error is not None
        row = db_session.get(OutboxMessage, outcome.item.id, with_for_update=True)
        if row is None or row.status != OutboxStatus.SENDING or row.attempts != outcome.item.attempts:
            log.info("outbox %s: taken over by another process; its failure is not recorded", outcome.item.id)
            return
        row.kind = outcome.kind
        row.last_error = str(error)[:4000]
        row.locked_until = None
        row.ambiguous_attempt = row.ambiguous_attempt or outcome.ambiguous
        if error.retryable and row.attempts < self._settings.outbox_max_attempts:
            wait = float(OUTBOX_BACKOFF[min(row.attempts - 1, len(OUTBOX_BACKOFF) - 1)])
            if row.kind == OutboxKind.REPLY and row.ambiguous_attempt and row.reply_deadline is not None:
                # Ask LINE about the token again while it surely lives (see REPLY_TAKEOVER_MARGIN).
                token_life = row.reply_deadline + timedelta(seconds=self._settings.outbox_lease_seconds)
                left = (token_life + REPLY_TAKEOVER_MARGIN - clock.now()).total_seconds()
                wait = min(wait, max(1.0, left - 2))
            row.status = OutboxStatus.PENDING
            row.next_attempt_at = clock.now() + timedelta(seconds=wait)
            log.warning("outbox %s: %s; next try in %.0fs", row.id, error, wait)
        else:
            row.status = OutboxStatus.FAILED
            row.messages = []  # final, never tried again: the body is not kept
            log.error("outbox %s failed for good: %s", row.id, error)


def _in_time(item: Outgoing) -> bool:
    """Whether a reply may still be begun (bot.processor sets the deadline)."""
    return item.reply_deadline is not None and clock.now() < item.reply_deadline
