"""評価: 役に立った / 役に立たなかった per entry, in the last 30 days and in all, the answers that
disappoint most first (a few votes count for less than many)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse

from admin.auth import DbSession
from admin.templating import render
from handlers.faq import service as faq_service

router = APIRouter()


@router.get("/faq/feedback", response_class=HTMLResponse)
def list_feedback(
    request: Request,
    db_session: DbSession,
    period: Annotated[faq_service.FeedbackPeriod, Query()] = faq_service.FeedbackPeriod.RECENT,
) -> HTMLResponse:
    return render(
        request,
        "faq/feedback.html",
        {
            "rows": faq_service.feedback_report(db_session=db_session, period=period),
            "period": period,
            "days": faq_service.RECENT_FEEDBACK_DAYS,
        },
    )
