"""Drains the inbox: claim a batch, run each event through the dispatcher in its own transaction,
then send the answers while the next batch is being handled.

Per event, one transaction holds the domain change, the answer (written to the outbox, already
leased to this process) and the event's "done" mark, so a retried event cannot act twice. The web
process runs this loop in the background, woken by each webhook; `madoguchi worker` runs the same
loop in a process of its own.

Threads: database work runs in worker threads so the event loop stays free to acknowledge
webhooks; the processor has its own small thread budget, so it can never starve the webhook's.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import datetime, timedelta

from anyio import CapacityLimiter, to_thread
from sqlalchemy.orm import Session

from bot import citizens as citizen_service
from bot import clock, errors, transcript
from bot import conversation as conversation_service
from bot import inbox as inbox_service
from bot import outbox as outbox_service
from bot.capability import Capabilities
from bot.catalog import t
from bot.citizens import CitizenProfile
from bot.db import Database
from bot.delivery import REPLY_TAKEOVER_MARGIN, Delivery
from bot.dispatcher import CONVERSATIONAL, dispatch
from bot.flow import Turn
from bot.inbox import Claim, InboxEvent, InboxStatus
from bot.line_client import LineClient
from bot.messages import menu_text, to_json
from bot.outbox import Answer, Outgoing
from bot.settings import Settings
from bot.warmup import warm_up

log = logging.getLogger(__name__)

# How long after an event LINE's reply token is still worth trying (LINE: 20 minutes at most,
# counted from the event, and one minute from arrival).
REPLY_TOKEN_EVENT_LIFE = timedelta(minutes=20)
# Batches whose answers may be on their way out while the next batch is handled.
MAX_BATCHES_IN_FLIGHT = 4
# Threads handling one batch's events at once on PostgreSQL: two overlap one's round trips with
# the other's work; more only fight over the GIL (measured: 8 threads cost 40 % more CPU an event).
HANDLER_THREADS = 2
# Events a transaction handles before it may step aside for a waiting webhook (SQLite).
MIN_EVENTS_PER_TRANSACTION = 2
# Events per transaction on SQLite, whose one write lock the webhook may be waiting for.
SQLITE_EVENTS_PER_TRANSACTION = 8


class InboxProcessor:
    def __init__(
        self,
        db: Database,
        settings: Settings,
        client: LineClient,
        capabilities: Capabilities,
        delivery: Delivery | None = None,
    ) -> None:
        self._db = db
        self._settings = settings
        self._capabilities = capabilities
        self._client = client
        self._limiter = CapacityLimiter(2)
        self._handlers = CapacityLimiter(HANDLER_THREADS)
        self._delivery = delivery or Delivery(db, settings, client, self._limiter)
        self._wake = asyncio.Event()
        self._sending: set[asyncio.Task[None]] = set()

    def wake(self) -> None:
        self._wake.set()

    async def run_forever(self, stop: asyncio.Event) -> None:
        """Drains until `stop` is set; sleeps until woken, stopped or something falls due."""
        await to_thread.run_sync(warm_up, self._db, self._capabilities, limiter=self._limiter)
        stopping = asyncio.create_task(self._wake_when(stop))  # a stop must not wait for the next poll
        try:
            await self._drain_until(stop)
        finally:
            stopping.cancel()
        if self._sending:
            await asyncio.wait(self._sending, timeout=10)

    async def _wake_when(self, stop: asyncio.Event) -> None:
        await stop.wait()
        self.wake()

    async def _drain_until(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            self._wake.clear()
            try:
                handled = await self.drain_once()
                handled += await self._delivery.drain_due()
            except Exception as exc:
                log.error("inbox loop failed; continuing: %s", errors.describe_with_stack(exc))
                handled = 0
            if handled:
                continue
            wait = await to_thread.run_sync(self._seconds_until_due, limiter=self._limiter)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=wait)

    async def drain_once(self) -> int:
        """Handles one batch of claimable events and starts sending their answers."""
        claimed = await to_thread.run_sync(self._claim, limiter=self._limiter)
        if not claimed:
            return 0
        profiles, failures = await self._prepare(claimed)
        outgoing = await self._handle_all(claimed, profiles, failures)
        while len(self._sending) >= MAX_BATCHES_IN_FLIGHT:
            await asyncio.wait(self._sending, return_when=asyncio.FIRST_COMPLETED)
        task = asyncio.create_task(self._delivery.send(outgoing))
        self._sending.add(task)
        task.add_done_callback(self._sent)
        return len(claimed)

    def _sent(self, task: asyncio.Task[None]) -> None:
        self._sending.discard(task)
        failure = None if task.cancelled() else task.exception()
        if failure is not None:
            log.error("sending a batch failed: %s", errors.describe_with_stack(failure))
        self._wake.set()  # a chat's next event may have been waiting for this answer

    async def _prepare(self, claimed: list[Claim]) -> tuple[dict[str, CitizenProfile | None], dict[int, str]]:
        """What handling needs from LINE first: the profiles of new friends. Answers them and the
        error of each event that could not be prepared: that event alone fails (and is tried
        again, up to the limit), never the batch."""
        follows = [
            c
            for c in claimed
            if c.event_type == "follow" and c.user_id and c.attempts <= self._settings.inbox_max_attempts
        ]
        found = await asyncio.gather(
            *(self._client.get_profile(c.user_id or "") for c in follows), return_exceptions=True
        )
        profiles: dict[str, CitizenProfile | None] = {}
        failures: dict[int, str] = {}
        for claim, result in zip(follows, found, strict=True):
            if isinstance(result, Exception):
                failures[claim.id] = errors.describe_with_stack(result)
                log.error("inbox event %s could not be prepared: %s", claim.id, failures[claim.id])
            elif isinstance(result, BaseException):
                raise result  # cancelled: the process is stopping
            else:
                profiles[claim.user_id or ""] = result
        return profiles, failures

    def _seconds_until_due(self) -> float:
        poll = self._settings.worker_poll_seconds
        with self._db.session() as db_session:
            due = [inbox_service.next_due_in(db_session=db_session), outbox_service.next_due_in(db_session=db_session)]
        known = [d for d in due if d is not None]
        return min([poll, *known]) if known else poll

    def _claim(self) -> list[Claim]:
        with self._db.session() as db_session:
            return inbox_service.claim_batch(
                db_session=db_session,
                limit=self._settings.inbox_batch_size,
                lease_seconds=self._settings.inbox_lease_seconds,
            )

    async def _handle_all(
        self, claimed: list[Claim], profiles: dict[str, CitizenProfile | None], failures: dict[int, str]
    ) -> list[Outgoing]:
        """A batch holds at most one event per chat, so on PostgreSQL its events are handled in
        parallel threads (their round trips overlap). SQLite has one writer, so there one thread
        takes them in turn, a few per transaction, stepping aside whenever the webhook waits for
        the write lock (see _handle_some)."""
        if self._db.dialect == "sqlite":
            outgoing: list[Outgoing] = []
            while claimed:
                chunk, rest = claimed[:SQLITE_EVENTS_PER_TRANSACTION], claimed[SQLITE_EVENTS_PER_TRANSACTION:]
                done, left = await to_thread.run_sync(
                    self._handle_isolating, chunk, profiles, failures, limiter=self._limiter
                )
                outgoing += done
                claimed = left + rest
            return outgoing
        chunks = [claimed[i::HANDLER_THREADS] for i in range(min(HANDLER_THREADS, len(claimed)))]
        results = await asyncio.gather(
            *(
                to_thread.run_sync(self._handle_isolating, chunk, profiles, failures, limiter=self._handlers)
                for chunk in chunks
            ),
            return_exceptions=True,
        )
        outgoing = []
        for result in results:
            if isinstance(result, BaseException):
                # Its events stay leased: tried again (and counted) when the lease runs out.
                log.error("handling part of a batch failed: %s", errors.describe_with_stack(result))
            else:
                outgoing += result[0]
        return outgoing

    def _handle_isolating(
        self, claimed: list[Claim], profiles: dict[str, CitizenProfile | None], failures: dict[int, str]
    ) -> tuple[list[Outgoing], list[Claim]]:
        """_handle_some; when the whole transaction fails (its bookkeeping, not one handler), each
        event is handled alone, so that only the event at fault is marked failed."""
        try:
            return self._handle_some(claimed, profiles, failures)
        except Exception as exc:
            if len(claimed) > 1:
                log.error(
                    "a transaction of %d events failed; handling each alone: %s", len(claimed), errors.describe(exc)
                )
                outgoing: list[Outgoing] = []
                for claim in claimed:
                    outgoing += self._handle_isolating([claim], profiles, failures)[0]
                return outgoing, []
            error = errors.describe_with_stack(exc)
            log.error("inbox event %s failed: %s", claimed[0].id, error)
            with self._db.session() as db_session:
                if inbox_service.lock_claimed(db_session=db_session, inbox_event_ids=[claimed[0].id]):
                    self._fail(db_session, claimed[0].id, error)
            return [], []

    def _handle_some(
        self, claimed: list[Claim], profiles: dict[str, CitizenProfile | None], failures: dict[int, str]
    ) -> tuple[list[Outgoing], list[Claim]]:
        """One transaction for these events, one savepoint for each; answers the answers to send and
        the events left for another transaction (on SQLite the transaction ends early, after a
        few events, when the webhook is waiting for the write lock).

        Each event's domain change, answer and "done" mark still commit or roll back together (a
        failing event rolls back to its savepoint and is marked failed; the answers and done marks
        of the others are written at the end, in the same transaction), while the commit and the
        bookkeeping statements are paid once per batch instead of once per event.
        """
        with self._db.session() as db_session:
            events = inbox_service.lock_claimed(db_session=db_session, inbox_event_ids=[c.id for c in claimed])
            views = [e.event for e in events.values()]
            citizen_service.touch(
                db_session=db_session,
                line_user_ids=[
                    v.user_id or "" for v in views if v.is_one_to_one and not v.is_standby and v.type != "unfollow"
                ],
            )
            chat_ids = [e.chat_id for e in events.values() if e.chat_id]
            conversation_service.preload(db_session=db_session, chat_ids=chat_ids)
            if self._settings.transcript_messages:
                transcript.preload(db_session=db_session, chat_ids=chat_ids)
            answers: list[Answer] = []
            done: list[int] = []
            left: list[Claim] = []
            for handled, claim in enumerate(claimed):
                if handled >= MIN_EVENTS_PER_TRANSACTION and self._db.urgent_write_waiting:
                    left = claimed[handled:]
                    break
                inbox_event = events.get(claim.id)
                if inbox_event is None:
                    continue
                if claim.attempts > self._settings.inbox_max_attempts:
                    self._give_up(db_session, inbox_event)
                    continue
                if claim.id in failures:
                    self._fail(db_session, claim.id, failures[claim.id])
                    continue
                try:
                    with db_session.begin_nested():
                        answer = self._handle(db_session, inbox_event, profiles.get(claim.user_id or ""))
                except Exception as exc:
                    # Described without the statement's values: dead letters and logs carry no names.
                    error = errors.describe_with_stack(exc)
                    log.error("inbox event %s failed: %s", claim.id, error)
                    self._fail(db_session, claim.id, error)
                    continue
                done.append(claim.id)
                if answer is not None:
                    answers.append(answer)
            outgoing = outbox_service.enqueue_answers(
                db_session=db_session, answers=answers, lease_seconds=self._settings.outbox_lease_seconds
            )
            inbox_service.mark_done(db_session=db_session, inbox_event_ids=done)
        if left:
            # Their rows were locked for this transaction; the next one locks them again.
            log.debug("stepping aside for the webhook after %d events", len(claimed) - len(left))
        return outgoing, left

    def _handle(self, db_session: Session, inbox_event: InboxEvent, profile: CitizenProfile | None) -> Answer | None:
        """Dispatch; answers what to queue (None: nothing to say)."""
        event = inbox_event.event
        if event.is_standby:
            # Another channel is active for this chat: record, never answer.
            return None
        turn = Turn(
            db_session=db_session,
            event=event,
            settings=self._settings,
            capabilities=self._capabilities,
            profile=profile,
        )
        dispatch(turn)
        messages = to_json(turn.replies) if turn.replies else []
        if event.chat_id and event.is_one_to_one:
            # The last few messages, for staff who may take the conversation over (bot/transcript.py).
            transcript.record(
                db_session=db_session,
                settings=self._settings,
                chat_id=event.chat_id,
                incoming=transcript.describe_event(event),
                replies=messages,
            )
        if not (messages and event.chat_id):
            return None
        deadline = self._reply_deadline(inbox_event)
        reply_token = event.reply_token if clock.now() < deadline else None  # too late to begin a reply: push
        return Answer(
            inbox_event_id=inbox_event.id,
            reply_token=reply_token,
            reply_deadline=deadline if reply_token else None,
            to=event.chat_id,
            messages=messages,
        )

    def _reply_deadline(self, inbox_event: InboxEvent) -> datetime:
        """The last moment to begin a reply: the token must still be surely valid (for
        REPLY_TOKEN_MAX_AGE_SECONDS after arrival, 20 minutes after the event) when a process that
        takes the answer over, one outbox lease later, asks LINE whether it was used (bot.delivery)."""
        by_arrival = inbox_event.received_at + timedelta(seconds=self._settings.reply_token_max_age_seconds)
        by_event = inbox_event.event_time + REPLY_TOKEN_EVENT_LIFE
        takeover = timedelta(seconds=self._settings.outbox_lease_seconds) + REPLY_TAKEOVER_MARGIN
        return min(by_arrival, by_event) - takeover

    def _give_up(self, db_session: Session, inbox_event: InboxEvent) -> None:
        """An event claimed again after its last allowed try never finished (the process handling
        it died, or a failure outside its handler left it leased): a dead letter, not another try."""
        limit = self._settings.inbox_max_attempts
        inbox_event.attempts = limit  # this claim found it over the limit: it was not a try
        error = f"gave up after {limit} tries: the last ended without an outcome (its process stopped or hung)"
        if inbox_event.last_error:
            error += f"; the error before: {inbox_event.last_error}"
        log.error("inbox event %s: %s", inbox_event.id, error)
        self._fail(db_session, inbox_event.id, error)

    def _fail(self, db_session: Session, event_id: int, error: str) -> None:
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
