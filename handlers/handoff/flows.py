"""Staff actions in the inbox, one function each: the rule (service), the push to the citizen
(notify.py, in the same transaction) and the audit record, called by both the admin pages and
/api/v1/inbox. The audit log keeps who did what to which thread, never what was written."""

from __future__ import annotations

from sqlalchemy.orm import Session

from admin import audit
from admin.models import Actor
from bot.settings import Settings
from handlers.handoff import notify
from handlers.handoff import service as handoff_service
from handlers.handoff.models import (
    CannedReply,
    CannedReplyIn,
    HandoffMessage,
    HandoffRequest,
    HandoffRequestRead,
    HandoffStatus,
    Sender,
)

ACTION_LABELS = {
    "handoff.reply": "職員対応で返信",
    "handoff.status": "職員対応の状態を変更",
    "handoff.assign": "職員対応の担当を変更",
    "handoff.canned": "定型文を編集",
}
for code, label in ACTION_LABELS.items():
    audit.describe_action(code, label)


def _read(request: HandoffRequest) -> dict[str, object]:
    return HandoffRequestRead.model_validate(request).model_dump(mode="json")


def reply(
    *, db_session: Session, request: HandoffRequest, body: str, actor: Actor, settings: Settings
) -> HandoffMessage:
    """Sends a reply by push (kept in the thread); an 未対応 thread becomes 対応中 and is the
    replier's unless assigned; the bot stays quiet for the citizen for another wait."""
    before = _read(request)
    message = handoff_service.add_message(
        db_session=db_session, settings=settings, request=request, sender=Sender.STAFF, text=body, staff_name=actor.name
    )
    notify.staff_reply(db_session=db_session, request=request, message=message, body=body)
    if request.status != HandoffStatus.IN_PROGRESS:
        handoff_service.set_status(
            db_session=db_session, request=request, status=HandoffStatus.IN_PROGRESS, staff_name=actor.name
        )
    if request.assigned_to is None:
        handoff_service.assign(db_session=db_session, request=request, staff_id=actor.id, staff_name=actor.name)
    handoff_service.wait_for_staff(db_session=db_session, request=request, settings=settings, noted=True)
    audit.record(
        db_session=db_session,
        actor=actor,
        action="handoff.reply",
        target_type="handoff_request",
        target_id=request.id,
        before=before,
        after=_read(request),
    )
    return message


def set_status(*, db_session: Session, request: HandoffRequest, status: HandoffStatus, actor: Actor) -> bool:
    """Changes the status; closing (対応済み) hands the citizen back to the bot, telling them if
    they were waiting. Answers whether they were told."""
    before = _read(request)
    handoff_service.set_status(db_session=db_session, request=request, status=status, staff_name=actor.name)
    told = False
    if status == HandoffStatus.DONE and handoff_service.stop_waiting(db_session=db_session, request=request):
        notify.closed(db_session=db_session, request=request)
        told = True
    audit.record(
        db_session=db_session,
        actor=actor,
        action="handoff.status",
        target_type="handoff_request",
        target_id=request.id,
        before=before,
        after=_read(request),
    )
    return told


def assign(
    *, db_session: Session, request: HandoffRequest, staff_id: int | None, staff_name: str | None, actor: Actor
) -> None:
    before = _read(request)
    handoff_service.assign(db_session=db_session, request=request, staff_id=staff_id, staff_name=staff_name)
    audit.record(
        db_session=db_session,
        actor=actor,
        action="handoff.assign",
        target_type="handoff_request",
        target_id=request.id,
        before=before,
        after=_read(request),
    )


def save_canned_reply(
    *, db_session: Session, reply_in: CannedReplyIn, actor: Actor, reply: CannedReply | None = None
) -> CannedReply:
    before = None if reply is None else {"title": reply.title, "body": reply.body, "is_active": reply.is_active}
    saved = handoff_service.save_canned_reply(db_session=db_session, reply_in=reply_in, reply=reply)
    audit.record(
        db_session=db_session,
        actor=actor,
        action="handoff.canned",
        target_type="handoff_canned_reply",
        target_id=saved.id,
        before=before,
        after={"title": saved.title, "body": saved.body, "is_active": saved.is_active},
    )
    return saved
