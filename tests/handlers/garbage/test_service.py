"""The garbage calendar (weekly, n-th weekday, dates, 年末年始) and the evening-before reminder
(once per citizen per day, opt-in, on SQLite and PostgreSQL)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, datetime

import pytest
from sqlalchemy import select

from bot import citizens as citizen_service
from bot.clock import TOKYO
from bot.db import Database
from bot.outbox import OutboxMessage
from handlers.gis import garbage
from handlers.gis.garbage_notify import PURPOSE, due_garbage_reminders, send_due_garbage_reminders
from handlers.gis.models import GarbageRule

SAMPLE = garbage.SAMPLE_FILE.read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def rules() -> list[GarbageRule]:
    return garbage.parse_calendar(SAMPLE)


def test_weekly_and_nth_weekday_rules(rules: list[GarbageRule]) -> None:
    # 2026-11-23 is a Monday (勤労感謝の日: the sample collects on holidays).
    assert garbage.collections_on(rules, date(2026, 11, 23), "邑久") == ["燃やせるごみ"]
    assert garbage.collections_on(rules, date(2026, 11, 24), "邑久") == ["プラスチック製容器包装"]
    # 2026-11-04 is the 1st Wednesday, 11-11 the 2nd: 邑久's びん・缶 then ペットボトル.
    assert garbage.collections_on(rules, date(2026, 11, 4), "邑久") == ["資源ごみ（びん・缶）"]
    assert garbage.collections_on(rules, date(2026, 11, 11), "邑久") == ["ペットボトル"]
    assert garbage.collections_on(rules, date(2026, 11, 15), "邑久") == []  # Sunday
    assert garbage.collections_on(rules, date(2026, 11, 25), "牛窓") == ["資源ごみ（びん・缶）"]
    assert garbage.collections_on(rules, date(2026, 11, 25), "長船") == ["燃やせるごみ"]


@pytest.mark.parametrize("day", [date(2026, 12, 31), date(2027, 1, 1), date(2027, 1, 2), date(2027, 1, 3)])
def test_nothing_is_collected_over_the_new_year(rules: list[GarbageRule], day: date) -> None:
    for district in ("邑久", "牛窓", "長船"):
        assert garbage.collections_on(rules, day, district) == []
        assert garbage.closure_on(rules, day, district) == "年末年始"


def test_the_new_year_closure_moves_the_next_collection(rules: list[GarbageRule]) -> None:
    # 邑久's 燃やせるごみ is Monday and Thursday: Thu 12-31 is skipped, Mon 1-4 comes next.
    days = garbage.next_days(rules, "燃やせるごみ", "邑久", date(2026, 12, 29), count=3)
    assert days == [date(2027, 1, 4), date(2027, 1, 7), date(2027, 1, 11)]
    assert garbage.collections_on(rules, date(2026, 12, 30), "長船") == ["燃やせるごみ"]
    assert garbage.closure_on(rules, date(2026, 12, 30), "長船") is None
    assert garbage.closure_on(rules, date(2027, 1, 4), "長船") is None


@pytest.mark.parametrize(
    ("text", "category"),
    [
        ("びんの日", "資源ごみ（びん・缶）"),
        ("空き缶はいつ", "資源ごみ（びん・缶）"),
        ("燃えないゴミ", "燃やせないごみ"),
        ("燃えるゴミの日", "燃やせるごみ"),
        ("ペットボトル", "ペットボトル"),
        ("ダンボールを出したい", "古紙・古布"),
        ("明日は何ごみ", None),
    ],
)
def test_the_kind_of_garbage_in_words(rules: list[GarbageRule], text: str, category: str | None) -> None:
    assert garbage.category_in(rules, text) == category


@pytest.mark.parametrize(
    ("broken", "reason"),
    [
        ("districts: {邑久: {燃やせるごみ: {weekdays: [月曜, 金星]}}}", "金星"),
        ("districts: {邑久: {燃やせるごみ: {nth: [二番目の水]}}}", "第2水"),
        ("districts: {邑久: {燃やせるごみ: {dates: [2026-13-01]}}}", "日付"),
        ("closures: [{from: 12-32, to: 01-03}]\ndistricts: {邑久: {a: {weekdays: [月]}}}", "12-31"),
        ("nothing: here", "districts"),
    ],
)
def test_a_bad_calendar_is_refused_with_a_reason(broken: str, reason: str) -> None:
    with pytest.raises(garbage.GarbageFileError, match=reason):
        garbage.parse_calendar(broken)


def test_weekday_words_with_or_without_youbi() -> None:
    rules = garbage.parse_calendar("districts: {邑久: {燃やせるごみ: {weekdays: [日曜日, 土曜, 月]}}}")
    assert rules[0].pattern == {"weekdays": [0, 5, 6]}


# --- the reminder ---------------------------------------------------------------------------------


@pytest.fixture
def db(database_url: str) -> Iterator[Database]:
    database = Database(database_url)
    with database.session() as db_session:
        garbage.seed(db_session=db_session)
    yield database
    database.dispose()


def _pushes(db: Database) -> list[OutboxMessage]:
    with db.session() as db_session:
        return list(db_session.scalars(select(OutboxMessage).where(OutboxMessage.purpose == PURPOSE)))


def test_reminders_go_the_evening_before_once_per_citizen_and_only_to_those_who_asked(db: Database) -> None:
    with db.session() as db_session:
        for user, district, on in (("Uwants", "牛窓", True), ("Uquiet", "牛窓", False), ("Ublocked", "牛窓", True)):
            garbage.set_district(db_session=db_session, line_user_id=user, district=district)
            garbage.set_reminder(db_session=db_session, line_user_id=user, on=on)
        citizen_service.follow(db_session=db_session, line_user_id="Ublocked", profile=None)
        citizen_service.block(db_session=db_session, line_user_id="Ublocked")
    afternoon = datetime(2026, 11, 24, 17, 59, tzinfo=TOKYO)
    evening = datetime(2026, 11, 24, 18, 5, tzinfo=TOKYO)
    with db.session() as db_session:
        assert due_garbage_reminders(afternoon, db_session=db_session) == []
        assert [r.line_user_id for r in due_garbage_reminders(evening, db_session=db_session)] == [
            "Ublocked",
            "Uwants",
        ]
        assert send_due_garbage_reminders(db_session=db_session, now=evening) == 1
    with db.session() as db_session:  # a second sweep (or a second process) sends nothing more
        assert send_due_garbage_reminders(db_session=db_session, now=evening) == 0
    (push,) = _pushes(db)
    assert push.to == "Uwants"
    text = push.messages[0]["text"]
    assert text.startswith("明日11月25日（水）は、「資源ごみ（びん・缶）」の日です。（牛窓地区）")
    # The next evening is a new day: 牛窓 collects プラスチック製容器包装 on Thursday 11-26.
    thursday_eve = datetime(2026, 11, 25, 19, 0, tzinfo=TOKYO)
    with db.session() as db_session:
        assert send_due_garbage_reminders(db_session=db_session, now=thursday_eve) == 1
        assert send_due_garbage_reminders(db_session=db_session, now=thursday_eve) == 0
    assert "プラスチック製容器包装" in _pushes(db)[-1].messages[0]["text"]


def test_no_reminder_on_new_years_eve(db: Database) -> None:
    with db.session() as db_session:
        garbage.set_district(db_session=db_session, line_user_id="Uwants", district="邑久")
        garbage.set_reminder(db_session=db_session, line_user_id="Uwants", on=True)
        # 2026-12-31 is a Thursday (邑久's 燃やせるごみ), but it is 年末年始.
        evening = datetime(2026, 12, 30, 18, 30, tzinfo=TOKYO)
        assert send_due_garbage_reminders(db_session=db_session, now=evening) == 0
