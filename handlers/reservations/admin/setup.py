"""The counter's setup (予約の設定): procedures, offices, slot rules and closed days; and, for admins,
the nightly purge of personal data run now. Every change goes through a staff action (flows.py),
which audits it."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, HTTPException, Path, Request
from fastapi.responses import HTMLResponse, Response
from pydantic import ValidationError

from admin.auth import CurrentStaff, DbSession, require_role
from admin.templating import redirect, render
from handlers.reservations import flows, forms
from handlers.reservations.admin.shared import SETUP, WEEKDAYS, counter_only, lookups, today
from handlers.reservations.models import (
    MAX_ID,
    ClosureCreate,
    OfficeCreate,
    OfficeUpdate,
    ProcedureCreate,
    ProcedureUpdate,
    SlotRuleCreate,
    SlotRuleUpdate,
)
from handlers.reservations.service import setup as setup_service
from handlers.reservations.service.errors import ReservationError

router = APIRouter()


@router.get("/reservations-setup", response_class=HTMLResponse)
def show_setup(request: Request, actor: CurrentStaff, db_session: DbSession) -> HTMLResponse:
    procedures, offices = lookups(db_session)
    return render(
        request,
        "reservations/setup.html",
        {
            "procedures": list(procedures.values()),
            "offices": list(offices.values()),
            "rules": setup_service.get_all_rules(db_session=db_session),
            "office_names": {o.id: o.name for o in offices.values()},
            "closures": setup_service.get_all_closures(db_session=db_session, since=today()),
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


@router.post("/reservations-setup/procedures", dependencies=counter_only)
async def save_procedure(request: Request, actor: CurrentStaff, db_session: DbSession) -> Response:
    """Adds a procedure, or (with an existing id) changes it."""
    form = await _form(request)
    procedure_id = str(form.get("id", ""))
    try:
        values = _procedure_values(form)
        existing = setup_service.get_procedure(db_session=db_session, procedure_id=procedure_id)
        if existing is None:
            procedure = flows.create_procedure(
                db_session=db_session, procedure_in=ProcedureCreate(id=procedure_id, **values), actor=actor
            )
        else:
            procedure = flows.update_procedure(
                db_session=db_session, procedure=existing, procedure_in=ProcedureUpdate(**values), actor=actor
            )
    except (ValueError, ValidationError, ReservationError):
        return redirect(SETUP, error="手続きの内容が正しくありません（IDは半角英小文字・数字、名前は必須です）。")
    return redirect(SETUP, notice=f"手続き「{procedure.name}」を保存しました。")


@router.post("/reservations-setup/offices", dependencies=counter_only)
async def save_office(request: Request, actor: CurrentStaff, db_session: DbSession) -> Response:
    """Adds an office, or (with an existing id) changes it."""
    form = await _form(request)
    office_id = str(form.get("id", ""))
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
        existing = setup_service.get_office(db_session=db_session, office_id=office_id)
        if existing is None:
            office = flows.create_office(
                db_session=db_session, office_in=OfficeCreate(id=office_id, **values), actor=actor
            )
        else:
            office = flows.update_office(
                db_session=db_session, office=existing, office_in=OfficeUpdate(**values), actor=actor
            )
    except (ValueError, ValidationError, ReservationError):
        return redirect(SETUP, error="窓口の内容が正しくありません（時刻は 08:30 の形で入力してください）。")
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
            rule_in = SlotRuleCreate(office_id=str(form.get("office_id", "")), **values)
            flows.create_rule(db_session=db_session, rule_in=rule_in, actor=actor)
        else:
            flows.update_rule(db_session=db_session, rule=rule, rule_in=SlotRuleUpdate(**values), actor=actor)
    except setup_service.OutsideOfficeHours as outside:
        office = outside.office
        return redirect(
            SETUP,
            error=f"予約枠の時間（{outside.start}〜{outside.end}）が、窓口「{office.name}」の受付時間"
            f"（{office.opens}〜{office.closes}）の外にあるため、保存しませんでした。"
            "受付時間の中で設定するか、先に窓口の受付時間を変更してください。",
        )
    except (ValueError, ValidationError, ReservationError):
        return redirect(SETUP, error="予約枠のルールが正しくありません（曜日を選び、開始は終了より前にしてください）。")
    return redirect(SETUP, notice="予約枠のルールを保存しました。")


@router.post("/reservations-setup/rules/{rule_id}/delete", dependencies=counter_only)
def delete_rule(actor: CurrentStaff, db_session: DbSession, rule_id: Annotated[int, Path(ge=1, le=MAX_ID)]) -> Response:
    rule = setup_service.get_rule(db_session=db_session, rule_id=rule_id)
    if rule is None:
        raise HTTPException(status_code=404, detail="そのルールは見つかりません。")
    flows.delete_rule(db_session=db_session, rule=rule, actor=actor)
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
        closure_in = ClosureCreate(office_id=office_id or None, day=day, reason=reason)
        _, held = flows.create_closure(db_session=db_session, closure_in=closure_in, actor=actor)
    except (ValidationError, ReservationError):
        return redirect(SETUP, error="その日はすでに休止日です。")
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
    flows.delete_closure(db_session=db_session, closure=closure, actor=actor)
    return redirect(SETUP, notice="休止日を取り消しました。")


@router.post("/reservations-setup/purge", dependencies=[Depends(require_role("admin"))])
def purge_now(request: Request, actor: CurrentStaff, db_session: DbSession) -> Response:
    """Runs the nightly purge now (admins)."""
    count = flows.purge_personal_data(db_session=db_session, settings=request.app.state.settings, actor=actor)
    return redirect(SETUP, notice=f"保存期間を過ぎた{count}件の個人情報を削除しました。")
