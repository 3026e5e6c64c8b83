"""A citizen's class signups (theirs and their family's), newest first, for the citizen's page in the
admin (Capability.citizen_history)."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.capability import CitizenHistory, HistoryRow
from handlers.classes.models import SIGNUP_STATUS_LABELS, ClassSession, Signup, SignupStatus


def citizen_history(db_session: Session, line_user_id: str) -> CitizenHistory:
    signups = db_session.execute(
        select(Signup, ClassSession)
        .join(ClassSession, ClassSession.id == Signup.session_id)
        .where(Signup.line_user_id == line_user_id)
        .order_by(ClassSession.starts_at.desc())
    )
    rows = [
        HistoryRow(
            href=f"/admin/classes/{session.id}",
            text=session.title,
            when=session.starts_at,
            what="",
            status=SIGNUP_STATUS_LABELS[SignupStatus(signup.status)],
        )
        for signup, session in signups.tuples()
    ]
    return CitizenHistory("signups", "教室の申し込み", "申し込みはありません。", rows)
