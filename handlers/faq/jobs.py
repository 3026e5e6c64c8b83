"""The FAQ's scheduled job (declared in capability.py): the questions nobody could answer are
citizens' own words, kept for staff FAQ_UNANSWERED_RETENTION_DAYS after they were last asked."""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta

from bot import clock
from bot.db import Database
from bot.settings import Settings
from handlers.faq import service as faq_service
from notifications import scheduler

log = logging.getLogger(__name__)


def purge(*, db: Database, settings: Settings) -> int:
    before = clock.now() - timedelta(days=settings.faq_unanswered_retention_days)
    with db.session() as db_session:
        count = faq_service.purge_unanswered(db_session=db_session, before=before)
    if count:
        log.info("deleted %d unanswered question(s) past retention", count)
    return count


async def purge_unanswered() -> int:
    """The nightly job."""
    context = scheduler.context()
    return await asyncio.to_thread(purge, db=context.db, settings=context.settings)
