"""The FAQ's entries: the list with its search, the form to add one, and one entry to edit, stop or
start again. Every change goes through a staff action (flows.py), which audits it; the bot answers
with it from the next question on."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, Response
from pydantic import ValidationError
from sqlalchemy.orm import Session

from admin.auth import CurrentStaff, DbSession
from admin.templating import redirect, render
from handlers.faq import flows
from handlers.faq import service as faq_service
from handlers.faq.admin.shared import (
    BASE,
    CurrentEntry,
    can_edit,
    counter_only,
    entry_values,
    problems,
    read_form,
)
from handlers.faq.flow import answer_text
from handlers.faq.models import FaqEntry, FaqEntryCreate, FaqEntryUpdate

router = APIRouter()

State = Literal["all", "active", "inactive"]


def entry_form(entry: FaqEntry | None) -> dict[str, str]:
    """The form's values for an entry (blank for a new one)."""
    if entry is None:
        return {
            "entry_id": "",
            "category": "",
            "question": "",
            "alt_questions": "",
            "answer": "",
            "tags": "",
            "url": "",
        }
    return {
        "entry_id": entry.id,
        "category": entry.category,
        "question": entry.question,
        "alt_questions": "\n".join(entry.alt_questions or ()),
        "answer": entry.answer,
        "tags": "\n".join(entry.tags or ()),
        "url": entry.url,
    }


@router.get("/faq", response_class=HTMLResponse)
def list_entries(
    request: Request,
    actor: CurrentStaff,
    db_session: DbSession,
    q: Annotated[str, Query(max_length=100)] = "",
    state: Annotated[State, Query()] = "all",
) -> HTMLResponse:
    query = q.replace("\x00", "").strip()
    found = faq_service.search(db_session=db_session, query=query)
    everything = faq_service.get_all(db_session=db_session, include_inactive=True)
    if state != "all":
        found = [e for e in found if e.is_active == (state == "active")]
    return render(
        request,
        "faq/entries.html",
        {
            "entries": found,
            "q": query,
            "state": state,
            "total": len(everything),
            "active": sum(1 for e in everything if e.is_active),
            "feedback": faq_service.feedback_counts(db_session=db_session),
            "unanswered": faq_service.count_unanswered(db_session=db_session).open,
            "can_edit": can_edit(actor),
        },
    )


def _form_page(
    request: Request,
    db_session: Session,
    *,
    entry: FaqEntry | None,
    values: dict[str, str],
    editable: bool,
    errors: list[str] | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    feedback = None
    if entry is not None:
        feedback = next((r for r in faq_service.feedback_report(db_session=db_session) if r.faq_id == entry.id), None)
    return render(
        request,
        "faq/entry.html",
        {
            "entry": entry,
            "values": values,
            "categories": faq_service.get_categories(db_session=db_session),
            "can_edit": editable,
            "problems": errors or [],
            "preview": answer_text(entry) if entry is not None else None,
            "feedback": feedback,
        },
        status_code=status_code,
    )


@router.get("/faq/new", response_class=HTMLResponse, dependencies=counter_only)
def show_new_entry(request: Request, db_session: DbSession) -> HTMLResponse:
    return _form_page(request, db_session, entry=None, values=entry_form(None), editable=True)


@router.post("/faq/new", response_class=HTMLResponse, dependencies=counter_only)
async def create_entry(request: Request, actor: CurrentStaff, db_session: DbSession) -> Response:
    form = await read_form(request)
    values = entry_form(None) | {k: form.get(k, "") for k in entry_form(None)}
    try:
        faq_in = FaqEntryCreate(id=form.get("entry_id", "").strip() or None, **entry_values(form))
        entry = flows.create_entry(db_session=db_session, faq_in=faq_in, actor=actor)
    except ValidationError as exc:
        return _form_page(
            request,
            db_session,
            entry=None,
            values=values,
            editable=True,
            errors=problems(exc.errors()),
            status_code=400,
        )
    except faq_service.FaqExists:
        errors = ["そのIDの質問はすでにあります。別のIDにするか、空欄にしてください。"]
        return _form_page(request, db_session, entry=None, values=values, editable=True, errors=errors, status_code=400)
    return redirect(
        f"{BASE}/entries/{entry.id}", notice=f"「{entry.question}」を追加しました。LINEの回答にすぐ使われます。"
    )


@router.get("/faq/entries/{faq_id}", response_class=HTMLResponse)
def show_entry(request: Request, actor: CurrentStaff, db_session: DbSession, entry: CurrentEntry) -> HTMLResponse:
    return _form_page(request, db_session, entry=entry, values=entry_form(entry), editable=can_edit(actor))


@router.post("/faq/entries/{faq_id}", response_class=HTMLResponse, dependencies=counter_only)
async def update_entry(request: Request, actor: CurrentStaff, db_session: DbSession, entry: CurrentEntry) -> Response:
    form = await read_form(request)
    try:
        faq_in = FaqEntryUpdate(**entry_values(form))
    except ValidationError as exc:
        values: dict[str, Any] = entry_form(entry) | {k: form.get(k, "") for k in entry_form(None) if k != "entry_id"}
        return _form_page(
            request,
            db_session,
            entry=entry,
            values=values,
            editable=True,
            errors=problems(exc.errors()),
            status_code=400,
        )
    flows.update_entry(db_session=db_session, faq_entry=entry, faq_in=faq_in, actor=actor)
    return redirect(f"{BASE}/entries/{entry.id}", notice="保存しました。LINEの回答にすぐ反映されます。")


@router.post("/faq/entries/{faq_id}/deactivate", dependencies=counter_only)
def deactivate_entry(actor: CurrentStaff, db_session: DbSession, entry: CurrentEntry) -> Response:
    flows.deactivate_entry(db_session=db_session, faq_entry=entry, actor=actor)
    return redirect(f"{BASE}/entries/{entry.id}", notice="停止しました。LINEでこの回答は使われません。")


@router.post("/faq/entries/{faq_id}/reactivate", dependencies=counter_only)
def reactivate_entry(actor: CurrentStaff, db_session: DbSession, entry: CurrentEntry) -> Response:
    flows.reactivate_entry(db_session=db_session, faq_entry=entry, actor=actor)
    return redirect(f"{BASE}/entries/{entry.id}", notice="再開しました。LINEの回答にまた使われます。")
