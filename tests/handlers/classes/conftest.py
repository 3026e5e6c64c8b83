"""Class test fixtures: a fixed morning (`NOW`), settings with a known secret, a migrated database
(SQLite, then PostgreSQL). Session and signup helpers live in each test module."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime

import pytest

from bot import clock
from bot.db import Database
from bot.settings import Settings, load_settings

# Tuesday 24 November 2026, 10:00 in Tokyo: the classes in the tests are in December.
NOW = datetime(2026, 11, 24, 10, 0, tzinfo=clock.TOKYO)


@pytest.fixture
def settings(database_url: str) -> Settings:
    return load_settings(database_url=database_url, secret_key="s" * 40, personal_data_key="")


@pytest.fixture
def db(database_url: str) -> Iterator[Database]:
    clock.travel_to(NOW)
    database = Database(database_url)
    yield database
    database.dispose()
