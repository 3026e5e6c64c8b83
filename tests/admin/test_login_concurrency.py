"""Login attempts in parallel: at most ADMIN_LOGIN_MAX_FAILURES passwords are checked per account
per window, whatever the concurrency, and password hashing never holds SQLite's write lock (LINE's
acknowledgements do not wait behind it). Real HTTP against the live app."""

from __future__ import annotations

import json
import secrets
import statistics
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from typing import Any, Literal

import httpx
import pytest
from argon2 import PasswordHasher
from sqlalchemy import select

from admin import audit, users
from admin.models import LoginAttempt, StaffRole
from tests.admin.conftest import PASSWORD, add_staff, page_csrf
from tests.support import LiveApp, signed_headers, wait_until


class CountingHasher(PasswordHasher):
    """argon2 that counts the passwords it checked (every thread of the live app shares it)."""

    def __init__(self, **params: Any) -> None:
        super().__init__(**params)
        self.verified = 0
        self._count = threading.Lock()

    def verify(self, hash: str | bytes, password: str | bytes) -> Literal[True]:
        with self._count:
            self.verified += 1
        return super().verify(hash, password)

    def reached(self, count: int) -> Callable[[], bool]:
        return lambda: self.verified >= count


@contextmanager
def counting_hasher(**params: Any) -> Iterator[CountingHasher]:
    hasher = CountingHasher(**params)
    previous = users._hasher
    users.use_hasher(hasher)
    try:
        yield hasher
    finally:
        users.use_hasher(previous)


def _login_form(app: LiveApp) -> tuple[httpx.Client, str]:
    client = httpx.Client(base_url=app.base_url, follow_redirects=False, timeout=60)
    return client, page_csrf(client.get("/admin/login"))


def _post_login(client: httpx.Client, csrf: str, name: str, password: str) -> httpx.Response:
    return client.post("/admin/login", data={"name": name, "password": password, "csrf_token": csrf})


def test_parallel_attempts_check_at_most_the_limit_of_passwords(admin_app: LiveApp) -> None:
    app = admin_app
    limit = app.app.state.admin_config.login_max_failures
    # Dearer than the suite's cheap hashing, so that attempts really overlap while one is checked.
    with counting_hasher(time_cost=2, memory_cost=8192, parallelism=1) as hasher:
        add_staff(app, "hanako", StaffRole.ADMIN)
        forms = [_login_form(app) for _ in range(30)]
        start = threading.Barrier(len(forms))

        def attempt(index: int) -> int:
            client, csrf = forms[index]
            start.wait()
            if index == 0:
                # The right password, sent while the wrong ones are being checked, once the limit's
                # worth of them has been: the account is locked by then, so it must be refused.
                wait_until(hasher.reached(limit), timeout=60, what="the first checks")
                return _post_login(client, csrf, "hanako", PASSWORD).status_code
            return _post_login(client, csrf, "hanako", f"wrong-password-{index}").status_code

        with ThreadPoolExecutor(max_workers=len(forms)) as pool:
            statuses = list(pool.map(attempt, range(len(forms))))
        for client, _ in forms:
            client.close()

    assert hasher.verified <= limit, f"{hasher.verified} passwords checked"
    assert statuses[0] == 429, "the right password was accepted (or not refused as locked)"
    assert 303 not in statuses
    assert sorted(set(statuses)) == [401, 429]
    with app.db.session() as db_session:
        attempts = list(db_session.scalars(select(LoginAttempt).where(LoginAttempt.name == "hanako")))
        locks = audit.get_all(db_session=db_session, action="login.locked")
    assert len(attempts) == limit and not any(a.succeeded for a in attempts)
    assert len(locks) == 1


def _ack_latencies(app: LiveApp, count: int, *, until: Callable[[], bool] | None = None) -> list[float]:
    """Signed one-event webhooks (standby: stored, acknowledged, never answered), one at a time:
    `count` of them, and more (up to 10x) until `until` holds."""
    latencies: list[float] = []
    with httpx.Client(timeout=30) as client:
        while len(latencies) < count or (until is not None and not until() and len(latencies) < 10 * count):
            event = {
                "type": "message",
                "mode": "standby",
                "timestamp": int(time.time() * 1000),
                "webhookEventId": uuid.uuid4().hex.upper()[:26],
                "deliveryContext": {"isRedelivery": False},
                "source": {"type": "user", "userId": "U" + uuid.uuid4().hex},
                "message": {"type": "text", "id": str(secrets.randbelow(10**15)), "text": "こんにちは"},
            }
            body = json.dumps({"destination": "U" + "0" * 32, "events": [event]}).encode()
            headers = signed_headers(app.settings.line_channel_secret, body)
            started = time.perf_counter()
            response = client.post(f"{app.base_url}/callback", content=body, headers=headers)
            latencies.append(time.perf_counter() - started)
            assert response.status_code == 200
            time.sleep(0.02)
    return latencies


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_login_spraying_does_not_hold_up_lines_acknowledgements(admin_app: LiveApp) -> None:
    """Quiet and sprayed rounds alternate, so that the machine's own load weighs on both alike."""
    app = admin_app
    # Anonymous sprayers (a new name each time) from one address that is never locked: every
    # attempt checks a password (at a cost between OWASP's minimum and production's).
    app.app.state.admin_config.login_ip_max_failures = 10**6
    spraying = threading.Event()
    stop = threading.Event()
    in_flight = [0]
    count = threading.Lock()

    def spray() -> None:
        client, csrf = _login_form(app)
        try:
            while not stop.is_set():
                if not spraying.wait(timeout=0.05):
                    continue
                with count:
                    in_flight[0] += 1
                try:
                    response = _post_login(client, csrf, f"guess-{uuid.uuid4().hex[:12]}", "wrong-password")
                finally:
                    with count:
                        in_flight[0] -= 1
                assert response.status_code == 401
                csrf = page_csrf(response)
        finally:
            client.close()

    quiet: list[float] = []
    sprayed: list[float] = []
    checked_meanwhile = 0
    _ack_latencies(app, 10)  # warm up
    with counting_hasher(time_cost=6, memory_cost=19456, parallelism=1) as hasher:
        sprayers = [threading.Thread(target=spray, daemon=True) for _ in range(8)]
        for sprayer in sprayers:
            sprayer.start()
        try:
            for _ in range(3):
                wait_until(lambda: in_flight[0] == 0, timeout=60, what="the sprayers to rest")
                quiet += _ack_latencies(app, 20)
                spraying.set()
                wait_until(hasher.reached(hasher.verified + 2), timeout=60, what="the sprayers to be at work")
                checked = hasher.verified
                sprayed += _ack_latencies(app, 20, until=hasher.reached(checked + 3))
                checked_meanwhile += hasher.verified - checked
                spraying.clear()
        finally:
            stop.set()
            spraying.set()
            for sprayer in sprayers:
                sprayer.join(timeout=60)
    quiet_p50, sprayed_p50 = statistics.median(quiet), statistics.median(sprayed)
    print(f"ack p50 quiet {quiet_p50 * 1000:.1f} ms, sprayed {sprayed_p50 * 1000:.1f} ms ({checked_meanwhile} checks)")
    assert checked_meanwhile >= 9, "the sprayers were not checking passwords while the webhooks came"
    # Measured on 2 busy cores (load 5-40, other test runs), p50 spraying against quiet: with
    # argon2 inside the write lock, 68-204 ms against 5-25 ms (8-14x); outside it, with at most
    # half the cores hashing, 8-39 ms against 4-11 ms.
    assert sprayed_p50 < 4 * quiet_p50 + 0.030, (
        f"ack p50 {sprayed_p50 * 1000:.0f} ms spraying, {quiet_p50 * 1000:.0f} ms quiet"
    )
