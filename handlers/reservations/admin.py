"""Staff screens for the counter: the day's bookings per office and time, check-in by QR (camera or
a USB keyboard-wedge scanner), booking detail with the pre-filled form (and a printable copy),
arrived / done / no-show, cancellation, phone and counter bookings, and the counter's setup
(procedures, offices, slot rules, closures, one slot's capacity). Every change is audited; form
answers are shown to counter and admin roles only, and never written to the audit log.

Views are thin: parse, call the service, audit, redirect or render.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from pathlib import Path as FilePath
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, HTTPException, Path, Query, Request
from fastapi.responses import FileResponse, HTMLResponse, Response
from pydantic import ValidationError
from sqlalchemy.orm import Session

from admin import audit
from admin.auth import CurrentStaff, DbSession, require_role
from admin.models import Actor
from admin.nav import DashboardPanel, Section, staff_roles
from admin.templating import redirect, render
from bot import clock
from handlers.reservations import api, calendar, forms
from handlers.reservations import notify as reminders
from handlers.reservations.models import (
    STATUS_LABELS,
    ClosureCreate,
    CounterSlot,
    Office,
    OfficeCreate,
    OfficeUpdate,
    Procedure,
    ProcedureCreate,
    ProcedureUpdate,
    Reservation,
    ReservationChannel,
    ReservationCreate,
    ReservationRead,
    ReservationStatus,
    SlotRuleCreate,
    SlotRuleUpdate,
)
from handlers.reservations.service import reservations as reservation_service
from handlers.reservations.service import setup as setup_service
from handlers.reservations.service import slots as slot_service
from handlers.reservations.service.errors import InvalidTransition, NotToday, ReservationError

HERE = FilePath(__file__).parent
STATIC_DIR = HERE / "static"
STATIC_FILES = {"jsQR.js", "checkin.js", "print.css", "print.js"}
MAX_ID = 2**31 - 1
BASE = "/admin/reservations"
WEEKDAYS = "月火水木金土日"
RULE_FIELDS = ("office_id", "weekdays", "start_time", "end_time", "slot_minutes", "capacity")
NOT_TODAY = "この予約は本日のものではありません。予約日をご確認ください。"
NOT_LINE = "（LINE以外の予約です。必要ならお電話ください）"

for code, label in {
    "reservation.create": "窓口予約を登録",
    "reservation.check_in": "来庁を受付",
    "reservation.complete": "手続きを完了",
    "reservation.no_show": "来庁なしを記録",
    "reservation.cancel": "予約を取り消し",
    "reservation.slot": "予約枠を変更",
    "reservation.procedure": "手続きを編集",
    "reservation.office": "窓口を編集",
    "reservation.rule": "予約枠のルールを編集",
    "reservation.closure": "休止日を編集",
    "reservation.purge": "個人情報を削除",
}.items():
    audit.describe_action(code, label)

router = APIRouter()
counter_only = [Depends(require_role("counter"))]


# Shared pieces -------------------------------------------------------------------------------


def _today() -> date:
    return calendar.tokyo_day(clock.now())


def _hhmm(moment: datetime) -> str:
    return moment.astimezone(clock.TOKYO).strftime("%H:%M")


def _day_label(day: date) -> str:
    holiday = calendar.holiday_name(day)
    return f"{day:%Y年%m月%d日}（{WEEKDAYS[day.weekday()]}）" + (f" {holiday}" if holiday else "")


def _reservation_or_404(db_session: DbSession, reservation_id: int) -> Reservation:
    reservation = reservation_service.get(db_session=db_session, reservation_id=reservation_id)
    if reservation is None:
        raise HTTPException(status_code=404, detail="その予約は見つかりません。")
    return reservation


def current_reservation(db_session: DbSession, reservation_id: Annotated[int, Path(ge=1, le=MAX_ID)]) -> Reservation:
    return _reservation_or_404(db_session, reservation_id)


CurrentReservation = Annotated[Reservation, Depends(current_reservation)]


def _answers_for(request: Request, actor: Actor, reservation: Reservation) -> list[tuple[str, str]] | None:
    """The form answers as (label, value) rows, only for roles that see personal data."""
    if not actor.sees_personal_data:
        return None
    answers = reservation_service.answers_of(reservation, request.app.state.settings)
    if answers is None:
        return None
    return [(forms.FIELDS[k].label, forms.display(forms.FIELDS[k], v)) for k, v in answers.items() if k in forms.FIELDS]


def _name_of(request: Request, actor: Actor, reservation: Reservation) -> str:
    if not actor.sees_personal_data:
        return "（非表示）"
    answers = reservation_service.answers_of(reservation, request.app.state.settings)
    if answers is None:
        return "（削除済み）"
    return answers.get("name") or "—"


def _lookups(db_session: DbSession) -> tuple[dict[str, Procedure], dict[str, Office]]:
    procedures = {p.id: p for p in setup_service.get_all_procedures(db_session=db_session, active_only=False)}
    offices = {o.id: o for o in setup_service.get_all_offices(db_session=db_session, active_only=False)}
    return procedures, offices


def _audit(actor: Actor, db_session: DbSession, action: str, target: str, target_id: Any, **kwargs: Any) -> None:
    audit.record(db_session=db_session, actor=actor, action=action, target_type=target, target_id=target_id, **kwargs)


def _parse_day(value: str | None) -> date:
    try:
        return date.fromisoformat(value) if value else _today()
    except ValueError:
        return _today()


# Static files (the camera scanner, print styles) ----------------------------------------------


@router.get("/reservations/static/{name}", include_in_schema=False)
def reservation_static(name: str) -> Response:
    if name not in STATIC_FILES:
        raise HTTPException(status_code=404)
    media = "text/css" if name.endswith(".css") else "text/javascript"
    return FileResponse(STATIC_DIR / name, media_type=media, headers={"Cache-Control": "private, max-age=3600"})


# The day's bookings and check-in --------------------------------------------------------------


@router.get("/reservations", response_class=HTMLResponse)
def list_reservations(
    request: Request,
    actor: CurrentStaff,
    db_session: DbSession,
    day: Annotated[str | None, Query(max_length=10)] = None,
    office: Annotated[str | None, Query(max_length=32)] = None,
) -> HTMLResponse:
    shown_day = _parse_day(day)
    procedures, offices = _lookups(db_session)
    active_offices = [o for o in offices.values() if o.is_active and (not office or o.id == office)]
    sections = []
    for each in active_offices:
        slots = slot_service.get_slots_for_day(db_session=db_session, office_id=each.id, day=shown_day)
        bookings = reservation_service.get_all_for_day(db_session=db_session, day=shown_day, office_id=each.id)
        by_slot: dict[int, list[dict[str, Any]]] = {}
        for reservation in bookings:
            by_slot.setdefault(reservation.slot_id, []).append(
                {
                    "r": reservation,
                    "name": _name_of(request, actor, reservation),
                    "procedure": procedures.get(reservation.procedure_id),
                }
            )
        rows = [
            {"slot": s, "time": f"{_hhmm(s.starts_at)}〜{_hhmm(s.ends_at)}", "bookings": by_slot.pop(s.id, [])}
            for s in slots
        ]
        # Bookings whose slot is not in today's list any more (rules changed) still show.
        for leftovers in by_slot.values():
            rows.append({"slot": None, "time": _hhmm(leftovers[0]["r"].starts_at), "bookings": leftovers})
        active = sum(1 for r in bookings if r.status != ReservationStatus.CANCELLED)
        sections.append(
            {
                "office": each,
                "rows": rows,
                "booked": active,
                "capacity": sum(s.capacity for s in slots if not s.is_closed),
                "arrived": sum(1 for r in bookings if r.status in (ReservationStatus.ARRIVED, ReservationStatus.DONE)),
            }
        )
    return render(
        request,
        "reservations/day.html",
        {
            "day": shown_day,
            "day_label": _day_label(shown_day),
            "is_counter_day": calendar.is_counter_day(shown_day),
            "previous_day": shown_day - timedelta(days=1),
            "next_day": shown_day + timedelta(days=1),
            "today": _today(),
            "office_filter": office or "",
            "offices": [o for o in offices.values() if o.is_active],
            "sections": sections,
            "status_labels": STATUS_LABELS,
            "personal": actor.sees_personal_data,
            "can_edit": actor.role != "viewer",
        },
    )


@router.post("/reservations/lookup", dependencies=counter_only)
def lookup_reservation(db_session: DbSession, token: Annotated[str, Form(max_length=200)] = "") -> Response:
    """The check-in field: a QR token (scanned or typed) opens its booking."""
    reservation = reservation_service.get_by_token(db_session=db_session, token=token)
    if reservation is None:
        return redirect(BASE, error="そのQRコードの予約は見つかりません。もう一度読み取るか、番号をご確認ください。")
    return redirect(f"{BASE}/{reservation.id}?scanned=1")


def _booking_context(request: Request, actor: Actor, db_session: Session, reservation: Any) -> dict[str, Any]:
    """What the detail page and the printable form both show of one booking."""
    procedures, offices = _lookups(db_session)
    return {
        "r": reservation,
        "procedure": procedures.get(reservation.procedure_id),
        "office": offices.get(reservation.office_id),
        "day_label": _day_label(reservation.visit_day),
        "time": _hhmm(reservation.starts_at),
        "answers": _answers_for(request, actor, reservation),
    }


@router.get("/reservations/{reservation_id}", response_class=HTMLResponse)
def show_reservation(
    request: Request, actor: CurrentStaff, db_session: DbSession, reservation: CurrentReservation
) -> HTMLResponse:
    return render(
        request,
        "reservations/detail.html",
        {
            **_booking_context(request, actor, db_session, reservation),
            "personal": actor.sees_personal_data,
            "status_label": STATUS_LABELS[ReservationStatus(reservation.status)],
            "is_today": reservation.visit_day == _today(),
            "scanned": request.query_params.get("scanned") == "1",
            "can_edit": actor.role != "viewer",
        },
    )


@router.get("/reservations/{reservation_id}/print", response_class=HTMLResponse, dependencies=counter_only)
def print_reservation(
    request: Request, actor: CurrentStaff, db_session: DbSession, reservation: CurrentReservation
) -> HTMLResponse:
    """The application form, filled in: the citizen checks it and signs."""
    return render(
        request,
        "reservations/print.html",
        {
            **_booking_context(request, actor, db_session, reservation),
            "printed_at": clock.now_tokyo().strftime("%Y/%m/%d %H:%M"),
        },
    )


@router.post("/reservations/{reservation_id}/visit", dependencies=counter_only)
def record_visit(
    actor: CurrentStaff,
    db_session: DbSession,
    reservation: CurrentReservation,
    action: Annotated[str, Form(max_length=16)],
) -> Response:
    """受付 (arrived), 完了 (done), 来庁なし (no-show)."""
    before = ReservationRead.of(reservation)
    try:
        reservation_service.record_visit(db_session=db_session, reservation=reservation, action=action)
    except NotToday:
        return redirect(f"{BASE}/{reservation.id}", error=NOT_TODAY)
    except InvalidTransition:
        return redirect(f"{BASE}/{reservation.id}", error="この予約の状態では、その操作はできません。")
    _audit(
        actor,
        db_session,
        f"reservation.{action}",
        "reservation",
        reservation.id,
        before=before,
        after=ReservationRead.of(reservation),
    )
    notices = {"check_in": "受付しました。", "complete": "完了にしました。", "no_show": "来庁なしにしました。"}
    return redirect(f"{BASE}/{reservation.id}", notice=notices.get(action, "更新しました。"))


@router.post("/reservations/{reservation_id}/cancel", dependencies=counter_only)
def cancel_reservation(
    actor: CurrentStaff,
    db_session: DbSession,
    reservation: CurrentReservation,
    reason: Annotated[str, Form(max_length=200)] = "",
) -> Response:
    before = ReservationRead.of(reservation)
    try:
        reservation_service.cancel(db_session=db_session, reservation=reservation, reason=reason or "staff")
    except InvalidTransition:
        return redirect(f"{BASE}/{reservation.id}", error="この予約は取り消せません（受付済みか、取り消し済みです）。")
    # The citizen hears of it by LINE, in this same transaction (outbox).
    told = reminders.queue_cancelled_by_staff(db_session=db_session, reservation_id=reservation.id)
    _audit(
        actor,
        db_session,
        "reservation.cancel",
        "reservation",
        reservation.id,
        before=before,
        after=ReservationRead.of(reservation),
        summary=reason[:200] or None,
    )
    notice = "取り消しました。" + ("LINEでお知らせしました。" if told else NOT_LINE)
    return redirect(f"{BASE}/{reservation.id}", notice=notice)


# Phone and counter bookings ---------------------------------------------------------------------


@router.get("/reservations-new", response_class=HTMLResponse, dependencies=counter_only)
def new_reservation_form(
    request: Request,
    db_session: DbSession,
    procedure: Annotated[str, Query(max_length=32)] = "",
    office: Annotated[str, Query(max_length=32)] = "",
    day: Annotated[str | None, Query(max_length=10)] = None,
) -> HTMLResponse:
    return _new_form(request, db_session, procedure, office, _parse_day(day))


def _new_form(
    request: Request,
    db_session: DbSession,
    procedure_id: str,
    office_id: str,
    day: date,
    *,
    error: str | None = None,
    values: dict[str, str] | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    procedures = setup_service.get_all_procedures(db_session=db_session)
    procedure = next((p for p in procedures if p.id == procedure_id), None)
    offices = setup_service.offices_for(db_session=db_session, procedure=procedure) if procedure else []
    office = next((o for o in offices if o.id == office_id), None)
    slots: list[CounterSlot] = []
    if office is not None:
        slots = slot_service.available_slots(
            db_session=db_session,
            office_id=office.id,
            day=day,
            now=clock.now(),
            settings=request.app.state.settings,
            for_citizen=False,
        )
    return render(
        request,
        "reservations/new.html",
        {
            "procedures": procedures,
            "procedure": procedure,
            "offices": offices,
            "office": office,
            "day": day,
            "slots": [(s, f"{_hhmm(s.starts_at)}〜{_hhmm(s.ends_at)}（残り{s.free}）") for s in slots],
            "fields": [forms.FIELDS[k] for k in procedure.fields] if procedure else [],
            "values": values or {},
            "form_error": error,
            "channels": [ReservationChannel.PHONE, ReservationChannel.COUNTER],
        },
        status_code=status_code,
    )


@router.post("/reservations-new", dependencies=counter_only)
async def create_reservation(request: Request, actor: CurrentStaff, db_session: DbSession) -> Response:
    form = await request.form()
    values = {k: str(v)[:400] for k, v in form.items() if isinstance(v, str) and k != "csrf_token"}
    procedure_id, office_id = values.get("procedure", ""), values.get("office", "")
    day = _parse_day(values.get("day"))
    answers = {k.removeprefix("answer_"): v for k, v in values.items() if k.startswith("answer_")}
    channel = values.get("channel") if values.get("channel") in ("phone", "counter") else "phone"
    try:
        reservation_in = ReservationCreate(
            procedure_id=procedure_id,
            slot_id=int(values.get("slot") or 0),
            answers=answers,
            channel=ReservationChannel(channel),
            created_by=actor.name,
        )
        booked = reservation_service.create(
            db_session=db_session, reservation_in=reservation_in, settings=request.app.state.settings
        )
    except (ValueError, ValidationError, ReservationError) as exc:
        message = api.error_message(exc)
        return _new_form(
            request, db_session, procedure_id, office_id, day, error=message, values=values, status_code=400
        )
    reservation = booked.reservation
    after = ReservationRead.of(reservation)
    _audit(actor, db_session, "reservation.create", "reservation", reservation.id, after=after)
    return redirect(f"{BASE}/{reservation.id}", notice=f"予約を登録しました（予約番号 No.{reservation.id}）。")


# One slot: capacity and closed -----------------------------------------------------------------


@router.post("/reservations/slots/{slot_id}", dependencies=counter_only)
def adjust_slot(
    actor: CurrentStaff,
    db_session: DbSession,
    slot_id: Annotated[int, Path(ge=1, le=MAX_ID)],
    capacity: Annotated[int, Form(ge=0, le=100)],
    closed: Annotated[str, Form(max_length=5)] = "",
) -> Response:
    slot = slot_service.get_slot(db_session=db_session, slot_id=slot_id)
    if slot is None:
        raise HTTPException(status_code=404, detail="その予約枠は見つかりません。")
    before = {"capacity": slot.capacity, "is_closed": slot.is_closed}
    slot_service.adjust_slot(db_session=db_session, slot=slot, capacity=capacity, is_closed=closed == "1")
    _audit(
        actor,
        db_session,
        "reservation.slot",
        "counter_slot",
        slot.id,
        before=before,
        after={"capacity": slot.capacity, "is_closed": slot.is_closed},
        summary=f"{slot.office_id} {slot.starts_at.astimezone(clock.TOKYO):%Y-%m-%d %H:%M}",
    )
    return redirect(f"{BASE}?day={slot.day.isoformat()}", notice="予約枠を変更しました。")


# Setup: procedures, offices, rules, closures ---------------------------------------------------


@router.get("/reservations-setup", response_class=HTMLResponse)
def show_setup(request: Request, actor: CurrentStaff, db_session: DbSession) -> HTMLResponse:
    procedures, offices = _lookups(db_session)
    return render(
        request,
        "reservations/setup.html",
        {
            "procedures": list(procedures.values()),
            "offices": list(offices.values()),
            "rules": setup_service.get_all_rules(db_session=db_session),
            "closures": setup_service.get_all_closures(db_session=db_session, since=_today()),
            "fields": list(forms.FIELDS.values()),
            "weekdays": list(enumerate(WEEKDAYS)),
            "can_edit": actor.role != "viewer",
            "settings": request.app.state.settings,
        },
    )


def _lines(value: str) -> list[str]:
    return [line.strip() for line in value.replace("、", "\n").splitlines() if line.strip()]


async def _form(request: Request) -> dict[str, Any]:
    form = await request.form()
    out: dict[str, Any] = {}
    for key in set(form.keys()):
        items = [str(v)[:2000] for v in form.getlist(key) if isinstance(v, str)]
        listed = len(items) > 1 or key in ("office_ids", "fields", "weekdays")
        out[key] = items if listed else (items[0] if items else "")
    return out


def _procedure_values(form: dict[str, Any]) -> dict[str, Any]:
    return {
        "name": form.get("name", ""),
        "description": form.get("description", ""),
        "duration_minutes": int(form.get("duration_minutes") or 30),
        "office_ids": list(form.get("office_ids", [])),
        "documents": _lines(form.get("documents", "")),
        "fields": list(form.get("fields", [])),
        "keywords": _lines(form.get("keywords", "")),
        "sort_order": int(form.get("sort_order") or 0),
        "is_active": form.get("is_active") == "1",
    }


SETUP = "/admin/reservations-setup"


@router.post("/reservations-setup/procedures", dependencies=counter_only)
async def save_procedure(request: Request, actor: CurrentStaff, db_session: DbSession) -> Response:
    """Adds a procedure, or (with an existing id) changes it."""
    form = await _form(request)
    try:
        values = _procedure_values(form)
        existing = setup_service.get_procedure(db_session=db_session, procedure_id=str(form.get("id", "")))
        if existing is None:
            procedure = setup_service.create_procedure(
                db_session=db_session, procedure_in=ProcedureCreate(id=str(form.get("id", "")), **values)
            )
            before = None
        else:
            before = _procedure_snapshot(existing)
            procedure = setup_service.update_procedure(
                db_session=db_session, procedure=existing, procedure_in=ProcedureUpdate(**values)
            )
    except (ValueError, ValidationError, ReservationError):
        return redirect(SETUP, error="手続きの内容が正しくありません（IDは半角英小文字・数字、名前は必須です）。")
    _audit(
        actor,
        db_session,
        "reservation.procedure",
        "procedure",
        procedure.id,
        before=before,
        after=_procedure_snapshot(procedure),
    )
    return redirect(SETUP, notice=f"手続き「{procedure.name}」を保存しました。")


def _procedure_snapshot(procedure: Procedure) -> dict[str, Any]:
    return {
        k: getattr(procedure, k)
        for k in (
            "name",
            "description",
            "duration_minutes",
            "office_ids",
            "documents",
            "fields",
            "keywords",
            "sort_order",
            "is_active",
        )
    }


@router.post("/reservations-setup/offices", dependencies=counter_only)
async def save_office(request: Request, actor: CurrentStaff, db_session: DbSession) -> Response:
    form = await _form(request)
    values = {
        "name": form.get("name", ""),
        "address": form.get("address", ""),
        "phone": form.get("phone", ""),
        "opens": form.get("opens", "08:30"),
        "closes": form.get("closes", "17:15"),
        "sort_order": int(form.get("sort_order") or 0) if str(form.get("sort_order") or "0").isdigit() else 0,
        "is_active": form.get("is_active") == "1",
    }
    try:
        existing = setup_service.get_office(db_session=db_session, office_id=str(form.get("id", "")))
        if existing is None:
            office = setup_service.create_office(
                db_session=db_session, office_in=OfficeCreate(id=str(form.get("id", "")), **values)
            )
            before = None
        else:
            before = {k: getattr(existing, k) for k in values}
            office = setup_service.update_office(
                db_session=db_session, office=existing, office_in=OfficeUpdate(**values)
            )
    except (ValueError, ValidationError, ReservationError):
        return redirect(SETUP, error="窓口の内容が正しくありません（時刻は 08:30 の形で入力してください）。")
    _audit(
        actor,
        db_session,
        "reservation.office",
        "office",
        office.id,
        before=before,
        after={k: getattr(office, k) for k in values},
    )
    return redirect(SETUP, notice=f"窓口「{office.name}」を保存しました。")


@router.post("/reservations-setup/rules", dependencies=counter_only)
async def save_rule(request: Request, actor: CurrentStaff, db_session: DbSession) -> Response:
    """Adds a slot rule, or (with rule_id) changes it; future slots nobody booked follow at once."""
    form = await _form(request)
    try:
        values = {
            "weekdays": [int(d) for d in form.get("weekdays", [])],
            "start_time": form.get("start_time", ""),
            "end_time": form.get("end_time", ""),
            "slot_minutes": int(form.get("slot_minutes") or 30),
            "capacity": int(form.get("capacity") or 0),
            "is_active": form.get("is_active") == "1",
        }
        rule_id = int(form.get("rule_id") or 0)
        rule = setup_service.get_rule(db_session=db_session, rule_id=rule_id) if rule_id else None
        if rule is None:
            rule = setup_service.create_rule(
                db_session=db_session, rule_in=SlotRuleCreate(office_id=str(form.get("office_id", "")), **values)
            )
            before = None
        else:
            before = {k: getattr(rule, k) for k in values}
            rule = setup_service.update_rule(db_session=db_session, rule=rule, rule_in=SlotRuleUpdate(**values))
    except (ValueError, ValidationError, ReservationError):
        return redirect(SETUP, error="予約枠のルールが正しくありません（曜日を選び、開始は終了より前にしてください）。")
    _audit(
        actor,
        db_session,
        "reservation.rule",
        "slot_rule",
        rule.id,
        before=before,
        after={k: getattr(rule, k) for k in ("office_id", *values)},
    )
    return redirect(SETUP, notice="予約枠のルールを保存しました。")


@router.post("/reservations-setup/rules/{rule_id}/delete", dependencies=counter_only)
def delete_rule(actor: CurrentStaff, db_session: DbSession, rule_id: Annotated[int, Path(ge=1, le=MAX_ID)]) -> Response:
    rule = setup_service.get_rule(db_session=db_session, rule_id=rule_id)
    if rule is None:
        raise HTTPException(status_code=404, detail="そのルールは見つかりません。")
    before = {k: getattr(rule, k) for k in RULE_FIELDS}
    setup_service.delete_rule(db_session=db_session, rule=rule)
    _audit(actor, db_session, "reservation.rule", "slot_rule", rule_id, before=before, summary="削除")
    return redirect(SETUP, notice="予約枠のルールを削除しました（予約が入っている枠は残ります）。")


@router.post("/reservations-setup/closures", dependencies=counter_only)
def add_closure(
    actor: CurrentStaff,
    db_session: DbSession,
    day: Annotated[date, Form()],
    office_id: Annotated[str, Form(max_length=32)] = "",
    reason: Annotated[str, Form(max_length=200)] = "",
) -> Response:
    try:
        closure, held = setup_service.create_closure(
            db_session=db_session, closure_in=ClosureCreate(office_id=office_id or None, day=day, reason=reason)
        )
    except (ValidationError, ReservationError):
        return redirect(SETUP, error="その日はすでに休止日です。")
    _audit(
        actor,
        db_session,
        "reservation.closure",
        "closure",
        closure.id,
        after={"office_id": closure.office_id, "day": closure.day, "reason": closure.reason},
    )
    notice = f"{day:%Y/%m/%d} を休止日にしました。"
    if held:
        notice += f"この日の予約が{held}件あります。予約一覧から、取り消しまたはご連絡をお願いします。"
    return redirect(SETUP, notice=notice)


@router.post("/reservations-setup/closures/{closure_id}/delete", dependencies=counter_only)
def delete_closure(
    actor: CurrentStaff, db_session: DbSession, closure_id: Annotated[int, Path(ge=1, le=MAX_ID)]
) -> Response:
    closure = setup_service.get_closure(db_session=db_session, closure_id=closure_id)
    if closure is None:
        raise HTTPException(status_code=404, detail="その休止日は見つかりません。")
    before = {"office_id": closure.office_id, "day": closure.day, "reason": closure.reason}
    setup_service.delete_closure(db_session=db_session, closure=closure)
    _audit(actor, db_session, "reservation.closure", "closure", closure_id, before=before, summary="削除")
    return redirect(SETUP, notice="休止日を取り消しました。")


@router.post("/reservations-setup/purge", dependencies=[Depends(require_role("admin"))])
def purge_now(request: Request, actor: CurrentStaff, db_session: DbSession) -> Response:
    """Runs the nightly purge now (admins)."""
    count = reservation_service.purge_personal_data(db_session=db_session, settings=request.app.state.settings)
    _audit(actor, db_session, "reservation.purge", "reservation", None, summary=f"{count}件")
    return redirect(SETUP, notice=f"保存期間を過ぎた{count}件の個人情報を削除しました。")


# Dashboard ------------------------------------------------------------------------------------


def _todays_counts(db_session: Any, actor: Actor) -> dict[str, Any]:
    today = _today()
    _, offices = _lookups(db_session)
    rows = []
    for office in offices.values():
        if not office.is_active:
            continue
        bookings = reservation_service.get_all_for_day(db_session=db_session, day=today, office_id=office.id)
        rows.append(
            {
                "office": office.name,
                "booked": sum(1 for r in bookings if r.status != ReservationStatus.CANCELLED),
                "arrived": sum(1 for r in bookings if r.status in (ReservationStatus.ARRIVED, ReservationStatus.DONE)),
            }
        )
    return {"rows": rows, "day": today}


SCREENS = (
    Section(
        "reservations",
        "予約・受付",
        "/reservations",
        staff_roles("counter", "viewer"),
        router=router,
        api_router=api.router,
        order=20,
        templates=HERE / "templates",
    ),
    DashboardPanel(
        "todays_bookings",
        "本日の予約（窓口別）",
        roles=staff_roles("counter", "viewer"),
        template="reservations/panel.html",
        load=_todays_counts,
        order=30,
    ),
)
