"""One thread: the conversation with the bot before the request (context), then the thread itself
(the citizen, staff, times, images inline); its status, who handles it, 定型文 and the reply
composer. Every change is a staff action of flows.py (the push to the citizen and the audit record
are written there)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, BackgroundTasks, Depends, Form, HTTPException, Query, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy.orm import Session

from admin import users as staff_users
from admin.auth import CurrentStaff, DbSession, require_role
from admin.models import Actor, StaffRole, StaffUser
from admin.templating import env, redirect, render
from bot import citizens as citizen_service
from handlers.handoff import flows
from handlers.handoff import service as handoff_service
from handlers.handoff.admin.shared import (
    POLL_SECONDS,
    CurrentThread,
    assets,
    citizen_name,
    clean_reply,
    image_url,
    is_waiting,
    parse_status,
    reply_problem,
    shown_name,
    thread_url,
    wake_sender,
)
from handlers.handoff.models import (
    MAX_ID,
    MAX_REPLY,
    STATUS_LABELS,
    HandoffRequest,
    HandoffStatus,
    MessageKind,
    Sender,
    ThreadMessageRead,
)

router = APIRouter()
counter_only = [Depends(require_role("counter"))]
# Who may be given a thread: the roles that may open one.
HANDLERS = (StaffRole.ADMIN, StaffRole.COUNTER)
SAFE_IMAGE_TYPES = frozenset({"image/jpeg", "image/png", "image/gif", "image/webp"})


@dataclass(frozen=True)
class ShownMessage:
    m: ThreadMessageRead
    who: str  # 市民, 職員（name）, ボット
    image_url: str | None
    image_pending: bool  # an image LINE has not handed over yet


def _messages(request: Request, db_session: Session, actor: Actor, thread: HandoffRequest) -> dict[str, Any]:
    read = handoff_service.read_thread(
        db_session=db_session,
        request=thread,
        settings=request.app.state.settings,
        citizen_name=citizen_name(db_session, actor, thread.line_user_id),
    )
    shown = [
        ShownMessage(
            m=m,
            who=_who(m.sender, m.staff_name),
            image_url=image_url(thread.id, m.id) if m.has_image else None,
            image_pending=m.kind == MessageKind.IMAGE and not m.has_image,
        )
        for m in read.messages
    ]
    return {
        "thread": thread,
        "name": shown_name(actor, read.citizen_name),
        "context_messages": [m for m in shown if m.m.is_context],
        "thread_messages": [m for m in shown if not m.m.is_context],
    }


def _who(sender: Sender, staff_name: str | None) -> str:
    if sender == Sender.CITIZEN:
        return "市民"
    if sender == Sender.STAFF:
        return f"職員（{staff_name}）" if staff_name else "職員"
    return "ボット"


def _colleagues(db_session: Session) -> list[StaffUser]:
    return [u for u in staff_users.get_all(db_session=db_session) if u.is_active and u.role in HANDLERS]


def _thread_page(
    request: Request,
    db_session: Session,
    actor: Actor,
    thread: HandoffRequest,
    *,
    draft: str = "",
    problem: str | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    citizen = citizen_service.get_by_line_user_id(db_session=db_session, line_user_id=thread.line_user_id)
    context = _messages(request, db_session, actor, thread)
    context.update(
        {
            "status_label": STATUS_LABELS[HandoffStatus(thread.status)],
            "statuses": list(STATUS_LABELS.items()),
            "waiting": is_waiting(db_session, thread),
            "unreachable": citizen is not None and not citizen.is_reachable,
            "canned": handoff_service.canned_replies(db_session=db_session),
            "colleagues": _colleagues(db_session),
            "draft": draft,
            "problem": problem,
            "max_reply": MAX_REPLY,
            "assets": assets(),
            "poll_seconds": POLL_SECONDS,
            "messages_url": f"{thread_url(thread.id)}/messages",
        }
    )
    return render(request, "handoff/thread.html", context, status_code=status_code)


@router.get("/handoff/{handoff_request_id}", response_class=HTMLResponse)
def show_thread(
    request: Request,
    actor: CurrentStaff,
    db_session: DbSession,
    thread: CurrentThread,
    canned: Annotated[int | None, Query(ge=1, le=MAX_ID)] = None,
) -> HTMLResponse:
    """`?canned=<id>` puts that 定型文 in the reply box (the picker without JavaScript)."""
    draft = ""
    if canned is not None:
        chosen = next((c for c in handoff_service.canned_replies(db_session=db_session) if c.id == canned), None)
        draft = chosen.body if chosen is not None else ""
    return _thread_page(request, db_session, actor, thread, draft=draft)


@router.get("/handoff/{handoff_request_id}/messages", response_class=HTMLResponse)
def thread_fragment(
    request: Request, actor: CurrentStaff, db_session: DbSession, thread: CurrentThread
) -> HTMLResponse:
    """The thread's messages alone, for the page's poller (what the citizen writes meanwhile)."""
    return HTMLResponse(
        env.get_template("handoff/_messages.html").render(_messages(request, db_session, actor, thread))
    )


@router.get("/handoff/{handoff_request_id}/images/{message_id}")
def show_image(request: Request, db_session: DbSession, thread: CurrentThread, message_id: int) -> Response:
    """An image the citizen sent, decrypted for this page only: never cached, never stored elsewhere."""
    message = handoff_service.get_message(db_session=db_session, message_id=message_id)
    if message is None or message.request_id != thread.id:
        raise HTTPException(status_code=404, detail="その画像は見つかりません。")
    image = handoff_service.image_of(message, request.app.state.settings)
    if image is None:
        raise HTTPException(status_code=404, detail="その画像はまだ届いていないか、削除されました。")
    data, media_type = image
    return Response(
        data,
        media_type=media_type if media_type in SAFE_IMAGE_TYPES else "application/octet-stream",
        headers={"Cache-Control": "private, no-store"},
    )


@router.post("/handoff/{handoff_request_id}/reply", dependencies=counter_only)
def reply_to_citizen(
    request: Request,
    actor: CurrentStaff,
    db_session: DbSession,
    thread: CurrentThread,
    background: BackgroundTasks,
    text: Annotated[str, Form(max_length=MAX_REPLY * 2)] = "",
) -> Response:
    """Sends the reply by push; on a problem the page comes back with what was typed."""
    body = clean_reply(text)
    problem = reply_problem(body)
    if problem is not None:
        return _thread_page(request, db_session, actor, thread, draft=body, problem=problem, status_code=400)
    flows.reply(db_session=db_session, request=thread, body=body, actor=actor, settings=request.app.state.settings)
    background.add_task(wake_sender, request)
    return redirect(thread_url(thread.id) + "#latest", notice="返信を送りました。")


@router.post("/handoff/{handoff_request_id}/status", dependencies=counter_only)
def change_status(
    request: Request,
    actor: CurrentStaff,
    db_session: DbSession,
    thread: CurrentThread,
    background: BackgroundTasks,
    status: Annotated[str, Form(max_length=16)] = "",
) -> Response:
    wanted = parse_status(status, default=HandoffStatus(thread.status))
    label = STATUS_LABELS[wanted]
    if wanted == thread.status:
        return redirect(thread_url(thread.id), notice=f"すでに「{label}」です。")
    told = flows.set_status(db_session=db_session, request=thread, status=wanted, actor=actor)
    background.add_task(wake_sender, request)
    notice = f"「{label}」にしました。" + ("市民にボットの案内に戻ることをお知らせしました。" if told else "")
    return redirect(thread_url(thread.id), notice=notice)


@router.post("/handoff/{handoff_request_id}/assign", dependencies=counter_only)
def assign_thread(
    actor: CurrentStaff,
    db_session: DbSession,
    thread: CurrentThread,
    staff_id: Annotated[str, Form(max_length=12)] = "",
) -> Response:
    """To oneself, a colleague (counter or admin, active), or nobody (an empty choice)."""
    if not staff_id:
        flows.assign(db_session=db_session, request=thread, staff_id=None, staff_name=None, actor=actor)
        return redirect(thread_url(thread.id), notice="担当を外しました。")
    chosen = int(staff_id) if staff_id.isdigit() else 0
    user = staff_users.get(db_session=db_session, staff_user_id=chosen) if 1 <= chosen <= MAX_ID else None
    if user is None or not user.is_active or user.role not in HANDLERS:
        return redirect(thread_url(thread.id), error="その職員には割り当てられません。")
    flows.assign(db_session=db_session, request=thread, staff_id=user.id, staff_name=user.name, actor=actor)
    who = "自分" if user.id == actor.id else user.name
    return redirect(thread_url(thread.id), notice=f"担当を{who}にしました。")
