"""NLU fixtures: the process's embedded engine (trained once, cached under var/nlu) and a fixed
reference time so dates are checked against a known day (Tuesday 24 November 2026, Tokyo)."""

from __future__ import annotations

from datetime import datetime

import pytest

from nlu import get_embedded
from nlu.dates import TOKYO
from nlu.embedded import EmbeddedEngine

REFERENCE = datetime(2026, 11, 24, 10, 0, tzinfo=TOKYO)


@pytest.fixture(scope="session")
def engine() -> EmbeddedEngine:
    return get_embedded()
