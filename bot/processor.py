"""Drains the inbox: claim events, run each through the dispatcher in its own transaction, then
deliver the answers.

Per event, one transaction holds the domain change, the answer written to the outbox and the
event's "done" mark, so a retried event cannot act twice. The web process runs this loop in the
background (woken by each webhook); `madoguchi worker` runs the same loop in its own process.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import traceback
from datetime import datetime, timedelta

from anyio import to_thread

from bot import citizens as citizen_service
from bot import inbox as inbox_service
from bot import outbox as outbox_service
from bot.catalog import t
from bot.citizens import CitizenProfile
from bot.db import Database
from bot.delivery import Delivery
from bot.dispatcher import CONVERSATIONAL, dispatch
from bot.flow import Turn
from bot.inbox import InboxEvent, InboxStatus
from bot.line_client import LineClient
from bot.messages import menu_text, to_json
from bot.settings import Settings

log = logging.getLogger(__name__)

# How long after an event LINE's reply token is still worth trying (LINE: 20 minutes at most,
# counted from the event, and one minute from arrival).
REPLY_TOKEN_EVENT_LIFE = timedelta(minutes=20)


class InboxProcessor:
    def __init__(self, db: Database, settings: Settings, client: LineClient, delivery: Delivery) -> None:
        self._db = db
        self._settings = settings
        self._client = client
        self._delivery = delivery
        self._wake = asyncio.Event()

    def wake(self) -> None:
        self._wake.set()

    async def run_forever(self, stop: asyncio.Event) -> None:
        """Drains until `stop` is set; sleeps until woken or until something falls due."""
        while not stop.is_set():
            try:
                handled = await self.drain_once()
                handled += await self._delivery.drain_due()
            except Exception:
                log.exception("inbox loop failed; continuing")
                handled = 0
            if handled:
                continue
            wait = await to_thread.run_sync(self._seconds_until_due)
            self._wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=wait)

    def _seconds_until_due(self) -> float:
        poll = self._settings.worker_poll_seconds
        with self._db.session() as db_session:
            due = [inbox_service.next_due_in(db_session=db_session), outbox_service.next_due_in(db_session=db_session)]
        known = [d for d in due if d is not None]
        return min([poll, *known]) if known else poll

    async def drain_once(self) -> int:
        """Processes one batch of claimable events; answers how many."""
        claimed = await to_thread.run_sync(self._claim)
        if claimed:
            await asyncio.gather(*(self._process(event_id, kind, user_id) for event_id, kind, user_id in claimed))
        return len(claimed)

    def _claim(self) -> list[tuple[int, str, str | None]]:
        with self._db.session() as db_session:
            events = inbox_service.claim_batch(
                db_session=db_session,
                limit=self._settings.inbox_batch_size,
                lease_seconds=self._settings.inbox_lease_seconds,
            )
            return [(e.id, e.event.kind, e.user_id) for e in events]

    async def _process(self, event_id: int, kind: str, user_id: str | None) -> None:
        profile = await self._client.get_profile(user_id) if kind == "follow" and user_id else None
        try:
            outbox_ids = await to_thread.run_sync(self._handle, event_id, profile)
        except Exception as exc:
            error = "".join(traceback.format_exception_only(exc)).strip()
            log.error("inbox event %s failed: %s", event_id, error, exc_info=exc)
            await to_thread.run_sync(self._fail, event_id, f"{error}\n{traceback.format_exc(limit=8)}")
            return
        await self._delivery.send(outbox_ids)

    def _handle(self, event_id: int, profile: CitizenProfile | None) -> list[int]:
        """One transaction: dispatch, queue the answer, mark the event done."""
        with self._db.session() as db_session:
            inbox_event = inbox_service.lock_for_processing(db_session=db_session, inbox_event_id=event_id)
            if inbox_event is None:
                return []
            event = inbox_event.event
            if event.is_standby:
                # Another channel is active for this chat: record, never answer.
                inbox_service.mark_done(db_session=db_session, inbox_event=inbox_event)
                return []
            if event.is_one_to_one and event.type not in ("unfollow",):
                citizen_service.touch(db_session=db_session, line_user_id=event.user_id or "")
            turn = Turn(db_session=db_session, event=event, settings=self._settings, profile=profile)
            dispatch(turn)
            ids: list[int] = []
            if turn.replies and event.chat_id:
                rows = outbox_service.enqueue_answer(
                    db_session=db_session,
                    inbox_event_id=inbox_event.id,
                    reply_token=event.reply_token,
                    reply_deadline=self._reply_deadline(inbox_event),
                    to=event.chat_id,
                    messages=to_json(turn.replies),
                )
                ids = [row.id for row in rows]
            inbox_service.mark_done(db_session=db_session, inbox_event=inbox_event)
            return ids

    def _reply_deadline(self, inbox_event: InboxEvent) -> datetime:
        by_arrival = inbox_event.received_at + timedelta(seconds=self._settings.reply_token_max_age_seconds)
        by_event = inbox_event.event_time + REPLY_TOKEN_EVENT_LIFE
        return min(by_arrival, by_event)

    def _fail(self, event_id: int, error: str) -> None:
        with self._db.session() as db_session:
            inbox_event = inbox_service.mark_failed(
                db_session=db_session,
                inbox_event_id=event_id,
                error=error,
                max_attempts=self._settings.inbox_max_attempts,
            )
            if inbox_event is None or inbox_event.status != InboxStatus.DEAD:
                return
            event = inbox_event.event
            if event.is_one_to_one and not event.is_standby and event.kind in CONVERSATIONAL:
                # The citizen should not wait in silence: apologise and point to the phone.
                outbox_service.enqueue_push(
                    db_session=db_session,
                    to=event.chat_id or "",
                    messages=to_json([menu_text(t("welcome.error"))]),
                    purpose="apology",
                )
