"""Webhook benchmark: how fast LINE gets its 200, and how fast citizens get their answer.

Three separate processes, as in production: a fake LINE platform (bench/fake_line.py: the
sandbox's Messaging API), the bot under test, and this load generator. For each database
(SQLite, then PostgreSQL if reachable) and for the yardstick (line-bot-sdk's FastAPI echo
example, bench/echo_bot.py) it measures:

1. steady load: signed one-event webhooks at a fixed rate (default 500/s) for a few seconds:
   acknowledged events/s and ack latency p50/p99, whether every answer arrived, and how long
   citizens waited for their answer (event sent to answer recorded, p50/p99);
2. saturation: a burst of events sent as fast as the bot acknowledges them: end-to-end events/s
   (first event sent to last answer recorded by the fake LINE);
3. the bot process's peak memory (VmHWM).

    python3 dev.py bench webhook [--rate 500] [--seconds 8] [--burst 3000] [--only sqlite]
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import hashlib
import hmac
import json
import os
import secrets
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import psycopg

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
POSTGRES_URL = os.environ.get("MADOGUCHI_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")
SECRET = secrets.token_hex(16)
TOKEN = secrets.token_urlsafe(24)


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def peak_rss_mb(pid: int) -> float:
    """Peak resident memory of the process and its children (the workers `serve` starts)."""
    children = Path(f"/proc/{pid}/task/{pid}/children")
    pids = [pid, *(int(p) for p in children.read_text().split())] if children.exists() else [pid]
    total = 0.0
    for one in pids:
        for line in Path(f"/proc/{one}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                total += int(line.split()[1]) / 1024
    return total


async def call(http: aiohttp.ClientSession, method: str, url: str, **kwargs: Any) -> Any:
    """A control request to the fake LINE, tried again once on a stale pooled connection."""
    for attempt in range(2):
        try:
            async with http.request(method, url, **kwargs) as response:
                return await response.json()
        except aiohttp.ServerDisconnectedError:
            if attempt:
                raise
    return None


def sign(body: bytes) -> str:
    return base64.b64encode(hmac.new(SECRET.encode(), body, hashlib.sha256).digest()).decode()


async def wait_http(url: str, within: float = 30) -> None:
    deadline = time.monotonic() + within
    async with aiohttp.ClientSession() as http:
        while True:
            try:
                async with http.get(url) as response:
                    if response.status == 200:
                        return
            except aiohttp.ClientError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"{url} did not come up")
            await asyncio.sleep(0.1)


@dataclass
class Result:
    name: str
    steady_rate: float = 0
    ack_p50_ms: float = 0
    ack_p99_ms: float = 0
    ack_max_ms: float = 0
    steady_answered: str = ""
    answer_p50_ms: float = 0
    answer_p99_ms: float = 0
    burst_ack_rate: float = 0
    e2e_rate: float = 0
    peak_mb: float = 0
    notes: list[str] = field(default_factory=list)


class Harness:
    def __init__(self, fake_url: str) -> None:
        self.fake_url = fake_url

    async def mint(self, http: aiohttp.ClientSession, count: int, users: int) -> list[bytes]:
        return [body for body, _ in await self.mint_with_users(http, count, users)]

    async def mint_with_users(self, http: aiohttp.ClientSession, count: int, users: int) -> list[tuple[bytes, str]]:
        events = await call(http, "POST", f"{self.fake_url}/bench/mint", json={"count": count, "users": users})
        return [(self.body(e), e["source"]["userId"]) for e in events]

    @staticmethod
    def body(event: dict[str, Any]) -> bytes:
        return json.dumps({"destination": "U" + "0" * 32, "events": [event]}, ensure_ascii=False).encode()

    async def answer_latencies(self, http: aiohttp.ClientSession, sent: list[tuple[str, float]]) -> list[float]:
        """Seconds from each event's sending to its answer. One chat's answers arrive in the order of
        its events (the inbox guarantees it), so a chat's n-th answer is its n-th event's."""
        stats = await call(http, "GET", f"{self.fake_url}/bench/stats", params={"detail": "true"})
        answered: dict[str, list[float]] = {}
        for chat, at in stats["deliveries"]:
            answered.setdefault(chat, []).append(at)
        latencies = []
        seen: dict[str, int] = {}
        for user, sent_at in sent:
            n = seen.get(user, 0)
            seen[user] = n + 1
            if n < len(answered.get(user, [])):
                latencies.append(answered[user][n] - sent_at)
        return sorted(latencies)

    async def delivered(self, http: aiohttp.ClientSession) -> tuple[int, float | None]:
        stats = await call(http, "GET", f"{self.fake_url}/bench/stats")
        return stats["count"], stats["last_at"]

    async def wait_delivered(self, http: aiohttp.ClientSession, target: int, within: float) -> tuple[int, float | None]:
        deadline = time.monotonic() + within
        while True:
            count, last = await self.delivered(http)
            if count >= target or time.monotonic() > deadline:
                return count, last
            await asyncio.sleep(0.05)

    async def run(self, name: str, bot_url: str, pid: int, rate: float, seconds: float, burst: int) -> Result:
        result = Result(name)
        connector = aiohttp.TCPConnector(limit=256)
        async with aiohttp.ClientSession(connector=connector) as http:
            await call(http, "POST", f"{self.fake_url}/bench/reset")
            # Warm-up: a few events so imports and pools are ready.
            for body in await self.mint(http, 50, 50):
                await self.post(http, bot_url, body)
            await self.wait_delivered(http, 50, 20)
            await call(http, "POST", f"{self.fake_url}/bench/reset")

            # 1. Steady load at a fixed rate (open loop: sends do not wait for answers).
            count = int(rate * seconds)
            minted = await self.mint_with_users(http, count, 500)
            latencies: list[float] = []
            sent: list[tuple[str, float]] = [("", 0.0)] * count
            start = time.perf_counter()

            async def one(i: int, body: bytes, user: str) -> None:
                delay = start + i / rate - time.perf_counter()
                if delay > 0:
                    await asyncio.sleep(delay)
                # The fake LINE records deliveries with time.time(): the wall clock, as here.
                sent[i] = (user, time.time())
                latencies.append(await self.post(http, bot_url, body))

            await asyncio.gather(*(one(i, body, user) for i, (body, user) in enumerate(minted)))
            elapsed = time.perf_counter() - start
            latencies.sort()
            result.steady_rate = count / elapsed
            result.ack_p50_ms = statistics.median(latencies) * 1000
            result.ack_p99_ms = latencies[int(len(latencies) * 0.99) - 1] * 1000
            result.ack_max_ms = latencies[-1] * 1000
            got, _ = await self.wait_delivered(http, count, 60)
            result.steady_answered = f"{got}/{count}"
            answers = await self.answer_latencies(http, sent)
            if answers:
                result.answer_p50_ms = statistics.median(answers) * 1000
                result.answer_p99_ms = answers[int(len(answers) * 0.99) - 1] * 1000
            await call(http, "POST", f"{self.fake_url}/bench/reset")

            # 2. Saturation: acknowledge as fast as the bot can, measure until the last answer.
            bodies = await self.mint(http, burst, 1000)
            sem = asyncio.Semaphore(64)
            wall_start = time.time()
            start = time.perf_counter()

            async def fire(body: bytes) -> None:
                async with sem:
                    await self.post(http, bot_url, body)

            await asyncio.gather(*(fire(b) for b in bodies))
            acked = time.perf_counter() - start
            got, last_at = await self.wait_delivered(http, burst, 120)
            result.burst_ack_rate = burst / acked
            if got < burst:
                result.notes.append(f"only {got}/{burst} answers arrived")
            # The fake LINE records delivery time with time.time(): compare on the wall clock.
            result.e2e_rate = got / max((last_at or time.time()) - wall_start, 1e-9)
        result.peak_mb = peak_rss_mb(pid)
        return result

    @staticmethod
    async def post(http: aiohttp.ClientSession, bot_url: str, body: bytes) -> float:
        headers = {"content-type": "application/json", "x-line-signature": sign(body)}
        t0 = time.perf_counter()
        for attempt in range(2):
            try:
                async with http.post(f"{bot_url}/callback", data=body, headers=headers) as response:
                    await response.read()
                    if response.status != 200:
                        raise RuntimeError(f"webhook answered {response.status}")
                    break
            except aiohttp.ServerDisconnectedError:
                # A pooled connection the server had closed while idle; LINE would redeliver too.
                if attempt:
                    raise
                t0 = time.perf_counter()
        return time.perf_counter() - t0


def start(cmd: list[str], env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
    return subprocess.Popen(cmd, cwd=ROOT, env={**os.environ, **(env or {})})


def stop(proc: subprocess.Popen[bytes]) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        proc.kill()


def fresh_database(backend: str, workdir: Path) -> str:
    from bot.migrate import upgrade

    if backend == "sqlite":
        url = f"sqlite:///{workdir / 'bench.db'}"
    else:
        name = f"madoguchi_bench_{os.getpid()}"
        with psycopg.connect(POSTGRES_URL, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')  # type: ignore[arg-type]
            conn.execute(f'CREATE DATABASE "{name}"')  # type: ignore[arg-type]
        url = POSTGRES_URL.rsplit("/", 1)[0] + "/" + name
    upgrade(url)
    return url


def drop_database(url: str) -> None:
    if url.startswith("postgresql"):
        with psycopg.connect(POSTGRES_URL, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{url.rsplit("/", 1)[1]}" WITH (FORCE)')  # type: ignore[arg-type]


def postgres_reachable() -> bool:
    try:
        with psycopg.connect(POSTGRES_URL, connect_timeout=2):
            return True
    except Exception:
        return False


async def bench(args: argparse.Namespace) -> list[Result]:
    fake_port, bot_port = free_port(), free_port()
    fake_url, bot_url = f"http://127.0.0.1:{fake_port}", f"http://127.0.0.1:{bot_port}"
    fake = start(
        [
            PYTHON,
            "bench/fake_line.py",
            "--port",
            str(fake_port),
            f"--secret={SECRET}",
            # "=": a token may begin with "-", which argparse would take for an option.
            f"--token={TOKEN}",
            "--webhook",
            f"{bot_url}/callback",
        ]
    )
    results: list[Result] = []
    workdir = Path(tempfile.mkdtemp(prefix="madoguchi-bench-"))
    try:
        await wait_http(f"{fake_url}/sandbox/api/citizens")
        harness = Harness(fake_url)
        backends = ["sqlite", "postgresql"] if args.only is None else [args.only]
        for backend in backends:
            if backend == "postgresql" and not postgres_reachable():
                print(f"PostgreSQL not reachable at {POSTGRES_URL}: skipped", file=sys.stderr)
                continue
            url = fresh_database(backend, workdir)
            env = {
                "DATABASE_URL": url,
                "LINE_CHANNEL_SECRET": SECRET,
                "LINE_CHANNEL_ACCESS_TOKEN": TOKEN,
                "LINE_API_BASE_URL": f"{fake_url}/sandbox/line",
                "LINE_DATA_API_BASE_URL": f"{fake_url}/sandbox/line",
                "PUBLIC_BASE_URL": "https://bench.invalid",
                "SECRET_KEY": secrets.token_urlsafe(40),
                "LOG_LEVEL": "WARNING",
                "PROCESS_INBOX_IN_WEB": "false" if args.ack_only else "true",
            }
            workers = args.workers if args.workers is not None else (0 if backend == "sqlite" else 1)
            bot = start(
                [
                    str(Path(PYTHON).parent / "madoguchi"),
                    "serve",
                    "--host",
                    "127.0.0.1",
                    "--port",
                    str(bot_port),
                    "--workers",
                    str(workers),
                ],
                env,
            )
            try:
                await wait_http(f"{bot_url}/healthz")
                results.append(
                    await harness.run(
                        f"madoguchi ({backend}, {workers}w)", bot_url, bot.pid, args.rate, args.seconds, args.burst
                    )
                )
            finally:
                stop(bot)
                drop_database(url)
        echo = start(
            [
                PYTHON,
                "bench/echo_bot.py",
                "--port",
                str(bot_port),
                f"--secret={SECRET}",
                f"--token={TOKEN}",
                "--line",
                f"{fake_url}/sandbox/line",
            ]
        )
        try:
            await wait_http(f"{bot_url}/healthz")
            results.append(
                await harness.run("line-bot-sdk echo bot", bot_url, echo.pid, args.rate, args.seconds, args.burst)
            )
        finally:
            stop(echo)
    finally:
        stop(fake)
        shutil.rmtree(workdir, ignore_errors=True)
    return results


def report(results: list[Result], args: argparse.Namespace) -> None:
    print(
        f"\nwebhook benchmark: {os.cpu_count()} cores, steady {args.rate:.0f} events/s for {args.seconds:.0f} s,"
        f" burst {args.burst} events"
    )
    header = (
        f"{'bot':28} {'steady ev/s':>11} {'ack p50 ms':>10} {'ack p99 ms':>10} {'ack max':>8} "
        f"{'answered':>11} {'answer p50':>10} {'answer p99':>10} {'burst ack/s':>11} {'e2e ev/s':>9} {'peak MB':>8}"
    )
    print(header)
    print("-" * len(header))
    for r in results:
        print(
            f"{r.name:28} {r.steady_rate:11.0f} {r.ack_p50_ms:10.1f} {r.ack_p99_ms:10.1f} {r.ack_max_ms:8.1f} "
            f"{r.steady_answered:>11} {r.answer_p50_ms:10.1f} {r.answer_p99_ms:10.1f} {r.burst_ack_rate:11.0f}"
            f" {r.e2e_rate:9.0f} {r.peak_mb:8.0f}" + (f"  ({'; '.join(r.notes)})" if r.notes else "")
        )
    echo = next((r for r in results if r.name.startswith("line-bot-sdk")), None)
    if echo and echo.e2e_rate:
        for r in results:
            if r is not echo:
                print(f"{r.name}: end-to-end throughput = {r.e2e_rate / echo.e2e_rate:.2f} x the echo bot's")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rate", type=float, default=500)
    parser.add_argument("--seconds", type=float, default=8)
    parser.add_argument("--burst", type=int, default=3000)
    parser.add_argument("--only", choices=["sqlite", "postgresql"])
    parser.add_argument("--ack-only", action="store_true", help="web process only acknowledges (diagnosis)")
    parser.add_argument(
        "--workers", type=int, help="`madoguchi serve --workers N` (default: as serve, 0 on SQLite, 1 on PostgreSQL)"
    )
    args = parser.parse_args()
    results = asyncio.run(bench(args))
    report(results, args)


if __name__ == "__main__":
    main()
