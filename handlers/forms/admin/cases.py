"""The cases: the list (filtered, paged, overdue ones marked; CSV and Excel of the same filter), one
case (answers, place, photos, the trail) and what staff do on it: status with a message to the
citizen, a reply through the staff inbox's thread, a note, routing; for 市長への手紙 the departments'
drafts, the revised answer and its approval by a second person. Every change is a staff action of
flows.py (it pushes and audits). Staff of a department see its cases only (flows.visible_to)."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from typing import IO, Annotated, Any
from urllib.parse import quote, urlencode

from fastapi import APIRouter, BackgroundTasks, Form, HTTPException, Query, Request
from fastapi import Path as PathParam
from fastapi.responses import HTMLResponse, Response, StreamingResponse
from sqlalchemy.orm import Session
from starlette.background import BackgroundTask

from admin.auth import CurrentStaff, DbSession
from admin.models import Actor
from admin.templating import redirect
from bot import clock
from handlers.forms import answers as form_answers
from handlers.forms import flows
from handlers.forms import service as forms_service
from handlers.forms.admin.shared import (
    CASES,
    EVENT_LABELS,
    STAGE_LABELS,
    CurrentCase,
    case_url,
    clean_text,
    counter_only,
    day_label,
    lines,
    moment_label,
    photo_url,
    render_page,
    stage,
)
from handlers.forms.definition import FormDefinition, Kind
from handlers.forms.models import PhotoStatus, Submission
from handlers.handoff.admin.shared import thread_url, wake_sender

router = APIRouter()
PAGE_SIZE = 50
MAX_TEXT = 4000
SAFE_IMAGE_TYPES = frozenset({"image/jpeg", "image/png", "image/gif", "image/webp"})
EXPORT_FORMATS = frozenset({"csv", "xlsx"})
PHOTO_STATES = {PhotoStatus.PENDING: "取得中", PhotoStatus.STORED: "", PhotoStatus.REFUSED: "受け取れませんでした"}


# The filter -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Filter:
    """The list's filter as typed (kept in the page's fields and links)."""

    form: str = ""
    status: str = ""
    department: str = ""
    since: str = ""
    until: str = ""
    overdue: str = ""

    def query(self, **extra: Any) -> str:
        values = {k: v for k, v in {**self.__dict__, **extra}.items() if v}
        return urlencode(values)

    def problems(self) -> list[str]:
        out = []
        for name, label in (("since", "開始日"), ("until", "終了日")):
            if getattr(self, name) and _day(getattr(self, name)) is None:
                out.append(f"{label}は 2026-12-01 の形で入力してください。")
        return out

    def case_filter(self, visible: frozenset[str] | None) -> forms_service.CaseFilter:
        return forms_service.CaseFilter(
            form_key=self.form or None,
            status=self.status or None,
            department=self.department or None,
            since=_day(self.since),
            until=_day(self.until),
            overdue=bool(self.overdue),
            visible_departments=visible,
        )


def _day(text: str) -> date | None:
    try:
        return date.fromisoformat(text.strip())
    except ValueError:
        return None


def read_filter(
    form: Annotated[str, Query(max_length=40)] = "",
    status: Annotated[str, Query(max_length=32)] = "",
    department: Annotated[str, Query(max_length=64)] = "",
    since: Annotated[str, Query(max_length=10)] = "",
    until: Annotated[str, Query(max_length=10)] = "",
    overdue: Annotated[str, Query(max_length=1)] = "",
) -> Filter:
    return Filter(form.strip(), status.strip(), department.strip(), since.strip(), until.strip(), overdue.strip())


def form_titles(db_session: Session) -> list[tuple[str, str, FormDefinition | None]]:
    """(key, title, current definition) of every form, for the filters."""
    out = []
    for form in forms_service.all_forms(db_session=db_session):
        version = forms_service.current_version(db_session=db_session, form=form)
        definition = forms_service.definition_of(version) if version else None
        out.append((form.key, definition.title if definition else form.key, definition))
    return out


def all_statuses(forms: list[tuple[str, str, FormDefinition | None]]) -> list[str]:
    return list(dict.fromkeys(status for _, _, d in forms if d for status in d.workflow))


# The list -------------------------------------------------------------------------------------------


@router.get("/forms/cases", response_class=HTMLResponse)
def list_cases(
    request: Request,
    actor: CurrentStaff,
    db_session: DbSession,
    form: Annotated[str, Query(max_length=40)] = "",
    status: Annotated[str, Query(max_length=32)] = "",
    department: Annotated[str, Query(max_length=64)] = "",
    since: Annotated[str, Query(max_length=10)] = "",
    until: Annotated[str, Query(max_length=10)] = "",
    overdue: Annotated[str, Query(max_length=1)] = "",
    page: Annotated[int, Query(ge=1, le=100_000)] = 1,
) -> HTMLResponse:
    chosen = read_filter(form, status, department, since, until, overdue)
    case_filter = chosen.case_filter(flows.visible_to(db_session, actor))
    total = forms_service.count_cases(db_session=db_session, case_filter=case_filter)
    found = forms_service.cases(
        db_session=db_session, case_filter=case_filter, limit=PAGE_SIZE, offset=(page - 1) * PAGE_SIZE
    )
    now = clock.now()
    rows = []
    for submission, version in found:
        definition = forms_service.definition_of(version)
        rows.append(
            {
                "s": submission,
                "title": definition.title,
                "stage": stage(definition, submission.status),
                "submitted": moment_label(submission.submitted_at),
                "due": day_label(submission.due_at) if submission.due_at else "—",
                "overdue": forms_service.is_overdue(submission, now),
            }
        )
    forms = form_titles(db_session)
    pages = max(1, -(-total // PAGE_SIZE))
    return render_page(
        request,
        "forms/cases.html",
        {
            "rows": rows,
            "total": total,
            "page": page,
            "pages": pages,
            "filter": chosen,
            "problems": chosen.problems(),
            "forms": [(key, title) for key, title, _ in forms],
            "statuses": all_statuses(forms),
            "departments": forms_service.DEPARTMENTS,
            "prev_url": f"{CASES}?{chosen.query(page=page - 1)}" if page > 1 else None,
            "next_url": f"{CASES}?{chosen.query(page=page + 1)}" if page < pages else None,
            "export_query": chosen.query(),
        },
    )


# Export ---------------------------------------------------------------------------------------------


def content_disposition(filename: str) -> str:
    """An ASCII fallback and the real name (RFC 5987), so a Japanese name survives every browser."""
    fallback = "".join(ch if ch.isascii() and (ch.isalnum() or ch in "._-") else "_" for ch in filename)
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(filename)}"


@router.get("/forms/export/{fmt}")
def export_cases(
    request: Request,
    actor: CurrentStaff,
    db_session: DbSession,
    fmt: Annotated[str, PathParam(max_length=8)],
    form: Annotated[str, Query(max_length=40)] = "",
    status: Annotated[str, Query(max_length=32)] = "",
    department: Annotated[str, Query(max_length=64)] = "",
    since: Annotated[str, Query(max_length=10)] = "",
    until: Annotated[str, Query(max_length=10)] = "",
    overdue: Annotated[str, Query(max_length=1)] = "",
) -> Response:
    """The list's filter as CSV (UTF-8 with a BOM, for Excel) or an Excel workbook, one row a case and
    one column a question (handlers/forms/export.py). Written to a temporary file in the request's
    transaction (on SQLite it holds the write lock: it ends when the rows are read, not when a slow
    download does), then streamed from it."""
    if fmt not in EXPORT_FORMATS:
        raise HTTPException(status_code=404, detail="その形式では書き出せません（csv または xlsx）。")
    from handlers.forms import export  # loaded only when someone exports

    chosen = read_filter(form, status, department, since, until, overdue)
    case_filter = chosen.case_filter(flows.visible_to(db_session, actor))
    settings = request.app.state.settings
    spool = tempfile.TemporaryFile()  # noqa: SIM115 - closed when the download ends, not here
    try:
        if fmt == "xlsx":
            export.write_xlsx(db_session=db_session, case_filter=case_filter, settings=settings, target=spool)
            media_type = export.XLSX_MEDIA_TYPE
        else:
            export.write_csv(db_session=db_session, case_filter=case_filter, settings=settings, target=spool)
            media_type = export.CSV_MEDIA_TYPE
        spool.seek(0)
    except BaseException:
        spool.close()
        raise
    name = f"forms_{chosen.form or 'all'}_{clock.now().astimezone(clock.TOKYO):%Y%m%d}.{fmt}"
    return StreamingResponse(
        _chunks(spool),
        media_type=media_type,
        headers={"Content-Disposition": content_disposition(name), "Cache-Control": "private, no-store"},
        background=BackgroundTask(spool.close),  # also when the browser went away mid-download
    )


def _chunks(spool: IO[bytes]) -> Iterator[bytes]:
    try:
        while chunk := spool.read(64 * 1024):
            yield chunk
    finally:
        spool.close()


# One case -------------------------------------------------------------------------------------------


def _definition(db_session: Session, submission: Submission) -> FormDefinition:
    version = forms_service.get_version(db_session=db_session, version_id=submission.version_id)
    if version is None:  # cascade-deleted with its form: the case is gone too
        raise HTTPException(status_code=404, detail="その申請・通報は見つかりません。")
    return forms_service.definition_of(version)


def _case_page(
    request: Request,
    db_session: Session,
    actor: Actor,
    submission: Submission,
    *,
    problem: str | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    settings = request.app.state.settings
    definition = _definition(db_session, submission)
    stored = forms_service.answers_of(submission, settings)
    photos = forms_service.photos_of(db_session=db_session, submission=submission)
    answers = []
    for question in definition.questions:
        shown_photos = [
            {
                "p": p,
                "thumb": photo_url(submission.id, p.token, thumbnail=True),
                "full": photo_url(submission.id, p.token),
                "state": PHOTO_STATES[PhotoStatus(p.status)],
            }
            for p in photos
            if p.question == question.key
        ]
        value = stored.get(question.key)
        if question.kind == Kind.PLACE and value is None and submission.place_name:
            value = submission.place_name
        if value is None and not shown_photos:
            continue
        answers.append(
            {
                "label": question.name,
                "kind": question.kind,
                "value": form_answers.display(question, value) if value is not None else "",
                "photos": shown_photos,
            }
        )
    events = [
        {
            "e": e,
            "label": EVENT_LABELS.get(e.kind, str(e.kind)),
            "when": moment_label(e.at),
            "text": forms_service.event_text(e, settings),
        }
        for e in forms_service.events_of(db_session=db_session, submission=submission)
    ]
    is_letter = forms_service.is_letter(definition)
    routes = [
        {"r": r, "draft": forms_service.draft_of(r, settings), "drafted": moment_label(r.drafted_at)}
        for r in forms_service.routes_of(db_session=db_session, submission=submission)
    ]
    now = clock.now()
    return render_page(
        request,
        "forms/case.html",
        {
            "s": submission,
            "definition": definition,
            "answers": answers,
            "events": events,
            "submitted": moment_label(submission.submitted_at),
            "due": moment_label(submission.due_at) if submission.due_at else None,
            "overdue": forms_service.is_overdue(submission, now),
            "stage": stage(definition, submission.status),
            "stage_labels": STAGE_LABELS,
            "is_letter": is_letter,
            "routes": routes,
            "answer": forms_service.answer_of(submission, settings) if is_letter else None,
            "approved": moment_label(submission.approved_at) if submission.approved_at else None,
            "departments": forms_service.DEPARTMENTS,
            "thread_url": thread_url(submission.thread_id) if submission.thread_id else None,
            "map_url": f"/admin/forms/map?focus={submission.id}",
            "problem": problem,
            "case_url": case_url(submission),
        },
        status_code=status_code,
    )


@router.get("/forms/cases/{submission_id}", response_class=HTMLResponse)
def show_case(request: Request, actor: CurrentStaff, db_session: DbSession, submission: CurrentCase) -> HTMLResponse:
    return _case_page(request, db_session, actor, submission)


@router.get("/forms/cases/{submission_id}/photos/{token}")
def show_photo(
    request: Request,
    db_session: DbSession,
    submission: CurrentCase,
    token: Annotated[str, PathParam(max_length=64)],
    size: Annotated[str, Query(max_length=5)] = "",
) -> Response:
    """A photo the citizen sent, decrypted for this page only: never cached, never stored elsewhere."""
    photo = forms_service.get_photo(db_session=db_session, token=token[:64])
    if photo is None or photo.submission_id != submission.id:
        raise HTTPException(status_code=404, detail="その写真は見つかりません。")
    data = forms_service.photo_bytes(photo, request.app.state.settings, thumbnail=size == "thumb")
    if data is None:
        raise HTTPException(status_code=404, detail="その写真はまだ届いていないか、受け取れませんでした。")
    media_type = "image/jpeg" if size == "thumb" else (photo.media_type or "")
    return Response(
        data,
        media_type=media_type if media_type in SAFE_IMAGE_TYPES else "application/octet-stream",
        headers={"Cache-Control": "private, no-store", "X-Content-Type-Options": "nosniff"},
    )


def _text_problem(text: str, what: str, limit: int = MAX_TEXT) -> str | None:
    if not text:
        return f"{what}を入力してください。"
    if len(text) > limit:
        return f"{what}は{limit}文字までです（いま{len(text)}文字）。"
    return None


def _refused(request: Request, db_session: Session, actor: Actor, submission: Submission, problem: str) -> HTMLResponse:
    return _case_page(request, db_session, actor, submission, problem=problem, status_code=400)


@router.post("/forms/cases/{submission_id}/status", dependencies=counter_only)
def change_status(
    request: Request,
    actor: CurrentStaff,
    db_session: DbSession,
    submission: CurrentCase,
    background: BackgroundTasks,
    status: Annotated[str, Form(max_length=32)] = "",
    message: Annotated[str, Form(max_length=MAX_TEXT * 2)] = "",
) -> Response:
    definition = _definition(db_session, submission)
    text = clean_text(message)
    if len(text) > MAX_TEXT:
        return _refused(request, db_session, actor, submission, f"メッセージは{MAX_TEXT}文字までです。")
    try:
        with db_session.begin_nested():
            told = flows.change_status(
                db_session=db_session,
                settings=request.app.state.settings,
                submission=submission,
                definition=definition,
                status=status.strip(),
                message=text or None,
                actor=actor,
            )
    except forms_service.FormError as exc:
        return _refused(request, db_session, actor, submission, str(exc))
    background.add_task(wake_sender, request)
    told_text = "市民にお知らせしました。" if told else "（匿名のためお知らせしていません）"
    notice = f"状態を「{submission.status}」にしました。{told_text}"
    return redirect(case_url(submission), notice=notice)


@router.post("/forms/cases/{submission_id}/reply", dependencies=counter_only)
def reply_to_citizen(
    request: Request,
    actor: CurrentStaff,
    db_session: DbSession,
    submission: CurrentCase,
    background: BackgroundTasks,
    text: Annotated[str, Form(max_length=MAX_TEXT * 2)] = "",
) -> Response:
    body = clean_text(text)
    problem = _text_problem(body, "返信の文", 2000)
    if problem:
        return _refused(request, db_session, actor, submission, problem)
    definition = _definition(db_session, submission)
    try:
        with db_session.begin_nested():
            flows.reply(
                db_session=db_session,
                settings=request.app.state.settings,
                submission=submission,
                definition=definition,
                text=body,
                actor=actor,
            )
    except forms_service.FormError as exc:
        return _refused(request, db_session, actor, submission, str(exc))
    background.add_task(wake_sender, request)
    return redirect(case_url(submission), notice="返信を送りました（職員対応のスレッドにも残ります）。")


@router.post("/forms/cases/{submission_id}/note", dependencies=counter_only)
def add_note(
    request: Request,
    actor: CurrentStaff,
    db_session: DbSession,
    submission: CurrentCase,
    text: Annotated[str, Form(max_length=MAX_TEXT * 2)] = "",
) -> Response:
    body = clean_text(text)
    problem = _text_problem(body, "メモ")
    if problem:
        return _refused(request, db_session, actor, submission, problem)
    flows.add_note(
        db_session=db_session, settings=request.app.state.settings, submission=submission, text=body, actor=actor
    )
    return redirect(case_url(submission), notice="メモを残しました。")


@router.post("/forms/cases/{submission_id}/route", dependencies=counter_only)
async def route_case(request: Request, actor: CurrentStaff, db_session: DbSession, submission: CurrentCase) -> Response:
    posted = await request.form()
    chosen = [str(v)[:64] for v in posted.getlist("departments") if isinstance(v, str)][:20]
    other = posted.get("other")
    chosen += lines(str(other)[:500].replace("、", "\n")) if isinstance(other, str) else []
    definition = _definition(db_session, submission)
    try:
        with db_session.begin_nested():
            added = flows.route(
                db_session=db_session,
                settings=request.app.state.settings,
                submission=submission,
                definition=definition,
                departments=chosen,
                actor=actor,
            )
    except forms_service.FormError as exc:
        return _refused(request, db_session, actor, submission, str(exc))
    if not added:
        return redirect(case_url(submission), error="回付先の課を選んでください（すでに回付した課は除きます）。")
    return redirect(case_url(submission), notice=f"{'・'.join(added)}へ回付しました。")


@router.post("/forms/cases/{submission_id}/draft", dependencies=counter_only)
def save_draft(
    request: Request,
    actor: CurrentStaff,
    db_session: DbSession,
    submission: CurrentCase,
    department: Annotated[str, Form(max_length=64)] = "",
    text: Annotated[str, Form(max_length=MAX_TEXT * 2)] = "",
) -> Response:
    body = clean_text(text)
    problem = _text_problem(body, "回答案")
    if problem:
        return _refused(request, db_session, actor, submission, problem)
    try:
        with db_session.begin_nested():
            flows.save_draft(
                db_session=db_session,
                settings=request.app.state.settings,
                submission=submission,
                department=department.strip(),
                text=body,
                actor=actor,
            )
    except forms_service.FormError as exc:
        return _refused(request, db_session, actor, submission, str(exc))
    return redirect(case_url(submission) + "#letter", notice=f"{department}の回答案を保存しました。")


@router.post("/forms/cases/{submission_id}/answer", dependencies=counter_only)
def save_answer(
    request: Request,
    actor: CurrentStaff,
    db_session: DbSession,
    submission: CurrentCase,
    text: Annotated[str, Form(max_length=MAX_TEXT * 2)] = "",
) -> Response:
    body = clean_text(text)
    problem = _text_problem(body, "回答")
    if problem:
        return _refused(request, db_session, actor, submission, problem)
    if not forms_service.is_letter(_definition(db_session, submission)):
        return _refused(request, db_session, actor, submission, "回答の承認は市長への手紙だけのものです。")
    flows.save_answer(
        db_session=db_session, settings=request.app.state.settings, submission=submission, text=body, actor=actor
    )
    return redirect(
        case_url(submission) + "#letter", notice="回答を保存しました。別の職員が承認すると市民に送られます。"
    )


@router.post("/forms/cases/{submission_id}/approve", dependencies=counter_only)
def approve_answer(
    request: Request,
    actor: CurrentStaff,
    db_session: DbSession,
    submission: CurrentCase,
    background: BackgroundTasks,
) -> Response:
    definition = _definition(db_session, submission)
    try:
        with db_session.begin_nested():
            told = flows.approve(
                db_session=db_session,
                settings=request.app.state.settings,
                submission=submission,
                definition=definition,
                actor=actor,
            )
    except forms_service.FormError as exc:
        return _refused(request, db_session, actor, submission, str(exc))
    background.add_task(wake_sender, request)
    notice = "回答を承認し、市民に送りました。" if told else "回答を承認しました（匿名のため送信はありません）。"
    return redirect(case_url(submission), notice=notice + f"状態は「{submission.status}」です。")


# The dashboard's panel --------------------------------------------------------------------------------


def panel_counts(db_session: Session, actor: Actor) -> dict[str, Any]:
    """Open cases (in a status before their form's last) and overdue ones, of the departments the
    staff member sees."""
    visible = flows.visible_to(db_session, actor)
    open_count = forms_service.count_cases(
        db_session=db_session, case_filter=forms_service.CaseFilter(open_only=True, visible_departments=visible)
    )
    overdue = forms_service.count_cases(
        db_session=db_session, case_filter=forms_service.CaseFilter(overdue=True, visible_departments=visible)
    )
    return {"open": open_count, "overdue": overdue}
