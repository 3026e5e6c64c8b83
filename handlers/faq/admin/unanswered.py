"""未回答: the questions the bot could not answer, most asked or newest first, with counts; and the one
step that handles one: a new entry (its question prefilled), another wording of an existing entry
(the FAQ's own best guesses offered first), or out of scope. Each marks the question handled.

What citizens typed may hold a name or a phone number: the texts are for counter and admin roles;
viewers and broadcasters see how many there are and how often they were asked.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, Response
from pydantic import ValidationError
from sqlalchemy.orm import Session

from admin.auth import CurrentStaff, DbSession
from admin.templating import redirect, render
from handlers.faq import flows
from handlers.faq import service as faq_service
from handlers.faq.admin.entries import entry_form
from handlers.faq.admin.shared import BASE, CurrentQuestion, counter_only, entry_values, problems, read_form
from handlers.faq.models import (
    UNANSWERED_STATUS_LABELS,
    FaqEntry,
    FaqEntryCreate,
    UnansweredQuestion,
    UnansweredStatus,
)

router = APIRouter()
LIST = f"{BASE}/unanswered"
PAGE_SIZE = 200
TAKEN_FIRST = "ほかの職員が先にこの質問に対応しました。"


@router.get("/faq/unanswered", response_class=HTMLResponse)
def list_unanswered(
    request: Request,
    actor: CurrentStaff,
    db_session: DbSession,
    status: Annotated[UnansweredStatus, Query()] = UnansweredStatus.OPEN,
    sort: Annotated[faq_service.UnansweredOrder, Query()] = faq_service.UnansweredOrder.MOST_ASKED,
) -> HTMLResponse:
    found = faq_service.get_all_unanswered(db_session=db_session, status=status, order=sort, limit=PAGE_SIZE + 1)
    entries = {e.id: e for e in faq_service.get_all(db_session=db_session, include_inactive=True)}
    return render(
        request,
        "faq/unanswered.html",
        {
            "questions": found[:PAGE_SIZE],
            "more": len(found) > PAGE_SIZE,
            "counts": faq_service.count_unanswered(db_session=db_session),
            "status": status,
            "sort": sort,
            "statuses": [(s.value, UNANSWERED_STATUS_LABELS[s]) for s in UnansweredStatus],
            "status_label": UNANSWERED_STATUS_LABELS[status],
            "entries": entries,
            "sees_texts": actor.sees_personal_data,
        },
    )


def _candidates(db_session: Session, text: str) -> list[tuple[FaqEntry, float]]:
    """The FAQ's own best guesses for the question (active entries), best first."""
    result = faq_service.ask(db_session=db_session, text=text)
    ranked = [(result.faq_id, result.score), *((c.faq_id, c.score) for c in result.candidates)]
    found = []
    for faq_id, score in ranked:
        entry = faq_service.get_active(db_session=db_session, faq_id=faq_id or "")
        if entry is not None and score > 0:
            found.append((entry, score))
    return found


def _question_page(
    request: Request,
    db_session: Session,
    question: UnansweredQuestion,
    *,
    values: dict[str, str] | None = None,
    errors: list[str] | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    candidates = _candidates(db_session, question.text)
    resolved = faq_service.get(db_session=db_session, faq_id=question.resolved_faq_id or "")
    return render(
        request,
        "faq/question.html",
        {
            "question": question,
            "status_label": UNANSWERED_STATUS_LABELS[UnansweredStatus(question.status)],
            "is_open": question.status == UnansweredStatus.OPEN,
            "candidates": candidates,
            "entries": faq_service.get_all(db_session=db_session),
            "categories": faq_service.get_categories(db_session=db_session),
            "values": values or (entry_form(None) | {"question": question.text}),
            "problems": errors or [],
            "resolved": resolved,
        },
        status_code=status_code,
    )


@router.get("/faq/unanswered/{question_id}", response_class=HTMLResponse, dependencies=counter_only)
def show_question(request: Request, db_session: DbSession, question: CurrentQuestion) -> HTMLResponse:
    return _question_page(request, db_session, question)


@router.post("/faq/unanswered/{question_id}/new-entry", response_class=HTMLResponse, dependencies=counter_only)
async def make_entry(
    request: Request, actor: CurrentStaff, db_session: DbSession, question: CurrentQuestion
) -> Response:
    """A new entry from the question, and the question marked handled, in one step."""
    form = await read_form(request)
    values: dict[str, Any] = entry_form(None) | {k: form.get(k, "") for k in entry_form(None)}
    try:
        faq_in = FaqEntryCreate(id=form.get("entry_id", "").strip() or None, **entry_values(form))
        entry = flows.new_entry_from_question(db_session=db_session, question=question, faq_in=faq_in, actor=actor)
    except ValidationError as exc:
        return _question_page(
            request, db_session, question, values=values, errors=problems(exc.errors()), status_code=400
        )
    except faq_service.FaqExists:
        errors = ["そのIDの質問はすでにあります。別のIDにするか、空欄にしてください。"]
        return _question_page(request, db_session, question, values=values, errors=errors, status_code=400)
    except faq_service.AlreadyHandled:
        return redirect(LIST, error=TAKEN_FIRST)
    return redirect(
        LIST, notice=f"新しい質問「{entry.question}」を追加し、対応済みにしました。LINEの回答にすぐ使われます。"
    )


@router.post("/faq/unanswered/{question_id}/alternative", dependencies=counter_only)
async def add_as_alternative(
    request: Request, actor: CurrentStaff, db_session: DbSession, question: CurrentQuestion
) -> Response:
    """The question's wording (as staff left it) added to an existing entry; the question handled."""
    form = await read_form(request)
    faq_id = form.get("other_faq_id", "").strip() or form.get("faq_id", "").strip()
    entry = faq_service.get(db_session=db_session, faq_id=faq_id) if faq_id else None
    wording = " ".join(form.get("text", "").split())[: faq_service.MAX_STORED_QUESTION] or question.text
    here = f"{LIST}/{question.id}"
    if entry is None:
        return redirect(here, error="追加先の質問を選んでください。")
    try:
        flows.add_question_as_alternative(
            db_session=db_session, question=question, faq_entry=entry, text=wording, actor=actor
        )
    except faq_service.TooManyWordings:
        return redirect(here, error="その質問の言い換えは上限（50個）に達しています。整理してから追加してください。")
    except faq_service.AlreadyHandled:
        return redirect(LIST, error=TAKEN_FIRST)
    return redirect(LIST, notice=f"「{entry.question}」の言い換えとして追加し、対応済みにしました。")


@router.post("/faq/unanswered/{question_id}/dismiss", dependencies=counter_only)
def dismiss_question(actor: CurrentStaff, db_session: DbSession, question: CurrentQuestion) -> Response:
    try:
        flows.dismiss_question(db_session=db_session, question=question, actor=actor)
    except faq_service.AlreadyHandled:
        return redirect(LIST, error=TAKEN_FIRST)
    return redirect(LIST, notice="対象外にしました（同じ質問がまた来ても、未回答には戻りません）。")


@router.post("/faq/unanswered/{question_id}/reopen", dependencies=counter_only)
def reopen_question(actor: CurrentStaff, db_session: DbSession, question: CurrentQuestion) -> Response:
    flows.reopen_question(db_session=db_session, question=question, actor=actor)
    return redirect(f"{LIST}/{question.id}", notice="未回答に戻しました。")
