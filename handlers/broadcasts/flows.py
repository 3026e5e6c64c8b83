"""Staff actions on broadcasts, one function each: the rule (service/broadcasts.py) and the audit
record, written once here and called by both the admin pages (admin/compose.py) and /api/v1
(api/broadcasts.py). Every step of the two-person rule is in the audit log: who wrote it, who
approved it, who cancelled it. A refused action raises the service's error and records nothing.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel
from sqlalchemy.orm import Session

from admin import audit
from admin.models import Actor
from bot import clock
from bot import outbox as outbox_service
from bot.settings import Settings
from handlers.broadcasts.models import Broadcast
from handlers.broadcasts.service import broadcasts as service
from handlers.broadcasts.service.broadcasts import Author, BroadcastDraft

ACTION_LABELS = {
    "broadcast.create": "お知らせを作成",
    "broadcast.approve": "お知らせを承認",
    "broadcast.cancel": "お知らせの配信を取り消し",
    "broadcast.test_send": "お知らせをテスト送信",
}
for code, label in ACTION_LABELS.items():
    audit.describe_action(code, label)


class BroadcastAudit(BaseModel):
    """What the audit log keeps of a broadcast: no recipients, the text clipped."""

    id: int
    title: str
    text: str
    template: str
    audience: dict[str, Any]
    urgent: bool
    status: str
    send_at: str | None
    recurrence: dict[str, Any] | None
    created_by: str
    approved_by: str | None


def _snapshot(broadcast: Broadcast) -> BroadcastAudit:
    return BroadcastAudit(
        id=broadcast.id,
        title=broadcast.title,
        text=broadcast.text[:500],
        template=broadcast.template,
        audience=broadcast.audience,
        urgent=broadcast.urgent,
        status=str(broadcast.status),
        send_at=broadcast.send_at.astimezone(clock.TOKYO).isoformat() if broadcast.send_at else None,
        recurrence=broadcast.recurrence,
        created_by=broadcast.created_by,
        approved_by=broadcast.approved_by,
    )


def author_of(actor: Actor) -> Author:
    return Author(name=actor.name, staff_id=actor.id)


def create(*, db_session: Session, draft: BroadcastDraft, actor: Actor, settings: Settings) -> Broadcast:
    broadcast = service.create(db_session=db_session, draft=draft, author=author_of(actor), settings=settings)
    audit.record(
        db_session=db_session,
        actor=actor,
        action="broadcast.create",
        target_type="broadcast",
        target_id=broadcast.id,
        after=_snapshot(broadcast),
        summary=broadcast.title,
    )
    return broadcast


def approve(*, db_session: Session, broadcast_id: int, actor: Actor, settings: Settings) -> Broadcast:
    before = _snapshot(service.get(db_session=db_session, broadcast_id=broadcast_id))
    broadcast = service.approve(
        db_session=db_session, broadcast_id=broadcast_id, approver=author_of(actor), settings=settings
    )
    audit.record(
        db_session=db_session,
        actor=actor,
        action="broadcast.approve",
        target_type="broadcast",
        target_id=broadcast.id,
        before=before,
        after=_snapshot(broadcast),
        summary=broadcast.title,
    )
    return broadcast


def cancel(*, db_session: Session, broadcast_id: int, actor: Actor) -> Broadcast:
    before = _snapshot(service.get(db_session=db_session, broadcast_id=broadcast_id))
    broadcast = service.cancel(db_session=db_session, broadcast_id=broadcast_id, by=author_of(actor))
    audit.record(
        db_session=db_session,
        actor=actor,
        action="broadcast.cancel",
        target_type="broadcast",
        target_id=broadcast.id,
        before=before,
        after=_snapshot(broadcast),
        summary=broadcast.title,
    )
    return broadcast


def test_send(*, db_session: Session, broadcast_id: int, line_user_id: str, actor: Actor, settings: Settings) -> None:
    """「自分にテスト送信」: the broadcast's own messages, pushed to one LINE friend (the staff member's own)."""
    broadcast = service.get(db_session=db_session, broadcast_id=broadcast_id)
    outbox_service.enqueue_push(
        db_session=db_session,
        to=line_user_id,
        messages=service.messages_of(broadcast, settings),
        purpose="broadcast_test",
    )
    audit.record(
        db_session=db_session,
        actor=actor,
        action="broadcast.test_send",
        target_type="broadcast",
        target_id=broadcast.id,
        summary=broadcast.title,
    )
