"""FAQ test helpers: a live app whose database holds the seed FAQ, and a citizen to chat as."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from handlers.faq import service as faq_service
from tests.support import LiveApp, post_webhook, texts, wait_until


@pytest.fixture
def faq_app(app: LiveApp) -> Iterator[LiveApp]:
    with app.db.session() as db_session:
        faq_service.seed(db_session=db_session)
    yield app


def new_citizen(app: LiveApp) -> str:
    user_id = "U" + uuid.uuid4().hex
    app.sandbox.add_user(user_id, "瀬戸内 花子")
    return user_id


def say(app: LiveApp, user: str, text: str) -> dict[str, Any]:
    """Sends a text as the citizen; answers the bot's last message (as LINE JSON)."""
    return _send(app, user, app.sandbox.make_event("text", user, text=text))


def tap(app: LiveApp, user: str, data: str) -> dict[str, Any]:
    """Taps a postback button with this data; answers the bot's last message."""
    return _send(app, user, app.sandbox.make_event("postback", user, data=data))


def _send(app: LiveApp, user: str, event: dict[str, Any]) -> dict[str, Any]:
    before = len(app.sandbox.deliveries(to=user))
    assert post_webhook(app, [event]).status_code == 200
    deliveries = wait_until(lambda: app.sandbox.deliveries(to=user)[before:], what="the bot's answer")
    return deliveries[-1].messages[-1]


def quick_replies(message: dict[str, Any]) -> list[dict[str, Any]]:
    return [item["action"] for item in (message.get("quickReply") or {}).get("items", [])]


__all__ = ["new_citizen", "quick_replies", "say", "tap", "texts"]
