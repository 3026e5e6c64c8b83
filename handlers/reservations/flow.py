"""Booking a counter visit on LINE, and seeing, changing or cancelling it.

procedure → office → date → (morning/afternoon) → time → the form's questions, one at a time →
confirmation card → booked: a card with the QR code. Whatever the citizen already said
(「明日の午前中に転入届を出したい」) fills its steps in advance; every step offers 戻る and やめる.

Scratch data (turn.data): proc, office, day (ISO), part (am|pm), slot (id), time (a wished HH:MM),
field (index of the question being asked), answers (the answers so far, encrypted: they are personal
data), nonce (the confirm button's), change (the booking being moved). Ids in postbacks are only
choices: every one is checked against what this citizen may choose, and a booking's owner is
checked on every use.
"""

from __future__ import annotations

import secrets
from datetime import date, timedelta
from enum import StrEnum

from linebot.v3.messaging import QuickReplyItem

from bot import clock
from bot.catalog import t
from bot.flow import END, Flow, Route, StepResult, Turn, on_intent, on_postback, on_text
from bot.messages import (
    date_picker_item,
    intent_item,
    menu_text,
    message_item,
    postback_item,
)
from bot.messages import text as text_message
from handlers.reservations import calendar, cards, crypto, forms
from handlers.reservations.models import (
    CounterSlot,
    Office,
    Procedure,
    Reservation,
    ReservationChannel,
    ReservationCreate,
    ReservationStatus,
)
from handlers.reservations.service import reservations as reservation_service
from handlers.reservations.service import setup as setup_service
from handlers.reservations.service import slots as slot_service
from handlers.reservations.service.errors import (
    InvalidAnswers,
    InvalidTransition,
    LimitReached,
    ReservationError,
    SlotFull,
    SlotNotBookable,
)
from nlu.normalize import normalise


class State(StrEnum):
    PROCEDURE = "procedure"  # which procedure
    OFFICE = "office"  # which office
    DATE = "date"  # which day
    PART = "part"  # morning or afternoon (when a day has more times than fit on the buttons)
    TIME = "time"  # which time
    ANSWER = "answer"  # the answer to the current form question
    CONFIRM = "confirm"  # 「この内容で予約する」, 戻る or やめる
    CHANGE_CONFIRM = "change_confirm"  # yes/no to moving a booking to the chosen time


MAX_DAY_BUTTONS = 10  # + calendar, back, quit = 13, LINE's limit
MAX_TIME_BUTTONS = 11  # + back, quit
YES_WORDS = {"はい", "はい。", "予約する", "この内容で予約する", "お願いします", "おねがいします", "ok", "OK"}
NO_WORDS = {"いいえ", "いや", "やめとく", "変更しない"}
QUIT_WORDS = {"やめる", "やめます", "やめたい", "中止", "終了", "キャンセル", "やめて", "おわり", "終わり"}
BACK_WORDS = {"戻る", "もどる", "戻って", "前に戻る"}
# Intents that, said in the middle of a step that expects a choice, mean "something else".
OTHER_INTENT_CONFIDENCE = 0.8


# Helpers -------------------------------------------------------------------------------------


def _words(turn: Turn) -> str:
    return normalise(turn.text or "").replace(" ", "")


def _says_quit(turn: Turn) -> bool:
    return turn.text is not None and _words(turn) in QUIT_WORDS


def _says_back(turn: Turn) -> bool:
    return turn.text is not None and _words(turn) in BACK_WORDS


def _choice_text(turn: Turn) -> bool:
    """Text that answers the current choice (not a confident request for something else)."""
    if turn.text is None:
        return False
    nlu = turn.nlu
    if nlu is None or nlu.intent_name in (None, "reservation_make", "faq"):
        return True
    has_entity = any(e.entity in ("procedure", "date", "time") for e in nlu.entities)
    return has_entity or nlu.intent.confidence < OTHER_INTENT_CONFIDENCE


RESERVATION_INTENTS = {"reservation_make", "reservation_check", "reservation_cancel"}


def _answer_text(turn: Turn) -> bool:
    """Text answering the current question, unless it is plainly a new request about bookings
    (「12月3日に転入届の予約をしたい」 is not a name): that one starts over from the entry points."""
    if turn.text is None:
        return False
    nlu = turn.nlu
    if nlu is None or nlu.intent_name not in RESERVATION_INTENTS:
        return True
    says_booking = "予約" in turn.text and nlu.intent.confidence >= OTHER_INTENT_CONFIDENCE
    return not (says_booking or nlu.entity("procedure"))


def _procedure(turn: Turn) -> Procedure | None:
    proc = turn.data.get("proc")
    return setup_service.get_active_procedure(db_session=turn.db_session, procedure_id=proc) if proc else None


def _office(turn: Turn, procedure: Procedure) -> Office | None:
    office_id = turn.data.get("office")
    offices = setup_service.offices_for(db_session=turn.db_session, procedure=procedure)
    return next((o for o in offices if o.id == office_id), None)


def _answers(turn: Turn) -> dict[str, str]:
    return crypto.decrypt_json(turn.data.get("answers"), turn.settings)


def _store_answers(turn: Turn, answers: dict[str, str]) -> None:
    turn.data["answers"] = crypto.encrypt_json(answers, turn.settings)


def _yes_no(action: str, **fields: object) -> list[QuickReplyItem]:
    """はい / いいえ (bot.messages.confirm_items reads common.yes, which YAML turns into a boolean key)."""
    yes, no = t("reservations.button_yes"), t("reservations.button_no")
    return [
        postback_item(yes, action, display=yes, answer="yes", **fields),
        postback_item(no, action, display=no, answer="no", **fields),
    ]


def _navigation() -> list[QuickReplyItem]:
    return [
        postback_item(t("reservations.button_back"), "rsv_back", display=t("reservations.button_back")),
        postback_item(t("reservations.button_quit"), "rsv_quit", display=t("reservations.button_quit")),
    ]


def _day(turn: Turn) -> date | None:
    try:
        return date.fromisoformat(str(turn.data.get("day")))
    except ValueError:
        return None


def _slots(turn: Turn, office: Office, day: date) -> list[CounterSlot]:
    return slot_service.available_slots(
        db_session=turn.db_session, office_id=office.id, day=day, now=turn.now, settings=turn.settings
    )


def _part_of(slot: CounterSlot) -> str:
    return "am" if slot.starts_at.astimezone(clock.TOKYO).hour < 12 else "pm"


def _forget(turn: Turn, *keys: str) -> None:
    for key in keys:
        turn.data.pop(key, None)


# Asking ---------------------------------------------------------------------------------------


def _advance(turn: Turn) -> StepResult:
    """Asks for the first thing still missing; the one place that decides what comes next."""
    data = turn.data
    procedure = _procedure(turn)
    if procedure is None:
        _forget(turn, "proc")
        return _ask_procedure(turn)
    office = _office(turn, procedure)
    if office is None:
        offices = setup_service.offices_for(db_session=turn.db_session, procedure=procedure)
        if len(offices) != 1:
            return _ask_office(turn, procedure, offices)
        office = offices[0]
        data["office"] = office.id
        turn.say(text_message(t("reservations.one_office", procedure=procedure.name, office=office.name)))
    day = _day(turn)
    if day is None:
        _forget(turn, "day", "slot", "part")
        return _ask_date(turn, office)
    slots = _slots(turn, office, day)
    slot = next((s for s in slots if s.id == data.get("slot")), None)
    if slot is None:
        _forget(turn, "slot")
        if not slots:
            _forget(turn, "day", "part", "time")
            turn.say(text_message(t("reservations.date_unavailable", date=cards.day_text(day))))
            return _ask_date(turn, office)
        wished = data.pop("time", None)
        slot = next((s for s in slots if cards.time_text(s.starts_at) == str(wished).lstrip("0")), None)
        if slot is None:
            if wished:
                turn.say(text_message(t("reservations.time_unavailable")))
            return _ask_time(turn, day, slots)
        data["slot"] = slot.id
    if data.get("change"):
        return _ask_change_confirm(turn, slot)
    index = int(data.get("field", 0))
    if index < len(procedure.fields):
        return _ask_field(turn, procedure, index)
    return _show_confirmation(turn, procedure, office, slot)


def _ask_procedure(turn: Turn) -> StepResult:
    procedures = setup_service.get_all_procedures(db_session=turn.db_session)
    items = [postback_item(p.name, "rsv_proc", display=p.name, id=p.id) for p in procedures[:12]]
    items.append(postback_item(t("reservations.button_quit"), "rsv_quit", display=t("reservations.button_quit")))
    turn.say(text_message(t("reservations.ask_procedure"), items))
    return State.PROCEDURE


def _ask_office(turn: Turn, procedure: Procedure, offices: list[Office]) -> StepResult:
    if not offices:
        turn.say(menu_text(t("reservations.unknown_procedure")))
        return END
    items = [postback_item(o.name, "rsv_office", display=o.name, id=o.id) for o in offices[:11]]
    turn.say(text_message(t("reservations.ask_office", procedure=procedure.name), items + _navigation()))
    return State.OFFICE


def _ask_date(turn: Turn, office: Office) -> StepResult:
    days = slot_service.available_days(
        db_session=turn.db_session, office_id=office.id, now=turn.now, settings=turn.settings, limit=MAX_DAY_BUTTONS
    )
    if not days:
        turn.say(menu_text(t("reservations.no_days", office=office.name)))
        return END
    weekdays = t("reservations.weekdays")
    items = [
        postback_item(
            t("reservations.day_label", month=d.month, day=d.day, weekday=weekdays[d.weekday()], free=free),
            "rsv_date",
            display=cards.day_text(d),
            d=d.isoformat(),
        )
        for d, free in days
    ]
    window = calendar.booking_window(turn.now, turn.settings)
    items.append(
        date_picker_item(
            t("reservations.button_calendar"),
            "rsv_date",
            initial=days[0][0],
            min_value=window.first,
            max_value=window.last,
        )
    )
    prompt = t("reservations.ask_date")
    if turn.data.get("change"):
        procedure = _procedure(turn)
        prompt = t("reservations.change_ask_date", procedure=procedure.name if procedure else "")
    turn.say(text_message(prompt, items + _navigation()))
    return State.DATE


def _ask_time(turn: Turn, day: date, slots: list[CounterSlot]) -> StepResult:
    part = turn.data.get("part")
    parts = {_part_of(s) for s in slots}
    if part not in parts:
        _forget(turn, "part")
        if len(slots) > MAX_TIME_BUTTONS and len(parts) > 1:
            items = [
                postback_item(
                    t("reservations.button_morning"), "rsv_part", display=t("reservations.button_morning"), p="am"
                ),
                postback_item(
                    t("reservations.button_afternoon"), "rsv_part", display=t("reservations.button_afternoon"), p="pm"
                ),
            ]
            turn.say(text_message(t("reservations.ask_part", date=cards.day_text(day)), items + _navigation()))
            return State.PART
    else:
        slots = [s for s in slots if _part_of(s) == part]
    items = [
        postback_item(
            t("reservations.slot_label", time=cards.time_text(s.starts_at), free=s.free),
            "rsv_time",
            display=cards.when_text(s.starts_at),
            s=s.id,
        )
        for s in slots[:MAX_TIME_BUTTONS]
    ]
    turn.say(text_message(t("reservations.ask_time", date=cards.day_text(day)), items + _navigation()))
    return State.TIME


def _ask_field(turn: Turn, procedure: Procedure, index: int, *, lead: str | None = None) -> StepResult:
    key = procedure.fields[index]
    field = forms.FIELDS[key]
    question = t(
        "reservations.question",
        number=index + 1,
        count=len(procedure.fields),
        question=t(f"reservations.fields.{key}.ask"),
    )
    if index == 0 and lead is None:
        question = t("reservations.form_intro", count=len(procedure.fields)) + "\n\n" + question
    if lead:
        question = lead + "\n" + question
    items = [message_item(choice) for choice in field.choices]
    if field.picker:
        items.append(
            date_picker_item(
                t("reservations.button_calendar_birth"),
                "rsv_answer",
                initial="1960-01-01" if field.kind == "birth_date" else turn.now.astimezone(clock.TOKYO).date(),
                min_value="1900-01-01",
                max_value="2100-12-31",
            )
        )
    if not field.required:
        items.append(postback_item(t("reservations.button_skip"), "rsv_skip", display=t("reservations.button_skip")))
    turn.say(text_message(question, items + _navigation()))
    return State.ANSWER


def _show_confirmation(turn: Turn, procedure: Procedure, office: Office, slot: CounterSlot) -> StepResult:
    nonce = secrets.token_hex(16)
    turn.data["nonce"] = nonce
    turn.say(
        cards.confirmation(
            procedure=procedure, office=office, starts_at=slot.starts_at, answers=_answers(turn), nonce=nonce
        )
    )
    return State.CONFIRM


def _ask_change_confirm(turn: Turn, slot: CounterSlot) -> StepResult:
    reservation = reservation_service.get_for_citizen(
        db_session=turn.db_session, reservation_id=turn.data.get("change"), line_user_id=turn.user_id
    )
    if reservation is None:
        turn.say(menu_text(t("reservations.not_found")))
        return END
    question = t(
        "reservations.change_confirm", old=cards.when_text(reservation.starts_at), new=cards.when_text(slot.starts_at)
    )
    turn.say(text_message(question, _yes_no("rsv_change_ok")))
    return State.CHANGE_CONFIRM


# Steps: starting --------------------------------------------------------------------------------


def start(turn: Turn) -> StepResult:
    """「予約したい」 or the menu: fills what the sentence already says (procedure, date, time,
    午前/午後), then asks for the rest."""
    if turn.user_id is None:
        return END
    active = reservation_service.count_active_for_citizen(
        db_session=turn.db_session, line_user_id=turn.user_id, now=turn.now
    )
    if active >= turn.settings.reservation_max_active:
        turn.say(
            text_message(
                t("reservations.limit_reached", max=turn.settings.reservation_max_active),
                [intent_item("reservation_check")],
            )
        )
        return END
    turn.data = {}
    nlu = turn.nlu
    if nlu is not None:
        procedure = setup_service.find_procedure(db_session=turn.db_session, words=nlu.entity_values("procedure"))
        if procedure is not None:
            turn.data["proc"] = procedure.id
        day = nlu.entity("date")
        if day:
            turn.data["day"] = day
        wished = nlu.entity("time")
        if wished:
            turn.data["time"] = wished
        words = turn.text or ""
        if "午前" in words or "朝" in words:
            turn.data["part"] = "am"
        elif "午後" in words or "夕方" in words:
            turn.data["part"] = "pm"
    return _advance(turn)


# Steps: choosing ------------------------------------------------------------------------------


def pick_procedure(turn: Turn) -> StepResult:
    """Stores the procedure chosen on a button (if it is one we offer) and asks for the office."""
    procedure = setup_service.get_active_procedure(
        db_session=turn.db_session, procedure_id=turn.postback_fields.get("id", "")
    )
    if procedure is None:
        return _ask_procedure(turn)
    _forget(turn, "slot", "field", "answers")
    turn.data["proc"] = procedure.id
    return _advance(turn)


def procedure_in_words(turn: Turn) -> StepResult:
    """「転入届」 typed: the procedure it names, or the buttons again."""
    words = turn.nlu.entity_values("procedure") if turn.nlu else []
    procedure = setup_service.find_procedure(db_session=turn.db_session, words=[*words, (turn.text or "").strip()])
    if procedure is None:
        turn.say(text_message(t("reservations.unknown_procedure")))
        return _ask_procedure(turn)
    _forget(turn, "slot", "field", "answers")
    turn.data["proc"] = procedure.id
    return _advance(turn)


def pick_office(turn: Turn) -> StepResult:
    """Stores the office (one that handles the procedure) and asks for the day."""
    procedure = _procedure(turn)
    if procedure is None:
        return _advance(turn)
    offices = setup_service.offices_for(db_session=turn.db_session, procedure=procedure)
    chosen = turn.postback_fields.get("id") if turn.postback else None
    if turn.text is not None:
        typed = _words(turn)
        chosen = next((o.id for o in offices if typed and (typed in o.name or o.name.split()[0] in typed)), None)
    office = next((o for o in offices if o.id == chosen), None)
    if office is None:
        turn.say(text_message(t("reservations.unknown_office")))
        return _ask_office(turn, procedure, offices)
    _forget(turn, "slot")
    turn.data["office"] = office.id
    return _advance(turn)


def pick_date(turn: Turn) -> StepResult:
    """A day from the buttons or the date picker; checked when the times are looked up."""
    value = (turn.postback.params.get("date") if turn.postback else None) or turn.postback_fields.get("d", "")
    try:
        day = date.fromisoformat(value)
    except ValueError:
        turn.say(text_message(t("reservations.date_not_understood")))
        return _advance(turn)
    _forget(turn, "slot", "part")
    turn.data["day"] = day.isoformat()
    return _advance(turn)


def date_in_words(turn: Turn) -> StepResult:
    """「12月3日」「来週の金曜」: the NLU's date; morning/afternoon words are kept too."""
    day = turn.nlu.entity("date") if turn.nlu else None
    if not day:
        turn.say(text_message(t("reservations.date_not_understood")))
        _forget(turn, "day")
        return _advance(turn)
    _forget(turn, "slot", "part")
    turn.data["day"] = day
    wished = turn.nlu.entity("time") if turn.nlu else None
    if wished:
        turn.data["time"] = wished
    return _advance(turn)


def pick_part(turn: Turn) -> StepResult:
    part = turn.postback_fields.get("p")
    if part in ("am", "pm"):
        turn.data["part"] = part
    return _advance(turn)


def pick_time(turn: Turn) -> StepResult:
    """A time button: it must still have room (someone may have just taken the last place)."""
    try:
        slot_id = int(turn.postback_fields.get("s", ""))
    except ValueError:
        slot_id = 0
    procedure = _procedure(turn)
    office = _office(turn, procedure) if procedure else None
    day = _day(turn)
    if office is None or day is None:
        return _advance(turn)
    if slot_id not in {s.id for s in _slots(turn, office, day)}:
        turn.say(text_message(t("reservations.slot_taken")))
    else:
        turn.data["slot"] = slot_id
    return _advance(turn)


def time_in_words(turn: Turn) -> StepResult:
    """「10時半」「午後」: a time that is free, or the half of the day to show."""
    nlu = turn.nlu
    wished = nlu.entity("time") if nlu else None
    words = turn.text or ""
    if wished:
        turn.data["time"] = wished
    elif "午前" in words:
        turn.data["part"] = "am"
    elif "午後" in words:
        turn.data["part"] = "pm"
    else:
        turn.say(text_message(t("reservations.time_unavailable")))
    return _advance(turn)


# Steps: the form ------------------------------------------------------------------------------


def answer(turn: Turn) -> StepResult:
    """Stores the answer to the current question (cleaned: カタカナ, 半角 digits, ISO dates) and asks
    the next; an answer that does not fit is asked again, kindly, with an example."""
    procedure = _procedure(turn)
    if procedure is None:
        return _advance(turn)
    index = int(turn.data.get("field", 0))
    if index >= len(procedure.fields):
        return _advance(turn)
    key = procedure.fields[index]
    raw = (turn.postback.params.get("date") if turn.postback else None) or turn.text or ""
    try:
        value = forms.clean(forms.FIELDS[key], raw, today=calendar.tokyo_day(turn.now))
    except forms.InvalidAnswer:
        return _ask_field(turn, procedure, index, lead=t(f"reservations.fields.{key}.invalid"))
    answers = _answers(turn)
    answers[key] = value
    _store_answers(turn, answers)
    turn.data["field"] = index + 1
    return _advance(turn)


def skip(turn: Turn) -> StepResult:
    """「省略する」 on an optional question."""
    procedure = _procedure(turn)
    index = int(turn.data.get("field", 0))
    if procedure is None or index >= len(procedure.fields):
        return _advance(turn)
    if forms.FIELDS[procedure.fields[index]].required:
        return _ask_field(turn, procedure, index)
    answers = _answers(turn)
    answers.pop(procedure.fields[index], None)
    _store_answers(turn, answers)
    turn.data["field"] = index + 1
    return _advance(turn)


# Steps: booking -------------------------------------------------------------------------------


def confirm(turn: Turn) -> StepResult:
    """「この内容で予約する」: books (once per button, however often it is tapped) and sends the QR."""
    nonce = turn.postback_fields.get("k", "")
    if not nonce or nonce != turn.data.get("nonce"):
        return confirm_again(turn)
    procedure = _procedure(turn)
    if procedure is None or turn.user_id is None or not turn.data.get("slot"):
        return _advance(turn)
    reservation_in = ReservationCreate(
        procedure_id=procedure.id,
        slot_id=int(turn.data.get("slot", 0) or 0),
        answers=_answers(turn),
        channel=ReservationChannel.LINE,
        line_user_id=turn.user_id,
        idempotency_key=reservation_service.idempotency_key(turn.user_id, nonce),
    )
    try:
        booked = reservation_service.create(
            db_session=turn.db_session, reservation_in=reservation_in, settings=turn.settings, now=turn.now
        )
    except SlotFull:
        turn.say(text_message(t("reservations.slot_taken")))
        _forget(turn, "slot", "nonce")
        return _advance(turn)
    except SlotNotBookable:
        day = _day(turn)
        if day is not None:
            turn.say(text_message(t("reservations.date_unavailable", date=cards.day_text(day))))
        _forget(turn, "slot", "day", "part", "nonce")
        return _advance(turn)
    except LimitReached:
        turn.say(
            text_message(
                t("reservations.limit_reached", max=turn.settings.reservation_max_active),
                [intent_item("reservation_check")],
            )
        )
        return END
    except InvalidAnswers:
        turn.data["field"] = 0
        return _advance(turn)
    _say_booked(turn, booked.reservation, booked.token, again=not booked.created)
    return END


def confirm_again(turn: Turn) -> StepResult:
    """A confirm button tapped again after booking (or from an old card): the booking it made, if it
    is this citizen's; otherwise it has expired."""
    nonce = turn.postback_fields.get("k", "")
    reservation = None
    if nonce and turn.user_id:
        key = reservation_service.idempotency_key(turn.user_id, nonce)
        reservation = reservation_service.get_by_idempotency_key(db_session=turn.db_session, key=key)
    if reservation is None or reservation.line_user_id != turn.user_id:
        turn.say(menu_text(t("reservations.expired_confirm")))
        return END
    _say_booked(turn, reservation, reservation_service.token_of(reservation, turn.settings), again=True)
    return END


def _say_booked(turn: Turn, reservation: Reservation, token: str | None, *, again: bool = False) -> None:
    procedure = setup_service.get_procedure(db_session=turn.db_session, procedure_id=reservation.procedure_id)
    office = setup_service.get_office(db_session=turn.db_session, office_id=reservation.office_id)
    assert procedure is not None and office is not None
    lead = t("reservations.booked_again") if again else None
    turn.say(*cards.booked_messages(turn.settings, reservation, procedure, office, token, lead=lead))


# Steps: back and quit -------------------------------------------------------------------------


def back(turn: Turn) -> StepResult:
    """「戻る」: one step back from where we are waiting."""
    state = turn.state
    data = turn.data
    procedure = _procedure(turn)
    if state == State.CONFIRM and procedure is not None:
        data["field"] = max(0, len(procedure.fields) - 1)
        _forget(turn, "nonce")
    elif state == State.ANSWER and int(data.get("field", 0)) > 0:
        data["field"] = int(data["field"]) - 1
    elif state in (State.ANSWER, State.CHANGE_CONFIRM):
        _forget(turn, "slot", "field", "part")
    elif state == State.TIME and data.get("part"):
        _forget(turn, "part", "slot")
    elif state in (State.TIME, State.PART):
        _forget(turn, "day", "slot", "part")
    elif state == State.DATE:
        if data.get("change"):
            return quit_flow(turn)
        offices = setup_service.offices_for(db_session=turn.db_session, procedure=procedure) if procedure else []
        _forget(turn, "office", "day") if len(offices) > 1 else _forget(turn, "proc", "office", "day")
    elif state == State.OFFICE:
        _forget(turn, "proc", "office")
    else:
        return quit_flow(turn)
    return _advance(turn)


def quit_flow(turn: Turn) -> StepResult:
    """「やめる」 at any step: nothing is booked."""
    change = turn.data.get("change")
    turn.say(menu_text(t("reservations.change_kept") if change else t("common.quit_done")))
    return END


def confirm_in_words(turn: Turn) -> StepResult:
    """「はい」 typed at the confirmation: as the button; anything else shows the card again."""
    if _words(turn) in YES_WORDS and turn.data.get("nonce"):
        turn.postback_fields["k"] = str(turn.data["nonce"])  # the card's own key: a retyped はい books once
        return confirm(turn)
    return _advance(turn)


def change_in_words(turn: Turn) -> StepResult:
    if _words(turn) in YES_WORDS:
        turn.postback_fields["answer"] = "yes"
        return change(turn)
    if _words(turn) in NO_WORDS:
        return quit_flow(turn)
    return _advance(turn)


# Seeing, changing and cancelling --------------------------------------------------------------


def show_bookings(turn: Turn) -> StepResult:
    """「予約確認」: the citizen's upcoming bookings, each with QR / change / cancel."""
    if turn.user_id is None:
        return END
    upcoming = reservation_service.get_upcoming_for_citizen(
        db_session=turn.db_session, line_user_id=turn.user_id, now=turn.now
    )
    if not upcoming:
        turn.say(text_message(t("reservations.none_upcoming"), [intent_item("reservation_make")]))
        return END
    items = []
    for reservation in upcoming:
        procedure = setup_service.get_procedure(db_session=turn.db_session, procedure_id=reservation.procedure_id)
        office = setup_service.get_office(db_session=turn.db_session, office_id=reservation.office_id)
        if procedure is not None and office is not None:
            items.append((reservation, procedure, office))
    intro = t("reservations.list_intro", count=len(items))
    if turn.intent == "reservation_cancel":
        intro += "\n" + t("reservations.pick_to_cancel")
    turn.say(text_message(intro), cards.booking_list(items))
    return END


def _own_booking(turn: Turn) -> Reservation | None:
    """The booking a postback names, if it is this citizen's and still upcoming; else says so."""
    reservation = reservation_service.get_for_citizen(
        db_session=turn.db_session, reservation_id=turn.postback_fields.get("id"), line_user_id=turn.user_id
    )
    if reservation is None:
        turn.say(menu_text(t("reservations.not_found")))
    return reservation


def show_booking(turn: Turn) -> StepResult:
    """「QRコードを表示」: the booked card and QR code again."""
    reservation = _own_booking(turn)
    if reservation is not None:
        _say_booked(turn, reservation, reservation_service.token_of(reservation, turn.settings))
    return END


def ask_cancel(turn: Turn) -> StepResult:
    """「取り消す」: asks once more (はい / いいえ); the answer carries the id and is checked again."""
    reservation = _own_booking(turn)
    if reservation is None:
        return END
    if reservation.status != ReservationStatus.BOOKED:
        turn.say(menu_text(t("reservations.not_changeable")))
        return END
    procedure = setup_service.get_procedure(db_session=turn.db_session, procedure_id=reservation.procedure_id)
    office = setup_service.get_office(db_session=turn.db_session, office_id=reservation.office_id)
    question = t(
        "reservations.cancel_ask",
        date=cards.day_text(reservation.visit_day),
        time=cards.time_text(reservation.starts_at),
        procedure=procedure.name if procedure else "",
        office=office.name if office else "",
    )
    turn.say(text_message(question, _yes_no("rsv_cancel_ok", id=reservation.id)))
    return END


def cancel(turn: Turn) -> StepResult:
    """はい: cancels (only the sender's own, only if still upcoming); いいえ: keeps it."""
    reservation = _own_booking(turn)
    if reservation is None:
        return END
    if turn.postback_fields.get("answer") != "yes":
        turn.say(menu_text(t("reservations.cancel_kept")))
        return END
    try:
        reservation_service.cancel(db_session=turn.db_session, reservation=reservation, reason="citizen", now=turn.now)
    except InvalidTransition:
        turn.say(menu_text(t("reservations.not_changeable")))
        return END
    turn.say(menu_text(t("reservations.cancelled")))
    return END


def start_change(turn: Turn) -> StepResult:
    """「日時を変更」: the same date and time steps, for this booking's procedure and office."""
    reservation = _own_booking(turn)
    if reservation is None:
        return END
    if reservation.status != ReservationStatus.BOOKED:
        turn.say(menu_text(t("reservations.not_changeable")))
        return END
    turn.data = {"change": reservation.id, "proc": reservation.procedure_id, "office": reservation.office_id}
    return _advance(turn)


def change(turn: Turn) -> StepResult:
    """はい: moves the booking (its place is given back, the new one taken, together)."""
    if turn.postback_fields.get("answer") != "yes":
        return quit_flow(turn)
    reservation = reservation_service.get_for_citizen(
        db_session=turn.db_session, reservation_id=turn.data.get("change"), line_user_id=turn.user_id
    )
    if reservation is None:
        turn.say(menu_text(t("reservations.not_found")))
        return END
    try:
        reservation_service.reschedule(
            db_session=turn.db_session,
            reservation=reservation,
            slot_id=int(turn.data.get("slot", 0) or 0),
            settings=turn.settings,
            now=turn.now,
        )
    except SlotFull:
        turn.say(text_message(t("reservations.slot_taken")))
        _forget(turn, "slot")
        return _advance(turn)
    except ReservationError:
        turn.say(menu_text(t("reservations.not_changeable")))
        return END
    _say_booked(turn, reservation, reservation_service.token_of(reservation, turn.settings), again=False)
    turn.replies.insert(0, text_message(t("reservations.changed")))
    return END


# The table ------------------------------------------------------------------------------------


def _with_escapes(*routes: Route) -> list[Route]:
    """Every state: typed やめる / 戻る first, then the state's own routes."""
    return [Route(_says_quit, quit_flow, "text:quit"), Route(_says_back, back, "text:back"), *routes]


FLOW = Flow(
    name="reservations",
    entry_points=[
        on_intent("reservation_make", start),
        on_intent("reservation_check", show_bookings),
        on_intent("reservation_cancel", show_bookings),
        on_postback("rsv_show", show_booking),
        on_postback("rsv_change", start_change),
        on_postback("rsv_cancel", ask_cancel),
        on_postback("rsv_cancel_ok", cancel),
        on_postback("rsv_confirm", confirm_again),
    ],
    states={
        State.PROCEDURE: _with_escapes(
            on_postback("rsv_proc", pick_procedure), Route(_choice_text, procedure_in_words, "text:procedure")
        ),
        State.OFFICE: _with_escapes(
            on_postback("rsv_office", pick_office), Route(_choice_text, pick_office, "text:office")
        ),
        State.DATE: _with_escapes(on_postback("rsv_date", pick_date), Route(_choice_text, date_in_words, "text:date")),
        State.PART: _with_escapes(on_postback("rsv_part", pick_part), Route(_choice_text, time_in_words, "text:part")),
        State.TIME: _with_escapes(
            on_postback("rsv_time", pick_time),
            on_postback("rsv_part", pick_part),
            Route(_choice_text, time_in_words, "text:time"),
        ),
        State.ANSWER: _with_escapes(
            on_postback("rsv_answer", answer), on_postback("rsv_skip", skip), Route(_answer_text, answer, "text:answer")
        ),
        State.CONFIRM: _with_escapes(on_postback("rsv_confirm", confirm), on_text(confirm_in_words)),
        State.CHANGE_CONFIRM: _with_escapes(on_postback("rsv_change_ok", change), on_text(change_in_words)),
    },
    fallbacks=[on_postback("rsv_back", back), on_postback("rsv_quit", quit_flow)],
    timeout=timedelta(minutes=30),
)
