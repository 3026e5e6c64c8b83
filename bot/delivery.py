"""Sends outbox rows to LINE and records each outcome.

Reply while the token is surely valid; otherwise, or when LINE refuses the token, push (with the
row's retry key, so a retried push is delivered once). Transient failures wait and try again;
4xx refusals are final and kept with their reason for staff. Nothing is pushed to a citizen who
blocked the account.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from datetime import timedelta

from anyio import to_thread

from bot import citizens as citizen_service
from bot import clock
from bot import outbox as outbox_service
from bot.db import Database
from bot.line_client import LineApiError, LineClient, SendResult
from bot.outbox import OutboxKind, OutboxMessage, OutboxStatus
from bot.settings import Settings

log = logging.getLogger(__name__)

OUTBOX_BACKOFF = (1, 5, 15, 60, 300, 900, 1800, 3600)


class Delivery:
    def __init__(self, db: Database, settings: Settings, client: LineClient) -> None:
        self._db = db
        self._settings = settings
        self._client = client

    async def send(self, ids: Sequence[int]) -> None:
        """Sends these rows now (those another process has not taken already)."""
        if ids:
            await self._send_claimed(await to_thread.run_sync(self._claim, list(ids)))

    async def drain_due(self, limit: int = 100) -> int:
        """Sends whatever is due (retries, and rows left by a process that died mid-way)."""
        rows = await to_thread.run_sync(self._claim, None, limit)
        await self._send_claimed(rows)
        return len(rows)

    def _claim(self, ids: list[int] | None, limit: int = 100) -> list[OutboxMessage]:
        with self._db.session() as db_session:
            rows = outbox_service.claim_batch(
                db_session=db_session, limit=limit, lease_seconds=self._settings.inbox_lease_seconds, ids=ids
            )
            for row in rows:
                if (
                    row.kind == OutboxKind.PUSH
                    and row.to
                    and row.to.startswith("U")
                    and not (citizen_service.is_reachable(db_session=db_session, line_user_id=row.to))
                ):
                    row.status = OutboxStatus.SKIPPED
                    row.last_error = "citizen has blocked the account"
            return [row for row in rows if row.status == OutboxStatus.SENDING]

    async def _send_claimed(self, rows: Sequence[OutboxMessage]) -> None:
        if rows:
            await asyncio.gather(*(self._send_one(row) for row in rows))

    async def _send_one(self, row: OutboxMessage) -> None:
        try:
            result = await self._deliver(row)
        except LineApiError as error:
            await to_thread.run_sync(self._record_failure, row.id, error)
        except Exception as error:  # a bug must not lose the message: keep it for a retry
            log.exception("delivery of outbox %s crashed", row.id)
            await to_thread.run_sync(
                self._record_failure, row.id, LineApiError(None, f"{type(error).__name__}: {error}", retryable=True)
            )
        else:
            await to_thread.run_sync(self._record_sent, row.id, row.kind, result)

    async def _deliver(self, row: OutboxMessage) -> SendResult:
        if row.kind == OutboxKind.REPLY:
            if row.reply_token and row.reply_deadline and clock.now() < row.reply_deadline:
                try:
                    return await self._client.reply(
                        row.reply_token, row.messages, notification_disabled=row.notification_disabled
                    )
                except LineApiError as error:
                    if error.is_invalid_reply_token and row.ambiguous_attempt:
                        # An earlier try may have used the token: assume it reached the citizen.
                        log.warning("outbox %s: reply token already used after an unclear try", row.id)
                        return SendResult(request_id=None, status=200)
                    if not error.is_invalid_reply_token:
                        if error.retryable:
                            await to_thread.run_sync(self._mark_ambiguous, row.id)
                        raise
                    log.info("outbox %s: reply token refused; answering by push", row.id)
            row.kind = OutboxKind.PUSH
        if row.kind == OutboxKind.PUSH:
            if not row.to:
                raise LineApiError(None, "no recipient for push", retryable=False)
            return await self._client.push(
                row.to, row.messages, retry_key=row.retry_key, notification_disabled=row.notification_disabled
            )
        return await self._client.multicast(
            row.recipients or [], row.messages, retry_key=row.retry_key, notification_disabled=row.notification_disabled
        )

    def _mark_ambiguous(self, row_id: int) -> None:
        with self._db.session() as db_session:
            row = db_session.get(OutboxMessage, row_id)
            if row is not None:
                row.ambiguous_attempt = True

    def _record_sent(self, row_id: int, kind: OutboxKind, result: SendResult) -> None:
        with self._db.session() as db_session:
            row = db_session.get(OutboxMessage, row_id)
            if row is None:
                return
            row.kind = kind
            row.status = OutboxStatus.SENT
            row.sent_at = clock.now()
            row.request_id = result.request_id
            row.locked_until = None
            row.last_error = None

    def _record_failure(self, row_id: int, error: LineApiError) -> None:
        with self._db.session() as db_session:
            row = db_session.get(OutboxMessage, row_id)
            if row is None:
                return
            row.last_error = str(error)[:4000]
            row.locked_until = None
            if error.retryable and row.attempts < self._settings.outbox_max_attempts:
                wait = OUTBOX_BACKOFF[min(row.attempts - 1, len(OUTBOX_BACKOFF) - 1)]
                row.status = OutboxStatus.PENDING
                row.next_attempt_at = clock.now() + timedelta(seconds=wait)
                log.warning("outbox %s: %s; next try in %ss", row_id, error, wait)
            else:
                row.status = OutboxStatus.FAILED
                log.error("outbox %s failed for good: %s", row_id, error)
