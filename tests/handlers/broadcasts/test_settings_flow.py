"""配信設定 on LINE end to end through the sandbox (signed webhook events in, what the bot sent out),
on SQLite and PostgreSQL: the short question after 友だち追加 (防災 on by default and said so, off in
one tap, 「あとで」, not asked again), the card of toggles, free text both ways, and the district."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from bot.catalog import t
from handlers.broadcasts.service import topics as topic_service
from handlers.garbage import service as garbage_service
from tests.support import LiveApp, new_citizen, post_webhook, quick_replies, say_all, settled, tap_all, wait_until


@pytest.fixture
def topics_app(app: LiveApp) -> Iterator[LiveApp]:
    with app.db.session() as db_session:
        topic_service.seed(db_session=db_session)
    yield app


def follow_all(app: LiveApp, user: str) -> list[dict[str, Any]]:
    """The citizen adds (or unblocks) the account; every message of the bot's answer."""
    before = len(app.sandbox.deliveries(to=user))
    assert post_webhook(app, [app.sandbox.make_event("follow", user)]).status_code == 200
    wait_until(lambda: app.sandbox.deliveries(to=user)[before:], what="the greeting")
    wait_until(lambda: settled(app), what="the answer settled")
    return [m for d in app.sandbox.deliveries(to=user)[before:] for m in d.messages]


def chosen(app: LiveApp, user: str) -> set[str]:
    with app.db.session() as db_session:
        return topic_service.chosen_keys(db_session=db_session, line_user_id=user)


def card_buttons(message: dict[str, Any]) -> dict[str, str]:
    """Every postback button on the card (body rows and footer): label → data, the topic rows as
    「<topic>:<label>」."""
    assert message["type"] == "flex", message
    found: dict[str, str] = {}

    def walk(node: Any, topic: str | None) -> None:
        if isinstance(node, dict):
            if node.get("type") == "box" and node.get("layout") == "horizontal":
                texts = [c for c in node.get("contents", []) if c.get("type") == "box"]
                inner = texts[0]["contents"][0]["text"] if texts and texts[0].get("contents") else None
                topic = inner
            if node.get("type") == "button":
                action = node["action"]
                found[f"{topic}:{action['label']}" if topic else action["label"]] = action["data"]
            for value in node.values():
                walk(value, topic)
        elif isinstance(node, list):
            for value in node:
                walk(value, topic)

    walk(message["contents"]["body"], None)
    walk(message["contents"].get("footer") or {}, None)
    return found


def first_line(message: dict[str, Any]) -> str:
    return str(message.get("altText") or message.get("text") or "").split("\n")[0]


def test_a_new_friend_is_greeted_asked_once_with_bousai_on_and_told_so(topics_app: LiveApp) -> None:
    app = topics_app
    user = new_citizen(app, "牛窓 太郎")
    greeting, question = follow_all(app, user)
    # The welcome desk's greeting, unchanged, then the question.
    assert greeting["text"] == t("welcome.follow", name="牛窓 太郎さん、").strip()
    assert question["type"] == "flex"
    alt = question["altText"]
    assert t("broadcast_settings.ask_default", topics="防災") in alt
    assert "防災：受け取り中" in alt and "子育て：受け取らない" in alt and "ごみ：受け取らない" in alt
    assert chosen(app, user) == {"bousai"}
    with app.db.session() as db_session:
        asked = topic_service.get_settings(db_session=db_session, line_user_id=user)
        assert asked is not None and asked.asked_at is not None and asked.answered_at is None
    # 「あとで」 is the first quick reply and a footer button; 防災 off is one tap away.
    labels = [a["label"] for a in quick_replies(question)]
    assert labels[:2] == [t("broadcast_settings.button_later"), "防災を止める"]
    assert t("broadcast_settings.button_later") in card_buttons(question)

    # One tap: 防災 off, said in one sentence, the card again.
    (after,) = tap_all(app, user, quick_replies(question)[1]["data"])
    assert first_line(after) == t("broadcast_settings.turned_off", topics="防災")
    assert "防災：受け取らない" in after["altText"]
    assert chosen(app, user) == set()
    with app.db.session() as db_session:
        answered = topic_service.get_settings(db_session=db_session, line_user_id=user)
        assert answered is not None and answered.answered_at is not None

    # Blocked, then back: greeted again, not asked again, and nothing switched back on.
    assert post_webhook(app, [app.sandbox.make_event("unfollow", user)]).status_code == 200
    wait_until(lambda: settled(app), what="the unfollow")
    (again,) = follow_all(app, user)
    assert again["text"] == t("welcome.follow_again")
    assert chosen(app, user) == set()


def test_later_keeps_the_default_and_says_so(topics_app: LiveApp) -> None:
    app = topics_app
    user = new_citizen(app)
    _, question = follow_all(app, user)
    (later,) = tap_all(app, user, card_buttons(question)[t("broadcast_settings.button_later")])
    assert later["text"] == t("broadcast_settings.later_default", topics="防災")
    assert chosen(app, user) == {"bousai"}
    with app.db.session() as db_session:
        settings = topic_service.get_settings(db_session=db_session, line_user_id=user)
        assert settings is not None and settings.answered_at is not None


def test_the_menu_shows_the_toggles_and_each_tap_answers_with_the_card(topics_app: LiveApp) -> None:
    app = topics_app
    user = new_citizen(app)
    (card,) = tap_all(app, user, "action=intent&name=subscribe")  # the menu's 「配信設定」
    assert first_line(card) == t("broadcast_settings.choose")
    buttons = card_buttons(card)
    assert [k for k in buttons if k.endswith(":受け取る")] == [
        f"{name}:受け取る" for name in ("防災", "子育て", "健康・検診", "スマホ教室", "イベント", "ごみ")
    ]
    assert t("broadcast_settings.button_all_off") in buttons
    assert f"{t('broadcast_settings.district_label')}:{t('broadcast_settings.button_district_pick')}" in buttons

    (on,) = tap_all(app, user, buttons["子育て:受け取る"])
    assert first_line(on) == t("broadcast_settings.turned_on", topics="子育て")
    assert "子育て:止める" in card_buttons(on)
    assert chosen(app, user) == {"kosodate"}
    # The same (old) button again: what its label said, no flip.
    (same,) = tap_all(app, user, buttons["子育て:受け取る"])
    assert first_line(same) == t("broadcast_settings.already_on", topics="子育て")
    assert chosen(app, user) == {"kosodate"}
    tap_all(app, user, buttons["イベント:受け取る"])
    assert chosen(app, user) == {"kosodate", "event"}

    # Untrusted postbacks: an unknown or retired topic, a bad state: nothing changes.
    for data in ("action=bc_topic&key=nope&on=1", "action=bc_topic&key=bousai&on=2", "action=bc_topic&on=1"):
        (refused,) = tap_all(app, user, data)
        assert first_line(refused) == t("broadcast_settings.unknown_topic")
    with app.db.session() as db_session:
        topic = topic_service.get_by_key(db_session=db_session, key="event")
        assert topic is not None
        topic_service.update(db_session=db_session, topic=topic, topic_in=topic_service.TopicUpdate(is_active=False))
    (retired,) = tap_all(app, user, buttons["イベント:受け取る"])
    assert first_line(retired) == t("broadcast_settings.unknown_topic")
    assert "イベント" not in retired["altText"]
    assert chosen(app, user) == {"kosodate"}

    (stopped,) = tap_all(app, user, card_buttons(on)[t("broadcast_settings.button_all_off")])
    assert first_line(stopped) == t("broadcast_settings.all_off")
    assert chosen(app, user) == set()
    (closing,) = tap_all(app, user, quick_replies(stopped)[0]["data"])
    assert closing["text"] == t("broadcast_settings.done")


# Each line: what the citizen writes, the one sentence that answers, what they receive afterwards.
WORDS: list[tuple[str, str, set[str]]] = [
    ("イベントの案内もほしい", t("broadcast_settings.turned_on", topics="イベント"), {"event"}),
    ("こそだての通知もほしいです", t("broadcast_settings.turned_on", topics="子育て"), {"event", "kosodate"}),
    ("子育てのお知らせはいらない", t("broadcast_settings.turned_off", topics="子育て"), {"event"}),
    ("防災の情報だけほしい", t("broadcast_settings.only", topics="防災"), {"bousai"}),
    ("防災の通知、もういらないです", t("broadcast_settings.turned_off", topics="防災"), set()),
    (
        "けんしんとスマホのお知らせがほしい",
        t("broadcast_settings.turned_on", topics="健康・検診」「スマホ教室"),
        {"kenko", "sumaho"},
    ),
    ("お知らせを全部止めて", t("broadcast_settings.all_off"), set()),
    ("配信停止", t("broadcast_settings.all_off_already"), set()),
    ("ぼうさいのおしらせがほしい", t("broadcast_settings.turned_on", topics="防災"), {"bousai"}),
    ("登録やめたい", t("broadcast_settings.all_off"), set()),
    ("お知らせを受け取りたい", t("broadcast_settings.choose"), set()),  # which? the toggles
    ("防災はほしいけど、子育てはいらない", t("broadcast_settings.turned_on", topics="防災"), {"bousai"}),
]


def test_free_text_chooses_both_ways_and_withdrawal_wins(topics_app: LiveApp) -> None:
    app = topics_app
    user = new_citizen(app)
    for said, answer, after in WORDS:
        (reply,) = say_all(app, user, said)
        assert first_line(reply) == answer, said
        assert chosen(app, user) == after, said
        assert reply["type"] == "flex", said  # the current state is shown


def test_other_requests_keep_their_words(topics_app: LiveApp) -> None:
    app = topics_app
    user = new_citizen(app)
    with app.db.session() as db_session:
        garbage_service.set_district(db_session=db_session, line_user_id=user, district="牛窓")
    (reply,) = say_all(app, user, "ごみの通知をやめる")  # the garbage days' evening reminder
    assert reply["text"] == t("gis.garbage.reminder_off")
    # Shelters asked for, with 「避難」「情報」「ください」 in it: not a choice of 防災 news.
    answer = say_all(app, user, "避難所の情報を教えてください")
    assert not any(t("broadcast_settings.title") in str(m) for m in answer)
    assert chosen(app, user) == set()


def test_the_district_is_shown_set_and_changed(topics_app: LiveApp) -> None:
    app = topics_app
    user = new_citizen(app)
    (card,) = say_all(app, user, "配信設定")
    pick = card_buttons(card)[
        f"{t('broadcast_settings.district_label')}:{t('broadcast_settings.button_district_pick')}"
    ]
    (question,) = tap_all(app, user, pick)
    assert question["text"] == t("broadcast_settings.ask_district")
    assert [a["label"] for a in quick_replies(question)] == ["邑久", "牛窓", "長船"]
    (saved,) = tap_all(app, user, quick_replies(question)[1]["data"])
    assert first_line(saved) == t("broadcast_settings.district_saved", district="牛窓")
    assert "お住まいの地区：牛窓" in saved["altText"]
    change = f"{t('broadcast_settings.district_label')}:{t('broadcast_settings.button_district_change')}"
    assert change in card_buttons(saved)
    with app.db.session() as db_session:
        assert garbage_service.get_district(db_session=db_session, line_user_id=user) == "牛窓"

    # Changed by typing a 大字; a district that is not ours is asked again.
    tap_all(app, user, card_buttons(saved)[change])
    (again,) = tap_all(app, user, "action=bc_district_set&district=東京")
    assert again["text"] == t("broadcast_settings.ask_district")
    (typed,) = say_all(app, user, "長船町土師")
    assert first_line(typed) == t("broadcast_settings.district_saved", district="長船")
    with app.db.session() as db_session:
        assert garbage_service.get_district(db_session=db_session, line_user_id=user) == "長船"
