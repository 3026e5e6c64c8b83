"""GIS test helpers: a live app whose database holds the demo layers, and a citizen who chats (text,
location, button taps) and reads every message of the bot's answer."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs

import pytest

from handlers.gis.service import seed as gis_seed
from tests.admin.conftest import _cheap_password_hashing, admin_app, staff  # noqa: F401  (fixtures)
from tests.support import LiveApp, post_webhook, settled, wait_until

# Places the tests stand at (WGS84).
USHIMADO_PORT = (34.6200, 134.1500)  # 牛窓町牛窓, near the port
CITY_HALL = (34.6650, 134.0928)  # 瀬戸内市役所, 邑久町尾張
OKAYAMA_STATION = (34.6664, 133.9180)  # 岡山市北区: outside the city


@pytest.fixture
def gis_app(app: LiveApp) -> Iterator[LiveApp]:
    with app.db.session() as db_session:
        gis_seed.seed(db_session=db_session)
    yield app


def new_citizen(app: LiveApp) -> str:
    user_id = "U" + uuid.uuid4().hex
    app.sandbox.add_user(user_id, "瀬戸内 花子")
    return user_id


def _send(app: LiveApp, user: str, event: dict[str, Any]) -> list[dict[str, Any]]:
    """Sends one event; answers every message of the bot's answer (a reply and any pushes after it)."""
    before = len(app.sandbox.deliveries(to=user))
    assert post_webhook(app, [event]).status_code == 200
    wait_until(lambda: app.sandbox.deliveries(to=user)[before:], what="the bot's answer")
    wait_until(lambda: settled(app), what="processing settled")
    return [m for d in app.sandbox.deliveries(to=user)[before:] for m in d.messages]


def say(app: LiveApp, user: str, text: str) -> list[dict[str, Any]]:
    return _send(app, user, app.sandbox.make_event("text", user, text=text))


def send_location(app: LiveApp, user: str, lat: float, lon: float, title: str = "現在地") -> list[dict[str, Any]]:
    event = app.sandbox.make_event("location", user, latitude=lat, longitude=lon, title=title, address="")
    return _send(app, user, event)


def tap(app: LiveApp, user: str, data: str) -> list[dict[str, Any]]:
    return _send(app, user, app.sandbox.make_event("postback", user, data=data))


def quick_replies(message: dict[str, Any]) -> list[dict[str, Any]]:
    return [item["action"] for item in (message.get("quickReply") or {}).get("items", [])]


def fields(action: dict[str, Any]) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(action.get("data", "")).items()}


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
