"""Staff actions on member groups, one function each: the rule (service/groups.py), the push to the
member concerned (queued in the outbox in the same transaction) and the audit record, written once
here and called by both the admin pages (admin/groups.py) and /api/v1 (api/groups.py).

The audit log keeps who, when, what, and the group's and members' ids, statuses and districts;
never a name, a phone number or a code. A refused action raises the service's error and records
nothing (a rejected roster imports nothing either).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy.orm import Session

from admin import audit
from admin.models import Actor
from bot import outbox as outbox_service
from bot.catalog import t
from bot.messages import text, to_json
from bot.settings import Settings
from handlers.broadcasts.models import GroupMember, MemberGroup
from handlers.broadcasts.service import groups as group_service
from handlers.broadcasts.service.groups import GroupCreate, Issued, MemberIn

ACTION_LABELS = {
    "member_group.create": "配信グループを作成",
    "member_group.import": "配信グループの名簿を取り込み",
    "member_group.member_add": "配信グループに会員を追加",
    "member_group.code_reissue": "登録コードを再発行",
    "member_group.unlink": "配信グループの登録を解除",
}
for code, label in ACTION_LABELS.items():
    audit.describe_action(code, label)
audit.describe_field("members", "会員ID")
audit.describe_field("district", "地区")
audit.describe_field("group_id", "配信グループID")
audit.describe_field("code_expires_at", "登録コードの有効期限")
audit.describe_field("linked", "LINEと連携")


def _member_read(member: GroupMember) -> dict[str, Any]:
    return {
        "group_id": member.group_id,
        "status": str(member.status),
        "district": member.district,
        "code_expires_at": member.code_expires_at.isoformat() if member.code_expires_at else None,
        "linked": member.line_user_id is not None,
    }


def create_group(*, db_session: Session, group_in: GroupCreate, actor: Actor) -> MemberGroup:
    group = group_service.create_group(db_session=db_session, group_in=group_in, created_by=actor.name)
    audit.record(
        db_session=db_session,
        actor=actor,
        action="member_group.create",
        target_type="member_group",
        target_id=group.id,
        after={"name": group.name},
        summary=group.name,
    )
    return group


def _record_added(db_session: Session, group: MemberGroup, issued: Sequence[Issued], actor: Actor, action: str) -> None:
    audit.record(
        db_session=db_session,
        actor=actor,
        action=action,
        target_type="member_group",
        target_id=group.id,
        after={"members": [i.member.id for i in issued]},
        summary=f"{group.name} {len(issued)}人",
    )


def import_csv(
    *, db_session: Session, group: MemberGroup, data: bytes, actor: Actor, settings: Settings
) -> list[Issued]:
    """A roster file, all or nothing: every member gets a code (on the slips, shown this once)."""
    issued = group_service.import_csv(db_session=db_session, group=group, data=data, settings=settings)
    _record_added(db_session, group, issued, actor, "member_group.import")
    return issued


def add_members(
    *, db_session: Session, group: MemberGroup, rows: Sequence[MemberIn], actor: Actor, settings: Settings
) -> list[Issued]:
    """Members typed by hand or sent to the API (numbered from 1 in errors), all or nothing."""
    numbered = [(n, row) for n, row in enumerate(rows, start=1)]
    issued = group_service.import_rows(db_session=db_session, group=group, rows=numbered, settings=settings)
    _record_added(
        db_session, group, issued, actor, "member_group.member_add" if len(rows) == 1 else "member_group.import"
    )
    return issued


def reissue_code(*, db_session: Session, member: GroupMember, actor: Actor, settings: Settings) -> Issued:
    """A new code; the old one stops working (a removed member comes back on the roster)."""
    before = _member_read(member)
    issued = group_service.reissue_code(db_session=db_session, member=member, settings=settings)
    audit.record(
        db_session=db_session,
        actor=actor,
        action="member_group.code_reissue",
        target_type="group_member",
        target_id=member.id,
        before=before,
        after=_member_read(member),
    )
    return issued


def unlink_member(*, db_session: Session, group: MemberGroup, member: GroupMember, actor: Actor) -> bool:
    """Takes a member off the group (retired, moved) and tells them on LINE if they had registered.
    Answers whether they were told."""
    before = _member_read(member)
    line_user_id = group_service.unlink(db_session=db_session, member=member)
    if line_user_id is not None:
        message = text(t("member_groups.removed", group=group.name))
        outbox_service.enqueue_push(
            db_session=db_session,
            to=line_user_id,
            messages=to_json([message]),
            purpose=f"member_group_removed:{member.id}",
        )
    audit.record(
        db_session=db_session,
        actor=actor,
        action="member_group.unlink",
        target_type="group_member",
        target_id=member.id,
        before=before,
        after=_member_read(member),
        summary=group.name,
    )
    return line_user_id is not None
