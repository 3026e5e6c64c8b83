"""The garbage calendar: weekly, n-th weekday, dates, 年末年始, the kinds in words, and a bad file
refused with a reason; a citizen's district (SQLite and PostgreSQL)."""

from __future__ import annotations

from datetime import date

import pytest

from bot.db import Database
from handlers.garbage import service as garbage_service
from handlers.garbage.models import GarbageRule
from handlers.garbage.seed import SAMPLE_FILE

SAMPLE = SAMPLE_FILE.read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def rules() -> list[GarbageRule]:
    return garbage_service.parse_calendar(SAMPLE)


def test_weekly_and_nth_weekday_rules(rules: list[GarbageRule]) -> None:
    # 2026-11-23 is a Monday (勤労感謝の日: the sample collects on holidays).
    assert garbage_service.collections_on(rules, date(2026, 11, 23), "邑久") == ["燃やせるごみ"]
    assert garbage_service.collections_on(rules, date(2026, 11, 24), "邑久") == ["プラスチック製容器包装"]
    # 2026-11-04 is the 1st Wednesday, 11-11 the 2nd: 邑久's びん・缶 then ペットボトル.
    assert garbage_service.collections_on(rules, date(2026, 11, 4), "邑久") == ["資源ごみ（びん・缶）"]
    assert garbage_service.collections_on(rules, date(2026, 11, 11), "邑久") == ["ペットボトル"]
    assert garbage_service.collections_on(rules, date(2026, 11, 15), "邑久") == []  # Sunday
    assert garbage_service.collections_on(rules, date(2026, 11, 25), "牛窓") == ["資源ごみ（びん・缶）"]
    assert garbage_service.collections_on(rules, date(2026, 11, 25), "長船") == ["燃やせるごみ"]


@pytest.mark.parametrize("day", [date(2026, 12, 31), date(2027, 1, 1), date(2027, 1, 2), date(2027, 1, 3)])
def test_nothing_is_collected_over_the_new_year(rules: list[GarbageRule], day: date) -> None:
    for district in ("邑久", "牛窓", "長船"):
        assert garbage_service.collections_on(rules, day, district) == []
        assert garbage_service.closure_on(rules, day, district) == "年末年始"


def test_the_new_year_closure_moves_the_next_collection(rules: list[GarbageRule]) -> None:
    # 邑久's 燃やせるごみ is Monday and Thursday: Thu 12-31 is skipped, Mon 1-4 comes next.
    days = garbage_service.next_days(rules, "燃やせるごみ", "邑久", date(2026, 12, 29), count=3)
    assert days == [date(2027, 1, 4), date(2027, 1, 7), date(2027, 1, 11)]
    assert garbage_service.collections_on(rules, date(2026, 12, 30), "長船") == ["燃やせるごみ"]
    assert garbage_service.closure_on(rules, date(2026, 12, 30), "長船") is None
    assert garbage_service.closure_on(rules, date(2027, 1, 4), "長船") is None


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
    assert garbage_service.category_in(rules, text) == category


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
    with pytest.raises(garbage_service.GarbageFileError, match=reason):
        garbage_service.parse_calendar(broken)


def test_weekday_words_with_or_without_youbi() -> None:
    rules = garbage_service.parse_calendar("districts: {邑久: {燃やせるごみ: {weekdays: [日曜日, 土曜, 月]}}}")
    assert rules[0].pattern == {"weekdays": [0, 5, 6]}


def test_a_citizens_district_is_remembered_for_other_capabilities(db: Database) -> None:
    with db.session() as db_session:
        assert garbage_service.get_district(db_session=db_session, line_user_id="Unew") is None
        garbage_service.set_district(db_session=db_session, line_user_id="Unew", district="牛窓")
    with db.session() as db_session:
        assert garbage_service.get_district(db_session=db_session, line_user_id="Unew") == "牛窓"
        garbage_service.set_district(db_session=db_session, line_user_id="Unew", district="長船")
        assert garbage_service.get_district(db_session=db_session, line_user_id="Unew") == "長船"
