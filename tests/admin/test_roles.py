"""Every admin page and API route × every role, generated from the live app's routes.

A route added later (a capability's section) is covered without touching this file: its allowed
roles are read from the `require_role` guards on it, and viewers may never change anything (a
POST marked read-only, such as "parse this text", they may call).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

import httpx
from fastapi.routing import iter_route_contexts
from sqlalchemy import select

from admin.auth import SAFE_METHODS, is_read_only
from admin.models import ApiToken, StaffRole, StaffUser
from tests.admin.conftest import SignedIn
from tests.support import LiveApp

PUBLIC = {("GET", "/admin"), ("GET", "/admin/login"), ("POST", "/admin/login"), ("POST", "/admin/logout")}


@dataclass(frozen=True)
class Endpoint:
    method: str
    path: str
    allowed: frozenset[StaffRole]

    @property
    def url(self) -> str:
        # Path parameters get an id that does not exist: the role check must answer before any lookup.
        return re.sub(r"\{[^}]+\}", "999999", self.path)

    @property
    def is_api(self) -> bool:
        return self.path.startswith("/api/")


def _guards(dependant: object) -> Iterator[frozenset[StaffRole]]:
    call = getattr(dependant, "call", None)
    allowed = getattr(call, "allowed_roles", None)
    if allowed is not None:
        yield allowed
    for sub in getattr(dependant, "dependencies", []):
        yield from _guards(sub)


def protected_endpoints(app: LiveApp) -> list[Endpoint]:
    endpoints = []
    # FastAPI includes routers lazily; iter_route_contexts sees each route with its inherited guards.
    for route in iter_route_contexts(app.app.routes):
        path, methods = route.path or "", route.methods
        if not methods or not (path.startswith("/admin") or path.startswith("/api/v1")):
            continue
        for method in sorted(methods - {"HEAD"}):
            if (method, path) in PUBLIC:
                continue
            allowed = frozenset(StaffRole)
            for guard in _guards(route.dependant):
                allowed &= guard
            if method not in SAFE_METHODS and not is_read_only(route.original_route):
                allowed -= {StaffRole.VIEWER}
            endpoints.append(Endpoint(method, path, allowed))
    return endpoints


def request_as(person: SignedIn | None, endpoint: Endpoint, base_url: str) -> httpx.Response:
    headers: dict[str, str] = {}
    if person is None:
        client = httpx.Client(base_url=base_url, follow_redirects=False, timeout=10)
    elif endpoint.is_api:
        client = person.api()
    else:
        client = person.client
        if endpoint.method not in SAFE_METHODS:
            headers["x-csrf-token"] = person.csrf
    return client.request(endpoint.method, endpoint.url, headers=headers)


def test_the_matrix_covers_the_admin(admin_app: LiveApp) -> None:
    endpoints = {(e.method, e.path): e for e in protected_endpoints(admin_app)}
    for expected in [
        ("GET", "/admin/"),
        ("GET", "/admin/citizens"),
        ("GET", "/admin/audit"),
        ("GET", "/admin/settings/users"),
        ("POST", "/admin/inbox/dead/{inbox_event_id}/retry"),
        ("GET", "/admin/reservations"),
        ("GET", "/api/v1/me"),
        ("POST", "/api/v1/inbox/dead/{inbox_event_id}/retry"),
        ("GET", "/api/v1/audit"),
    ]:
        assert expected in endpoints
    assert endpoints[("GET", "/admin/audit")].allowed == {StaffRole.ADMIN}
    assert endpoints[("GET", "/admin/reservations")].allowed == {StaffRole.ADMIN, StaffRole.COUNTER, StaffRole.VIEWER}
    assert endpoints[("POST", "/api/v1/inbox/dead/{inbox_event_id}/retry")].allowed == {StaffRole.ADMIN}


def test_each_role_is_refused_what_it_may_not_do(admin_app: LiveApp, staff: dict[StaffRole, SignedIn]) -> None:
    problems = []
    for endpoint in protected_endpoints(admin_app):
        for role, person in staff.items():
            response = request_as(person, endpoint, admin_app.base_url)
            refused = response.status_code == 403
            if role in endpoint.allowed:
                signed_out = response.status_code in (401, 303) and "/admin/login" in response.headers.get(
                    "location", "/admin/login"
                )
                if refused or signed_out or response.status_code >= 500:
                    problems.append(f"{role} was refused {endpoint.method} {endpoint.url}: {response.status_code}")
            elif not refused:
                problems.append(f"{role} was allowed {endpoint.method} {endpoint.url}: {response.status_code}")
    assert not problems, "\n".join(problems)


def test_anonymous_requests_get_the_login_page_or_401_never_data(
    admin_app: LiveApp, staff: dict[StaffRole, SignedIn]
) -> None:
    problems = []
    for endpoint in protected_endpoints(admin_app):
        response = request_as(None, endpoint, admin_app.base_url)
        if endpoint.is_api:
            ok = response.status_code == 401 and response.headers.get("www-authenticate") == "Bearer"
            ok = ok and set(response.json()) == {"detail"}
        else:
            ok = response.status_code == 303 and response.headers["location"].startswith("/admin/login")
            ok = ok and response.text == ""
        if not ok:
            problems.append(f"anonymous {endpoint.method} {endpoint.url}: {response.status_code}")
    assert not problems, "\n".join(problems)


def test_a_forged_malformed_or_revoked_token_gets_401(admin_app: LiveApp, staff: dict[StaffRole, SignedIn]) -> None:
    me = f"{admin_app.base_url}/api/v1/me"
    counter_token = staff[StaffRole.COUNTER].token
    for header in ("Bearer mdg_not-a-real-token", "Bearer", f"Basic {counter_token}", counter_token):
        assert httpx.get(me, headers={"Authorization": header}).status_code == 401, header
    assert httpx.get(me, headers={"Authorization": f"Bearer {counter_token}"}).status_code == 200
    with admin_app.db.session() as db_session:
        token_id = db_session.scalars(
            select(ApiToken.id)
            .join(StaffUser, StaffUser.id == ApiToken.staff_user_id)
            .where(StaffUser.name == staff[StaffRole.COUNTER].name)
        ).one()
    assert staff[StaffRole.ADMIN].post(f"/admin/settings/tokens/{token_id}/revoke").status_code == 303
    assert httpx.get(me, headers={"Authorization": f"Bearer {counter_token}"}).status_code == 401


def test_the_api_ignores_session_cookies(admin_app: LiveApp, staff: dict[StaffRole, SignedIn]) -> None:
    cookie = staff[StaffRole.ADMIN].client.cookies["madoguchi_session"]
    response = httpx.get(f"{admin_app.base_url}/api/v1/me", headers={"Cookie": f"madoguchi_session={cookie}"})
    assert response.status_code == 401


def test_nav_shows_each_role_only_its_sections(staff: dict[StaffRole, SignedIn]) -> None:
    def nav_links(person: SignedIn) -> set[str]:
        html = person.client.get("/admin/").text
        nav = html.split('<nav class="site-nav"', 1)[1].split("</nav>", 1)[0]
        return set(re.findall(r'href="([^"]+)"', nav))

    assert {"/admin/audit", "/admin/settings", "/admin/broadcasts"} <= nav_links(staff[StaffRole.ADMIN])
    counter = nav_links(staff[StaffRole.COUNTER])
    assert "/admin/reservations" in counter and "/admin/audit" not in counter and "/admin/broadcasts" not in counter
    broadcaster = nav_links(staff[StaffRole.BROADCASTER])
    assert "/admin/broadcasts" in broadcaster and "/admin/reservations" not in broadcaster
    assert "/admin/settings" not in nav_links(staff[StaffRole.VIEWER])
