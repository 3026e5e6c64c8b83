"""定型文: the replies staff pick in a thread and edit before sending. List, add, edit, and stop
using one (it stays listed here, and no longer shows in the picker); every change is audited."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Form, HTTPException, Request
from fastapi.responses import HTMLResponse, Response
from pydantic import ValidationError
from sqlalchemy.orm import Session

from admin.auth import CurrentStaff, DbSession, require_role
from admin.templating import redirect, render
from handlers.handoff import flows
from handlers.handoff import service as handoff_service
from handlers.handoff.admin.shared import BASE, assets, clean_reply
from handlers.handoff.models import MAX_REPLY, CannedReply, CannedReplyIn

router = APIRouter()
counter_only = [Depends(require_role("counter"))]
CANNED = f"{BASE}/canned"


def _reply_in(title: str, body: str, sort_order: str, is_active: str) -> CannedReplyIn | str:
    """The form as a CannedReplyIn, or what is wrong with it (in words staff read)."""
    try:
        order = int(sort_order) if sort_order.strip() else 0
    except ValueError:
        return "表示順は数字で入力してください。"
    try:
        return CannedReplyIn(title=title.strip(), body=clean_reply(body), sort_order=order, is_active=is_active == "1")
    except ValidationError:
        return f"題名（60文字まで）と本文（{MAX_REPLY}文字まで）を入力してください。表示順は0〜10000です。"


def _get(db_session: Session, canned_reply_id: int) -> CannedReply:
    found = next(
        (
            c
            for c in handoff_service.canned_replies(db_session=db_session, active_only=False)
            if c.id == canned_reply_id
        ),
        None,
    )
    if found is None:
        raise HTTPException(status_code=404, detail="その定型文は見つかりません。")
    return found


@router.get("/handoff/canned", response_class=HTMLResponse)
def list_canned_replies(request: Request, db_session: DbSession) -> HTMLResponse:
    replies = handoff_service.canned_replies(db_session=db_session, active_only=False)
    return render(request, "handoff/canned.html", {"replies": replies, "max_reply": MAX_REPLY, "assets": assets()})


@router.post("/handoff/canned", dependencies=counter_only)
def add_canned_reply(
    actor: CurrentStaff,
    db_session: DbSession,
    title: Annotated[str, Form(max_length=200)] = "",
    body: Annotated[str, Form(max_length=MAX_REPLY * 2)] = "",
    sort_order: Annotated[str, Form(max_length=8)] = "0",
) -> Response:
    reply_in = _reply_in(title, body, sort_order, "1")
    if isinstance(reply_in, str):
        return redirect(CANNED, error=reply_in)
    saved = flows.save_canned_reply(db_session=db_session, reply_in=reply_in, actor=actor)
    return redirect(CANNED + f"#canned-{saved.id}", notice=f"定型文「{saved.title}」を追加しました。")


@router.post("/handoff/canned/{canned_reply_id}", dependencies=counter_only)
def edit_canned_reply(
    actor: CurrentStaff,
    db_session: DbSession,
    canned_reply_id: int,
    title: Annotated[str, Form(max_length=200)] = "",
    body: Annotated[str, Form(max_length=MAX_REPLY * 2)] = "",
    sort_order: Annotated[str, Form(max_length=8)] = "0",
    is_active: Annotated[str, Form(max_length=1)] = "",
) -> Response:
    """Saves the edit; unticking 「使う」 stops offering it in threads (nothing is deleted)."""
    reply = _get(db_session, canned_reply_id)
    reply_in = _reply_in(title, body, sort_order, is_active)
    if isinstance(reply_in, str):
        return redirect(CANNED + f"#canned-{reply.id}", error=reply_in)
    saved = flows.save_canned_reply(db_session=db_session, reply_in=reply_in, actor=actor, reply=reply)
    state = "" if saved.is_active else "（使わない設定）"
    return redirect(CANNED + f"#canned-{saved.id}", notice=f"定型文「{saved.title}」を保存しました{state}。")
