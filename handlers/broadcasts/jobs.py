"""The broadcasts' scheduled job (declared in capability.py): every few seconds, start the runs whose
time has come (after quiet hours for a normal message) and mark broadcasts whose sending is over.
Safe in every process at once: a run starts through a conditional UPDATE, once."""

from __future__ import annotations

import asyncio
import logging

from bot.db import Database
from bot.settings import Settings
from handlers.broadcasts.service import broadcasts as service
from notifications import scheduler

log = logging.getLogger(__name__)


def run_due(*, db: Database, settings: Settings) -> tuple[int, int]:
    """(runs started, broadcasts finished): each run in a transaction of its own."""
    started = 0
    while True:
        with db.session() as db_session:
            batch = service.start_due_runs(db_session=db_session, settings=settings, limit=1)
        if not batch:
            break
        started += batch
    with db.session() as db_session:
        finished = service.finish_sent(db_session=db_session)
    if started or finished:
        log.info("broadcasts: %d run(s) started, %d finished", started, finished)
    return started, finished


async def send_due() -> tuple[int, int]:
    context = scheduler.context()
    return await asyncio.to_thread(run_due, db=context.db, settings=context.settings)
