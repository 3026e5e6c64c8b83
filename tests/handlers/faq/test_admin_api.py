"""The FAQ's staff API through the live app (SQLite and PostgreSQL) with staff tokens: entries listed,
searched, added, changed, stopped; an unanswered question turned into an entry, added to one as
another wording, or dismissed, in one call each; every change audited; viewers read, never write and
never see what citizens typed."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from sqlalchemy import select

from admin.models import AuditEntry, StaffRole
from bot.catalog import t
from handlers.faq import service as faq_service
from handlers.faq.models import UnansweredQuestion, UnansweredStatus
from tests.admin.conftest import add_staff, new_token
from tests.support import LiveApp, new_citizen, say

DRONE = "ドローンを飛ばす許可はどこで取れますか"


@pytest.fixture
def api(faq_app: LiveApp) -> Iterator[dict[str, httpx.Client]]:
    """A token client per role: counter, viewer, broadcaster, admin."""
    clients = {}
    for role in (StaffRole.COUNTER, StaffRole.VIEWER, StaffRole.BROADCASTER, StaffRole.ADMIN):
        name = f"api-{role.value}"
        add_staff(faq_app, name, role)
        token = new_token(faq_app, name)
        clients[role.value] = httpx.Client(
            base_url=faq_app.base_url, headers={"Authorization": f"Bearer {token}"}, timeout=10
        )
    yield clients
    for client in clients.values():
        client.close()


def record(app: LiveApp, text: str, times: int = 1) -> int:
    with app.db.session() as db_session:
        for _ in range(times):
            faq_service.record_unanswered(db_session=db_session, text=text)
    with app.db.session() as db_session:
        return db_session.scalars(
            select(UnansweredQuestion.id).where(UnansweredQuestion.text_key == faq_service.question_key(text))
        ).one()


def faq_audit(app: LiveApp) -> list[tuple[str, str | None, str]]:
    with app.db.session() as db_session:
        rows = db_session.scalars(select(AuditEntry).where(AuditEntry.action.like("faq.%")).order_by(AuditEntry.id))
        return [(e.action, e.target_id, e.via) for e in rows]


def test_entries_are_listed_searched_added_changed_and_stopped_with_a_token(
    faq_app: LiveApp, api: dict[str, httpx.Client]
) -> None:
    counter, viewer = api["counter"], api["viewer"]
    listed = viewer.get("/api/v1/faq/entries")
    assert listed.status_code == 200
    assert {"sodai_gomi", "parking"} <= {e["id"] for e in listed.json()}
    found = viewer.get("/api/v1/faq/entries", params={"q": "駐車場"}).json()
    assert "parking" in [e["id"] for e in found] and "sodai_gomi" not in [e["id"] for e in found]

    body = {
        "id": "drone",
        "category": "その他",
        "question": "ドローンを飛ばしたいのですが、許可はどこで取れますか？",
        "alt_questions": ["公園でドローンを使ってもいいですか？"],
        "answer": "（サンプル）ドローンの飛行許可は国土交通省に申請します。",
        "tags": ["ドローン"],
        "url": "https://www.mlit.go.jp/koku/",
    }
    created = counter.post("/api/v1/faq/entries", json=body)
    assert created.status_code == 201, created.text
    assert created.json()["url"] == "https://www.mlit.go.jp/koku/" and created.json()["is_active"] is True
    assert counter.post("/api/v1/faq/entries", json=body).status_code == 409
    assert counter.post("/api/v1/faq/entries", json=body | {"id": "drone2", "url": "ftp://x"}).status_code == 422
    assert counter.post("/api/v1/faq/entries", json=body | {"id": "drone3", "answer": "  "}).status_code == 422
    unnamed = counter.post("/api/v1/faq/entries", json={"question": "IDのない質問", "answer": "IDは自動で付きます。"})
    assert unnamed.status_code == 201 and unnamed.json()["id"].startswith("faq_")
    assert viewer.get("/api/v1/faq/entries/drone").json()["answer"] == body["answer"]
    assert viewer.get("/api/v1/faq/entries/no_such").status_code == 404

    citizen = new_citizen(faq_app)
    assert "国土交通省" in say(faq_app, citizen, DRONE)["text"]
    changed = counter.patch("/api/v1/faq/entries/drone", json={"answer": "（サンプル）危機管理課にご相談ください。"})
    assert changed.status_code == 200 and changed.json()["question"] == body["question"]  # the rest kept
    assert "危機管理課" in say(faq_app, citizen, DRONE)["text"]
    stopped = counter.patch("/api/v1/faq/entries/drone", json={"is_active": False})
    assert stopped.json()["is_active"] is False
    assert say(faq_app, citizen, DRONE)["text"] == t("faq.unknown")
    assert [e["id"] for e in viewer.get("/api/v1/faq/entries", params={"q": "危機管理課"}).json()] == ["drone"]
    assert viewer.get("/api/v1/faq/entries", params={"q": "危機管理課", "include_inactive": False}).json() == []

    for role in ("viewer", "broadcaster"):
        assert api[role].post("/api/v1/faq/entries", json=body | {"id": "nope"}).status_code == 403
        assert api[role].patch("/api/v1/faq/entries/drone", json={"is_active": True}).status_code == 403
    assert faq_audit(faq_app) == [
        ("faq.create", "drone", "api"),
        ("faq.create", unnamed.json()["id"], "api"),
        ("faq.update", "drone", "api"),
        ("faq.deactivate", "drone", "api"),
    ]


def test_an_unanswered_question_is_resolved_in_one_call_each_way(
    faq_app: LiveApp, api: dict[str, httpx.Client]
) -> None:
    counter = api["counter"]
    citizen = new_citizen(faq_app)
    assert say(faq_app, citizen, DRONE)["text"] == t("faq.unknown")
    [open_question] = counter.get("/api/v1/faq/unanswered").json()
    assert (open_question["text"], open_question["count"], open_question["status"]) == (DRONE, 1, "open")
    question_id = open_question["id"]

    # new_entry: the question prefilled from what the citizen typed.
    made = counter.post(
        f"/api/v1/faq/unanswered/{question_id}/resolve",
        json={"action": "new_entry", "entry": {"answer": "（サンプル）国土交通省に申請します。", "category": "その他"}},
    )
    assert made.status_code == 200, made.text
    entry = made.json()["entry"]
    assert entry["question"] == DRONE and entry["category"] == "その他"
    assert made.json()["question"]["status"] == "resolved"
    assert made.json()["question"]["resolved_faq_id"] == entry["id"]
    assert "国土交通省" in say(faq_app, new_citizen(faq_app), DRONE)["text"]
    again = counter.post(f"/api/v1/faq/unanswered/{question_id}/resolve", json={"action": "dismiss"})
    assert again.status_code == 409
    assert counter.get("/api/v1/faq/unanswered").json() == []

    # add_alternative: the wording staff tidied joins the entry.
    wording_id = record(faq_app, "粗大ごみって家まで取りに来てもらえるんかな 瀬戸内花子")
    path = f"/api/v1/faq/unanswered/{wording_id}/resolve"
    assert counter.post(path, json={"action": "add_alternative"}).status_code == 422
    assert counter.post(path, json={"action": "add_alternative", "faq_id": "no_such"}).status_code == 404
    assert counter.post(path, json={"action": "new_entry"}).status_code == 422
    joined = counter.post(
        path,
        json={
            "action": "add_alternative",
            "faq_id": "sodai_gomi",
            "text": "粗大ごみって家まで取りに来てもらえるんかな",
        },
    )
    assert joined.status_code == 200, joined.text
    assert joined.json()["entry"]["alt_questions"][-1] == "粗大ごみって家まで取りに来てもらえるんかな"
    assert joined.json()["question"]["resolved_faq_id"] == "sodai_gomi"

    # dismiss: out of scope, and it stays so when asked again.
    weather_id = record(faq_app, "今日の運勢を教えて")
    dismissed = counter.post(f"/api/v1/faq/unanswered/{weather_id}/resolve", json={"action": "dismiss"})
    assert dismissed.status_code == 200 and dismissed.json()["entry"] is None
    assert dismissed.json()["question"]["status"] == "dismissed"
    record(faq_app, "今日の運勢を教えて")
    listed = counter.get("/api/v1/faq/unanswered", params={"status": "dismissed"}).json()
    assert [(q["id"], q["count"]) for q in listed] == [(weather_id, 2)]
    assert counter.post("/api/v1/faq/unanswered/999999/resolve", json={"action": "dismiss"}).status_code == 404

    assert [a for a, _, _ in faq_audit(faq_app)] == [
        "faq.unanswered.new_entry",
        "faq.unanswered.alternative",
        "faq.unanswered.dismiss",
    ]
    with faq_app.db.session() as db_session:
        statuses = {q.id: q.status for q in db_session.scalars(select(UnansweredQuestion))}
    assert statuses == {
        question_id: UnansweredStatus.RESOLVED,
        wording_id: UnansweredStatus.RESOLVED,
        weather_id: UnansweredStatus.DISMISSED,
    }


def test_viewers_cannot_see_citizens_questions_or_resolve_them(faq_app: LiveApp, api: dict[str, httpx.Client]) -> None:
    question_id = record(faq_app, "瀬戸内花子です。090-1234-5678。ドローンの許可は？")
    for role in ("viewer", "broadcaster"):
        client = api[role]
        assert client.get("/api/v1/faq/unanswered").status_code == 403
        refused = client.post(f"/api/v1/faq/unanswered/{question_id}/resolve", json={"action": "dismiss"})
        assert refused.status_code == 403
        assert client.get("/api/v1/faq/entries").status_code == 200
    with faq_app.db.session() as db_session:
        question = faq_service.get_unanswered(db_session=db_session, question_id=question_id)
        assert question is not None and question.status == UnansweredStatus.OPEN
    assert faq_audit(faq_app) == []


def test_unanswered_questions_sort_by_most_asked_or_newest(faq_app: LiveApp, api: dict[str, httpx.Client]) -> None:
    often = record(faq_app, "選挙の投票所はどこですか", times=3)
    newest = record(faq_app, "ふるさと納税の返礼品は何ですか")
    counter = api["admin"]
    assert [q["id"] for q in counter.get("/api/v1/faq/unanswered").json()] == [often, newest]
    assert [q["id"] for q in counter.get("/api/v1/faq/unanswered", params={"sort": "newest"}).json()] == [newest, often]
