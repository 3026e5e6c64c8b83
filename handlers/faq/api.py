"""Staff API for the FAQ under /api/v1 (Bearer token): ask the FAQ, list and edit its entries, see the
questions it could not answer and handle each in one step, and the feedback on answers; with it,
`POST /api/v1/nlu/parse` (nlu/api.py).

Everyone signed in may read entries and feedback and ask; writing needs counter or admin. What
citizens typed (the unanswered questions: a name or a phone number may be in them) is for counter
and admin only. A change goes through the same staff action as on the admin pages (flows.py), which
audits it; the answers citizens get follow at once (no restart).

`router` has no guard of its own: the admin app mounts it behind its token guard and the section's
roles (handlers/faq/admin/screens.py).
"""

# No `from __future__ import annotations`: the routes' parameter types are built at run time.

from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Query
from pydantic import BaseModel, Field, ValidationError

from admin.auth import CurrentStaff, DbSession, require_role
from handlers.faq import flows
from handlers.faq import service as faq_service
from handlers.faq.admin.shared import CurrentEntry, CurrentQuestion
from handlers.faq.models import (
    FaqEntry,
    FaqEntryCreate,
    FaqEntryRead,
    FaqEntryUpdate,
    FaqFeedbackSummary,
    UnansweredQuestionRead,
    UnansweredResolve,
    UnansweredStatus,
)
from nlu.api import MAX_TEXT
from nlu.api import router as nlu_router
from nlu.result import FaqResult

router = APIRouter()
router.include_router(nlu_router)
writers = [Depends(require_role("counter"))]
# What citizens typed is personal data: counter staff and admins only.
personal_data = [Depends(require_role("counter"))]
ERRORS: dict[int | str, dict[str, object]] = {
    404: {"description": "見つからない"},
    409: {"description": "すでにある・ほかの職員が先に対応したなど、規則で断られた"},
    422: {"description": "入力が正しくない"},
}


class AskRequest(BaseModel):
    text: str = Field(max_length=MAX_TEXT, description="市民の質問（最大5000文字）")


class UnansweredResolved(BaseModel):
    """The question, now handled, and the entry that answers it (none when dismissed)."""

    question: UnansweredQuestionRead
    entry: FaqEntryRead | None


@router.post(
    "/faq/ask",
    response_model=FaqResult,
    summary="質問に最も合う「よくある質問」と候補",
    openapi_extra={"x-read-only": True},  # changes nothing: viewers may ask (admin.auth.is_read_only)
)
def ask_faq(body: AskRequest, db_session: DbSession) -> FaqResult:
    return faq_service.ask(db_session=db_session, text=body.text)


# Entries ------------------------------------------------------------------------------------------


@router.get("/faq/entries", response_model=list[FaqEntryRead], summary="よくある質問の一覧と検索")
def list_faq_entries(
    db_session: DbSession,
    q: Annotated[str, Query(max_length=100, description="質問・言い換え・回答・タグ・分類に含まれる語")] = "",
    include_inactive: Annotated[bool, Query(description="停止中の質問も含める")] = True,
    limit: Annotated[int, Query(ge=1, le=1000)] = 500,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
) -> list[FaqEntryRead]:
    found = faq_service.search(db_session=db_session, query=q.replace("\x00", ""), include_inactive=include_inactive)
    return [FaqEntryRead.model_validate(e) for e in found[offset : offset + limit]]


@router.post(
    "/faq/entries",
    response_model=FaqEntryRead,
    status_code=201,
    summary="よくある質問を追加する（すぐに回答に使われます）",
    responses=ERRORS,
    dependencies=writers,
)
def create_faq_entry(body: FaqEntryCreate, actor: CurrentStaff, db_session: DbSession) -> FaqEntryRead:
    try:
        entry = flows.create_entry(db_session=db_session, faq_in=body, actor=actor)
    except faq_service.FaqExists:
        raise HTTPException(status_code=409, detail="そのIDの質問はすでにあります。") from None
    return FaqEntryRead.model_validate(entry)


@router.get("/faq/entries/{faq_id}", response_model=FaqEntryRead, summary="よくある質問の1件", responses=ERRORS)
def read_faq_entry(entry: CurrentEntry) -> FaqEntryRead:
    return FaqEntryRead.model_validate(entry)


@router.patch(
    "/faq/entries/{faq_id}",
    response_model=FaqEntryRead,
    summary="よくある質問を変更・停止・再開する（送った項目だけ）",
    responses=ERRORS,
    dependencies=writers,
)
def update_faq_entry(
    body: FaqEntryUpdate, entry: CurrentEntry, actor: CurrentStaff, db_session: DbSession
) -> FaqEntryRead:
    changes = body.model_dump(exclude_unset=True)
    active = changes.pop("is_active", None)
    if changes:
        entry = flows.update_entry(
            db_session=db_session, faq_entry=entry, faq_in=FaqEntryUpdate(**changes), actor=actor
        )
    if active is False and entry.is_active:
        entry = flows.deactivate_entry(db_session=db_session, faq_entry=entry, actor=actor)
    elif active is True and not entry.is_active:
        entry = flows.reactivate_entry(db_session=db_session, faq_entry=entry, actor=actor)
    return FaqEntryRead.model_validate(entry)


# Unanswered questions and feedback ------------------------------------------------------------------


@router.get(
    "/faq/unanswered",
    response_model=list[UnansweredQuestionRead],
    summary="答えられなかった質問（よく聞かれる順、または新しい順）",
    dependencies=personal_data,
)
def list_unanswered_questions(
    db_session: DbSession,
    status: Annotated[UnansweredStatus | None, Query()] = UnansweredStatus.OPEN,
    sort: Annotated[faq_service.UnansweredOrder, Query(description="most: よく聞かれる順、newest: 新しい順")] = (
        faq_service.UnansweredOrder.MOST_ASKED
    ),
    limit: Annotated[int, Query(ge=1, le=500)] = 200,
) -> list[UnansweredQuestionRead]:
    found = faq_service.get_all_unanswered(db_session=db_session, status=status, order=sort, limit=limit)
    return [UnansweredQuestionRead.model_validate(q) for q in found]


@router.post(
    "/faq/unanswered/{question_id}/resolve",
    response_model=UnansweredResolved,
    summary="答えられなかった質問を、新しい質問・既存の質問の言い換えにする、または対象外にする",
    responses=ERRORS,
    dependencies=writers,
)
def resolve_unanswered_question(
    body: UnansweredResolve, question: CurrentQuestion, actor: CurrentStaff, db_session: DbSession
) -> UnansweredResolved:
    if question.status != UnansweredStatus.OPEN:
        raise HTTPException(status_code=409, detail="この質問はすでに対応済みです。")
    wording = body.text or question.text
    entry: FaqEntry | None = None
    try:
        if body.action == "new_entry":
            if body.entry is None:
                raise HTTPException(status_code=422, detail="新しい質問の内容（entry）が必要です。")
            faq_in = body.entry.to_create(faq_id=body.faq_id, question=wording)
            entry = flows.new_entry_from_question(db_session=db_session, question=question, faq_in=faq_in, actor=actor)
        elif body.action == "add_alternative":
            if body.faq_id is None:
                raise HTTPException(status_code=422, detail="追加先の質問（faq_id）が必要です。")
            target = faq_service.get(db_session=db_session, faq_id=body.faq_id)
            if target is None:
                raise HTTPException(status_code=404, detail="追加先の質問がありません。")
            entry = flows.add_question_as_alternative(
                db_session=db_session, question=question, faq_entry=target, text=wording, actor=actor
            )
        else:
            flows.dismiss_question(db_session=db_session, question=question, actor=actor)
    except ValidationError:
        raise HTTPException(status_code=422, detail="新しい質問の内容が正しくありません。") from None
    except faq_service.FaqExists:
        raise HTTPException(status_code=409, detail="そのIDの質問はすでにあります。") from None
    except faq_service.TooManyWordings:
        raise HTTPException(status_code=409, detail="この質問の言い換えは上限に達しています。") from None
    except faq_service.AlreadyHandled:
        raise HTTPException(status_code=409, detail="ほかの職員が先に対応しました。") from None
    return UnansweredResolved(
        question=UnansweredQuestionRead.model_validate(question),
        entry=FaqEntryRead.model_validate(entry) if entry is not None else None,
    )


@router.get("/faq/feedback", response_model=list[FaqFeedbackSummary], summary="回答ごとの「役に立った」の数")
def list_faq_feedback(db_session: DbSession) -> list[FaqFeedbackSummary]:
    return faq_service.feedback_summary(db_session=db_session)
