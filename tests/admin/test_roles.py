"""Every admin page and API route × every role, against a table written by hand.

ROUTES below says who may do what. It is the specification, not a copy of what the code declares:
a route that appears in the app and is not in the table fails the test (add it by hand, deciding who
may use it), and so does a role that is refused something the table allows it, or allowed something
the table does not.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import httpx
from fastapi.routing import iter_route_contexts
from sqlalchemy import select

from admin.auth import SAFE_METHODS
from admin.models import ApiToken, StaffRole, StaffUser
from tests.admin.conftest import SignedIn
from tests.support import LiveApp

# Anyone may call these (the login page and its form, and signing out; the LINE message renderer
# the admin's previews load, public like the rest of /admin/static).
PUBLIC = {
    ("GET", "/admin"),
    ("GET", "/admin/login"),
    ("POST", "/admin/login"),
    ("POST", "/admin/logout"),
    ("GET", "/admin/static/line-render.js"),
    ("GET", "/admin/static/line-render.css"),
}

ROLE_LETTERS = {"a": StaffRole.ADMIN, "c": StaffRole.COUNTER, "b": StaffRole.BROADCASTER, "v": StaffRole.VIEWER}

# Who may: a = admin, c = counter, b = broadcaster, v = viewer. Viewers only read (GET, and the POSTs
# that change nothing: nlu/parse, faq/ask). Everything else under /admin and /api/v1 is here.
ROUTES: list[tuple[str, str, str]] = [
    # --- the admin pages -------------------------------------------------------------------------
    ("GET", "/admin/", "acbv"),
    ("GET", "/admin/citizens", "acbv"),
    ("GET", "/admin/citizens/{citizen_id}", "acbv"),
    ("GET", "/admin/audit", "a"),
    ("GET", "/admin/inbox/dead", "av"),
    ("POST", "/admin/inbox/dead/{inbox_event_id}/retry", "a"),
    ("GET", "/admin/settings", "a"),
    ("GET", "/admin/settings/users", "a"),
    ("POST", "/admin/settings/users", "a"),
    ("POST", "/admin/settings/users/{staff_user_id}", "a"),
    ("POST", "/admin/settings/users/{staff_user_id}/password", "a"),
    ("POST", "/admin/settings/users/{staff_user_id}/unlock", "a"),
    ("GET", "/admin/settings/tokens", "a"),
    ("POST", "/admin/settings/tokens", "a"),
    ("POST", "/admin/settings/tokens/{api_token_id}/revoke", "a"),
    # 予約・受付: the counter's; viewers see lists and counts, never the printout with answers.
    ("GET", "/admin/reservations", "acv"),
    ("GET", "/admin/reservations/static/{name}", "acv"),
    ("POST", "/admin/reservations/lookup", "ac"),
    ("POST", "/admin/reservations/lookup/verify", "ac"),
    ("POST", "/admin/reservations/slots/{slot_id}", "ac"),
    ("GET", "/admin/reservations/{reservation_id}", "acv"),
    ("GET", "/admin/reservations/{reservation_id}/print", "ac"),
    ("POST", "/admin/reservations/{reservation_id}/visit", "ac"),
    ("POST", "/admin/reservations/{reservation_id}/cancel", "ac"),
    ("GET", "/admin/reservations-new", "ac"),
    ("POST", "/admin/reservations-new", "ac"),
    ("GET", "/admin/reservations-setup", "acv"),
    ("POST", "/admin/reservations-setup/procedures", "ac"),
    ("POST", "/admin/reservations-setup/offices", "ac"),
    ("POST", "/admin/reservations-setup/rules", "ac"),
    ("POST", "/admin/reservations-setup/rules/{rule_id}/delete", "ac"),
    ("POST", "/admin/reservations-setup/closures", "ac"),
    ("POST", "/admin/reservations-setup/closures/{closure_id}/delete", "ac"),
    ("POST", "/admin/reservations-setup/purge", "a"),
    # よくある質問: everyone reads entries, feedback and the 未回答 counts; what citizens typed (a
    # question's page) and every change are the counter's and the admin's.
    ("GET", "/admin/faq", "acbv"),
    ("GET", "/admin/faq/new", "ac"),
    ("POST", "/admin/faq/new", "ac"),
    ("GET", "/admin/faq/entries/{faq_id}", "acbv"),
    ("POST", "/admin/faq/entries/{faq_id}", "ac"),
    ("POST", "/admin/faq/entries/{faq_id}/deactivate", "ac"),
    ("POST", "/admin/faq/entries/{faq_id}/reactivate", "ac"),
    ("GET", "/admin/faq/unanswered", "acbv"),
    ("GET", "/admin/faq/unanswered/{question_id}", "ac"),
    ("POST", "/admin/faq/unanswered/{question_id}/new-entry", "ac"),
    ("POST", "/admin/faq/unanswered/{question_id}/alternative", "ac"),
    ("POST", "/admin/faq/unanswered/{question_id}/dismiss", "ac"),
    ("POST", "/admin/faq/unanswered/{question_id}/reopen", "ac"),
    ("GET", "/admin/faq/feedback", "acbv"),
    ("GET", "/admin/faq/static/{name}", "acbv"),
    # 地図情報: everyone reads; layers are the admin's, shelter status the counter's too.
    ("GET", "/admin/gis", "acbv"),
    ("GET", "/admin/gis/map", "acbv"),
    ("GET", "/admin/gis/shelters", "acbv"),
    ("POST", "/admin/gis/layers", "a"),
    ("POST", "/admin/gis/shelters/{place_id}/status", "ac"),
    ("POST", "/admin/gis/shelters/reset", "ac"),
    # 申請・通報: the counter's and the admin's (cases are personal data); who belongs to which department
    # is the admin's. Staff of a department see its cases only (a 404 for the others').
    ("GET", "/admin/forms", "ac"),
    ("GET", "/admin/forms/new", "ac"),
    ("POST", "/admin/forms/new", "ac"),
    ("GET", "/admin/forms/edit/{key}", "ac"),
    ("POST", "/admin/forms/edit/{key}", "ac"),
    ("POST", "/admin/forms/edit/{key}/active", "ac"),
    ("GET", "/admin/forms/map", "ac"),
    ("GET", "/admin/forms/static/{name}", "ac"),
    ("GET", "/admin/forms/departments", "a"),
    ("POST", "/admin/forms/departments/{staff_user_id}", "a"),
    ("GET", "/admin/forms/cases", "ac"),
    ("GET", "/admin/forms/export/{fmt}", "ac"),
    ("GET", "/admin/forms/cases/{submission_id}", "ac"),
    ("GET", "/admin/forms/cases/{submission_id}/photos/{token}", "ac"),
    ("POST", "/admin/forms/cases/{submission_id}/status", "ac"),
    ("POST", "/admin/forms/cases/{submission_id}/reply", "ac"),
    ("POST", "/admin/forms/cases/{submission_id}/note", "ac"),
    ("POST", "/admin/forms/cases/{submission_id}/route", "ac"),
    ("POST", "/admin/forms/cases/{submission_id}/draft", "ac"),
    ("POST", "/admin/forms/cases/{submission_id}/answer", "ac"),
    ("POST", "/admin/forms/cases/{submission_id}/approve", "ac"),
    # スマホ教室: the counter's; viewers see sessions, rosters and the CSV without personal data.
    ("GET", "/admin/classes", "acv"),
    ("GET", "/admin/classes/new", "ac"),
    ("POST", "/admin/classes/new", "ac"),
    ("GET", "/admin/classes/new-series", "ac"),
    ("POST", "/admin/classes/new-series", "ac"),
    ("GET", "/admin/classes/{session_id}", "acv"),
    ("GET", "/admin/classes/{session_id}/roster.csv", "acv"),
    ("GET", "/admin/classes/{session_id}/edit", "ac"),
    ("POST", "/admin/classes/{session_id}/edit", "ac"),
    ("POST", "/admin/classes/{session_id}/cancel", "ac"),
    ("POST", "/admin/classes/{session_id}/draw", "ac"),
    ("POST", "/admin/classes/{session_id}/signups", "ac"),
    ("POST", "/admin/classes/{session_id}/signups/{signup_id}/cancel", "ac"),
    ("POST", "/admin/classes/{session_id}/signups/{signup_id}/attendance", "ac"),
    ("POST", "/admin/classes/{session_id}/scan", "ac"),
    ("POST", "/admin/classes/{session_id}/notice", "ac"),
    # 職員対応: threads are personal data, so the counter's and the admin's only (viewers see nothing).
    ("GET", "/admin/handoff", "ac"),
    ("GET", "/admin/handoff/live", "ac"),
    ("GET", "/admin/handoff/badge", "ac"),
    ("GET", "/admin/handoff/static/{name}", "ac"),
    ("GET", "/admin/handoff/canned", "ac"),
    ("POST", "/admin/handoff/canned", "ac"),
    ("POST", "/admin/handoff/canned/{canned_reply_id}", "ac"),
    ("GET", "/admin/handoff/{handoff_request_id}", "ac"),
    ("GET", "/admin/handoff/{handoff_request_id}/messages", "ac"),
    ("GET", "/admin/handoff/{handoff_request_id}/images/{message_id}", "ac"),
    ("POST", "/admin/handoff/{handoff_request_id}/reply", "ac"),
    ("POST", "/admin/handoff/{handoff_request_id}/status", "ac"),
    ("POST", "/admin/handoff/{handoff_request_id}/assign", "ac"),
    # 配信: broadcasters compose, approve (not their own: a rule, not a role) and cancel; viewers watch.
    ("GET", "/admin/broadcasts", "abv"),
    ("GET", "/admin/broadcasts/static/{name}", "abv"),
    ("GET", "/admin/broadcasts/new", "ab"),
    ("POST", "/admin/broadcasts/new", "ab"),
    ("POST", "/admin/broadcasts/preview", "ab"),
    ("POST", "/admin/broadcasts/reach", "ab"),
    ("GET", "/admin/broadcasts/{broadcast_id}", "abv"),
    ("GET", "/admin/broadcasts/{broadcast_id}/progress", "abv"),
    ("POST", "/admin/broadcasts/{broadcast_id}/approve", "ab"),
    ("POST", "/admin/broadcasts/{broadcast_id}/cancel", "ab"),
    ("POST", "/admin/broadcasts/{broadcast_id}/test-send", "ab"),
    # 配信の分野 (topics citizens choose): broadcasters change, viewers read.
    ("GET", "/admin/broadcasts/topics", "abv"),
    ("GET", "/admin/broadcasts/topics/new", "ab"),
    ("POST", "/admin/broadcasts/topics/new", "ab"),
    ("GET", "/admin/broadcasts/topics/{key}", "abv"),
    ("POST", "/admin/broadcasts/topics/{key}", "ab"),
    ("POST", "/admin/broadcasts/topics/{key}/retire", "ab"),
    ("POST", "/admin/broadcasts/topics/{key}/reactivate", "ab"),
    ("POST", "/admin/broadcasts/topics/{key}/move", "ab"),
    # 配信グループ: broadcasters and admins manage rosters (names, codes); viewers see statuses and counts.
    ("GET", "/admin/broadcasts/groups", "abv"),
    ("POST", "/admin/broadcasts/groups", "ab"),
    ("GET", "/admin/broadcasts/groups/{group_id}", "abv"),
    ("POST", "/admin/broadcasts/groups/{group_id}/import", "ab"),
    ("POST", "/admin/broadcasts/groups/{group_id}/members", "ab"),
    ("POST", "/admin/broadcasts/groups/{group_id}/members/{member_id}/code", "ab"),
    ("POST", "/admin/broadcasts/groups/{group_id}/members/{member_id}/unlink", "ab"),
    # --- the staff API ---------------------------------------------------------------------------
    ("GET", "/api/v1/me", "acbv"),
    ("GET", "/api/v1/forms", "ac"),
    ("GET", "/api/v1/forms/{key}/submissions", "ac"),
    ("GET", "/api/v1/forms/{key}/export.csv", "ac"),
    ("GET", "/api/v1/forms/{key}/export.xlsx", "ac"),
    ("GET", "/api/v1/submissions/{submission_id}", "ac"),
    ("POST", "/api/v1/submissions/{submission_id}/status", "ac"),
    ("POST", "/api/v1/submissions/{submission_id}/reply", "ac"),
    ("POST", "/api/v1/submissions/{submission_id}/route", "ac"),
    ("POST", "/api/v1/submissions/{submission_id}/draft", "ac"),
    ("POST", "/api/v1/submissions/{submission_id}/answer", "ac"),
    ("POST", "/api/v1/submissions/{submission_id}/approve", "ac"),
    ("GET", "/api/v1/citizens", "acbv"),
    ("GET", "/api/v1/audit", "a"),
    ("GET", "/api/v1/inbox/status", "acbv"),
    ("GET", "/api/v1/inbox/dead", "av"),
    ("POST", "/api/v1/inbox/dead/{inbox_event_id}/retry", "a"),
    ("POST", "/api/v1/nlu/parse", "acbv"),  # read-only POST
    ("POST", "/api/v1/faq/ask", "acbv"),  # read-only POST
    ("GET", "/api/v1/faq/unanswered", "ac"),
    ("GET", "/api/v1/faq/feedback", "acbv"),
    ("GET", "/api/v1/faq/entries", "acbv"),
    ("POST", "/api/v1/faq/entries", "ac"),
    ("GET", "/api/v1/faq/entries/{faq_id}", "acbv"),
    ("PATCH", "/api/v1/faq/entries/{faq_id}", "ac"),
    ("POST", "/api/v1/faq/unanswered/{question_id}/resolve", "ac"),
    ("GET", "/api/v1/reservations/procedures", "acv"),
    ("GET", "/api/v1/reservations/slots", "acv"),
    ("POST", "/api/v1/reservations", "ac"),
    ("POST", "/api/v1/reservations/lookup", "ac"),
    ("GET", "/api/v1/reservations/{reservation_id}", "acv"),
    ("POST", "/api/v1/reservations/{reservation_id}/check-in", "ac"),
    ("POST", "/api/v1/reservations/{reservation_id}/cancel", "ac"),
    ("GET", "/api/v1/gis/nearest", "acbv"),
    ("GET", "/api/v1/gis/layers", "acbv"),
    ("GET", "/api/v1/gis/shelters", "acbv"),
    ("POST", "/api/v1/gis/shelters/{place_id}/status", "ac"),
    # スマホ教室: viewers read sessions and rosters (no names); signups, cancels and attendance are the counter's.
    ("GET", "/api/v1/classes/sessions", "acv"),
    ("POST", "/api/v1/classes/sessions", "ac"),
    ("GET", "/api/v1/classes/sessions/{session_id}", "acv"),
    ("PATCH", "/api/v1/classes/sessions/{session_id}", "ac"),
    ("GET", "/api/v1/classes/sessions/{session_id}/signups", "acv"),
    ("POST", "/api/v1/classes/sessions/{session_id}/signups", "ac"),
    ("POST", "/api/v1/classes/signups/{signup_id}/cancel", "ac"),
    ("POST", "/api/v1/classes/signups/{signup_id}/attendance", "ac"),
    # 配信の分野 (segments): broadcasters change, viewers read.
    ("GET", "/api/v1/segments", "abv"),
    ("POST", "/api/v1/segments", "ab"),
    ("GET", "/api/v1/segments/{key}", "abv"),
    ("PATCH", "/api/v1/segments/{key}", "ab"),
    # 職員対応: the counter's and the admin's only.
    ("GET", "/api/v1/inbox", "ac"),
    ("GET", "/api/v1/inbox/{handoff_request_id}", "ac"),
    ("POST", "/api/v1/inbox/{handoff_request_id}/reply", "ac"),
    ("POST", "/api/v1/inbox/{handoff_request_id}/status", "ac"),
    # 配信グループ: broadcasters and admins change; viewers read rosters (no names, no codes).
    ("GET", "/api/v1/broadcasts", "abv"),
    ("POST", "/api/v1/broadcasts", "ab"),
    ("POST", "/api/v1/broadcasts/reach", "ab"),
    ("GET", "/api/v1/broadcasts/{broadcast_id}", "abv"),
    ("POST", "/api/v1/broadcasts/{broadcast_id}/approve", "ab"),
    ("POST", "/api/v1/broadcasts/{broadcast_id}/cancel", "ab"),
    ("GET", "/api/v1/broadcasts/{broadcast_id}/recipients", "abv"),
    ("GET", "/api/v1/groups", "abv"),
    ("POST", "/api/v1/groups", "ab"),
    ("GET", "/api/v1/groups/{group_id}/members", "abv"),
    ("POST", "/api/v1/groups/{group_id}/members", "ab"),
    ("POST", "/api/v1/groups/{group_id}/members/{member_id}/unlink", "ab"),
    ("POST", "/api/v1/groups/{group_id}/members/{member_id}/code", "ab"),
]


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


ENDPOINTS = [Endpoint(method, path, frozenset(ROLE_LETTERS[c] for c in who)) for method, path, who in ROUTES]


def test_the_table_is_well_formed() -> None:
    keys = [(e.method, e.path) for e in ENDPOINTS]
    assert len(keys) == len(set(keys)), "a route is in the table twice"
    assert not set(keys) & PUBLIC
    for endpoint in ENDPOINTS:
        assert StaffRole.ADMIN in endpoint.allowed, f"admins may do everything: {endpoint}"
        if endpoint.method not in SAFE_METHODS and StaffRole.VIEWER in endpoint.allowed:
            assert endpoint.path in {"/api/v1/nlu/parse", "/api/v1/faq/ask"}, f"viewers change nothing: {endpoint}"


def staff_routes(app: LiveApp) -> set[tuple[str, str]]:
    """(method, path) of every route the app serves under /admin and /api/v1, the public ones aside."""
    found = set()
    # FastAPI includes routers lazily; iter_route_contexts sees every route, the included ones too.
    for route in iter_route_contexts(app.app.routes):
        path, methods = route.path or "", route.methods
        if methods and (path.startswith("/admin") or path.startswith("/api/v1")):
            found |= {(method, path) for method in methods - {"HEAD"}}
    return found - PUBLIC


def test_every_route_the_app_serves_is_in_the_table(admin_app: LiveApp) -> None:
    served = staff_routes(admin_app)
    table = {(e.method, e.path) for e in ENDPOINTS}
    missing = sorted(served - table)
    gone = sorted(table - served)
    assert not missing, f"routes not in ROUTES (add each by hand, with who may use it): {missing}"
    assert not gone, f"routes in ROUTES the app no longer serves (remove them): {gone}"


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


def test_each_role_may_do_exactly_what_the_table_says(admin_app: LiveApp, staff: dict[StaffRole, SignedIn]) -> None:
    problems = []
    for endpoint in ENDPOINTS:
        for role, person in staff.items():
            response = request_as(person, endpoint, admin_app.base_url)
            refused = response.status_code == 403
            if role in endpoint.allowed:
                # Past the role check: the answer may still be 404 (no such id) or 422 (no body), but
                # not "sign in" (the API's 401, the pages' redirect to the login page), nor a 5xx.
                if endpoint.is_api:
                    signed_out = response.status_code == 401
                else:
                    location = response.headers.get("location", "")
                    signed_out = response.status_code == 303 and location.startswith("/admin/login")
                if refused or signed_out or response.status_code >= 500:
                    problems.append(f"{role} was refused {endpoint.method} {endpoint.url}: {response.status_code}")
            elif not refused:
                problems.append(f"{role} was allowed {endpoint.method} {endpoint.url}: {response.status_code}")
    assert not problems, "\n".join(problems)


def test_anonymous_requests_get_the_login_page_or_401_never_data(admin_app: LiveApp) -> None:
    problems = []
    for endpoint in ENDPOINTS:
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
