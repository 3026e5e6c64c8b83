"""`madoguchi worker`: the inbox processor and outbox delivery in a process of their own.

Run any number of workers beside the web processes on PostgreSQL; set PROCESS_INBOX_IN_WEB=false
on the web processes so that they only store and acknowledge. A worker LISTENs for the web
processes' NOTIFY (bot.inbox.announce), so a new event is taken at once; polling every
WORKER_POLL_SECONDS remains as the safety net (a lost connection, a lease that ran out).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import Callable

import psycopg
from sqlalchemy.engine import make_url

from bot import capabilities as capability_list
from bot import health
from bot.db import Database
from bot.inbox import WAKE_CHANNEL
from bot.line_client import LineClient
from bot.processor import InboxProcessor
from bot.runtime import configure_process
from bot.settings import Settings

log = logging.getLogger(__name__)

# Waits before listening again after the connection was lost (seconds).
RELISTEN_DELAYS = (0.5, 1, 2, 5, 10, 30)


def libpq_url(database_url: str) -> str:
    """The database URL as psycopg takes it (without SQLAlchemy's driver suffix)."""
    return make_url(database_url).set(drivername="postgresql").render_as_string(hide_password=False)


async def listen_for_events(database_url: str, wake: Callable[[], None], stop: asyncio.Event) -> None:
    """Calls `wake` on every NOTIFY of new inbox events until `stop` is set; reconnects when the
    connection drops (and wakes then too: something may have arrived meanwhile)."""
    failures = 0
    while not stop.is_set():
        try:
            async with await psycopg.AsyncConnection.connect(libpq_url(database_url), autocommit=True) as conn:
                await conn.execute(f"LISTEN {WAKE_CHANNEL}")
                failures = 0
                wake()
                while not stop.is_set():
                    async for _ in conn.notifies(timeout=1.0):
                        wake()
        except (psycopg.Error, OSError) as exc:
            delay = RELISTEN_DELAYS[min(failures, len(RELISTEN_DELAYS) - 1)]
            failures += 1
            log.warning("listening for new events failed (%s); polling meanwhile, again in %ss", exc, delay)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=delay)


async def run_worker(settings: Settings, stop: asyncio.Event | None = None) -> None:
    stop = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):  # not the main thread
            loop.add_signal_handler(sig, stop.set)
    capabilities = capability_list.load()
    configure_process(settings)
    db = Database(settings.database_url)
    client = LineClient(settings)
    # The scheduler runs here too (the capabilities' reminders, purges); its jobs are safe to run twice.
    scheduler_module = capability_list.scheduler()
    scheduler = scheduler_module.start(db, settings, capabilities.jobs)
    listener: asyncio.Task[None] | None = None
    # /healthz of the web processes counts the workers by their heartbeats (bot.health).
    beating = asyncio.create_task(health.Heartbeat(db, settings, "worker").run(stop), name="heartbeat")
    # The broadcasts' send jobs, beside the outbox's delivery (any number of workers share them).
    sending = asyncio.create_task(
        capability_list.broadcast_sender().run(db, settings, client, stop), name="broadcast-sender"
    )
    try:
        processor = InboxProcessor(db, settings, client, capabilities)
        if db.dialect == "postgresql":
            listener = asyncio.create_task(listen_for_events(settings.database_url, processor.wake, stop))
        log.info("worker started (%s)", db.dialect)
        await processor.run_forever(stop)
    finally:
        stop.set()
        for task in (listener, beating, sending):
            if task is not None:
                with contextlib.suppress(asyncio.CancelledError, TimeoutError):
                    await asyncio.wait_for(task, timeout=5)
        scheduler_module.stop(scheduler)
        await client.close()
        db.dispose()
        log.info("worker stopped")
