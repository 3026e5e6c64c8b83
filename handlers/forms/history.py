"""A citizen's 申請・通報, newest first, for the citizen's page in the admin (Capability.citizen_history).
Anonymous letters are left out: staff are never to learn who sent them."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.capability import CitizenHistory, HistoryRow
from handlers.forms import service as forms_service
from handlers.forms.models import FormVersion, Submission


def citizen_history(db_session: Session, line_user_id: str) -> CitizenHistory:
    found = db_session.execute(
        select(Submission, FormVersion)
        .join(FormVersion, FormVersion.id == Submission.version_id)
        .where(Submission.line_user_id == line_user_id, Submission.anonymous.is_(False))
        .order_by(Submission.submitted_at.desc(), Submission.id.desc())
        .limit(100)
    ).all()
    rows = [
        HistoryRow(
            href=f"/admin/forms/cases/{submission.id}",
            text=f"受付番号 {submission.receipt_no}",
            when=submission.submitted_at,
            what=forms_service.definition_of(version).title,
            status=submission.status,
        )
        for submission, version in found
    ]
    return CitizenHistory("forms", "申請・通報", "申請・通報の記録はありません。", rows)
