"""One session's roster: every signup together (LINE, family, phone, counter) in the order the rules
keep them, who they are (counter and admin roles only), who must be phoned (no LINE to push to), and
what staff do on it: add a phone or counter signup, cancel one, tick attendance (by hand, or by the
QR code scanned into the same field as the counter's check-in), send a notice to everyone; and the
roster as CSV for Excel."""

from __future__ import annotations

import csv
import io
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
    HIDDEN,
    PURGED,
    CurrentClassSession,
    CurrentSignup,
    class_error_message,
    counter_only,
    moment_label,
    roster_url,
    signup_state,
    when_label,
)
from handlers.classes.models import (
    AGE_GROUPS,
    LEVEL_LABELS,
    NEEDS,
    PHONE_LABELS,
    SIGNUP_STATUS_LABELS,
    Channel,
    ClassSession,
    Details,
    Mode,
    PhoneKind,
    SessionStatus,
    SignupStatus,
)
from handlers.classes.service import sessions as session_service
from handlers.classes.service import signups as signup_service
from handlers.classes.service.errors import ClassError, InvalidTransition

router = APIRouter()
MAX_NOTICE = 1000
PERSONAL_COLUMNS = ["氏名", "フリガナ", "電話番号", "機種", "年代", "配慮事項"]
NOT_FOUND_TOKEN = "そのQRコードの申込は見つかりません。もう一度読み取るか、番号をご確認ください。"
NOT_CONFIRMED = "参加決定の方だけ出席にできます（この申込は「{status}」です）。"


def _status_text(status: str, position: int | None) -> str:
    label = SIGNUP_STATUS_LABELS[SignupStatus(status)]
    return f"{label}（{position}番目）" if position else label


def entries_for(request: Request, actor: Actor, db_session: Session, session: ClassSession) -> list[dict[str, Any]]:
    """The roster's rows: confirmed, applied, waiting (numbered), cancelled; who each is only for the
    roles that see personal data."""
    settings = request.app.state.settings
    rows: list[dict[str, Any]] = []
    waiting = 0
    for signup in signup_service.for_session(db_session=db_session, session_id=session.id):
        position = None
        if signup.status == SignupStatus.WAITLISTED:
            waiting += 1
            position = waiting
        read = signup_service.read(db_session=db_session, signup=signup, position=position)
        details: Details | None = signup_service.details_of(signup, settings) if actor.sees_personal_data else None
        if not actor.sees_personal_data:
            name = HIDDEN
        elif details is None:
            name = PURGED
        else:
            name = details.name
        rows.append(
            {
                "r": read,
                "name": name,
                "details": details,
                "furigana": details.furigana if details else "",
                "phone": forms.phone_text(details.phone) if details else "",
                "phone_type": PHONE_LABELS[PhoneKind(details.phone_type)] if details and details.phone_type else "",
                "age": forms.age_text(details) if details else "",
                "needs": forms.needs_text(details) if details else "",
                "status": _status_text(read.status, read.waitlist_position),
                "channel": Channel(read.channel).label,
                "active": read.status != SignupStatus.CANCELLED,
            }
        )
    return rows


def _roster_page(
    request: Request,
    actor: Actor,
    db_session: Session,
    session: ClassSession,
    *,
    arrived_id: str = "",
    values: dict[str, Any] | None = None,
    problems: list[str] | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    now = clock.now()
    entries = entries_for(request, actor, db_session, session)
    count = session_service.counts_of(db_session=db_session, session=session)
    arrived = None
    if arrived_id.isdigit():
        arrived = next((e for e in entries if e["r"].id == int(arrived_id) and e["r"].attended_at), None)
    is_open = session.status == SessionStatus.OPEN
    return render(
        request,
        "classes/roster.html",
        {
            "s": session,
            "when": when_label(session),
            "level": LEVEL_LABELS.get(session.level, str(session.level)),
            "mode": Mode(session.mode).label,
            "phones_text": "、".join(PHONE_LABELS[PhoneKind(p)] for p in session.phones) or "—",
            "opens": moment_label(session.signup_opens_at),
            "deadline": moment_label(session_service.deadline_of(session)),
            "drawn_at": moment_label(session.drawn_at) if session.drawn_at else "",
            "state": signup_state(session, now),
            "count": count,
            "left": count.places_left(session),
            "entries": entries,
            "to_phone": sum(1 for e in entries if e["active"] and e["r"].needs_phone_call),
            "attended": sum(1 for e in entries if e["r"].attended_at),
            "arrived": arrived,
            "personal": actor.sees_personal_data,
            "can_edit": actor.role != "viewer",
            "can_add": is_open and session.starts_at > now,
            "can_draw": (
                is_open
                and session.mode == Mode.LOTTERY
                and session.drawn_at is None
                and session.signup_deadline is not None
                and session.signup_deadline <= now
            ),
            "is_open": is_open,
            "values": values or {"channel": Channel.PHONE.value},
            "problems": problems or [],
            "channels": [(c.value, c.label) for c in forms.STAFF_CHANNELS],
            "phone_kinds": [(p.value, label) for p, label in PHONE_LABELS.items()],
            "age_groups": [(key, label) for key, (label, _) in AGE_GROUPS.items()],
            "needs": list(NEEDS.items()),
            "max_notice": MAX_NOTICE,
        },
        status_code=status_code,
    )


@router.get("/classes/{session_id}", response_class=HTMLResponse)
def show_roster(
    request: Request,
    actor: CurrentStaff,
    db_session: DbSession,
    session: CurrentClassSession,
    arrived: Annotated[str, Query(max_length=12)] = "",
) -> HTMLResponse:
    """The session and its roster (`arrived`: the signup just scanned in, shown on top)."""
    return _roster_page(request, actor, db_session, session, arrived_id=arrived)


def _csv_cell(value: str) -> str:
    # A name typed as =HYPERLINK(...) must stay text in Excel (CSV formula injection).
    return "'" + value if value[:1] in ("=", "+", "-", "@", "\t", "\r") else value


@router.get("/classes/{session_id}/roster.csv")
def roster_csv(request: Request, actor: CurrentStaff, db_session: DbSession, session: CurrentClassSession) -> Response:
    """The roster for Excel: UTF-8 with a BOM, CRLF. Viewers get it without who the people are."""
    personal = actor.sees_personal_data
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(["番号", "状態", "申込方法", "順番", *(PERSONAL_COLUMNS if personal else []), "出席", "申込日時"])
    for entry in entries_for(request, actor, db_session, session):
        read = entry["r"]
        who = [entry["name"], entry["furigana"], entry["phone"], entry["phone_type"], entry["age"], entry["needs"]]
        writer.writerow(
            [
                str(read.id),
                SIGNUP_STATUS_LABELS[SignupStatus(read.status)],
                entry["channel"],
                str(read.waitlist_position or ""),
                *(_csv_cell(v) for v in (who if personal else [])),
                "出席" if read.attended_at else "",
                read.created_at.astimezone(clock.TOKYO).strftime("%Y/%m/%d %H:%M"),
            ]
        )
    return Response(
        ("\ufeff" + buffer.getvalue()).encode("utf-8"),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="class-{session.id}-roster.csv"'},
    )


# What staff do on the roster ----------------------------------------------------------------------


@router.post("/classes/{session_id}/signups", dependencies=counter_only)
async def add_signup(
    request: Request, actor: CurrentStaff, db_session: DbSession, session: CurrentClassSession
) -> Response:
    """A signup taken by phone or at the counter: the same places and waitlist as LINE."""
    values = forms.read(await request.form())
    try:
        details, channel = forms.signup_details(values)
        with db_session.begin_nested():  # a refusal keeps nothing of it
            signed = flows.add_signup(
                db_session=db_session,
                session=session,
                details=details,
                channel=channel,
                actor=actor,
                settings=request.app.state.settings,
            )
    except forms.FormErrors as exc:
        return _roster_page(request, actor, db_session, session, values=values, problems=exc.messages, status_code=400)
    except ClassError as exc:
        return _roster_page(
            request, actor, db_session, session, values=values, problems=[class_error_message(exc)], status_code=400
        )
    signup = signed.signup
    if signup.status == SignupStatus.CONFIRMED:
        notice = f"申込を登録しました（No.{signup.id}）。参加決定です。"
    elif signup.status == SignupStatus.WAITLISTED:
        position = signup_service.waitlist_position(db_session=db_session, signup=signup)
        notice = (
            f"満員のため、キャンセル待ち（{position}番目）で登録しました（No.{signup.id}）。"
            "参加決定ではないことを、ご本人にお伝えください。"
        )
    else:
        notice = f"抽選の申込として登録しました（No.{signup.id}）。抽選の結果は、お電話でお知らせください。"
    return redirect(f"{roster_url(session)}#signup-{signup.id}", notice=notice)


@router.post("/classes/{session_id}/signups/{signup_id}/cancel", dependencies=counter_only)
def cancel_signup(
    request: Request,
    actor: CurrentStaff,
    db_session: DbSession,
    session: CurrentClassSession,
    signup: CurrentSignup,
    reason: Annotated[str, Form(max_length=200)] = "",
) -> Response:
    try:
        cancelled = flows.cancel_signup(
            db_session=db_session,
            signup=signup,
            reason=reason.strip(),
            actor=actor,
            settings=request.app.state.settings,
        )
    except InvalidTransition:
        return redirect(roster_url(session), error=f"No.{signup.id} の申込は、すでに取り消されています。")
    notice = f"No.{signup.id} の申込を取り消しました。"
    notice += (
        "LINEでお知らせしました。" if signup.line_user_id else "ご本人へのご連絡をお願いします（LINE以外の申込）。"
    )
    if cancelled.promoted:
        by_phone = sum(1 for s in cancelled.promoted if s.line_user_id is None)
        numbers = "、".join(f"No.{s.id}" for s in cancelled.promoted)
        notice += f"キャンセル待ちから{numbers}が参加決定になりました（電話連絡が必要な方: {by_phone}人）。"
    return redirect(roster_url(session), notice=notice)


@router.post("/classes/{session_id}/signups/{signup_id}/attendance", dependencies=counter_only)
def mark_attendance(
    actor: CurrentStaff,
    db_session: DbSession,
    session: CurrentClassSession,
    signup: CurrentSignup,
    attended: Annotated[str, Form(max_length=1)] = "1",
) -> Response:
    """Ticks (attended=1) or unticks (attended=0) one participant."""
    try:
        flows.mark_attendance(db_session=db_session, signup=signup, attended=attended != "0", actor=actor)
    except InvalidTransition:
        status = SIGNUP_STATUS_LABELS[SignupStatus(signup.status)]
        return redirect(roster_url(session), error=NOT_CONFIRMED.format(status=status))
    notice = f"No.{signup.id} を出席にしました。" if attended != "0" else f"No.{signup.id} の出席を取り消しました。"
    return redirect(f"{roster_url(session)}#signup-{signup.id}", notice=notice)


@router.post("/classes/{session_id}/scan", dependencies=counter_only)
def scan_attendance(
    actor: CurrentStaff,
    db_session: DbSession,
    session: CurrentClassSession,
    token: Annotated[str, Form(max_length=200)] = "",
) -> Response:
    """The scanner field: the participant's QR code (scanned, or typed) ticks them as attended."""
    signup = signup_service.get_by_token(db_session=db_session, token=token)
    if signup is None:
        return redirect(roster_url(session), error=NOT_FOUND_TOKEN)
    if signup.session_id != session.id:
        other = session_service.get(db_session=db_session, session_id=signup.session_id)
        where = f"（{when_label(other)}「{other.title}」）" if other else ""
        return redirect(
            roster_url(session),
            error=f"このQRコードは、別のスマホ教室{where}の申込です。この教室の受付ではありません。",
        )
    if signup.status != SignupStatus.CONFIRMED:
        status = SIGNUP_STATUS_LABELS[SignupStatus(signup.status)]
        return redirect(roster_url(session), error=NOT_CONFIRMED.format(status=status))
    if signup.attended_at is not None:
        return redirect(
            f"{roster_url(session)}?arrived={signup.id}", notice=f"No.{signup.id} は、すでに出席を記録しています。"
        )
    flows.mark_attendance(db_session=db_session, signup=signup, attended=True, actor=actor)
    return redirect(f"{roster_url(session)}?arrived={signup.id}", notice=f"No.{signup.id} の出席を記録しました。")


@router.post("/classes/{session_id}/notice", dependencies=counter_only)
def send_notice(
    actor: CurrentStaff,
    db_session: DbSession,
    session: CurrentClassSession,
    body: Annotated[str, Form(max_length=MAX_NOTICE)] = "",
) -> Response:
    """A message to everyone signed up: pushed on LINE; the others are phoned (counted here)."""
    if not body.strip():
        return redirect(roster_url(session), error="お知らせの本文を入力してください。")
    try:
        pushed, by_phone = flows.send_notice(db_session=db_session, session=session, body=body.strip(), actor=actor)
    except ClassError as exc:
        return redirect(roster_url(session), error=class_error_message(exc))
    return redirect(roster_url(session), notice=f"LINEで{pushed}人に送りました。電話連絡が必要な方: {by_phone}人")
