"""The FAQ's scheduled job (declared in capability.py): the questions nobody could answer are
citizens' own words, kept for staff FAQ_UNANSWERED_RETENTION_DAYS after they were last asked."""

from __future__ import annotations

import asyncio

from bot.db import Database
from bot.settings import Settings
from handlers.faq import service as faq_service
from notifications import scheduler


def purge(*, db: Database, settings: Settings) -> int:
    return scheduler.purge_past_retention(
        db=db,
        days=settings.faq_unanswered_retention_days,
        purge=faq_service.purge_unanswered,
        what="unanswered question(s)",
    )


async def purge_unanswered() -> int:
    """The nightly job."""
    context = scheduler.context()
    return await asyncio.to_thread(purge, db=context.db, settings=context.settings)
