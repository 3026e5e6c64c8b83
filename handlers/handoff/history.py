"""A citizen's 職員対応 threads, newest first, for the citizen's page in the admin
(Capability.citizen_history)."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.capability import CitizenHistory, HistoryRow
from handlers.handoff.models import STATUS_LABELS, HandoffRequest, HandoffStatus


def citizen_history(db_session: Session, line_user_id: str) -> CitizenHistory:
    threads = db_session.scalars(
        select(HandoffRequest)
        .where(HandoffRequest.line_user_id == line_user_id)
        .order_by(HandoffRequest.requested_at.desc())
    )
    rows = [
        HistoryRow(
            href=f"/admin/handoff/{t.id}",
            text=f"職員対応 #{t.id}",
            when=t.requested_at,
            what=t.assigned_name or "",
            status=STATUS_LABELS[HandoffStatus(t.status)],
        )
        for t in threads
    ]
    return CitizenHistory("threads", "職員対応", "職員対応の記録はありません。", rows)
