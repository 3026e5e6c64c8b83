"""Garbage test fixtures: a database and a live app holding the sample calendar. The chat helpers
(a citizen who says, taps and reads every message of the answer) are the GIS tests'."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from bot.db import Database
from handlers.garbage import seed as garbage_seed
from tests.support import LiveApp


@pytest.fixture
def db(database_url: str) -> Iterator[Database]:
    database = Database(database_url)
    with database.session() as db_session:
        garbage_seed.seed(db_session=db_session)
    yield database
    database.dispose()


@pytest.fixture
def garbage_app(app: LiveApp) -> Iterator[LiveApp]:
    with app.db.session() as db_session:
        garbage_seed.seed(db_session=db_session)
    yield app
