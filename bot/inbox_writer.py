"""Group commit for the webhook: requests that arrive while a write is under way are stored
together in the next transaction. Under load one commit serves many webhooks; when it is quiet a
request is written at once, alone, with no added wait.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from anyio import CapacityLimiter, to_thread

from bot import errors
from bot import inbox as inbox_service
from bot.db import Database

log = logging.getLogger(__name__)

Request = list[dict[str, Any]]


class InboxWriter:
    def __init__(
        self, db: Database, limiter: CapacityLimiter | None = None, *, retention_days: int | None = None
    ) -> None:
        self._db = db
        # Events older than the message log's retention are replays: stored as refused (bot.inbox).
        self._retention_days = retention_days
        self._limiter = limiter or CapacityLimiter(4)
        self._waiting: list[tuple[Request, asyncio.Future[int]]] = []
        self._writing = False

    async def store(self, raw_events: Request) -> int:
        """Stores one webhook's events durably; answers how many were new. Raises if the write failed."""
        future: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        self._waiting.append((raw_events, future))
        if not self._writing:
            self._writing = True
            asyncio.get_running_loop().create_task(self._drain())
        return await future

    async def _drain(self) -> None:
        try:
            while self._waiting:
                batch, self._waiting = self._waiting, []
                try:
                    counts = await to_thread.run_sync(
                        self._write, [events for events, _ in batch], limiter=self._limiter
                    )
                except Exception as exc:
                    log.error(
                        "storing %d webhook requests together failed; storing each alone: %s",
                        len(batch),
                        errors.describe_with_stack(exc),
                    )
                    counts = await to_thread.run_sync(
                        self._write_each, [events for events, _ in batch], limiter=self._limiter
                    )
                for (_, future), count in zip(batch, counts, strict=True):
                    if future.done():
                        continue
                    if isinstance(count, BaseException):
                        future.set_exception(count)
                    else:
                        future.set_result(count)
        finally:
            self._writing = False

    def _write(self, requests: list[Request]) -> list[int | BaseException]:
        with self._db.session(urgent=True) as db_session:
            return list(
                inbox_service.store_requests(
                    db_session=db_session, requests=requests, retention_days=self._retention_days
                )
            )

    def _write_each(self, requests: list[Request]) -> list[int | BaseException]:
        results: list[int | BaseException] = []
        for events in requests:
            try:
                with self._db.session(urgent=True) as db_session:
                    results.append(
                        inbox_service.store(
                            db_session=db_session, raw_events=events, retention_days=self._retention_days
                        )
                    )
            except Exception as exc:
                results.append(exc)
        return results
