"""Loads the demo city's data and the demo staff login (used by `madoguchi demo`)."""

from __future__ import annotations

from bot import capabilities as capability_list
from bot.capability import Capabilities
from bot.db import Database
from bot.settings import Settings


def load_demo_data(
    settings: Settings, capabilities: Capabilities | None = None, *, staff_password: str | None = None
) -> tuple[str, str] | None:
    """Idempotent: loads what is missing (each capability's seed, in its own transaction); answers
    the demo staff login (name, password)."""
    db = Database(settings.database_url)
    try:
        for capability in capabilities or capability_list.load():
            if capability.seed is not None:
                with db.session() as db_session:
                    # A seed that stores personal data encrypts it with this deployment's keys.
                    db_session.info["settings"] = settings
                    capability.seed(db_session)
        staff_ui = capability_list.staff_ui()
        with db.session() as db_session:
            login: tuple[str, str] = staff_ui.ensure_demo_user(db_session=db_session, password=staff_password)
            return login
    finally:
        db.dispose()
