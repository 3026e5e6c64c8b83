"""Somebody drains the inbox, and /healthz says when nobody does: `serve --workers N` starts a dead
worker again; /healthz answers 503 with its reason when no live process drains the inbox (workers'
heartbeats are in the database, so it works across hosts) or when an event waits too long."""

from __future__ import annotations

import os
import re
import signal
import uuid
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from bot import clock, health
from bot.catalog import t
from tests.bot.processes import bot_env, healthz, kill, process_state, processes, query, sandbox, wait_for
from tests.support import LiveApp, free_port, live_app, post_webhook, texts

NOBODY = "no live process drains the inbox"
WAITED = "the oldest pending event has waited"


def health_of(app: LiveApp) -> tuple[int, dict[str, Any]]:
    response = httpx.get(f"{app.base_url}/healthz", timeout=10)
    return response.status_code, response.json()


def test_healthz_says_when_nobody_drains_the_inbox_or_events_wait_too_long(database_url: str) -> None:
    with live_app(
        database_url, process_inbox_in_web=False, worker_heartbeat_seconds=10, health_max_pending_age_seconds=2
    ) as app:
        assert health_of(app) == (
            503,
            {"status": "unhealthy", "database": "ok", "drainers": 0, "oldest_pending_seconds": 0.0, "reason": NOBODY},
        )
        # A worker on another host beats.
        with app.db.session() as db_session:
            health.beat(db_session=db_session, heartbeat_id="worker-host:42:ab", kind="worker", started_at=clock.now())
        assert health_of(app) == (200, {"status": "ok", "database": "ok", "drainers": 1, "oldest_pending_seconds": 0.0})
        # ...but takes nothing: the event waits, and after two seconds that is unhealthy too.
        user = "U" + uuid.uuid4().hex
        app.sandbox.add_user(user, "テスト 利用者")
        post_webhook(app, [app.sandbox.make_event("text", user, text="こんにちは")])
        clock.travel_to(clock.now() + timedelta(seconds=2.5))
        status, body = health_of(app)
        assert status == 503 and body["drainers"] == 1 and body["reason"].startswith(WAITED)
        # Three heartbeat intervals without a beat: that worker is gone too.
        clock.travel_to(clock.now() + timedelta(seconds=30))
        status, body = health_of(app)
        assert status == 503 and body["drainers"] == 0 and body["reason"].startswith(NOBODY + "; " + WAITED)


def test_healthz_follows_real_worker_processes(database_url: str, tmp_path: Path) -> None:
    if database_url.startswith("sqlite"):
        pytest.skip("SQLite runs as one process, which drains its inbox itself (see test_webhook's healthz test)")
    port = free_port()
    with sandbox(port) as line:
        env = bot_env(
            database_url,
            line,
            PROCESS_INBOX_IN_WEB="false",
            WORKER_HEARTBEAT_SECONDS="1",
            HEALTH_MAX_PENDING_AGE_SECONDS="4",
        )
        with processes(env, tmp_path / "logs") as running:
            running.start("serve", "--host", "127.0.0.1", "--port", str(port), "--workers", "0")
            status, body = wait_for(lambda: healthz(line.bot_url), timeout=90, what="the web process", running=running)
            assert (status, body["reason"]) == (503, NOBODY)

            worker = running.start("worker")
            wait_for(
                lambda: healthz(line.bot_url) == (200, ok(1)),
                timeout=90,
                what="the worker's heartbeat",
                running=running,
            )
            user = line.new_user()
            line.deliver([line.platform.make_event("text", user, text="こんにちは")])
            wait_for(lambda: line.platform.deliveries(to=user), timeout=30, what="the answer", running=running)

            kill(worker)
            status, body = wait_for(
                lambda: (h := healthz(line.bot_url)) and h[0] == 503 and h,
                timeout=20,
                what="503 after the kill",
                running=running,
            )
            assert body["reason"] == NOBODY, body
            line.deliver([line.platform.make_event("text", user, text="ありがとう")])  # taken, not processed
            status, body = wait_for(
                lambda: (h := healthz(line.bot_url)) and WAITED in h[1]["reason"] and h,
                timeout=20,
                what="a stall",
                running=running,
            )
            assert body["reason"].startswith(NOBODY + "; " + WAITED), body

            running.start("worker")
            answers = wait_for(
                lambda: len(line.platform.deliveries(to=user)) == 2, timeout=90, what="the late answer", running=running
            )
            assert answers and texts(line.platform.deliveries(to=user)) == [t("welcome.greet"), t("welcome.thanks")]
            wait_for(lambda: healthz(line.bot_url) == (200, ok(1)), timeout=20, what="healthy again", running=running)


def test_serve_starts_a_killed_worker_again(database_url: str, tmp_path: Path) -> None:
    if database_url.startswith("sqlite"):
        pytest.skip("SQLite runs as one process: `serve --workers` is refused")
    port = free_port()
    with sandbox(port) as line:
        env = bot_env(database_url, line, WORKER_HEARTBEAT_SECONDS="1")
        with processes(env, tmp_path / "logs") as running:
            serve = running.start("serve", "--host", "127.0.0.1", "--port", str(port), "--workers", "2")
            wait_for(
                lambda: healthz(line.bot_url) == (200, ok(2)), timeout=120, what="two workers beating", running=running
            )
            first = workers_of(database_url, serve.pid)
            assert len(first) == 2, first

            os.kill(first[0], signal.SIGKILL)
            # Reaped at once (no <defunct> left), and another started in its place.
            wait_for(
                lambda: process_state(first[0]) is None, timeout=10, what="the killed worker reaped", running=running
            )
            second = wait_for(
                lambda: len(w := workers_of(database_url, serve.pid)) == 2 and first[0] not in w and w,
                timeout=90,
                what="a new worker",
                running=running,
            )
            assert first[1] in second
            log = running.output(tail=None)
            assert re.search(
                rf"worker \d \(pid {first[0]}\) was killed by SIGKILL after \d+ s; starting another in 1 s", log
            ), running.output()

            # Both at once: both come back, and the citizen is answered.
            for pid in second:
                os.kill(pid, signal.SIGKILL)
            third = wait_for(
                lambda: len(w := workers_of(database_url, serve.pid)) == 2 and not set(w) & set(second) and w,
                timeout=90,
                what="two new workers",
                running=running,
            )
            assert all(process_state(pid) is None for pid in second), [process_state(p) for p in second]
            user = line.new_user()
            line.deliver([line.platform.make_event("text", user, text="こんにちは")])
            wait_for(lambda: line.platform.deliveries(to=user), timeout=60, what="the answer", running=running)
            assert healthz(line.bot_url) == (200, ok(2)), third


def ok(drainers: int) -> dict[str, Any]:
    return {"status": "ok", "database": "ok", "drainers": drainers, "oldest_pending_seconds": 0.0}


def workers_of(database_url: str, parent: int) -> list[int]:
    """The pids of the live workers `serve` (pid `parent`) started, by their fresh heartbeats."""
    rows = query(
        database_url,
        "SELECT pid FROM worker_heartbeats WHERE kind = 'worker' AND beat_at > now() - interval '3 seconds'",
    )
    pids = [row[0] for row in rows]
    return sorted(pid for pid in pids if _parent_of(pid) == parent)


def _parent_of(pid: int) -> int | None:
    try:
        return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])
    except (OSError, IndexError, ValueError):
        return None
