"""The staff forms, read: a session (one day or a recurring series) and a signup taken by phone or at
the counter. Each reader answers the schema the staff actions take, or raises FormErrors with every
problem in staff's words; the page shows them above the form and keeps what was typed.

Times typed are Tokyo times. Numbers may be typed in 全角 (NFKC folds them).
"""

from __future__ import annotations

import unicodedata
from datetime import date, datetime, time, timedelta
from typing import Any

from pydantic import ValidationError
from starlette.datastructures import FormData

from bot import clock
from handlers.classes.admin.shared import rule_message
from handlers.classes.models import (
    AGE_GROUPS,
    NEEDS,
    Channel,
    ClassSession,
    Details,
    Level,
    Mode,
    PhoneKind,
    SessionCreate,
    SessionUpdate,
)
from handlers.classes.service import sessions as session_service
from handlers.reservations import forms as answer_forms

MAX_FIELD = 2000
LIST_FIELDS = frozenset({"phones", "needs"})
STAFF_CHANNELS = (Channel.PHONE, Channel.COUNTER)

# What each schema field is called on the form, for pydantic's complaints.
FIELD_MESSAGES = {
    "title": "教室名を入力してください（100文字以内）。",
    "level": "レベルを選んでください。",
    "description": "内容の説明は2000文字以内にしてください。",
    "venue": "会場名を入力してください（100文字以内）。",
    "venue_address": "会場の住所は200文字以内にしてください。",
    "latitude": "緯度は -90〜90 の数字で入力してください（例: 34.6633）。",
    "longitude": "経度は -180〜180 の数字で入力してください（例: 134.0937）。",
    "capacity": "定員は 0〜500 の数字で入力してください。",
    "bring": "持ち物は300文字以内にしてください。",
    "phones": "対応機種を選び直してください。",
    "mode": "申込方法（先着順／抽選）を選んでください。",
    "priority_age": "優先する年齢は 0〜120 の数字で入力してください（例: 75）。",
    "starts_at": "開催日と開始時刻を入力してください。",
    "ends_at": "終了時刻を入力してください。",
    "name": "お名前を入力してください（60文字以内）。",
    "furigana": "フリガナは60文字以内にしてください。",
    "phone": "電話番号を確認してください。",
    "phone_type": "機種を選び直してください。",
    "age_group": "年代を選び直してください。",
    "needs": "配慮事項を選び直してください。",
    "note": "メモは200文字以内にしてください。",
    "channel": "受付方法（電話／窓口）を選んでください。",
}


class FormErrors(Exception):
    def __init__(self, messages: list[str]) -> None:
        super().__init__("; ".join(messages))
        self.messages = list(dict.fromkeys(messages))


def read(form: FormData) -> dict[str, Any]:
    """The posted fields as typed (lists for the checkbox groups), without the CSRF token."""
    out: dict[str, Any] = {}
    for key in set(form.keys()):
        if key == "csrf_token":
            continue
        items = [str(v)[:MAX_FIELD] for v in form.getlist(key) if isinstance(v, str)]
        out[key] = items if key in LIST_FIELDS else (items[0].strip() if items else "")
    return out


def validation_messages(exc: ValidationError) -> list[str]:
    out: list[str] = []
    for error in exc.errors():
        field = str(error["loc"][0]) if error.get("loc") else ""
        if field in FIELD_MESSAGES:
            out.append(FIELD_MESSAGES[field])
        else:
            out.append(rule_message(str(error.get("msg", ""))))
    return out or ["入力内容を確認してください。"]


# Reading typed values ---------------------------------------------------------------------------


def _folded(value: str) -> str:
    return unicodedata.normalize("NFKC", value or "").strip()


class _Reader:
    """Collects every problem instead of stopping at the first."""

    def __init__(self, values: dict[str, Any]) -> None:
        self.values = values
        self.problems: list[str] = []

    def text(self, key: str) -> str:
        return str(self.values.get(key) or "").strip()

    def day(self, key: str, message: str) -> date | None:
        try:
            return date.fromisoformat(_folded(self.text(key)))
        except ValueError:
            self.problems.append(message)
            return None

    def clock_time(self, key: str, message: str) -> time | None:
        raw = _folded(self.text(key)).replace("：", ":")
        try:
            hour, minute = (int(part) for part in raw.split(":")[:2])
            return time(hour, minute)
        except ValueError:
            self.problems.append(message)
            return None

    def moment(self, key: str, message: str) -> datetime | None:
        """A datetime-local value (2026-12-01T09:00), Tokyo time; empty: none."""
        raw = _folded(self.text(key)).replace(" ", "T")
        if not raw:
            return None
        try:
            value = datetime.fromisoformat(raw)
        except ValueError:
            self.problems.append(message)
            return None
        return value.replace(tzinfo=clock.TOKYO) if value.tzinfo is None else value

    def number(self, key: str, message: str, *, required: bool = False, decimal: bool = False) -> Any:
        raw = _folded(self.text(key)).replace("－", "-")
        if not raw:
            if required:
                self.problems.append(message)
            return None
        try:
            return float(raw) if decimal else int(raw)
        except ValueError:
            self.problems.append(message)
            return None

    def choice(self, key: str, allowed: Any, message: str, default: Any = None) -> Any:
        raw = self.text(key)
        if not raw:
            return default
        try:
            return allowed(raw)
        except ValueError:
            self.problems.append(message)
            return default

    def done(self) -> None:
        if self.problems:
            raise FormErrors(self.problems)


def _common(reader: _Reader) -> dict[str, Any]:
    """The fields every session form has (not its dates)."""
    values: dict[str, Any] = {
        "title": reader.text("title"),
        "level": reader.choice("level", Level, FIELD_MESSAGES["level"], Level.FIRST),
        "description": reader.text("description"),
        "venue": reader.text("venue"),
        "venue_address": reader.text("venue_address"),
        "latitude": reader.number("latitude", FIELD_MESSAGES["latitude"], decimal=True),
        "longitude": reader.number("longitude", FIELD_MESSAGES["longitude"], decimal=True),
        "capacity": reader.number("capacity", FIELD_MESSAGES["capacity"], required=True),
        "bring": reader.text("bring"),
        "mode": reader.choice("mode", Mode, FIELD_MESSAGES["mode"], Mode.FIRST_COME),
        "priority_age": reader.number("priority_age", FIELD_MESSAGES["priority_age"]),
    }
    phones = reader.values.get("phones") or []
    if any(p not in {k.value for k in PhoneKind} for p in phones):
        reader.problems.append(FIELD_MESSAGES["phones"])
    values["phones"] = [p for p in PhoneKind if p.value in phones]
    if (values["latitude"] is None) != (values["longitude"] is None):
        reader.problems.append("緯度と経度は両方入力するか、両方とも空欄にしてください。")
    return values


def _one_day(reader: _Reader) -> dict[str, Any]:
    day = reader.day("day", "開催日を選んでください（例: 2026-12-08）。")
    start = reader.clock_time("start", "開始時刻を 10:00 の形で入力してください。")
    end = reader.clock_time("end", "終了時刻を 11:30 の形で入力してください。")
    values: dict[str, Any] = {
        "signup_opens_at": reader.moment("signup_opens_at", "申込開始の日時を確認してください。"),
        "signup_deadline": reader.moment("signup_deadline", "申込締切の日時を確認してください。"),
    }
    if day and start and end:
        values["starts_at"] = datetime.combine(day, start, clock.TOKYO)
        values["ends_at"] = datetime.combine(day, end, clock.TOKYO)
    return values


def session_create(values: dict[str, Any], *, now: datetime) -> SessionCreate:
    """One session, from the new-session form."""
    reader = _Reader(values)
    fields = {**_common(reader), **_one_day(reader)}
    if "starts_at" in fields and fields["starts_at"] <= now:
        reader.problems.append("開催日時が過ぎています。これからの日時を入力してください。")
    reader.done()
    try:
        return SessionCreate.model_validate(fields)
    except ValidationError as exc:
        raise FormErrors(validation_messages(exc)) from None


def session_update(values: dict[str, Any]) -> SessionUpdate:
    """Every field of the edit form (what did not change is set to what it was)."""
    reader = _Reader(values)
    fields = {**_common(reader), **_one_day(reader)}
    reader.done()
    if fields["mode"] == Mode.LOTTERY and fields["signup_deadline"] is None and "starts_at" in fields:
        # As when created: a lottery closes its applications before the class, so it gets drawn.
        fields["signup_deadline"] = fields["starts_at"] - session_service.DEFAULT_LOTTERY_DEADLINE
    try:
        return SessionUpdate.model_validate(fields)
    except ValidationError as exc:
        raise FormErrors(validation_messages(exc)) from None


def series(values: dict[str, Any], *, now: datetime) -> tuple[SessionCreate, session_service.Recurrence]:
    """A recurring series: the weekday, every week or the nth of the month, between two dates; the
    signup period as days before each session."""
    reader = _Reader(values)
    fields = _common(reader)
    first_day = reader.day("first_day", "期間の初日を選んでください。")
    last_day = reader.day("last_day", "期間の最終日を選んでください。")
    start = reader.clock_time("start", "開始時刻を 10:00 の形で入力してください。")
    end = reader.clock_time("end", "終了時刻を 11:30 の形で入力してください。")
    weekday = reader.number("weekday", "曜日を選んでください。", required=True)
    nth = reader.number("nth", "毎週か第何週かを選んでください。")
    opens_before = reader.number("opens_days_before", "申込開始は「開催の何日前」かを数字で入力してください。")
    deadline_before = reader.number("deadline_days_before", "申込締切は「開催の何日前」かを数字で入力してください。")
    if weekday is not None and not 0 <= weekday <= 6:
        reader.problems.append("曜日を選んでください。")
    if nth is not None and not 1 <= nth <= 5:
        reader.problems.append("毎週か第何週かを選んでください。")
    for days in (opens_before, deadline_before):
        if days is not None and not 0 <= days <= 365:
            reader.problems.append("申込開始・締切は、開催の0〜365日前で入力してください。")
    if first_day and last_day and last_day < first_day:
        reader.problems.append("期間の最終日は初日より後にしてください。")
    if first_day and first_day < session_service.tokyo_day(now):
        reader.problems.append("期間の初日は今日以降にしてください。")
    reader.done()
    assert first_day and last_day and start and end and weekday is not None
    recurrence = session_service.Recurrence(
        first_day=first_day, last_day=last_day, weekday=weekday, nth=nth, start=start, end=end
    )
    days = recurrence.days()
    if days and datetime.combine(days[0], start, clock.TOKYO) <= now:
        # Today's class has begun already: the series starts with the next one.
        recurrence = session_service.Recurrence(
            first_day=first_day + timedelta(days=1), last_day=last_day, weekday=weekday, nth=nth, start=start, end=end
        )
        days = recurrence.days()
    first = days[0] if days else first_day
    starts = datetime.combine(first, start, clock.TOKYO)
    fields["starts_at"] = starts
    fields["ends_at"] = datetime.combine(first, end, clock.TOKYO)
    fields["signup_opens_at"] = starts - timedelta(days=opens_before) if opens_before is not None else None
    fields["signup_deadline"] = starts - timedelta(days=deadline_before) if deadline_before is not None else None
    try:
        template = SessionCreate.model_validate(fields)
    except ValidationError as exc:
        raise FormErrors(validation_messages(exc)) from None
    return template, recurrence


def values_of(session: ClassSession) -> dict[str, Any]:
    """A session as its edit form shows it."""

    def local(moment: datetime | None) -> str:
        return moment.astimezone(clock.TOKYO).strftime("%Y-%m-%dT%H:%M") if moment else ""

    starts = session.starts_at.astimezone(clock.TOKYO)
    return {
        "title": session.title,
        "level": str(session.level),
        "description": session.description,
        "day": starts.date().isoformat(),
        "start": starts.strftime("%H:%M"),
        "end": session.ends_at.astimezone(clock.TOKYO).strftime("%H:%M"),
        "venue": session.venue,
        "venue_address": session.venue_address,
        "latitude": "" if session.latitude is None else f"{session.latitude:g}",
        "longitude": "" if session.longitude is None else f"{session.longitude:g}",
        "capacity": str(session.capacity),
        "bring": session.bring,
        "phones": list(session.phones),
        "signup_opens_at": local(session.signup_opens_at),
        "signup_deadline": local(session.signup_deadline),
        "mode": str(session.mode),
        "priority_age": "" if session.priority_age is None else str(session.priority_age),
    }


def signup_details(values: dict[str, Any]) -> tuple[Details, Channel]:
    """Who signs up by phone or at the counter: name and phone required (staff call them), the
    furigana in カタカナ and the phone in 半角 digits, as the citizen's own flow stores them."""
    problems: list[str] = []
    fields: dict[str, Any] = {}
    try:
        fields["name"] = answer_forms.clean_name(str(values.get("name") or ""))
    except ValueError:
        problems.append("お名前を入力してください（数字や記号は使えません）。")
    furigana = str(values.get("furigana") or "").strip()
    try:
        fields["furigana"] = answer_forms.clean_furigana(furigana) if furigana else ""
    except ValueError:
        problems.append("フリガナはカタカナ（またはひらがな）で入力してください。")
    try:
        fields["phone"] = answer_forms.clean_phone(str(values.get("phone") or ""))
    except ValueError:
        problems.append("電話番号を確認してください（例: 090-1234-5678、0869-22-1111）。")
    fields["phone_type"] = values.get("phone_type") or None
    fields["age_group"] = values.get("age_group") or None
    fields["needs"] = list(values.get("needs") or [])
    fields["note"] = str(values.get("note") or "")
    chosen = str(values.get("channel") or "")
    channel = next((c for c in STAFF_CHANNELS if c.value == chosen), None)
    if channel is None:
        problems.append(FIELD_MESSAGES["channel"])
    if problems:
        raise FormErrors(problems)
    try:
        details = Details.model_validate(fields)
    except ValidationError as exc:
        raise FormErrors(validation_messages(exc)) from None
    assert channel is not None
    return details, channel


def needs_text(details: Details) -> str:
    """配慮事項: the needs ticked, and the note."""
    parts = [NEEDS.get(n, n) for n in details.needs]
    if details.note:
        parts.append(details.note)
    return "、".join(parts)


def age_text(details: Details) -> str:
    return AGE_GROUPS[details.age_group][0] if details.age_group in AGE_GROUPS else ""


def phone_text(phone: str) -> str:
    """090-1234-5678 for a mobile (landlines' area codes vary: as typed)."""
    return f"{phone[:3]}-{phone[3:7]}-{phone[7:]}" if len(phone) == 11 and phone.isdigit() else phone
