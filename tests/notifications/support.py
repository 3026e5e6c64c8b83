"""What the send engine's tests share: LINE (the sandbox, on a port of its own, as in tests/bot/processes),
settings that point at it, synthetic citizens, and running senders until a job is over."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections import Counter
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from sqlalchemy import insert

from bot import clock
from bot.citizens import Citizen, CitizenStatus
from bot.db import Database
from bot.line_client import LineClient
from bot.sandbox import SandboxPlatform
from bot.settings import Settings, load_settings
from notifications import engine
from notifications.sender import BroadcastSender
from tests.bot.processes import SECRET, TOKEN, Sandbox, sandbox
from tests.support import free_port

MESSAGES = [{"type": "text", "text": "【瀬戸内市】あすは資源ごみの日です。"}]


@contextmanager
def line() -> Iterator[Sandbox]:
    """The LINE sandbox on its own port (nothing answers its webhook: these tests only send)."""
    with sandbox(free_port()) as running:
        yield running


def engine_settings(database_url: str, line: Sandbox, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "database_url": database_url,
        "line_channel_secret": SECRET,
        "line_channel_access_token": TOKEN,
        "line_api_base_url": f"{line.url}/sandbox/line",
        "line_data_api_base_url": f"{line.url}/sandbox/line",
        "line_timeout_seconds": 5,
        "broadcast_poll_seconds": 0.05,
        "broadcast_retry_base_seconds": 0.02,
        "broadcast_rate_per_second": 0,
    }
    values.update(overrides)
    return load_settings(**values)


def user_ids(count: int) -> list[str]:
    return ["U" + uuid.uuid4().hex for _ in range(count)]


def add_citizens(db: Database, ids: Sequence[str], *, status: CitizenStatus = CitizenStatus.FOLLOWING) -> None:
    now = clock.now()
    with db.session() as db_session:
        db_session.execute(insert(Citizen), [{"line_user_id": u, "status": status, "created_at": now} for u in ids])


def plan(db: Database, recipients: Any, **options: Any) -> int:
    with db.session() as db_session:
        return engine.start(db_session, owner="test", messages=MESSAGES, recipients=recipients, **options)


def counts(db: Database, job_id: int) -> engine.SendCounts:
    with db.session() as db_session:
        return engine.counts(db_session, job_id)


def multicast_recipients(platform: SandboxPlatform) -> Counter[str]:
    """How many times LINE accepted a multicast to each user."""
    return Counter(user for d in platform.deliveries(endpoint="multicast") for user in d.to)


async def send_until_over(
    settings: Settings,
    job_id: int,
    *,
    senders: int = 1,
    timeout: float = 60.0,  # noqa: ASYNC109
) -> engine.SendCounts:
    """Runs `senders` sending loops (each with its own database engine and LINE client, sharing only the
    database, as separate processes would) until the job has nothing left to send."""
    stop = asyncio.Event()
    databases = [Database(settings.database_url) for _ in range(senders)]
    clients = [LineClient(settings) for _ in range(senders)]
    tasks = [
        asyncio.create_task(BroadcastSender(db, settings, client).run_forever(stop))
        for db, client in zip(databases, clients, strict=True)
    ]
    deadline = time.monotonic() + timeout
    try:
        while True:
            current = await asyncio.to_thread(counts, databases[0], job_id)
            if current.remaining == 0 or time.monotonic() > deadline:
                return current
            await asyncio.sleep(0.05)
    finally:
        stop.set()
        await asyncio.gather(*tasks)
        for client in clients:
            await client.close()
        for db in databases:
            db.dispose()
