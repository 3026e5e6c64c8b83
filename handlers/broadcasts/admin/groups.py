"""The verified member groups' pages (配信 › 配信グループ): the groups (and a new one), a group's
roster, a roster file imported (every bad row shown in a table, nothing imported), a member added
by hand, a code reissued, a member unlinked (told on LINE), and the printable registration slips.

Codes are shown once: the slips page is the answer to the POST that issued them (import, add,
reissue), never a page of its own, so nobody can open it again later and nothing stores a code.
Broadcasters and admins change rosters and read names and phone numbers; viewers read statuses,
districts and counts. Views are thin: parse, call a staff action (groups_actions.py), render.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, Response
from pydantic import ValidationError
from sqlalchemy.orm import Session
from starlette.datastructures import UploadFile

from admin.auth import CurrentStaff, DbSession
from admin.models import Actor
from admin.templating import redirect, render
from bot import clock
from handlers.broadcasts import groups_actions
from handlers.broadcasts.admin.shared import BASE, slip_assets
from handlers.broadcasts.api.groups import CurrentGroup, CurrentMember, sees_roster
from handlers.broadcasts.guards import broadcaster_only
from handlers.broadcasts.models import MemberGroup, MemberStatus
from handlers.broadcasts.service import groups as group_service
from handlers.broadcasts.service.groups import (
    GroupCreate,
    GroupNameTaken,
    InvalidGroup,
    InvalidTransition,
    Issued,
    MemberIn,
    RosterRejected,
    RowProblem,
)
from handlers.gis.service.places import DISTRICTS

router = APIRouter()
GROUPS = f"{BASE}/groups"
MAX_UPLOAD = 1024 * 1024  # a roster of a few thousand rows is far smaller


def group_url(group: MemberGroup | int) -> str:
    return f"{GROUPS}/{group if isinstance(group, int) else group.id}"


def _date(moment: Any) -> str:
    if moment is None:
        return "—"
    local = moment.astimezone(clock.TOKYO)
    return f"{local.year}年{local.month}月{local.day}日"


# The groups ----------------------------------------------------------------------------------------


def _groups_page(
    request: Request,
    actor: Actor,
    db_session: Session,
    *,
    values: dict[str, str] | None = None,
    problem: str = "",
    status_code: int = 200,
) -> HTMLResponse:
    return render(
        request,
        "broadcasts/groups.html",
        {
            "groups": group_service.get_all_groups(db_session=db_session),
            "can_edit": actor.role != "viewer",
            "values": values or {},
            "problem": problem,
        },
        status_code=status_code,
    )


@router.get("/broadcasts/groups", response_class=HTMLResponse)
def list_groups(request: Request, actor: CurrentStaff, db_session: DbSession) -> HTMLResponse:
    return _groups_page(request, actor, db_session)


@router.post("/broadcasts/groups", dependencies=broadcaster_only)
def create_group(
    request: Request,
    actor: CurrentStaff,
    db_session: DbSession,
    name: Annotated[str, Form(max_length=200)] = "",
    description: Annotated[str, Form(max_length=500)] = "",
) -> Response:
    values = {"name": name, "description": description}
    try:
        group_in = GroupCreate(name=name, description=description.strip())
        group = groups_actions.create_group(db_session=db_session, group_in=group_in, actor=actor)
    except GroupNameTaken:
        problem = f"「{name.strip()}」というグループは、すでにあります。"
        return _groups_page(request, actor, db_session, values=values, problem=problem, status_code=400)
    except (InvalidGroup, ValidationError):
        problem = "グループ名（60文字以内）を入力してください。説明は200文字以内です。"
        return _groups_page(request, actor, db_session, values=values, problem=problem, status_code=400)
    return redirect(
        group_url(group), notice=f"グループ「{group.name}」を作りました。名簿を取り込むか、1人ずつ追加してください。"
    )


# One group's roster --------------------------------------------------------------------------------


def _roster_page(
    request: Request,
    actor: Actor,
    db_session: Session,
    group: MemberGroup,
    *,
    problems: Sequence[RowProblem] = (),
    problem_source: str = "",
    values: dict[str, str] | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    settings = request.app.state.settings
    personal = sees_roster(actor)
    now = clock.now()
    rows = []
    for member in group_service.get_members(db_session=db_session, group_id=group.id):
        shown = group_service.view(member, settings) if personal else None
        status = MemberStatus(member.status)
        expired = status == MemberStatus.PENDING and (member.code_expires_at is None or member.code_expires_at <= now)
        rows.append(
            {
                "m": member,
                "name": shown.name if shown else "（非表示）",
                "phone": (shown.phone or "—") if shown else "",
                "district": member.district or "—",
                "status": status.value,
                "status_label": status.label,
                "linked_on": _date(member.linked_at) if member.linked_at else "—",
                "removed_on": _date(member.removed_at) if member.removed_at else "",
                "expires_on": _date(member.code_expires_at) if status == MemberStatus.PENDING else "",
                "expired": expired,
            }
        )
    counts = {s.value: sum(1 for r in rows if r["status"] == s.value) for s in MemberStatus}
    return render(
        request,
        "broadcasts/groups_roster.html",
        {
            "g": group,
            "rows": rows,
            "counts": counts,
            "personal": personal,
            "can_edit": actor.role != "viewer",
            "problems": problems,
            "problem_source": problem_source,
            "values": values or {},
            "districts": list(DISTRICTS),
            "ttl_days": settings.member_code_ttl_days,
        },
        status_code=status_code,
    )


@router.get("/broadcasts/groups/{group_id}", response_class=HTMLResponse)
def show_group(request: Request, actor: CurrentStaff, db_session: DbSession, group: CurrentGroup) -> HTMLResponse:
    return _roster_page(request, actor, db_session, group)


def _slips(request: Request, group: MemberGroup, issued: Sequence[Issued], lead: str) -> HTMLResponse:
    """The registration slips: the only time these codes are shown."""
    settings = request.app.state.settings
    return render(
        request,
        "broadcasts/groups_slips.html",
        {
            "g": group,
            "slips": [{"i": i, "expires_on": _date(i.expires_at)} for i in issued],
            "lead": lead,
            "city": settings.city_name,
            "phone": settings.city_phone,
            "hours": settings.city_hours,
            "back": group_url(group),
            **slip_assets(),
        },
    )


@router.post("/broadcasts/groups/{group_id}/import", dependencies=broadcaster_only)
async def import_roster(request: Request, actor: CurrentStaff, db_session: DbSession, group: CurrentGroup) -> Response:
    """A roster file (CSV from Excel: UTF-8 or Shift_JIS), all or nothing; then the slips."""
    form = await request.form()
    upload = form.get("file")
    data = b""
    if isinstance(upload, UploadFile):
        data = await upload.read(MAX_UPLOAD + 1)
    if not data:
        problems = [RowProblem(0, "CSVファイルを選んでください。")]
        return _roster_page(
            request, actor, db_session, group, problems=problems, problem_source="import", status_code=400
        )
    if len(data) > MAX_UPLOAD:
        problems = [RowProblem(0, "ファイルが大きすぎます（1MBまで）。名簿を分けて取り込んでください。")]
        return _roster_page(
            request, actor, db_session, group, problems=problems, problem_source="import", status_code=400
        )
    try:
        with db_session.begin_nested():  # a rejected file leaves nothing behind
            issued = groups_actions.import_csv(
                db_session=db_session, group=group, data=data, actor=actor, settings=request.app.state.settings
            )
    except RosterRejected as exc:
        return _roster_page(
            request, actor, db_session, group, problems=exc.problems, problem_source="import", status_code=400
        )
    return _slips(request, group, issued, f"名簿から{len(issued)}人を登録しました。")


@router.post("/broadcasts/groups/{group_id}/members", dependencies=broadcaster_only)
def add_member(
    request: Request,
    actor: CurrentStaff,
    db_session: DbSession,
    group: CurrentGroup,
    name: Annotated[str, Form(max_length=200)] = "",
    district: Annotated[str, Form(max_length=100)] = "",
    phone: Annotated[str, Form(max_length=100)] = "",
) -> Response:
    """One member typed by hand; then their slip."""
    row = MemberIn(name=name, district=district or None, phone=phone or None)
    try:
        with db_session.begin_nested():
            issued = groups_actions.add_members(
                db_session=db_session, group=group, rows=[row], actor=actor, settings=request.app.state.settings
            )
    except RosterRejected as exc:
        return _roster_page(
            request,
            actor,
            db_session,
            group,
            problems=exc.problems,
            problem_source="add",
            values={"name": name, "district": district, "phone": phone},
            status_code=400,
        )
    return _slips(request, group, issued, f"「{issued[0].name}」さんを名簿に追加しました。")


@router.post("/broadcasts/groups/{group_id}/members/{member_id}/code", dependencies=broadcaster_only)
def reissue_code(
    request: Request, actor: CurrentStaff, db_session: DbSession, group: CurrentGroup, member: CurrentMember
) -> Response:
    try:
        issued = groups_actions.reissue_code(
            db_session=db_session, member=member, actor=actor, settings=request.app.state.settings
        )
    except InvalidTransition:
        return redirect(
            group_url(group), error="LINEで登録済みの方のコードは再発行できません。先に登録を解除してください。"
        )
    return _slips(
        request, group, [issued], f"「{issued.name}」さんの登録コードを再発行しました。前のコードは使えません。"
    )


@router.post("/broadcasts/groups/{group_id}/members/{member_id}/unlink", dependencies=broadcaster_only)
def unlink_member(
    request: Request, actor: CurrentStaff, db_session: DbSession, group: CurrentGroup, member: CurrentMember
) -> Response:
    name = group_service.name_of(member, request.app.state.settings)
    try:
        told = groups_actions.unlink_member(db_session=db_session, group=group, member=member, actor=actor)
    except InvalidTransition:
        return redirect(group_url(group), error=f"「{name}」さんは、すでに解除済みです。")
    notice = f"「{name}」さんの登録を解除しました。"
    notice += "LINEでご本人にお知らせしました。" if told else "（LINEの登録前だったため、お知らせは送っていません。）"
    return redirect(group_url(group), notice=notice)
