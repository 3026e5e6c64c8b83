"""Staff API for the FAQ under /api/v1: ask the FAQ, see the unanswered questions and the feedback
on answers; with it, `POST /api/v1/nlu/parse` (nlu/api.py).

The routes carry no guard of their own: handlers/faq/admin.py mounts them in the admin app's
"faq" section, behind its staff-token guard and roles, and hands them the request's own database
session (the one the token check opened: on SQLite a second transaction in the same request would
wait for the first one's write lock). Built standalone, they open a session per request.
"""

# No `from __future__ import annotations`: the routes' parameter types are built at run time.

from collections.abc import Iterator, Sequence
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel, Field
from sqlalchemy.orm import Session

from handlers.faq import service as faq_service
from handlers.faq.models import FaqFeedbackSummary, UnansweredQuestionRead, UnansweredStatus
from nlu.api import MAX_TEXT
from nlu.api import router as nlu_router
from nlu.result import FaqResult


def get_db_session(request: Request) -> Iterator[Session]:
    """One transaction per request (used when no session dependency is handed in)."""
    with request.app.state.db.session() as db_session:
        yield db_session


OwnDbSession = Annotated[Session, Depends(get_db_session)]


class AskRequest(BaseModel):
    text: str = Field(max_length=MAX_TEXT, description="市民の質問（最大5000文字）")


def build_router(db_session_type: Any = OwnDbSession, personal_data_guard: Sequence[Any] = ()) -> APIRouter:
    """The routes, taking their database session from `db_session_type` (an Annotated dependency).
    Routes that show what citizens typed (names, phone numbers may be in it) also sit behind
    `personal_data_guard` (the admin mounts them for the roles that may see personal data)."""
    router = APIRouter()
    router.include_router(nlu_router)

    @router.post(
        "/faq/ask",
        response_model=FaqResult,
        summary="質問に最も合う「よくある質問」と候補",
        openapi_extra={"x-read-only": True},  # changes nothing: viewers may ask (admin.auth.is_read_only)
    )
    def ask_faq(body: AskRequest, db_session: db_session_type) -> FaqResult:
        return faq_service.ask(db_session=db_session, text=body.text)

    @router.get(
        "/faq/unanswered",
        response_model=list[UnansweredQuestionRead],
        summary="答えられなかった質問（多い順）",
        dependencies=list(personal_data_guard),
    )
    def list_unanswered_questions(
        db_session: db_session_type,
        status: Annotated[UnansweredStatus | None, Query()] = UnansweredStatus.OPEN,
        limit: Annotated[int, Query(ge=1, le=500)] = 200,
    ) -> list[UnansweredQuestionRead]:
        found = faq_service.get_all_unanswered(db_session=db_session, status=status, limit=limit)
        return [UnansweredQuestionRead.model_validate(q) for q in found]

    @router.get("/faq/feedback", response_model=list[FaqFeedbackSummary], summary="回答ごとの「役に立った」の数")
    def list_faq_feedback(db_session: db_session_type) -> list[FaqFeedbackSummary]:
        return faq_service.feedback_summary(db_session=db_session)

    return router


router = build_router()
