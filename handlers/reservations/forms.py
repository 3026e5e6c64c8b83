"""The application form's questions: each field kind knows how to read a citizen's answer.

Answers arrive as typed on a phone: 全角 digits, hiragana where katakana is wanted, 和暦 dates,
hyphens of every width. `clean(field, text)` answers the stored form or raises `InvalidAnswer`
with the reason (too long, a future date, ...); what the citizen is asked and told lives in the
catalog (reservations.fields.<key>, reservations.answer_<reason>). `asks_something(text)` tells a
question or request typed at a question from an answer to it.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from nlu import dates

# Why an answer is refused (each has its own sentence for the citizen).
DOES_NOT_FIT = "invalid"  # not in the form asked for: the field's own sentence, with an example
TOO_LONG = "too_long"
FUTURE = "future"  # a date that has not come yet (a birth date)
OUT_OF_RANGE = "out_of_range"  # a date outside the days that make sense for the question

# Questions and requests are noticed up to this length (a quick reply's message holds 300).
MAX_QUESTION = 300


class InvalidAnswer(ValueError):
    """The answer does not fit, and why: `reason` (above), with the limit it broke (`limit`
    characters, or the dates from `first` to `last`). It never carries the answer itself
    (personal data stays out of logs); `field` names the question when a whole form is checked."""

    def __init__(
        self,
        reason: str = DOES_NOT_FIT,
        *,
        field: str | None = None,
        limit: int | None = None,
        first: date | None = None,
        last: date | None = None,
    ) -> None:
        super().__init__(f"{field}: {reason}" if field else reason)
        self.reason = reason
        self.field = field
        self.limit = limit
        self.first = first
        self.last = last


@dataclass(frozen=True)
class FormField:
    key: str
    label: str  # staff and the printed form (the citizen's wording is in the catalog)
    kind: str
    required: bool = True
    # Quick-reply choices offered with the question (the citizen may also type).
    choices: tuple[str, ...] = ()
    picker: bool = False  # a date: offer LINE's date picker


def nfkc(text: str) -> str:
    return unicodedata.normalize("NFKC", text).strip()


def clean_text(value: str, *, min_len: int = 1, max_len: int = 100) -> str:
    value = re.sub(r"\s+", " ", nfkc(value))
    if not min_len <= len(value) <= max_len:
        raise InvalidAnswer(DOES_NOT_FIT)
    if any(unicodedata.category(ch).startswith("C") for ch in value):
        raise InvalidAnswer(DOES_NOT_FIT)
    return value


# Besides letters (kanji, kana, 々, Latin), what names are written with: 瀬戸内 花子, ジョン・スミス, O'Brien.
NAME_MARKS = frozenset(" ・･ー-‐'’.=＝")


def clean_name(value: str) -> str:
    value = clean_text(value, min_len=1, max_len=40)
    # Letters only: digits, symbols, emoji (「😀😀」) and punctuation (a sentence) are not a name.
    if not all(unicodedata.category(ch)[0] in "LM" or ch in NAME_MARKS for ch in value):
        raise InvalidAnswer(DOES_NOT_FIT)
    if not any(unicodedata.category(ch)[0] == "L" for ch in value):
        raise InvalidAnswer(DOES_NOT_FIT)
    return value


def to_katakana(value: str) -> str:
    return "".join(chr(ord(ch) + 0x60) if "ぁ" <= ch <= "ゖ" else ch for ch in value)


def clean_furigana(value: str) -> str:
    value = to_katakana(nfkc(value)).replace("\u3000", " ")
    value = re.sub(r"\s+", " ", value).strip()
    if not value or len(value) > 60 or not re.fullmatch(r"[ァ-ヶー・ ]+", value):
        raise InvalidAnswer(DOES_NOT_FIT)
    return value


_DASHES = "-‐‑‒–—―−ー－ｰ"


def clean_phone(value: str) -> str:
    digits = nfkc(value)
    digits = re.sub(rf"[\s(){re.escape(_DASHES)}]", "", digits)
    # Mobile and IP phones (020/050/070/080/090) have 11 digits; landlines 10.
    mobile = re.match(r"0[25789]0", digits) is not None
    if not re.fullmatch(r"0\d{10}" if mobile else r"0\d{9}", digits):
        raise InvalidAnswer(DOES_NOT_FIT)
    return digits


def clean_address(value: str) -> str:
    value = clean_text(value, min_len=4, max_len=120)
    if not re.search(r"[^\d\s\-]", value):  # digits alone are not an address
        raise InvalidAnswer(DOES_NOT_FIT)
    return value


ERAS = {"明治": 1868, "大正": 1912, "昭和": 1926, "平成": 1989, "令和": 2019}
ERA_LETTERS = {"M": "明治", "T": "大正", "S": "昭和", "H": "平成", "R": "令和"}


def parse_date(value: str) -> date:
    """西暦 (1950年4月1日, 1950/4/1, 1950-04-01, 19500401) or 和暦 (昭和25年4月1日, S25.4.1, 令和元年…)."""
    text = nfkc(value).replace(" ", "")
    text = text.upper()
    match = re.fullmatch(r"(明治|大正|昭和|平成|令和|[MTSHR])(\d{1,2}|元)[年./\-](\d{1,2})[月./\-](\d{1,2})日?", text)
    if match:
        era = ERA_LETTERS.get(match.group(1), match.group(1))
        year = ERAS[era] + (1 if match.group(2) == "元" else int(match.group(2))) - 1
        month, day = int(match.group(3)), int(match.group(4))
    else:
        match = re.fullmatch(r"(\d{4})[年./\-](\d{1,2})[月./\-](\d{1,2})日?", text) or re.fullmatch(
            r"(\d{4})(\d{2})(\d{2})", text
        )
        if not match:
            raise InvalidAnswer(DOES_NOT_FIT)
        year, month, day = int(match.group(1)), int(match.group(2)), int(match.group(3))
    try:
        return date(year, month, day)
    except ValueError:
        raise InvalidAnswer(DOES_NOT_FIT) from None


EARLIEST_BIRTH = date(1900, 1, 1)


def _past_date(value: str, today: date) -> str:
    found = parse_date(value)
    if found > today:
        raise InvalidAnswer(FUTURE)
    if found < EARLIEST_BIRTH:
        raise InvalidAnswer(OUT_OF_RANGE, first=EARLIEST_BIRTH, last=today)
    return found.isoformat()


def _move_date(value: str, today: date) -> str:
    # 転入・転出・転居: the move is within two weeks before the notice, or planned (転出 up to ~1 month).
    return date_between(value, today, first=today - timedelta(days=90), last=today + timedelta(days=60)).isoformat()


def date_between(value: str, today: date, *, first: date, last: date) -> date:
    """A date from `first` to `last`: 西暦, 和暦, a month and day or a day without the year (the most
    recent one, else the coming one), or words (昨日, 先週の金曜). Any form's date question reads dates so."""
    try:
        found = parse_date(value)
    except InvalidAnswer:
        found = _past_event_date(value, today, first=first, last=last)
    if not first <= found <= last:
        raise InvalidAnswer(OUT_OF_RANGE, first=first, last=last)
    return found


_MONTH_DAY = re.compile(rf"{dates.N}[月/.\-]{dates.N}日?")
_DAY = re.compile(rf"{dates.N}日")
_TRAILING = re.compile(r"(です|でした|ごろ|頃|に|の予定|予定|。)+$")
# A time of day after the date (「きのうの夕方」「12月1日の夜8時ごろ」): the date is what is asked.
_PART_OF_DAY = r"(早朝|朝方|朝|午前中|午前|昼前|昼過ぎ|お昼|昼|午後|夕方|夕暮れ|夜中|深夜|夜|晩|明け方)"
_CLOCK = r"((午前|午後)?([0-9]{1,2}|[一二三四五六七八九十]{1,3})時(半|[0-9]{1,2}分)?)"
_TIME_OF_DAY = re.compile(rf"(の{_PART_OF_DAY}{_CLOCK}?|の?{_CLOCK})(ごろ|頃|くらい|ぐらい)?$")


def _past_event_date(value: str, today: date, *, first: date, last: date) -> date:
    """A date without a year for something that happened (a move): 「11月28日」 on 3 December is the
    most recent 28 November, and 「28日」 the most recent 28th; only when that is before `first` is it
    the coming one (a move still planned), if that is no later than `last`. 「昨日」「先週の金曜」 too,
    and a time of day after the date is let go (「きのうの夕方」 is yesterday)."""
    text = _TRAILING.sub("", nfkc(value).replace(" ", ""))
    text = _TRAILING.sub("", _TIME_OF_DAY.sub("", text)) or text
    match = _MONTH_DAY.fullmatch(text)
    day_only = _DAY.fullmatch(text)
    if match:
        month, day = dates.number(match.group(1)), dates.number(match.group(2))
        candidates = [_safe_date(today.year + years, month, day) for years in (-1, 0, 1)]
    elif day_only:
        day = dates.number(day_only.group(1))
        months = [_add_months(today.replace(day=1), n) for n in (-1, 0, 1)]
        candidates = [_safe_date(m.year, m.month, day) for m in months]
    else:
        found = dates.find_dates(text, datetime.combine(today, time(12), dates.TOKYO))
        if len(found) != 1 or found[0].entity != "date" or (found[0].start, found[0].end) != (0, len(text)):
            raise InvalidAnswer(DOES_NOT_FIT)
        return date.fromisoformat(found[0].value)
    days = [c for c in candidates if c is not None]
    past = [d for d in days if d <= today]
    if past and past[-1] >= first:
        return past[-1]
    coming = [d for d in days if today < d <= last]
    if coming:
        return coming[0]
    if past:
        return past[-1]  # refused as out of range, saying which days are
    raise InvalidAnswer(DOES_NOT_FIT)


def _safe_date(year: int, month: int, day: int) -> date | None:
    try:
        return date(year, month, day)
    except ValueError:
        return None


def _add_months(day: date, months: int) -> date:
    index = day.month - 1 + months
    return day.replace(year=day.year + index // 12, month=index % 12 + 1)


def clean_copies(value: str) -> str:
    text = nfkc(value).removesuffix("通").removesuffix("部").strip()
    kanji = {"一": 1, "二": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8, "九": 9, "十": 10}
    number = kanji.get(text) if text in kanji else (int(text) if text.isdigit() else None)
    if number is None or not 1 <= number <= 10:
        raise InvalidAnswer(DOES_NOT_FIT)
    return str(number)


def clean_insured_number(value: str) -> str:
    digits = re.sub(rf"[\s{re.escape(_DASHES)}]", "", nfkc(value))
    if not re.fullmatch(r"\d{10}", digits):
        raise InvalidAnswer(DOES_NOT_FIT)
    return digits


FIELDS: dict[str, FormField] = {
    f.key: f
    for f in (
        FormField("name", "氏名", "name"),
        FormField("furigana", "フリガナ", "furigana"),
        FormField("birth_date", "生年月日", "birth_date", picker=True),
        FormField("phone", "電話番号", "phone"),
        FormField("address", "住所", "address"),
        FormField("previous_address", "前住所", "address"),
        FormField("new_address", "新住所", "address"),
        FormField("move_date", "異動日（引っ越しの日）", "move_date", picker=True),
        FormField("copies", "必要な通数", "copies", choices=("1通", "2通", "3通")),
        FormField("honseki", "本籍地", "address"),
        FormField("hitto", "筆頭者の氏名", "name"),
        FormField("child_name", "お子さんの氏名", "name"),
        FormField("child_birth_date", "お子さんの生年月日", "birth_date", picker=True),
        FormField("insured_number", "介護保険の被保険者番号", "insured_number", required=False),
    )
}

_CLEANERS: dict[str, Callable[[str, date], str]] = {
    "name": lambda v, _: clean_name(v),
    "furigana": lambda v, _: clean_furigana(v),
    "birth_date": _past_date,
    "phone": lambda v, _: clean_phone(v),
    "address": lambda v, _: clean_address(v),
    "move_date": _move_date,
    "copies": lambda v, _: clean_copies(v),
    "insured_number": lambda v, _: clean_insured_number(v),
}


# The longest answer each kind takes (longer is refused as too long, whatever it says).
MAX_LENGTH: dict[str, int] = {
    "name": 40,
    "furigana": 60,
    "birth_date": 30,
    "phone": 30,
    "address": 120,
    "move_date": 30,
    "copies": 10,
    "insured_number": 30,
}


def clean(field: FormField, value: str, *, today: date) -> str:
    """The answer as stored, or InvalidAnswer with the reason."""
    limit = MAX_LENGTH[field.kind]
    if len(re.sub(r"\s+", " ", nfkc(value))) > limit:
        raise InvalidAnswer(TOO_LONG, limit=limit)
    return _CLEANERS[field.kind](value, today)


# A question or a request (「持ち物を教えてください」「駐車場はありますか？」), never part of an answer.
# 「ですか」 and the like only where a sentence ends (「ますかわ はなこ」 is a name).
_ASKING = re.compile(
    r"[?？]|教えて|ください|下さい|知りたい|どうすれば|どうしたら|(ですか|ますか|でしょうか|ませんか)(?=[。！!、\s]|ね|な|$)"
)


def asks_something(text: str) -> bool:
    """Whether text typed at a question asks something of its own instead of answering it."""
    normalised = nfkc(text)
    return len(normalised) <= MAX_QUESTION and _ASKING.search(normalised) is not None


# Words that ask what to bring (the procedure's 持ち物 answer them at once).
_ABOUT_DOCUMENTS = re.compile(r"持ち物|持物|持って|持参|必要なもの|必要な物|いるもの|要るもの")


def asks_documents(text: str) -> bool:
    return _ABOUT_DOCUMENTS.search(nfkc(text)) is not None


def clean_all(field_keys: list[str], answers: dict[str, str], *, today: date) -> dict[str, str]:
    """Validates a whole form at once (staff and API bookings): every required field present and valid."""
    out: dict[str, str] = {}
    for key in field_keys:
        field = FIELDS[key]
        raw = (answers.get(key) or "").strip()
        if not raw:
            if field.required:
                raise InvalidAnswer(field=key)
            continue
        try:
            out[key] = clean(field, raw, today=today)
        except InvalidAnswer as refused:
            raise InvalidAnswer(refused.reason, field=key) from None
    return out


def display(field: FormField, value: str) -> str:
    """How a stored answer reads on the confirmation card and the printed form."""
    if field.kind in ("birth_date", "move_date"):
        try:
            day = date.fromisoformat(value)
        except ValueError:
            return value
        return f"{day.year}年{day.month}月{day.day}日{wareki(day)}"
    if field.kind == "copies":
        return f"{value}通"
    if field.kind == "phone" and len(value) == 11:  # mobile: 090-1234-5678 (landlines vary by area code)
        return f"{value[:3]}-{value[3:7]}-{value[7:]}"
    return value


def wareki(day: date) -> str:
    starts = [
        ("令和", date(2019, 5, 1)),
        ("平成", date(1989, 1, 8)),
        ("昭和", date(1926, 12, 25)),
        ("大正", date(1912, 7, 30)),
    ]
    for era, start in starts:
        if day >= start:
            year = day.year - start.year + 1
            return f"（{era}{'元' if year == 1 else year}年）"
    return ""
