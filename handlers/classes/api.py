"""Staff API for スマホ教室 under /api/v1/classes (Bearer token; roles counter and viewer, viewers
read-only): sessions (list, create, read, change), a session's roster, a signup taken by phone or at
the counter, cancel, attendance. Same rules as LINE and the admin pages: one capacity, one waitlist
in arrival order. Every change goes through the staff action of flows.py, which tells the citizens
concerned and audits it.

`router` has no guard of its own: the admin app mounts it behind its token guard and the section's
roles (handlers/classes/admin: "classes", counter and viewer). Names and phone numbers are shown
only to the roles that see personal data (counter, admin).

Ids are plain integers in the path: one out of range (beyond 32 bits, zero, negative) is simply not
found (404), like any other id that does not exist.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from pydantic import Field

from admin.auth import CurrentStaff, DbSession, require_role
from admin.models import Actor
from bot import clock
from handlers.classes import flows
from handlers.classes.models import (
    AttendanceIn,
    CancelIn,
    ClassSession,
    Details,
    PhoneSignupCreate,
    SessionCreate,
    SessionRead,
    SessionUpdate,
    Signup,
    SignupStatus,
    SignupWithDetailsRead,
)
from handlers.classes.service import sessions as session_service
from handlers.classes.service import signups as signup_service
from handlers.classes.service.errors import ClassError, InvalidSession, NotFound

router = APIRouter(prefix="/classes", tags=["classes"])
counter_only = [Depends(require_role("counter"))]
ERRORS: dict[int | str, dict[str, object]] = {
    404: {"description": "見つからない"},
    409: {"description": "満員・重複・受付終了など、規則で断られた"},
    422: {"description": "入力が正しくない"},
}
# The earliest a session can start: "past ones too" is every session since then.
_EPOCH = datetime(2000, 1, 1, tzinfo=clock.TOKYO)

MESSAGES = {
    "not_found": "見つかりません。",
    "signup_closed": "この教室は申込を受け付けていません（開始済み・中止など）。",
    "already_signed_up": "この方はすでにこの教室に申し込んでいます。",
    "limit_reached": "申込の上限に達しています。",
    "invalid_transition": "この申込の状態では、その操作はできません。",
    "invalid_session": "教室の内容が正しくありません。",
}


def error_message(exc: ClassError) -> str:
    """What staff read when a rule says no (an invalid session also says what is wrong)."""
    if isinstance(exc, InvalidSession) and str(exc):
        return f"{MESSAGES['invalid_session']}（{exc}）"
    return MESSAGES.get(exc.code, "受け付けられませんでした。")


def _refuse(exc: ClassError) -> HTTPException:
    status = 404 if isinstance(exc, NotFound) else 422 if isinstance(exc, InvalidSession) else 409
    return HTTPException(status_code=status, detail=error_message(exc))


def current_session(db_session: DbSession, session_id: int) -> ClassSession:
    session = session_service.get(db_session=db_session, session_id=session_id)
    if session is None:
        raise HTTPException(status_code=404, detail="その教室は見つかりません。")
    return session


def current_signup(db_session: DbSession, signup_id: int) -> Signup:
    signup = signup_service.get(db_session=db_session, signup_id=signup_id)
    if signup is None:
        raise HTTPException(status_code=404, detail="その申込は見つかりません。")
    return signup


CurrentSession = Annotated[ClassSession, Depends(current_session)]
CurrentSignup = Annotated[Signup, Depends(current_signup)]


def _signup_read(
    request: Request, actor: Actor, db_session: DbSession, signup: Signup, position: int | None = None
) -> SignupWithDetailsRead:
    """Who it is only for roles that see personal data; `details` stays null for the others."""
    read = SignupWithDetailsRead(
        **signup_service.read(db_session=db_session, signup=signup, position=position).model_dump()
    )
    if actor.sees_personal_data:
        read.details = signup_service.details_of(signup, request.app.state.settings)
    return read


# Sessions -------------------------------------------------------------------------------------


@router.get("/sessions", response_model=list[SessionRead], summary="教室の一覧（これからの回、古い順）")
def list_sessions(
    db_session: DbSession,
    include_past: Annotated[bool, Query(description="終わった回も含める")] = False,
    month: Annotated[str | None, Query(pattern=r"^\d{4}-(0[1-9]|1[0-2])$", description="月（例 2027-01）")] = None,
    venue: Annotated[str | None, Query(max_length=100, description="会場名（完全一致）")] = None,
) -> list[SessionRead]:
    # Staff see called-off sessions too (status "cancelled"): the citizens' list does not.
    found = session_service.upcoming(
        db_session=db_session,
        now=_EPOCH if include_past else clock.now(),
        month=(int(month[:4]), int(month[5:])) if month else None,
        venue=venue.replace("\x00", "") if venue else None,
        include_cancelled=True,
    )
    known = session_service.counts(db_session=db_session, session_ids=[s.id for s in found])
    return [session_service.read(db_session=db_session, session=s, known=known[s.id]) for s in found]


@router.post(
    "/sessions",
    response_model=SessionRead,
    status_code=201,
    summary="教室を登録する",
    responses=ERRORS,
    dependencies=counter_only,
)
def create_session(actor: CurrentStaff, db_session: DbSession, body: SessionCreate) -> SessionRead:
    try:
        session = flows.create_session(db_session=db_session, session_in=body, actor=actor)
    except ClassError as exc:
        raise _refuse(exc) from None
    db_session.refresh(session)  # times as stored (UTC), as every later read shows them
    return session_service.read(db_session=db_session, session=session)


@router.get("/sessions/{session_id}", response_model=SessionRead, summary="教室の詳細", responses=ERRORS)
def read_session(db_session: DbSession, session: CurrentSession) -> SessionRead:
    return session_service.read(db_session=db_session, session=session)


class SessionUpdatedRead(SessionRead):
    promoted: list[int] = Field(default_factory=list, description="定員が増えて参加決定になった申込のID")


@router.patch(
    "/sessions/{session_id}",
    response_model=SessionUpdatedRead,
    summary="教室を変更する（定員を増やすとキャンセル待ちが繰り上がる）",
    responses=ERRORS,
    dependencies=counter_only,
)
def update_session(
    request: Request, actor: CurrentStaff, db_session: DbSession, session: CurrentSession, body: SessionUpdate
) -> SessionUpdatedRead:
    try:
        updated = flows.update_session(
            db_session=db_session, session=session, session_in=body, actor=actor, settings=request.app.state.settings
        )
    except ClassError as exc:
        raise _refuse(exc) from None
    db_session.refresh(updated.session)
    read = session_service.read(db_session=db_session, session=updated.session)
    return SessionUpdatedRead(**read.model_dump(), promoted=[s.id for s in updated.promoted])


# Signups --------------------------------------------------------------------------------------


@router.get(
    "/sessions/{session_id}/signups",
    response_model=list[SignupWithDetailsRead],
    summary="教室の申込一覧（参加決定・抽選申込・キャンセル待ちの順、取り消しは最後）",
    responses=ERRORS,
)
def list_signups(
    request: Request, actor: CurrentStaff, db_session: DbSession, session: CurrentSession
) -> list[SignupWithDetailsRead]:
    roster = signup_service.for_session(db_session=db_session, session_id=session.id)
    waiting = [s for s in roster if s.status == SignupStatus.WAITLISTED]  # already in queue order
    positions = {s.id: n for n, s in enumerate(waiting, start=1)}
    return [_signup_read(request, actor, db_session, s, positions.get(s.id)) for s in roster]


class SignedRead(SignupWithDetailsRead):
    qr_token: str | None = Field(default=None, description="QRコードの中身（このときだけ返します）")


@router.post(
    "/sessions/{session_id}/signups",
    response_model=SignedRead,
    status_code=201,
    summary="電話・窓口での申込を登録する（LINEと同じ定員とキャンセル待ちで）",
    responses=ERRORS,
    dependencies=counter_only,
)
def create_signup(
    request: Request, actor: CurrentStaff, db_session: DbSession, session: CurrentSession, body: PhoneSignupCreate
) -> SignedRead:
    details = Details.model_validate(body.model_dump(exclude={"channel"}))
    try:
        signed = flows.add_signup(
            db_session=db_session,
            session=session,
            details=details,
            channel=body.channel,
            actor=actor,
            settings=request.app.state.settings,
        )
    except ClassError as exc:
        raise _refuse(exc) from None
    read = _signup_read(request, actor, db_session, signed.signup)
    return SignedRead(**read.model_dump(), qr_token=signed.token)


class CancelledRead(SignupWithDetailsRead):
    promoted: list[int] = Field(default_factory=list, description="空いた席で参加決定になった申込のID")


@router.post(
    "/signups/{signup_id}/cancel",
    response_model=CancelledRead,
    summary="申込を取り消す（空いた席はキャンセル待ちの先頭へ）",
    responses=ERRORS,
    dependencies=counter_only,
)
def cancel_signup(
    request: Request, actor: CurrentStaff, db_session: DbSession, signup: CurrentSignup, body: CancelIn | None = None
) -> CancelledRead:
    try:
        cancelled = flows.cancel_signup(
            db_session=db_session,
            signup=signup,
            reason=body.reason if body else "",
            actor=actor,
            settings=request.app.state.settings,
        )
    except ClassError as exc:
        raise _refuse(exc) from None
    read = _signup_read(request, actor, db_session, cancelled.signup)
    return CancelledRead(**read.model_dump(), promoted=[s.id for s in cancelled.promoted])


@router.post(
    "/signups/{signup_id}/attendance",
    response_model=SignupWithDetailsRead,
    summary="出席を記録する（attended: false で取り消し）",
    responses=ERRORS,
    dependencies=counter_only,
)
def mark_attendance(
    request: Request,
    actor: CurrentStaff,
    db_session: DbSession,
    signup: CurrentSignup,
    body: AttendanceIn | None = None,
) -> SignupWithDetailsRead:
    try:
        flows.mark_attendance(
            db_session=db_session, signup=signup, attended=body.attended if body else True, actor=actor
        )
    except ClassError as exc:
        raise _refuse(exc) from None
    return _signup_read(request, actor, db_session, signup)
