"""FAQ test fixtures: a live app whose database holds the seed FAQ. The chat helpers (new_citizen,
say, tap, quick_replies) are in tests.support."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from handlers.faq import service as faq_service
from tests.support import LiveApp


@pytest.fixture
def faq_app(app: LiveApp) -> Iterator[LiveApp]:
    with app.db.session() as db_session:
        faq_service.seed(db_session=db_session)
    yield app
