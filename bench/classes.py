"""スマホ教室 benchmark: how fast signups are taken, and what the race for the last places costs.

For each database (SQLite, then PostgreSQL if reachable), on a fresh migrated database:

1. sequential: N signups one after another, each its own transaction (the service call LINE, the
   admin and the API make: the citizen's limit, the session's row lock, counting, two encryptions,
   the insert), spread over S sessions with room for everyone: signups/s;
2. parallel: the same over T threads (several engines, as several processes), each signup to one
   of the S sessions: signups/s (threads meet on a session's row when they pick the same one);
3. contention: C threads (default 200, each a different LINE citizen) sign up at once for a session
   with 5 places left: wall time until all have their answer, each signup's latency from the
   starting gun (p50, p99), and the outcome (exactly 5 confirmed, the rest waitlisted, the queue in
   the order the session's lock was held), repeated R times.

    python3 dev.py bench classes [--signups 500] [--threads 8] [--contenders 200] [--rounds 3] [--only sqlite]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import threading
import time
from collections import Counter
from datetime import datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.together import run_together  # noqa: E402
from bench.webhook import drop_database, fresh_database, postgres_reachable  # noqa: E402
from bot import clock  # noqa: E402
from bot.db import Database  # noqa: E402
from bot.settings import Settings, load_settings  # noqa: E402
from handlers.classes.models import Channel, Details, SessionCreate  # noqa: E402
from handlers.classes.service import sessions  # noqa: E402
from handlers.classes.service import signups as signup_service  # noqa: E402

START = datetime(2026, 11, 24, 10, 0, tzinfo=clock.TOKYO)
CLASS_DAY = START + timedelta(days=14)
ENGINES = 4


def person(n: int) -> Details:
    return Details(name=f"受講者{n}", furigana=f"ジュコウシャ{n}", phone=f"0869{n:07d}", age_group="75")


def new_sessions(db: Database, count: int, capacity: int) -> list[int]:
    with db.session() as db_session:
        return [
            sessions.create(
                db_session=db_session,
                session_in=SessionCreate(
                    title=f"はじめてのスマホ教室 {n + 1}",
                    starts_at=CLASS_DAY + timedelta(days=n),
                    ends_at=CLASS_DAY + timedelta(days=n, hours=2),
                    venue="中央公民館",
                    capacity=capacity,
                ),
                now=START,
            ).id
            for n in range(count)
        ]


class People:
    """Numbers for people nobody has signed up yet (unique across threads)."""

    def __init__(self) -> None:
        self._next = 0
        self._lock = threading.Lock()

    def take(self) -> int:
        with self._lock:
            self._next += 1
            return self._next


def sign_up(db: Database, settings: Settings, session_id: int, n: int, noted: list[int] | None = None) -> str:
    """One LINE citizen's signup, in its own transaction; answers the status."""
    with db.session() as db_session:
        signed = signup_service.create(
            db_session=db_session,
            session_id=session_id,
            details=person(n),
            channel=Channel.LINE,
            settings=settings,
            line_user_id=f"U{n:032x}",
            now=START,
        )
        if noted is not None:
            noted.append(signed.signup.id)  # still under the session's lock: the order it was held
        return str(signed.signup.status)


def sequential(url: str, settings: Settings, session_ids: list[int], people: People, count: int) -> float:
    db = Database(url)
    try:
        sign_up(db, settings, session_ids[0], people.take())  # warm up (imports, caches, connection)
        started = time.perf_counter()
        for i in range(count):
            sign_up(db, settings, session_ids[i % len(session_ids)], people.take())
        return count / (time.perf_counter() - started)
    finally:
        db.dispose()


def parallel(url: str, settings: Settings, session_ids: list[int], people: People, count: int, threads: int) -> float:
    engines = [Database(url) for _ in range(min(threads, ENGINES))]

    def work(t: int) -> None:
        for i in range(t, count, threads):
            sign_up(engines[t % len(engines)], settings, session_ids[(i * 7 + t) % len(session_ids)], people.take())

    try:
        elapsed = run_together(threads, work)
    finally:
        for engine in engines:
            engine.dispose()
    return count / elapsed


def contention(
    url: str, settings: Settings, people: People, contenders: int
) -> tuple[float, list[float], Counter[str], bool]:
    """`contenders` threads, 5 places left: wall time, latencies, outcome, and whether the queue
    (queue_no) is the order in which the signups held the session's lock."""
    db = Database(url)
    try:
        [session_id] = new_sessions(db, 1, capacity=10)
        for _ in range(5):
            sign_up(db, settings, session_id, people.take())
    finally:
        db.dispose()
    engines = [Database(url) for _ in range(ENGINES)]
    barrier = threading.Barrier(contenders + 1)
    outcome: Counter[str] = Counter()
    latencies: list[float] = []
    held: list[int] = []
    lock = threading.Lock()
    numbers = [people.take() for _ in range(contenders)]

    def attempt(t: int) -> None:
        barrier.wait()
        began = time.perf_counter()
        try:
            result = sign_up(engines[t % ENGINES], settings, session_id, numbers[t], noted=held)
        except Exception as exc:  # pragma: no cover - reported
            result = type(exc).__name__
        took = time.perf_counter() - began
        with lock:
            outcome[result] += 1
            latencies.append(took)

    workers = [threading.Thread(target=attempt, args=(t,)) for t in range(contenders)]
    for worker in workers:
        worker.start()
    barrier.wait()
    started = time.perf_counter()
    for worker in workers:
        worker.join()
    elapsed = time.perf_counter() - started
    with engines[0].session() as db_session:
        queue = [
            s.id
            for s in sorted(
                signup_service.for_session(db_session=db_session, session_id=session_id), key=lambda s: s.queue_no
            )
            if s.id in set(held)
        ]
    for engine in engines:
        engine.dispose()
    return elapsed, latencies, outcome, queue == held


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--signups", type=int, default=500)
    parser.add_argument("--sessions", type=int, default=20)
    parser.add_argument("--threads", type=int, default=8)
    parser.add_argument("--contenders", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--only", choices=["sqlite", "postgresql"])
    args = parser.parse_args()
    clock.travel_to(START)  # the same calendar every run
    backends = ["sqlite", "postgresql"] if args.only is None else [args.only]
    print(f"machine: {os.cpu_count()} CPU(s); python {sys.version.split()[0]}")
    for backend in backends:
        if backend == "postgresql" and not postgres_reachable():
            print("postgresql: SKIPPED (not reachable)")
            continue
        with tempfile.TemporaryDirectory() as workdir:
            url = fresh_database(backend, Path(workdir))
            settings = load_settings(database_url=url, secret_key="b" * 40)
            try:
                people = People()
                db = Database(url)
                session_ids = new_sessions(db, args.sessions, capacity=500)
                db.dispose()
                single = sequential(url, settings, session_ids, people, args.signups)
                multi = parallel(url, settings, session_ids, people, args.signups, args.threads)
                walls: list[float] = []
                latencies: list[float] = []
                outcomes: Counter[str] = Counter()
                in_order = True
                for _ in range(args.rounds):
                    wall, took, outcome, ordered = contention(url, settings, people, args.contenders)
                    walls.append(wall)
                    latencies += took
                    outcomes.update(outcome)
                    in_order = in_order and ordered
                exact = outcomes == Counter(
                    {"confirmed": 5 * args.rounds, "waitlisted": (args.contenders - 5) * args.rounds}
                )
                print(
                    f"{backend:10s}  sequential {single:6.1f} signups/s | {args.threads} threads "
                    f"{multi:6.1f} signups/s ({args.sessions} sessions)"
                )
                print(
                    f"{'':10s}  contention {args.contenders} threads for the last 5 places, {args.rounds} rounds: "
                    f"wall median {statistics.median(walls) * 1000:5.0f} ms, max {max(walls) * 1000:5.0f} ms "
                    f"({args.contenders / statistics.median(walls):5.0f} signups/s); per signup "
                    f"p50 {percentile(latencies, 0.5) * 1000:5.0f} ms, p99 {percentile(latencies, 0.99) * 1000:5.0f} ms"
                )
                print(
                    f"{'':10s}  outcome {dict(outcomes)} {'OK' if exact else 'WRONG'}; "
                    f"queue = order the lock was held: {'OK' if in_order else 'WRONG'}"
                )
            finally:
                drop_database(url)


if __name__ == "__main__":
    main()
