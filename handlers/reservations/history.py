"""A citizen's bookings, newest first, for the citizen's page in the admin (Capability.citizen_history)."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.capability import CitizenHistory, HistoryRow
from handlers.reservations.models import STATUS_LABELS, Reservation, ReservationStatus
from handlers.reservations.service import setup as setup_service


def citizen_history(db_session: Session, line_user_id: str) -> CitizenHistory:
    procedures = {p.id: p.name for p in setup_service.get_all_procedures(db_session=db_session, active_only=False)}
    offices = {o.id: o.name for o in setup_service.get_all_offices(db_session=db_session, active_only=False)}
    bookings = db_session.scalars(
        select(Reservation).where(Reservation.line_user_id == line_user_id).order_by(Reservation.starts_at.desc())
    )
    rows = [
        HistoryRow(
            href=f"/admin/reservations/{r.id}",
            text=f"予約 No.{r.id}",
            when=r.starts_at,
            what=f"{procedures.get(r.procedure_id, r.procedure_id)}（{offices.get(r.office_id, r.office_id)}）",
            status=STATUS_LABELS[ReservationStatus(r.status)],
        )
        for r in bookings
    ]
    return CitizenHistory("bookings", "窓口の予約", "予約はありません。", rows)
