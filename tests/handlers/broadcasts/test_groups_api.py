"""/api/v1/groups on SQLite and PostgreSQL: the shapes other systems rely on (201 {"id"}, 201
{"members": [{"id", "name", "code"}]}, reissue 201 {"code"}), 409 for a name taken, 422 with every
bad row and nothing added, 404 for ids unknown or out of range, viewers reading without names or
codes, every change audited without personal data."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from sqlalchemy import func, select

from admin.models import AuditEntry, StaffRole
from handlers.broadcasts.models import GroupMember
from handlers.broadcasts.service import groups
from tests.admin.conftest import add_staff, new_token
from tests.support import LiveApp

HANAKO = {"name": "瀬戸内 花子", "district": "邑久", "phone": "090-1234-5678"}
TARO = {"name": "牛窓 太郎", "district": "牛窓", "phone": "0869-34-0000"}


@pytest.fixture
def clients(app: LiveApp) -> Iterator[dict[str, httpx.Client]]:
    out = {}
    for name, role in (
        ("haishin", StaffRole.BROADCASTER),
        ("etsuran", StaffRole.VIEWER),
        ("madoguchi", StaffRole.COUNTER),
    ):
        add_staff(app, name, role)
        out[name] = httpx.Client(
            base_url=f"{app.base_url}/api/v1", headers={"Authorization": f"Bearer {new_token(app, name)}"}, timeout=30
        )
    yield out
    for client in out.values():
        client.close()


def test_groups_and_members_in_the_documented_shape(app: LiveApp, clients: dict[str, httpx.Client]) -> None:
    api = clients["haishin"]
    created = api.post("/groups", json={"name": "愛育委員"})
    assert created.status_code == 201 and created.json() == {"id": created.json()["id"]}
    group_id = created.json()["id"]
    assert api.post("/groups", json={"name": "愛育委員"}).status_code == 409
    assert api.post("/groups", json={"name": ""}).status_code == 422
    assert api.post("/groups", json={"name": "　"}).status_code == 422
    assert api.post("/groups", json={}).status_code == 422

    added = api.post(f"/groups/{group_id}/members", json={"members": [HANAKO, TARO]})
    assert added.status_code == 201, added.text
    members = added.json()["members"]
    assert [set(m) for m in members] == [{"id", "name", "code"}] * 2
    assert [m["name"] for m in members] == ["瀬戸内 花子", "牛窓 太郎"]
    for member in members:
        assert groups.normalise_code(member["code"]) is not None and len(member["code"]) == 14

    listed = api.get(f"/groups/{group_id}/members").json()
    assert [(m["name"], m["district"], m["phone"], m["status"]) for m in listed] == [
        ("瀬戸内 花子", "邑久", "090-1234-5678", "pending"),
        ("牛窓 太郎", "牛窓", "0869340000", "pending"),
    ]
    assert all("code" not in m and m["code_expires_at"] for m in listed)
    assert api.get("/groups").json()[0] | {"created_at": None} == {
        "id": group_id,
        "name": "愛育委員",
        "description": "",
        "on_roster": 2,
        "linked": 0,
        "created_at": None,
    }

    reissued = api.post(f"/groups/{group_id}/members/{members[0]['id']}/code")
    assert reissued.status_code == 201 and set(reissued.json()) == {"code"}
    assert reissued.json()["code"] != members[0]["code"]
    with app.db.session() as db_session:
        old = groups.redeem(db_session=db_session, line_user_id="U1", text=members[0]["code"], settings=app.settings)
        assert old.outcome == groups.Outcome.WRONG
        new = groups.redeem(
            db_session=db_session, line_user_id="U1", text=reissued.json()["code"], settings=app.settings
        )
        assert new.outcome == groups.Outcome.LINKED
    again = api.post(f"/groups/{group_id}/members/{members[0]['id']}/code")
    assert again.status_code == 409  # registered: unlink first

    with app.db.session() as db_session:
        entries = db_session.scalars(select(AuditEntry).where(AuditEntry.action.like("member_group.%"))).all()
        assert [e.action for e in entries] == [
            "member_group.create",
            "member_group.import",
            "member_group.code_reissue",
        ]
        logged = str([(e.before, e.after, e.summary) for e in entries])
        assert "瀬戸内" not in logged and members[0]["code"] not in logged and "09012345678" not in logged


def test_a_bad_row_adds_nobody_and_every_problem_is_listed(app: LiveApp, clients: dict[str, httpx.Client]) -> None:
    api = clients["haishin"]
    group_id = api.post("/groups", json={"name": "自治会長"}).json()["id"]
    rows = [HANAKO, {"name": "", "district": "邑久"}, {"name": "東京 太郎", "district": "東京", "phone": "abc"}, HANAKO]
    rejected = api.post(f"/groups/{group_id}/members", json={"members": rows})
    assert rejected.status_code == 422
    errors = rejected.json()["detail"]["errors"]
    assert [e["row"] for e in errors] == [2, 3, 3, 4]
    assert all(isinstance(e["message"], str) and e["message"] for e in errors)
    with app.db.session() as db_session:
        assert db_session.scalar(select(func.count()).select_from(GroupMember)) == 0
    assert api.post(f"/groups/{group_id}/members", json={"members": []}).status_code == 422


@pytest.mark.parametrize("bad", ["999999", "0", "-1", "2147483648", "99999999999999999999"])
def test_unknown_or_out_of_range_ids_are_not_found(clients: dict[str, httpx.Client], bad: str) -> None:
    api = clients["haishin"]
    group_id = api.post("/groups", json={"name": "消防団"}).json()["id"]
    member_id = api.post(f"/groups/{group_id}/members", json={"members": [TARO]}).json()["members"][0]["id"]
    assert api.get(f"/groups/{bad}/members").status_code in (404, 422)
    assert api.post(f"/groups/{bad}/members", json={"members": [HANAKO]}).status_code in (404, 422)
    assert api.post(f"/groups/{group_id}/members/{bad}/unlink").status_code in (404, 422)
    assert api.post(f"/groups/{group_id}/members/{bad}/code").status_code in (404, 422)
    if bad.lstrip("-").isdigit() and int(bad) < 2**63:
        assert api.get(f"/groups/{bad}/members").status_code == 404
        assert api.post(f"/groups/{group_id}/members/{bad}/code").status_code == 404
    # A member exists, but not in this group.
    other = api.post("/groups", json={"name": f"別のグループ{bad}"}).json()["id"]
    assert api.post(f"/groups/{other}/members/{member_id}/unlink").status_code == 404


def test_viewers_read_without_names_and_change_nothing(clients: dict[str, httpx.Client]) -> None:
    group_id = clients["haishin"].post("/groups", json={"name": "愛育委員"}).json()["id"]
    member_id = (
        clients["haishin"].post(f"/groups/{group_id}/members", json={"members": [HANAKO]}).json()["members"][0]["id"]
    )
    viewer = clients["etsuran"]
    listed = viewer.get(f"/groups/{group_id}/members").json()
    assert [(m["name"], m["phone"], m["district"], m["status"]) for m in listed] == [(None, None, "邑久", "pending")]
    assert viewer.post("/groups", json={"name": "閲覧"}).status_code == 403
    assert viewer.post(f"/groups/{group_id}/members/{member_id}/code").status_code == 403
    assert viewer.post(f"/groups/{group_id}/members/{member_id}/unlink").status_code == 403
    assert clients["madoguchi"].get("/groups").status_code == 403  # not the counter's business
