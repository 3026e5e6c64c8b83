"""The send engine against the LINE sandbox, on SQLite and PostgreSQL: the plan, faults (random 429s and
500s, a connection cut after LINE accepted, a 4xx, the monthly quota), cancelling, and the rate cap
shared by two senders. The sandbox's records are the truth: each recipient exactly once."""

from __future__ import annotations

import asyncio
import random
import threading
import time
from collections import Counter
from datetime import timedelta

import pytest
from sqlalchemy import select

from bot import clock
from bot.citizens import Citizen, CitizenStatus
from bot.db import Database
from bot.line_client import LineClient
from notifications import engine, rate
from notifications.models import ChunkStatus, RateBucket, SendChunk, SendJob, SendRecipient
from notifications.rate import Refill
from notifications.scheduler import purge_message_log_now
from notifications.sender import MAX_BACKOFF_SECONDS, BroadcastSender, backoff_seconds
from tests.notifications.support import (
    MESSAGES,
    add_citizens,
    counts,
    engine_settings,
    line,
    multicast_recipients,
    plan,
    send_until_over,
    user_ids,
)

pytestmark = pytest.mark.anyio


@pytest.fixture
def db(database_url: str):  # type: ignore[no-untyped-def]
    database = Database(database_url)
    yield database
    database.dispose()


def chunks(db: Database, job_id: int) -> list[SendChunk]:
    with db.session() as db_session:
        return list(db_session.scalars(select(SendChunk).where(SendChunk.job_id == job_id).order_by(SendChunk.seq)))


# --- planning -----------------------------------------------------------------------------------------
async def test_a_plan_is_whole_before_anything_is_sent(db: Database) -> None:
    following, blocked = user_ids(23), user_ids(4)
    add_citizens(db, following)
    add_citizens(db, blocked, status=CitizenStatus.BLOCKED)
    audience = select(Citizen.line_user_id).order_by(Citizen.id)
    job_id = plan(db, audience, chunk_size=10, aggregation_unit="bousai_2026")

    planned = chunks(db, job_id)
    assert [c.size for c in planned] == [10, 10, 3]
    assert len({c.retry_key for c in planned}) == 3  # each chunk's key, stored before the first try
    assert all(c.status == ChunkStatus.PENDING and c.attempts == 0 for c in planned)
    now = counts(db, job_id)
    assert (now.total, now.sent, now.skipped, now.remaining, now.status) == (27, 0, 4, 23, "sending")
    with db.session() as db_session:
        skipped = engine.recipients(db_session, job_id, status="skipped")
        pending = engine.recipients(db_session, job_id, status="pending", limit=1000)
    assert {r.line_user_id for r in skipped} == set(blocked)
    assert {r.error for r in skipped} == {engine.BLOCKED}
    assert sorted(r.line_user_id for r in pending) == sorted(following)


async def test_a_list_counts_each_person_once(db: Database) -> None:
    people = user_ids(5)
    job_id = plan(db, [*people, people[0], people[3], ""], chunk_size=2)
    assert counts(db, job_id).total == 5
    assert sum(c.size for c in chunks(db, job_id)) == 5


async def test_nobody_to_send_to_is_done_at_once(db: Database) -> None:
    blocked = user_ids(2)
    add_citizens(db, blocked, status=CitizenStatus.BLOCKED)
    job_id = plan(db, blocked)
    now = counts(db, job_id)
    assert (now.status, now.total, now.skipped, now.remaining) == ("done", 2, 2, 0)


async def test_a_plan_refuses_what_line_would() -> None:
    with pytest.raises(ValueError):
        engine.start(None, owner="x", messages=MESSAGES, recipients=[], chunk_size=501)  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        engine.start(None, owner="x", messages=MESSAGES * 6, recipients=[])  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        engine.start(None, owner="x", messages=MESSAGES, recipients=[], aggregation_unit="防災")  # type: ignore[arg-type]


# --- faults -------------------------------------------------------------------------------------------
async def test_random_429s_and_500s_lose_nobody_and_send_nobody_twice(database_url: str, db: Database) -> None:
    people = user_ids(1200)
    blocked = people[::100]
    add_citizens(db, people[1::100])
    add_citizens(db, blocked, status=CitizenStatus.BLOCKED)
    job_id = plan(db, people, chunk_size=12, aggregation_unit="faults")
    with line() as sandbox:
        sandbox.platform.inject_random_faults("multicast", {429: 0.10, 500: 0.01}, seed=7)
        sandbox.platform.drop_after_accepting("multicast", count=3)  # accepted, but the answer is lost
        settings = engine_settings(database_url, sandbox, broadcast_concurrency=6)
        result = await send_until_over(settings, job_id, timeout=120)
        delivered = multicast_recipients(sandbox.platform)

    expected = set(people) - set(blocked)
    assert set(delivered) == expected, "someone was lost (or a blocked citizen was sent to)"
    assert max(delivered.values()) == 1, f"sent twice: {[u for u, n in delivered.items() if n > 1][:5]}"
    assert (result.status, result.total, result.sent, result.failed, result.skipped, result.remaining) == (
        "done",
        1200,
        len(expected),
        0,
        len(blocked),
        0,
    )
    tries = Counter(c.attempts for c in chunks(db, job_id))
    assert sum(n for attempts, n in tries.items() if attempts > 1) >= 5, f"the faults never struck: {tries}"
    with db.session() as db_session:
        job = db_session.get(SendJob, job_id)
        assert job is not None and job.messages == []  # over: the bodies are not kept
        outcomes = engine.recipients(db_session, job_id, limit=2000)
    assert Counter(o.status for o in outcomes) == {"sent": len(expected), "skipped": len(blocked)}


async def test_a_connection_cut_after_line_accepted_is_retried_with_its_key_and_delivered_once(
    database_url: str, db: Database
) -> None:
    people = user_ids(30)
    job_id = plan(db, people, chunk_size=10)
    with line() as sandbox:
        sandbox.platform.drop_after_accepting("multicast", count=2)
        result = await send_until_over(engine_settings(database_url, sandbox), job_id)
        deliveries = sandbox.platform.deliveries(endpoint="multicast")

    assert result.sent == 30 and result.status == "done"
    assert Counter(u for d in deliveries for u in d.to) == Counter(people)  # once each
    planned = chunks(db, job_id)
    assert sorted(c.attempts for c in planned) == [1, 2, 2]  # two were cut, then answered 409
    assert {d.retry_key for d in deliveries} == {c.retry_key for c in planned}


async def test_another_4xx_fails_its_chunk_with_the_reason(database_url: str, db: Database) -> None:
    people = user_ids(20)
    job_id = plan(db, people, chunk_size=10)
    with line() as sandbox:
        reason = {"message": "The request body has 1 error(s)", "details": [{"message": "x", "property": "to"}]}
        sandbox.platform.inject_fault("multicast", 400, count=1, body=reason)
        settings = engine_settings(database_url, sandbox, broadcast_concurrency=1)
        result = await send_until_over(settings, job_id)
        delivered = multicast_recipients(sandbox.platform)

    assert (result.status, result.sent, result.failed, result.remaining) == ("done", 10, 10, 0)
    assert set(delivered) == set(people[10:])  # the first chunk was refused, never tried again
    first, second = chunks(db, job_id)
    assert (first.status, first.attempts, second.status) == (ChunkStatus.FAILED, 1, ChunkStatus.SENT)
    with db.session() as db_session:
        failed = engine.recipients(db_session, job_id, status="failed")
    assert [f.line_user_id for f in failed] == people[:10]
    assert all("The request body has 1 error(s)" in (f.error or "") for f in failed)


async def test_the_monthly_quota_is_final(database_url: str, db: Database) -> None:
    job_id = plan(db, user_ids(30), chunk_size=10)
    with line() as sandbox:
        sandbox.platform.set_quota(15)
        settings = engine_settings(database_url, sandbox, broadcast_concurrency=1)
        result = await send_until_over(settings, job_id)
    assert (result.sent, result.failed) == (10, 20)
    assert all(c.attempts == 1 for c in chunks(db, job_id))
    with db.session() as db_session:
        failed = engine.recipients(db_session, job_id, status="failed", limit=100)
    assert "monthly limit" in (failed[0].error or "")


# --- cancelling ---------------------------------------------------------------------------------------
async def test_cancel_stops_what_has_not_gone(database_url: str, db: Database) -> None:
    people = user_ids(50)
    job_id = plan(db, people, chunk_size=10)
    with db.session() as db_session:
        engine.cancel(db_session, job_id)
    with line() as sandbox:
        result = await send_until_over(engine_settings(database_url, sandbox), job_id, timeout=1)
        assert sandbox.platform.deliveries(endpoint="multicast") == []
    assert (result.status, result.sent, result.skipped, result.remaining) == ("cancelled", 0, 50, 0)
    with db.session() as db_session:
        assert {r.status for r in engine.recipients(db_session, job_id, limit=100)} == {"cancelled"}
        engine.cancel(db_session, job_id)  # again: nothing changes


async def test_cancel_lets_a_chunk_already_tried_finish(database_url: str, db: Database) -> None:
    people = user_ids(20)
    job_id = plan(db, people, chunk_size=10)
    with line() as sandbox:
        settings = engine_settings(database_url, sandbox, broadcast_concurrency=1)
        sandbox.platform.inject_fault("multicast", 500)  # the first try: did LINE get it? Only its key knows
        client = LineClient(settings)
        try:
            assert await BroadcastSender(db, settings, client).send_due() == 1
        finally:
            await client.close()
        with db.session() as db_session:
            engine.cancel(db_session, job_id)
        result = await send_until_over(settings, job_id)
        delivered = multicast_recipients(sandbox.platform)
    assert set(delivered) == set(people[:10])
    assert (result.status, result.sent, result.skipped, result.remaining) == ("cancelled", 10, 10, 0)


async def test_cancel_midway_keeps_what_went(database_url: str, db: Database) -> None:
    people = user_ids(40)
    job_id = plan(db, people, chunk_size=10)
    with line() as sandbox:
        # A cap of one chunk a second: the first goes at once, the next a second later; cancel between.
        settings = engine_settings(database_url, sandbox, broadcast_concurrency=1, broadcast_rate_per_second=1)
        sending = asyncio.create_task(send_until_over(settings, job_id, timeout=5))
        await sandbox.platform.wait_for_deliveries(people[0], timeout=10)
        with db.session() as db_session:
            engine.cancel(db_session, job_id)
        result = await sending
        delivered = multicast_recipients(sandbox.platform)
    assert result.status == "cancelled" and result.remaining == 0
    assert result.sent == len(delivered) and result.sent + result.skipped == 40
    assert 10 <= result.sent <= 30


# --- the rate cap -------------------------------------------------------------------------------------
def test_the_bucket_refills_at_its_rate_up_to_one_seconds_worth() -> None:
    start = clock.now()
    empty = Refill(rate=10, tokens=0, at=start)
    assert empty.at_time(start + timedelta(milliseconds=250)).tokens == pytest.approx(2.5)
    assert empty.at_time(start + timedelta(seconds=5)).tokens == 10  # capacity: one second's worth
    assert empty.at_time(start - timedelta(seconds=5)).tokens == 0  # a clock going back takes nothing
    assert empty.seconds_until(1) == pytest.approx(0.1)
    assert Refill(rate=0.5, tokens=0, at=start).capacity == 1


async def test_the_rate_cap_holds_across_two_senders(database_url: str, db: Database) -> None:
    rate = 20
    job_id = plan(db, user_ids(70), chunk_size=1)
    with line() as sandbox:
        settings = engine_settings(database_url, sandbox, broadcast_rate_per_second=rate, broadcast_concurrency=8)
        result = await send_until_over(settings, job_id, senders=2, timeout=60)
        times = sorted(d.at for d in sandbox.platform.deliveries(endpoint="multicast"))
    assert result.sent == 70 and len(times) == 70
    # One second's burst, then the rate: 70 requests take at least (70 - 20) / 20 = 2.5 s; allow jitter.
    assert times[-1] - times[0] >= 2.0, f"the cap did not hold: 70 requests in {times[-1] - times[0]:.2f}s"
    # The bucket lets at most a burst and a second's worth (2 * rate) be claimed in any one second. The
    # sandbox stamps a request when it handles it, so requests claimed just before a window but held up
    # on the way (at most every slot in flight: 2 senders * 8) can land in it too; no more can.
    in_transit = 2 * 8
    for index, moment in enumerate(times):
        within = sum(1 for t in times[index:] if t < moment + 1.0)
        assert within <= 2 * rate + in_transit, f"{within} requests within a second"


async def test_a_bucket_written_while_a_sender_waited_is_not_turned_back(db: Database) -> None:
    """A sender that waited for the bucket's lock reads the time after it: the row another process wrote
    meanwhile is never set back to an older time (the next reader would be paid for the wait twice)."""
    with db.session() as db_session:
        rate.spend(db_session, rate=10, want=1, use=lambda n: n)
    holding, written = threading.Event(), []

    def hold_the_lock_then_write() -> None:
        with db.session() as db_session:
            row = db_session.scalars(select(RateBucket).with_for_update()).one()
            row.tokens = 0.0  # lock the row (SQLite: take the write lock) before the other sender asks
            db_session.flush()
            holding.set()
            time.sleep(0.4)
            row.updated_at = clock.now()
            written.append(row.updated_at)

    holder = threading.Thread(target=hold_the_lock_then_write)
    holder.start()
    holding.wait(5)
    with db.session() as db_session:
        rate.spend(db_session, rate=10, want=1, use=lambda n: n)
    holder.join()
    with db.session() as db_session:
        after = db_session.scalars(select(RateBucket)).one().updated_at
    assert after >= written[0]


def test_backoff_grows_with_jitter() -> None:
    rand = random.Random(1)
    waits = [backoff_seconds(n, 1.0, rand) for n in range(1, 12)]
    assert all(2 ** (n - 1) / 2 <= w <= 2 ** (n - 1) for n, w in zip(range(1, 7), waits, strict=False))
    assert max(waits) <= MAX_BACKOFF_SECONDS
    assert len({round(backoff_seconds(3, 1.0), 6) for _ in range(10)}) > 1  # jitter: not all the same


# --- retention ----------------------------------------------------------------------------------------
async def test_finished_jobs_go_with_the_message_log(database_url: str, db: Database) -> None:

    people = user_ids(12)
    job_id = plan(db, people, chunk_size=5)
    unfinished = plan(db, user_ids(3))
    with line() as sandbox:
        settings = engine_settings(database_url, sandbox)
        result = await send_until_over(settings, job_id)
        assert result.rate_per_second and result.eta_seconds == 0.0
    with db.session() as db_session:
        engine.cancel(db_session, unfinished)  # cancelled: finished too

    clock.travel_to(clock.now() + timedelta(days=settings.message_log_retention_days - 1))
    purge_message_log_now(db, settings)
    assert counts(db, job_id).sent == 12  # not yet
    clock.travel_to(clock.now() + timedelta(days=2))
    purge_message_log_now(db, settings)
    with db.session() as db_session, pytest.raises(engine.JobNotFound):
        engine.counts(db_session, job_id)
    with db.session() as db_session:
        assert db_session.scalars(select(SendRecipient)).all() == []
        assert db_session.scalars(select(SendChunk)).all() == []
