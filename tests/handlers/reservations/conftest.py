"""Reservation test helpers: a live app with the sample counter data, a fixed Tuesday morning, and
a citizen who chats through the LINE sandbox."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import datetime
from typing import Any
from urllib.parse import parse_qs

import pytest

from bot import clock
from handlers.reservations.service import seed as counter_seed
from tests.support import LiveApp, post_webhook, wait_until

# Tuesday 24 November 2026, 10:00 in Tokyo: Wednesday the 25th is bookable (cutoff Tuesday 17:00).
TUESDAY = datetime(2026, 11, 24, 10, 0, tzinfo=clock.TOKYO)


@pytest.fixture
def rsv_app(app: LiveApp) -> Iterator[LiveApp]:
    clock.travel_to(TUESDAY)
    with app.db.session() as db_session:
        counter_seed.seed(db_session=db_session)
    yield app


def new_citizen(app: LiveApp, name: str = "瀬戸内 花子") -> str:
    user_id = "U" + uuid.uuid4().hex
    app.sandbox.add_user(user_id, name)
    return user_id


def _send(app: LiveApp, user: str, event: dict[str, Any]) -> list[dict[str, Any]]:
    before = len(app.sandbox.deliveries(to=user))
    assert post_webhook(app, [event]).status_code == 200
    deliveries = wait_until(lambda: app.sandbox.deliveries(to=user)[before:], what="the bot's answer")
    return [m for d in deliveries for m in d.messages]


def say(app: LiveApp, user: str, text: str) -> list[dict[str, Any]]:
    """Sends a text as the citizen; answers every message the bot sent back."""
    return _send(app, user, app.sandbox.make_event("text", user, text=text))


def tap(app: LiveApp, user: str, data: str, params: dict[str, str] | None = None) -> list[dict[str, Any]]:
    """Taps a postback button (or a date picker, with params)."""
    kwargs: dict[str, Any] = {"data": data}
    if params:
        kwargs["params"] = params
    return _send(app, user, app.sandbox.make_event("postback", user, **kwargs))


def quick_replies(message: dict[str, Any]) -> list[dict[str, Any]]:
    return [item["action"] for item in (message.get("quickReply") or {}).get("items", [])]


def fields(action: dict[str, Any]) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(action["data"]).items()}


def button(message: dict[str, Any], label_start: str) -> dict[str, Any]:
    """The quick reply or Flex footer button whose label starts with `label_start`."""
    actions = quick_replies(message)
    if message.get("type") == "flex":
        footer = (message["contents"].get("footer") or {}).get("contents", [])
        actions += [b["action"] for b in footer]
    found = [a for a in actions if a["label"].startswith(label_start)]
    assert found, f"no button {label_start!r} in {[a['label'] for a in actions]}"
    return found[0]


def message_text(message: dict[str, Any]) -> str:
    return message.get("text") or message.get("altText") or ""
