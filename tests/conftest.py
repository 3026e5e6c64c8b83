"""Fixtures shared by every test. Database tests run once on SQLite and once on PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from bot import catalog, clock
from bot.settings import Settings
from nlu import dates as nlu_dates
from tests.support import DatabaseFactory, LiveApp, live_app, postgres_unreachable_reason

BACKENDS = ("sqlite", "postgresql")
_pg_reason = postgres_unreachable_reason()


def pytest_report_header(config: pytest.Config) -> str:
    if _pg_reason:
        return f"PostgreSQL half: SKIPPED — {_pg_reason}"
    return "PostgreSQL half: on (MADOGUCHI_TEST_POSTGRES_URL)"


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if _pg_reason:
        terminalreporter.write_line(
            f"NOTE: the PostgreSQL half of the suite was SKIPPED: {_pg_reason}.", yellow=True, bold=True
        )


@pytest.fixture(scope="session")
def db_factory(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DatabaseFactory]:
    factory = DatabaseFactory(Path(tmp_path_factory.mktemp("databases")))
    yield factory
    factory.close()


@pytest.fixture(params=BACKENDS)
def database_url(request: pytest.FixtureRequest, db_factory: DatabaseFactory) -> Iterator[str]:
    """A fresh, migrated database: SQLite, then PostgreSQL (skipped, and said so, if unreachable)."""
    if request.param == "postgresql":
        if _pg_reason:
            pytest.skip(_pg_reason)
        url = db_factory.postgresql()
    else:
        url = db_factory.sqlite()
    yield url
    db_factory.drop(url)


@pytest.fixture
def app(database_url: str) -> Iterator[LiveApp]:
    """The whole product on a real port, with the LINE sandbox standing in for LINE."""
    with live_app(database_url) as running:
        yield running


@pytest.fixture(autouse=True)
def _real_clock() -> Iterator[None]:
    yield
    clock.travel_to(None)


@pytest.fixture(autouse=True, scope="session")
def _one_clock() -> None:
    """As in every process of the product: the NLU's "today" is the one clock's."""
    nlu_dates.use_clock(clock.now)


@pytest.fixture(autouse=True)
def _default_city() -> Iterator[None]:
    """A test that builds an app for another city leaves the demo city's facts behind it."""
    yield
    catalog.use_settings(Settings())


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"
