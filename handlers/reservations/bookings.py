"""My bookings (予約確認) on LINE: the citizen's upcoming bookings, each with its QR code again,
a change of date and time, or a cancellation (asked once more).

Stateless but for a change, which goes through the booking's own day and time steps (flow.py's
CHANGING, waiting in flow.CHOOSING's states) and then waits for はい / いいえ. A booking id in a
postback is only a choice: its owner is checked on every use.
"""

from __future__ import annotations

from bot.catalog import t
from bot.flow import END, Flow, StepResult, Turn, on_intent, on_postback, on_text
from bot.messages import intent_item, menu_text
from bot.messages import text as text_message
from handlers.reservations import cards, flow, prompts, scratch
from handlers.reservations.models import Reservation, ReservationStatus
from handlers.reservations.service import reservations as reservation_service
from handlers.reservations.service import setup as setup_service
from handlers.reservations.service.errors import InvalidTransition, ReservationError, SlotFull
from handlers.reservations.states import State

# Seeing ---------------------------------------------------------------------------------------


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
    """The booking a postback names, if it is this citizen's; else says so."""
    reservation = reservation_service.get_for_citizen(
        db_session=turn.db_session, reservation_id=turn.postback_fields.get("id"), line_user_id=turn.user_id
    )
    if reservation is None:
        turn.say(menu_text(t("reservations.not_found")))
    return reservation


def show_booking(turn: Turn) -> StepResult:
    """「QRコードを表示」: the booking's card and QR code again (or what became of it: cancelled, visited)."""
    reservation = _own_booking(turn)
    if reservation is not None:
        prompts.show_booking(turn, reservation)
    return END


# Cancelling -----------------------------------------------------------------------------------


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
    turn.say(text_message(question, prompts.yes_no("rsv_cancel_ok", id=reservation.id)))
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


# Changing -------------------------------------------------------------------------------------


def start_change(turn: Turn) -> StepResult:
    """「日時を変更」: the booking's day and time steps, for its procedure and office."""
    reservation = _own_booking(turn)
    if reservation is None:
        return END
    if reservation.status != ReservationStatus.BOOKED:
        turn.say(menu_text(t("reservations.not_changeable")))
        return END
    turn.data = {"change": reservation.id, "proc": reservation.procedure_id, "office": reservation.office_id}
    return flow.advance(turn)


def change(turn: Turn) -> StepResult:
    """The はい / いいえ buttons under 「この日時に変更しますか？」."""
    if turn.postback_fields.get("answer") != "yes":
        return flow.quit_flow(turn)
    return _move(turn)


def change_in_words(turn: Turn) -> StepResult:
    """「はい」 or 「いいえ」 typed instead; anything else asks again."""
    said = flow.words(turn)
    if said in flow.YES_WORDS:
        return _move(turn)
    if said in flow.NO_WORDS:
        return flow.quit_flow(turn)
    return flow.advance(turn)


def _move(turn: Turn) -> StepResult:
    """Moves the booking to the chosen slot (its place is given back, the new one taken, together)."""
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
        scratch.forget(turn, "slot")
        return flow.advance(turn)
    except ReservationError:
        turn.say(menu_text(t("reservations.not_changeable")))
        return END
    turn.say(text_message(t("reservations.changed")))
    prompts.show_booking(turn, reservation)
    return END


# The table ------------------------------------------------------------------------------------

FLOW = Flow(
    name="reservation_bookings",
    entry_points=[
        on_intent("reservation_check", show_bookings),
        on_intent("reservation_cancel", show_bookings),
        on_postback("rsv_show", show_booking),
        on_postback("rsv_change", start_change),
        on_postback("rsv_cancel", ask_cancel),
        on_postback("rsv_cancel_ok", cancel),
    ],
    states={
        **flow.CHOOSING,
        State.CHANGE_CONFIRM: flow.with_escapes(on_postback("rsv_change_ok", change), on_text(change_in_words)),
    },
    fallbacks=flow.BACK_AND_QUIT,
    timeout=flow.TIMEOUT,
)
