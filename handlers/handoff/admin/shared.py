"""What the inbox's pages and API share: addresses, the thread a path names, the citizen's name (for
the roles that may see it), the inbox's rows, and the package's own script and styles."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Annotated

from fastapi import Depends, HTTPException, Request
from sqlalchemy.orm import Session

from admin.assets import PackageAssets
from admin.auth import DbSession
from admin.models import Actor
from bot import citizens as citizen_service
from handlers.handoff import service as handoff_service
from handlers.handoff.models import MAX_REPLY, HandoffRequest, HandoffStatus

PACKAGE = Path(__file__).parent.parent
BASE = "/admin/handoff"
ASSETS = PackageAssets(PACKAGE / "static", f"{BASE}/static", {"inbox.js": "text/javascript", "inbox.css": "text/css"})
POLL_SECONDS = 15
HIDDEN_NAME = "（非表示）"
NO_NAME = "（名前なし）"


def thread_url(request_id: int) -> str:
    return f"{BASE}/{request_id}"


def image_url(request_id: int, message_id: int) -> str:
    return f"{BASE}/{request_id}/images/{message_id}"


def assets() -> dict[str, str]:
    """The inbox's script and styles (admin/assets.py)."""
    return ASSETS.urls()


def current_thread(db_session: DbSession, handoff_request_id: int) -> HandoffRequest:
    """The thread the path names; an id that does not exist (or is out of range) is a 404."""
    request = handoff_service.get(db_session=db_session, handoff_request_id=handoff_request_id)
    if request is None:
        raise HTTPException(status_code=404, detail="その職員対応は見つかりません。")
    return request


CurrentThread = Annotated[HandoffRequest, Depends(current_thread)]


def parse_status(value: str | None, default: HandoffStatus = HandoffStatus.OPEN) -> HandoffStatus:
    try:
        return HandoffStatus(value) if value else default
    except ValueError:
        return default


def clean_reply(text: str) -> str:
    """What staff typed, as the citizen will read it: browsers send CRLF and may pad it."""
    return text.replace("\r\n", "\n").replace("\r", "\n").replace("\x00", "").strip()


def reply_problem(body: str) -> str | None:
    if not body:
        return "返信の文を入力してください。"
    if len(body) > MAX_REPLY:
        return f"返信は{MAX_REPLY}文字までです（いま{len(body)}文字）。"
    return None


def citizen_name(db_session: Session, actor: Actor, line_user_id: str) -> str | None:
    """The LINE display name, only for roles that see personal data."""
    if not actor.sees_personal_data:
        return None
    citizen = citizen_service.get_by_line_user_id(db_session=db_session, line_user_id=line_user_id)
    return citizen.display_name if citizen is not None else None


def shown_name(actor: Actor, name: str | None) -> str:
    if not actor.sees_personal_data:
        return HIDDEN_NAME
    return name or NO_NAME


def is_waiting(db_session: Session, thread: HandoffRequest) -> bool:
    """The bot keeps quiet for the citizen (they wait for staff); a finished thread has nobody waiting."""
    if thread.status == HandoffStatus.DONE:
        return False
    return handoff_service.is_waiting(db_session=db_session, line_user_id=thread.line_user_id)


@dataclass(frozen=True)
class InboxRow:
    thread: HandoffRequest
    citizen_name: str | None
    waiting: bool

    @property
    def last_message_at(self) -> datetime | None:
        times = [t for t in (self.thread.last_citizen_at, self.thread.last_staff_at) if t is not None]
        return max(times) if times else None


def inbox_rows(db_session: Session, actor: Actor, status: HandoffStatus | None) -> list[InboxRow]:
    """The inbox in service order (what waited overnight first), with names and who is waiting."""
    names: dict[str, str | None] = {}
    rows = []
    for thread in handoff_service.inbox(db_session=db_session, status=status):
        if thread.line_user_id not in names:
            names[thread.line_user_id] = citizen_name(db_session, actor, thread.line_user_id)
        rows.append(InboxRow(thread, names[thread.line_user_id], is_waiting(db_session, thread)))
    return rows


async def wake_sender(request: Request) -> None:
    """After the commit (a background task, on the event loop): the push goes out now, not at the
    next poll."""
    processor = getattr(request.app.state, "processor", None)
    if processor is not None:
        processor.wake()
