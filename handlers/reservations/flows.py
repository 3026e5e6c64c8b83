"""Staff actions at the counter, one function each: the rule (service), the notice to the citizen
(notify.py, in the same transaction) and the audit record, written once here and called by both the
admin pages (admin/) and /api/v1 (api.py). Neither writes the audit log itself.

What the audit log keeps: who, when, what, and the before and after of the booking (ReservationRead:
no form answers, no token) or of the setting. Form answers never go into it. A refused action raises
the service's error (service/errors.py) and records nothing.
"""

from __future__ import annotations

from typing import Any, Protocol

from sqlalchemy.orm import Session

from admin import audit
from admin.models import Actor
from bot import clock
from bot.settings import Settings
from handlers.reservations import notify
from handlers.reservations.models import (
    Closure,
    ClosureCreate,
    CounterSlot,
    Office,
    OfficeCreate,
    OfficeUpdate,
    Procedure,
    ProcedureCreate,
    ProcedureUpdate,
    Reservation,
    ReservationCreate,
    ReservationRead,
    SlotRule,
    SlotRuleCreate,
    SlotRuleUpdate,
)
from handlers.reservations.service import reservations as reservation_service
from handlers.reservations.service import setup as setup_service
from handlers.reservations.service import slots as slot_service

ACTION_LABELS = {
    "reservation.create": "窓口予約を登録",
    "reservation.check_in": "来庁を受付",
    "reservation.complete": "手続きを完了",
    "reservation.no_show": "来庁なしを記録",
    "reservation.cancel": "予約を取り消し",
    "reservation.slot": "予約枠を変更",
    "reservation.procedure": "手続きを編集",
    "reservation.office": "窓口を編集",
    "reservation.rule": "予約枠のルールを編集",
    "reservation.closure": "休止日を編集",
    "reservation.purge": "個人情報を削除",
}
for code, label in ACTION_LABELS.items():
    audit.describe_action(code, label)

# What the audit log keeps of each setting (never more than staff typed into its form).
PROCEDURE_FIELDS = (
    "name",
    "description",
    "duration_minutes",
    "office_ids",
    "documents",
    "fields",
    "keywords",
    "sort_order",
    "is_active",
)
OFFICE_FIELDS = ("name", "address", "phone", "opens", "closes", "sort_order", "is_active")
RULE_FIELDS = ("weekdays", "start_time", "end_time", "slot_minutes", "capacity", "is_active")
# What the record of a deleted rule keeps.
DELETED_RULE_FIELDS = ("office_id", "weekdays", "start_time", "end_time", "slot_minutes", "capacity")
CLOSURE_FIELDS = ("office_id", "day", "reason")


def _fields(item: object, names: tuple[str, ...]) -> dict[str, Any]:
    return {name: getattr(item, name) for name in names}


def _record(
    db_session: Session,
    actor: Actor,
    action: str,
    target_type: str,
    target_id: str | int | None,
    *,
    before: ReservationRead | dict[str, Any] | None = None,
    after: ReservationRead | dict[str, Any] | None = None,
    summary: str | None = None,
) -> None:
    audit.record(
        db_session=db_session,
        actor=actor,
        action=action,
        target_type=target_type,
        target_id=target_id,
        before=before,
        after=after,
        summary=summary,
    )


# Bookings -------------------------------------------------------------------------------------


def create_booking(
    *, db_session: Session, reservation_in: ReservationCreate, settings: Settings, actor: Actor
) -> reservation_service.Booked:
    """A booking taken by phone or at the counter: the same calendar and capacity as LINE."""
    booked = reservation_service.create(db_session=db_session, reservation_in=reservation_in, settings=settings)
    reservation = booked.reservation
    _record(
        db_session, actor, "reservation.create", "reservation", reservation.id, after=ReservationRead.of(reservation)
    )
    return booked


def check_in(*, db_session: Session, reservation: Reservation, actor: Actor) -> Reservation:
    """受付: the citizen has arrived (on the day of the visit only)."""
    return _record_visit(db_session, reservation, "check_in", actor)


def complete(*, db_session: Session, reservation: Reservation, actor: Actor) -> Reservation:
    """完了: the procedure is done (the citizen counts as arrived)."""
    return _record_visit(db_session, reservation, "complete", actor)


def mark_no_show(*, db_session: Session, reservation: Reservation, actor: Actor) -> Reservation:
    """来庁なし: nobody came (on the day of the visit only)."""
    return _record_visit(db_session, reservation, "no_show", actor)


def _record_visit(db_session: Session, reservation: Reservation, action: str, actor: Actor) -> Reservation:
    before = ReservationRead.of(reservation)
    reservation_service.record_visit(db_session=db_session, reservation=reservation, action=action)
    after = ReservationRead.of(reservation)
    _record(db_session, actor, f"reservation.{action}", "reservation", reservation.id, before=before, after=after)
    return reservation


class VisitAction(Protocol):
    def __call__(self, *, db_session: Session, reservation: Reservation, actor: Actor) -> Reservation: ...


# The counter's buttons on a booking's page, by the code they post (service.reservations.COUNTER_ACTIONS).
VISIT_ACTIONS: dict[str, VisitAction] = {"check_in": check_in, "complete": complete, "no_show": mark_no_show}


def cancel_by_staff(*, db_session: Session, reservation: Reservation, reason: str, actor: Actor) -> bool:
    """Cancels, frees the place, tells the citizen on LINE with the reason staff gave (in this
    transaction, through the outbox) and records it with that reason. Answers whether the citizen
    was told: a booking made by phone or at the counter is not, and staff call them."""
    before = ReservationRead.of(reservation)
    reservation_service.cancel(db_session=db_session, reservation=reservation, reason=reason or "staff")
    told = notify.reservation_cancelled(db_session=db_session, reservation=reservation, reason=reason)
    after = ReservationRead.of(reservation)
    summary = reason[:200] or None
    _record(
        db_session,
        actor,
        "reservation.cancel",
        "reservation",
        reservation.id,
        before=before,
        after=after,
        summary=summary,
    )
    return told


# Slots ----------------------------------------------------------------------------------------


def adjust_slot(
    *, db_session: Session, slot: CounterSlot, capacity: int | None, is_closed: bool | None, actor: Actor
) -> CounterSlot:
    """One slot's capacity (counters staffed), or closed; its bookings stand."""
    before = {"capacity": slot.capacity, "is_closed": slot.is_closed}
    slot_service.adjust_slot(db_session=db_session, slot=slot, capacity=capacity, is_closed=is_closed)
    after = {"capacity": slot.capacity, "is_closed": slot.is_closed}
    summary = f"{slot.office_id} {slot.starts_at.astimezone(clock.TOKYO):%Y-%m-%d %H:%M}"
    _record(db_session, actor, "reservation.slot", "counter_slot", slot.id, before=before, after=after, summary=summary)
    return slot


# Setup: procedures, offices, slot rules, closed days ------------------------------------------


def create_procedure(*, db_session: Session, procedure_in: ProcedureCreate, actor: Actor) -> Procedure:
    procedure = setup_service.create_procedure(db_session=db_session, procedure_in=procedure_in)
    _record(
        db_session,
        actor,
        "reservation.procedure",
        "procedure",
        procedure.id,
        after=_fields(procedure, PROCEDURE_FIELDS),
    )
    return procedure


def update_procedure(
    *, db_session: Session, procedure: Procedure, procedure_in: ProcedureUpdate, actor: Actor
) -> Procedure:
    before = _fields(procedure, PROCEDURE_FIELDS)
    setup_service.update_procedure(db_session=db_session, procedure=procedure, procedure_in=procedure_in)
    after = _fields(procedure, PROCEDURE_FIELDS)
    _record(db_session, actor, "reservation.procedure", "procedure", procedure.id, before=before, after=after)
    return procedure


def create_office(*, db_session: Session, office_in: OfficeCreate, actor: Actor) -> Office:
    office = setup_service.create_office(db_session=db_session, office_in=office_in)
    _record(db_session, actor, "reservation.office", "office", office.id, after=_fields(office, OFFICE_FIELDS))
    return office


def update_office(*, db_session: Session, office: Office, office_in: OfficeUpdate, actor: Actor) -> Office:
    before = _fields(office, OFFICE_FIELDS)
    setup_service.update_office(db_session=db_session, office=office, office_in=office_in)
    after = _fields(office, OFFICE_FIELDS)
    _record(db_session, actor, "reservation.office", "office", office.id, before=before, after=after)
    return office


def create_rule(*, db_session: Session, rule_in: SlotRuleCreate, actor: Actor) -> SlotRule:
    """A new slot rule; the future slots nobody booked follow at once."""
    rule = setup_service.create_rule(db_session=db_session, rule_in=rule_in)
    after = _fields(rule, ("office_id", *RULE_FIELDS))
    _record(db_session, actor, "reservation.rule", "slot_rule", rule.id, after=after)
    return rule


def update_rule(*, db_session: Session, rule: SlotRule, rule_in: SlotRuleUpdate, actor: Actor) -> SlotRule:
    """A changed slot rule; the future slots nobody booked follow at once."""
    before = _fields(rule, RULE_FIELDS)
    setup_service.update_rule(db_session=db_session, rule=rule, rule_in=rule_in)
    after = _fields(rule, ("office_id", *RULE_FIELDS))
    _record(db_session, actor, "reservation.rule", "slot_rule", rule.id, before=before, after=after)
    return rule


def delete_rule(*, db_session: Session, rule: SlotRule, actor: Actor) -> None:
    """Deletes a slot rule; slots with bookings stay."""
    rule_id, before = rule.id, _fields(rule, DELETED_RULE_FIELDS)
    setup_service.delete_rule(db_session=db_session, rule=rule)
    _record(db_session, actor, "reservation.rule", "slot_rule", rule_id, before=before, summary="削除")


def create_closure(*, db_session: Session, closure_in: ClosureCreate, actor: Actor) -> tuple[Closure, int]:
    """Closes a day; answers the closure and how many bookings that day holds (staff call them)."""
    closure, held = setup_service.create_closure(db_session=db_session, closure_in=closure_in)
    _record(db_session, actor, "reservation.closure", "closure", closure.id, after=_fields(closure, CLOSURE_FIELDS))
    return closure, held


def delete_closure(*, db_session: Session, closure: Closure, actor: Actor) -> None:
    """Opens a closed day again."""
    closure_id, before = closure.id, _fields(closure, CLOSURE_FIELDS)
    setup_service.delete_closure(db_session=db_session, closure=closure)
    _record(db_session, actor, "reservation.closure", "closure", closure_id, before=before, summary="削除")


# Personal data --------------------------------------------------------------------------------


def purge_personal_data(*, db_session: Session, settings: Settings, actor: Actor) -> int:
    """The nightly purge, run now: answers how many bookings lost their personal data."""
    count = reservation_service.purge_personal_data(db_session=db_session, settings=settings)
    _record(db_session, actor, "reservation.purge", "reservation", None, summary=f"{count}件")
    return count
