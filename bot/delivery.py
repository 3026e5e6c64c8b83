"""Sends outbox rows to LINE and records the outcomes.

Reply while the token is surely valid; otherwise, or when LINE refuses the token, push with the
row's retry key, so a retried push is delivered once. Transient failures (5xx, timeouts, 429) wait
and try again; other 4xx are final and kept with their reason for staff. Nothing is pushed to a
citizen who blocked the account.

After a crash we cannot know whether a reply went out, so a reclaimed reply whose token LINE now
refuses is pushed: a rare duplicate is better than a lost answer. Only when this process itself
saw a reply fail unclearly (timeout, 5xx) and LINE then calls the token used, is it taken as
delivered.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta

from anyio import CapacityLimiter, to_thread
from sqlalchemy import update
from sqlalchemy.orm import Session

from bot import citizens as citizen_service
from bot import clock, errors
from bot import outbox as outbox_service
from bot.db import Database
from bot.line_client import LineApiError, LineClient, SendResult
from bot.outbox import OutboxKind, OutboxMessage, OutboxStatus, Outgoing
from bot.settings import Settings

log = logging.getLogger(__name__)

OUTBOX_BACKOFF = (1, 5, 15, 60, 300, 900, 1800, 3600)
REPLY_RETRY_DELAY = 0.3


@dataclass
class Outcome:
    item: Outgoing
    kind: OutboxKind
    result: SendResult | None = None
    error: LineApiError | None = None
    ambiguous: bool = False


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
                db_session=db_session, limit=limit, lease_seconds=self._settings.inbox_lease_seconds
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
        """The reply's result, or None when the answer must be pushed instead."""
        if not (item.reply_token and item.reply_deadline and clock.now() < item.reply_deadline):
            return None
        unclear = item.ambiguous_attempt
        for attempt in range(2):
            try:
                return await self._client.reply(
                    item.reply_token, item.messages, notification_disabled=item.notification_disabled
                )
            except LineApiError as error:
                if error.is_invalid_reply_token:
                    if unclear:
                        log.warning("outbox %s: token used after an unclear try; taken as delivered", item.id)
                        return SendResult(request_id=None, status=200)
                    log.info("outbox %s: reply token refused; answering by push", item.id)
                    return None
                if not error.retryable:
                    raise
                unclear = True
                if attempt == 0 and clock.now() < item.reply_deadline:
                    await asyncio.sleep(REPLY_RETRY_DELAY)
                    continue
                outcome.ambiguous = True
                raise
        raise AssertionError("unreachable")

    def _record(self, outcomes: Sequence[Outcome]) -> None:
        now = clock.now()
        sent = []
        with self._db.session() as db_session:
            for outcome in outcomes:
                if outcome.error is None:
                    result = outcome.result
                    sent.append(
                        {
                            "id": outcome.item.id,
                            "kind": outcome.kind,
                            "status": OutboxStatus.SENT,
                            "sent_at": now,
                            "locked_until": None,
                            "last_error": None,
                            # Delivered: the body (what citizens are told, often their own answers) is not kept.
                            "messages": [],
                            "request_id": result.request_id if result else None,
                        }
                    )
                else:
                    self._record_failure(db_session, outcome)
            if sent:
                db_session.execute(update(OutboxMessage), sent)

    def _record_failure(self, db_session: Session, outcome: Outcome) -> None:
        error = outcome.error
        assert error is not None
        row = db_session.get(OutboxMessage, outcome.item.id)
        if row is None:
            return
        row.kind = outcome.kind
        row.last_error = str(error)[:4000]
        row.locked_until = None
        row.ambiguous_attempt = row.ambiguous_attempt or outcome.ambiguous
        if error.retryable and row.attempts < self._settings.outbox_max_attempts:
            wait = OUTBOX_BACKOFF[min(row.attempts - 1, len(OUTBOX_BACKOFF) - 1)]
            row.status = OutboxStatus.PENDING
            row.next_attempt_at = clock.now() + timedelta(seconds=wait)
            log.warning("outbox %s: %s; next try in %ss", row.id, error, wait)
        else:
            row.status = OutboxStatus.FAILED
            row.messages = []  # final, never tried again: the body is not kept
            log.error("outbox %s failed for good: %s", row.id, error)
