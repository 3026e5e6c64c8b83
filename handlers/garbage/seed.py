"""Demo data: the sample garbage calendar (data/garbage_sample.yml), loaded when there is none."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy.orm import Session

from handlers.garbage import service as garbage_service

SAMPLE_FILE = Path(__file__).parent / "data" / "garbage_sample.yml"


def seed(*, db_session: Session) -> bool:
    """Loads the sample calendar when there is none (a city's own calendar is kept)."""
    if garbage_service.has_calendar(db_session=db_session):
        return False
    garbage_service.replace_calendar(db_session=db_session, text=SAMPLE_FILE.read_text(encoding="utf-8"))
    return True
