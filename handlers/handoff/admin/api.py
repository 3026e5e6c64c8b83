"""Staff API for the inbox under /api/v1/inbox (Bearer token; counter and admin roles only: threads
are personal data, so viewers and broadcasters are refused everything here, by the section's
roles). Replies and status changes are the staff actions of flows.py, as on the pages: the citizen
is told by push and the change is audited.

Ids are plain integers in the path: one out of range (beyond 32 bits, zero, negative) is simply not
found (404), like any other id that does not exist.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, BackgroundTasks, Depends, Query, Request
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, Field

from admin.auth import CurrentStaff, DbSession, require_role
from handlers.handoff import flows
from handlers.handoff import service as handoff_service
from handlers.handoff.admin.shared import (
    CurrentThread,
    citizen_name,
    clean_reply,
    image_url,
    inbox_rows,
    is_waiting,
    reply_problem,
    wake_sender,
)
from handlers.handoff.models import (
    HandoffRequestRead,
    HandoffStatus,
    ReplyIn,
    StatusIn,
    ThreadMessageRead,
    ThreadRead,
)

router = APIRouter(prefix="/inbox", tags=["inbox"])
counter_only = [Depends(require_role("counter"))]
NOT_FOUND: dict[int | str, dict[str, object]] = {404: {"description": "見つからない"}}


class InboxItemRead(BaseModel):
    id: int
    status: HandoffStatus
    requested_at: datetime
    office_open: bool = Field(description="false: 夜間・休日（閉庁時間）に届いた依頼")
    assigned_name: str | None
    last_citizen_at: datetime | None
    last_staff_at: datetime | None
    waiting: bool = Field(description="市民が職員の返信を待っている（ボットは応答しない）")
    citizen_name: str | None = Field(description="LINEの表示名（個人情報を見られる役割のみ）")


class ThreadMessageOut(ThreadMessageRead):
    image_url: str | None = Field(default=None, description="画像（管理画面のログイン中に表示できるURL）")


class ThreadOut(ThreadRead):
    waiting: bool
    messages: list[ThreadMessageOut] = Field(default_factory=list)  # type: ignore[assignment]


class StatusChangedRead(HandoffRequestRead):
    citizen_told: bool = Field(description="市民に「ボットの案内に戻ります」と知らせた")


@router.get("", response_model=list[InboxItemRead], summary="職員対応の一覧（夜間・休日に届いたものが先）")
def list_inbox(
    actor: CurrentStaff,
    db_session: DbSession,
    status: Annotated[
        HandoffStatus | None, Query(description="open（未対応）, in_progress（対応中）, done（対応済み）")
    ] = None,
) -> list[InboxItemRead]:
    return [
        InboxItemRead(
            id=row.thread.id,
            status=row.thread.status,
            requested_at=row.thread.requested_at,
            office_open=row.thread.office_open,
            assigned_name=row.thread.assigned_name,
            last_citizen_at=row.thread.last_citizen_at,
            last_staff_at=row.thread.last_staff_at,
            waiting=row.waiting,
            citizen_name=row.citizen_name,
        )
        for row in inbox_rows(db_session, actor, status)
    ]


@router.get("/{handoff_request_id}", response_model=ThreadOut, summary="職員対応のやりとり", responses=NOT_FOUND)
def read_thread(request: Request, actor: CurrentStaff, db_session: DbSession, thread: CurrentThread) -> ThreadOut:
    read = handoff_service.read_thread(
        db_session=db_session,
        request=thread,
        settings=request.app.state.settings,
        citizen_name=citizen_name(db_session, actor, thread.line_user_id),
    )
    return ThreadOut(
        **read.model_dump(exclude={"messages"}),
        waiting=is_waiting(db_session, thread),
        messages=[
            ThreadMessageOut(**m.model_dump(), image_url=image_url(thread.id, m.id) if m.has_image else None)
            for m in read.messages
        ],
    )


@router.post(
    "/{handoff_request_id}/reply",
    response_model=ThreadMessageRead,
    status_code=201,
    summary="市民に返信する（LINEのプッシュで届く）",
    responses=NOT_FOUND,
    dependencies=counter_only,
)
def reply(
    request: Request,
    actor: CurrentStaff,
    db_session: DbSession,
    thread: CurrentThread,
    body: ReplyIn,
    background: BackgroundTasks,
) -> ThreadMessageRead:
    text = clean_reply(body.text)
    if reply_problem(text) is not None:
        # Only blanks (or NULs): the same answer as an empty text, in FastAPI's own shape.
        raise RequestValidationError(
            [{"type": "string_too_short", "loc": ("body", "text"), "msg": "返信の文がありません。", "input": body.text}]
        )
    message = flows.reply(
        db_session=db_session, request=thread, body=text, actor=actor, settings=request.app.state.settings
    )
    background.add_task(wake_sender, request)
    return ThreadMessageRead(
        id=message.id,
        at=message.at,
        sender=message.sender,
        kind=message.kind,
        text=text,
        staff_name=message.staff_name,
        has_image=False,
        is_context=False,
    )


@router.post(
    "/{handoff_request_id}/status",
    response_model=StatusChangedRead,
    summary="状態を変える（対応済みにすると市民はボットの案内に戻る）",
    responses=NOT_FOUND,
    dependencies=counter_only,
)
def change_status(
    request: Request,
    actor: CurrentStaff,
    db_session: DbSession,
    thread: CurrentThread,
    body: StatusIn,
    background: BackgroundTasks,
) -> StatusChangedRead:
    told = False
    if body.status != thread.status:
        told = flows.set_status(db_session=db_session, request=thread, status=body.status, actor=actor)
        background.add_task(wake_sender, request)
    return StatusChangedRead(**HandoffRequestRead.model_validate(thread).model_dump(), citizen_told=told)
