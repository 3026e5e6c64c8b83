"""The webhook end to end: signed events in through real HTTP, what the bot sent to the sandbox out."""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest

from bot import citizens as citizen_service
from bot import clock
from bot import inbox as inbox_service
from bot.capabilities import CAPABILITIES, load
from bot.catalog import t
from bot.citizens import CitizenStatus
from bot.outbox import OutboxMessage
from tests.support import LiveApp, inbox_statuses, live_app, post_webhook, settled, texts, wait_until

CORPUS = Path(__file__).parent.parent / "data" / "sdk-webhook-events.json"


def new_user(app: LiveApp, name: str = "瀬戸内 花子") -> str:
    user_id = "U" + uuid.uuid4().hex
    app.sandbox.add_user(user_id, name)
    return user_id


def queued_for(app: LiveApp, to: str | None = None) -> list[OutboxMessage]:
    """What the bot wrote to its outbox (to one chat, or to anyone): a message is sent only from there."""
    with app.db.session() as db_session:
        query = db_session.query(OutboxMessage)
        return list(query if to is None else query.filter(OutboxMessage.to == to))


def test_forged_signature_is_refused_and_nothing_is_stored(app: LiveApp) -> None:
    user = new_user(app)
    event = app.sandbox.make_event("text", user, text="こんにちは")
    response = post_webhook(app, [event], secret="not-the-channel-secret")
    assert response.status_code == 400
    body = json.dumps({"destination": "U" + "0" * 32, "events": [event]}).encode()
    missing = httpx.post(f"{app.base_url}/callback", content=body, headers={"content-type": "application/json"})
    assert missing.status_code == 400
    assert sum(inbox_statuses(app).values()) == 0
    assert app.sandbox.deliveries() == []


def test_signature_header_name_is_case_insensitive(app: LiveApp) -> None:
    from tests.support import signed_headers

    user = new_user(app)
    body = json.dumps(
        {"destination": "U" + "0" * 32, "events": [app.sandbox.make_event("text", user, text="こんにちは")]}
    ).encode()
    signature = signed_headers(app.settings.line_channel_secret, body)["x-line-signature"]
    response = httpx.post(
        f"{app.base_url}/callback",
        content=body,
        headers={"X-LINE-SIGNATURE": signature, "content-type": "application/json"},
    )
    assert response.status_code == 200
    wait_until(lambda: app.sandbox.deliveries(to=user), what="reply")


def test_connectivity_check_with_no_events_is_acknowledged(app: LiveApp) -> None:
    assert post_webhook(app, []).status_code == 200
    assert sum(inbox_statuses(app).values()) == 0


@pytest.mark.parametrize("body", [b"not json", b'{"events": "nope"}', b"[1, 2]"])
def test_signed_but_malformed_bodies_get_400_not_500(app: LiveApp, body: bytes) -> None:
    from tests.support import signed_headers

    response = httpx.post(
        f"{app.base_url}/callback", content=body, headers=signed_headers(app.settings.line_channel_secret, body)
    )
    assert response.status_code == 400


def test_text_gets_one_reply_through_the_reply_token(app: LiveApp) -> None:
    user = new_user(app)
    assert post_webhook(app, [app.sandbox.make_event("text", user, text="こんにちは")]).status_code == 200
    deliveries = wait_until(lambda: app.sandbox.deliveries(to=user), what="reply")
    assert [d.endpoint for d in deliveries] == ["reply"]
    assert texts(deliveries) == [t("welcome.greet")]
    # The main menu comes as quick replies under the answer.
    items = deliveries[0].messages[-1]["quickReply"]["items"]
    assert [i["action"]["label"] for i in items][:3] == ["窓口予約", "予約確認", "よくある質問"]


def test_unknown_text_gets_the_friendly_menu_never_an_echo(app: LiveApp) -> None:
    user = new_user(app)
    post_webhook(app, [app.sandbox.make_event("text", user, text="ぴよぴよぴよ")])
    deliveries = wait_until(lambda: app.sandbox.deliveries(to=user), what="reply")
    answer = texts(deliveries)
    assert len(answer) >= 1 and all("ぴよぴよぴよ" not in line for line in answer)
    labels = [i["action"]["label"] for i in deliveries[0].messages[-1]["quickReply"]["items"]]
    assert "窓口予約" in labels  # the menu is offered


def test_redelivery_and_duplicate_ids_are_answered_once(app: LiveApp) -> None:
    user = new_user(app)
    event = app.sandbox.make_event("text", user, text="こんにちは")
    assert post_webhook(app, [event, event]).status_code == 200
    redelivered = {**event, "deliveryContext": {"isRedelivery": True}}
    assert post_webhook(app, [redelivered]).status_code == 200
    wait_until(lambda: settled(app), what="processing")
    assert len(app.sandbox.deliveries(to=user)) == 1
    assert inbox_statuses(app)["done"] == 1


def test_standby_events_are_stored_and_not_answered(app: LiveApp) -> None:
    user = new_user(app)
    event = app.sandbox.make_event("text", user, text="こんにちは", mode="standby")
    assert post_webhook(app, [event]).status_code == 200
    # Processed, and nothing left to send: only then does "nothing was sent" mean anything.
    wait_until(lambda: settled(app) and inbox_statuses(app)["done"] == 1, what="standby event processed")
    assert queued_for(app) == []
    assert app.sandbox.deliveries() == []


def test_follow_registers_the_citizen_with_their_profile_and_unfollow_blocks(app: LiveApp) -> None:
    user = new_user(app, "牛窓 太郎")
    post_webhook(app, [app.sandbox.make_event("follow", user)])
    greeting = wait_until(lambda: app.sandbox.deliveries(to=user), what="greeting")
    assert texts(greeting)[0].startswith("牛窓 太郎さん、友だち追加ありがとうございます。")
    with app.db.session() as db_session:
        citizen = citizen_service.get_by_line_user_id(db_session=db_session, line_user_id=user)
        assert citizen is not None and citizen.display_name == "牛窓 太郎"
        assert citizen.status == CitizenStatus.FOLLOWING
    post_webhook(app, [app.sandbox.make_event("unfollow", user)])
    wait_until(lambda: settled(app) and inbox_statuses(app)["done"] == 2, what="unfollow processed")
    with app.db.session() as db_session:
        citizen = citizen_service.get_by_line_user_id(db_session=db_session, line_user_id=user)
        assert citizen is not None and citizen.status == CitizenStatus.BLOCKED
    # Nothing answers an unfollow: the greeting is all that was queued and sent.
    assert len(queued_for(app, user)) == 1
    assert len(app.sandbox.deliveries(to=user)) == 1


def test_oversized_text_gets_a_clear_answer(app: LiveApp) -> None:
    user = new_user(app)
    post_webhook(app, [app.sandbox.make_event("text", user, text="あ" * 5000)])
    deliveries = wait_until(lambda: app.sandbox.deliveries(to=user), what="reply")
    assert texts(deliveries) == [t("welcome.too_long")]


def test_menu_postback_for_a_capability_not_in_this_deployment_is_answered_honestly(database_url: str) -> None:
    # 配信設定 is in the menu; a deployment without handlers.broadcasts says 準備中 instead of nothing.
    without = tuple(name for name in CAPABILITIES if name != "handlers.broadcasts")
    with live_app(database_url, capabilities=load(without)) as app:
        user = new_user(app)
        post_webhook(app, [app.sandbox.make_event("postback", user, data="action=intent&name=subscribe")])
        deliveries = wait_until(lambda: app.sandbox.deliveries(to=user), what="reply")
        assert "お知らせの配信設定" in texts(deliveries)[0] and "準備中" in texts(deliveries)[0]


@pytest.mark.parametrize("data", ["action=intent&name=../../etc", "%%%", "a" * 1000, "action=delete&id=1"])
def test_foreign_or_garbage_postbacks_get_the_menu(app: LiveApp, data: str) -> None:
    user = new_user(app)
    post_webhook(app, [app.sandbox.make_event("postback", user, data=data)])
    deliveries = wait_until(lambda: app.sandbox.deliveries(to=user), what="reply")
    assert texts(deliveries)[0] in {t("welcome.fallback"), t("welcome.expired")}
    assert inbox_statuses(app)["dead"] == 0


def _corpus_events(app: LiveApp) -> list[dict[str, Any]]:
    """LINE's own SDK test corpus, every event re-keyed (its ids are all the same) for our channel and
    stamped now (its 2016 times would be refused as replays from before the retention window)."""
    events = json.loads(CORPUS.read_text())["events"]
    now_ms = int(clock.now().timestamp() * 1000)
    for event in events:
        event["webhookEventId"] = uuid.uuid4().hex.upper()[:26]
        event["timestamp"] = now_ms
    return events


def test_every_event_type_in_lines_corpus_is_acknowledged_and_handled(app: LiveApp) -> None:
    events = _corpus_events(app)
    response = post_webhook(app, events)
    assert response.status_code == 200
    wait_until(lambda: settled(app), what="corpus processed")
    statuses = inbox_statuses(app)
    assert statuses["dead"] == 0 and statuses["done"] == len(events)
    with app.db.session() as db_session:
        stored = {e.event_type for e in db_session.query(inbox_service.InboxEvent)}
    assert {"message", "follow", "unfollow", "join", "leave", "postback", "beacon", "undefined"} <= stored


def test_a_text_from_a_group_is_not_answered_but_a_join_is(app: LiveApp) -> None:
    group = "C" + uuid.uuid4().hex
    text = app.sandbox.make_event("text", "U" + uuid.uuid4().hex, text="こんにちは", source_type="group")
    text["source"]["groupId"] = group
    join = {
        **app.sandbox.make_event("text", "U" + uuid.uuid4().hex, text="x", source_type="group"),
        "type": "join",
        "message": None,
    }
    join["source"] = {"type": "group", "groupId": group}
    post_webhook(app, [text, join])
    wait_until(lambda: settled(app), what="group events processed")
    sent = app.sandbox.deliveries()
    assert [texts([d]) for d in sent] == [[t("welcome.group_join")]]


@pytest.mark.parametrize("kind", ["sticker", "image"])
def test_stickers_and_images_get_a_polite_answer(app: LiveApp, kind: str) -> None:
    user = new_user(app)
    post_webhook(app, [app.sandbox.make_event(kind, user)])
    deliveries = wait_until(lambda: app.sandbox.deliveries(to=user), what="reply")
    assert texts(deliveries) == [t("welcome.sticker" if kind == "sticker" else "welcome.media")]


def test_messages_of_one_citizen_are_answered_in_order(app: LiveApp) -> None:
    user = new_user(app)
    words = ["こんにちは", "ありがとう", "ヘルプ", "こんにちは", "ありがとう"]
    post_webhook(app, [app.sandbox.make_event("text", user, text=w) for w in words])
    deliveries = wait_until(lambda: len(app.sandbox.deliveries(to=user)) == 5 and app.sandbox.deliveries(to=user))
    expected = {"こんにちは": "welcome.greet", "ありがとう": "welcome.thanks", "ヘルプ": "welcome.help"}
    assert texts(deliveries) == [t(expected[w]) for w in words]


def test_healthz_reports_the_database(app: LiveApp) -> None:
    response = httpx.get(f"{app.base_url}/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "database": "ok", "drainers": 1, "oldest_pending_seconds": 0.0}
