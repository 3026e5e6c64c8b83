"""The day's bookings per office and time, the check-in field (a QR token, scanned by camera or a
USB keyboard-wedge scanner, opens its booking), one slot's capacity; and the dashboard's panel of
today's counts."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Form, HTTPException, Path, Query, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy.orm import Session

from admin.auth import CurrentStaff, DbSession
from admin.models import Actor
from admin.templating import redirect, render
from handlers.reservations import calendar, flows
from handlers.reservations.admin.shared import BASE, counter_only, day_label, hhmm, lookups, name_of, parse_day, today
from handlers.reservations.models import MAX_ID, STATUS_LABELS, ReservationStatus
from handlers.reservations.service import reservations as reservation_service
from handlers.reservations.service import slots as slot_service

router = APIRouter()


@router.get("/reservations", response_class=HTMLResponse)
def list_reservations(
    request: Request,
    actor: CurrentStaff,
    db_session: DbSession,
    day: Annotated[str | None, Query(max_length=10)] = None,
    office: Annotated[str | None, Query(max_length=32)] = None,
) -> HTMLResponse:
    shown_day = parse_day(day)
    procedures, offices = lookups(db_session)
    active_offices = [o for o in offices.values() if o.is_active and (not office or o.id == office)]
    sections = []
    for each in active_offices:
        slots = slot_service.get_slots_for_day(db_session=db_session, office_id=each.id, day=shown_day)
        bookings = reservation_service.get_all_for_day(db_session=db_session, day=shown_day, office_id=each.id)
        by_slot: dict[int, list[dict[str, Any]]] = {}
        for reservation in bookings:
            by_slot.setdefault(reservation.slot_id, []).append(
                {
                    "r": reservation,
                    "name": name_of(request, actor, reservation),
                    "procedure": procedures.get(reservation.procedure_id),
                }
            )
        rows = [
            {"slot": s, "time": f"{hhmm(s.starts_at)}〜{hhmm(s.ends_at)}", "bookings": by_slot.pop(s.id, [])}
            for s in slots
        ]
        # Bookings whose slot is not in today's list any more (rules changed) still show.
        for leftovers in by_slot.values():
            rows.append({"slot": None, "time": hhmm(leftovers[0]["r"].starts_at), "bookings": leftovers})
        active = sum(1 for r in bookings if r.status != ReservationStatus.CANCELLED)
        sections.append(
            {
                "office": each,
                "rows": rows,
                "booked": active,
                "capacity": sum(s.capacity for s in slots if not s.is_closed),
                "arrived": sum(1 for r in bookings if r.status in (ReservationStatus.ARRIVED, ReservationStatus.DONE)),
            }
        )
    return render(
        request,
        "reservations/day.html",
        {
            "day": shown_day,
            "day_label": day_label(shown_day),
            "is_counter_day": calendar.is_counter_day(shown_day),
            "previous_day": shown_day - timedelta(days=1),
            "next_day": shown_day + timedelta(days=1),
            "today": today(),
            "office_filter": office or "",
            "offices": [o for o in offices.values() if o.is_active],
            "sections": sections,
            "status_labels": STATUS_LABELS,
            "personal": actor.sees_personal_data,
            "can_edit": actor.role != "viewer",
        },
    )


@router.post("/reservations/lookup", dependencies=counter_only)
def lookup_reservation(db_session: DbSession, token: Annotated[str, Form(max_length=200)] = "") -> Response:
    """The check-in field: a QR token (scanned or typed) opens its booking."""
    reservation = reservation_service.get_by_token(db_session=db_session, token=token)
    if reservation is None:
        return redirect(BASE, error="そのQRコードの予約は見つかりません。もう一度読み取るか、番号をご確認ください。")
    return redirect(f"{BASE}/{reservation.id}?scanned=1")


@router.post("/reservations/slots/{slot_id}", dependencies=counter_only)
def adjust_slot(
    actor: CurrentStaff,
    db_session: DbSession,
    slot_id: Annotated[int, Path(ge=1, le=MAX_ID)],
    capacity: Annotated[int, Form(ge=0, le=100)],
    closed: Annotated[str, Form(max_length=5)] = "",
) -> Response:
    slot = slot_service.get_slot(db_session=db_session, slot_id=slot_id)
    if slot is None:
        raise HTTPException(status_code=404, detail="その予約枠は見つかりません。")
    flows.adjust_slot(db_session=db_session, slot=slot, capacity=capacity, is_closed=closed == "1", actor=actor)
    return redirect(f"{BASE}?day={slot.day.isoformat()}", notice="予約枠を変更しました。")


def todays_counts(db_session: Session, actor: Actor) -> dict[str, Any]:
    """The dashboard panel: today's bookings and arrivals per office."""
    day = today()
    _, offices = lookups(db_session)
    rows = []
    for office in offices.values():
        if not office.is_active:
            continue
        bookings = reservation_service.get_all_for_day(db_session=db_session, day=day, office_id=office.id)
        rows.append(
            {
                "office": office.name,
                "booked": sum(1 for r in bookings if r.status != ReservationStatus.CANCELLED),
                "arrived": sum(1 for r in bookings if r.status in (ReservationStatus.ARRIVED, ReservationStatus.DONE)),
            }
        )
    return {"rows": rows, "day": day}
