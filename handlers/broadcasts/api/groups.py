"""Staff API for verified member groups under /api/v1/groups (Bearer token; broadcaster and admin
change, viewers read): the groups, a group's roster, members added (each with a registration code,
returned this once), a code reissued, a member unlinked (and told on LINE). Every change goes through
the staff actions of groups_actions.py, which audit it.

Names and phone numbers are shown to those who manage rosters (broadcaster, admin); a viewer sees
statuses, districts and dates. Codes are only ever in the answer that issued them.

Ids are plain integers in the path: one out of range (beyond 32 bits, zero, negative) is simply not
found (404), like any other id that does not exist.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Request
from pydantic import BaseModel, Field

from admin.auth import CurrentStaff, DbSession
from admin.models import Actor, StaffRole
from handlers.broadcasts import groups_actions
from handlers.broadcasts.guards import broadcaster_only
from handlers.broadcasts.models import GroupMember, MemberGroup, MemberStatus
from handlers.broadcasts.service import groups as group_service
from handlers.broadcasts.service.groups import GroupCreate, GroupNameTaken, InvalidGroup, InvalidTransition, MemberIn

router = APIRouter(prefix="/groups", tags=["groups"])
ROSTER_ROLES = frozenset({StaffRole.ADMIN, StaffRole.BROADCASTER})
ERRORS: dict[int | str, dict[str, object]] = {
    404: {"description": "見つからない"},
    409: {"description": "同じ名前のグループがある・その状態ではできない"},
    422: {"description": "入力が正しくない（名簿は行ごとの理由つき。1行でも誤りがあれば何も登録しない）"},
}


def sees_roster(actor: Actor) -> bool:
    """Who may read members' names and phone numbers: those who manage the rosters."""
    return actor.role in ROSTER_ROLES


def current_group(db_session: DbSession, group_id: int) -> MemberGroup:
    group = group_service.get_group(db_session=db_session, group_id=group_id)
    if group is None:
        raise HTTPException(status_code=404, detail="そのグループは見つかりません。")
    return group


CurrentGroup = Annotated[MemberGroup, Depends(current_group)]


def current_member(db_session: DbSession, group: CurrentGroup, member_id: int) -> GroupMember:
    """The member, only if on the roster of the group in the path."""
    member = group_service.get_member(db_session=db_session, member_id=member_id)
    if member is None or member.group_id != group.id:
        raise HTTPException(status_code=404, detail="その方はこのグループの名簿にいません。")
    return member


CurrentMember = Annotated[GroupMember, Depends(current_member)]


# Schemas -----------------------------------------------------------------------------------------


class GroupRead(BaseModel):
    id: int
    name: str
    description: str
    on_roster: int = Field(description="名簿の人数（解除済みを除く）")
    linked: int = Field(description="LINEで登録済みの人数")
    created_at: datetime


class GroupCreated(BaseModel):
    id: int


class MemberRead(BaseModel):
    id: int
    name: str | None = Field(description="氏名（配信担当・管理者のみ）")
    phone: str | None = Field(description="電話番号（配信担当・管理者のみ）")
    district: str | None
    status: MemberStatus
    status_label: str
    code_expires_at: datetime | None = Field(description="未登録の方の登録コードの有効期限")
    linked_at: datetime | None
    removed_at: datetime | None
    created_at: datetime


class MembersIn(BaseModel):
    members: list[MemberIn] = Field(min_length=1, max_length=group_service.MAX_ROWS)


class IssuedRead(BaseModel):
    id: int
    name: str
    code: str = Field(description="登録コード（このときだけ返します）")


class MembersCreated(BaseModel):
    members: list[IssuedRead]


class CodeRead(BaseModel):
    code: str = Field(description="新しい登録コード（このときだけ返します。前のコードは使えなくなります）")


class UnlinkedRead(MemberRead):
    told: bool = Field(description="LINEで本人にお知らせしたか（登録済みだった方）")


def _member_read(request: Request, actor: Actor, member: GroupMember) -> MemberRead:
    status = MemberStatus(member.status)
    shown = group_service.view(member, request.app.state.settings) if sees_roster(actor) else None
    return MemberRead(
        id=member.id,
        name=shown.name if shown else None,
        phone=(shown.phone or None) if shown else None,
        district=member.district,
        status=status,
        status_label=status.label,
        code_expires_at=member.code_expires_at if status == MemberStatus.PENDING else None,
        linked_at=member.linked_at,
        removed_at=member.removed_at,
        created_at=member.created_at,
    )


def _rejected(exc: group_service.RosterRejected) -> HTTPException:
    return HTTPException(
        status_code=422,
        detail={
            "message": "名簿に誤りがあるため、1人も登録していません。",
            "errors": [{"row": p.line, "message": p.message} for p in exc.problems],
        },
    )


# Routes ------------------------------------------------------------------------------------------


@router.get("", response_model=list[GroupRead], summary="配信グループの一覧（人数つき）")
def list_groups(db_session: DbSession) -> list[GroupRead]:
    return [
        GroupRead(
            id=s.group.id,
            name=s.group.name,
            description=s.group.description,
            on_roster=s.on_roster,
            linked=s.linked,
            created_at=s.group.created_at,
        )
        for s in group_service.get_all_groups(db_session=db_session)
    ]


@router.post(
    "",
    response_model=GroupCreated,
    status_code=201,
    summary="配信グループを作る",
    responses=ERRORS,
    dependencies=broadcaster_only,
)
def create_group(actor: CurrentStaff, db_session: DbSession, body: GroupCreate) -> GroupCreated:
    try:
        group = groups_actions.create_group(db_session=db_session, group_in=body, actor=actor)
    except GroupNameTaken:
        raise HTTPException(status_code=409, detail="同じ名前のグループがすでにあります。") from None
    except InvalidGroup:
        raise HTTPException(status_code=422, detail="グループ名を入力してください（60文字以内）。") from None
    return GroupCreated(id=group.id)


@router.get(
    "/{group_id}/members",
    response_model=list[MemberRead],
    summary="グループの名簿（登録コードは含みません）",
    responses=ERRORS,
)
def list_members(request: Request, actor: CurrentStaff, db_session: DbSession, group: CurrentGroup) -> list[MemberRead]:
    return [
        _member_read(request, actor, m) for m in group_service.get_members(db_session=db_session, group_id=group.id)
    ]


@router.post(
    "/{group_id}/members",
    response_model=MembersCreated,
    status_code=201,
    summary="名簿に追加する（一人ずつ登録コードを発行。1人でも誤りがあれば何も登録しない）",
    responses=ERRORS,
    dependencies=broadcaster_only,
)
def add_members(
    request: Request, actor: CurrentStaff, db_session: DbSession, group: CurrentGroup, body: MembersIn
) -> MembersCreated:
    try:
        issued = groups_actions.add_members(
            db_session=db_session, group=group, rows=body.members, actor=actor, settings=request.app.state.settings
        )
    except group_service.RosterRejected as exc:
        raise _rejected(exc) from None
    return MembersCreated(members=[IssuedRead(id=i.member.id, name=i.name, code=i.code) for i in issued])


@router.post(
    "/{group_id}/members/{member_id}/unlink",
    response_model=UnlinkedRead,
    summary="登録を解除する（退任・転出。登録済みの方にはLINEでお知らせ）",
    responses=ERRORS,
    dependencies=broadcaster_only,
)
def unlink_member(
    request: Request, actor: CurrentStaff, db_session: DbSession, group: CurrentGroup, member: CurrentMember
) -> UnlinkedRead:
    try:
        told = groups_actions.unlink_member(db_session=db_session, group=group, member=member, actor=actor)
    except InvalidTransition:
        raise HTTPException(status_code=409, detail="この方は、すでに解除済みです。") from None
    return UnlinkedRead(**_member_read(request, actor, member).model_dump(), told=told)


@router.post(
    "/{group_id}/members/{member_id}/code",
    response_model=CodeRead,
    status_code=201,
    summary="登録コードを再発行する（前のコードは使えなくなる）",
    responses=ERRORS,
    dependencies=broadcaster_only,
)
def reissue_code(request: Request, actor: CurrentStaff, db_session: DbSession, member: CurrentMember) -> CodeRead:
    try:
        issued = groups_actions.reissue_code(
            db_session=db_session, member=member, actor=actor, settings=request.app.state.settings
        )
    except InvalidTransition:
        raise HTTPException(
            status_code=409, detail="LINEで登録済みの方のコードは再発行できません（先に登録を解除してください）。"
        ) from None
    return CodeRead(code=issued.code)
