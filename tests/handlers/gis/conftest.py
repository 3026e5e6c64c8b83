"""GIS test fixtures: a live app whose database holds the demo layers, places to stand at, and
helpers that read Flex messages. The chat helpers (say_all, tap_all, send_location_all: a citizen who
reads every message of the bot's answer) are in tests.support."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from handlers.gis.service import seed as gis_seed
from tests.admin.conftest import _cheap_password_hashing, admin_app, staff  # noqa: F401  (fixtures)
from tests.support import LiveApp

# Places the tests stand at (WGS84).
USHIMADO_PORT = (34.6200, 134.1500)  # 牛窓町牛窓, near the port
CITY_HALL = (34.6650, 134.0928)  # 瀬戸内市役所, 邑久町尾張
OKAYAMA_STATION = (34.6664, 133.9180)  # 岡山市北区: outside the city


@pytest.fixture
def gis_app(app: LiveApp) -> Iterator[LiveApp]:
    with app.db.session() as db_session:
        gis_seed.seed(db_session=db_session)
    yield app


def of_type(messages: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [m for m in messages if m["type"] == kind]


def bubble_texts(bubble: dict[str, Any]) -> list[str]:
    """Every text in a Flex bubble, in order."""
    out: list[str] = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if node.get("type") == "text" and "text" in node:
                out.append(node["text"])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(bubble)
    return out
