"""Which departments each staff member belongs to (admins only): a member of a department sees its
cases; 秘書広報課 and staff in no department see every case (service.visible_departments)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, HTTPException, Request
from fastapi import Path as PathParam
from fastapi.responses import HTMLResponse, Response

from admin import users as staff_users
from admin.auth import CurrentStaff, DbSession
from admin.models import StaffRole
from admin.templating import redirect
from handlers.forms import flows
from handlers.forms import service as forms_service
from handlers.forms.admin.shared import BASE, admin_only, lines, render_page
from handlers.forms.models import MAX_ID

router = APIRouter()
MAX_DEPARTMENTS = 20


@router.get("/forms/departments", response_class=HTMLResponse, dependencies=admin_only)
def list_departments(request: Request, db_session: DbSession) -> HTMLResponse:
    rows = []
    for user in staff_users.get_all(db_session=db_session):
        mine = forms_service.departments_of(db_session=db_session, staff_user_id=user.id)
        rows.append(
            {
                "user": user,
                "departments": sorted(mine),
                "others": "\n".join(sorted(d for d in mine if d not in forms_service.DEPARTMENTS)),
                "sees_all": user.role == StaffRole.ADMIN or not mine or forms_service.LETTER_DESK in mine,
            }
        )
    return render_page(request, "forms/departments.html", {"rows": rows, "departments": forms_service.DEPARTMENTS})


@router.post("/forms/departments/{staff_user_id}", dependencies=admin_only)
async def set_departments(
    request: Request,
    actor: CurrentStaff,
    db_session: DbSession,
    staff_user_id: Annotated[int, PathParam(ge=1, le=MAX_ID)],
) -> Response:
    user = staff_users.get(db_session=db_session, staff_user_id=staff_user_id)
    if user is None:
        raise HTTPException(status_code=404, detail="その職員は見つかりません。")
    posted = await request.form()
    chosen = [str(v).strip()[:64] for v in posted.getlist("departments") if isinstance(v, str)]
    others = posted.get("others")
    chosen += [d[:64] for d in lines(str(others)[:2000].replace("、", "\n"))] if isinstance(others, str) else []
    chosen = list(dict.fromkeys(d for d in chosen if d))
    if len(chosen) > MAX_DEPARTMENTS:
        return redirect(f"{BASE}/departments", error=f"所属課は{MAX_DEPARTMENTS}までです。")
    flows.set_departments(db_session=db_session, staff_user_id=user.id, departments=chosen, actor=actor)
    shown = "・".join(chosen) if chosen else "所属なし（すべての申請・通報を表示）"
    return redirect(f"{BASE}/departments#user-{user.id}", notice=f"{user.name}の所属課を「{shown}」にしました。")
