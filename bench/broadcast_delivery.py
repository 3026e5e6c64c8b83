"""Broadcast delivery benchmark: the send engine (notifications/) against the LINE sandbox.

For each database (SQLite, then PostgreSQL if reachable), on a fresh migrated database with N synthetic
citizens (default 100,000):

1. no rate limit: plan a send to every citizen (INSERT ... SELECT, chunks of 500) and deliver it to the
   sandbox; wall time (plan + send) and recipients/s. Goal: under 10 s on each database.
2. with a rate limit: the sandbox allows R multicast requests/s (its token bucket, one second's burst)
   and the engine is capped at the same R; a send of R * seconds chunks. The delivered rate as a
   fraction of what the limit allowed in that time (R per second plus the first second's burst).
   Goal: at least 90%.

The sandbox runs in a process of its own (as LINE would be elsewhere); afterwards the sandbox's own
records are checked: every recipient exactly once.

    python3 dev.py bench broadcast_delivery [--citizens 100000] [--rate 20] [--seconds 10] [--only sqlite]
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import os
import socket
import sys
import tempfile
import time
import uuid
from collections import Counter
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.webhook import drop_database, fresh_database, postgres_reachable  # noqa: E402
from bot import clock  # noqa: E402
from bot.citizens import Citizen, CitizenStatus  # noqa: E402
from bot.db import Database  # noqa: E402
from bot.line_client import LineClient  # noqa: E402
from bot.settings import Settings, load_settings  # noqa: E402
from notifications import engine  # noqa: E402
from notifications.sender import BroadcastSender  # noqa: E402

SECRET = "bench-secret"
TOKEN = "bench-token"
MESSAGES = [{"type": "text", "text": "【瀬戸内市】防災行政無線の試験放送を行います。"}]


# --- LINE, in a process of its own ----------------------------------------------------------------------
def serve_sandbox(port: int) -> None:
    """The sandbox's Messaging API, plus two routes for this benchmark: set the multicast rate limit, and
    read what was delivered (recipient counts and delivery times)."""
    import uvicorn
    from fastapi import FastAPI

    from bot.sandbox import SandboxPlatform, create_sandbox_router

    platform = SandboxPlatform(channel_secret=SECRET, access_token=TOKEN, webhook_url="http://127.0.0.1:9/callback")
    app = FastAPI()
    app.include_router(create_sandbox_router(platform))

    @app.post("/bench/reset")
    async def reset(rate: float | None = None) -> dict[str, Any]:
        platform.reset()
        platform.set_rate_limit("multicast", rate)
        return {}

    @app.get("/bench/deliveries")
    async def deliveries() -> dict[str, Any]:
        sent = platform.deliveries(endpoint="multicast")
        per_user = Counter(user for d in sent for user in d.to)
        return {
            "requests": len(sent),
            "recipients": len(per_user),
            "twice": sum(1 for n in per_user.values() if n > 1),
            "times": [d.at for d in sent],
        }

    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning")


def start_sandbox() -> tuple[multiprocessing.process.BaseProcess, str]:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = int(probe.getsockname()[1])
    process = multiprocessing.get_context("spawn").Process(target=serve_sandbox, args=(port,), daemon=True)
    process.start()
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while True:
        try:
            httpx.get(f"{url}/bench/deliveries", timeout=1)
            return process, url
        except httpx.HTTPError:
            if time.monotonic() > deadline:
                raise RuntimeError("the sandbox did not start") from None
            time.sleep(0.1)


# --- the engine -------------------------------------------------------------------------------------------
def add_citizens(db: Database, count: int) -> None:
    now = clock.now()
    batch = 10_000
    for first in range(0, count, batch):
        rows = [
            {"line_user_id": "U" + uuid.uuid4().hex, "status": CitizenStatus.FOLLOWING, "created_at": now}
            for _ in range(min(batch, count - first))
        ]
        with db.session() as db_session:
            db_session.execute(Citizen.__table__.insert(), rows)


def plan(db: Database, limit: int | None, chunk_size: int) -> tuple[int, float]:
    audience = Citizen.__table__.select().with_only_columns(Citizen.line_user_id)
    if limit is not None:
        audience = audience.limit(limit)
    started = time.perf_counter()
    with db.session() as db_session:
        job_id = engine.start(db_session, owner="bench", messages=MESSAGES, recipients=audience, chunk_size=chunk_size)
    return job_id, time.perf_counter() - started


async def send(settings: Settings, job_id: int) -> tuple[float, engine.SendCounts]:
    db = Database(settings.database_url)
    client = LineClient(settings)
    stop = asyncio.Event()
    started = time.perf_counter()
    task = asyncio.create_task(BroadcastSender(db, settings, client).run_forever(stop))
    try:
        while True:
            await asyncio.sleep(0.05)
            counts = await asyncio.to_thread(_counts, db, job_id)
            if counts.remaining == 0:
                return time.perf_counter() - started, counts
    finally:
        stop.set()
        await task
        await client.close()
        db.dispose()


def _counts(db: Database, job_id: int) -> engine.SendCounts:
    with db.session() as db_session:
        return engine.counts(db_session, job_id)


def engine_settings(url: str, line_url: str, **overrides: Any) -> Settings:
    return load_settings(
        database_url=url,
        line_channel_secret=SECRET,
        line_channel_access_token=TOKEN,
        line_api_base_url=f"{line_url}/sandbox/line",
        line_data_api_base_url=f"{line_url}/sandbox/line",
        broadcast_poll_seconds=0.05,
        **overrides,
    )


def retried_chunks(db: Database, job_id: int) -> int:
    from sqlalchemy import func, select

    from notifications.models import SendChunk

    with db.session() as db_session:
        return int(
            db_session.scalar(
                select(func.count()).select_from(SendChunk).where(SendChunk.job_id == job_id, SendChunk.attempts > 1)
            )
            or 0
        )


def run_backend(backend: str, args: argparse.Namespace, line_url: str) -> None:
    with tempfile.TemporaryDirectory() as workdir:
        url = fresh_database(backend, Path(workdir))
        try:
            db = Database(url)
            add_citizens(db, args.citizens)

            httpx.post(f"{line_url}/bench/reset", timeout=10)
            settings = engine_settings(
                url, line_url, broadcast_rate_per_second=0, broadcast_concurrency=args.concurrency
            )
            job_id, planning = plan(db, None, 500)
            sending, counts = asyncio.run(send(settings, job_id))
            seen = httpx.get(f"{line_url}/bench/deliveries", timeout=30).json()
            exact = seen["recipients"] == args.citizens and seen["twice"] == 0 and counts.sent == args.citizens
            total = planning + sending
            print(
                f"{backend:10s}  no limit: {args.citizens:,} recipients in {total:5.2f} s "
                f"(plan {planning:4.2f} s + send {sending:5.2f} s) = {args.citizens / total:8,.0f} recipients/s; "
                f"{seen['requests']} multicasts; each once: {'OK' if exact else 'WRONG'}"
            )

            requests = int(args.rate * args.seconds)
            httpx.post(f"{line_url}/bench/reset", params={"rate": args.rate}, timeout=10)
            settings = engine_settings(
                url, line_url, broadcast_rate_per_second=args.rate, broadcast_concurrency=args.concurrency
            )
            job_id, _ = plan(db, requests * 100, 100)
            sending, counts = asyncio.run(send(settings, job_id))
            seen = httpx.get(f"{line_url}/bench/deliveries", timeout=30).json()
            times = sorted(seen["times"])
            span = times[-1] - times[0]
            allowed = args.rate * span + max(1.0, args.rate)  # the bucket starts full: one second's burst
            exact = seen["twice"] == 0 and counts.sent == requests * 100
            print(
                f"{'':10s}  limit {args.rate:g} multicasts/s: {seen['requests']} multicasts in {span:5.2f} s "
                f"= {seen['requests'] / allowed:5.1%} of what the limit allowed ({allowed:.0f}); "
                f"{retried_chunks(db, job_id)} chunks retried after a 429; each once: {'OK' if exact else 'WRONG'}"
            )
            db.dispose()
        finally:
            drop_database(url)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--citizens", type=int, default=100_000)
    parser.add_argument("--concurrency", type=int, default=8, help="chunks in flight (BROADCAST_CONCURRENCY)")
    parser.add_argument("--rate", type=float, default=20.0, help="multicasts per second the sandbox allows")
    parser.add_argument("--seconds", type=float, default=10.0, help="how long the rate-limited send should take")
    parser.add_argument("--only", choices=["sqlite", "postgresql"])
    args = parser.parse_args()
    backends = ["sqlite", "postgresql"] if args.only is None else [args.only]
    print(f"machine: {os.cpu_count()} CPU(s); python {sys.version.split()[0]}")
    sandbox, line_url = start_sandbox()
    try:
        for backend in backends:
            if backend == "postgresql" and not postgres_reachable():
                print("postgresql: SKIPPED (not reachable)")
                continue
            run_backend(backend, args, line_url)
    finally:
        sandbox.terminate()
        sandbox.join(timeout=10)


if __name__ == "__main__":
    main()
