"""The day's bookings per office and time, the check-in field (a QR token, scanned by camera or a
USB keyboard-wedge scanner, opens its booking), one slot's capacity; and the dashboard's panel of
today's counts."""

from __future__ import annotations

import re
import unicodedata
from datetime import date, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Form, HTTPException, Path, Query, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy.orm import Session

from admin.auth import CurrentStaff, DbSession
from admin.models import Actor
from admin.templating import redirect, render
from handlers.reservations import calendar, flows, forms
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


NO_MATCH = "その番号と、お名前または生年月日が一致する予約はありません。予約票をもう一度ご確認ください。"


def booking_number(typed: str) -> int | None:
    """The 予約番号 printed on the card as typed: 「1」, 「No.1」, 「Ｎｏ．１」, 「#1」; None if it is not one."""
    text = re.sub(r"\s+", "", unicodedata.normalize("NFKC", typed)).upper()
    match = re.fullmatch(r"(?:NO\.?|#)?(\d{1,9})", text)
    if match is None or not 1 <= int(match.group(1)) <= MAX_ID:
        return None
    return int(match.group(1))


def _same_person(answers: dict[str, str], detail: str) -> bool:
    """Whether the second detail is the booking's name (kanji or furigana, spaces aside) or birth date."""
    typed = re.sub(r"\s+", "", unicodedata.normalize("NFKC", detail))
    if not typed:
        return False
    for key in ("name", "furigana"):
        known = re.sub(r"\s+", "", unicodedata.normalize("NFKC", answers.get(key) or ""))
        if known and forms.to_katakana(typed) == forms.to_katakana(known):
            return True
    if answers.get("birth_date"):
        try:
            return forms.parse_date(detail) == date.fromisoformat(answers["birth_date"])
        except (forms.InvalidAnswer, ValueError):
            return False
    return False


def _ask_second_detail(request: Request, number: int, error: str | None = None) -> HTMLResponse:
    return render(request, "reservations/verify.html", {"number": number, "error": error})


@router.post("/reservations/lookup", dependencies=counter_only)
def lookup_reservation(
    request: Request, db_session: DbSession, token: Annotated[str, Form(max_length=200)] = ""
) -> Response:
    """The check-in field: a QR token (scanned or typed) opens its booking; the 予約番号 on the card
    asks for the name or birth date first, because numbers are guessable."""
    number = booking_number(token)
    if number is not None:
        return _ask_second_detail(request, number)
    reservation = reservation_service.get_by_token(db_session=db_session, token=token)
    if reservation is None:
        return redirect(
            BASE, error="そのQRコードの予約は見つかりません。もう一度読み取るか、予約番号をご確認ください。"
        )
    return redirect(f"{BASE}/{reservation.id}?scanned=1")


@router.post("/reservations/lookup/verify", dependencies=counter_only)
def verify_reservation_number(
    request: Request,
    db_session: DbSession,
    number: Annotated[int, Form(ge=1, le=MAX_ID)],
    detail: Annotated[str, Form(max_length=100)] = "",
) -> Response:
    """The 予約番号 and a second detail: the booking opens only when they belong together. A missing
    booking, a purged form and a wrong detail read the same, so a guess learns nothing."""
    reservation = reservation_service.get(db_session=db_session, reservation_id=number)
    answers = reservation_service.answers_of(reservation, request.app.state.settings) if reservation else None
    if reservation is None or answers is None or not _same_person(answers, detail):
        return _ask_second_detail(request, number, NO_MATCH)
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
