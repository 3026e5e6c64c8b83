"""The inbox's rules on the real databases: dedupe, per-chat order, leases, concurrent claimers."""

from __future__ import annotations

import threading
import uuid
from datetime import timedelta

from bot import clock
from bot import inbox as inbox_service
from bot.db import Database
from bot.inbox import InboxStatus


def text_event(user: str, text: str, event_id: str | None = None) -> dict:
    return {
        "type": "message",
        "mode": "active",
        "timestamp": 1_700_000_000_000,
        "webhookEventId": event_id or uuid.uuid4().hex[:26].upper(),
        "deliveryContext": {"isRedelivery": False},
        "source": {"type": "user", "userId": user},
        "replyToken": uuid.uuid4().hex,
        "message": {"type": "text", "id": "1", "quoteToken": "q", "text": text},
    }


def test_store_ignores_events_it_has_seen(database_url: str) -> None:
    db = Database(database_url)
    event = text_event("U1", "a")
    with db.session() as s:
        assert inbox_service.store(db_session=s, raw_events=[event, event]) == 1
    with db.session() as s:
        assert inbox_service.store(db_session=s, raw_events=[event, text_event("U1", "b")]) == 1
        assert inbox_service.count_by_status(db_session=s)["pending"] == 2
    db.dispose()


def test_an_event_without_an_id_is_keyed_by_its_content(database_url: str) -> None:
    db = Database(database_url)
    event = text_event("U1", "a")
    del event["webhookEventId"]
    with db.session() as s:
        assert inbox_service.store(db_session=s, raw_events=[event]) == 1
        assert inbox_service.store(db_session=s, raw_events=[dict(event)]) == 0
    db.dispose()


def claimed_texts(db: Database, claims: list[inbox_service.Claim]) -> list[tuple[str | None, str]]:
    with db.session() as s:
        events = [inbox_service.get(db_session=s, inbox_event_id=c.id) for c in claims]
        return [(e.user_id, e.payload["message"]["text"]) for e in events if e is not None]


def test_one_chat_is_claimed_in_order_while_other_chats_go_in_parallel(database_url: str) -> None:
    db = Database(database_url)
    with db.session() as s:
        inbox_service.store(
            db_session=s, raw_events=[text_event("UA", "1"), text_event("UA", "2"), text_event("UB", "1")]
        )
    with db.session() as s:
        first = inbox_service.claim_batch(db_session=s, limit=10, lease_seconds=60)
    assert sorted(claimed_texts(db, first)) == [("UA", "1"), ("UB", "1")]
    with db.session() as s:
        # UA's second event waits while its first is being processed.
        assert inbox_service.claim_batch(db_session=s, limit=10, lease_seconds=60) == []
        locked = inbox_service.lock_claimed(db_session=s, inbox_event_ids=[e.id for e in first])
        assert sorted(locked) == sorted(e.id for e in first)
        inbox_service.mark_done(db_session=s, inbox_event_ids=list(locked))
        # Once done, an event is no longer anyone's to process.
        assert inbox_service.lock_claimed(db_session=s, inbox_event_ids=[e.id for e in first]) == {}
    with db.session() as s:
        second = inbox_service.claim_batch(db_session=s, limit=10, lease_seconds=60)
    assert claimed_texts(db, second) == [("UA", "2")]
    db.dispose()


def test_a_lease_that_runs_out_makes_the_event_claimable_again(database_url: str) -> None:
    db = Database(database_url)
    with db.session() as s:
        inbox_service.store(db_session=s, raw_events=[text_event("UA", "1")])
        assert len(inbox_service.claim_batch(db_session=s, limit=10, lease_seconds=30)) == 1
    with db.session() as s:
        assert inbox_service.claim_batch(db_session=s, limit=10, lease_seconds=30) == []
    clock.travel_to(clock.now() + timedelta(seconds=31))
    with db.session() as s:
        again = inbox_service.claim_batch(db_session=s, limit=10, lease_seconds=30)
    with db.session() as s:
        assert len(again) == 1
        event = inbox_service.get(db_session=s, inbox_event_id=again[0].id)
        assert event is not None and event.attempts == 2
    db.dispose()


def test_failures_back_off_then_become_dead_letters(database_url: str) -> None:
    db = Database(database_url)
    with db.session() as s:
        inbox_service.store(db_session=s, raw_events=[text_event("UA", "1")])
    for attempt in range(1, 4):
        with db.session() as s:
            claimed = inbox_service.claim_batch(db_session=s, limit=10, lease_seconds=30)
            assert len(claimed) == 1
        with db.session() as s:
            event = inbox_service.mark_failed(
                db_session=s, inbox_event_id=claimed[0].id, error=f"boom {attempt}", max_attempts=3
            )
            assert event is not None
            expected = InboxStatus.DEAD if attempt == 3 else InboxStatus.PENDING
            assert event.status == expected
        with db.session() as s:
            # Not due again until the backoff has passed.
            assert inbox_service.claim_batch(db_session=s, limit=10, lease_seconds=30) == []
        clock.travel_to(clock.now() + timedelta(minutes=15))
    with db.session() as s:
        dead = inbox_service.get_all_dead(db_session=s)
        assert [d.last_error for d in dead] == ["boom 3"]
    db.dispose()


def test_concurrent_claimers_never_take_the_same_event(database_url: str) -> None:
    db = Database(database_url)
    with db.session() as s:
        inbox_service.store(db_session=s, raw_events=[text_event(f"U{i}", "x") for i in range(300)])
    taken: list[int] = []
    lock = threading.Lock()

    def claimer() -> None:
        while True:
            with db.session() as s:
                events = inbox_service.claim_batch(db_session=s, limit=7, lease_seconds=60)
            if not events:
                return
            with lock:
                taken.extend(e.id for e in events)

    threads = [threading.Thread(target=claimer) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(taken) == 300 and len(set(taken)) == 300
    db.dispose()


def test_retention_deletes_old_finished_events_and_messages_but_nothing_waiting(database_url: str) -> None:
    from bot import outbox as outbox_service
    from bot.settings import load_settings
    from notifications.scheduler import purge_message_log_now

    db = Database(database_url)
    settings = load_settings(database_url=database_url, message_log_retention_days=14)
    with db.session() as s:
        inbox_service.store(db_session=s, raw_events=[text_event("UA", "山田太郎です"), text_event("UB", "x")])
        old, _still_processing = inbox_service.claim_batch(db_session=s, limit=10, lease_seconds=60)
        inbox_service.mark_done(db_session=s, inbox_event_ids=[old.id])
        outbox_service.enqueue_push(db_session=s, to="UA", messages=[{"type": "text", "text": "a"}], purpose="t")
    clock.travel_to(clock.now() + timedelta(days=15))
    with db.session() as s:
        inbox_service.store(db_session=s, raw_events=[text_event("UC", "new")])
    assert purge_message_log_now(db, settings) == (1, 0)  # the pending push is still to be sent
    with db.session() as s:
        left = {e.user_id: e.status for e in s.query(inbox_service.InboxEvent)}
        assert left == {"UB": InboxStatus.PROCESSING, "UC": InboxStatus.PENDING}
        assert outbox_service.count_by_status(db_session=s)["pending"] == 1
    db.dispose()
