"""A failure keeps no citizen's words: a handler whose SQL fails with a citizen's name and phone
bound as parameters becomes a dead letter, and neither the dead letter staff read (page and API)
nor the log carries the name or the phone."""

from __future__ import annotations

import logging
import uuid

import httpx
import pytest
from sqlalchemy import select, text

from admin.models import StaffRole
from bot.capabilities import load as load_capabilities
from bot.capability import Capabilities, Capability
from bot.flow import END, Flow, Route, StepResult, Turn
from bot.inbox import InboxEvent, InboxStatus
from tests.admin.conftest import add_staff, new_token
from tests.support import live_app, post_webhook, wait_until

SECRET_WORDS = "山田太郎 090-1234-5678"


def _fails(turn: Turn) -> StepResult:
    """Runs SQL that fails, with the citizen's words bound as a parameter."""
    turn.db_session.execute(text("SELECT missing FROM no_such_table WHERE note = :note"), {"note": turn.text})
    return END


FAILING = Capability(
    name="failing",
    flows=(
        Flow(
            name="failing",
            entry_points=[Route(lambda turn: (turn.text or "").startswith("山田"), _fails, "x")],
        ),
    ),
)


def test_a_dead_letter_and_the_log_carry_no_bound_values(database_url: str, caplog: pytest.LogCaptureFixture) -> None:
    capabilities = Capabilities((FAILING, *load_capabilities()))
    caplog.set_level(logging.DEBUG)
    with live_app(database_url, capabilities=capabilities, inbox_max_attempts=1) as app:
        user = "U" + uuid.uuid4().hex
        app.sandbox.add_user(user, "瀬戸内 花子")
        event = app.sandbox.make_event("text", user, text=SECRET_WORDS)
        assert post_webhook(app, [event]).status_code == 200

        def dead() -> InboxEvent | None:
            with app.db.session() as db_session:
                row = db_session.scalars(select(InboxEvent).where(InboxEvent.event_key == event["webhookEventId"]))
                found = row.one_or_none()
                return found if found is not None and found.status == InboxStatus.DEAD else None

        letter = wait_until(dead, what="the dead letter")
        # Where it failed (the frames, as code) and what kind of failure, never the driver's message.
        assert letter.last_error and "[parameters:" not in letter.last_error and "[SQL:" not in letter.last_error
        assert "SQLSTATE" in letter.last_error or "OperationalError" in letter.last_error
        add_staff(app, "viewer-1", StaffRole.VIEWER)
        token = new_token(app, "viewer-1")
        shown = httpx.get(f"{app.base_url}/api/v1/inbox/dead", headers={"Authorization": f"Bearer {token}"})
        assert shown.status_code == 200 and shown.json()
    for words in ("山田", "090-1234-5678"):
        assert words not in (letter.last_error or "")
        assert words not in shown.text
        assert words not in caplog.text
