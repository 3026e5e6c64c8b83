"""/api/v1/broadcasts end to end, on SQLite and PostgreSQL: a broadcast created with a staff token is
resolved to its audience when it starts and delivered by the engine to the LINE sandbox, each
recipient once; the two-person rule (all friends, 緊急), quiet hours, schedules, cancel, recurring
runs, the counts and each recipient's outcome."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from admin.models import AuditEntry, StaffRole
from bot import citizens as citizen_service
from bot import clock
from handlers.broadcasts import jobs
from handlers.broadcasts.models import Subscription, Topic
from handlers.garbage.models import GarbagePreference
from tests.admin.conftest import add_staff, new_token
from tests.support import LiveApp, wait_until

# Wednesday 2 December 2026, 10:00 Tokyo: a working morning, outside quiet hours.
MORNING = datetime(2026, 12, 2, 10, 0, tzinfo=clock.TOKYO)


@pytest.fixture
def api_app(app: LiveApp) -> Iterator[LiveApp]:
    clock.travel_to(MORNING)
    app.app.state.scheduler.pause()  # runs start when the test says so (jobs.run_due)
    yield app
    clock.travel_to(None)


@pytest.fixture
def api(api_app: LiveApp) -> Iterator[dict[str, httpx.Client]]:
    """Clients by name: two broadcasters (author and approver), a viewer, a counter clerk."""
    clients = {}
    for name, role in (
        ("author", StaffRole.BROADCASTER),
        ("second", StaffRole.BROADCASTER),
        ("viewer", StaffRole.VIEWER),
        ("counter", StaffRole.COUNTER),
    ):
        add_staff(api_app, name, role)
        clients[name] = httpx.Client(
            base_url=api_app.base_url, headers={"Authorization": f"Bearer {new_token(api_app, name)}"}, timeout=30
        )
    yield clients
    for client in clients.values():
        client.close()


def topic(app: LiveApp, key: str, name: str) -> None:
    with app.db.session() as db_session:
        db_session.add(Topic(key=key, name=name, keywords=[], updated_at=clock.now()))


def citizen(app: LiveApp, *, topics: tuple[str, ...] = (), district: str | None = None, blocked: bool = False) -> str:
    """A LINE friend the sandbox knows, subscribed to these topics, living in `district`."""
    user_id = "U" + uuid.uuid4().hex
    app.sandbox.add_user(user_id, "市民")
    with app.db.session() as db_session:
        citizen_service.follow(db_session=db_session, line_user_id=user_id, profile=None)
        if blocked:
            citizen_service.block(db_session=db_session, line_user_id=user_id)
        for key in topics:
            topic_id = db_session.scalar(select(Topic.id).where(Topic.key == key))
            db_session.add(Subscription(line_user_id=user_id, topic_id=topic_id, created_at=clock.now()))
        if district:
            db_session.add(GarbagePreference(line_user_id=user_id, district=district, updated_at=clock.now()))
    return user_id


def received(app: LiveApp, user_id: str, text: str) -> int:
    """How many times the sandbox delivered a message with this text to this user."""
    return sum(
        1
        for delivery in app.sandbox.deliveries(to=user_id)
        for message in delivery.messages
        if message.get("text") == text or text in str(message.get("altText", ""))
    )


def finished(client: httpx.Client, broadcast_id: int) -> dict[str, Any]:
    def done() -> dict[str, Any] | None:
        body = client.get(f"/api/v1/broadcasts/{broadcast_id}").json()
        return body if body["status"] in ("done", "cancelled") else None

    body: dict[str, Any] = wait_until(done, timeout=20, what="the broadcast finished")
    # What "done" says, the figures say too (one reading of the engine: no sent=0 beside done).
    assert body["status"] == "cancelled" or body["counts"]["remaining"] == 0, body["counts"]
    return body


def run_due(app: LiveApp) -> tuple[int, int]:
    return jobs.run_due(db=app.db, settings=app.settings)


def test_a_topic_broadcast_reaches_each_subscriber_once_and_nobody_else(
    api_app: LiveApp, api: dict[str, httpx.Client]
) -> None:
    topic(api_app, "bousai", "防災")
    topic(api_app, "kosodate", "子育て")
    ushimado = citizen(api_app, topics=("bousai",), district="牛窓")
    oku = citizen(api_app, topics=("bousai", "kosodate"), district="邑久")
    blocked = citizen(api_app, topics=("bousai",), blocked=True)
    other = citizen(api_app, topics=("kosodate",))
    text = "台風10号の接近に備え、避難所の開設準備をしています。"

    created = api["author"].post("/api/v1/broadcasts", json={"text": text, "audience": {"topics": ["bousai"]}})
    assert created.status_code == 201, created.text
    assert created.json()["status"] == "sending"
    body = finished(api["author"], created.json()["id"])

    assert body["status"] == "done"
    assert body["counts"] == {"total": 3, "sent": 2, "failed": 0, "skipped": 1, "remaining": 0}
    assert [received(api_app, u, text) for u in (ushimado, oku, blocked, other)] == [1, 1, 0, 0]
    outcomes = api["viewer"].get(f"/api/v1/broadcasts/{body['id']}/recipients").json()
    assert sorted((o["line_user_id"], o["status"]) for o in outcomes) == sorted(
        [(ushimado, "sent"), (oku, "sent"), (blocked, "skipped")]
    )


def test_districts_narrow_the_audience_and_alone_reach_everyone_living_there(
    api_app: LiveApp, api: dict[str, httpx.Client]
) -> None:
    topic(api_app, "bousai", "防災")
    ushimado = citizen(api_app, topics=("bousai",), district="牛窓")
    oku = citizen(api_app, topics=("bousai",), district="邑久")
    ushimado_unsubscribed = citizen(api_app, district="牛窓")

    narrow = api["author"].post(
        "/api/v1/broadcasts",
        json={"text": "牛窓地区の避難指示", "audience": {"topics": ["bousai"], "districts": ["牛窓"]}},
    )
    assert narrow.status_code == 201, narrow.text
    assert finished(api["author"], narrow.json()["id"])["counts"]["sent"] == 1
    assert [received(api_app, u, "牛窓地区の避難指示") for u in (ushimado, oku, ushimado_unsubscribed)] == [1, 0, 0]

    reach = api["author"].post("/api/v1/broadcasts/reach", json={"audience": {"districts": ["牛窓"]}})
    assert reach.json() == {"reach": 2}
    everyone = api["author"].post(
        "/api/v1/broadcasts", json={"text": "牛窓の皆さまへ", "audience": {"districts": ["牛窓"]}}
    )
    assert finished(api["author"], everyone.json()["id"])["counts"]["sent"] == 2
    assert [received(api_app, u, "牛窓の皆さまへ") for u in (ushimado, oku, ushimado_unsubscribed)] == [1, 0, 1]


def test_all_friends_waits_for_a_second_person_and_the_author_cannot_approve(
    api_app: LiveApp, api: dict[str, httpx.Client]
) -> None:
    friends = [citizen(api_app) for _ in range(3)]
    created = api["author"].post(
        "/api/v1/broadcasts", json={"text": "市からのお知らせです。", "audience": {"all": True}}
    )
    assert created.status_code == 201, created.text
    broadcast_id = created.json()["id"]
    assert created.json()["status"] == "awaiting_approval"
    assert run_due(api_app) == (0, 0)
    assert [received(api_app, u, "市からのお知らせです。") for u in friends] == [0, 0, 0]

    own = api["author"].post(f"/api/v1/broadcasts/{broadcast_id}/approve")
    assert own.status_code == 403
    assert api["viewer"].post(f"/api/v1/broadcasts/{broadcast_id}/approve").status_code == 403
    assert api["counter"].post(f"/api/v1/broadcasts/{broadcast_id}/approve").status_code == 403
    assert api["author"].get(f"/api/v1/broadcasts/{broadcast_id}").json()["status"] == "awaiting_approval"

    approved = api["second"].post(f"/api/v1/broadcasts/{broadcast_id}/approve")
    assert approved.status_code == 200, approved.text
    assert approved.json()["approved_by"] == "second"
    body = finished(api["author"], broadcast_id)
    assert body["counts"]["sent"] == 3, body
    assert [received(api_app, u, "市からのお知らせです。") for u in friends] == [1, 1, 1]
    assert api["second"].post(f"/api/v1/broadcasts/{broadcast_id}/approve").status_code == 409

    with api_app.db.session() as db_session:
        steps = list(
            db_session.execute(
                select(AuditEntry.action, AuditEntry.staff_name)
                .where(AuditEntry.target_type == "broadcast", AuditEntry.target_id == str(broadcast_id))
                .order_by(AuditEntry.id)
            )
        )
    assert steps == [("broadcast.create", "author"), ("broadcast.approve", "second")]


def test_quiet_hours_hold_a_normal_message_until_morning_but_not_an_urgent_one(
    api_app: LiveApp, api: dict[str, httpx.Client]
) -> None:
    topic(api_app, "bousai", "防災")
    user = citizen(api_app, topics=("bousai",))
    clock.travel_to(datetime(2026, 12, 2, 22, 30, tzinfo=clock.TOKYO))

    normal = api["author"].post(
        "/api/v1/broadcasts", json={"text": "明日の検診のご案内", "audience": {"topics": ["bousai"]}}
    )
    assert normal.json()["status"] == "scheduled"
    assert normal.json()["next_run_at"].startswith("2026-12-02T23:00:00")  # 08:00 Tokyo, in UTC
    urgent = api["author"].post(
        "/api/v1/broadcasts",
        json={"text": "土砂災害警戒情報が出ました", "audience": {"topics": ["bousai"]}, "urgent": True},
    )
    assert urgent.json()["status"] == "awaiting_approval"
    assert api["second"].post(f"/api/v1/broadcasts/{urgent.json()['id']}/approve").json()["status"] == "sending"
    urgent_done = finished(api["author"], urgent.json()["id"])
    assert urgent_done["counts"]["sent"] == 1, (
        urgent_done["counts"],
        api["author"].get(f"/api/v1/broadcasts/{urgent.json()['id']}/recipients").json(),
    )
    assert received(api_app, user, "土砂災害警戒情報が出ました") == 1

    clock.travel_to(datetime(2026, 12, 3, 7, 59, tzinfo=clock.TOKYO))
    assert run_due(api_app)[0] == 0
    assert received(api_app, user, "明日の検診のご案内") == 0
    clock.travel_to(datetime(2026, 12, 3, 8, 0, 5, tzinfo=clock.TOKYO))
    assert run_due(api_app)[0] == 1
    morning = finished(api["author"], normal.json()["id"])
    assert morning["counts"]["sent"] == 1, (morning["counts"], morning["next_run_at"], morning["status"])
    assert received(api_app, user, "明日の検診のご案内") == 1
    assert run_due(api_app)[0] == 0  # started once


def test_a_scheduled_broadcast_can_be_cancelled_and_then_never_goes(
    api_app: LiveApp, api: dict[str, httpx.Client]
) -> None:
    topic(api_app, "event", "イベント")
    user = citizen(api_app, topics=("event",))
    send_at = (MORNING + timedelta(hours=3)).isoformat()
    created = api["author"].post(
        "/api/v1/broadcasts", json={"text": "秋祭りのお知らせ", "audience": {"topics": ["event"]}, "send_at": send_at}
    )
    assert created.json()["status"] == "scheduled"
    broadcast_id = created.json()["id"]
    assert api["viewer"].post(f"/api/v1/broadcasts/{broadcast_id}/cancel").status_code == 403
    cancelled = api["second"].post(f"/api/v1/broadcasts/{broadcast_id}/cancel")
    assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled"
    clock.travel_to(MORNING + timedelta(hours=4))
    assert run_due(api_app)[0] == 0
    assert received(api_app, user, "秋祭りのお知らせ") == 0
    assert api["second"].post(f"/api/v1/broadcasts/{broadcast_id}/cancel").status_code == 409


def test_a_monthly_broadcast_plans_its_next_run_when_one_starts(api_app: LiveApp, api: dict[str, httpx.Client]) -> None:
    topic(api_app, "gomi", "ごみ")
    user = citizen(api_app, topics=("gomi",))
    first = datetime(2027, 1, 1, 9, 0, tzinfo=clock.TOKYO)
    created = api["author"].post(
        "/api/v1/broadcasts",
        json={
            "text": "今月のごみ収集日です。",
            "audience": {"topics": ["gomi"]},
            "send_at": first.isoformat(),
            "recurrence": {"monthly_day": 1},
        },
    )
    assert created.status_code == 201, created.text
    assert created.json()["next_run_at"].startswith("2027-01-01T00:00:00")
    clock.travel_to(first + timedelta(seconds=5))
    assert run_due(api_app)[0] == 1
    wait_until(lambda: received(api_app, user, "今月のごみ収集日です。") == 1, what="the first run delivered")
    wait_until(lambda: run_due(api_app)[1] == 1 or None, what="the run finished")
    body = api["author"].get(f"/api/v1/broadcasts/{created.json()['id']}").json()
    assert body["status"] == "scheduled"
    assert body["next_run_at"].startswith("2027-02-01T00:00:00")


@pytest.mark.parametrize(
    ("body", "status"),
    [
        ({"text": "x", "audience": {"all": True, "topics": ["bousai"]}}, 422),
        ({"text": "x", "audience": {}}, 422),
        ({"text": "x", "audience": {"topics": ["no-such-topic"]}}, 422),
        ({"text": "x", "audience": {"groups": [999]}}, 422),
        ({"text": "x", "audience": {"groups": [-261590124627150]}}, 422),  # beyond the database's integer
        ({"text": "x", "audience": {"groups": [2**31]}}, 422),
        ({"text": "😀" * 2501, "audience": {"topics": ["bousai"]}}, 422),  # 5,002 UTF-16 units
        ({"text": "   ", "audience": {"topics": ["bousai"]}}, 422),
        ({"text": "a\x00b", "audience": {"topics": ["bousai"]}}, 422),  # PostgreSQL refuses NUL
        ({"text": "x", "audience": {"districts": ["牛\x00窓"]}}, 422),
        ({"text": "x", "audience": {"topics": ["bousai"]}, "send_at": "2026-12-01T10:00:00+09:00"}, 422),
    ],
)
def test_what_cannot_be_sent_is_refused_with_a_reason(
    api_app: LiveApp, api: dict[str, httpx.Client], body: dict[str, Any], status: int
) -> None:
    topic(api_app, "bousai", "防災")
    refused = api["author"].post("/api/v1/broadcasts", json=body)
    assert refused.status_code == status, refused.text
    assert refused.json()["detail"]
    assert api["author"].get("/api/v1/broadcasts").json() == []


def test_unknown_ids_are_404_and_viewers_and_clerks_cannot_create(
    api_app: LiveApp, api: dict[str, httpx.Client]
) -> None:
    for path in ("/api/v1/broadcasts/999", "/api/v1/broadcasts/0", "/api/v1/broadcasts/99999999999"):
        assert api["viewer"].get(path).status_code == 404
    for name in ("viewer", "counter"):
        response = api[name].post("/api/v1/broadcasts", json={"text": "x", "audience": {"all": True}})
        assert response.status_code == 403
