"""What the booking conversations ask at each step, and the booked card they answer with.

Each `ask_*` says its question (with the buttons that answer it, 戻る and やめる) and returns the state
that waits for the answer, or END when there is nothing left to ask (no office, no free day).
Every sentence comes from the catalog (reservations.*).
"""

from __future__ import annotations

import secrets
from datetime import date

from linebot.v3.messaging import QuickReplyItem

from bot import clock
from bot.catalog import t
from bot.flow import END, StepResult, Turn
from bot.messages import date_picker_item, menu_text, message_item, moving_items, postback_item
from bot.messages import text as text_message
from handlers.reservations import calendar, cards, forms, scratch
from handlers.reservations.models import CounterSlot, Office, Procedure, Reservation, ReservationStatus
from handlers.reservations.service import reservations as reservation_service
from handlers.reservations.service import setup as setup_service
from handlers.reservations.service import slots as slot_service
from handlers.reservations.states import State

MAX_DAY_BUTTONS = 10  # + calendar, back, quit = 13, LINE's limit
MAX_TIME_BUTTONS = 11  # + back, quit


# Buttons --------------------------------------------------------------------------------------


def yes_no(action: str, **fields: object) -> list[QuickReplyItem]:
    """はい / いいえ, as postbacks of `action` with answer=yes|no."""
    yes, no = t("reservations.button_yes"), t("reservations.button_no")
    return [
        postback_item(yes, action, display=yes, answer="yes", **fields),
        postback_item(no, action, display=no, answer="no", **fields),
    ]


def navigation() -> list[QuickReplyItem]:
    """戻る and やめる, offered with every question after the first."""
    return [
        postback_item(t("reservations.button_back"), "rsv_back", display=t("reservations.button_back")),
        postback_item(t("reservations.button_quit"), "rsv_quit", display=t("reservations.button_quit")),
    ]


def part_of(slot: CounterSlot) -> str:
    return "am" if slot.starts_at.astimezone(clock.TOKYO).hour < 12 else "pm"


# The questions, in the order a booking asks them ---------------------------------------------


def ask_procedure(turn: Turn) -> StepResult:
    """The procedures as buttons; with none set up, that bookings are by phone for now."""
    procedures = setup_service.get_all_procedures(db_session=turn.db_session)
    if not procedures:
        turn.say(menu_text(t("reservations.no_procedures")))
        return END
    items = [postback_item(p.name, "rsv_proc", display=p.name, id=p.id) for p in procedures[:12]]
    items.append(postback_item(t("reservations.button_quit"), "rsv_quit", display=t("reservations.button_quit")))
    turn.say(text_message(t("reservations.ask_procedure"), items))
    return State.PROCEDURE


# The moving procedures by direction, as the demo city names them (their canonical NLU values).
MOVING_PROCEDURES = {"into": "転入届", "out": "転出届", "within": "転居届"}


def ask_move(turn: Turn) -> StepResult:
    """「来月引っ越す」: into, out of, or within the city? Every procedure when those are not all set up."""
    found = {
        way: setup_service.find_procedure(db_session=turn.db_session, words=[name])
        for way, name in MOVING_PROCEDURES.items()
    }
    items = moving_items({way: p.id if p else None for way, p in found.items()}, "rsv_proc")
    if items is None:
        return ask_procedure(turn)
    items.append(postback_item(t("reservations.button_quit"), "rsv_quit", display=t("reservations.button_quit")))
    turn.say(text_message(t("reservations.ask_move"), items))
    return State.PROCEDURE


def ask_office(turn: Turn, procedure: Procedure, offices: list[Office]) -> StepResult:
    if not offices:
        turn.say(menu_text(t("reservations.unknown_procedure")))
        return END
    items = [postback_item(o.name, "rsv_office", display=o.name, id=o.id) for o in offices[:11]]
    turn.say(text_message(t("reservations.ask_office", procedure=procedure.name), items + navigation()))
    return State.OFFICE


def say_day_unavailable(turn: Turn, office: Office, day: date) -> date | None:
    """Why `day` cannot be booked (休み, 締め切り後, 満員, ...) and the next day that can; answers that day."""
    reason = slot_service.why_unavailable(
        db_session=turn.db_session, office_id=office.id, day=day, now=turn.now, settings=turn.settings
    )
    cutoff = calendar.hhmm(turn.settings.reservation_cutoff_time)
    said = t(
        f"reservations.day_{reason.value}",
        date=cards.day_text(day),
        office=office.name,
        time=t(
            "reservations.clock_minutes" if cutoff.minute else "reservations.clock",
            hour=cutoff.hour,
            minute=cutoff.minute,
        ),
        days=turn.settings.reservation_window_days,
    )
    following = slot_service.next_available_day(
        db_session=turn.db_session, office_id=office.id, after=day, now=turn.now, settings=turn.settings
    )
    if following is not None:
        said += "\n" + t("reservations.day_next", date=cards.day_text(following))
    turn.say(text_message(said))
    return following


def ask_date(turn: Turn, procedure: Procedure, office: Office, *, since: date | None = None) -> StepResult:
    """The next days with room, from `since` (the day offered instead of one refused) when given,
    and the calendar for any other; when changing a booking, says so."""
    days = slot_service.available_days(
        db_session=turn.db_session,
        office_id=office.id,
        now=turn.now,
        settings=turn.settings,
        limit=MAX_DAY_BUTTONS,
        since=since,
    )
    if not days and since is not None:
        return ask_date(turn, procedure, office)
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
        prompt = t("reservations.change_ask_date", procedure=procedure.name)
    turn.say(text_message(prompt, items + navigation()))
    return State.DATE


def ask_time(turn: Turn, day: date, slots: list[CounterSlot]) -> StepResult:
    """The day's free times; first 午前/午後 when they do not fit on the buttons and no half is chosen."""
    part = turn.data.get("part")
    parts = {part_of(s) for s in slots}
    if part not in parts:
        scratch.forget(turn, "part")
        if len(slots) > MAX_TIME_BUTTONS and len(parts) > 1:
            morning, afternoon = t("reservations.button_morning"), t("reservations.button_afternoon")
            items = [
                postback_item(morning, "rsv_part", display=morning, p="am"),
                postback_item(afternoon, "rsv_part", display=afternoon, p="pm"),
            ]
            turn.say(text_message(t("reservations.ask_part", date=cards.day_text(day)), items + navigation()))
            return State.PART
    else:
        slots = [s for s in slots if part_of(s) == part]
    items = [
        postback_item(
            t("reservations.slot_label", time=cards.time_text(s.starts_at), free=s.free),
            "rsv_time",
            display=cards.when_text(s.starts_at),
            s=s.id,
        )
        for s in slots[:MAX_TIME_BUTTONS]
    ]
    turn.say(text_message(t("reservations.ask_time", date=cards.day_text(day)), items + navigation()))
    return State.TIME


def ask_field(turn: Turn, procedure: Procedure, index: int, *, lead: str | None = None) -> StepResult:
    """The form's question number `index` (the first one with a word on the form); `lead` says why
    it is asked again."""
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
    turn.say(text_message(question, items + navigation()))
    return State.ANSWER


def refusal(key: str, refused: forms.InvalidAnswer) -> str:
    """Why an answer was refused, in the citizen's words: the real reason, not a guess."""
    label = t(f"reservations.fields.{key}.label")
    if refused.reason == forms.TOO_LONG:
        return t("reservations.answer_too_long", label=label, limit=refused.limit)
    if refused.reason == forms.FUTURE:
        return t("reservations.answer_future", label=label)
    if refused.reason == forms.OUT_OF_RANGE and refused.first is not None and refused.last is not None:
        first, last = _long_date(refused.first), _long_date(refused.last)
        return t("reservations.answer_out_of_range", label=label, first=first, last=last)
    return t(f"reservations.fields.{key}.invalid")


def _long_date(day: date) -> str:
    return t("reservations.long_date", year=day.year, month=day.month, day=day.day)


def ask_leave_form(turn: Turn, procedure: Procedure, index: int, question: str) -> StepResult:
    """A question typed at the form: not stored; continue, or leave the form to ask it (the button
    sends the question again as the citizen's message)."""
    label = t(f"reservations.fields.{procedure.fields[index]}.label")
    resume = t("reservations.button_resume")
    items = [
        postback_item(resume, "rsv_resume", display=resume),
        message_item(t("reservations.button_leave_to_ask"), question),
        postback_item(t("reservations.button_quit"), "rsv_quit", display=t("reservations.button_quit")),
    ]
    turn.say(text_message(t("reservations.form_aside", label=label), items))
    return State.LEAVE_FORM


def show_confirmation(turn: Turn, procedure: Procedure, office: Office, slot: CounterSlot) -> StepResult:
    """Everything on one card, with 「この内容で予約する」 (a new key each time it is shown)."""
    nonce = secrets.token_hex(16)
    turn.data["nonce"] = nonce
    answers = scratch.answers(turn)
    turn.say(
        cards.confirmation(procedure=procedure, office=office, starts_at=slot.starts_at, answers=answers, nonce=nonce)
    )
    return State.CONFIRM


def ask_change_confirm(turn: Turn, slot: CounterSlot) -> StepResult:
    """Moving a booking: from when to when, はい / いいえ."""
    reservation = reservation_service.get_for_citizen(
        db_session=turn.db_session, reservation_id=turn.data.get("change"), line_user_id=turn.user_id
    )
    if reservation is None:
        turn.say(menu_text(t("reservations.not_found")))
        return END
    question = t(
        "reservations.change_confirm", old=cards.when_text(reservation.starts_at), new=cards.when_text(slot.starts_at)
    )
    turn.say(text_message(question, yes_no("rsv_change_ok")))
    return State.CHANGE_CONFIRM


# The answer -----------------------------------------------------------------------------------


def say_booked(turn: Turn, reservation: Reservation, token: str | None, *, again: bool = False) -> None:
    """The new booking's card with its QR code 「ご予約を承りました」 (`again`: the same button booked it
    before, so it is shown as a booking already made)."""
    if again:
        show_booking(turn, reservation, lead=t("reservations.booked_again"))
        return
    procedure, office = _procedure_and_office(turn, reservation)
    turn.say(*cards.booked_messages(turn.settings, reservation, procedure, office, token))


def show_booking(turn: Turn, reservation: Reservation, *, lead: str | None = None) -> None:
    """An existing booking's card and QR code again (「QRコードを表示」, an old confirm button, after a
    change), titled as the booking's details; one that is cancelled, visited or past says so instead,
    with no QR code (its image is gone)."""
    procedure, office = _procedure_and_office(turn, reservation)
    if reservation.status != ReservationStatus.BOOKED or reservation.visit_day < calendar.tokyo_day(turn.now):
        key = {
            ReservationStatus.CANCELLED: "reservations.already_cancelled",
            ReservationStatus.ARRIVED: "reservations.already_visited",
            ReservationStatus.DONE: "reservations.already_visited",
        }.get(reservation.status, "reservations.already_past")
        when = cards.day_text(reservation.visit_day)
        time = cards.time_text(reservation.starts_at)
        turn.say(menu_text(t(key, date=when, time=time, procedure=procedure.name)))
        return
    token = reservation_service.token_of(reservation, turn.settings)
    turn.say(*cards.booked_messages(turn.settings, reservation, procedure, office, token, shown_again=True, lead=lead))


def _procedure_and_office(turn: Turn, reservation: Reservation) -> tuple[Procedure, Office]:
    procedure = setup_service.get_procedure(db_session=turn.db_session, procedure_id=reservation.procedure_id)
    office = setup_service.get_office(db_session=turn.db_session, office_id=reservation.office_id)
    assert procedure is not None and office is not None  # a booking's procedure and office are never deleted
    return procedure, office
