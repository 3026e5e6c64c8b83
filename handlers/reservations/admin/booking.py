"""One booking: its detail with the pre-filled form, the printable form the citizen signs, and what
staff do with it at the counter (arrived, done, no-show) or before (cancel)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy.orm import Session

from admin.auth import CurrentStaff, DbSession
from admin.models import Actor
from admin.templating import redirect, render
from bot import clock
from handlers.reservations import flows
from handlers.reservations.admin.shared import (
    BASE,
    CurrentReservation,
    answers_for,
    counter_only,
    day_label,
    hhmm,
    lookups,
    today,
)
from handlers.reservations.models import STATUS_LABELS, Reservation, ReservationStatus
from handlers.reservations.service.errors import InvalidTransition, NotToday

router = APIRouter()
NOT_TODAY = "この予約は本日のものではありません。予約日をご確認ください。"
NOT_NOW = "この予約の状態では、その操作はできません。"
NOT_LINE = "（LINE以外の予約です。必要ならお電話ください）"
VISIT_NOTICES = {"check_in": "受付しました。", "complete": "完了にしました。", "no_show": "来庁なしにしました。"}


def _booking_context(request: Request, actor: Actor, db_session: Session, reservation: Reservation) -> dict[str, Any]:
    """What the detail page and the printable form both show of one booking."""
    procedures, offices = lookups(db_session)
    return {
        "r": reservation,
        "procedure": procedures.get(reservation.procedure_id),
        "office": offices.get(reservation.office_id),
        "day_label": day_label(reservation.visit_day),
        "time": hhmm(reservation.starts_at),
        "answers": answers_for(request, actor, reservation),
    }


@router.get("/reservations/{reservation_id}", response_class=HTMLResponse)
def show_reservation(
    request: Request, actor: CurrentStaff, db_session: DbSession, reservation: CurrentReservation
) -> HTMLResponse:
    return render(
        request,
        "reservations/detail.html",
        {
            **_booking_context(request, actor, db_session, reservation),
            "personal": actor.sees_personal_data,
            "status_label": STATUS_LABELS[ReservationStatus(reservation.status)],
            "is_today": reservation.visit_day == today(),
            "today_label": day_label(today()),
            "scanned": request.query_params.get("scanned") == "1",
            "can_edit": actor.role != "viewer",
        },
    )


@router.get("/reservations/{reservation_id}/print", response_class=HTMLResponse, dependencies=counter_only)
def print_reservation(
    request: Request, actor: CurrentStaff, db_session: DbSession, reservation: CurrentReservation
) -> HTMLResponse:
    """The application form, filled in: the citizen checks it and signs."""
    return render(
        request,
        "reservations/print.html",
        {
            **_booking_context(request, actor, db_session, reservation),
            "printed_at": clock.now_tokyo().strftime("%Y/%m/%d %H:%M"),
            # Signed at the counter on the visit day, whenever it was printed.
            "filed_on": f"{reservation.visit_day.year}年{reservation.visit_day.month}月{reservation.visit_day.day}日",
        },
    )


@router.post("/reservations/{reservation_id}/visit", dependencies=counter_only)
def record_visit(
    actor: CurrentStaff,
    db_session: DbSession,
    reservation: CurrentReservation,
    action: Annotated[str, Form(max_length=16)],
) -> Response:
    """受付 (arrived), 完了 (done), 来庁なし (no-show)."""
    visit = flows.VISIT_ACTIONS.get(action)
    if visit is None:
        return redirect(f"{BASE}/{reservation.id}", error=NOT_NOW)
    try:
        visit(db_session=db_session, reservation=reservation, actor=actor)
    except NotToday:
        return redirect(f"{BASE}/{reservation.id}", error=NOT_TODAY)
    except InvalidTransition:
        return redirect(f"{BASE}/{reservation.id}", error=NOT_NOW)
    return redirect(f"{BASE}/{reservation.id}", notice=VISIT_NOTICES.get(action, "更新しました。"))


@router.post("/reservations/{reservation_id}/cancel", dependencies=counter_only)
def cancel_reservation(
    actor: CurrentStaff,
    db_session: DbSession,
    reservation: CurrentReservation,
    reason: Annotated[str, Form(max_length=200)] = "",
) -> Response:
    try:
        told = flows.cancel_by_staff(db_session=db_session, reservation=reservation, reason=reason, actor=actor)
    except InvalidTransition:
        return redirect(f"{BASE}/{reservation.id}", error="この予約は取り消せません（受付済みか、取り消し済みです）。")
    notice = "取り消しました。" + ("LINEでお知らせしました。" if told else NOT_LINE)
    return redirect(f"{BASE}/{reservation.id}", notice=notice)
