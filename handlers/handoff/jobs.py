"""The handoff capability's scheduled job (declared in capability.py): what a citizen wrote when
asking for a person is kept HANDOFF_RETENTION_DAYS."""

from __future__ import annotations

import asyncio

from bot.db import Database
from bot.settings import Settings
from handlers.handoff import service as handoff_service
from notifications import scheduler


def purge(*, db: Database, settings: Settings) -> int:
    return scheduler.purge_past_retention(
        db=db, days=settings.handoff_retention_days, purge=handoff_service.purge, what="request(s) for a person"
    )


async def purge_requests() -> int:
    """The nightly job."""
    context = scheduler.context()
    return await asyncio.to_thread(purge, db=context.db, settings=context.settings)
