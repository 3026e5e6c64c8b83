"""/api/v1/broadcasts: other systems (a disaster information system, say) and staff scripts create
broadcasts under the same two-person rule as the admin: a message to all friends or one marked
urgent waits (`awaiting_approval`) until a second staff member approves it; the author cannot
(403). Roles: broadcaster and admin; viewers read.

    POST /broadcasts                 {"text", "audience", "urgent"?, "send_at"?, "title"?, "template"?,
                                      "recurrence"?}  → 201 {"id", "status", ...}
    POST /broadcasts/reach           {"audience"} → {"reach"}: how many friends it reaches now
    POST /broadcasts/{id}/approve    → 200; 403 for the author; 409 when not awaiting approval
    POST /broadcasts/{id}/cancel     → 200; 409 when done or cancelled
    GET  /broadcasts, /broadcasts/{id} (status … done, counts), /broadcasts/{id}/recipients
"""

from __future__ import annotations

from dataclasses import asdict
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Path, Query, Request
from pydantic import BaseModel

from admin.auth import CurrentStaff, DbSession
from handlers.broadcasts import flows
from handlers.broadcasts.guards import broadcaster_only
from handlers.broadcasts.models import MAX_ID, Broadcast, BroadcastStatus
from handlers.broadcasts.service import audience as audience_service
from handlers.broadcasts.service import broadcasts as service
from handlers.broadcasts.service.audience import Audience
from handlers.broadcasts.service.broadcasts import BroadcastDraft, BroadcastError
from notifications import engine

router = APIRouter(prefix="/broadcasts", tags=["broadcasts"])
ERRORS: dict[int | str, dict[str, Any]] = {
    403: {"description": "作成者自身による承認など、二人制の規則で断られた"},
    404: {"description": "見つからない"},
    409: {"description": "状態が合わない（承認待ちでない、配信済みなど）"},
    422: {"description": "入力が正しくない"},
}


class CountsRead(BaseModel):
    total: int = 0
    sent: int = 0
    failed: int = 0
    skipped: int = 0
    remaining: int = 0


class BroadcastRead(BaseModel):
    id: int
    status: BroadcastStatus
    title: str
    text: str
    template: str
    audience: dict[str, Any]
    urgent: bool
    needs_approval: bool
    send_at: datetime | None
    next_run_at: datetime | None
    recurrence: dict[str, Any] | None
    created_by: str
    created_at: datetime
    approved_by: str | None
    approved_at: datetime | None
    cancelled_by: str | None
    counts: CountsRead


class RecipientRead(BaseModel):
    line_user_id: str
    status: str
    error: str | None
    sent_at: datetime | None


class ReachIn(BaseModel):
    audience: Audience


class ReachRead(BaseModel):
    reach: int


def read(db_session: DbSession, broadcast: Broadcast) -> BroadcastRead:
    status, figures = service.progress(db_session=db_session, broadcast=broadcast)
    counts = CountsRead(**asdict(figures)) if figures is not None else CountsRead()
    return BroadcastRead(
        id=broadcast.id,
        status=status,
        title=broadcast.title,
        text=broadcast.text,
        template=broadcast.template,
        audience=broadcast.audience,
        urgent=broadcast.urgent,
        needs_approval=service.needs_approval(service.audience_of(broadcast), broadcast.urgent),
        send_at=broadcast.send_at,
        next_run_at=service.next_due(db_session=db_session, broadcast=broadcast),
        recurrence=broadcast.recurrence,
        created_by=broadcast.created_by,
        created_at=broadcast.created_at,
        approved_by=broadcast.approved_by,
        approved_at=broadcast.approved_at,
        cancelled_by=broadcast.cancelled_by,
        counts=counts,
    )


def _refuse(exc: BroadcastError) -> HTTPException:
    status = (
        404
        if isinstance(exc, service.NotFound)
        else 403
        if isinstance(exc, service.NotAllowed)
        else 409
        if isinstance(exc, service.InvalidTransition)
        else 422
    )
    return HTTPException(status_code=status, detail=str(exc))


def current_broadcast(db_session: DbSession, broadcast_id: Annotated[int, Path()]) -> Broadcast:
    if not 0 < broadcast_id <= MAX_ID:
        raise HTTPException(status_code=404, detail="配信が見つかりません")
    try:
        return service.get(db_session=db_session, broadcast_id=broadcast_id)
    except service.NotFound as exc:
        raise HTTPException(status_code=404, detail=str(exc)) from None


CurrentBroadcast = Annotated[Broadcast, Depends(current_broadcast)]


@router.get("", response_model=list[BroadcastRead], summary="配信の一覧（新しい順）")
def list_broadcasts(db_session: DbSession, limit: Annotated[int, Query(ge=1, le=200)] = 50) -> list[BroadcastRead]:
    return [read(db_session, b) for b in service.list_recent(db_session=db_session, limit=limit)]


@router.post(
    "",
    response_model=BroadcastRead,
    status_code=201,
    summary="お知らせを作成する（すべての友だち宛て・緊急は承認待ちになる）",
    responses=ERRORS,
    dependencies=broadcaster_only,
)
def create_broadcast(
    request: Request, actor: CurrentStaff, db_session: DbSession, body: BroadcastDraft
) -> BroadcastRead:
    try:
        # Images come from the compose page's upload only: a token named here is not taken.
        draft = body.model_copy(update={"image_path": None})
        broadcast = flows.create(db_session=db_session, draft=draft, actor=actor, settings=request.app.state.settings)
    except (BroadcastError, ValueError) as exc:
        raise _refuse(exc if isinstance(exc, BroadcastError) else BroadcastError(str(exc))) from None
    return read(db_session, broadcast)


@router.post("/reach", response_model=ReachRead, summary="配信先に届く人数（ブロック中の方を除く）", responses=ERRORS)
def reach(db_session: DbSession, body: ReachIn) -> ReachRead:
    try:
        audience_service.check(db_session, body.audience)
    except audience_service.UnknownAudience as exc:
        raise HTTPException(status_code=422, detail=str(exc)) from None
    return ReachRead(reach=audience_service.reach(db_session, body.audience))


@router.get("/{broadcast_id}", response_model=BroadcastRead, summary="配信の状態と件数", responses=ERRORS)
def get_broadcast(db_session: DbSession, broadcast: CurrentBroadcast) -> BroadcastRead:
    return read(db_session, broadcast)


@router.post(
    "/{broadcast_id}/approve",
    response_model=BroadcastRead,
    summary="承認する（作成者以外の配信担当・管理者）",
    responses=ERRORS,
    dependencies=broadcaster_only,
)
def approve_broadcast(
    request: Request, actor: CurrentStaff, db_session: DbSession, broadcast: CurrentBroadcast
) -> BroadcastRead:
    try:
        approved = flows.approve(
            db_session=db_session, broadcast_id=broadcast.id, actor=actor, settings=request.app.state.settings
        )
    except BroadcastError as exc:
        raise _refuse(exc) from None
    return read(db_session, approved)


@router.post(
    "/{broadcast_id}/cancel",
    response_model=BroadcastRead,
    summary="配信を取り消す（予定・承認待ち・配信中）",
    responses=ERRORS,
    dependencies=broadcaster_only,
)
def cancel_broadcast(actor: CurrentStaff, db_session: DbSession, broadcast: CurrentBroadcast) -> BroadcastRead:
    try:
        cancelled = flows.cancel(db_session=db_session, broadcast_id=broadcast.id, actor=actor)
    except BroadcastError as exc:
        raise _refuse(exc) from None
    return read(db_session, cancelled)


@router.get(
    "/{broadcast_id}/recipients",
    response_model=list[RecipientRead],
    summary="受信者ごとの結果（最新の配信回）",
    responses=ERRORS,
)
def list_recipients(
    db_session: DbSession,
    broadcast: CurrentBroadcast,
    status: Annotated[str | None, Query(pattern="^(pending|sent|failed|skipped|cancelled)$")] = None,
    offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
    limit: Annotated[int, Query(ge=1, le=1000)] = 500,
) -> list[RecipientRead]:
    job_id = service.latest_job(db_session=db_session, broadcast=broadcast)
    if job_id is None:
        return []
    return [
        RecipientRead(line_user_id=r.line_user_id, status=r.status, error=r.error, sent_at=r.sent_at)
        for r in engine.recipients(db_session, job_id, status=status, offset=offset, limit=limit)
    ]
