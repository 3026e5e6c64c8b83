"""kill -9 at any moment, with LINE slow and failing: every event is answered, and answered once.

The real thing, in real processes. On PostgreSQL: the web process and two `madoguchi worker`s; the
workers are killed (SIGKILL) three times while events stream in (the last time both at once) and
started again. On SQLite: its one process, killed three times and started again (LINE redelivers
what it could not hand over meanwhile). LINE is the sandbox, in this test process, so its records
outlive every kill. It takes 0.3 s per call, answers 500 or 429 to everything for a while (for 8 s
as the bot comes back from the last kill), and cuts connections after doing what it was asked.
At the end the sandbox's records are counted per citizen: every event has its answer (none lost)
and none has two (none duplicated).
"""

from __future__ import annotations

import subprocess
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

from bot.catalog import t
from tests.bot.processes import Processes, bot_env, healthz, kill, processes, query, sandbox, settled, wait_for
from tests.support import free_port, texts

CITIZENS = 60
MESSAGES_EACH = 5
EVENTS_PER_SECOND = 15
ANSWERS = {"こんにちは": "welcome.greet", "ありがとう": "welcome.thanks", "ヘルプ": "welcome.help"}
# Shorter than the default (60 s) so that events held by a killed process come back within the test.
INBOX_LEASE_SECONDS = "10"


class Bot:
    """The bot's processes, and killing them as the test goes (see the module docstring)."""

    def __init__(self, running: Processes, database_url: str, port: int) -> None:
        self.running = running
        self.postgres = database_url.startswith("postgresql")
        self.serve = ["serve", "--host", "127.0.0.1", "--port", str(port)]
        self.web: subprocess.Popen[bytes] | None = None
        self.workers: list[subprocess.Popen[bytes]] = []
        self.kills = 0

    def start(self) -> None:
        if self.postgres:
            self.web = self.running.start(*self.serve, "--workers", "0")
            self.workers = [self.running.start("worker") for _ in range(2)]
        else:
            self.web = self.running.start(*self.serve)

    def kill(self, *, everything: bool = False) -> None:
        """kill -9 one worker (or both) on PostgreSQL, the one process on SQLite; then start again."""
        if not self.postgres:
            assert self.web is not None and self.web.poll() is None, self.running.output()
            kill(self.web)
            self.web = self.running.start(*self.serve)
        else:
            victims = list(range(len(self.workers))) if everything else [self.kills % len(self.workers)]
            for index in victims:
                assert self.workers[index].poll() is None, self.running.output()
                kill(self.workers[index])
            for index in victims:
                self.workers[index] = self.running.start("worker")
        self.kills += 1


def test_kill_nine_mid_stream_loses_no_answer_and_sends_none_twice(database_url: str, tmp_path: Path) -> None:
    port = free_port()
    with sandbox(port) as line:
        env = bot_env(
            database_url, line, INBOX_LEASE_SECONDS=INBOX_LEASE_SECONDS, WORKER_POLL_SECONDS="0.2", LOG_LEVEL="WARNING"
        )
        if database_url.startswith("postgresql"):
            env["PROCESS_INBOX_IN_WEB"] = "false"
        with processes(env, tmp_path / "logs") as running:
            bot = Bot(running, database_url, port)
            booting = time.monotonic()
            bot.start()
            wait_for(lambda: healthz(line.bot_url) is not None, timeout=90, what="the bot to listen", running=running)
            line.platform.set_latency(0.3)
            users = [line.new_user() for _ in range(CITIZENS)]
            words = list(ANSWERS)
            total = CITIZENS * MESSAGES_EACH
            plan = [(users[i % CITIZENS], words[(i + i // CITIZENS) % len(words)]) for i in range(total)]

            def line_fails(*faults: tuple[int, float]) -> None:
                """LINE answers these statuses to every send, one after the other, each for so long."""
                for endpoint in ("reply", "push"):
                    until = 0.0
                    for status, seconds in faults:
                        until += seconds
                        line.platform.inject_fault(endpoint, status, seconds=until)

            # What happens as which event is sent (the stream lasts about 20 s).
            chaos: dict[int, Callable[[], None]] = {
                40: bot.kill,
                60: lambda: line.platform.drop_after_accepting("reply", 3),
                90: lambda: line_fails((500, 2)),
                130: bot.kill,
                170: lambda: line_fails((429, 2)),
                200: lambda: line.platform.drop_after_accepting("push", 2),
                230: lambda: bot.kill(everything=True),
                # As the bot comes back (on SQLite this event waits for it), LINE fails for 8 s.
                231: lambda: line_fails((500, 4), (429, 4)),
            }
            booted = time.monotonic() - booting
            started = time.monotonic()
            for index, (user, word) in enumerate(plan):
                if index in chaos:
                    chaos[index]()
                line.deliver([line.platform.make_event("text", user, text=word)])
                time.sleep(max(0.0, started + (index + 1) / EVENTS_PER_SECOND - time.monotonic()))
            sent = time.monotonic() - started
            wait_for(
                lambda: settled(database_url) and len(line.platform.deliveries()) >= len(plan),
                timeout=150,
                what="every event processed and every answer sent",
                interval=0.5,
                running=running,
            )
            time.sleep(2)  # a late second answer would arrive now
            took = time.monotonic() - started
            dead = query(database_url, "SELECT count(*) FROM inbox_events WHERE status = 'dead'")[0][0]
            failed = query(database_url, "SELECT count(*) FROM outbox_messages WHERE status = 'failed'")[0][0]
            logs = running.output()

    lost = duplicated = 0
    for user in users:
        expected = Counter(t(ANSWERS[word]) for who, word in plan if who == user)
        got = Counter(texts(line.platform.deliveries(to=user)))
        lost += sum((expected - got).values())
        duplicated += sum((got - expected).values())
    endpoints = Counter(d.endpoint for d in line.platform.deliveries())
    figures = (
        f"started in {booted:.0f} s; {bot.kills} kills; {len(plan)} events from {CITIZENS} citizens sent in"
        f" {sent:.0f} s, all settled after"
        f" {took:.0f} s: {lost} lost, {duplicated} duplicated ({endpoints['reply']} replies, {endpoints['push']}"
        f" pushes); {dead} dead letters, {failed} failed messages"
    )
    print(f"\n{'PostgreSQL' if bot.postgres else 'SQLite'}: {figures}")
    assert bot.kills == 3
    assert (lost, duplicated, dead, failed) == (0, 0, 0, 0), f"{figures}\n{logs}"
