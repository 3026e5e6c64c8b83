"""Bad input at the door, on SQLite and PostgreSQL: bodies refused while they are read (no memory),
JSON nested too deeply, text both databases cannot store as sent, ids longer than LINE's, NaN,
postbacks with too many fields, and signed events replayed after the retention purge."""

from __future__ import annotations

import contextlib
import json
import socket
import time
import uuid
from datetime import timedelta
from typing import Any

from sqlalchemy import select

from bot import clock
from bot import inbox as inbox_service
from bot.catalog import t
from bot.inbox import InboxEvent, InboxStatus
from tests.support import LiveApp, post_webhook, settled, signed_headers, texts, wait_until


def _rss_bytes() -> int:
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise AssertionError("no VmRSS")


def _raw_request(app: LiveApp, head: str, body_chunks: Any = ()) -> tuple[bytes, int]:
    """Sends a request by hand; answers (the response's first bytes, how many body bytes went out
    before the server answered or closed)."""
    host, port = app.base_url.removeprefix("http://").split(":")
    sent = 0
    with socket.create_connection((host, int(port)), timeout=10) as conn:
        conn.sendall(head.encode())
        conn.setblocking(False)
        answer = b""
        for chunk in body_chunks:
            with contextlib.suppress(BlockingIOError):
                answer += conn.recv(4096)
            if answer:
                break
            try:
                conn.sendall(chunk)
            except (BlockingIOError, BrokenPipeError, ConnectionResetError):
                break
            sent += len(chunk)
        conn.setblocking(True)
        deadline = time.monotonic() + 10
        while b"\r\n" not in answer and time.monotonic() < deadline:
            try:
                more = conn.recv(4096)
            except (ConnectionResetError, TimeoutError):
                break
            if not more:
                break
            answer += more
    return answer, sent


def test_a_declared_300_mb_body_is_refused_before_it_is_read(app: LiveApp) -> None:
    before = _rss_bytes()
    for path in ("/callback", "/api/v1/faq/ask"):
        head = f"POST {path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 300000000\r\n\r\n"
        answer, _ = _raw_request(app, head)
        assert answer.startswith(b"HTTP/1.1 413"), answer[:200]
    assert _rss_bytes() - before < 20_000_000


def test_a_chunked_body_is_cut_off_at_the_limit_while_it_is_read(app: LiveApp) -> None:
    before = _rss_bytes()
    chunk = b"x" * 65536
    framed = f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n"
    head = "POST /callback HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
    answer, sent = _raw_request(app, head, (framed for _ in range(300_000_000 // len(chunk))))
    assert answer.startswith(b"HTTP/1.1 413"), answer[:200]
    assert sent < 20_000_000, f"{sent} bytes went out before the refusal"
    assert _rss_bytes() - before < 30_000_000


def test_json_nested_too_deeply_is_a_400_not_a_500(app: LiveApp) -> None:
    body = b"[" * 200_000 + b"]" * 200_000
    import httpx

    response = httpx.post(
        f"{app.base_url}/callback", content=body, headers=signed_headers(app.settings.line_channel_secret, body)
    )
    assert response.status_code == 400
    assert response.json() == {"message": "body is nested too deeply"}


def test_text_the_database_cannot_store_as_sent_loses_nothing_next_to_it(app: LiveApp) -> None:
    user = "U" + uuid.uuid4().hex
    app.sandbox.add_user(user, "瀬戸内 花子")
    nul = app.sandbox.make_event("text", user, text="こんにち\x00は")
    surrogate = app.sandbox.make_event("text", user, text="予約\ud83dしたい")
    long_id = app.sandbox.make_event("text", user, text="こんにちは")
    long_id["source"]["userId"] = "U" + "f" * 80
    nan = app.sandbox.make_event("text", user, text="ありがとう")
    nan["timestamp_extra"] = float("nan")
    normal = app.sandbox.make_event("text", user, text="こんにちは")
    body = json.dumps({"destination": "U" + "0" * 32, "events": [nul, surrogate, long_id, nan, normal]}).encode()
    import httpx

    response = httpx.post(
        f"{app.base_url}/callback", content=body, headers=signed_headers(app.settings.line_channel_secret, body)
    )
    assert response.status_code == 200
    wait_until(lambda: settled(app), what="every event handled")
    with app.db.session() as db_session:
        rows = {row.event_key: row for row in db_session.scalars(select(InboxEvent))}
    for handled in (nul, surrogate, nan, normal):
        assert rows[handled["webhookEventId"]].status == InboxStatus.DONE  # (and redacted since)
    # What is stored, read in the storing transaction (processing redacts it once answered).
    copies = [dict(event, webhookEventId="C" + event["webhookEventId"][1:]) for event in (nul, surrogate, nan)]
    with app.db.session() as db_session:
        assert inbox_service.store(db_session=db_session, raw_events=copies) == 3
        stored = {row.event_key: row.payload for row in db_session.scalars(select(InboxEvent))}
    assert stored[copies[0]["webhookEventId"]]["message"]["text"] == "こんにちは"
    assert stored[copies[1]["webhookEventId"]]["message"]["text"] == "予約\ufffdしたい"
    assert stored[copies[2]["webhookEventId"]]["timestamp_extra"] is None
    refused = rows[long_id["webhookEventId"]]
    assert refused.status == InboxStatus.REFUSED and refused.user_id is None
    assert "longer than 64" in (refused.last_error or "")
    done = [rows[e["webhookEventId"]].status for e in (nul, surrogate, nan, normal)]
    assert done == [InboxStatus.DONE] * 4
    # Four answers to this citizen (the refused event is not answered, and nobody else is).
    assert len(app.sandbox.deliveries(to=user)) == 4
    assert app.sandbox.deliveries(to="U" + "f" * 80) == []


def test_a_postback_with_too_many_fields_is_answered_once_kindly(app: LiveApp) -> None:
    user = "U" + uuid.uuid4().hex
    app.sandbox.add_user(user, "瀬戸内 花子")
    data = "&".join(f"k{i}=v" for i in range(30))
    event = app.sandbox.make_event("postback", user, data=data)
    assert post_webhook(app, [event]).status_code == 200
    wait_until(lambda: settled(app), what="the postback handled")
    with app.db.session() as db_session:
        row = db_session.scalars(select(InboxEvent).where(InboxEvent.event_key == event["webhookEventId"])).one()
    assert (row.status, row.attempts) == (InboxStatus.DONE, 1)
    # None of our buttons: the kind "not understood" with the menu, once (not the failure apology).
    assert texts(app.sandbox.deliveries(to=user)) == [t("welcome.fallback")]


def test_a_signed_event_replayed_after_the_retention_purge_is_not_answered_again(app: LiveApp) -> None:
    user = "U" + uuid.uuid4().hex
    app.sandbox.add_user(user, "瀬戸内 花子")
    days = app.settings.message_log_retention_days
    old = clock.now() - timedelta(days=days + 1)
    replay = app.sandbox.make_event("text", user, text="予約したい", timestamp=int(old.timestamp() * 1000))
    recent = app.sandbox.make_event("text", user, text="こんにちは")
    assert post_webhook(app, [replay, recent]).status_code == 200
    wait_until(lambda: settled(app), what="both events recorded")
    with app.db.session() as db_session:
        statuses = {row.event_key: (row.status, row.last_error) for row in db_session.scalars(select(InboxEvent))}
    assert statuses[replay["webhookEventId"]] == (
        InboxStatus.REFUSED,
        "older than the message-log retention (a replay)",
    )
    assert statuses[recent["webhookEventId"]][0] == InboxStatus.DONE
    assert len(app.sandbox.deliveries(to=user)) == 1


def test_no_swagger_page_loads_scripts_from_a_cdn(app: LiveApp) -> None:
    import httpx

    assert httpx.get(f"{app.base_url}/api/docs").status_code == 404
    assert httpx.get(f"{app.base_url}/api/openapi.json").json()["info"]["title"] == "madoguchi"
