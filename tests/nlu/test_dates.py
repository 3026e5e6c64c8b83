"""Dates and times resolved against a fixed reference time (Tuesday 24 November 2026, Tokyo)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from nlu import parse
from tests.nlu.conftest import REFERENCE


def values(text: str, entity: str) -> list[str]:
    return [e.value for e in parse(text, REFERENCE).entities if e.entity == entity]


@pytest.mark.parametrize(
    ("text", "date"),
    [
        ("今日行きます", "2026-11-24"),
        ("明日の予約", "2026-11-25"),
        ("あしたは空いてますか", "2026-11-25"),
        ("あさって行きたい", "2026-11-26"),
        ("3日後に行きたい", "2026-11-27"),
        ("三日後でお願いします", "2026-11-27"),
        ("2週間後", "2026-12-08"),
        ("来週の金曜に行きたい", "2026-12-04"),
        ("今週の金曜日", "2026-11-27"),
        ("再来週の月曜", "2026-12-07"),
        ("次の月曜日", "2026-11-30"),
        ("金曜日に行けますか", "2026-11-27"),
        ("12月3日に予約", "2026-12-03"),
        ("１２月３日", "2026-12-03"),
        ("12/3に行きたい", "2026-12-03"),
        ("1月5日", "2027-01-05"),
        ("11月20日", "2027-11-20"),
        ("令和8年1月5日", "2026-01-05"),
        ("令和9年2月1日に", "2027-02-01"),
        ("平成元年1月8日", "1989-01-08"),
        ("2026年12月24日", "2026-12-24"),
        ("2026-12-24", "2026-12-24"),
        ("来月3日", "2026-12-03"),
        ("30日に予約したい", "2026-11-30"),
        ("5日に予約したい", "2026-12-05"),
    ],
)
def test_dates(text: str, date: str) -> None:
    assert values(text, "date") == [date]


@pytest.mark.parametrize(
    ("text", "time"),
    [
        ("午後2時に行きます", "14:00"),
        ("10時半", "10:30"),
        ("14:00から", "14:00"),
        ("１４：３０", "14:30"),
        ("午前9時15分", "09:15"),
        ("夕方4時", "16:00"),
        ("2時に行きます", "14:00"),
        ("正午に", "12:00"),
        ("十時に", "10:00"),
    ],
)
def test_times(text: str, time: str) -> None:
    assert values(text, "time") == [time]


def test_date_and_time_together_with_offsets_in_the_original_text() -> None:
    text = "明日の午後２時に予約"
    result = parse(text, REFERENCE)
    found = {e.entity: e for e in result.entities}
    assert found["date"].value == "2026-11-25" and text[found["date"].start : found["date"].end] == "明日"
    assert found["time"].value == "14:00" and text[found["time"].start : found["time"].end] == "午後２時"


def test_periods_and_counts_are_not_dates() -> None:
    assert values("転入届は14日以内に出してください", "date") == []
    assert values("2月30日", "date") == []


def test_reference_time_in_utc_is_read_in_tokyo() -> None:
    # 23:30 UTC on the 24th is already the 25th in Tokyo: 明日 is the 26th.
    late = datetime(2026, 11, 24, 23, 30, tzinfo=UTC)
    assert [e.value for e in parse("明日", late).entities if e.entity == "date"] == ["2026-11-26"]
