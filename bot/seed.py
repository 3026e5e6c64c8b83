"""Loads the demo city's data and the demo staff login (used by `madoguchi demo`)."""

from __future__ import annotations

from bot.db import Database
from bot.settings import Settings


def load_demo_data(settings: Settings) -> tuple[str, str] | None:
    """Idempotent: loads what is missing; answers the demo staff login (name, password)."""
    db = Database(settings.database_url)
    try:
        with db.session() as db_session:
            from handlers.faq import service as faq_service

            # The FAQ knowledge base: entries missing from the database are added, edits are kept.
            faq_service.seed(db_session=db_session)
        with db.session() as db_session:
            from handlers.reservations import service as reservation_service

            # Counter offices, procedures and slot rules (sample data): what is missing is added.
            reservation_service.seed(db_session=db_session)
        with db.session() as db_session:
            from handlers.gis import service as gis_service

            # Map layers (GSI shelters, sample facilities and AEDs) and the sample garbage calendar:
            # layers missing from the database are loaded, staff uploads are kept.
            gis_service.seed(db_session=db_session)
        with db.session() as db_session:
            try:
                from admin.service import ensure_demo_user
            except ImportError:
                return None
            return ensure_demo_user(db_session=db_session)
    finally:
        db.dispose()
