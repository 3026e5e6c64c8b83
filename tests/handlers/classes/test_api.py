"""/api/v1/classes with staff tokens: sessions (list, create, read, change), the roster, phone
signups, cancel and attendance; who may do what, who sees names, and the errors (404, 409, 422)."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from admin.models import Actor, AuditEntry, StaffRole
from bot import clock
from bot.outbox import OutboxMessage
from handlers.classes import flows
from handlers.classes.models import Channel, Details, SessionCreate
from handlers.classes.service import sessions
from handlers.classes.service import signups as signup_service
from tests.admin.conftest import add_staff, new_token
from tests.handlers.classes.conftest import NOW
from tests.support import LiveApp

STARTS = NOW + timedelta(days=14)  # Tuesday 8 December 2026, 10:00 Tokyo
CHUO = {"name": "中央公民館", "address": "岡山県瀬戸内市邑久町尾張465-1", "latitude": 34.663322, "longitude": 134.09375}
HANAKO = {"name": "瀬戸内 花子", "furigana": "せとうち はなこ", "phone": "090-1234-5678", "phone_type": "android"}


@pytest.fixture
def api_app(app: LiveApp) -> Iterator[LiveApp]:
    clock.travel_to(NOW)
    app.app.state.scheduler.pause()  # no reminder or draw runs behind the tests' back
    yield app


@pytest.fixture
def api(api_app: LiveApp) -> Iterator[dict[StaffRole, httpx.Client]]:
    """An API client per role (Bearer token)."""
    clients = {}
    for role in StaffRole:
        name = f"{role.value}-user"
        add_staff(api_app, name, role)
        clients[role] = httpx.Client(
            base_url=api_app.base_url, headers={"Authorization": f"Bearer {new_token(api_app, name)}"}, timeout=30
        )
    yield clients
    for client in clients.values():
        client.close()


def session_body(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "title": "はじめてのスマホ教室",
        "starts_at": STARTS.isoformat(),
        "ends_at": (STARTS + timedelta(minutes=90)).isoformat(),
        "venue": CHUO,
        "capacity": 2,
    }
    return {**body, **overrides}


def person(n: int) -> dict[str, Any]:
    # Furigana is kana only (no digits): one different kana per person.
    return {"name": f"受講者{n}", "furigana": "じゅこうしゃ" + chr(ord("ア") + 2 * n), "phone": f"0869-{n:02d}-{n:04d}"}


def audit(app: LiveApp, action: str) -> list[AuditEntry]:
    with app.db.session() as db_session:
        return list(db_session.scalars(select(AuditEntry).where(AuditEntry.action == action).order_by(AuditEntry.id)))


def test_sessions_are_created_listed_read_and_changed(api_app: LiveApp, api: dict[StaffRole, httpx.Client]) -> None:
    counter, viewer = api[StaffRole.COUNTER], api[StaffRole.VIEWER]
    created = counter.post("/api/v1/classes/sessions", json=session_body())
    assert created.status_code == 201, created.text
    first = created.json()
    assert isinstance(first["id"], int) and first["title"] == "はじめてのスマホ教室"
    assert (first["venue"], first["venue_address"], first["latitude"]) == ("中央公民館", CHUO["address"], 34.663322)
    assert (first["mode"], first["status"], first["capacity"]) == ("first_come", "open", 2)
    assert (first["confirmed"], first["waitlisted"], first["applied"], first["places_left"]) == (0, 0, 0, 2)
    # A venue by name; a lottery with a deadline and a priority group; a time without offset is Tokyo's.
    january = counter.post(
        "/api/v1/classes/sessions",
        json=session_body(
            title="LINEの使い方",
            starts_at="2027-01-12T13:30:00",
            ends_at="2027-01-12T15:00:00",
            venue="牛窓町公民館",
            capacity=10,
            mode="lottery",
            signup_deadline="2027-01-05T17:00:00+09:00",
            priority_age=75,
            level="basic",
            phones=["iphone", "android"],
        ),
    )
    assert january.status_code == 201, january.text
    lottery = january.json()
    assert (lottery["mode"], lottery["priority_age"], lottery["venue"], lottery["level"]) == (
        "lottery",
        75,
        "牛窓町公民館",
        "basic",
    )
    assert lottery["starts_at"] == "2027-01-12T04:30:00Z" and lottery["signup_deadline"] == "2027-01-05T08:00:00Z"
    past_times = {"starts_at": NOW - timedelta(days=3), "ends_at": NOW - timedelta(days=3, hours=-1)}
    refused_past = counter.post(
        "/api/v1/classes/sessions",
        json=session_body(**{name: value.isoformat() for name, value in past_times.items()}),
    )
    assert refused_past.status_code == 422 and "future" in refused_past.json()["detail"]  # not in the past
    with api_app.db.session() as db_session:  # one that took place already
        past_id = sessions.create(
            db_session=db_session, session_in=SessionCreate(**{**session_body(), **past_times})
        ).id

    # Invalid sessions: 422, saying what is wrong.
    for bad, says in (
        (session_body(ends_at=(STARTS - timedelta(hours=1)).isoformat()), "ends_at must be after starts_at"),
        (session_body(capacity=-1), "capacity"),
        (session_body(mode="raffle"), "mode"),
        (session_body(signup_deadline=(STARTS + timedelta(days=1)).isoformat()), "signup_deadline"),
        (session_body(venue=""), "venue"),
        (session_body(venue={"address": "どこか"}), "name"),
        ({k: v for k, v in session_body().items() if k != "title"}, "title"),
        (session_body(starts_at="来週の火曜"), "starts_at"),
    ):
        refused = counter.post("/api/v1/classes/sessions", json=bad)
        assert refused.status_code == 422, (bad, refused.text)
        assert says in refused.text, (says, refused.text)

    # The list: upcoming by default (soonest first), past ones on request, by month, by venue.
    def listed(**params: str) -> list[int]:
        response = viewer.get("/api/v1/classes/sessions", params=params)
        assert response.status_code == 200, response.text
        return [s["id"] for s in response.json()]

    assert listed() == [first["id"], lottery["id"]]
    assert listed(include_past="true") == [past_id, first["id"], lottery["id"]]
    assert listed(month="2027-01") == [lottery["id"]]
    assert listed(month="2026-11", include_past="true") == [past_id]
    assert listed(venue="牛窓町公民館") == [lottery["id"]]
    assert listed(venue="どこにもない") == []
    for bad_month in ("2027-13", "2027-1", "January"):
        assert viewer.get("/api/v1/classes/sessions", params={"month": bad_month}).status_code == 422
    row = viewer.get("/api/v1/classes/sessions").json()[0]
    assert {"confirmed", "waitlisted", "applied", "places_left"} <= set(row)

    # One session; ids that do not exist (or cannot) are 404.
    assert viewer.get(f"/api/v1/classes/sessions/{first['id']}").json() == first
    for missing in ("999999", str(2**31), str(2**63), "99999999999999999999", "0", "-1"):
        response = viewer.get(f"/api/v1/classes/sessions/{missing}")
        assert response.status_code == 404 and response.json()["detail"] == "その教室は見つかりません。", missing
        assert counter.patch(f"/api/v1/classes/sessions/{missing}", json={"title": "x"}).status_code == 404
    assert viewer.get("/api/v1/classes/sessions/abc").status_code == 422

    # Changes: fields, the venue object; refused changes are 422 and leave the session as it was.
    url = f"/api/v1/classes/sessions/{first['id']}"
    changed = counter.patch(url, json={"title": "はじめてのスマホ（午前）", "venue": {"name": "長船町公民館"}})
    assert changed.status_code == 200, changed.text
    assert (changed.json()["title"], changed.json()["venue"], changed.json()["venue_address"]) == (
        "はじめてのスマホ（午前）",
        "長船町公民館",
        "",
    )
    assert changed.json()["promoted"] == []
    for bad in (
        {"ends_at": (STARTS - timedelta(hours=1)).isoformat()},
        {"title": None},
        {"capacity": 501},
        {"signup_deadline": (STARTS + timedelta(hours=1)).isoformat()},
    ):
        refused = counter.patch(url, json=bad)
        assert refused.status_code == 422, (bad, refused.text)
    ends = counter.patch(url, json={"ends_at": (STARTS - timedelta(hours=1)).isoformat()}).json()["detail"]
    assert ends.startswith("教室の内容が正しくありません") and "ends_at" in ends
    assert viewer.get(url).json()["title"] == "はじめてのスマホ（午前）"

    # Viewers read only; broadcasters have no business here.
    assert viewer.post("/api/v1/classes/sessions", json=session_body()).status_code == 403
    assert viewer.patch(url, json={"title": "x"}).status_code == 403
    broadcaster = api[StaffRole.BROADCASTER]
    assert broadcaster.get("/api/v1/classes/sessions").status_code == 403
    assert broadcaster.get(url).status_code == 403
    assert api[StaffRole.ADMIN].patch(url, json={"capacity": 3}).json()["capacity"] == 3

    created_audit = audit(api_app, "class.session_create")
    assert [(e.via, e.staff_name) for e in created_audit] == [("api", "counter-user")] * 2
    updates = audit(api_app, "class.session_update")
    assert [(e.via, e.staff_name) for e in updates] == [("api", "counter-user"), ("api", "admin-user")]
    before, after = updates[0].before or {}, updates[0].after or {}
    assert (before["title"], after["title"]) == ("はじめてのスマホ教室", "はじめてのスマホ（午前）")


def test_phone_signups_the_roster_cancel_and_attendance(api_app: LiveApp, api: dict[StaffRole, httpx.Client]) -> None:
    counter, viewer, admin = api[StaffRole.COUNTER], api[StaffRole.VIEWER], api[StaffRole.ADMIN]
    session_id = counter.post("/api/v1/classes/sessions", json=session_body(capacity=2)).json()["id"]
    signups_url = f"/api/v1/classes/sessions/{session_id}/signups"

    # A LINE citizen signs up in the chat (the service, as the flow would): they are told of a promotion.
    line_user = "U" + uuid.uuid4().hex
    with api_app.db.session() as db_session:
        on_line = signup_service.create(
            db_session=db_session,
            session_id=session_id,
            details=Details(name="牛窓 太郎", furigana="ウシマド タロウ", phone="0869-34-5678"),
            channel=Channel.LINE,
            settings=api_app.settings,
            line_user_id=line_user,
        ).signup.id

    created = counter.post(signups_url, json=HANAKO)
    assert created.status_code == 201, created.text
    hanako = created.json()
    assert (hanako["status"], hanako["channel"], hanako["waitlist_position"]) == ("confirmed", "phone", None)
    assert hanako["details"]["name"] == "瀬戸内 花子" and hanako["qr_token"]
    assert hanako["needs_phone_call"] is True
    # Full: the next ones wait, in order; taken at the counter this time.
    waiting = [counter.post(signups_url, json={**person(n), "channel": "counter"}).json() for n in (1, 2)]
    assert [(w["status"], w["waitlist_position"], w["channel"]) for w in waiting] == [
        ("waitlisted", 1, "counter"),
        ("waitlisted", 2, "counter"),
    ]

    # The same person again, however written: 409. Bad input: 422. No such session: 404.
    again = counter.post(signups_url, json={"name": "瀬戸内花子", "furigana": "セトウチハナコ", "phone": "09012345678"})
    assert again.status_code == 409 and again.json()["detail"] == "この方はすでにこの教室に申し込んでいます。"
    for bad in ({"furigana": "なまえなし"}, {**person(3), "channel": "line"}, {**person(3), "age_group": "100"}):
        assert counter.post(signups_url, json=bad).status_code == 422, bad
    assert counter.post("/api/v1/classes/sessions/999999/signups", json=person(3)).status_code == 404
    assert counter.post(f"/api/v1/classes/sessions/{2**40}/signups", json=person(3)).status_code == 404

    # The roster: every signup with its status; names only for counter and admin.
    def roster(client: httpx.Client) -> list[dict[str, Any]]:
        response = client.get(signups_url)
        assert response.status_code == 200, response.text
        return response.json()

    seen = roster(counter)
    assert [(s["id"], s["status"], s["waitlist_position"]) for s in seen] == [
        (on_line, "confirmed", None),
        (hanako["id"], "confirmed", None),
        (waiting[0]["id"], "waitlisted", 1),
        (waiting[1]["id"], "waitlisted", 2),
    ]
    assert [s["details"]["name"] for s in seen] == ["牛窓 太郎", "瀬戸内 花子", "受講者1", "受講者2"]
    assert [s["channel"] for s in seen] == ["line", "phone", "counter", "counter"]
    assert [s["details"]["name"] for s in roster(admin)] == ["牛窓 太郎", "瀬戸内 花子", "受講者1", "受講者2"]
    masked = roster(viewer)
    assert [(s["id"], s["status"], s["waitlist_position"], s["channel"]) for s in masked] == [
        (s["id"], s["status"], s["waitlist_position"], s["channel"]) for s in seen
    ]
    text = json.dumps(masked, ensure_ascii=False)
    assert all(s["details"] is None for s in masked)
    assert not any(secret in text for secret in ("瀬戸内", "牛窓", "受講者", "0869-", "090-1234", "qr_token"))
    assert api[StaffRole.BROADCASTER].get(signups_url).status_code == 403
    assert viewer.get("/api/v1/classes/sessions/999999/signups").status_code == 404
    assert viewer.get(f"/api/v1/classes/sessions/{session_id}").json()["waitlisted"] == 2

    # Cancel: the place goes to the first waiting; twice is 409; no body is fine.
    cancelled = counter.post(f"/api/v1/classes/signups/{hanako['id']}/cancel", json={"reason": "電話で取り消し"})
    assert cancelled.status_code == 200, cancelled.text
    body = cancelled.json()
    assert (body["status"], body["cancel_reason"], body["promoted"]) == (
        "cancelled",
        "電話で取り消し",
        [waiting[0]["id"]],
    )
    twice = counter.post(f"/api/v1/classes/signups/{hanako['id']}/cancel")
    assert twice.status_code == 409 and twice.json()["detail"] == "この申込の状態では、その操作はできません。"
    # The LINE citizen cancels by phone: the place goes on, and nobody else waits.
    by_phone = counter.post(f"/api/v1/classes/signups/{on_line}/cancel")
    assert by_phone.status_code == 200 and by_phone.json()["promoted"] == [waiting[1]["id"]]
    assert [(s["id"], s["status"]) for s in roster(counter) if s["status"] != "cancelled"] == [
        (waiting[0]["id"], "confirmed"),
        (waiting[1]["id"], "confirmed"),
    ]
    with api_app.db.session() as db_session:
        told = db_session.scalars(select(OutboxMessage).where(OutboxMessage.to == line_user)).all()
    assert [m.purpose for m in told] == [f"class_cancelled:{on_line}"]  # told on LINE
    for missing in ("999999", str(2**31), "99999999999999999999"):
        assert counter.post(f"/api/v1/classes/signups/{missing}/cancel").status_code == 404
        assert counter.post(f"/api/v1/classes/signups/{missing}/attendance").status_code == 404

    # More places move the waitlist up (PATCH capacity), and say who moved.
    more = [counter.post(signups_url, json=person(n)).json() for n in (4, 5, 6)]
    assert [m["status"] for m in more] == ["waitlisted"] * 3
    grown = counter.patch(f"/api/v1/classes/sessions/{session_id}", json={"capacity": 4})
    assert grown.status_code == 200 and grown.json()["promoted"] == [more[0]["id"], more[1]["id"]]
    assert (grown.json()["confirmed"], grown.json()["waitlisted"], grown.json()["places_left"]) == (4, 1, 0)

    # Attendance: confirmed only; false unticks; waiting or cancelled is 409.
    url = f"/api/v1/classes/signups/{waiting[0]['id']}/attendance"
    ticked = counter.post(url)
    assert ticked.status_code == 200 and ticked.json()["attended_at"] is not None
    unticked = counter.post(url, json={"attended": False})
    assert unticked.status_code == 200 and unticked.json()["attended_at"] is None
    assert admin.post(url, json={"attended": True}).json()["attended_at"] is not None
    assert counter.post(f"/api/v1/classes/signups/{more[2]['id']}/attendance").status_code == 409
    assert counter.post(f"/api/v1/classes/signups/{hanako['id']}/attendance").status_code == 409
    assert counter.post(url, json={"attended": "maybe"}).status_code == 422

    # Viewers change nothing.
    assert viewer.post(signups_url, json=person(9)).status_code == 403
    assert viewer.post(f"/api/v1/classes/signups/{more[2]['id']}/cancel").status_code == 403
    assert viewer.post(url, json={"attended": False}).status_code == 403

    # Every change was a staff action: audited (via the API), without names.
    kinds = {
        action: [(e.via, e.target_id) for e in audit(api_app, action)]
        for action in ("class.signup_create", "class.signup_cancel", "class.attendance")
    }
    assert len(kinds["class.signup_create"]) == 6 and all(via == "api" for via, _ in kinds["class.signup_create"])
    assert kinds["class.signup_cancel"] == [("api", str(hanako["id"])), ("api", str(on_line))]
    assert len(kinds["class.attendance"]) == 3
    with api_app.db.session() as db_session:
        logged = json.dumps(
            [e.before for e in db_session.scalars(select(AuditEntry))]
            + [e.after for e in db_session.scalars(select(AuditEntry))],
            ensure_ascii=False,
            default=str,
        )
    assert not any(secret in logged for secret in ("瀬戸内 花子", "受講者1", "090-1234-5678", hanako["qr_token"]))


def test_signups_to_a_lottery_a_started_or_a_called_off_session(
    api_app: LiveApp, api: dict[StaffRole, httpx.Client]
) -> None:
    counter = api[StaffRole.COUNTER]
    # A citizen waiting on LINE is told when a cancel taken by phone gives them the place.
    one_place = counter.post("/api/v1/classes/sessions", json=session_body(capacity=1)).json()
    phoned = counter.post(f"/api/v1/classes/sessions/{one_place['id']}/signups", json=person(7)).json()
    line_user = "U" + uuid.uuid4().hex
    with api_app.db.session() as db_session:
        waiting = signup_service.create(
            db_session=db_session,
            session_id=one_place["id"],
            details=Details(name="牛窓 太郎", furigana="ウシマド タロウ", phone="0869-34-5678"),
            channel=Channel.LINE,
            settings=api_app.settings,
            line_user_id=line_user,
        ).signup
    assert waiting.status == "waitlisted"
    assert counter.post(f"/api/v1/classes/signups/{phoned['id']}/cancel").json()["promoted"] == [waiting.id]
    with api_app.db.session() as db_session:
        told = db_session.scalars(select(OutboxMessage.purpose).where(OutboxMessage.to == line_user)).all()
    assert told == [f"class_promoted:{waiting.id}"]

    lottery = counter.post("/api/v1/classes/sessions", json=session_body(mode="lottery", priority_age=75)).json()
    applied = counter.post(f"/api/v1/classes/sessions/{lottery['id']}/signups", json={**person(1), "age_group": "80"})
    assert applied.status_code == 201 and applied.json()["status"] == "applied" and applied.json()["priority"]
    assert counter.get(f"/api/v1/classes/sessions/{lottery['id']}").json()["applied"] == 1

    soon = counter.post(
        "/api/v1/classes/sessions",
        json=session_body(
            starts_at=(NOW + timedelta(hours=1)).isoformat(), ends_at=(NOW + timedelta(hours=2)).isoformat()
        ),
    ).json()
    called_off = counter.post("/api/v1/classes/sessions", json=session_body()).json()
    with api_app.db.session() as db_session:
        session = sessions.get(db_session=db_session, session_id=called_off["id"])
        assert session is not None
        flows.cancel_session(db_session=db_session, session=session, reason="台風", actor=Actor.system())
    clock.travel_to(NOW + timedelta(hours=1, minutes=5))
    for session_id in (soon["id"], called_off["id"]):
        refused = counter.post(f"/api/v1/classes/sessions/{session_id}/signups", json=person(2))
        assert refused.status_code == 409, refused.text
        assert refused.json()["detail"].startswith("この教室は申込を受け付けていません")
    cancelled = counter.get("/api/v1/classes/sessions", params={"include_past": "true"}).json()
    assert {s["id"]: s["status"] for s in cancelled}[called_off["id"]] == "cancelled"


def test_openapi_documents_the_classes_api(api_app: LiveApp) -> None:
    schema = httpx.get(f"{api_app.base_url}/api/openapi.json").json()
    paths = schema["paths"]
    assert set(paths["/api/v1/classes/sessions"]) == {"get", "post"}
    assert set(paths["/api/v1/classes/sessions/{session_id}"]) == {"get", "patch"}
    assert set(paths["/api/v1/classes/sessions/{session_id}/signups"]) == {"get", "post"}
    assert "post" in paths["/api/v1/classes/signups/{signup_id}/cancel"]
    assert "post" in paths["/api/v1/classes/signups/{signup_id}/attendance"]
    assert {"201", "404", "409", "422"} <= set(
        paths["/api/v1/classes/sessions/{session_id}/signups"]["post"]["responses"]
    )
