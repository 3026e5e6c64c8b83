"""スマホ教室 on LINE.

「スマホ教室」 (menu, or words such as 「来月のスマホ教室はいつ？」「牛窓でスマホの教室ある？」) shows
the sessions to come as a carousel with places left, narrowed by month and venue. 「申し込む」 on a
session: 「自分」 or 「家族など、ほかの方」 (or someone signed up before, in one tap) → name →
furigana → phone → phone type → age group (optional) → needs → confirm → done: a card with the QR
code, a place on the waitlist, or a lottery application. 「マイスマホ教室」 lists my signups and my
family's, each with its QR code and 取り消す (asked once more). A promoted citizen may 辞退する.

A session or signup id in a postback is only a choice: open, and owned by this LINE user, is checked
on every use. The order of the questions is data (QUESTIONS): `advance` asks the first one still
missing, `back` forgets the one before the question being waited on.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

from linebot.v3.messaging import QuickReplyItem

from bot.catalog import t
from bot.flow import END, Flow, Route, StepResult, Turn, on_intent, on_postback
from bot.messages import intent_item, location, menu_text, postback_item
from bot.messages import text as text_message
from handlers.classes import cards, notify, prompts
from handlers.classes.models import AGE_GROUPS, NEEDS, Channel, ClassSession, PhoneKind, Signup, SignupStatus
from handlers.classes.service import sessions
from handlers.classes.service import signups as signup_service
from handlers.classes.service.errors import AlreadySignedUp, InvalidTransition, LimitReached, NotFound, SignupClosed
from handlers.classes.states import State
from handlers.reservations import forms
from nlu.normalize import normalise

QUIT_WORDS = {"やめる", "やめます", "やめたい", "中止", "終了", "キャンセル", "やめて", "おわり", "終わり"}
BACK_WORDS = {"戻る", "もどる", "戻って", "前に戻る"}
YES_WORDS = {"はい", "はい。", "申し込む", "申し込みます", "お願いします", "おねがいします", "ok", "OK", "取り消す"}
NO_WORDS = {"いいえ", "いや", "やめとく", "取り消さない"}
MINE_WORDS = ("マイスマホ教室", "申し込んだ教室", "申し込んだスマホ教室", "申込状況", "申し込み状況")
SHOWN_AT_ONCE = 10
# Said in the middle of a question, these (when the words say so too) start over instead.
NEW_REQUESTS = {"class_info", "class_signup", "class_cancel", "reservation_make", "reservation_check", "handoff"}
NEW_REQUEST_CONFIDENCE = 0.8
KANJI_MONTHS = {"十一": 11, "十二": 12, "一": 1, "二": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8}
KANJI_MONTHS |= {"九": 9, "十": 10}


def words(turn: Turn) -> str:
    return normalise(turn.text or "").replace(" ", "")


def _says(vocabulary: set[str]) -> Callable[[Turn], bool]:
    return lambda turn: turn.text is not None and words(turn) in vocabulary


def _says_mine(turn: Turn) -> bool:
    said = unicodedata.normalize("NFKC", turn.text or "")
    return any(word in said for word in MINE_WORDS)


# Seeing the sessions --------------------------------------------------------------------------


def _month_said(turn: Turn) -> tuple[int, int] | None:
    """「来月」「今月」「1月」「十二月」: the month meant (the next one with that number)."""
    said = unicodedata.normalize("NFKC", turn.text or "")
    today = sessions.tokyo_day(turn.now)
    shift = 2 if "再来月" in said else 1 if "来月" in said else 0 if "今月" in said else None
    if shift is None:
        match = re.search(r"(\d{1,2}|十[一二]?|[一二三四五六七八九])月", said)
        if not match:
            return None
        number = int(match.group(1)) if match.group(1).isdigit() else KANJI_MONTHS[match.group(1)]
        if not 1 <= number <= 12:
            return None
        shift = (number - today.month) % 12
    month = today.month - 1 + shift
    return today.year + month // 12, month % 12 + 1


def _venue_said(turn: Turn, venues: list[str]) -> str | None:
    """A venue named, or the district (牛窓・邑久・長船) of one."""
    said = unicodedata.normalize("NFKC", turn.text or "")
    districts = turn.nlu.entity_values("district") if turn.nlu else []
    for venue in venues:
        if venue in said or any(d and d in venue for d in districts):
            return venue
    return None


def show_sessions(turn: Turn) -> StepResult:
    """The sessions to come (narrowed by the month and venue said or tapped), with places left."""
    fields = turn.postback_fields
    month: tuple[int, int] | None = None
    if turn.action == "cls_month" and re.fullmatch(r"\d{4}-\d{2}", fields.get("m", "")):
        year, number = fields["m"].split("-")
        month = (int(year), int(number)) if 1 <= int(number) <= 12 else None
    elif turn.text:
        month = _month_said(turn)
    venues = sessions.venues(db_session=turn.db_session, now=turn.now)
    venue = fields.get("v") if turn.action == "cls_venue" and fields.get("v") in venues else None
    if venue is None and turn.text:
        venue = _venue_said(turn, venues)
    found = sessions.upcoming(db_session=turn.db_session, now=turn.now, month=month, venue=venue)
    quick = _filters(turn, venues)
    if not found:
        turn.say(text_message(t("classes.none_found") if (month or venue) else t("classes.none_planned"), quick))
        return END
    shown = found[:SHOWN_AT_ONCE]
    counts = sessions.counts(db_session=turn.db_session, session_ids=[s.id for s in shown])
    lead = t("classes.list_intro_signup") if turn.intent == "class_signup" else t("classes.list_intro")
    if month:
        lead = t("classes.list_month", month=month[1]) + "\n" + lead
    if venue:
        lead = t("classes.list_venue", venue=venue) + "\n" + lead
    if len(found) > len(shown):
        lead += "\n" + t("classes.list_more", count=len(found) - len(shown))
    turn.say(text_message(lead), cards.sessions_message([(s, counts[s.id]) for s in shown], quick))
    return END


def _filters(turn: Turn, venues: list[str]) -> list[QuickReplyItem]:
    """Quick replies: the next three months, the venues, and 「マイスマホ教室」."""
    today = sessions.tokyo_day(turn.now)
    items = []
    for shift in range(3):
        month = today.month - 1 + shift
        year, number = today.year + month // 12, month % 12 + 1
        label = t("classes.month_button", month=number)
        items.append(postback_item(label, "cls_month", display=label, m=f"{year}-{number:02d}"))
    for venue in venues[:5]:
        items.append(postback_item(venue, "cls_venue", display=venue, v=venue))
    items.append(cards.mine_item())
    return items


def show_map(turn: Turn) -> StepResult:
    session = _session_from_postback(turn)
    if session is None or session.latitude is None or session.longitude is None:
        return END
    turn.say(location(session.venue, session.venue_address, session.latitude, session.longitude))
    return END


def _session_from_postback(turn: Turn) -> ClassSession | None:
    try:
        session_id = int(turn.postback_fields.get("id", ""))
    except ValueError:
        return None
    return sessions.get(db_session=turn.db_session, session_id=session_id)


# Signing up -----------------------------------------------------------------------------------


def pick(turn: Turn) -> StepResult:
    """「申し込む」 on a session: open for signups, then who is coming."""
    if turn.user_id is None:
        return END
    session = _session_from_postback(turn)
    if session is None or not sessions.is_open_for_signup(session, turn.now):
        turn.say(text_message(t("classes.closed"), [intent_item("class_info")]))
        return END
    turn.data = {"sid": session.id}
    return advance(turn)


def _current(turn: Turn) -> ClassSession | None:
    sid = turn.data.get("sid")
    return sessions.get(db_session=turn.db_session, session_id=int(sid)) if sid else None


@dataclass(frozen=True)
class Question:
    key: str  # what its answer fills (in the encrypted answers, or in turn.data for "who"/"needs_done")
    state: State
    ask: Callable[[Turn, ClassSession], StepResult]


QUESTIONS: tuple[Question, ...] = (
    Question("who", State.WHO, prompts.ask_who),
    Question("name", State.NAME, lambda turn, s: prompts.ask_text(turn, "name", State.NAME)),
    Question("furigana", State.FURIGANA, lambda turn, s: prompts.ask_text(turn, "furigana", State.FURIGANA)),
    Question("phone", State.PHONE, lambda turn, s: prompts.ask_text(turn, "phone", State.PHONE)),
    Question("phone_type", State.PHONE_TYPE, lambda turn, s: prompts.ask_phone_type(turn)),
    Question("age_group", State.AGE, lambda turn, s: prompts.ask_age(turn)),
    Question("needs_done", State.NEEDS, lambda turn, s: prompts.ask_needs(turn)),
)


def _has(turn: Turn, key: str, answers: dict[str, object]) -> bool:
    return key in turn.data if key in ("who", "needs_done") else key in answers


def advance(turn: Turn) -> StepResult:
    """Asks the first question still missing; with everything answered, the confirmation card."""
    session = _current(turn)
    if session is None or not sessions.is_open_for_signup(session, turn.now):
        turn.say(text_message(t("classes.closed"), [intent_item("class_info")]))
        return END
    answers = prompts.answers(turn)
    for question in QUESTIONS:
        if not _has(turn, question.key, answers):
            return question.ask(turn, session)
    return prompts.show_confirmation(turn, session)


def back(turn: Turn) -> StepResult:
    """「戻る」: the question before this one (from a remembered person's card: who is coming)."""
    if turn.state == State.CANCEL:
        return keep(turn)
    here = next((i for i, q in enumerate(QUESTIONS) if q.state == turn.state), len(QUESTIONS))
    if here == 0:
        turn.say(menu_text(t("common.quit_done")))
        return END
    if turn.data.get("pid") is not None or here == 1:
        turn.data = {"sid": turn.data.get("sid")}
        return advance(turn)
    previous = QUESTIONS[here - 1].key
    turn.data.pop(previous, None)
    turn.data.pop("nonce", None)
    answers = prompts.answers(turn)
    answers.pop(previous, None)
    if previous == "needs_done":
        answers.pop("needs", None)
    prompts.store(turn, answers)
    return advance(turn)


def quit_flow(turn: Turn) -> StepResult:
    turn.say(menu_text(t("classes.quit_done")))
    return END


def pick_who(turn: Turn) -> StepResult:
    who = turn.postback_fields.get("who")
    if who == "p" and turn.user_id:
        participant = signup_service.get_participant(
            db_session=turn.db_session, participant_id=turn.postback_fields.get("id"), line_user_id=turn.user_id
        )
        if participant is not None:
            turn.data["who"] = "self" if participant.is_self else "other"
            prompts.use_participant(turn, participant)
    elif who in ("self", "other"):
        turn.data["who"] = who
    return advance(turn)


def who_in_words(turn: Turn) -> StepResult:
    said = words(turn)
    if said in ("自分", "じぶん", "本人", "私", "わたし"):
        turn.data["who"] = "self"
    elif any(word in said for word in ("家族", "かぞく", "ほかの", "他の", "母", "父", "妻", "夫")):
        turn.data["who"] = "other"
    return advance(turn)


CLEANERS: dict[str, Callable[[str], str]] = {
    "name": forms.clean_name,
    "furigana": forms.clean_furigana,
    "phone": forms.clean_phone,
}


def answer_text(turn: Turn) -> StepResult:
    """Name, furigana or phone, cleaned (カタカナ, 半角 digits); one that does not fit is asked again."""
    key = {State.NAME: "name", State.FURIGANA: "furigana", State.PHONE: "phone"}.get(State(turn.state or ""))
    if key is None:
        return advance(turn)
    try:
        value = CLEANERS[key](turn.text or "")
    except (forms.InvalidAnswer, ValueError):
        return prompts.ask_text(turn, key, State(turn.state or ""), lead=t(f"classes.invalid_{key}"))
    answers = prompts.answers(turn)
    answers[key] = value
    prompts.store(turn, answers)
    return advance(turn)


def pick_phone_type(turn: Turn) -> StepResult:
    value = turn.postback_fields.get("v", "")
    if turn.text:
        said = words(turn).lower()
        if "iphone" in said or "アイフォン" in said:
            value = "iphone"
        elif "android" in said or "アンドロイド" in said:
            value = "android"
        elif any(word in said for word in ("持っていない", "もっていない", "ない", "借りたい", "貸出")):
            value = "loaner"
    if value in {k.value for k in PhoneKind}:
        answers = prompts.answers(turn)
        answers["phone_type"] = value
        prompts.store(turn, answers)
    return advance(turn)


def pick_age(turn: Turn) -> StepResult:
    value = turn.postback_fields.get("v", "")
    if turn.text is not None:
        value = _age_in_words(words(turn))
    if value in AGE_GROUPS or value == "skip":
        answers = prompts.answers(turn)
        answers["age_group"] = "" if value == "skip" else value
        prompts.store(turn, answers)
    return advance(turn)


def _age_in_words(said: str) -> str:
    """「78歳」「70代」「答えない」: the age group meant ("" when it is not clear)."""
    if any(word in said for word in ("答えない", "こたえない", "言わない", "省略", "なし")):
        return "skip"
    match = re.search(r"(\d{2,3})", said)
    if not match:
        return ""
    age = int(match.group(1))
    found = [key for key, (_, youngest) in AGE_GROUPS.items() if youngest <= age]
    return found[-1] if found and age < 120 else ""


def pick_need(turn: Turn) -> StepResult:
    value = turn.postback_fields.get("v", "")
    answers = prompts.answers(turn)
    if value == "done" or (turn.text is not None and words(turn) in ("特になし", "なし", "ない", "以上", "以上です")):
        turn.data["needs_done"] = True
        answers.setdefault("needs", [])
        prompts.store(turn, answers)
        return advance(turn)
    if value in NEEDS:
        chosen = list(answers.get("needs", []))
        if value not in chosen:
            chosen.append(value)
        answers["needs"] = chosen
        prompts.store(turn, answers)
        if len(chosen) == len(NEEDS):
            turn.data["needs_done"] = True
            return advance(turn)
        return prompts.ask_needs(turn, more=True)
    return prompts.ask_needs(turn, more=bool(answers.get("needs")))


def confirm(turn: Turn) -> StepResult:
    return _sign_up(turn, turn.postback_fields.get("k", ""))


def confirm_in_words(turn: Turn) -> StepResult:
    nonce = turn.data.get("nonce")
    if words(turn) in YES_WORDS and nonce:
        return _sign_up(turn, str(nonce))
    if words(turn) in NO_WORDS:
        return quit_flow(turn)
    return advance(turn)


def _sign_up(turn: Turn, nonce: str) -> StepResult:
    """Signs up with the card's key (once, however often it is tapped) and says what came of it."""
    if not nonce or nonce != turn.data.get("nonce"):
        return _signed_by_card(turn, nonce)
    session = _current(turn)
    if session is None or turn.user_id is None:
        return advance(turn)
    try:
        details = prompts.details(turn)
    except ValueError:
        turn.data = {"sid": session.id}
        return advance(turn)
    is_self = turn.data.get("who") == "self"
    participant = signup_service.remember_participant(
        db_session=turn.db_session,
        line_user_id=turn.user_id,
        details=details,
        is_self=is_self,
        settings=turn.settings,
        now=turn.now,
    )
    try:
        signed = signup_service.create(
            db_session=turn.db_session,
            session_id=session.id,
            details=details,
            channel=Channel.LINE if is_self else Channel.FAMILY,
            settings=turn.settings,
            line_user_id=turn.user_id,
            participant=participant,
            idempotency_key=signup_service.idempotency_key(turn.user_id, nonce),
            now=turn.now,
        )
    except AlreadySignedUp:
        turn.say(text_message(t("classes.already", name=details.name), [cards.mine_item()]))
        return END
    except SignupClosed:
        turn.say(text_message(t("classes.closed"), [intent_item("class_info")]))
        return END
    except LimitReached:
        turn.say(text_message(t("classes.limit", max=turn.settings.class_max_active_signups), [cards.mine_item()]))
        return END
    except NotFound:
        turn.say(menu_text(t("classes.closed")))
        return END
    _say_signed(turn, signed.signup, session, details.name, again=not signed.created)
    return END


def _say_signed(turn: Turn, signup: Signup, session: ClassSession, name: str, *, again: bool) -> None:
    position = signup_service.waitlist_position(db_session=turn.db_session, signup=signup)
    if again:
        lead = t("classes.signed_again")
    elif signup.status == SignupStatus.CONFIRMED:
        lead = t("classes.signed_confirmed", name=name)
    elif signup.status == SignupStatus.WAITLISTED:
        lead = t("classes.signed_waitlisted", name=name, position=position)
    else:
        deadline = sessions.deadline_of(session)
        lead = t("classes.signed_applied", name=name, date=cards.day_text(sessions.tokyo_day(deadline)))
    token = signup_service.token_of(signup, turn.settings)
    turn.say(*cards.signup_messages(turn.settings, session, signup, name, token, lead=lead, position=position))


def confirm_again(turn: Turn) -> StepResult:
    """A confirm button tapped after the conversation ended (again, or from an old card)."""
    return _signed_by_card(turn, turn.postback_fields.get("k", ""))


def _signed_by_card(turn: Turn, nonce: str) -> StepResult:
    signup = None
    if nonce and turn.user_id:
        key = signup_service.idempotency_key(turn.user_id, nonce)
        signup = signup_service.get_by_idempotency_key(db_session=turn.db_session, key=key)
    session = sessions.get(db_session=turn.db_session, session_id=signup.session_id) if signup else None
    if signup is None or session is None or signup.line_user_id != turn.user_id:
        turn.say(menu_text(t("classes.expired_confirm")))
        return END
    details = signup_service.details_of(signup, turn.settings)
    _say_signed(turn, signup, session, details.name if details else "", again=True)
    return END


# マイスマホ教室 ---------------------------------------------------------------------------------


def show_mine(turn: Turn) -> StepResult:
    """My signups and my family's, still to come: QR code, cancel."""
    if turn.user_id is None:
        return END
    found = signup_service.upcoming_for_citizen(db_session=turn.db_session, line_user_id=turn.user_id, now=turn.now)
    if not found:
        turn.say(text_message(t("classes.mine_none"), [intent_item("class_info")]))
        return END
    items = []
    for signup, session in found[:SHOWN_AT_ONCE]:
        details = signup_service.details_of(signup, turn.settings)
        position = signup_service.waitlist_position(db_session=turn.db_session, signup=signup)
        items.append((signup, session, details.name if details else "", position))
    intro = t("classes.mine_intro", count=len(found))
    if turn.intent == "class_cancel":
        intro += "\n" + t("classes.pick_to_cancel")
    turn.say(text_message(intro), cards.mine_message(items))
    return END


def _own_signup(turn: Turn, signup_id: object) -> Signup | None:
    signup = signup_service.get_for_citizen(
        db_session=turn.db_session, signup_id=str(signup_id), line_user_id=turn.user_id
    )
    if signup is None:
        turn.say(menu_text(t("classes.not_found")))
    return signup


def _own_live_signup(turn: Turn) -> tuple[Signup, ClassSession] | None:
    """The postback's signup and its session, if it is this LINE user's and not cancelled; else says so."""
    signup = _own_signup(turn, turn.postback_fields.get("id"))
    if signup is None:
        return None
    session = sessions.get(db_session=turn.db_session, session_id=signup.session_id)
    if session is None or signup.status == SignupStatus.CANCELLED:
        turn.say(menu_text(t("classes.not_found")))
        return None
    return signup, session


def show_signup(turn: Turn) -> StepResult:
    """「QRコードを表示」: the signup's card (and QR code) again."""
    found = _own_live_signup(turn)
    if found is None:
        return END
    signup, session = found
    details = signup_service.details_of(signup, turn.settings)
    position = signup_service.waitlist_position(db_session=turn.db_session, signup=signup)
    token = signup_service.token_of(signup, turn.settings)
    lead = t("classes.card_title")
    name = details.name if details else ""
    turn.say(*cards.signup_messages(turn.settings, session, signup, name, token, lead=lead, position=position))
    return END


def ask_cancel(turn: Turn) -> StepResult:
    """取り消す / 辞退する: asked once more (取り消す・取り消さない)."""
    found = _own_live_signup(turn)
    if found is None:
        return END
    signup, session = found
    details = signup_service.details_of(signup, turn.settings)
    declining = turn.action == "cls_decline"
    turn.data = {"cancel": signup.id, "decline": declining}
    question = t(
        "classes.ask_decline" if declining else "classes.ask_cancel",
        title=session.title,
        when=cards.when_text(session),
        name=details.name if details else "",
    )
    yes = t("classes.button_decline") if declining else t("classes.button_cancel")
    turn.say(
        text_message(
            question,
            [
                postback_item(yes, "cls_cancel_yes", display=yes, id=signup.id),
                postback_item(t("classes.keep"), "cls_keep", display=t("classes.keep")),
            ],
        )
    )
    return State.CANCEL


def cancel(turn: Turn) -> StepResult:
    signup_id = turn.postback_fields.get("id") if turn.postback else turn.data.get("cancel")
    signup = _own_signup(turn, signup_id)
    if signup is None:
        return END
    session = sessions.get(db_session=turn.db_session, session_id=signup.session_id)
    declining = bool(turn.data.get("decline"))
    try:
        done = signup_service.cancel(
            db_session=turn.db_session, signup=signup, reason="declined" if declining else "citizen"
        )
    except InvalidTransition:
        turn.say(menu_text(t("classes.already_cancelled")))
        return END
    if session is not None:
        notify.promoted_all(db_session=turn.db_session, signups=done.promoted, session=session, settings=turn.settings)
    turn.say(text_message(t("classes.declined" if declining else "classes.cancelled"), [intent_item("class_info")]))
    return END


def cancel_in_words(turn: Turn) -> StepResult:
    said = words(turn)
    if said in YES_WORDS:
        return cancel(turn)
    return keep(turn)


def keep(turn: Turn) -> StepResult:
    turn.say(menu_text(t("classes.kept")))
    return END


# The table ------------------------------------------------------------------------------------


def with_escapes(*routes: Route) -> list[Route]:
    return [Route(_says(QUIT_WORDS), quit_flow, "text:quit"), Route(_says(BACK_WORDS), back, "text:back"), *routes]


def _text(turn: Turn) -> bool:
    return turn.text is not None


def _answer(turn: Turn) -> bool:
    """Text answering a question, unless it is plainly a new request (「スマホ教室」「予約したい」 is not
    a name): that one starts over from the entry points."""
    if turn.text is None:
        return False
    nlu = turn.nlu
    if _says_mine(turn):
        return False
    if nlu is None or nlu.intent_name not in NEW_REQUESTS or nlu.intent.confidence < NEW_REQUEST_CONFIDENCE:
        return True
    return not any(word in turn.text for word in ("教室", "予約", "職員"))


TIMEOUT = timedelta(minutes=30)

FLOW = Flow(
    name="classes",
    entry_points=[
        Route(_says_mine, show_mine, "text:mine"),
        on_intent("class_info", show_sessions),
        on_intent("class_signup", show_sessions),
        on_intent("class_cancel", show_mine),
        on_postback("cls_month", show_sessions),
        on_postback("cls_venue", show_sessions),
        on_postback("cls_map", show_map),
        on_postback("cls_pick", pick),
        on_postback("cls_mine", show_mine),
        on_postback("cls_show", show_signup),
        on_postback("cls_cancel", ask_cancel),
        on_postback("cls_decline", ask_cancel),
        on_postback("cls_cancel_yes", cancel),
        on_postback("cls_keep", keep),
        on_postback("cls_confirm", confirm_again),
    ],
    states={
        State.WHO: with_escapes(on_postback("cls_who", pick_who), Route(_text, who_in_words, "text:who")),
        State.NAME: with_escapes(Route(_answer, answer_text, "text:name")),
        State.FURIGANA: with_escapes(Route(_answer, answer_text, "text:furigana")),
        State.PHONE: with_escapes(Route(_answer, answer_text, "text:phone")),
        State.PHONE_TYPE: with_escapes(
            on_postback("cls_phone", pick_phone_type), Route(_text, pick_phone_type, "text:phone_type")
        ),
        State.AGE: with_escapes(on_postback("cls_age", pick_age), Route(_text, pick_age, "text:age")),
        State.NEEDS: with_escapes(on_postback("cls_need", pick_need), Route(_text, pick_need, "text:needs")),
        State.CONFIRM: with_escapes(
            on_postback("cls_confirm", confirm), Route(_text, confirm_in_words, "text:confirm")
        ),
        State.CANCEL: [
            on_postback("cls_cancel_yes", cancel),
            on_postback("cls_keep", keep),
            Route(_text, cancel_in_words, "text:cancel"),
        ],
    },
    fallbacks=[on_postback("cls_back", back), on_postback("cls_quit", quit_flow)],
    timeout=TIMEOUT,
)
