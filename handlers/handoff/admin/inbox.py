"""The inbox (職員対応): threads by status, what waited overnight first; the part of the page that
short polling refreshes (a new request appears without a reload), the nav badge's count, the
dashboard panel, and the package's script and styles."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response
from sqlalchemy.orm import Session

from admin.auth import CurrentStaff, DbSession
from admin.models import Actor
from admin.templating import env, render
from handlers.handoff import service as handoff_service
from handlers.handoff.admin.shared import (
    ASSETS,
    BASE,
    POLL_SECONDS,
    assets,
    inbox_rows,
    parse_status,
    shown_name,
)
from handlers.handoff.models import STATUS_LABELS, HandoffStatus

router = APIRouter()
SNIPPET = 40


def open_count(db_session: Session) -> int:
    """The nav badge: requests nobody has taken up yet (未対応)."""
    return handoff_service.count_by_status(db_session=db_session)[HandoffStatus.OPEN.value]


def _inbox(db_session: Session, actor: Actor, status: HandoffStatus) -> dict[str, Any]:
    rows = inbox_rows(db_session, actor, status)
    return {
        "status": status,
        "tabs": list(STATUS_LABELS.items()),
        "counts": handoff_service.count_by_status(db_session=db_session),
        "rows": [
            {
                "row": row,
                "name": shown_name(actor, row.citizen_name),
                "words": _snippet(row.thread.message) if actor.sees_personal_data else None,
            }
            for row in rows
        ],
        "status_labels": STATUS_LABELS,
        "personal": actor.sees_personal_data,
    }


def _snippet(words: str | None) -> str | None:
    if not words:
        return None
    line = " ".join(words.split())
    return line if len(line) <= SNIPPET else line[: SNIPPET - 1] + "…"


@router.get("/handoff", response_class=HTMLResponse)
def list_threads(
    request: Request,
    actor: CurrentStaff,
    db_session: DbSession,
    status: Annotated[str | None, Query(max_length=16)] = None,
) -> HTMLResponse:
    shown = parse_status(status)
    context = _inbox(db_session, actor, shown)
    context.update({"assets": assets(), "poll_seconds": POLL_SECONDS, "live_url": f"{BASE}/live?status={shown.value}"})
    return render(request, "handoff/inbox.html", context)


@router.get("/handoff/live", response_class=HTMLResponse)
def inbox_fragment(
    actor: CurrentStaff, db_session: DbSession, status: Annotated[str | None, Query(max_length=16)] = None
) -> HTMLResponse:
    """The tabs and the list alone, for the page's poller to swap in."""
    html = env.get_template("handoff/_inbox_live.html").render(_inbox(db_session, actor, parse_status(status)))
    return HTMLResponse(html)


@router.get("/handoff/badge")
def badge(db_session: DbSession) -> JSONResponse:
    """The nav badge's number (admin.js polls it on every page)."""
    return JSONResponse({"count": open_count(db_session)})


@router.get("/handoff/static/{name}", include_in_schema=False)
def handoff_static(name: str) -> Response:
    """The inbox's script and styles."""
    return ASSETS.serve(name)


def panel_counts(db_session: Session, actor: Actor) -> dict[str, Any]:
    """The dashboard panel: 未対応 and 対応中."""
    counts = handoff_service.count_by_status(db_session=db_session)
    return {"open": counts[HandoffStatus.OPEN.value], "in_progress": counts[HandoffStatus.IN_PROGRESS.value]}
