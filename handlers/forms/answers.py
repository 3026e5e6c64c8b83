"""What a citizen may answer to each kind of question, read the way the booking form reads answers.

The text cleaners (全角 digits, hyphens of every width, 和暦 and relative dates, phone numbers,
addresses) and the refusal reasons are the booking form's (handlers/reservations/forms.py): one
piece of code for both. `read(question, text, today=...)` answers the stored form or raises
`InvalidAnswer`; `display(question, value)` is how a stored answer reads on a card or in an export.
Photos and places are not typed: the flow stores them (handlers/forms/flow.py).
"""

from __future__ import annotations

import re
from datetime import date, timedelta

from handlers.forms.definition import NO, YES, DateRange, Kind, Question, split_choices
from handlers.reservations.forms import (
    DOES_NOT_FIT,
    OUT_OF_RANGE,
    TOO_LONG,
    InvalidAnswer,
    clean_address,
    clean_phone,
    clean_text,
    date_between,
    nfkc,
    wareki,
)
from nlu.dates import kanji_number

__all__ = ["DOES_NOT_FIT", "OUT_OF_RANGE", "TOO_LONG", "InvalidAnswer", "display", "read"]

YES_WORDS = frozenset({"はい", "はい。", "ある", "あります", "いる", "います", "済み", "済", "うん", "yes"})
NO_WORDS = frozenset({"いいえ", "いいえ。", "ない", "ありません", "いない", "いません", "未", "まだ", "ううん", "no"})
# How far back and ahead a date question reaches (a sighting last year is still a date).
DATE_REACH = timedelta(days=366 * 2)
_NUMBER = re.compile(r"-?\d+")
_SEPARATORS = re.compile(r"[、,，\s・/]+")


def read(question: Question, text: str, *, today: date) -> str:
    kind = question.kind
    value = nfkc(text)
    if kind in (Kind.SHORT_TEXT, Kind.LONG_TEXT):
        limit = question.text_limit
        if len(re.sub(r"\s+", " ", value)) > limit:
            raise InvalidAnswer(TOO_LONG, limit=limit)
        if kind == Kind.LONG_TEXT:  # line breaks kept (a letter has paragraphs)
            return _long_text(text, limit)
        return clean_text(value, max_len=limit)
    if kind == Kind.NUMBER:
        return _number(question, value)
    if kind == Kind.SINGLE_CHOICE:
        return _choice(question, value)
    if kind == Kind.MULTIPLE_CHOICE:
        return "、".join(_choices(question, value))
    if kind == Kind.YES_NO:
        return _yes_no(value)
    if kind == Kind.DATE:
        first, last = today - DATE_REACH, today + DATE_REACH
        if question.dates == DateRange.PAST:
            last = today
        elif question.dates == DateRange.FUTURE:
            first = today
        return date_between(text, today, first=first, last=last).isoformat()
    if kind == Kind.PHONE:
        return clean_phone(value)
    if kind == Kind.ADDRESS:
        return clean_address(value)
    raise InvalidAnswer(DOES_NOT_FIT)  # photos and places are sent, not typed


def _long_text(text: str, limit: int) -> str:
    lines = [re.sub(r"[ \t\u3000]+", " ", nfkc(line)).strip() for line in text.splitlines()]
    value = re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()
    if not value or any(ord(ch) < 32 and ch != "\n" for ch in value):
        raise InvalidAnswer(DOES_NOT_FIT)
    if len(value) > limit:
        raise InvalidAnswer(TOO_LONG, limit=limit)
    return value


# Around a number: 「約5頭くらいです」 is 5.
_NUMBER_BEFORE = re.compile(r"^(約|およそ|だいたい|大体|たぶん|多分)+")
_NUMBER_AFTER = re.compile(
    r"(頭|匹|羽|人|名|回|歳|才|件|個|本|台|か所|ヶ所|箇所|カ所|くらい|ぐらい|位|ほど|程度|ちょっと|です|でした|。)+$"
)


def _number(question: Question, value: str) -> str:
    text = _NUMBER_AFTER.sub("", _NUMBER_BEFORE.sub("", value.replace(",", "").replace(" ", "")))
    kanji = kanji_number(text)
    if kanji is not None:
        number = kanji
    elif _NUMBER.fullmatch(text):
        number = int(text)
    else:
        raise InvalidAnswer(DOES_NOT_FIT)
    low = question.minimum if question.minimum is not None else 0
    high = question.maximum if question.maximum is not None else 1_000_000
    if not low <= number <= high:
        raise InvalidAnswer(OUT_OF_RANGE, limit=high)
    return str(number)


def _choice(question: Question, value: str) -> str:
    squeezed = value.replace(" ", "")
    for choice in question.choices:
        if squeezed == choice.replace(" ", ""):
            return choice
    # A number typed for the n-th choice (「2」), as an older phone user might.
    if squeezed.isdigit() and 1 <= int(squeezed) <= len(question.choices):
        return question.choices[int(squeezed) - 1]
    raise InvalidAnswer(DOES_NOT_FIT)


def _choices(question: Question, value: str) -> list[str]:
    picked = [_choice(question, part) for part in _SEPARATORS.split(value) if part]
    if not picked:
        raise InvalidAnswer(DOES_NOT_FIT)
    return [c for c in question.choices if c in picked]  # the form's order, each once


def _yes_no(value: str) -> str:
    word = value.replace(" ", "").rstrip("。!！")
    said = {word, word.removesuffix("です"), word.removesuffix("でした"), word.removesuffix("よ")}
    if said & YES_WORDS or YES in said:
        return YES
    if said & NO_WORDS or NO in said:
        return NO
    raise InvalidAnswer(DOES_NOT_FIT)


def add_choice(question: Question, stored: str, choice: str) -> str:
    """A multiple-choice answer with one more choice ticked (buttons tick one at a time)."""
    picked = set(split_choices(stored)) | {choice}
    return "、".join(c for c in question.choices if c in picked)


def display(question: Question, value: str) -> str:
    if question.kind == Kind.DATE:
        try:
            day = date.fromisoformat(value)
        except ValueError:
            return value
        return f"{day.year}年{day.month}月{day.day}日{wareki(day)}"
    if question.kind == Kind.PHONE and len(value) == 11:
        return f"{value[:3]}-{value[3:7]}-{value[7:]}"
    return value
