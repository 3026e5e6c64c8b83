"""Staff API for the counter under /api/v1/reservations (Bearer token; roles counter and viewer,
viewers read-only): procedures and free slots, a booking for a phone caller, look-up by QR token,
check-in, cancel. Same rules as LINE and the admin pages: one calendar, one capacity. A change goes
through the same staff action as on the admin pages (flows.py), which tells the citizen and audits it.

`router` has no guard of its own: the admin app mounts it behind its token guard and the section's
roles (admin/nav.py, the "reservations" section's `api_router`). The QR token is sent in a POST
body, never in a URL, so it does not end up in access logs.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from pydantic import BaseModel, Field, ValidationError

from admin.auth import CurrentStaff, DbSession, require_role
from admin.models import Actor
from bot import clock
from handlers.reservations import flows, forms
from handlers.reservations.admin.shared import CurrentReservation
from handlers.reservations.models import (
    MAX_ID,
    ProcedureRead,
    Reservation,
    ReservationChannel,
    ReservationCreate,
    ReservationRead,
    ReservationWithAnswersRead,
    SlotRead,
)
from handlers.reservations.service import reservations as reservation_service
from handlers.reservations.service import setup as setup_service
from handlers.reservations.service import slots as slot_service
from handlers.reservations.service.errors import InvalidAnswers, NotFound, ReservationError

router = APIRouter(prefix="/reservations", tags=["reservations"])
counter_only = [Depends(require_role("counter"))]
ERRORS: dict[int | str, dict[str, object]] = {
    404: {"description": "見つからない"},
    409: {"description": "満員・受付できない状態など、規則で断られた"},
    422: {"description": "入力が正しくない"},
}

MESSAGES = {
    "not_found": "見つかりません。",
    "slot_full": "その時間は満員です。",
    "slot_not_bookable": "その時間は予約できません（閉庁日、休止、過ぎた時間など）。",
    "procedure_not_at_office": "その手続きは、この窓口では受け付けていません。",
    "limit_reached": "予約の上限に達しています。",
    "invalid_transition": "この予約の状態では、その操作はできません。",
    "not_today": "この予約は本日のものではありません。",
    "invalid_answers": "申請内容が正しくありません。",
    "already_exists": "すでにあります。",
}


def error_message(exc: Exception) -> str:
    """What staff read when a rule (or the input) says no; the admin pages show the same."""
    if isinstance(exc, InvalidAnswers):
        field = forms.FIELDS.get(exc.field)
        return f"「{field.label}」の入力が正しくありません。" if field else MESSAGES["invalid_answers"]
    if isinstance(exc, ReservationError):
        return MESSAGES.get(exc.code, "受け付けられませんでした。")
    return "入力内容が正しくありません。"


def _refuse(exc: ReservationError) -> HTTPException:
    status = 404 if isinstance(exc, NotFound) else 422 if exc.code == "invalid_answers" else 409
    return HTTPException(status_code=status, detail=error_message(exc))


def _read(request: Request, actor: Actor, reservation: Reservation) -> ReservationWithAnswersRead:
    """Answers only for roles that see personal data."""
    read = ReservationWithAnswersRead(**ReservationRead.of(reservation).model_dump())
    if actor.sees_personal_data:
        read.answers = reservation_service.answers_of(reservation, request.app.state.settings)
    return read


@router.get("/procedures", response_model=list[ProcedureRead], summary="予約できる手続きの一覧")
def list_procedures(db_session: DbSession) -> list[ProcedureRead]:
    return [ProcedureRead.model_validate(p) for p in setup_service.get_all_procedures(db_session=db_session)]


@router.get("/slots", response_model=list[SlotRead], summary="空いている予約枠（窓口・日ごと）", responses=ERRORS)
def list_slots(
    request: Request,
    db_session: DbSession,
    office_id: Annotated[str, Query(max_length=32, pattern=r"^[a-z0-9][a-z0-9_-]{0,31}$")],
    day: Annotated[date, Query(description="日付（日本時間）")],
    procedure_id: Annotated[str | None, Query(max_length=32)] = None,
) -> list[SlotRead]:
    if setup_service.get_office(db_session=db_session, office_id=office_id) is None:
        raise HTTPException(status_code=404, detail="その窓口は見つかりません。")
    if procedure_id:
        procedure = setup_service.get_active_procedure(db_session=db_session, procedure_id=procedure_id)
        if procedure is None or office_id not in procedure.office_ids:
            return []
    slots = slot_service.available_slots(
        db_session=db_session,
        office_id=office_id,
        day=day,
        now=clock.now(),
        settings=request.app.state.settings,
        for_citizen=False,
    )
    return [SlotRead.model_validate(s) for s in slots]


class PhoneBooking(BaseModel):
    procedure_id: str = Field(max_length=32)
    slot_id: int = Field(ge=1, le=MAX_ID)
    answers: dict[str, str] = Field(default_factory=dict, description="申請内容（項目キー → 値）")
    channel: ReservationChannel = ReservationChannel.PHONE


class BookedRead(ReservationWithAnswersRead):
    qr_token: str | None = Field(default=None, description="QRコードの中身（このときだけ返します）")


@router.post(
    "",
    response_model=BookedRead,
    status_code=201,
    summary="電話・窓口での予約を登録（LINEと同じ定員で）",
    responses=ERRORS,
    dependencies=counter_only,
)
def create_booking(request: Request, actor: CurrentStaff, db_session: DbSession, body: PhoneBooking) -> BookedRead:
    if body.channel == ReservationChannel.LINE:
        raise HTTPException(status_code=422, detail="LINEの予約はLINEから行います。")
    try:
        reservation_in = ReservationCreate(
            procedure_id=body.procedure_id,
            slot_id=body.slot_id,
            answers=body.answers,
            channel=body.channel,
            created_by=actor.name,
        )
        booked = flows.create_booking(
            db_session=db_session, reservation_in=reservation_in, settings=request.app.state.settings, actor=actor
        )
    except ValidationError:
        raise HTTPException(status_code=422, detail="入力内容が正しくありません。") from None
    except ReservationError as exc:
        raise _refuse(exc) from None
    read = _read(request, actor, booked.reservation)
    return BookedRead(**read.model_dump(), qr_token=booked.token)


class TokenLookup(BaseModel):
    token: str = Field(max_length=200, description="QRコードの中身（読み取り機の入力そのままで可）")


@router.post("/lookup", response_model=ReservationWithAnswersRead, summary="QRコードで予約を探す", responses=ERRORS)
def lookup_by_token(
    request: Request, actor: CurrentStaff, db_session: DbSession, body: TokenLookup
) -> ReservationWithAnswersRead:
    reservation = reservation_service.get_by_token(db_session=db_session, token=body.token)
    if reservation is None:
        raise HTTPException(status_code=404, detail="そのQRコードの予約は見つかりません。")
    return _read(request, actor, reservation)


@router.get("/{reservation_id}", response_model=ReservationWithAnswersRead, summary="予約の詳細", responses=ERRORS)
def read_booking(request: Request, actor: CurrentStaff, reservation: CurrentReservation) -> ReservationWithAnswersRead:
    return _read(request, actor, reservation)


@router.post(
    "/{reservation_id}/check-in",
    response_model=ReservationWithAnswersRead,
    summary="来庁を受付する",
    responses=ERRORS,
    dependencies=counter_only,
)
def check_in(
    request: Request, actor: CurrentStaff, db_session: DbSession, reservation: CurrentReservation
) -> ReservationWithAnswersRead:
    try:
        flows.check_in(db_session=db_session, reservation=reservation, actor=actor)
    except ReservationError as exc:
        raise _refuse(exc) from None
    return _read(request, actor, reservation)


class CancelRequest(BaseModel):
    reason: str = Field(default="", max_length=200)


@router.post(
    "/{reservation_id}/cancel",
    response_model=ReservationWithAnswersRead,
    summary="予約を取り消す（LINEの予約なら市民にお知らせ）",
    responses=ERRORS,
    dependencies=counter_only,
)
def cancel_booking(
    request: Request,
    actor: CurrentStaff,
    db_session: DbSession,
    reservation: CurrentReservation,
    body: CancelRequest | None = None,
) -> ReservationWithAnswersRead:
    try:
        flows.cancel_by_staff(
            db_session=db_session, reservation=reservation, reason=body.reason if body else "", actor=actor
        )
    except ReservationError as exc:
        raise _refuse(exc) from None
    return _read(request, actor, reservation)
