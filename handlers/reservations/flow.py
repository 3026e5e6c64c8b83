"""Booking a counter visit on LINE.

procedure → office → date → (morning/afternoon) → time → the form's questions, one at a time →
confirmation card → booked: a card with the QR code. Whatever the citizen already said
(「明日の午前中に転入届を出したい」) fills its steps in advance; every step offers 戻る and やめる.

The order of the steps is data (STEPS; CHANGING for moving a booking, see bookings.py): `advance`
asks the first step still missing, `back` returns to the step before the one being waited on. What
each step asks is in prompts.py; what the conversation keeps between messages, in scratch.py.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, timedelta

from bot.catalog import t
from bot.flow import END, Flow, Route, StepResult, Turn, on_intent, on_postback, on_text
from bot.messages import intent_item, menu_text
from bot.messages import text as text_message
from handlers.reservations import calendar, cards, forms, prompts, scratch
from handlers.reservations.models import CounterSlot, Office, Procedure, ReservationChannel, ReservationCreate
from handlers.reservations.service import reservations as reservation_service
from handlers.reservations.service import setup as setup_service
from handlers.reservations.service.errors import InvalidAnswers, LimitReached, SlotFull, SlotNotBookable
from handlers.reservations.states import State
from nlu.moving import says_move_without_direction
from nlu.normalize import normalise

YES_WORDS = {"はい", "はい。", "予約する", "この内容で予約する", "お願いします", "おねがいします", "ok", "OK"}
NO_WORDS = {"いいえ", "いや", "やめとく", "変更しない"}
QUIT_WORDS = {"やめる", "やめます", "やめたい", "中止", "終了", "キャンセル", "やめて", "おわり", "終わり"}
BACK_WORDS = {"戻る", "もどる", "戻って", "前に戻る"}
RESERVATION_INTENTS = {"reservation_make", "reservation_check", "reservation_cancel"}
# Intents that, said in the middle of a step that expects a choice, mean "something else".
OTHER_INTENT_CONFIDENCE = 0.8
# Questions and requests other flows answer: typed at a form question (and not an answer), they are
# not stored (greetings and small talk are not among them: 「Ushimado」 is a wrong furigana).
OTHER_REQUESTS = frozenset(
    {
        "faq",
        "shelter_search",
        "facility_search",
        "aed_search",
        "garbage_day",
        "class_info",
        "class_signup",
        "class_cancel",
        "subscribe",
        "unsubscribe",
        "handoff",
    }
)


# Reading the citizen's words -------------------------------------------------------------------


def words(turn: Turn) -> str:
    return normalise(turn.text or "").replace(" ", "")


def _says_quit(turn: Turn) -> bool:
    return turn.text is not None and words(turn) in QUIT_WORDS


def _says_back(turn: Turn) -> bool:
    return turn.text is not None and words(turn) in BACK_WORDS


def _choice_text(turn: Turn) -> bool:
    """Text that answers the current choice (not a confident request for something else)."""
    if turn.text is None:
        return False
    nlu = turn.nlu
    if nlu is None or nlu.intent_name in (None, "reservation_make", "faq"):
        return True
    has_entity = any(e.entity in ("procedure", "date", "time") for e in nlu.entities)
    return has_entity or nlu.intent.confidence < OTHER_INTENT_CONFIDENCE


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


# The steps, in order ----------------------------------------------------------------------------

Asked = StepResult  # the state a question waits in (or END); None: this step has its answer


@dataclass
class Draft:
    """The booking as far as the steps have looked it up in this turn (each fills its part)."""

    procedure: Procedure | None = None
    offices: list[Office] = field(default_factory=list)
    office: Office | None = None
    day: date | None = None
    slots: list[CounterSlot] = field(default_factory=list)
    slot: CounterSlot | None = None


Reopen = Callable[[Turn, Draft], bool]


@dataclass(frozen=True)
class Step:
    """One thing a booking needs."""

    states: tuple[State, ...]  # where the bot waits while this step asks
    keys: tuple[str, ...]  # the scratch data its answers fill (戻る past it forgets them)
    ask: Callable[[Turn, Draft], Asked]  # asks when still missing
    # 戻る to this step from a later one: makes it ask again; False if it was never asked (skipped).
    reopen: Reopen
    # 戻る while this step waits: one question back inside it; False when it is at its first.
    back_within: Reopen = lambda turn, draft: False


def _changing(turn: Turn) -> bool:
    return bool(turn.data.get("change"))


def _need_procedure(turn: Turn, draft: Draft) -> Asked:
    draft.procedure = scratch.procedure(turn)
    if draft.procedure is None:
        scratch.forget(turn, "proc")
        if turn.text and says_move_without_direction(turn.text):
            return prompts.ask_move(turn)
        return prompts.ask_procedure(turn)
    draft.offices = setup_service.offices_for(db_session=turn.db_session, procedure=draft.procedure)
    return None


def _need_office(turn: Turn, draft: Draft) -> Asked:
    assert draft.procedure is not None  # the steps before filled it
    draft.office = next((o for o in draft.offices if o.id == turn.data.get("office")), None)
    if draft.office is None:
        if len(draft.offices) != 1:
            return prompts.ask_office(turn, draft.procedure, draft.offices)
        draft.office = draft.offices[0]
        turn.data["office"] = draft.office.id
        turn.say(text_message(t("reservations.one_office", procedure=draft.procedure.name, office=draft.office.name)))
    return None


def _need_date(turn: Turn, draft: Draft) -> Asked:
    assert draft.procedure is not None and draft.office is not None
    draft.day = scratch.day(turn)
    if draft.day is None:
        scratch.forget(turn, "day", "slot", "part")
        return prompts.ask_date(turn, draft.procedure, draft.office)
    draft.slots = scratch.free_slots(turn, draft.office, draft.day)
    if not draft.slots:
        scratch.forget(turn, "day", "slot", "part", "time")
        following = prompts.say_day_unavailable(turn, draft.office, draft.day)
        return prompts.ask_date(turn, draft.procedure, draft.office, since=following)
    return None


def _need_time(turn: Turn, draft: Draft) -> Asked:
    """A slot that is still free; else the time said in words (once), else the day's times."""
    assert draft.day is not None
    draft.slot = next((s for s in draft.slots if s.id == turn.data.get("slot")), None)
    if draft.slot is None:
        scratch.forget(turn, "slot")
        wished = turn.data.pop("time", None)
        draft.slot = next((s for s in draft.slots if cards.time_text(s.starts_at) == str(wished).lstrip("0")), None)
        if draft.slot is None:
            if wished:
                turn.say(text_message(t("reservations.time_unavailable")))
            return prompts.ask_time(turn, draft.day, draft.slots)
        turn.data["slot"] = draft.slot.id
    return None


def _need_answers(turn: Turn, draft: Draft) -> Asked:
    assert draft.procedure is not None
    index = int(turn.data.get("field", 0))
    return prompts.ask_field(turn, draft.procedure, index) if index < len(draft.procedure.fields) else None


def _need_confirmation(turn: Turn, draft: Draft) -> Asked:
    assert draft.procedure is not None and draft.office is not None and draft.slot is not None
    return prompts.show_confirmation(turn, draft.procedure, draft.office, draft.slot)


def _need_change_confirmation(turn: Turn, draft: Draft) -> Asked:
    assert draft.slot is not None
    return prompts.ask_change_confirm(turn, draft.slot)


def _forgets(*keys: str, unless: Reopen = lambda turn, draft: False) -> Reopen:
    """Reopening by forgetting `keys` (not when `unless` says the step was skipped)."""

    def reopen(turn: Turn, draft: Draft) -> bool:
        if unless(turn, draft):
            return False
        scratch.forget(turn, *keys)
        return True

    return reopen


def _last_question(turn: Turn, draft: Draft) -> bool:
    """Back to the form from the confirmation: its last question, the answers kept."""
    if draft.procedure is None or not draft.procedure.fields:
        return False
    turn.data["field"] = len(draft.procedure.fields) - 1
    return True


def _previous_question(turn: Turn, draft: Draft) -> bool:
    index = int(turn.data.get("field", 0))
    if index <= 0:
        return False
    turn.data["field"] = index - 1
    return True


def _all_times(turn: Turn, draft: Draft) -> bool:
    """Waiting for a time of the chosen half of the day: back to all times (or 午前/午後)."""
    if turn.state != State.TIME or not turn.data.get("part"):
        return False
    scratch.forget(turn, "part", "slot")
    return True


def _fixed_while_changing(turn: Turn, draft: Draft) -> bool:
    """A booking being moved keeps its procedure and office: 戻る does not return to them."""
    return _changing(turn)


def _office_not_asked(turn: Turn, draft: Draft) -> bool:
    """Kept while changing, or taken for the citizen as the only office that handles the procedure."""
    return _changing(turn) or len(draft.offices) <= 1


PROCEDURE = Step((State.PROCEDURE,), ("proc",), _need_procedure, _forgets("proc", unless=_fixed_while_changing))
OFFICE = Step((State.OFFICE,), ("office",), _need_office, _forgets("office", unless=_office_not_asked))
DATE = Step((State.DATE,), ("day",), _need_date, _forgets("day"))
TIME = Step((State.PART, State.TIME), ("part", "slot"), _need_time, _forgets("part", "slot"), _all_times)
FORM = Step((State.ANSWER, State.LEAVE_FORM), ("field",), _need_answers, _last_question, _previous_question)
CONFIRM = Step((State.CONFIRM,), ("nonce",), _need_confirmation, _forgets("nonce"))
CHANGE_CONFIRM = Step((State.CHANGE_CONFIRM,), (), _need_change_confirmation, _forgets())

# A new booking, and a booking moved to another time (bookings.py): the same date and time steps.
STEPS: tuple[Step, ...] = (PROCEDURE, OFFICE, DATE, TIME, FORM, CONFIRM)
CHANGING: tuple[Step, ...] = (PROCEDURE, OFFICE, DATE, TIME, CHANGE_CONFIRM)


def _steps(turn: Turn) -> tuple[Step, ...]:
    return CHANGING if _changing(turn) else STEPS


def advance(turn: Turn) -> StepResult:
    """Asks for the first thing still missing; the one place that decides what comes next."""
    draft = Draft()
    for step in _steps(turn):
        asked = step.ask(turn, draft)
        if asked is not None:
            return asked
    raise AssertionError("the last step always asks")


def back(turn: Turn) -> StepResult:
    """「戻る」: one step back from where we are waiting (steps the citizen was never asked are passed
    over); from the first step, or back past a booking's fixed procedure and office, it quits."""
    steps = _steps(turn)
    here = next((i for i, step in enumerate(steps) if turn.state in step.states), None)
    if here is None:
        return quit_flow(turn)
    draft = Draft(procedure=scratch.procedure(turn))
    if draft.procedure is not None:
        draft.offices = setup_service.offices_for(db_session=turn.db_session, procedure=draft.procedure)
    if steps[here].back_within(turn, draft):
        return advance(turn)
    for earlier in range(here - 1, -1, -1):
        if steps[earlier].reopen(turn, draft):
            scratch.forget(turn, *(key for step in steps[earlier + 1 : here + 1] for key in step.keys))
            return advance(turn)
    return quit_flow(turn)


def quit_flow(turn: Turn) -> StepResult:
    """「やめる」 at any step: nothing is booked (or the booking being moved stays as it was)."""
    turn.say(menu_text(t("reservations.change_kept") if _changing(turn) else t("common.quit_done")))
    return END


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
        _say_limit_reached(turn)
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
        said = turn.text or ""
        if "午前" in said or "朝" in said:
            turn.data["part"] = "am"
        elif "午後" in said or "夕方" in said:
            turn.data["part"] = "pm"
    return advance(turn)


def _say_limit_reached(turn: Turn) -> None:
    turn.say(
        text_message(
            t("reservations.limit_reached", max=turn.settings.reservation_max_active),
            [intent_item("reservation_check")],
        )
    )


# Steps: choosing ------------------------------------------------------------------------------


def pick_procedure(turn: Turn) -> StepResult:
    """Stores the procedure chosen on a button (if it is one we offer) and asks for the office."""
    procedure = setup_service.get_active_procedure(
        db_session=turn.db_session, procedure_id=turn.postback_fields.get("id", "")
    )
    if procedure is None:
        return prompts.ask_procedure(turn)
    scratch.forget(turn, "slot", "field", "answers")
    turn.data["proc"] = procedure.id
    return advance(turn)


def procedure_in_words(turn: Turn) -> StepResult:
    """「転入届」 typed: the procedure it names, or the buttons again."""
    named = turn.nlu.entity_values("procedure") if turn.nlu else []
    procedure = setup_service.find_procedure(db_session=turn.db_session, words=[*named, (turn.text or "").strip()])
    if procedure is None:
        turn.say(text_message(t("reservations.unknown_procedure")))
        return prompts.ask_procedure(turn)
    scratch.forget(turn, "slot", "field", "answers")
    turn.data["proc"] = procedure.id
    return advance(turn)


def pick_office(turn: Turn) -> StepResult:
    """Stores the office (one that handles the procedure, on a button or in words) and asks for the day."""
    procedure = scratch.procedure(turn)
    if procedure is None:
        return advance(turn)
    offices = setup_service.offices_for(db_session=turn.db_session, procedure=procedure)
    chosen = turn.postback_fields.get("id") if turn.postback else None
    if turn.text is not None:
        typed = words(turn)
        chosen = next((o.id for o in offices if typed and (typed in o.name or o.name.split()[0] in typed)), None)
    office = next((o for o in offices if o.id == chosen), None)
    if office is None:
        turn.say(text_message(t("reservations.unknown_office")))
        return prompts.ask_office(turn, procedure, offices)
    scratch.forget(turn, "slot")
    turn.data["office"] = office.id
    return advance(turn)


def pick_date(turn: Turn) -> StepResult:
    """A day from the buttons or the date picker; checked when the times are looked up."""
    value = (turn.postback.params.get("date") if turn.postback else None) or turn.postback_fields.get("d", "")
    try:
        day = date.fromisoformat(value)
    except ValueError:
        turn.say(text_message(t("reservations.date_not_understood")))
        return advance(turn)
    scratch.forget(turn, "slot", "part")
    turn.data["day"] = day.isoformat()
    return advance(turn)


def date_in_words(turn: Turn) -> StepResult:
    """「12月3日」「来週の金曜」: the NLU's date; a time said with it is kept too."""
    day = turn.nlu.entity("date") if turn.nlu else None
    if not day:
        turn.say(text_message(t("reservations.date_not_understood")))
        scratch.forget(turn, "day")
        return advance(turn)
    scratch.forget(turn, "slot", "part")
    turn.data["day"] = day
    wished = turn.nlu.entity("time") if turn.nlu else None
    if wished:
        turn.data["time"] = wished
    return advance(turn)


def pick_part(turn: Turn) -> StepResult:
    """午前 / 午後: the half of the day whose times are shown."""
    part = turn.postback_fields.get("p")
    if part in ("am", "pm"):
        turn.data["part"] = part
    return advance(turn)


def pick_time(turn: Turn) -> StepResult:
    """A time button: it must still have room (someone may have just taken the last place)."""
    try:
        slot_id = int(turn.postback_fields.get("s", ""))
    except ValueError:
        slot_id = 0
    procedure = scratch.procedure(turn)
    office = scratch.office(turn, procedure) if procedure else None
    day = scratch.day(turn)
    if office is None or day is None:
        return advance(turn)
    if slot_id not in {s.id for s in scratch.free_slots(turn, office, day)}:
        turn.say(text_message(t("reservations.slot_taken")))
    else:
        turn.data["slot"] = slot_id
    return advance(turn)


def time_in_words(turn: Turn) -> StepResult:
    """「10時半」「午後」: a time that is free, or the half of the day to show."""
    nlu = turn.nlu
    wished = nlu.entity("time") if nlu else None
    said = turn.text or ""
    if wished:
        turn.data["time"] = wished
    elif "午前" in said:
        turn.data["part"] = "am"
    elif "午後" in said:
        turn.data["part"] = "pm"
    else:
        turn.say(text_message(t("reservations.time_unavailable")))
    return advance(turn)


# Steps: the form ------------------------------------------------------------------------------


def answer(turn: Turn) -> StepResult:
    """Stores the answer to the current question (cleaned: カタカナ, 半角 digits, ISO dates) and asks
    the next; an answer that does not fit is asked again, kindly, saying why (長すぎます, 未来の日付です,
    or the form wanted, with an example). A question typed instead is not stored: see `aside`."""
    procedure = scratch.procedure(turn)
    if procedure is None:
        return advance(turn)
    index = int(turn.data.get("field", 0))
    if index >= len(procedure.fields):
        return advance(turn)
    key = procedure.fields[index]
    raw = (turn.postback.params.get("date") if turn.postback else None) or turn.text or ""
    if turn.text is not None and forms.asks_something(turn.text):
        return aside(turn, procedure, index)
    try:
        value = forms.clean(forms.FIELDS[key], raw, today=calendar.tokyo_day(turn.now))
    except forms.InvalidAnswer as refused:
        if turn.text is not None and _asks_for_something_else(turn):
            return aside(turn, procedure, index)
        return prompts.ask_field(turn, procedure, index, lead=prompts.refusal(key, refused))
    answers = scratch.answers(turn)
    answers[key] = value
    scratch.store_answers(turn, answers)
    turn.data["field"] = index + 1
    return advance(turn)


def _asks_for_something_else(turn: Turn) -> bool:
    """The NLU is sure the text asks for something else (the FAQ, a shelter, the garbage day)."""
    nlu = turn.nlu
    return nlu is not None and nlu.intent_name in OTHER_REQUESTS and nlu.intent.confidence >= OTHER_INTENT_CONFIDENCE


def aside(turn: Turn, procedure: Procedure, index: int) -> StepResult:
    """A question typed at a form question (「持ち物を教えてください」): nothing is stored. What to bring
    is answered at once, and the question asked again; anything else asks whether to leave the
    form for it (its button sends the question again, which then goes where questions go)."""
    text = turn.text or ""
    if forms.asks_documents(text) and procedure.documents:
        lead = t("reservations.form_documents", procedure=procedure.name, documents=cards.documents_text(procedure))
        return prompts.ask_field(turn, procedure, index, lead=lead)
    return prompts.ask_leave_form(turn, procedure, index, text)


def resume(turn: Turn) -> StepResult:
    """「予約を続ける」: the form's current question again."""
    return advance(turn)


def _answer_not_question(turn: Turn) -> bool:
    """After 「予約をやめて質問する」 was offered: an answer still counts; a question leaves the form."""
    text = turn.text
    if not _answer_text(turn) or text is None:
        return False
    return not (forms.asks_something(text) or _asks_for_something_else(turn))


def skip(turn: Turn) -> StepResult:
    """「省略する」 on an optional question."""
    procedure = scratch.procedure(turn)
    index = int(turn.data.get("field", 0))
    if procedure is None or index >= len(procedure.fields):
        return advance(turn)
    if forms.FIELDS[procedure.fields[index]].required:
        return prompts.ask_field(turn, procedure, index)
    answers = scratch.answers(turn)
    answers.pop(procedure.fields[index], None)
    scratch.store_answers(turn, answers)
    turn.data["field"] = index + 1
    return advance(turn)


# Steps: booking -------------------------------------------------------------------------------


def confirm(turn: Turn) -> StepResult:
    """「この内容で予約する」: books with the card's key (once, however often it is tapped)."""
    return _book(turn, turn.postback_fields.get("k", ""))


def confirm_in_words(turn: Turn) -> StepResult:
    """「はい」 typed at the confirmation: as the card's button, with its key (a retyped はい books once);
    anything else shows the card again."""
    nonce = turn.data.get("nonce")
    if words(turn) in YES_WORDS and nonce:
        return _book(turn, str(nonce))
    return advance(turn)


def _book(turn: Turn, nonce: str) -> StepResult:
    """Books the card whose key is `nonce` and sends the QR code; an older card's key shows what it booked."""
    if not nonce or nonce != turn.data.get("nonce"):
        return _booked_by_card(turn, nonce)
    procedure = scratch.procedure(turn)
    if procedure is None or turn.user_id is None or not turn.data.get("slot"):
        return advance(turn)
    reservation_in = ReservationCreate(
        procedure_id=procedure.id,
        slot_id=int(turn.data.get("slot", 0) or 0),
        answers=scratch.answers(turn),
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
        scratch.forget(turn, "slot", "nonce")
        return advance(turn)
    except SlotNotBookable:
        # The cutoff passed (or staff closed the day) while the form was being answered: the day
        # is asked again, with why and the next day that can be booked.
        scratch.forget(turn, "slot", "part", "nonce")
        office = scratch.office(turn, procedure)
        day = scratch.day(turn)
        if office is not None and day is not None and scratch.free_slots(turn, office, day):
            turn.say(text_message(t("reservations.time_unavailable")))  # only that time went
        return advance(turn)
    except LimitReached:
        _say_limit_reached(turn)
        return END
    except InvalidAnswers:
        turn.data["field"] = 0
        return advance(turn)
    prompts.say_booked(turn, booked.reservation, booked.token, again=not booked.created)
    return END


def confirm_again(turn: Turn) -> StepResult:
    """A confirm button tapped after the conversation ended (again, or from an old card)."""
    return _booked_by_card(turn, turn.postback_fields.get("k", ""))


def _booked_by_card(turn: Turn, nonce: str) -> StepResult:
    """The booking the card with this key made, if it is this citizen's; otherwise it has expired."""
    reservation = None
    if nonce and turn.user_id:
        key = reservation_service.idempotency_key(turn.user_id, nonce)
        reservation = reservation_service.get_by_idempotency_key(db_session=turn.db_session, key=key)
    if reservation is None or reservation.line_user_id != turn.user_id:
        turn.say(menu_text(t("reservations.expired_confirm")))
        return END
    prompts.show_booking(turn, reservation, lead=t("reservations.booked_again"))
    return END


# The table ------------------------------------------------------------------------------------


def with_escapes(*routes: Route) -> list[Route]:
    """Every state: typed やめる / 戻る first, then the state's own routes."""
    return [Route(_says_quit, quit_flow, "text:quit"), Route(_says_back, back, "text:back"), *routes]


# Choosing what, where and when: the same in a new booking and in moving one (bookings.py).
CHOOSING: dict[str, list[Route]] = {
    State.PROCEDURE: with_escapes(
        on_postback("rsv_proc", pick_procedure), Route(_choice_text, procedure_in_words, "text:procedure")
    ),
    State.OFFICE: with_escapes(on_postback("rsv_office", pick_office), Route(_choice_text, pick_office, "text:office")),
    State.DATE: with_escapes(on_postback("rsv_date", pick_date), Route(_choice_text, date_in_words, "text:date")),
    State.PART: with_escapes(on_postback("rsv_part", pick_part), Route(_choice_text, time_in_words, "text:part")),
    State.TIME: with_escapes(
        on_postback("rsv_time", pick_time),
        on_postback("rsv_part", pick_part),
        Route(_choice_text, time_in_words, "text:time"),
    ),
}
BACK_AND_QUIT = [on_postback("rsv_back", back), on_postback("rsv_quit", quit_flow)]
TIMEOUT = timedelta(minutes=30)

FLOW = Flow(
    name="reservations",
    entry_points=[
        on_intent("reservation_make", start),
        on_postback("rsv_confirm", confirm_again),
    ],
    states={
        **CHOOSING,
        State.ANSWER: with_escapes(
            on_postback("rsv_answer", answer), on_postback("rsv_skip", skip), Route(_answer_text, answer, "text:answer")
        ),
        # Text no route here takes (the question again) goes to the other flows, and the form ends.
        State.LEAVE_FORM: with_escapes(
            on_postback("rsv_resume", resume),
            on_postback("rsv_answer", answer),
            on_postback("rsv_skip", skip),
            Route(_answer_not_question, answer, "text:answer"),
        ),
        State.CONFIRM: with_escapes(on_postback("rsv_confirm", confirm), on_text(confirm_in_words)),
    },
    fallbacks=BACK_AND_QUIT,
    timeout=TIMEOUT,
)
