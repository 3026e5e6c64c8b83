"""The staff JSON API under /api/v1: Bearer token, the same roles as the pages, OpenAPI-documented.

Every route declares its response model and the error statuses it can answer, so the schema at
/api/openapi.json is the truth (schemathesis holds us to it).
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, TypedDict

from fastapi import APIRouter, Depends, HTTPException, Path, Query, Request
from fastapi.responses import JSONResponse

from admin import audit, dead_letters
from admin.auth import CurrentStaff, DbSession, Forbidden, require_role
from admin.models import AuditEntryRead
from admin.routes import MAX_ID, wake_processor_after_response
from admin.schemas import (
    AuditPage,
    CitizenListItem,
    CitizenPage,
    DeadLetterRead,
    ErrorRead,
    InboxStatusRead,
    MeRead,
)
from bot import citizens as citizen_service
from bot import inbox as inbox_service
from bot import outbox as outbox_service

ERRORS: dict[int | str, dict[str, object]] = {
    401: {"model": ErrorRead, "description": "トークンがない、または無効"},
    403: {"model": ErrorRead, "description": "この役割では使えない"},
}
NOT_FOUND: dict[int | str, dict[str, object]] = {404: {"model": ErrorRead, "description": "見つからない"}}

router = APIRouter()


class _AuditFilters(TypedDict):
    staff_name: str | None
    action: str | None
    since: date | None
    until: date | None


@router.get("/me", response_model=MeRead, summary="このトークンの職員")
def read_me(actor: CurrentStaff) -> MeRead:
    return MeRead.from_actor(actor)


@router.get("/citizens", response_model=CitizenPage, summary="LINE友だちの一覧と検索")
def list_citizens(
    actor: CurrentStaff,
    db_session: DbSession,
    q: Annotated[str, Query(max_length=100, description="表示名またはLINEユーザーIDの一部")] = "",
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
) -> CitizenPage:
    query = q.replace("\x00", "").strip()
    if query and not actor.sees_personal_data:
        raise Forbidden("この役割では利用者を名前やIDで検索できません。")
    found = citizen_service.search(db_session=db_session, query=query, limit=limit + 1, offset=offset)
    return CitizenPage(
        items=[CitizenListItem.from_citizen(c, personal=actor.sees_personal_data) for c in found[:limit]],
        counts=citizen_service.count_by_status(db_session=db_session),
        limit=limit,
        offset=offset,
        has_more=len(found) > limit,
    )


@router.get("/inbox/status", response_model=InboxStatusRead, summary="受信・送信の件数")
def read_inbox_status(db_session: DbSession) -> InboxStatusRead:
    inbox = inbox_service.count_by_status(db_session=db_session)
    outbox = outbox_service.count_by_status(db_session=db_session)
    return InboxStatusRead(
        inbox=inbox,
        outbox=outbox,
        dead_letters=inbox.get(inbox_service.InboxStatus.DEAD.value, 0),
        failed_messages=outbox.get(outbox_service.OutboxStatus.FAILED.value, 0),
    )


@router.get(
    "/inbox/dead",
    response_model=list[DeadLetterRead],
    summary="処理できなかった受信イベント（デッドレター）",
    dependencies=[Depends(require_role("viewer"))],
)
def list_dead_letters(db_session: DbSession, limit: Annotated[int, Query(ge=1, le=500)] = 200) -> list[DeadLetterRead]:
    return [DeadLetterRead.from_event(e) for e in dead_letters.get_all(db_session=db_session, limit=limit)]


@router.post(
    "/inbox/dead/{inbox_event_id}/retry",
    response_model=DeadLetterRead,
    summary="デッドレターを再処理する",
    responses=NOT_FOUND,
    dependencies=[Depends(require_role("admin"))],
)
def retry_dead_letter(
    request: Request,
    actor: CurrentStaff,
    db_session: DbSession,
    inbox_event_id: Annotated[int, Path(ge=1, le=MAX_ID)],
) -> JSONResponse:
    event = dead_letters.retry(db_session=db_session, inbox_event_id=inbox_event_id, actor=actor)
    if event is None:
        raise HTTPException(status_code=404, detail="そのIDのデッドレターはありません。")
    body = DeadLetterRead.from_event(event).model_dump(mode="json")
    return JSONResponse(body, background=wake_processor_after_response(request))


@router.get(
    "/audit",
    response_model=AuditPage,
    summary="監査ログ（新しい順）",
    dependencies=[Depends(require_role("admin"))],
)
def list_audit_entries(
    db_session: DbSession,
    staff: Annotated[str, Query(max_length=64, description="職員のログイン名")] = "",
    action: Annotated[str, Query(max_length=64, description="操作コード（例: inbox.retry）")] = "",
    since: Annotated[date | None, Query(description="この日（日本時間）から")] = None,
    until: Annotated[date | None, Query(description="この日（日本時間）まで")] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
) -> AuditPage:
    filters: _AuditFilters = {
        "staff_name": staff.replace("\x00", "") or None,
        "action": action.replace("\x00", "") or None,
        "since": since,
        "until": until,
    }
    entries = audit.get_all(db_session=db_session, limit=limit, offset=offset, **filters)
    return AuditPage(
        items=[AuditEntryRead.model_validate(e) for e in entries],
        total=audit.count(db_session=db_session, **filters),
        limit=limit,
        offset=offset,
    )
