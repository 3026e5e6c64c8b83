"""Forms test fixtures: settings with a known secret, and a migrated database (SQLite, then PostgreSQL)
with the demo forms, the clock at the test module's NOW."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from bot import clock
from bot.db import Database
from bot.settings import Settings, load_settings
from handlers.forms import service as forms_service
from handlers.forms.models import FormVersion


@pytest.fixture
def settings(database_url: str) -> Settings:
    return load_settings(database_url=database_url, secret_key="s" * 40, personal_data_key="")


@pytest.fixture
def db(database_url: str, request: pytest.FixtureRequest) -> Iterator[Database]:
    clock.travel_to(request.module.NOW)
    database = Database(database_url)
    with database.session() as db_session:
        forms_service.seed(db_session=db_session)
    yield database
    database.dispose()


def version_of(db: Database, key: str) -> FormVersion:
    """The form's current version, detached (its definition loaded)."""
    with db.session() as db_session:
        form = forms_service.get_form(db_session=db_session, key=key)
        assert form is not None
        version = forms_service.current_version(db_session=db_session, form=form)
        assert version is not None
        db_session.expunge(version)
        return version
