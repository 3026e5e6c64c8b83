"""What the counter's pages share: addresses, dates as staff read them, the booking a path names,
and the form answers (for the roles that may see them)."""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path as FilePath
from typing import Annotated

from fastapi import Depends, HTTPException, Path, Request

from admin.auth import DbSession, require_role
from admin.models import Actor
from bot import clock
from handlers.reservations import calendar, forms
from handlers.reservations.models import MAX_ID, Office, Procedure, Reservation
from handlers.reservations.service import reservations as reservation_service
from handlers.reservations.service import setup as setup_service

PACKAGE = FilePath(__file__).parent.parent
BASE = "/admin/reservations"
SETUP = "/admin/reservations-setup"
WEEKDAYS = "月火水木金土日"
counter_only = [Depends(require_role("counter"))]


def today() -> date:
    return calendar.tokyo_day(clock.now())


def hhmm(moment: datetime) -> str:
    return moment.astimezone(clock.TOKYO).strftime("%H:%M")


def day_label(day: date) -> str:
    holiday = calendar.holiday_name(day)
    return f"{day:%Y年%m月%d日}（{WEEKDAYS[day.weekday()]}）" + (f" {holiday}" if holiday else "")


def parse_day(value: str | None) -> date:
    try:
        return date.fromisoformat(value) if value else today()
    except ValueError:
        return today()


def current_reservation(db_session: DbSession, reservation_id: Annotated[int, Path(ge=1, le=MAX_ID)]) -> Reservation:
    reservation = reservation_service.get(db_session=db_session, reservation_id=reservation_id)
    if reservation is None:
        raise HTTPException(status_code=404, detail="その予約は見つかりません。")
    return reservation


CurrentReservation = Annotated[Reservation, Depends(current_reservation)]


def lookups(db_session: DbSession) -> tuple[dict[str, Procedure], dict[str, Office]]:
    """Every procedure and office by id (inactive ones too: old bookings name them)."""
    procedures = {p.id: p for p in setup_service.get_all_procedures(db_session=db_session, active_only=False)}
    offices = {o.id: o for o in setup_service.get_all_offices(db_session=db_session, active_only=False)}
    return procedures, offices


def answers_for(request: Request, actor: Actor, reservation: Reservation) -> list[tuple[str, str]] | None:
    """The form answers as (label, value) rows, only for roles that see personal data."""
    if not actor.sees_personal_data:
        return None
    answers = reservation_service.answers_of(reservation, request.app.state.settings)
    if answers is None:
        return None
    return [(forms.FIELDS[k].label, forms.display(forms.FIELDS[k], v)) for k, v in answers.items() if k in forms.FIELDS]


def name_of(request: Request, actor: Actor, reservation: Reservation) -> str:
    if not actor.sees_personal_data:
        return "（非表示）"
    answers = reservation_service.answers_of(reservation, request.app.state.settings)
    if answers is None:
        return "（削除済み）"
    return answers.get("name") or "—"
