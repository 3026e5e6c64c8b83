"""Signing in and out: cookies, idle timeout, CSRF, throttling and locks."""

from __future__ import annotations

import logging
import time
from datetime import timedelta

import httpx
import pytest
from sqlalchemy import select

from admin import audit
from admin.config import AdminConfig
from admin.models import StaffRole, StaffSession, StaffUser
from admin.sessions import SESSION_COOKIE, digest, failure_delay
from bot import clock
from tests.admin.conftest import PASSWORD, SignedIn, add_staff, login_response, page_csrf, sign_in
from tests.support import LiveApp


def cookie_header(response: httpx.Response, name: str) -> str:
    for value in response.headers.get_list("set-cookie"):
        if value.startswith(f"{name}="):
            return value
    raise AssertionError(f"no {name} cookie set")


def audit_actions(app: LiveApp) -> list[str]:
    with app.db.session() as db_session:
        return [e.action for e in audit.get_all(db_session=db_session)]


def test_login_sets_a_hardened_cookie_and_logout_ends_the_session(admin_app: LiveApp) -> None:
    add_staff(admin_app, "hanako", StaffRole.COUNTER)
    client = httpx.Client(base_url=admin_app.base_url, follow_redirects=False)
    response = login_response(client, "hanako", PASSWORD)
    assert response.status_code == 303
    assert response.headers["location"] == "/admin/"
    cookie = cookie_header(response, SESSION_COOKIE).lower()
    assert "httponly" in cookie and "samesite=lax" in cookie and "path=/admin" in cookie
    assert "secure" not in cookie  # plain http here
    token = client.cookies[SESSION_COOKIE]
    with admin_app.db.session() as db_session:
        stored = db_session.scalars(select(StaffSession.token_hash)).all()
    assert token not in stored and digest(token) in stored  # only the digest is kept

    dashboard = client.get("/admin/")
    assert dashboard.status_code == 200 and "hanako" in dashboard.text

    logout = client.post("/admin/logout", data={"csrf_token": page_csrf(dashboard)})
    assert logout.status_code == 303 and logout.headers["location"] == "/admin/login"
    replay = httpx.get(f"{admin_app.base_url}/admin/", cookies={SESSION_COOKIE: token}, follow_redirects=False)
    assert replay.status_code == 303 and replay.headers["location"].startswith("/admin/login")
    assert {"login", "logout"} <= set(audit_actions(admin_app))


def test_cookie_is_secure_when_served_over_https(admin_app: LiveApp) -> None:
    add_staff(admin_app, "hanako", StaffRole.VIEWER)
    # The city's TLS proxy says so; uvicorn trusts it from 127.0.0.1 (proxy_headers).
    https = {"x-forwarded-proto": "https"}
    client = httpx.Client(base_url=admin_app.base_url, follow_redirects=False)
    assert "secure" in cookie_header(client.get("/admin/login", headers=https), "madoguchi_login_csrf").lower()
    form = client.get("/admin/login")  # (httpx keeps Secure cookies off plain http, so take this one)
    response = client.post(
        "/admin/login",
        data={"name": "hanako", "password": PASSWORD, "csrf_token": page_csrf(form)},
        headers=https,
    )
    assert response.status_code == 303
    assert "secure" in cookie_header(response, SESSION_COOKIE).lower()


def test_wrong_password_and_unknown_name_get_the_same_answer(admin_app: LiveApp) -> None:
    add_staff(admin_app, "hanako", StaffRole.VIEWER)
    client = httpx.Client(base_url=admin_app.base_url, follow_redirects=False)
    wrong = login_response(client, "hanako", "not-the-password")
    unknown = login_response(client, "nobody", "not-the-password")
    assert wrong.status_code == unknown.status_code == 401
    assert "ログイン名またはパスワードが正しくありません" in wrong.text
    assert SESSION_COOKIE not in client.cookies


def test_login_never_redirects_off_site(admin_app: LiveApp) -> None:
    add_staff(admin_app, "hanako", StaffRole.VIEWER)
    for target in ("https://evil.example/", "//evil.example/admin/", "/admin/../x", "/\\evil.example"):
        client = httpx.Client(base_url=admin_app.base_url, follow_redirects=False)
        response = login_response(client, "hanako", PASSWORD, next_url=target)
        assert response.status_code == 303
        assert response.headers["location"] == "/admin/", target
    client = httpx.Client(base_url=admin_app.base_url, follow_redirects=False)
    assert login_response(client, "hanako", PASSWORD, next_url="/admin/citizens").headers["location"] == (
        "/admin/citizens"
    )


def test_anonymous_page_request_is_sent_to_login_and_returns_there(admin_app: LiveApp) -> None:
    add_staff(admin_app, "hanako", StaffRole.ADMIN)
    client = httpx.Client(base_url=admin_app.base_url, follow_redirects=False)
    response = client.get("/admin/audit?action=login")
    assert response.status_code == 303
    assert response.headers["location"] == "/admin/login?next=%2Fadmin%2Faudit%3Faction%3Dlogin"
    login = client.get(response.headers["location"])
    assert 'value="/admin/audit?action=login"' in login.text


def test_idle_session_times_out_but_activity_keeps_it(staff: dict[StaffRole, SignedIn]) -> None:
    client = staff[StaffRole.COUNTER].client
    start = clock.now()
    clock.travel_to(start + timedelta(minutes=20))
    assert client.get("/admin/").status_code == 200
    clock.travel_to(start + timedelta(minutes=45))  # 25 minutes after the last request
    assert client.get("/admin/").status_code == 200
    clock.travel_to(start + timedelta(minutes=76))  # 31 idle minutes
    expired = client.get("/admin/citizens")
    assert expired.status_code == 303
    assert expired.headers["location"].startswith("/admin/login?") and "expired=1" in expired.headers["location"]
    assert "一定時間操作がなかった" in client.get(expired.headers["location"]).text


def test_state_changing_posts_need_the_session_csrf_token(admin_app: LiveApp, staff: dict[StaffRole, SignedIn]) -> None:
    admin = staff[StaffRole.ADMIN]
    form = {"name": "newcomer", "role": "viewer", "password": PASSWORD}
    missing = admin.client.post("/admin/settings/users", data=form)
    forged = admin.client.post("/admin/settings/users", data={**form, "csrf_token": "guessed"})
    other_session = admin.client.post(
        "/admin/settings/users", data={**form, "csrf_token": staff[StaffRole.COUNTER].csrf}
    )
    for response in (missing, forged, other_session):
        assert response.status_code == 403
        assert "不正な送信" in response.text
    with admin_app.db.session() as db_session:
        assert db_session.scalars(select(StaffUser).where(StaffUser.name == "newcomer")).first() is None

    accepted = admin.post("/admin/settings/users", form)
    assert accepted.status_code == 303
    # Logout is a state change too.
    assert admin.client.post("/admin/logout", data={"csrf_token": "guessed"}).status_code == 403


def test_login_form_has_its_own_csrf_check(admin_app: LiveApp) -> None:
    add_staff(admin_app, "hanako", StaffRole.ADMIN)
    client = httpx.Client(base_url=admin_app.base_url, follow_redirects=False)
    response = client.post("/admin/login", data={"name": "hanako", "password": PASSWORD})
    assert response.status_code == 403
    assert SESSION_COOKIE not in client.cookies


def test_repeated_failures_lock_the_account_then_the_lock_runs_out(
    admin_app: LiveApp, caplog: pytest.LogCaptureFixture
) -> None:
    add_staff(admin_app, "hanako", StaffRole.COUNTER)
    client = httpx.Client(base_url=admin_app.base_url, follow_redirects=False)
    statuses = [login_response(client, "hanako", f"wrong-password-{i}").status_code for i in range(5)]
    assert statuses == [401, 401, 401, 401, 429]
    with caplog.at_level(logging.WARNING, logger="madoguchi.admin.login"):
        locked = login_response(client, "hanako", PASSWORD)  # the right password does not help now
    assert locked.status_code == 429
    assert "一時的にログインできません" in locked.text
    assert int(locked.headers["retry-after"]) > 0
    assert any("locked" in record.getMessage() for record in caplog.records)
    assert PASSWORD not in caplog.text
    with admin_app.db.session() as db_session:
        entries = audit.get_all(db_session=db_session, action="login.locked")
    assert len(entries) == 1 and entries[0].target_id == "hanako" and entries[0].after["locked"] == ["name"]

    # Another account from the same address is not affected by this lock.
    add_staff(admin_app, "taro", StaffRole.VIEWER)
    assert login_response(client, "taro", PASSWORD).status_code == 303

    clock.travel_to(clock.now() + timedelta(minutes=16))
    assert login_response(client, "hanako", PASSWORD).status_code == 303


def test_unknown_names_are_locked_like_real_ones(admin_app: LiveApp) -> None:
    client = httpx.Client(base_url=admin_app.base_url, follow_redirects=False)
    statuses = [login_response(client, "ghost", f"wrong-password-{i}").status_code for i in range(6)]
    assert statuses == [401, 401, 401, 401, 429, 429]


def test_many_failures_from_one_address_lock_the_address(admin_app: LiveApp) -> None:
    admin_app.app.state.admin_config.login_ip_max_failures = 8
    add_staff(admin_app, "hanako", StaffRole.VIEWER)
    client = httpx.Client(base_url=admin_app.base_url, follow_redirects=False)
    statuses = [login_response(client, f"guess{i}", "wrong-password").status_code for i in range(8)]
    assert statuses[:7] == [401] * 7 and statuses[7] == 429
    assert login_response(client, "hanako", PASSWORD).status_code == 429
    with admin_app.db.session() as db_session:
        assert audit.get_all(db_session=db_session, action="login.locked")[0].after["locked"] == ["ip"]


def test_an_admin_can_lift_an_account_lock(admin_app: LiveApp, staff: dict[StaffRole, SignedIn]) -> None:
    client = httpx.Client(base_url=admin_app.base_url, follow_redirects=False)
    for i in range(5):
        login_response(client, "viewer-user", f"wrong-password-{i}")
    assert login_response(client, "viewer-user", PASSWORD).status_code == 429
    with admin_app.db.session() as db_session:
        user_id = db_session.scalars(select(StaffUser.id).where(StaffUser.name == "viewer-user")).one()
    assert staff[StaffRole.ADMIN].post(f"/admin/settings/users/{user_id}/unlock").status_code == 303
    assert login_response(client, "viewer-user", PASSWORD).status_code == 303
    assert "user.unlock" in audit_actions(admin_app)


def test_each_failure_waits_longer_before_answering(admin_app: LiveApp) -> None:
    config = AdminConfig(login_delay_seconds=0.5, login_delay_max_seconds=4)
    assert [failure_delay(n, config) for n in range(0, 7)] == [0, 0.5, 1, 2, 4, 4, 4]
    admin_app.app.state.admin_config.login_delay_seconds = 0.3
    client = httpx.Client(base_url=admin_app.base_url, follow_redirects=False)
    form = client.get("/admin/login")
    started = time.monotonic()
    client.post("/admin/login", data={"name": "hanako", "password": "wrong-password", "csrf_token": page_csrf(form)})
    assert time.monotonic() - started >= 0.3


def test_a_deactivated_member_is_signed_out_and_their_tokens_stop(
    admin_app: LiveApp, staff: dict[StaffRole, SignedIn]
) -> None:
    counter = staff[StaffRole.COUNTER]
    with counter.api() as api:
        assert api.get("/api/v1/me").status_code == 200
    with admin_app.db.session() as db_session:
        user_id = db_session.scalars(select(StaffUser.id).where(StaffUser.name == counter.name)).one()
    response = staff[StaffRole.ADMIN].post(f"/admin/settings/users/{user_id}", {"role": "counter"})  # box unticked
    assert response.status_code == 303
    assert counter.client.get("/admin/").status_code == 303
    with counter.api() as api:
        assert api.get("/api/v1/me").status_code == 401
    assert login_response(httpx.Client(base_url=admin_app.base_url), counter.name, PASSWORD).status_code == 401


def test_changing_a_password_ends_that_members_sessions(admin_app: LiveApp, staff: dict[StaffRole, SignedIn]) -> None:
    with admin_app.db.session() as db_session:
        user_id = db_session.scalars(select(StaffUser.id).where(StaffUser.name == "viewer-user")).one()
    admin = staff[StaffRole.ADMIN]
    assert admin.post(f"/admin/settings/users/{user_id}/password", {"password": "short"}).status_code == 303
    assert staff[StaffRole.VIEWER].client.get("/admin/").status_code == 200  # too short: nothing changed
    assert admin.post(f"/admin/settings/users/{user_id}/password", {"password": "a-new-password"}).status_code == 303
    assert staff[StaffRole.VIEWER].client.get("/admin/").status_code == 303
    sign_in(admin_app, "viewer-user", "a-new-password")
