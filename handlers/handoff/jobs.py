"""The handoff capability's scheduled job (declared in capability.py): what a citizen wrote when
asking for a person is kept HANDOFF_RETENTION_DAYS."""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta

from bot import clock
from bot.db import Database
from bot.settings import Settings
from handlers.handoff import service as handoff_service
from notifications import scheduler

log = logging.getLogger(__name__)


def purge(*, db: Database, settings: Settings) -> int:
    before = clock.now() - timedelta(days=settings.handoff_retention_days)
    with db.session() as db_session:
        count = handoff_service.purge(db_session=db_session, before=before)
    if count:
        log.info("purged %d request(s) for a person past retention", count)
    return count


async def purge_requests() -> int:
    """The nightly job."""
    context = scheduler.context()
    return await asyncio.to_thread(purge, db=context.db, settings=context.settings)
