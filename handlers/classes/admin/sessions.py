"""The sessions: the list (upcoming, or past), one session created or edited by form, a recurring
series created at once, a session called off, a lottery drawn by hand; and the dashboard's panel.
Every change is a staff action (flows.py), which pushes to citizens and audits it."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy.orm import Session

from admin.auth import CurrentStaff, DbSession
from admin.models import Actor
from admin.templating import redirect, render
from bot import clock
from handlers.classes import flows
from handlers.classes.admin import forms
from handlers.classes.admin.shared import (
    BASE,
    WEEKDAYS,
    CurrentClassSession,
    class_error_message,
    counter_only,
    roster_url,
    short_when,
    signup_state,
    today,
    when_label,
)
from handlers.classes.models import AGE_GROUPS, LEVEL_LABELS, PHONE_LABELS, ClassSession, Mode
from handlers.classes.service import sessions as session_service
from handlers.classes.service.errors import ClassError

router = APIRouter()
PAST_DAYS = 365
PANEL_SIZE = 5


def rows_for(db_session: Session, found: list[ClassSession], now: datetime) -> list[dict[str, Any]]:
    """Each session with its counts, as the list and the dashboard panel show it."""
    counts = session_service.counts(db_session=db_session, session_ids=[s.id for s in found])
    return [
        {
            "s": s,
            "when": when_label(s),
            "short_when": short_when(s),
            "level": LEVEL_LABELS.get(s.level, str(s.level)),
            "mode": Mode(s.mode).label,
            "count": counts[s.id],
            "left": counts[s.id].places_left(s),
            "state": signup_state(s, now),
        }
        for s in found
    ]


@router.get("/classes", response_class=HTMLResponse)
def list_sessions(
    request: Request,
    actor: CurrentStaff,
    db_session: DbSession,
    past: Annotated[str, Query(max_length=1)] = "",
) -> HTMLResponse:
    """Today's and later sessions, soonest first; or (past=1) the last year's, latest first."""
    now = clock.now()
    midnight = datetime.combine(today(), datetime.min.time(), clock.TOKYO)
    if past:
        found = session_service.between(db_session=db_session, start=midnight - timedelta(days=PAST_DAYS), end=midnight)
        found.reverse()
    else:
        found = session_service.between(db_session=db_session, start=midnight, end=midnight + timedelta(days=3650))
    return render(
        request,
        "classes/list.html",
        {
            "rows": rows_for(db_session, found, now),
            "past": bool(past),
            "can_edit": actor.role != "viewer",
        },
    )


# The session form: one day, a series, or an edit ---------------------------------------------------


def _form_page(
    request: Request,
    kind: str,
    values: dict[str, Any],
    *,
    session: ClassSession | None = None,
    problems: list[str] | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    headings = {"new": "スマホ教室を登録", "series": "くり返しの教室をまとめて登録", "edit": "スマホ教室を編集"}
    actions = {"new": f"{BASE}/new", "series": f"{BASE}/new-series"}
    return render(
        request,
        "classes/session_form.html",
        {
            "kind": kind,
            "heading": headings[kind],
            "action": actions.get(kind) or f"{roster_url(session or 0)}/edit",
            "session": session,
            "values": values,
            "problems": problems or [],
            "levels": list(LEVEL_LABELS.items()),
            "modes": [(m.value, m.label) for m in Mode],
            "phones": [(p.value, label) for p, label in PHONE_LABELS.items()],
            "weekdays": list(enumerate(WEEKDAYS)),
            "nths": [(n, f"第{n}") for n in range(1, 6)],
            "age_groups": [(key, label) for key, (label, _) in AGE_GROUPS.items()],
        },
        status_code=status_code,
    )


NEW_DEFAULTS: dict[str, Any] = {
    "level": "first",
    "mode": "first_come",
    "start": "10:00",
    "end": "11:30",
    "capacity": "10",
    "phones": ["iphone", "android"],
}


@router.get("/classes/new", response_class=HTMLResponse, dependencies=counter_only)
def new_session_form(request: Request) -> HTMLResponse:
    return _form_page(request, "new", dict(NEW_DEFAULTS))


@router.post("/classes/new", dependencies=counter_only)
async def create_session(request: Request, actor: CurrentStaff, db_session: DbSession) -> Response:
    values = forms.read(await request.form())
    try:
        session_in = forms.session_create(values, now=clock.now())
        with db_session.begin_nested():  # a refusal keeps nothing of it
            session = flows.create_session(db_session=db_session, session_in=session_in, actor=actor)
    except forms.FormErrors as exc:
        return _form_page(request, "new", values, problems=exc.messages, status_code=400)
    except ClassError as exc:
        return _form_page(request, "new", values, problems=[class_error_message(exc)], status_code=400)
    return redirect(roster_url(session), notice=f"スマホ教室を登録しました（No.{session.id}）。")


@router.get("/classes/new-series", response_class=HTMLResponse, dependencies=counter_only)
def new_series_form(request: Request) -> HTMLResponse:
    return _form_page(request, "series", {**NEW_DEFAULTS, "weekday": "1", "nth": ""})


@router.post("/classes/new-series", dependencies=counter_only)
async def create_series(request: Request, actor: CurrentStaff, db_session: DbSession) -> Response:
    values = forms.read(await request.form())
    try:
        template, recurrence = forms.series(values, now=clock.now())
        with db_session.begin_nested():  # all the series or none of it
            created = flows.create_series(db_session=db_session, template=template, recurrence=recurrence, actor=actor)
    except forms.FormErrors as exc:
        return _form_page(request, "series", values, problems=exc.messages, status_code=400)
    except ClassError as exc:
        return _form_page(request, "series", values, problems=[class_error_message(exc)], status_code=400)
    first, last = created[0], created[-1]
    notice = f"「{template.title}」を{len(created)}回分登録しました（{when_label(first)} 〜 {when_label(last)}）。"
    return redirect(BASE, notice=notice)


@router.get("/classes/{session_id}/edit", response_class=HTMLResponse, dependencies=counter_only)
def edit_session_form(request: Request, session: CurrentClassSession) -> HTMLResponse:
    return _form_page(request, "edit", forms.values_of(session), session=session)


@router.post("/classes/{session_id}/edit", dependencies=counter_only)
async def update_session(
    request: Request, actor: CurrentStaff, db_session: DbSession, session: CurrentClassSession
) -> Response:
    values = forms.read(await request.form())
    try:
        session_in = forms.session_update(values)
        # The service sets the fields on the row before its check refuses: the savepoint's rollback
        # undoes them (and expires the row), so a refused edit keeps nothing.
        with db_session.begin_nested():
            updated = flows.update_session(
                db_session=db_session,
                session=session,
                session_in=session_in,
                actor=actor,
                settings=request.app.state.settings,
            )
    except forms.FormErrors as exc:
        return _form_page(request, "edit", values, session=session, problems=exc.messages, status_code=400)
    except ClassError as exc:
        return _form_page(
            request, "edit", values, session=session, problems=[class_error_message(exc)], status_code=400
        )
    notice = "保存しました。"
    if updated.promoted:
        by_phone = sum(1 for s in updated.promoted if s.line_user_id is None)
        notice += f"キャンセル待ちの{len(updated.promoted)}人が参加決定になりました"
        notice += f"（電話連絡が必要な方: {by_phone}人）。" if by_phone else "（LINEでお知らせしました）。"
    return redirect(roster_url(session), notice=notice)


@router.post("/classes/{session_id}/cancel", dependencies=counter_only)
def cancel_session(
    actor: CurrentStaff,
    db_session: DbSession,
    session: CurrentClassSession,
    reason: Annotated[str, Form(max_length=200)] = "",
) -> Response:
    try:
        pushed, by_phone = flows.cancel_session(
            db_session=db_session, session=session, reason=reason.strip(), actor=actor
        )
    except ClassError as exc:
        return redirect(roster_url(session), error=class_error_message(exc))
    return redirect(
        roster_url(session),
        notice=f"この教室を中止にしました。LINEで{pushed}人にお知らせしました。電話連絡が必要な方: {by_phone}人",
    )


@router.post("/classes/{session_id}/draw", dependencies=counter_only)
def draw_lottery(
    request: Request, actor: CurrentStaff, db_session: DbSession, session: CurrentClassSession
) -> Response:
    """The draw by hand, once the applications have closed (the scheduler would do the same)."""
    if session.mode != Mode.LOTTERY:
        return redirect(roster_url(session), error="先着順の教室なので、抽選はありません。")
    try:
        drawn = flows.draw_now(db_session=db_session, session=session, actor=actor, settings=request.app.state.settings)
    except ClassError as exc:
        return redirect(roster_url(session), error=class_error_message(exc))
    assert drawn is not None
    return redirect(
        roster_url(session),
        notice=(
            f"抽選しました。参加決定{len(drawn.winners)}人、キャンセル待ち{len(drawn.waiting)}人。"
            f"記録したシード: {drawn.session.draw_seed}"
        ),
    )


def upcoming_panel(db_session: Session, actor: Actor) -> dict[str, Any]:
    """The dashboard: the next sessions, with places left and the waitlist."""
    now = clock.now()
    found = session_service.upcoming(db_session=db_session, now=now, limit=PANEL_SIZE)
    return {"rows": rows_for(db_session, found, now)}
