"""A real process sending a broadcast killed (SIGKILL) in the middle, then started again: on PostgreSQL one
of two `madoguchi worker`s, on SQLite the one `madoguchi serve`. The chunks it had in flight are taken
over when their lease runs out and sent again with their retry keys; those LINE had accepted answer 409.
The sandbox, which outlives the processes, sees each recipient exactly once."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from bot.db import Database
from tests.bot.processes import bot_env, kill, processes, query, wait_for
from tests.notifications.support import counts, line, multicast_recipients, plan, user_ids


def unfinished_chunks(database_url: str) -> int:
    return int(query(database_url, "SELECT count(*) FROM send_chunks WHERE status IN ('pending', 'sending')")[0][0])


def test_a_worker_killed_mid_send_and_restarted_sends_each_recipient_once(database_url: str, tmp_path: Path) -> None:
    db = Database(database_url)
    people = user_ids(400)
    job_id = plan(db, people, chunk_size=10)
    with line() as sandbox:
        # Each multicast takes 0.6 s, LINE accepting it halfway: a kill leaves chunks LINE has and we do not know.
        sandbox.platform.set_latency(0.6, "multicast")
        env = bot_env(
            database_url,
            sandbox,
            BROADCAST_CONCURRENCY="4",
            BROADCAST_LEASE_SECONDS="3",
            BROADCAST_RATE_PER_SECOND="0",
            BROADCAST_POLL_SECONDS="0.1",
        )
        # On SQLite `serve` sends (one process); on PostgreSQL a `madoguchi worker`.
        serve = ["serve", "--host", "127.0.0.1", "--port", sandbox.bot_url.rsplit(":", 1)[1]]
        command = ["worker"] if database_url.startswith("postgresql") else serve

        def accepted_but_unrecorded() -> set[str]:
            accepted = {d.retry_key for d in sandbox.platform.deliveries(endpoint="multicast")}
            sending = {r[0] for r in query(database_url, "SELECT retry_key FROM send_chunks WHERE status = 'sending'")}
            return accepted & sending if len(accepted) >= 8 else set()

        with processes(env, tmp_path / "logs") as running:
            worker = running.start(*command)
            at_kill = wait_for(
                lambda: accepted_but_unrecorded() or worker.poll() is not None,
                timeout=120,
                what="a chunk LINE accepted and the worker has not recorded",
                interval=0.02,
                running=running,
            )
            assert worker.poll() is None, running.output()
            kill(worker)
            accepted_at_kill = len(sandbox.platform.deliveries(endpoint="multicast"))
            running.start(*command)
            wait_for(
                lambda: unfinished_chunks(database_url) == 0, timeout=120, what="the job to finish", running=running
            )
        delivered = multicast_recipients(sandbox.platform)
        keys = Counter(d.retry_key for d in sandbox.platform.deliveries(endpoint="multicast"))

    assert accepted_at_kill < 40, "the job was over before the kill: the test proves nothing"
    assert set(delivered) == set(people), "someone was lost"
    assert max(delivered.values()) == 1, "someone got the message twice"
    assert max(keys.values()) == 1 and len(keys) == 40
    # The chunks LINE had accepted when the worker died were sent again after the restart (409: delivered).
    retried = {row[0] for row in query(database_url, "SELECT retry_key FROM send_chunks WHERE attempts > 1")}
    assert at_kill <= retried
    result = counts(db, job_id)
    assert (result.status, result.sent, result.failed, result.remaining) == ("done", 400, 0, 0)
    db.dispose()
