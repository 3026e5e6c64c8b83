"""The garbage collection calendar: which kinds go out on which day in each district, with the
年末年始 (and any other) closures; each citizen's district and evening-before reminder.

Rules are rows (loaded from data/garbage_sample.yml, or the city's own file with
`madoguchi garbage import`): every week on some weekdays, the n-th weekday of each month,
single dates, and closed periods that override everything.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

import yaml
from sqlalchemy import delete, or_, select, update
from sqlalchemy.orm import Session

from bot import clock
from handlers.garbage.models import GarbagePreference, GarbageRule

WEEKDAYS = "月火水木金土日"
ALL_DISTRICTS = "*"
CLOSED = "収集なし"
_NTH = re.compile(r"^第([1-5１-５])([月火水木金土日])(?:曜日?)?$")


class GarbageFileError(Exception):
    """The calendar file was refused (the rules in the database are untouched)."""


@dataclass(frozen=True)
class Collection:
    day: date
    category: str


# --- loading -------------------------------------------------------------------------------------


def _weekday(word: Any) -> int:
    text = str(word).strip()
    for suffix in ("曜日", "曜"):
        if len(text) > 1 and text.endswith(suffix):
            text = text[: -len(suffix)]
    if len(text) != 1 or text not in WEEKDAYS:
        raise GarbageFileError(f"曜日「{word}」がわかりません（月〜日で書いてください）。")
    return WEEKDAYS.index(text)


def _pattern(district: str, category: str, spec: Any) -> dict[str, Any]:
    if not isinstance(spec, dict) or not spec:
        raise GarbageFileError(f"{district}の{category}: weekdays / nth / dates のどれかを書いてください。")
    pattern: dict[str, Any] = {}
    for key, values in spec.items():
        if not isinstance(values, list):
            raise GarbageFileError(f"{district}の{category}: {key} は一覧（[ ]）で書いてください。")
        if key == "weekdays":
            pattern["weekdays"] = sorted({_weekday(v) for v in values})
        elif key == "nth":
            nth = []
            for value in values:
                match = _NTH.match(unicodedata.normalize("NFKC", str(value)).strip())
                if not match:
                    raise GarbageFileError(f"{district}の{category}: 「{value}」は「第2水」のように書いてください。")
                nth.append([int(match.group(1)), WEEKDAYS.index(match.group(2))])
            pattern["nth"] = nth
        elif key == "dates":
            try:
                pattern["dates"] = sorted({date.fromisoformat(str(v)).isoformat() for v in values})
            except ValueError as exc:
                raise GarbageFileError(f"{district}の{category}: 日付は 2026-12-29 のように書いてください。") from exc
        else:
            raise GarbageFileError(f"{district}の{category}: 「{key}」は使えません（weekdays / nth / dates）。")
    return pattern


def _month_day(value: Any) -> str:
    text = str(value).strip()
    try:
        date.fromisoformat(f"2000-{text}")
    except ValueError as exc:
        raise GarbageFileError(f"収集なしの期間「{value}」は 12-31 のように書いてください。") from exc
    return text


def parse_calendar(text: str, source_name: str = "") -> list[GarbageRule]:
    try:
        data = yaml.safe_load(text)
    except (yaml.YAMLError, ValueError) as exc:  # ValueError: an impossible date such as 2026-13-01
        raise GarbageFileError(f"YAMLとして読めません（日付は 2026-12-29 のように書いてください。{exc}）。") from None
    if not isinstance(data, dict) or not isinstance(data.get("districts"), dict):
        raise GarbageFileError("districts（地区ごとの収集日）がありません。")
    source = str(data.get("source") or source_name)
    keywords: dict[str, list[str]] = {k: [str(w) for w in (v or [])] for k, v in (data.get("categories") or {}).items()}
    rules: list[GarbageRule] = []
    order = 0
    for closure in data.get("closures") or []:
        rules.append(
            GarbageRule(
                district=ALL_DISTRICTS,
                category=CLOSED,
                pattern={
                    "closed": [[_month_day(closure["from"]), _month_day(closure["to"])]],
                    "label": str(closure.get("label") or "収集なし"),
                },
                keywords=[],
                sort_order=order,
                source=source,
            )
        )
        order += 1
    for district, categories in data["districts"].items():
        if not isinstance(categories, dict):
            raise GarbageFileError(f"{district}: 分別ごとの収集日を書いてください。")
        for category, spec in categories.items():
            rules.append(
                GarbageRule(
                    district=str(district),
                    category=str(category),
                    pattern=_pattern(str(district), str(category), spec),
                    keywords=keywords.get(category, []),
                    sort_order=order,
                    source=source,
                )
            )
            order += 1
    if not any(r.category != CLOSED for r in rules):
        raise GarbageFileError("収集日が1件もありません。")
    return rules


def replace_calendar(*, db_session: Session, text: str, source_name: str = "") -> int:
    """Replaces every rule with the file's (all or nothing). Answers how many rules were loaded."""
    rules = parse_calendar(text, source_name)
    db_session.execute(delete(GarbageRule))
    db_session.add_all(rules)
    db_session.flush()
    return len(rules)


def has_calendar(*, db_session: Session) -> bool:
    return db_session.scalar(select(GarbageRule.id).limit(1)) is not None


# --- the calendar --------------------------------------------------------------------------------


def get_rules(*, db_session: Session) -> list[GarbageRule]:
    return list(db_session.scalars(select(GarbageRule).order_by(GarbageRule.sort_order, GarbageRule.id)))


def districts(*, db_session: Session) -> list[str]:
    seen: list[str] = []
    for rule in get_rules(db_session=db_session):
        if rule.district != ALL_DISTRICTS and rule.district not in seen:
            seen.append(rule.district)
    return seen


def closure_on(rules: list[GarbageRule], day: date, district: str) -> str | None:
    """The closure's label (年末年始) when nothing is collected that day."""
    md = day.strftime("%m-%d")
    for rule in rules:
        if rule.category != CLOSED or rule.district not in (ALL_DISTRICTS, district):
            continue
        for start, end in rule.pattern.get("closed", []):
            inside = start <= md <= end if start <= end else (md >= start or md <= end)
            if inside:
                return str(rule.pattern.get("label") or CLOSED)
    return None


def _matches(pattern: dict[str, Any], day: date) -> bool:
    if day.weekday() in pattern.get("weekdays", []):
        return True
    nth = (day.day - 1) // 7 + 1
    if [nth, day.weekday()] in [list(x) for x in pattern.get("nth", [])]:
        return True
    return day.isoformat() in pattern.get("dates", [])


def collections_on(rules: list[GarbageRule], day: date, district: str) -> list[str]:
    """The kinds collected that day in the district (none during a closure)."""
    if closure_on(rules, day, district):
        return []
    return [
        r.category for r in rules if r.district == district and r.category != CLOSED and _matches(r.pattern or {}, day)
    ]


def next_days(rules: list[GarbageRule], category: str, district: str, start: date, count: int = 3) -> list[date]:
    """The next `count` collection days of one kind, from `start` (included), within a year."""
    out: list[date] = []
    day = start
    for _ in range(370):
        if category in collections_on(rules, day, district):
            out.append(day)
            if len(out) >= count:
                break
        day += timedelta(days=1)
    return out


def category_in(rules: list[GarbageRule], text: str) -> str | None:
    """The kind of garbage the text talks about (びん → 資源ごみ（びん・缶）), by the calendar's words."""
    norm = unicodedata.normalize("NFKC", text)
    best: tuple[int, str] | None = None
    for rule in rules:
        if rule.category == CLOSED:
            continue
        for word in [rule.category, *(rule.keywords or [])]:
            word = unicodedata.normalize("NFKC", word)
            # The longest word wins: 燃やせない before 燃やせ….
            if word and word in norm and (best is None or len(word) > best[0]):
                best = (len(word), rule.category)
    return best[1] if best else None


def categories(rules: list[GarbageRule]) -> list[str]:
    seen: list[str] = []
    for rule in rules:
        if rule.category != CLOSED and rule.category not in seen:
            seen.append(rule.category)
    return seen


# --- a citizen's district and reminder -----------------------------------------------------------


def get_preference(*, db_session: Session, line_user_id: str) -> GarbagePreference | None:
    return db_session.get(GarbagePreference, line_user_id)


def get_district(*, db_session: Session, line_user_id: str) -> str | None:
    """The district the citizen told us (邑久 / 牛窓 / 長船), or None when they never did."""
    pref = get_preference(db_session=db_session, line_user_id=line_user_id)
    return pref.district if pref is not None else None


def set_district(*, db_session: Session, line_user_id: str, district: str) -> GarbagePreference:
    pref = get_preference(db_session=db_session, line_user_id=line_user_id)
    if pref is None:
        pref = GarbagePreference(line_user_id=line_user_id, district=district, reminder=False)
        db_session.add(pref)
    pref.district = district
    pref.updated_at = clock.now()
    db_session.flush()
    return pref


def set_reminder(*, db_session: Session, line_user_id: str, on: bool) -> GarbagePreference | None:
    pref = get_preference(db_session=db_session, line_user_id=line_user_id)
    if pref is None:
        return None
    pref.reminder = on
    pref.updated_at = clock.now()
    db_session.flush()
    return pref


@dataclass(frozen=True)
class DueReminder:
    line_user_id: str
    district: str
    day: date  # the collection day (tomorrow)
    categories: list[str]


REMINDER_HOUR = 18  # the evening before, from 18:00 Tokyo time


def due_reminders(*, db_session: Session, now: datetime) -> list[DueReminder]:
    """Citizens who asked for a reminder, not yet reminded for tomorrow, whose district collects
    something tomorrow; empty before REMINDER_HOUR."""
    local = now.astimezone(clock.TOKYO)
    if local.hour < REMINDER_HOUR:
        return []
    tomorrow = local.date() + timedelta(days=1)
    rules = get_rules(db_session=db_session)
    query = select(GarbagePreference).where(
        GarbagePreference.reminder.is_(True),
        or_(GarbagePreference.last_reminded_for.is_(None), GarbagePreference.last_reminded_for < tomorrow),
    )
    due = []
    for pref in db_session.scalars(query.order_by(GarbagePreference.line_user_id)):
        kinds = collections_on(rules, tomorrow, pref.district)
        if kinds:
            due.append(DueReminder(pref.line_user_id, pref.district, tomorrow, kinds))
    return due


def claim_reminder(*, db_session: Session, line_user_id: str, day: date) -> bool:
    """Marks the citizen reminded for `day`; False when another process already did (one a day)."""
    result = db_session.execute(
        update(GarbagePreference)
        .where(
            GarbagePreference.line_user_id == line_user_id,
            GarbagePreference.reminder.is_(True),
            or_(GarbagePreference.last_reminded_for.is_(None), GarbagePreference.last_reminded_for < day),
        )
        .values(last_reminded_for=day)
        .execution_options(synchronize_session=False)
    )
    return bool(getattr(result, "rowcount", 0))
