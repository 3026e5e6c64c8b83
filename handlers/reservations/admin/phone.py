"""Phone and counter bookings: staff enter what the caller says, on the same calendar and the same
capacity as LINE."""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, Response
from pydantic import ValidationError

from admin.auth import CurrentStaff, DbSession
from admin.templating import redirect, render
from bot import clock
from handlers.reservations import api, flows, forms
from handlers.reservations.admin.shared import BASE, counter_only, hhmm, parse_day
from handlers.reservations.models import CounterSlot, ReservationChannel, ReservationCreate
from handlers.reservations.service import setup as setup_service
from handlers.reservations.service import slots as slot_service
from handlers.reservations.service.errors import ReservationError

router = APIRouter()
STAFF_CHANNELS = (ReservationChannel.PHONE, ReservationChannel.COUNTER)


@router.get("/reservations-new", response_class=HTMLResponse, dependencies=counter_only)
def new_reservation_form(
    request: Request,
    db_session: DbSession,
    procedure: Annotated[str, Query(max_length=32)] = "",
    office: Annotated[str, Query(max_length=32)] = "",
    day: Annotated[str | None, Query(max_length=10)] = None,
) -> HTMLResponse:
    return _new_form(request, db_session, procedure, office, parse_day(day))


def _new_form(
    request: Request,
    db_session: DbSession,
    procedure_id: str,
    office_id: str,
    day: date,
    *,
    error: str | None = None,
    values: dict[str, str] | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    procedures = setup_service.get_all_procedures(db_session=db_session)
    procedure = next((p for p in procedures if p.id == procedure_id), None)
    offices = setup_service.offices_for(db_session=db_session, procedure=procedure) if procedure else []
    office = next((o for o in offices if o.id == office_id), None)
    slots: list[CounterSlot] = []
    if office is not None:
        slots = slot_service.available_slots(
            db_session=db_session,
            office_id=office.id,
            day=day,
            now=clock.now(),
            settings=request.app.state.settings,
            for_citizen=False,
        )
    return render(
        request,
        "reservations/new.html",
        {
            "procedures": procedures,
            "procedure": procedure,
            "offices": offices,
            "office": office,
            "day": day,
            "slots": [(s, f"{hhmm(s.starts_at)}〜{hhmm(s.ends_at)}（残り{s.free}）") for s in slots],
            "fields": [forms.FIELDS[k] for k in procedure.fields] if procedure else [],
            "values": values or {},
            "form_error": error,
            "channels": list(STAFF_CHANNELS),
        },
        status_code=status_code,
    )


@router.post("/reservations-new", dependencies=counter_only)
async def create_reservation(request: Request, actor: CurrentStaff, db_session: DbSession) -> Response:
    form = await request.form()
    values = {k: str(v)[:400] for k, v in form.items() if isinstance(v, str) and k != "csrf_token"}
    procedure_id, office_id = values.get("procedure", ""), values.get("office", "")
    day = parse_day(values.get("day"))
    answers = {k.removeprefix("answer_"): v for k, v in values.items() if k.startswith("answer_")}
    chosen = values.get("channel", "")
    channel = ReservationChannel(chosen) if chosen in STAFF_CHANNELS else ReservationChannel.PHONE
    try:
        reservation_in = ReservationCreate(
            procedure_id=procedure_id,
            slot_id=int(values.get("slot") or 0),
            answers=answers,
            channel=channel,
            created_by=actor.name,
        )
        booked = flows.create_booking(
            db_session=db_session, reservation_in=reservation_in, settings=request.app.state.settings, actor=actor
        )
    except (ValueError, ValidationError, ReservationError) as exc:
        message = api.error_message(exc)
        return _new_form(
            request, db_session, procedure_id, office_id, day, error=message, values=values, status_code=400
        )
    reservation = booked.reservation
    return redirect(f"{BASE}/{reservation.id}", notice=f"予約を登録しました（予約番号 No.{reservation.id}）。")
