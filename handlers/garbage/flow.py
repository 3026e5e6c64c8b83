"""「明日は何ごみ?」 and its kin on LINE: the garbage calendar for the citizen's district (asked once,
remembered, changeable), with an opt-in reminder the evening before (handlers/garbage/notify.py).

Entry points: the intent garbage_day, text about the garbage reminder (「ごみの通知をやめる」), and the
buttons under every answer. The postback actions keep the names they had under 地図情報 (gis_*), so
buttons already in citizens' chats keep working.
"""

from __future__ import annotations

import re
from datetime import date, timedelta
from enum import StrEnum
from typing import Any

from bot.catalog import t
from bot.clock import TOKYO
from bot.flow import END, Flow, Route, StepResult, Turn, on_intent, on_postback
from bot.messages import postback_item
from bot.messages import text as text_message
from handlers.garbage import service as garbage_service
from handlers.gis.service import places as place_service

_REMINDER_OFF = re.compile(r"(通知|お知らせ|おしらせ|リマインド).*(やめ|止め|とめ|停止|解除|いらない|不要)")
_REMINDER_ON = re.compile(r"(通知|お知らせ|おしらせ|リマインド)")
_CHANGE = re.compile(r"(変更|変え|かえ|引っ越|引越)")


class State(StrEnum):
    DISTRICT = "district"  # asked for the citizen's district


# --- entry steps ----------------------------------------------------------------------------------


def garbage_day(turn: Turn) -> StepResult:
    """「明日は何ごみ?」「牛窓のびんの日」「ごみの通知をやめる」: answers for the citizen's district,
    asking it once (remembered) when we do not know it."""
    if turn.user_id is None:
        return END
    text = place_service.normalise(turn.text or "")
    pref = garbage_service.get_preference(db_session=turn.db_session, line_user_id=turn.user_id)
    if pref is not None and _REMINDER_OFF.search(text):
        garbage_service.set_reminder(db_session=turn.db_session, line_user_id=turn.user_id, on=False)
        turn.say(text_message(t("gis.garbage.reminder_off"), _garbage_items(False)))
        return END
    if _CHANGE.search(text) and not _has_question(turn):
        turn.data = {"question": ""}
        _ask_district(turn)
        return State.DISTRICT
    named = place_service.resolve_place(turn.text, district_hint=_nlu_district(turn))
    district = named.district if named is not None else (pref.district if pref is not None else None)
    if district is None:
        turn.data = {"question": (turn.text or "")[:200], "date": _asked_date(turn)}
        _ask_district(turn)
        return State.DISTRICT
    if pref is None:
        pref = garbage_service.set_district(db_session=turn.db_session, line_user_id=turn.user_id, district=district)
    if _REMINDER_ON.search(text) and not _REMINDER_OFF.search(text):
        garbage_service.set_reminder(db_session=turn.db_session, line_user_id=turn.user_id, on=True)
        turn.say(text_message(t("gis.garbage.reminder_on"), _garbage_items(True)))
        return END
    _answer_garbage(turn, district, turn.text or "", _asked_date(turn), reminder=pref.reminder)
    return END


def garbage_reminder_words(turn: Turn) -> bool:
    """「ごみの通知をやめる」: the NLU may hear 配信停止 (unsubscribe); garbage words make it ours."""
    if turn.text is None or turn.postback is not None:
        return False
    text = place_service.normalise(turn.text)
    return bool(re.search(r"(ごみ|ゴミ)", text)) and bool(_REMINDER_ON.search(text))


def _has_question(turn: Turn) -> bool:
    rules = garbage_service.get_rules(db_session=turn.db_session)
    return _asked_date(turn) is not None or garbage_service.category_in(rules, turn.text or "") is not None


def _nlu_district(turn: Turn) -> str | None:
    return turn.nlu.entity("district") if turn.nlu is not None else None


def _asked_date(turn: Turn) -> str | None:
    value = turn.nlu.entity("date") if turn.nlu is not None else None
    if value:
        try:
            return date.fromisoformat(value[:10]).isoformat()
        except ValueError:
            pass
    text = place_service.normalise(turn.text or "")
    today = turn.now.astimezone(TOKYO).date()
    for words, offset in ((("明後日", "あさって"), 2), (("明日", "あした", "あす"), 1), (("今日", "きょう"), 0)):
        if any(w in text for w in words):
            return (today + timedelta(days=offset)).isoformat()
    return None


def set_reminder(turn: Turn) -> StepResult:
    """「前日に通知する」/「通知をやめる」 buttons."""
    on = turn.postback_fields.get("on") == "1"
    if turn.user_id is None:
        return END
    pref = garbage_service.set_reminder(db_session=turn.db_session, line_user_id=turn.user_id, on=on)
    if pref is None:
        turn.data = {"question": ""}
        _ask_district(turn)
        return State.DISTRICT
    turn.say(text_message(t("gis.garbage.reminder_on" if on else "gis.garbage.reminder_off"), _garbage_items(on)))
    return END


def change_district(turn: Turn) -> StepResult:
    """「地区を変更」: asks the district again."""
    turn.data = {"question": ""}
    _ask_district(turn)
    return State.DISTRICT


# --- the district ---------------------------------------------------------------------------------


def pick_district(turn: Turn) -> StepResult:
    """A district button: saves it and answers the question that was waiting (if any)."""
    district = turn.postback_fields.get("district", "")
    if turn.user_id is None or district not in garbage_service.districts(db_session=turn.db_session):
        _ask_district(turn)
        return None
    return _district_chosen(turn, district)


def district_named(turn: Turn) -> bool:
    return turn.text is not None and place_service.resolve_place(turn.text) is not None


def district_text(turn: Turn) -> StepResult:
    """A 大字 or district typed instead of tapped: saves its district and answers."""
    place = place_service.resolve_place(turn.text)
    if place is None or turn.user_id is None:  # pragma: no cover - district_named checked it
        return None
    return _district_chosen(turn, place.district)


def _district_chosen(turn: Turn, district: str) -> StepResult:
    assert turn.user_id is not None
    pref = garbage_service.set_district(db_session=turn.db_session, line_user_id=turn.user_id, district=district)
    question = str(turn.data.get("question") or "")
    asked = turn.data.get("date")
    turn.say(text_message(t("gis.garbage.district_saved", district=district)))
    _answer_garbage(turn, district, question, asked if isinstance(asked, str) else None, reminder=pref.reminder)
    return END


def _ask_district(turn: Turn) -> None:
    items = [
        postback_item(d, "gis_district", display=d, district=d)
        for d in garbage_service.districts(db_session=turn.db_session)
    ]
    turn.say(text_message(t("gis.garbage.ask_district"), items))


# --- answers --------------------------------------------------------------------------------------


def _answer_garbage(turn: Turn, district: str, question: str, asked: str | None, *, reminder: bool) -> None:
    rules = garbage_service.get_rules(db_session=turn.db_session)
    today = turn.now.astimezone(TOKYO).date()
    category = garbage_service.category_in(rules, question)
    if asked is not None:
        day = date.fromisoformat(asked)
        when = _when(day, today)
        closed = garbage_service.closure_on(rules, day, district)
        kinds = garbage_service.collections_on(rules, day, district)
        if closed:
            body = t("gis.garbage.day_closed", when=when, label=closed)
        elif kinds:
            body = t("gis.garbage.day", when=when, district=district, categories="・".join(kinds))
        else:
            body = t("gis.garbage.day_none", when=when, district=district)
    elif category is not None:
        days = garbage_service.next_days(rules, category, district, today, count=3)
        if days:
            lines = "\n".join(t("gis.garbage.day_line", day=_when(d, today)) for d in days)
            body = t("gis.garbage.category", district=district, category=category, days=lines)
        else:
            body = t("gis.garbage.category_none", district=district, category=category)
    else:
        lines_out = []
        for offset in range(7):
            day = today + timedelta(days=offset)
            closed = garbage_service.closure_on(rules, day, district)
            kinds = garbage_service.collections_on(rules, day, district)
            if closed:
                lines_out.append(t("gis.garbage.week_closed_line", day=_when(day, today), label=closed))
            elif kinds:
                lines_out.append(t("gis.garbage.week_line", day=_when(day, today), categories="・".join(kinds)))
        body = t("gis.garbage.week", district=district, lines="\n".join(lines_out) or t("gis.garbage.week_empty"))
    if any(r.source and "サンプル" in r.source for r in rules):
        body += "\n" + t("gis.garbage.sample_note")
    turn.say(text_message(body, _garbage_items(reminder)))


def _when(day: date, today: date) -> str:
    words = t("gis.garbage.date", month=day.month, day=day.day, weekday=t("gis.garbage.weekdays")[day.weekday()])
    if day == today:
        return t("gis.garbage.today", date=words)
    if day == today + timedelta(days=1):
        return t("gis.garbage.tomorrow", date=words)
    return words


def _garbage_items(reminder_on: bool) -> list[Any]:
    toggle = (
        postback_item(t("gis.garbage.reminder_off_button"), "gis_garbage_reminder", on=0)
        if reminder_on
        else postback_item(t("gis.garbage.reminder_on_button"), "gis_garbage_reminder", on=1)
    )
    return [toggle, postback_item(t("gis.garbage.change_district_button"), "gis_garbage_district")]


FLOW = Flow(
    name="garbage",
    entry_points=[
        on_postback("gis_district", pick_district),
        on_postback("gis_garbage_reminder", set_reminder),
        on_postback("gis_garbage_district", change_district),
        Route(garbage_reminder_words, garbage_day, "text:garbage-reminder"),
        on_intent("garbage_day", garbage_day),
    ],
    states={
        State.DISTRICT: [
            on_postback("gis_district", pick_district),
            Route(district_named, district_text, "text:district"),
        ],
    },
)
