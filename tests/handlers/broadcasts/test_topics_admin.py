"""配信の分野 for staff through the live app (SQLite and PostgreSQL): the topics page with its counts
per topic and district, a topic added, edited, retired, brought back and moved (audited, and seen by
citizens at once), who may do what; and /api/v1/segments with a token."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import httpx
import pytest
from sqlalchemy import select

from admin.models import AuditEntry, StaffRole
from bot import citizens as citizen_service
from handlers.broadcasts.service import topics as topic_service
from handlers.garbage import service as garbage_service
from tests.admin.conftest import add_staff, new_token, page_csrf, sign_in
from tests.support import LiveApp, new_citizen, say_all

TOPICS = "/admin/broadcasts/topics"


@pytest.fixture
def topics_app(app: LiveApp) -> Iterator[LiveApp]:
    app.app.state.admin_config.login_delay_seconds = 0
    with app.db.session() as db_session:
        topic_service.seed(db_session=db_session)
    yield app


@pytest.fixture
def people(topics_app: LiveApp) -> Iterator[dict[str, httpx.Client]]:
    """Signed-in browsers: broadcaster (haishin), viewer (etsuran), counter (madoguchi)."""
    clients = {}
    for name, role in (
        ("haishin", StaffRole.BROADCASTER),
        ("etsuran", StaffRole.VIEWER),
        ("madoguchi", StaffRole.COUNTER),
    ):
        add_staff(topics_app, name, role)
        clients[name] = sign_in(topics_app, name)
    yield clients
    for client in clients.values():
        client.close()


def post(client: httpx.Client, path: str, data: dict[str, str] | None = None) -> httpx.Response:
    return client.post(path, data={"csrf_token": page_csrf(client.get("/admin/")), **(data or {})})


def subscribers(app: LiveApp) -> None:
    """Three friends: two in 牛窓 and one who never said, and one more who blocked the account."""
    with app.db.session() as db_session:
        for district, keys, blocked in (
            ("牛窓", {"bousai", "kosodate"}, False),
            ("牛窓", {"bousai"}, False),
            (None, {"bousai"}, False),
            ("邑久", {"bousai"}, True),
        ):
            user = "U" + uuid.uuid4().hex
            citizen_service.follow(db_session=db_session, line_user_id=user, profile=None)
            if blocked:
                citizen_service.block(db_session=db_session, line_user_id=user)
            if district:
                garbage_service.set_district(db_session=db_session, line_user_id=user, district=district)
            topic_service.subscribe(db_session=db_session, line_user_id=user, topic_keys=keys)


def actions(app: LiveApp) -> list[str]:
    with app.db.session() as db_session:
        return list(
            db_session.scalars(
                select(AuditEntry.action).where(AuditEntry.action.like("broadcasts.topic.%")).order_by(AuditEntry.id)
            )
        )


def test_the_topics_page_counts_and_staff_change_what_citizens_see(
    topics_app: LiveApp, people: dict[str, httpx.Client]
) -> None:
    app = topics_app
    subscribers(app)
    haishin, etsuran = people["haishin"], people["etsuran"]

    page = etsuran.get(TOPICS)
    assert page.status_code == 200
    row = page.text.split('id="topic-bousai"')[1].split("</tr>")[0]
    # 3 receive 防災 (the blocked friend not counted): 2 in 牛窓, 0 in 邑久, 1 without a district.
    assert '<td class="topic-count">3<span class="unit">人</span></td>' in row
    assert [cell.split("<")[0] for cell in row.split('<td class="topic-district">')[1:]] == ["0", "2", "0", "1"]
    assert "分野を追加" not in page.text and "/retire" not in page.text  # viewers read
    assert post(etsuran, f"{TOPICS}/new", {"key": "nougyou", "name": "農業"}).status_code == 403
    assert people["madoguchi"].get(TOPICS).status_code == 403

    # Added: citizens can choose it at once, in words too.
    added = post(haishin, f"{TOPICS}/new", {"key": "nougyou", "name": "農業", "keywords": "のうぎょう、田んぼ"})
    assert added.status_code == 303, added.text
    assert "農業" in haishin.get(TOPICS).text
    user = new_citizen(app)
    (reply,) = say_all(app, user, "田んぼのお知らせもほしい")
    assert reply["altText"].startswith("「農業」のお知らせを受け取ります。")

    # Refused: a key taken, a bad key, no name. Nothing half-saved.
    for form, problem in (
        ({"key": "nougyou", "name": "農業2"}, "そのキーの分野はすでにあります"),
        ({"key": "Bad Key", "name": "x"}, "キーは半角英小文字で始め"),
        ({"key": "empty", "name": ""}, "名前を入力してください"),
    ):
        refused = post(haishin, f"{TOPICS}/new", form)
        assert refused.status_code == 400 and problem in refused.text, form

    # Edited: renamed, keywords; retired (hidden from citizens); back; moved up.
    edited = post(haishin, f"{TOPICS}/kosodate", {"name": "子育て・教育", "keywords": "こそだて\n学校"})
    assert edited.status_code == 303
    assert post(haishin, f"{TOPICS}/event/retire").status_code == 303
    (card,) = say_all(app, user, "配信設定")
    assert "子育て・教育：受け取らない" in card["altText"] and "イベント" not in card["altText"]
    (school,) = say_all(app, user, "学校のお知らせもほしい")
    assert school["altText"].startswith("「子育て・教育」のお知らせを受け取ります。")
    assert post(haishin, f"{TOPICS}/event/reactivate").status_code == 303
    assert post(haishin, f"{TOPICS}/gomi/move", {"direction": "up"}).status_code == 303
    with app.db.session() as db_session:
        order = [t.key for t in topic_service.get_all(db_session=db_session)]
    assert order == ["bousai", "kosodate", "kenko", "sumaho", "gomi", "event", "nougyou"]
    assert post(haishin, f"{TOPICS}/nothere/retire").status_code == 404
    assert actions(app) == [
        "broadcasts.topic.create",
        "broadcasts.topic.update",
        "broadcasts.topic.retire",
        "broadcasts.topic.reactivate",
        "broadcasts.topic.move",
    ]


def test_the_segments_api(topics_app: LiveApp) -> None:
    app = topics_app
    subscribers(app)
    add_staff(app, "haishin", StaffRole.BROADCASTER)
    add_staff(app, "etsuran", StaffRole.VIEWER)
    writer = httpx.Client(base_url=app.base_url, headers={"Authorization": f"Bearer {new_token(app, 'haishin')}"})
    reader = httpx.Client(base_url=app.base_url, headers={"Authorization": f"Bearer {new_token(app, 'etsuran')}"})
    with writer, reader:
        listed = reader.get("/api/v1/segments")
        assert listed.status_code == 200
        body = listed.json()
        assert body["topics"][0] == {
            "key": "bousai",
            "name": "防災",
            "description": "大雨・台風・地震などの避難情報や、防災の備え",
            "keywords": body["topics"][0]["keywords"],
            "default_on": True,
            "is_active": True,
            "subscribers": 3,
        }
        assert [t["key"] for t in body["topics"]] == ["bousai", "kosodate", "kenko", "sumaho", "event", "gomi"]
        assert body["districts"] == [
            {"name": "邑久", "citizens": 0},
            {"name": "牛窓", "citizens": 2},
            {"name": "長船", "citizens": 0},
        ]

        created = writer.post("/api/v1/segments", json={"key": "kankou", "name": "観光", "keywords": ["かんこう"]})
        assert created.status_code == 201, created.text
        assert created.json() == {
            "key": "kankou",
            "name": "観光",
            "description": "",
            "keywords": ["かんこう"],
            "default_on": False,
            "is_active": True,
            "subscribers": 0,
        }
        assert writer.post("/api/v1/segments", json={"key": "kankou", "name": "観光"}).status_code == 409
        for bad in (
            {"key": "Kankou", "name": "x"},
            {"key": "ok"},
            {"key": "ok2", "name": "x" * 41},
            {"key": "ok3", "name": "x", "color": "red"},
        ):
            assert writer.post("/api/v1/segments", json=bad).status_code == 422, bad
        assert reader.post("/api/v1/segments", json={"key": "viewer", "name": "x"}).status_code == 403

        patched = writer.patch("/api/v1/segments/kankou", json={"name": "観光・イベント", "is_active": False})
        assert patched.status_code == 200
        assert patched.json()["name"] == "観光・イベント" and patched.json()["is_active"] is False
        assert writer.patch("/api/v1/segments/nothere", json={"name": "x"}).status_code == 404
        assert reader.get("/api/v1/segments/bousai").json()["subscribers"] == 3
    assert actions(app) == ["broadcasts.topic.create", "broadcasts.topic.update"]
