"""Dates and times in Japanese, resolved against a reference time (Asia/Tokyo).

Dates come out as ISO `YYYY-MM-DD`, times as `HH:MM`. Understood: 今日/明日/あさって, N日後・N週間後,
(今週|来週|再来週)の金曜, 次の月曜, 金曜日, 12月3日, 12/3, 来月3日, 3日 (this month or next),
2026年1月5日, 令和8年1月5日, 2026-01-05; 午後2時, 10時半, 14:00, 正午, 夕方4時. A date without a
year that has passed this year means next year. A bare hour from 1 to 7 (「2時に」) means the
afternoon: the counter is open 8:30–17:15, so nobody books 2 a.m.
"""

from __future__ import annotations

import calendar
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from functools import cached_property
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

if TYPE_CHECKING:
    from nlu.tokenizer import Token

TOKYO = ZoneInfo("Asia/Tokyo")

_KANJI_DIGITS = {"〇": 0, "零": 0, "一": 1, "二": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8, "九": 9}
_WEEKDAYS = "月火水木金土日"
N = r"([0-9]{1,4}|[〇一二三四五六七八九十]{1,3})"
# After a bare day number, only these may follow (「14日以内」 is a period, not a date).
_DAY_END = r"(?=[にのはでもまか、。,.!?\s(（]|$|ごろ|頃)"


_KANJI_UNITS = {"十": 10, "百": 100, "千": 1000}
_KANJI_NUMBER = re.compile(r"[〇零一二三四五六七八九十百千]+")


def kanji_number(text: str) -> int | None:
    """Kanji numerals up to 9999 (十二 = 12, 八十二 = 82, 百五 = 105, 二〇二六 = 2026), else None
    (二三十 is not a number)."""
    if not _KANJI_NUMBER.fullmatch(text):
        return None
    if not any(ch in _KANJI_UNITS for ch in text):
        return int("".join(str(_KANJI_DIGITS[ch]) for ch in text))
    total, digit = 0, None
    for ch in text:
        if ch in _KANJI_DIGITS:
            if digit is not None:
                return None
            digit = _KANJI_DIGITS[ch]
        else:
            total += (1 if digit is None else digit) * _KANJI_UNITS[ch]
            digit = None
    return total + (digit or 0)


def number(token: str) -> int:
    """Arabic or kanji numerals (十二 = 12, 二十 = 20, 三十一 = 31); 0 for kanji that make no number,
    which no date or time accepts."""
    if token.isdigit():
        return int(token)
    return kanji_number(token) or 0


@dataclass(frozen=True)
class Found:
    entity: str
    value: str
    start: int
    end: int


# What "now" is when a text comes without a reference time. The platform sets its one clock here
# (bot.runtime.configure_process), so a test that travels moves the NLU's "today" too.
def _wall_clock() -> datetime:
    return datetime.now(TOKYO)


_now: Callable[[], datetime] = _wall_clock


def use_clock(now: Callable[[], datetime]) -> None:
    global _now
    _now = now


def reference_date(reference_time: datetime | None) -> date:
    if reference_time is None:
        reference_time = _now()
    if reference_time.tzinfo is None:
        reference_time = reference_time.replace(tzinfo=TOKYO)
    return reference_time.astimezone(TOKYO).date()


def _safe_date(year: int, month: int, day: int) -> date | None:
    try:
        return date(year, month, day)
    except ValueError:
        return None


def _month_day(today: date, month: int, day: int) -> date | None:
    """A month and day with no year: this year, or next year when it has already passed."""
    found = _safe_date(today.year, month, day)
    if found is not None and found < today:
        found = _safe_date(today.year + 1, month, day)
    return found


def _add_months(day: date, months: int) -> date:
    month_index = day.month - 1 + months
    year, month = day.year + month_index // 12, month_index % 12 + 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def _weekday_in_week(today: date, weekday: int, weeks_ahead: int) -> date:
    monday = today - timedelta(days=today.weekday())
    return monday + timedelta(weeks=weeks_ahead, days=weekday)


def _next_weekday(today: date, weekday: int, *, include_today: bool) -> date:
    ahead = (weekday - today.weekday()) % 7
    if ahead == 0 and not include_today:
        ahead = 7
    return today + timedelta(days=ahead)


DateRule = tuple[re.Pattern[str], Callable[[re.Match[str], date], date | None]]

_RELATIVE_WORDS = {
    "明々後日": 3,
    "しあさって": 3,
    "明後日": 2,
    "あさって": 2,
    "明日": 1,
    "あした": 1,
    "今日": 0,
    "本日": 0,
    "今夜": 0,
    "今晩": 0,
    "今朝": 0,
    "きょう": 0,
    "昨日": -1,
    "きのう": -1,
    "一昨日": -2,
    "おととい": -2,
}
_WEEK_OFFSETS = {"先週": -1, "今週": 0, "来週": 1, "再来週": 2}
_MONTH_OFFSETS = {"先月": -1, "今月": 0, "来月": 1, "再来月": 2}


# 今日, あした, あす...: words, so they count only where the tokenizer puts a word boundary.
_RELATIVE_PATTERN = re.compile("|".join(sorted(_RELATIVE_WORDS, key=len, reverse=True)) + "|あす")


class _Boundaries:
    """Word boundaries of a text (Sudachi): the caller's tokens of it, or computed only if a relative
    date word is seen."""

    def __init__(self, text: str, tokens: Sequence[Token] | None):
        self.text = text
        self._tokens = tokens

    @cached_property
    def _edges(self) -> tuple[set[int], set[int]]:
        from nlu.tokenizer import tokenize

        tokens = self._tokens if self._tokens is not None else tokenize(self.text)
        return {t.start for t in tokens}, {t.end for t in tokens}

    def around(self, start: int, end: int) -> bool:
        starts, ends = self._edges
        return start in starts and end in ends


DATE_RULES: list[DateRule] = [
    (re.compile(rf"(令和|平成)(元|{N})年{N}月{N}日"), lambda m, t: _era_fixed(m, t)),
    (
        re.compile(r"([0-9]{4})[年/.-]([0-9]{1,2})[月/.-]([0-9]{1,2})日?"),
        lambda m, t: _safe_date(int(m.group(1)), int(m.group(2)), int(m.group(3))),
    ),
    (
        re.compile(rf"(再来月|来月|今月|先月)の?{N}日"),
        lambda m, t: _safe_date(*_ym(_add_months(t.replace(day=1), _MONTH_OFFSETS[m.group(1)])), number(m.group(2))),
    ),
    (re.compile(rf"{N}月{N}日"), lambda m, t: _month_day(t, number(m.group(1)), number(m.group(2)))),
    (
        re.compile(r"(?<![0-9/])([0-9]{1,2})/([0-9]{1,2})(?![0-9/])"),
        lambda m, t: _month_day(t, int(m.group(1)), int(m.group(2))),
    ),
    (
        re.compile(rf"(再来週|来週|今週|先週)の?([{_WEEKDAYS}])曜?日?"),
        lambda m, t: _weekday_in_week(t, _WEEKDAYS.index(m.group(2)), _WEEK_OFFSETS[m.group(1)]),
    ),
    (
        re.compile(rf"(?:次|今度)の([{_WEEKDAYS}])曜日?"),
        lambda m, t: _next_weekday(t, _WEEKDAYS.index(m.group(1)), include_today=False),
    ),
    (
        re.compile(rf"([{_WEEKDAYS}])曜日?"),
        lambda m, t: _next_weekday(t, _WEEKDAYS.index(m.group(1)), include_today=True),
    ),
    (re.compile(rf"{N}日後"), lambda m, t: t + timedelta(days=number(m.group(1)))),
    (re.compile(rf"{N}週間後"), lambda m, t: t + timedelta(weeks=number(m.group(1)))),
    (re.compile(rf"{N}[かヵヶケカ]?月後"), lambda m, t: _add_months(t, number(m.group(1)))),
    (_RELATIVE_PATTERN, lambda m, t: t + timedelta(days=_RELATIVE_WORDS.get(m.group(0), 1))),
    (
        re.compile(rf"(?<![0-9月〇一二三四五六七八九十])([0-9]{{1,2}})日{_DAY_END}"),
        lambda m, t: _day_only(t, int(m.group(1))),
    ),
]


def _ym(day: date) -> tuple[int, int]:
    return day.year, day.month


def _era_fixed(match: re.Match[str], today: date) -> date | None:
    # Groups: era, year (元 or number, whose inner group is 3), month, day.
    base = 2018 if match.group(1) == "令和" else 1988
    year_token = match.group(2)
    year = 1 if year_token == "元" else number(year_token)
    return _safe_date(base + year, number(match.group(4)), number(match.group(5)))


def _day_only(today: date, day: int) -> date | None:
    found = _safe_date(today.year, today.month, day)
    if found is None or found < today:
        following = _add_months(today.replace(day=1), 1)
        found = _safe_date(following.year, following.month, day)
    return found


_TIME_CLOCK = re.compile(r"(?<![0-9])([0-9]{1,2}):([0-9]{2})(?![0-9])")
_COMPOUND_AFTER = re.compile(r"(?![頃過前半])[\u4e00-\u9fff]")
_TIME_JA = re.compile(rf"(午前|午後|朝の?|昼の?|夕方の?|夜の?)?{N}時(半|{N}分)?")


def _time_value(prefix: str | None, hour: int, minute: int) -> str | None:
    if prefix:
        prefix = prefix.rstrip("の")
    afternoon = prefix in ("午後", "夕方", "夜") and hour < 12
    if afternoon or (prefix == "昼" and hour < 6) or (prefix is None and 1 <= hour <= 7):
        hour += 12
    if not (0 <= hour <= 24 and 0 <= minute < 60):
        return None
    return f"{hour % 24:02d}:{minute:02d}"


def find_dates(text: str, reference_time: datetime | None = None, tokens: Sequence[Token] | None = None) -> list[Found]:
    """Date and time entities in (normalised) text; spans index into `text`. Never overlapping.
    `tokens`: the text's tokens when the caller has them already (else they are made if needed)."""
    today = reference_date(reference_time)
    boundaries = _Boundaries(text, tokens)
    taken: list[tuple[int, int]] = []
    found: list[Found] = []

    def free(start: int, end: int) -> bool:
        return all(end <= s or start >= e for s, e in taken)

    for pattern, resolve in DATE_RULES:
        for match in pattern.finditer(text):
            if not free(match.start(), match.end()):
                continue
            if pattern is _RELATIVE_PATTERN and not boundaries.around(match.start(), match.end()):
                # 「きょう」 inside 「きょうしつ」, 「あした」 inside 「あしたば」: a word, not a date.
                continue
            try:
                value = resolve(match, today)
            except (ValueError, KeyError, OverflowError):
                value = None
            if value is not None:
                taken.append((match.start(), match.end()))
                found.append(Found("date", value.isoformat(), match.start(), match.end()))
    for match in _TIME_CLOCK.finditer(text):
        if free(match.start(), match.end()):
            value_str = _time_value("", int(match.group(1)), int(match.group(2)))
            if value_str is not None:
                taken.append((match.start(), match.end()))
                found.append(Found("time", value_str, match.start(), match.end()))
    for match in _TIME_JA.finditer(text):
        if not free(match.start(), match.end()):
            continue
        if _COMPOUND_AFTER.match(text, match.end()) and not match.group(2).isdigit() and not match.group(3):
            # 「一時避難」「一時金」: a word meaning "temporary", not one o'clock.
            continue
        hour = number(match.group(2))
        half = match.group(3)
        minute = 30 if half == "半" else (number(match.group(4)) if match.group(4) else 0)
        value_str = _time_value(match.group(1), hour, minute)
        if value_str is not None:
            taken.append((match.start(), match.end()))
            found.append(Found("time", value_str, match.start(), match.end()))
    for match in re.finditer("正午", text):
        if free(match.start(), match.end()):
            taken.append((match.start(), match.end()))
            found.append(Found("time", "12:00", match.start(), match.end()))
    return sorted(found, key=lambda f: f.start)
