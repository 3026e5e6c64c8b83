"""/api/v1 with staff tokens: what each endpoint answers, and that OpenAPI documents it."""

from __future__ import annotations

import httpx

from admin import audit
from admin.models import StaffRole
from bot.inbox import InboxEvent, InboxStatus
from tests.admin.conftest import SignedIn, add_citizen, add_dead_letter
from tests.support import LiveApp


def test_me_answers_the_tokens_staff_member(staff: dict[StaffRole, SignedIn]) -> None:
    for role, person in staff.items():
        with person.api() as api:
            me = api.get("/api/v1/me").json()
        assert me["name"] == person.name and me["role"] == role.value
        assert me["sees_personal_data"] == (role in (StaffRole.ADMIN, StaffRole.COUNTER))


def test_citizens_pages_searches_and_masks(admin_app: LiveApp, staff: dict[StaffRole, SignedIn]) -> None:
    ids = [add_citizen(admin_app, f"市民{i}") for i in range(5)]
    add_citizen(admin_app, "瀬戸内 花子", blocked=True)
    with staff[StaffRole.COUNTER].api() as api:
        first = api.get("/api/v1/citizens", params={"limit": 4}).json()
        second = api.get("/api/v1/citizens", params={"limit": 4, "offset": 4}).json()
        found = api.get("/api/v1/citizens", params={"q": "花子"}).json()
    assert len(first["items"]) == 4 and first["has_more"] is True
    assert len(second["items"]) == 2 and second["has_more"] is False
    assert first["counts"] == {"following": 5, "blocked": 1}
    assert {c["line_user_id"] for c in first["items"] + second["items"]} >= set(ids)
    assert [c["display_name"] for c in found["items"]] == ["瀬戸内 花子"]
    assert found["items"][0]["status"] == "blocked"

    with staff[StaffRole.VIEWER].api() as api:
        masked = api.get("/api/v1/citizens").json()
        search = api.get("/api/v1/citizens", params={"q": "花子"})
    assert all(c["masked"] and c["display_name"] is None and "••••" in c["line_user_id"] for c in masked["items"])
    assert masked["counts"] == {"following": 5, "blocked": 1}
    assert search.status_code == 403


def test_inbox_status_dead_letters_and_retry(admin_app: LiveApp, staff: dict[StaffRole, SignedIn]) -> None:
    event_id = add_dead_letter(admin_app, error="KeyError: 'x'")
    with staff[StaffRole.VIEWER].api() as api:
        status = api.get("/api/v1/inbox/status").json()
        dead = api.get("/api/v1/inbox/dead").json()
        refused = api.post(f"/api/v1/inbox/dead/{event_id}/retry")
    assert status["dead_letters"] == 1 and status["inbox"]["dead"] == 1 and status["failed_messages"] == 0
    assert [(d["id"], d["last_error"], d["attempts"]) for d in dead] == [(event_id, "KeyError: 'x'", 5)]
    assert refused.status_code == 403

    with staff[StaffRole.ADMIN].api() as api:
        retried = api.post(f"/api/v1/inbox/dead/{event_id}/retry")
        missing = api.post(f"/api/v1/inbox/dead/{event_id}/retry")
    assert retried.status_code == 200 and retried.json()["status"] == "pending"
    assert missing.status_code == 404
    with admin_app.db.session() as db_session:
        assert db_session.get(InboxEvent, event_id).status != InboxStatus.DEAD
        entry = audit.get_all(db_session=db_session, action="inbox.retry")[0]
    assert entry.via == "api" and entry.staff_name == "admin-user"


def test_audit_is_for_admins_and_filters(staff: dict[StaffRole, SignedIn]) -> None:
    with staff[StaffRole.COUNTER].api() as api:
        assert api.get("/api/v1/audit").status_code == 403
    with staff[StaffRole.ADMIN].api() as api:
        everything = api.get("/api/v1/audit").json()
        logins = api.get("/api/v1/audit", params={"action": "login", "limit": 2}).json()
        nothing = api.get("/api/v1/audit", params={"since": "2999-01-01"}).json()
        extreme = api.get("/api/v1/audit", params={"since": "0001-01-01", "until": "9999-12-31"})
    assert everything["total"] >= 8  # 4 users created, 4 logins
    assert logins["total"] == 4 and len(logins["items"]) == 2
    assert all(e["action"] == "login" for e in logins["items"])
    assert nothing["total"] == 0
    assert extreme.status_code == 200 and extreme.json()["total"] == everything["total"]


def test_openapi_documents_the_staff_api(admin_app: LiveApp) -> None:
    schema = httpx.get(f"{admin_app.base_url}/api/openapi.json").json()
    paths = {p for p in schema["paths"] if p.startswith("/api/v1/")}
    assert {"/api/v1/me", "/api/v1/citizens", "/api/v1/inbox/status", "/api/v1/inbox/dead", "/api/v1/audit"} <= paths
    assert not any(p.startswith("/admin") for p in schema["paths"])  # pages are not API
    assert schema["components"]["securitySchemes"]["HTTPBearer"]["scheme"] == "bearer"
    me = schema["paths"]["/api/v1/me"]["get"]
    assert {"200", "401", "403"} <= set(me["responses"]) and me["security"] == [{"HTTPBearer": []}]
    assert "404" in schema["paths"]["/api/v1/inbox/dead/{inbox_event_id}/retry"]["post"]["responses"]
