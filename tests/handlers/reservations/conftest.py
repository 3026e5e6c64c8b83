"""Reservation test fixtures: a live app with the sample counter data on a fixed Tuesday morning.
The chat helpers (say_all, tap_all, button, message_text, ...) are in tests.support."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime

import pytest

from bot import clock
from handlers.reservations.service import seed as counter_seed
from tests.support import LiveApp

# Tuesday 24 November 2026, 10:00 in Tokyo: Wednesday the 25th is bookable (cutoff Tuesday 17:00).
TUESDAY = datetime(2026, 11, 24, 10, 0, tzinfo=clock.TOKYO)


@pytest.fixture
def rsv_app(app: LiveApp) -> Iterator[LiveApp]:
    clock.travel_to(TUESDAY)
    with app.db.session() as db_session:
        counter_seed.seed(db_session=db_session)
    yield app
