"""The topics' rules on SQLite and PostgreSQL: the demo topics seeded once (staff edits kept), exact
choices, who a topic reaches (`subscribers_select`, with districts, never a retired topic), and the
reading of free text (no database)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import yaml

from bot.db import Database
from handlers.broadcasts.models import Topic
from handlers.broadcasts.service import topics as topic_service
from handlers.garbage import service as garbage_service


@pytest.fixture
def db(database_url: str) -> Iterator[Database]:
    database = Database(database_url)
    with database.session() as db_session:
        topic_service.seed(db_session=db_session)
    yield database
    database.dispose()


def test_seed_is_idempotent_and_keeps_staff_edits(db: Database) -> None:
    with db.session() as db_session:
        topic = topic_service.get_by_key(db_session=db_session, key="kosodate")
        assert topic is not None
        topic_service.update(
            db_session=db_session, topic=topic, topic_in=topic_service.TopicUpdate(name="子育て・教育", is_active=False)
        )
    with db.session() as db_session:
        assert topic_service.seed(db_session=db_session) == 0
        every = topic_service.get_all(db_session=db_session, include_inactive=True)
        assert [t.key for t in every] == ["bousai", "kosodate", "kenko", "sumaho", "event", "gomi"]
        assert [t.name for t in every if t.key == "kosodate"] == ["子育て・教育"]
        assert [t.key for t in every if t.default_on] == ["bousai"]
        assert "kosodate" not in [t.key for t in topic_service.get_all(db_session=db_session)]


def test_subscribers_select_reaches_each_subscriber_once_by_topic_and_district(db: Database) -> None:
    with db.session() as db_session:
        topic_service.set_exactly(db_session=db_session, line_user_id="Ua", topic_keys={"bousai", "kosodate"})
        topic_service.set_exactly(db_session=db_session, line_user_id="Ub", topic_keys={"kosodate", "nope"})
        topic_service.set_exactly(db_session=db_session, line_user_id="Uc", topic_keys={"event"})
        garbage_service.set_district(db_session=db_session, line_user_id="Ua", district="牛窓")
        garbage_service.set_district(db_session=db_session, line_user_id="Ub", district="邑久")
    with db.session() as db_session:

        def reached(keys: list[str], districts: list[str] | None = None) -> list[str]:
            query = topic_service.subscribers_select(keys, districts)
            return sorted(db_session.scalars(query))

        assert reached(["bousai", "kosodate"]) == ["Ua", "Ub"]  # each once
        assert reached(["kosodate"], ["牛窓"]) == ["Ua"]
        assert reached(["event"], ["牛窓"]) == []  # no district told: not in a district's audience
        assert reached(["nope"]) == []
        change = topic_service.set_exactly(db_session=db_session, line_user_id="Ua", topic_keys={"kosodate"})
        assert change == topic_service.Change(turned_on=[], turned_off=["防災"])
        event = topic_service.get_by_key(db_session=db_session, key="event")
        assert event is not None
        topic_service.update(db_session=db_session, topic=event, topic_in=topic_service.TopicUpdate(is_active=False))
        assert reached(["event"]) == []  # a retired topic reaches nobody
        assert topic_service.counts(db_session=db_session) == {
            t.id: n
            for t, n in (
                (topic_service.get_by_key(db_session=db_session, key="kosodate"), 2),
                (event, 1),
            )
            if t is not None
        }


def test_a_new_friend_gets_the_default_topics_once(db: Database) -> None:
    with db.session() as db_session:
        defaults = topic_service.welcome_new_friend(db_session=db_session, line_user_id="Unew")
        assert [t.key for t in defaults or []] == ["bousai"]
        topic_service.unsubscribe_all(db_session=db_session, line_user_id="Unew")
        assert topic_service.welcome_new_friend(db_session=db_session, line_user_id="Unew") is None
        assert topic_service.chosen_keys(db_session=db_session, line_user_id="Unew") == set()
        assert topic_service.welcome_new_friend(db_session=db_session, line_user_id="Uold", apply_defaults=False) == []
        assert topic_service.chosen_keys(db_session=db_session, line_user_id="Uold") == set()


def _demo_topics() -> list[Topic]:
    data = yaml.safe_load(topic_service.DEMO_FILE.read_text(encoding="utf-8"))
    return [Topic(key=t["key"], name=t["name"], keywords=t.get("keywords") or []) for t in data["topics"]]


@pytest.mark.parametrize(
    ("said", "action", "keys"),
    [
        ("防災の情報だけほしい", "only", {"bousai"}),
        ("子育てのお知らせはいらない", "off", {"kosodate"}),
        ("イベントの案内もほしい", "on", {"event"}),
        ("防災の通知、もういらないです", "off", {"bousai"}),
        ("災害の通知は不要です", "off", {"bousai"}),
        ("避難のお知らせ、解除してください", "off", {"bousai"}),
        ("子ども関係の連絡は取り消したい", "off", {"kosodate"}),
        ("けんしんのお知らせは結構です", "off", {"kenko"}),
        ("すまほの案内、抜けたいです", "off", {"sumaho"}),
        ("ゴミの配信を停止して", "off", {"gomi"}),
        ("ぼうさいのおしらせほしい", "on", {"bousai"}),
        ("健康のお知らせを受け取りたい", "on", {"kenko"}),
        ("防災以外はいらない", "only", {"bousai"}),
        ("お知らせを全部止めて", "all_off", None),
        ("配信停止", "all_off", None),
        ("登録やめたい", "all_off", None),
        ("退会したい", "all_off", None),
        ("全部ほしい", "all_on", None),
        ("配信設定", "show", set()),
        ("お知らせを受け取りたい", "show", set()),
        ("お知らせはいつでも止められますか", "show", set()),
    ],
)
def test_free_text_is_read_with_withdrawal_winning(said: str, action: str, keys: set[str] | None) -> None:
    topics = _demo_topics()
    reading = topic_service.read_text(said, topics)
    assert reading.action == action, said
    if keys is not None:
        assert set(reading.keys) == keys, said


def test_contrast_reads_each_part() -> None:
    reading = topic_service.read_text("防災はほしいけど、子育てはいらない", _demo_topics())
    assert reading.action == "mixed"
    assert reading.changes == (("on", frozenset({"bousai"})), ("off", frozenset({"kosodate"})))
