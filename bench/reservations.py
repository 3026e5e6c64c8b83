"""Reservation benchmark: how fast bookings are made, what the last-place race costs, and QR images.

For each database (SQLite, then PostgreSQL if reachable), on a fresh migrated database with the
sample counter data:

1. single-threaded: N bookings one after another, each its own transaction (the same service call
   LINE, the admin and the API make: validation, the conditional UPDATE, the encrypted row): bookings/s;
2. parallel: the same over T threads (several engines, as several processes), on different slots;
3. contention: C threads (default 200) race for a slot with one place left: wall time until all
   have their answer, and the outcome (exactly one booked, the rest SlotFull), repeated R times.

Then QR PNG generation time per image (original 1024 px and preview 240 px, uncached).

    .venv/bin/python -m bench.reservations [--bookings 500] [--threads 8] [--contenders 200] [--only sqlite]
"""

from __future__ import annotations

import argparse
import contextlib
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
from bot import clock, qr  # noqa: E402
from bot.db import Database  # noqa: E402
from bot.settings import load_settings  # noqa: E402
from handlers.reservations.models import CounterSlot, ReservationChannel, ReservationCreate  # noqa: E402
from handlers.reservations.service import reservations as reservation_service  # noqa: E402
from handlers.reservations.service import seed as counter_seed  # noqa: E402
from handlers.reservations.service import slots as slot_service  # noqa: E402
from handlers.reservations.service.errors import SlotFull  # noqa: E402

START = datetime(2026, 11, 24, 10, 0, tzinfo=clock.TOKYO)
ANSWERS = {
    "name": "瀬戸内 花子",
    "furigana": "せとうち はなこ",
    "birth_date": "昭和25年4月1日",
    "phone": "090-1234-5678",
    "address": "瀬戸内市邑久町尾張300-1",
    "copies": "1通",
}


def prepare(url: str, *, capacity: int) -> list[int]:
    """Seeds, makes 60 days of slots at every office and gives each slot `capacity` places."""
    db = Database(url)
    try:
        with db.session() as db_session:
            counter_seed.seed(db_session=db_session)
            for office in ("honcho", "ushimado", "osafune"):
                slot_service.ensure_slots(
                    db_session=db_session, office_id=office, first=START.date(), last=START.date() + timedelta(60)
                )
            db_session.query(CounterSlot).update({CounterSlot.capacity: capacity})
            return [
                s.id
                for s in db_session.query(CounterSlot).filter(CounterSlot.day > START.date()).order_by(CounterSlot.id)
            ]
    finally:
        db.dispose()


def book(db: Database, settings: object, slot_id: int, user: str | None = None) -> None:
    with db.session() as db_session:
        reservation_service.create(
            db_session=db_session,
            reservation_in=ReservationCreate(
                procedure_id="juminhyo",
                slot_id=slot_id,
                answers=ANSWERS,
                channel=ReservationChannel.PHONE if user is None else ReservationChannel.LINE,
                line_user_id=user,
            ),
            settings=settings,  # type: ignore[arg-type]
            now=START,
        )


def single_threaded(url: str, settings: object, slots: list[int], count: int) -> float:
    db = Database(url)
    try:
        book(db, settings, slots[0])  # warm up (imports, caches, connection)
        started = time.perf_counter()
        for i in range(count):
            book(db, settings, slots[(i + 1) % len(slots)])
        return count / (time.perf_counter() - started)
    finally:
        db.dispose()


def parallel(url: str, settings: object, slots: list[int], count: int, threads: int) -> float:
    engines = [Database(url) for _ in range(min(threads, 4))]

    def work(n: int) -> None:
        for i in range(n, count, threads):
            with contextlib.suppress(SlotFull):  # a full slot is an answer, not an error
                book(engines[n % len(engines)], settings, slots[(i * 7 + n) % len(slots)])

    try:
        elapsed = run_together(threads, work)
    finally:
        for engine in engines:
            engine.dispose()
    return count / elapsed


def contention(url: str, settings: object, slot_id: int, contenders: int) -> tuple[float, Counter[str]]:
    """`contenders` threads, one place: wall time from the starting gun to the last answer."""
    engines = [Database(url) for _ in range(4)]
    barrier = threading.Barrier(contenders + 1)
    outcome: Counter[str] = Counter()
    lock = threading.Lock()

    def attempt(n: int) -> None:
        barrier.wait()
        try:
            book(engines[n % 4], settings, slot_id, user=f"U{n:032x}")
            result = "booked"
        except SlotFull:
            result = "full"
        except Exception as exc:  # pragma: no cover - reported
            result = type(exc).__name__
        with lock:
            outcome[result] += 1

    workers = [threading.Thread(target=attempt, args=(n,)) for n in range(contenders)]
    for worker in workers:
        worker.start()
    barrier.wait()
    started = time.perf_counter()
    for worker in workers:
        worker.join()
    elapsed = time.perf_counter() - started
    for engine in engines:
        engine.dispose()
    return elapsed, outcome


def qr_timing(images: int) -> dict[str, float]:
    out: dict[str, float] = {}
    for size, pixels in qr.SIZES.items():
        tokens = [qr.new_token() for _ in range(images)]
        started = time.perf_counter()
        total = 0
        for token in tokens:
            total += len(qr._png.__wrapped__(token, pixels))  # uncached
        out[f"{size} ms/image"] = (time.perf_counter() - started) / images * 1000
        out[f"{size} bytes"] = total / images
    started = time.perf_counter()
    for _ in range(images):
        qr.png(tokens[0], "preview")
    out["cached ms/image"] = (time.perf_counter() - started) / images * 1000
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--bookings", type=int, default=500)
    parser.add_argument("--threads", type=int, default=8)
    parser.add_argument("--contenders", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--qr-images", type=int, default=200)
    parser.add_argument("--only", choices=["sqlite", "postgresql"])
    args = parser.parse_args()
    clock.travel_to(START)  # a fixed Tuesday, so the window and the calendar are the same every run
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
                slots = prepare(url, capacity=1000)
                single = single_threaded(url, settings, slots, args.bookings)
                multi = parallel(url, settings, slots, args.bookings, args.threads)
                times = []
                outcomes: Counter[str] = Counter()
                for round_ in range(args.rounds):
                    db = Database(url)
                    with db.session() as db_session:
                        # A LINE booking inside the window: tomorrow at 長船支所, one slot per round.
                        slot = slot_service.get_slots_for_day(
                            db_session=db_session, office_id="osafune", day=START.date() + timedelta(days=1)
                        )[round_]
                        slot.capacity, slot.booked = 3, 2  # one place left
                        slot_id = slot.id
                    db.dispose()
                    elapsed, outcome = contention(url, settings, slot_id, args.contenders)
                    times.append(elapsed)
                    outcomes.update(outcome)
                exact = outcomes == Counter({"booked": args.rounds, "full": args.rounds * (args.contenders - 1)})
                print(
                    f"{backend:10s}  single-threaded {single:7.1f} bookings/s | {args.threads} threads "
                    f"{multi:7.1f} bookings/s | contention {args.contenders} threads for 1 place: "
                    f"median {statistics.median(times) * 1000:6.0f} ms, max {max(times) * 1000:6.0f} ms "
                    f"({args.contenders / statistics.median(times):6.0f} attempts/s); "
                    f"outcome {dict(outcomes)} {'OK' if exact else 'WRONG'}"
                )
            finally:
                drop_database(url)
    timing = qr_timing(args.qr_images)
    print("QR PNG    " + " | ".join(f"{k} {v:.2f}" if "ms" in k else f"{k} {v:.0f}" for k, v in timing.items()))


if __name__ == "__main__":
    main()
