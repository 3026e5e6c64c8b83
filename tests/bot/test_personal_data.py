"""Personal data leaves no plain copy behind (SQLite and PostgreSQL): after a booking on LINE
through the sandbox, its cancellation and the nightly purges, no column of any table holds the
answers the citizen typed or the QR token, and neither do the logs (uvicorn's access log included).
(Retention of what citizens asked the FAQ and staff for: test_retention.py.)"""

from __future__ import annotations

import asyncio
import logging
import subprocess
import sys
import urllib.request
import uuid
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import pytest
from apscheduler.util import ref_to_obj
from sqlalchemy import select

from bot import access_log, clock
from bot.capabilities import load
from bot.db import Base
from bot.inbox import InboxEvent, InboxStatus
from bot.outbox import OutboxMessage
from handlers.reservations.models import Reservation, ReservationStatus
from handlers.reservations.service import seed as counter_seed
from notifications import scheduler
from tests.handlers.reservations.conftest import TUESDAY
from tests.support import LiveApp, button, message_text, quick_replies, say_all, settled, tap_all, wait_until

TYPED = ["瀬戸内 花子", "せとうち はなこ", "昭和25年4月1日", "０９０－１２３４－５６７８", "瀬戸内市長船町福岡1234-5"]
# The same answers as the form keeps them (normalised): none may be found in clear either.
NORMALISED = ["セトウチ ハナコ", "1950-04-01", "09012345678", "090-1234-5678"]


@pytest.fixture
def access_log_captured(caplog: pytest.LogCaptureFixture) -> Iterator[pytest.LogCaptureFixture]:
    """Every log record at DEBUG and up, uvicorn's access lines included (they do not propagate),
    with the filter `madoguchi serve` installs."""
    caplog.set_level(logging.DEBUG)
    logger = logging.getLogger(access_log.ACCESS_LOGGER)
    level = logger.level
    logger.setLevel(logging.INFO)
    logger.addHandler(caplog.handler)
    access_log.install()
    yield caplog
    logger.removeHandler(caplog.handler)
    logger.setLevel(level)
    for installed in [f for f in logger.filters if isinstance(f, access_log.MaskMediaPaths)]:
        logger.removeFilter(installed)


def book_and_cancel(app: LiveApp, user: str) -> str:
    """住民票の写し booked on LINE, its QR image fetched as LINE would, then cancelled; answers the token."""
    answer = say_all(app, user, "予約したい")
    answer = tap_all(app, user, button(answer[-1], "住民票")["data"])
    answer = tap_all(app, user, button(answer[-1], "本庁")["data"])
    answer = tap_all(app, user, quick_replies(answer[-1])[0]["data"])
    if message_text(answer[-1]).endswith("どちらがよろしいですか？"):
        answer = tap_all(app, user, button(answer[-1], "午前")["data"])
    answer = tap_all(app, user, quick_replies(answer[-1])[0]["data"])
    for typed in TYPED:
        answer = say_all(app, user, typed)
    answer = say_all(app, user, "２通")
    confirm = str(answer[-1])
    assert "瀬戸内 花子" in confirm  # the confirmation card repeats the answers
    booked = tap_all(app, user, button(answer[-1], "この内容で予約する")["data"])
    image_url = next(m for m in booked if m["type"] == "image")["originalContentUrl"]
    token = urlsplit(image_url).path.rsplit("/", 1)[-1].removesuffix(".png")
    # Fetched without httpx, whose own log line (the client's, not the app's) would name the URL.
    with urllib.request.urlopen(image_url, timeout=10) as response:
        assert response.status == 200
    with app.db.session() as db_session:
        [reservation] = db_session.scalars(select(Reservation)).all()
    answer = tap_all(app, user, f"action=rsv_cancel&id={reservation.id}")
    answer = tap_all(app, user, button(answer[-1], "はい")["data"])
    assert "取り消" in message_text(answer[-1])
    return token


def run_nightly_jobs(app: LiveApp) -> None:
    """Every nightly job (the platform's and the capabilities'), as the scheduler runs them."""
    assert scheduler.context().db is app.db
    nightly = [job for job in (*scheduler.CORE_JOBS, *load().jobs) if job.trigger == "cron"]
    assert {"bot:retention", "faq:retention", "handoff:retention"} <= {job.id for job in nightly}
    for job in nightly:
        asyncio.run(ref_to_obj(job.func)())


def every_row(app: LiveApp) -> Iterator[tuple[str, dict[str, Any]]]:
    with app.db.engine.connect() as connection:
        for table in Base.metadata.sorted_tables:
            for row in connection.execute(select(table)).mappings():
                yield table.name, dict(row)


def test_no_plain_copy_of_a_cancelled_booking_is_left(app: LiveApp, access_log_captured: Any) -> None:
    clock.travel_to(TUESDAY)
    with app.db.session() as db_session:
        counter_seed.seed(db_session=db_session)
    user = "U" + uuid.uuid4().hex
    app.sandbox.add_user(user, "はなちゃん")
    token = book_and_cancel(app, user)
    wait_until(lambda: settled(app), what="everything processed and sent")
    run_nightly_jobs(app)

    secrets = [*TYPED, *NORMALISED, token, token.lower()]
    found = [
        (table, column, secret)
        for table, row in every_row(app)
        for column, value in row.items()
        for secret in secrets
        if secret in str(value)
    ]
    assert found == [], f"personal data left in the database: {found}"
    logged = [record.getMessage() for record in access_log_captured.records]
    assert any("/media/qr/" in line for line in logged), "the QR fetch was not logged (nothing was checked)"
    leaked = [(line, secret) for line in logged for secret in secrets if secret in line]
    assert leaked == [], f"personal data in the logs: {leaked}"

    with app.db.session() as db_session:
        [reservation] = db_session.scalars(select(Reservation)).all()
        events = db_session.scalars(select(InboxEvent)).all()
        messages = db_session.scalars(select(OutboxMessage)).all()
    # The cancelled booking keeps no answers and no token, not even encrypted.
    assert reservation.status == ReservationStatus.CANCELLED
    assert reservation.answers_enc is None and reservation.qr_token_enc is None
    # The records stay, for counting and ordering: processed events redacted, sent messages emptied.
    assert events and all(e.status == InboxStatus.DONE and e.payload.get("redacted") for e in events)
    assert {e.payload["type"] for e in events} >= {"message", "postback"}
    assert all(e.payload["source"]["userId"] == user for e in events)
    assert messages and all(m.messages == [] for m in messages)


def test_media_secrets_are_masked_in_access_lines() -> None:
    line = access_log.mask("/media/qr/ABCDEFGHIJKLMNOPQRSTUVWXYZ234567.png?size=preview")
    assert line == "/media/qr/***?size=preview"
    assert access_log.mask("/admin/reservations/3") == "/admin/reservations/3"


def test_serve_and_demo_install_the_mask() -> None:
    """What `madoguchi serve` and `demo` set up first (bot/cli.py), in a process of its own."""
    check = (
        "import logging; from bot import access_log, cli; cli._logging('WARNING'); "
        "assert any(isinstance(f, access_log.MaskMediaPaths) "
        "for f in logging.getLogger(access_log.ACCESS_LOGGER).filters)"
    )
    result = subprocess.run([sys.executable, "-c", check], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
