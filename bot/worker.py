"""`madoguchi worker`: the inbox processor and outbox delivery in a process of their own.

Run any number of workers beside the web processes on PostgreSQL; set PROCESS_INBOX_IN_WEB=false
on the web processes so that they only store and acknowledge.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal

from bot.db import Database
from bot.line_client import LineClient
from bot.processor import InboxProcessor
from bot.settings import Settings

log = logging.getLogger(__name__)


async def run_worker(settings: Settings, stop: asyncio.Event | None = None) -> None:
    stop = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):  # not the main thread
            loop.add_signal_handler(sig, stop.set)
    db = Database(settings.database_url)
    client = LineClient(settings)
    # notifications: the scheduler runs here too (reminders, purge); its jobs are safe to run twice.
    from notifications import scheduler as notification_scheduler

    scheduler = notification_scheduler.start(db, settings)
    try:
        processor = InboxProcessor(db, settings, client)
        log.info("worker started (%s)", db.dialect)
        await processor.run_forever(stop)
    finally:
        notification_scheduler.stop(scheduler)
        await client.close()
        db.dispose()
        log.info("worker stopped")
