"""Nothing is lost and nothing is sent twice: crashes, retries, LINE refusing, several processes."""

from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import update

from bot import clock
from bot import inbox as inbox_service
from bot import outbox as outbox_service
from bot.catalog import t
from bot.delivery import Delivery
from bot.inbox import InboxEvent, InboxStatus
from bot.line_client import LineClient
from bot.outbox import Answer, OutboxKind, OutboxMessage, OutboxStatus, Outgoing
from tests.support import LiveApp, inbox_statuses, live_app, post_webhook, settled, texts, wait_until, worker_process


def new_user(app: LiveApp) -> str:
    user_id = "U" + uuid.uuid4().hex
    app.sandbox.add_user(user_id, "テスト 利用者")
    return user_id


def outbox_rows(app: LiveApp) -> list[OutboxMessage]:
    with app.db.session() as db_session:
        return list(db_session.query(OutboxMessage).order_by(OutboxMessage.id))


def attempts_finished(app: LiveApp) -> int:
    """How many tries of the only inbox event have ended (0 while one is under way)."""
    with app.db.session() as db_session:
        event = db_session.query(inbox_service.InboxEvent).one()
        return 0 if event.status == InboxStatus.PROCESSING else event.attempts


def test_events_stored_before_a_crash_are_answered_after_restart(database_url: str) -> None:
    with live_app(database_url, process_inbox_in_web=False) as first:
        user = new_user(first)
        events = [first.sandbox.make_event("text", user, text="こんにちは")]
        assert post_webhook(first, events).status_code == 200
        assert inbox_statuses(first)["pending"] == 1
    # The process died before processing; the next one picks the event up.
    with live_app(database_url) as second:
        second.sandbox.add_user(user, "テスト 利用者")
        deliveries = wait_until(lambda: second.sandbox.deliveries(to=user), what="late answer")
        # The old reply token means nothing to the new platform: answered by push instead.
        assert [d.endpoint for d in deliveries] == ["push"]
        assert texts(deliveries) == [t("welcome.greet")]
        assert inbox_statuses(second)["done"] == 1


def test_an_event_leased_by_a_killed_process_is_processed_when_the_lease_runs_out(app: LiveApp) -> None:
    user = new_user(app)
    event = app.sandbox.make_event("text", user, text="ありがとう")
    # A "dead" process: stores and claims the event, then never finishes it.
    with app.db.session() as db_session:
        inbox_service.store(db_session=db_session, raw_events=[event])
        claimed = inbox_service.claim_batch(db_session=db_session, limit=10, lease_seconds=60)
        assert len(claimed) == 1
    app.app.state.processor.wake()
    # Another citizen writes after that: once their answer is sent, the live processor has run since
    # the lease was taken, and has left the leased event alone (nothing queued for it, nothing sent).
    other = new_user(app)
    assert post_webhook(app, [app.sandbox.make_event("text", other, text="こんにちは")]).status_code == 200
    wait_until(lambda: [r.status for r in outbox_rows(app)] == [OutboxStatus.SENT], what="the other answered")
    assert inbox_statuses(app)["processing"] == 1
    assert [r.to for r in outbox_rows(app)] == [other]
    assert app.sandbox.deliveries(to=user) == []
    clock.travel_to(clock.now() + timedelta(seconds=61))
    app.app.state.processor.wake()
    deliveries = wait_until(lambda: app.sandbox.deliveries(to=user), what="answer after lease")
    assert texts(deliveries) == [t("welcome.thanks")]
    assert inbox_statuses(app)["done"] == 2


def test_a_failing_handler_is_retried_and_then_succeeds(app: LiveApp, monkeypatch: pytest.MonkeyPatch) -> None:
    import bot.processor

    real_dispatch = bot.processor.dispatch
    failures = {"left": 1}

    def flaky(turn):  # type: ignore[no-untyped-def]
        if failures["left"]:
            failures["left"] -= 1
            raise RuntimeError("database hiccup")
        return real_dispatch(turn)

    monkeypatch.setattr(bot.processor, "dispatch", flaky)
    user = new_user(app)
    post_webhook(app, [app.sandbox.make_event("text", user, text="こんにちは")])
    wait_until(lambda: inbox_statuses(app)["pending"] == 1 and failures["left"] == 0, what="first failure")
    deliveries = wait_until(lambda: app.sandbox.deliveries(to=user), timeout=15, what="retried answer")
    assert texts(deliveries) == [t("welcome.greet")]
    with app.db.session() as db_session:
        event = db_session.query(inbox_service.InboxEvent).one()
        assert event.status == InboxStatus.DONE and event.attempts == 2


def test_a_handler_that_keeps_failing_becomes_a_dead_letter_and_the_citizen_is_told(
    app: LiveApp, monkeypatch: pytest.MonkeyPatch
) -> None:
    import bot.processor

    def broken(turn):  # type: ignore[no-untyped-def]
        raise ValueError("flow bug")

    monkeypatch.setattr(bot.processor, "dispatch", broken)
    user = new_user(app)
    post_webhook(app, [app.sandbox.make_event("text", user, text="こんにちは")])
    for attempt in range(1, app.settings.inbox_max_attempts + 1):
        wait_until(lambda n=attempt: attempts_finished(app) == n, what=f"attempt {attempt} finished")
        clock.travel_to(clock.now() + timedelta(minutes=11))
        app.app.state.processor.wake()
    wait_until(lambda: inbox_statuses(app)["dead"] == 1, what="dead letter")
    with app.db.session() as db_session:
        dead = inbox_service.get_all_dead(db_session=db_session)
        assert "ValueError: flow bug" in (dead[0].last_error or "")
    apology = wait_until(lambda: app.sandbox.deliveries(to=user), what="apology")
    assert texts(apology) == [t("welcome.error")]
    # Staff retry puts it back in the queue: it is tried again (and, still broken, fails again).
    # (Checking for "pending" right after the retry raced the live processor, which may already
    # have claimed it.)
    with app.db.session() as db_session:
        assert inbox_service.retry_dead(db_session=db_session, inbox_event_id=dead[0].id) is not None
    app.app.state.processor.wake()
    wait_until(lambda: attempts_finished(app) == 1, what="the retried event tried again")
    assert inbox_statuses(app)["dead"] == 0


def test_line_answering_500_to_a_reply_is_retried_and_delivered_once(app: LiveApp) -> None:
    user = new_user(app)
    app.sandbox.inject_fault("reply", 500, count=1)
    post_webhook(app, [app.sandbox.make_event("text", user, text="こんにちは")])
    deliveries = wait_until(lambda: app.sandbox.deliveries(to=user), timeout=15, what="answer after 500")
    wait_until(lambda: settled(app))
    assert [d.endpoint for d in app.sandbox.deliveries(to=user)] == ["reply"]
    assert texts(deliveries) == [t("welcome.greet")]
    row = outbox_rows(app)[0]
    assert row.status == OutboxStatus.SENT and app.sandbox.deliveries(endpoint="reply") == deliveries


def test_an_invalid_reply_token_falls_back_to_push_and_429_is_waited_out(app: LiveApp) -> None:
    user = new_user(app)
    event = app.sandbox.make_event("text", user, text="こんにちは")
    event["replyToken"] = "0f3779fba3b349968c5d07db31eab56f"  # never issued: LINE says "Invalid reply token"
    app.sandbox.inject_fault("push", 429, count=2)
    post_webhook(app, [event])
    deliveries = wait_until(lambda: app.sandbox.deliveries(to=user), timeout=15, what="pushed answer")
    wait_until(lambda: settled(app))
    assert [d.endpoint for d in app.sandbox.deliveries(to=user)] == ["push"]
    assert texts(deliveries) == [t("welcome.greet")]
    assert deliveries[0].retry_key == outbox_rows(app)[0].retry_key


def test_the_monthly_limit_429_is_final_and_recorded(app: LiveApp) -> None:
    user = new_user(app)
    app.sandbox.inject_fault("push", 429, count=20, body={"message": "You have reached your monthly limit."})
    with app.db.session() as db_session:
        outbox_service.enqueue_push(
            db_session=db_session, to=user, messages=[{"type": "text", "text": "お知らせ"}], purpose="test"
        )
    app.app.state.processor.wake()
    wait_until(lambda: outbox_rows(app)[0].status == OutboxStatus.FAILED, what="failed push")
    assert "monthly limit" in (outbox_rows(app)[0].last_error or "")
    assert app.sandbox.deliveries(to=user) == []


def test_nothing_is_pushed_to_a_citizen_who_blocked_us(app: LiveApp) -> None:
    user = new_user(app)
    post_webhook(app, [app.sandbox.make_event("unfollow", user)])
    wait_until(lambda: inbox_statuses(app)["done"] == 1)
    with app.db.session() as db_session:
        outbox_service.enqueue_push(
            db_session=db_session, to=user, messages=[{"type": "text", "text": "お知らせ"}], purpose="test"
        )
    app.app.state.processor.wake()
    wait_until(lambda: outbox_rows(app)[0].status == OutboxStatus.SKIPPED, what="skipped push")
    assert app.sandbox.deliveries(to=user) == []


@pytest.mark.anyio
async def test_a_retried_push_with_the_same_retry_key_is_delivered_once(app: LiveApp) -> None:
    user = new_user(app)
    client = LineClient(app.settings)
    try:
        key = str(uuid.uuid4())
        first = await client.push(user, [{"type": "text", "text": "1回目"}], retry_key=key)
        second = await client.push(user, [{"type": "text", "text": "1回目"}], retry_key=key)
    finally:
        await client.close()
    assert first.status == 200 and not first.already_accepted
    assert second.already_accepted and second.request_id == first.request_id
    assert len(app.sandbox.deliveries(to=user)) == 1


def test_two_processes_share_the_inbox_and_answer_each_event_exactly_once(app: LiveApp) -> None:
    with worker_process(app.settings):
        users = [new_user(app) for _ in range(40)]
        words = ["こんにちは", "ありがとう", "ヘルプ"]
        for chunk in range(0, len(users), 10):
            events = [app.sandbox.make_event("text", u, text=w) for w in words for u in users[chunk : chunk + 10]]
            assert post_webhook(app, events).status_code == 200
        wait_until(lambda: settled(app) and inbox_statuses(app)["done"] == 120, timeout=60, what="all processed")
    expected = [t("welcome.greet"), t("welcome.thanks"), t("welcome.help")]
    for user in users:
        got = app.sandbox.deliveries(to=user)
        assert texts(got) == expected, [(d.endpoint, d.seq, texts([d])) for d in got] + [
            (r.id, r.kind, r.status, r.attempts, r.last_error) for r in outbox_rows(app) if r.to == user
        ]
    rows = outbox_rows(app)
    assert len(rows) == 120 and len({r.inbox_event_id for r in rows}) == 120


# --- a process dies, or stalls, while it sends an answer (another takes the answer over) --------------
ANSWER = [{"type": "text", "text": "お答えです"}]
NEVER_ISSUED = "0f3779fba3b349968c5d07db31eab56f"  # a reply token LINE refuses


class ProcessKilled(BaseException):
    """kill -9 at this point: nothing after it runs, nothing is recorded."""


def answer_being_sent(app: LiveApp, user: str, reply_token: str | None) -> Outgoing:
    """An answer as a process writes it when it handles an event: born claimed by that process."""
    answer = Answer(
        inbox_event_id=None,
        reply_token=reply_token,
        reply_deadline=clock.now() + timedelta(seconds=25) if reply_token else None,
        to=user,
        messages=ANSWER,
    )
    with app.db.session() as db_session:
        [item] = outbox_service.enqueue_answers(
            db_session=db_session, answers=[answer], lease_seconds=app.settings.outbox_lease_seconds
        )
    return item


def taken_over(app: LiveApp) -> OutboxMessage:
    """Once the lease of the process that wrote the answer has run out, the live processor takes
    the answer over and settles it; answers its row."""
    clock.travel_to(clock.now() + timedelta(seconds=app.settings.outbox_lease_seconds + 1))
    app.app.state.processor.wake()
    wait_until(lambda: settled(app), what="the answer taken over and settled")
    [row] = outbox_rows(app)
    return row


def as_a_process(app: LiveApp, work: Any) -> None:
    """Runs `work(client)` with a LINE client of its own, as another process would."""

    async def run() -> None:
        client = LineClient(app.settings, retry_delays=())
        try:
            await work(client)
        finally:
            await client.close()

    asyncio.run(run())


def test_the_outbox_lease_is_well_inside_the_reply_window(app: LiveApp) -> None:
    settings = app.settings
    assert settings.outbox_lease_seconds <= settings.reply_token_max_age_seconds / 2


def test_a_reply_line_accepted_from_a_process_that_then_died_is_not_sent_again(app: LiveApp) -> None:
    user = new_user(app)
    token = app.sandbox.make_event("text", user, text="こんにちは")["replyToken"]
    item = answer_being_sent(app, user, token)

    async def reply_then_die(client: LineClient) -> None:
        await client.reply(token, item.messages)  # LINE has it; the process dies before recording it

    as_a_process(app, reply_then_die)
    row = taken_over(app)
    # The taker-over asked LINE with the token: "Invalid reply token" means the earlier try used it.
    assert [d.endpoint for d in app.sandbox.deliveries(to=user)] == ["reply"]
    assert row.status == OutboxStatus.SENT and row.attempts == 2


def test_a_reply_a_process_died_before_sending_is_sent_by_the_one_that_takes_it_over(app: LiveApp) -> None:
    user = new_user(app)
    token = app.sandbox.make_event("text", user, text="こんにちは")["replyToken"]
    answer_being_sent(app, user, token)  # the process dies before it calls LINE
    row = taken_over(app)
    assert [d.endpoint for d in app.sandbox.deliveries(to=user)] == ["reply"]
    assert row.status == OutboxStatus.SENT


def test_an_answer_a_process_was_about_to_push_when_it_died_is_pushed(app: LiveApp) -> None:
    user = new_user(app)
    item = answer_being_sent(app, user, NEVER_ISSUED)

    class DiesBeforePushing(LineClient):
        async def push(self, *args: Any, **kwargs: Any) -> Any:
            raise ProcessKilled

    async def die_before_pushing(_client: LineClient) -> None:
        client = DiesBeforePushing(app.settings)
        try:
            with pytest.raises(ProcessKilled):
                await Delivery(app.db, app.settings, client).send([item])  # token refused: to be pushed
        finally:
            await client.close()

    as_a_process(app, die_before_pushing)
    assert outbox_rows(app)[0].kind == OutboxKind.PUSH  # the row said so before the first push
    row = taken_over(app)
    # Not "the token is used, so it was delivered": it was never sent, and is pushed now.
    assert [d.endpoint for d in app.sandbox.deliveries(to=user)] == ["push"]
    assert row.status == OutboxStatus.SENT and app.sandbox.deliveries(to=user)[0].retry_key == item.retry_key


def test_a_push_line_accepted_from_a_process_that_then_died_is_not_sent_again(app: LiveApp) -> None:
    user = new_user(app)
    item = answer_being_sent(app, user, None)

    async def push_then_die(client: LineClient) -> None:
        await client.push(user, item.messages, retry_key=item.retry_key)

    as_a_process(app, push_then_die)
    row = taken_over(app)
    # Pushed again with the row's retry key: LINE answers 409, and that is delivered.
    assert len(app.sandbox.deliveries(to=user)) == 1
    assert row.status == OutboxStatus.SENT and row.request_id == app.sandbox.deliveries(to=user)[0].request_id


def test_a_stalled_process_whose_answer_was_taken_over_does_not_push_it_too(app: LiveApp) -> None:
    user = new_user(app)
    token = app.sandbox.make_event("text", user, text="こんにちは")["replyToken"]
    item = answer_being_sent(app, user, token)
    row = taken_over(app)  # the first process stalled past its lease; the answer went out meanwhile

    async def wake_up_and_send(client: LineClient) -> None:
        # Its token refused ("used": by the taker-over), it would push, but the row is not its own.
        await Delivery(app.db, app.settings, client).send([item])

    as_a_process(app, wake_up_and_send)
    assert [d.endpoint for d in app.sandbox.deliveries(to=user)] == ["reply"]
    assert outbox_rows(app)[0].status == row.status == OutboxStatus.SENT


def test_an_answer_ready_too_late_for_a_takeover_to_ask_about_its_token_is_pushed(
    database_url: str,
) -> None:
    with live_app(database_url, process_inbox_in_web=False) as first:
        user = new_user(first)
        post_webhook(first, [first.sandbox.make_event("text", user, text="こんにちは")])
        with first.db.session() as db_session:
            # It arrived 30 s ago: the token lives 20 s more, less than an outbox lease and the margin.
            db_session.execute(update(InboxEvent).values(received_at=clock.now() - timedelta(seconds=30)))
        with worker_process(first.settings):
            deliveries = wait_until(lambda: first.sandbox.deliveries(to=user), what="the answer")
            wait_until(lambda: settled(first))
    assert [d.endpoint for d in deliveries] == ["push"]
    assert outbox_rows(first)[0].kind == OutboxKind.PUSH


# --- one event that cannot be prepared, or never finishes, holds up nobody else -------------------
def follow_events(app: LiveApp, count: int) -> tuple[list[str], list[dict[str, Any]]]:
    users = [new_user(app) for _ in range(count)]
    return users, [app.sandbox.make_event("follow", user) for user in users]


def test_a_malformed_profile_from_line_stalls_no_one(app: LiveApp) -> None:
    users, events = follow_events(app, 11)
    app.sandbox.inject_fault("profile", 200, count=11, body={"unexpected": True})
    assert post_webhook(app, events).status_code == 200
    wait_until(lambda: settled(app), timeout=15, what="all eleven handled")
    for user in users:
        assert texts(app.sandbox.deliveries(to=user)) == [t("welcome.follow", name="")]
    with app.db.session() as db_session:
        rows = db_session.query(InboxEvent).all()
        assert [(r.status, r.attempts) for r in rows] == [(InboxStatus.DONE, 1)] * 11


def test_an_event_that_cannot_be_prepared_fails_alone_up_to_the_attempt_limit(
    app: LiveApp, monkeypatch: pytest.MonkeyPatch
) -> None:
    users, events = follow_events(app, 11)
    broken = users[4]
    real_profile = LineClient.get_profile

    async def profile(self: LineClient, user_id: str) -> Any:
        if user_id == broken:
            raise RuntimeError("profile parser bug")
        return await real_profile(self, user_id)

    monkeypatch.setattr(LineClient, "get_profile", profile)
    assert post_webhook(app, events).status_code == 200
    others = [u for u in users if u != broken]
    wait_until(lambda: all(app.sandbox.deliveries(to=u) for u in others), timeout=15, what="the others answered")
    limit = app.settings.inbox_max_attempts
    for attempt in range(1, limit + 1):
        wait_until(lambda n=attempt: attempts_of(app, broken) == n, what=f"attempt {attempt} finished")
        clock.travel_to(clock.now() + timedelta(minutes=11))
        app.app.state.processor.wake()
    wait_until(lambda: inbox_statuses(app)["dead"] == 1, what="dead letter")
    with app.db.session() as db_session:
        [dead] = inbox_service.get_all_dead(db_session=db_session)
        assert dead.user_id == broken and dead.attempts == limit
        assert "RuntimeError: profile parser bug" in (dead.last_error or "")
    assert app.sandbox.deliveries(to=broken) == []  # a follow gets no apology (only conversations do)
    assert inbox_statuses(app)["done"] == 10


def test_an_event_whose_tries_never_finish_becomes_a_dead_letter_at_the_limit(app: LiveApp) -> None:
    user = new_user(app)
    limit = app.settings.inbox_max_attempts
    with app.db.session() as db_session:
        # Every try so far died with its process (kill -9, out of memory): claimed, never finished.
        inbox_service.store(db_session=db_session, raw_events=[app.sandbox.make_event("text", user, text="こんにちは")])
        inbox_service.claim_batch(db_session=db_session, limit=10, lease_seconds=60)
        db_session.execute(update(InboxEvent).values(attempts=limit))
    clock.travel_to(clock.now() + timedelta(seconds=61))
    app.app.state.processor.wake()
    wait_until(lambda: inbox_statuses(app)["dead"] == 1, what="dead letter")
    with app.db.session() as db_session:
        [dead] = inbox_service.get_all_dead(db_session=db_session)
        assert dead.attempts == limit and "gave up after 5 tries" in (dead.last_error or "")
    # Not tried a sixth time: the citizen gets the apology, not the answer.
    apology = wait_until(lambda: app.sandbox.deliveries(to=user), what="apology")
    assert texts(apology) == [t("welcome.error")]


def attempts_of(app: LiveApp, user: str) -> int:
    """How many tries of the user's event have ended (0 while one is under way)."""
    with app.db.session() as db_session:
        event = db_session.query(InboxEvent).filter(InboxEvent.user_id == user).one()
        return 0 if event.status == InboxStatus.PROCESSING else event.attempts
