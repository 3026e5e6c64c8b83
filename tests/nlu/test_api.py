"""`POST /api/v1/nlu/parse` and `POST /api/v1/faq/ask` through the real app: staff API token in,
the same shapes as the CLI out; no token, no answer."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from admin.models import Actor
from admin.service import create_token_for, create_user
from handlers.faq import service as faq_service
from tests.support import LiveApp, live_app


@pytest.fixture
def api_app(database_url: str) -> Iterator[LiveApp]:
    """The app with the FAQ section's API, mounted as the FAQ capability declares it."""
    with live_app(database_url) as running:
        faq = running.app.state.nav.section("faq")
        assert faq is not None and faq.api_router is not None
        with running.db.session() as db_session:
            faq_service.seed(db_session=db_session)
        yield running


def client_for(app: LiveApp, role: str) -> httpx.Client:
    with app.db.session() as db_session:
        create_user(
            db_session=db_session, name=f"api-{role}", role=role, password="correct-horse-battery", actor=Actor.system()
        )
        token = create_token_for(db_session=db_session, name=f"api-{role}", label="test", actor=Actor.system())
    return httpx.Client(base_url=app.base_url, headers={"Authorization": f"Bearer {token}"}, timeout=10)


def test_parse_and_ask_with_a_staff_token(api_app: LiveApp) -> None:
    with client_for(api_app, "counter") as client:
        parsed = client.post(
            "/api/v1/nlu/parse",
            json={"text": "明日、牛窓の避難所はどこ？", "reference_time": "2026-11-24T10:00:00+09:00"},
        )
        assert parsed.status_code == 200, parsed.text
        body = parsed.json()
        assert set(body) == {"text", "intent", "intent_ranking", "entities"}
        assert body["intent"]["name"] == "shelter_search"
        assert {(e["entity"], e["value"]) for e in body["entities"]} >= {("date", "2026-11-25"), ("district", "牛窓")}

        asked = client.post("/api/v1/faq/ask", json={"text": "犬を飼い始めました。登録はいりますか"})
        assert asked.status_code == 200, asked.text
        answer = asked.json()
        assert set(answer) == {"text", "faq_id", "score", "candidates"}
        assert answer["faq_id"] == "dog_registration" and 0 < answer["score"] <= 1


def test_no_token_no_answer_and_bad_bodies_are_refused(api_app: LiveApp) -> None:
    assert httpx.post(f"{api_app.base_url}/api/v1/nlu/parse", json={"text": "予約"}).status_code == 401
    assert httpx.post(f"{api_app.base_url}/api/v1/faq/ask", json={"text": "予約"}).status_code == 401
    with client_for(api_app, "counter") as client:
        assert client.post("/api/v1/nlu/parse", json={"text": "あ" * 5001}).status_code == 422
        assert client.post("/api/v1/faq/ask", json={}).status_code == 422
        assert client.post("/api/v1/nlu/parse", json={"text": "😀"}).json()["intent"]["name"] == "out_of_scope"


def test_staff_see_unanswered_questions_and_feedback(api_app: LiveApp) -> None:
    with api_app.db.session() as db_session:
        faq_service.record_unanswered(db_session=db_session, text="ドローンの許可は？")
        faq_service.record_unanswered(db_session=db_session, text="ドローンの許可は？")
        faq_service.record_feedback(db_session=db_session, faq_id="parking", line_user_id="U1", helpful=True)
    with client_for(api_app, "counter") as client:
        unanswered = client.get("/api/v1/faq/unanswered")
        assert unanswered.status_code == 200, unanswered.text
        assert [(q["text"], q["count"]) for q in unanswered.json()] == [("ドローンの許可は？", 2)]
    # What citizens typed may hold a name or a phone number: viewers and broadcasters see counts only.
    for role in ("viewer", "broadcaster"):
        with client_for(api_app, role) as client:
            assert client.get("/api/v1/faq/unanswered").status_code == 403
            feedback = client.get("/api/v1/faq/feedback").json()
            assert feedback == [{"faq_id": "parking", "helpful": 1, "not_helpful": 0}]
