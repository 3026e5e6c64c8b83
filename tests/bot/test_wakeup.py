"""A new event is taken at once, not at the next poll: the web process wakes its own processor,
and on PostgreSQL a separate worker is woken by NOTIFY. The poll interval here is 30 s, so a
quick answer can only come from the wake-up."""

from __future__ import annotations

import time
import uuid

import pytest

from bot.catalog import t
from tests.support import LiveApp, live_app, post_webhook, texts, wait_until, worker_process

LONG_POLL = 30.0


def answered_quickly(app: LiveApp) -> float:
    """Sends a greeting once everything is idle; answers how long the reply took."""
    user = "U" + uuid.uuid4().hex
    app.sandbox.add_user(user, "テスト 利用者")
    started = time.monotonic()
    assert post_webhook(app, [app.sandbox.make_event("text", user, text="こんにちは")]).status_code == 200
    deliveries = wait_until(lambda: app.sandbox.deliveries(to=user), timeout=10, what="the answer")
    assert texts(deliveries) == [t("welcome.greet")]
    return time.monotonic() - started


def test_the_processor_in_the_web_process_is_woken_by_the_webhook(database_url: str) -> None:
    with live_app(database_url, worker_poll_seconds=LONG_POLL) as app:
        answered_quickly(app)  # the first one may meet the processor's start-up drain
        time.sleep(1.5)  # now it sleeps until the next poll, 30 s away
        assert answered_quickly(app) < 5


def test_a_separate_worker_is_woken_by_the_database_on_postgresql(database_url: str) -> None:
    with live_app(database_url, process_inbox_in_web=False, worker_poll_seconds=LONG_POLL) as app:
        if app.db.dialect == "sqlite":
            pytest.skip("SQLite runs as one process (`madoguchi worker` refuses it): no worker to wake")
        with worker_process(app.settings):
            answered_quickly(app)
            time.sleep(1.5)
            assert answered_quickly(app) < 5
            # A lost listening connection is reopened, and events are still taken at once.
            with app.db.engine.connect() as conn:
                conn.exec_driver_sql(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                    " WHERE query LIKE 'LISTEN%%' AND datname = current_database()"
                )
            time.sleep(2.5)
            assert answered_quickly(app) < 5
