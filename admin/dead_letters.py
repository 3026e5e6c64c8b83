"""Webhook events that failed every try, and the staff action that puts one back in the queue."""

from __future__ import annotations

from sqlalchemy.orm import Session

from admin import audit
from admin.models import Actor
from admin.schemas import DeadLetterRead
from bot import inbox as inbox_service
from bot.inbox import InboxEvent


def get_all(*, db_session: Session, limit: int = 200) -> list[InboxEvent]:
    return inbox_service.get_all_dead(db_session=db_session, limit=limit)


def retry(*, db_session: Session, inbox_event_id: int, actor: Actor) -> InboxEvent | None:
    """Queues a dead letter again (audited); None when there is no such dead letter.

    The caller wakes the processor after its transaction commits.
    """
    event = inbox_service.get(db_session=db_session, inbox_event_id=inbox_event_id)
    if event is None or event.status != inbox_service.InboxStatus.DEAD:
        return None
    before = DeadLetterRead.from_event(event)
    retried = inbox_service.retry_dead(db_session=db_session, inbox_event_id=inbox_event_id)
    if retried is None:
        return None
    audit.record(
        db_session=db_session,
        actor=actor,
        action="inbox.retry",
        target_type="inbox_event",
        target_id=inbox_event_id,
        before=before,
        after=DeadLetterRead.from_event(retried),
        summary=retried.event_type,
    )
    return retried
