"""Staff actions on the topics citizens choose (配信設定), one function each: the rule (service) and
the audit record, written once here and called by both the admin pages (admin/topics.py) and
/api/v1/segments (api/segments.py). Neither writes the audit log itself.

What the audit log keeps: who, when, what, and the topic before and after (TopicRead: what staff
wrote). Citizens' choices are never in it. A refused action raises the service's error and records
nothing.
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from admin import audit
from admin.models import Actor
from handlers.broadcasts.models import Topic
from handlers.broadcasts.service import topics as topic_service
from handlers.broadcasts.service.topics import TopicCreate, TopicRead, TopicUpdate

TARGET = "broadcast_topic"
ACTION_LABELS = {
    "broadcasts.topic.create": "配信の分野を追加",
    "broadcasts.topic.update": "配信の分野を編集",
    "broadcasts.topic.retire": "配信の分野を停止",
    "broadcasts.topic.reactivate": "配信の分野を再開",
    "broadcasts.topic.move": "配信の分野の並べ替え",
}
for code, label in ACTION_LABELS.items():
    audit.describe_action(code, label)


def _read(topic: Topic) -> TopicRead:
    return TopicRead.model_validate(topic)


def create_topic(*, db_session: Session, topic_in: TopicCreate, actor: Actor) -> Topic:
    """A new topic, last in the order, offered to citizens at once. Raises TopicExists."""
    topic = topic_service.create(db_session=db_session, topic_in=topic_in)
    audit.record(
        db_session=db_session,
        actor=actor,
        action="broadcasts.topic.create",
        target_type=TARGET,
        target_id=topic.key,
        after=_read(topic),
    )
    return topic


def update_topic(*, db_session: Session, topic: Topic, topic_in: TopicUpdate, actor: Actor) -> Topic:
    """Renames, describes, changes keywords, default or state; audited when anything changed."""
    before = _read(topic)
    topic_service.update(db_session=db_session, topic=topic, topic_in=topic_in)
    after = _read(topic)
    if before != after:
        action = "broadcasts.topic.update"
        if before.is_active != after.is_active and before.model_dump(exclude={"is_active"}) == after.model_dump(
            exclude={"is_active"}
        ):
            action = "broadcasts.topic.reactivate" if after.is_active else "broadcasts.topic.retire"
        audit.record(
            db_session=db_session,
            actor=actor,
            action=action,
            target_type=TARGET,
            target_id=topic.key,
            before=before,
            after=after,
        )
    return topic


def retire_topic(*, db_session: Session, topic: Topic, actor: Actor) -> Topic:
    """Hidden from citizens and reaching nobody; its subscriptions are kept (history, a return)."""
    return update_topic(db_session=db_session, topic=topic, topic_in=TopicUpdate(is_active=False), actor=actor)


def reactivate_topic(*, db_session: Session, topic: Topic, actor: Actor) -> Topic:
    return update_topic(db_session=db_session, topic=topic, topic_in=TopicUpdate(is_active=True), actor=actor)


def move_topic(*, db_session: Session, topic: Topic, step: int, actor: Actor) -> bool:
    """One place up (-1) or down (+1) in the order citizens see; False at either end."""
    moved = topic_service.move(db_session=db_session, topic=topic, step=step)
    if moved:
        audit.record(
            db_session=db_session,
            actor=actor,
            action="broadcasts.topic.move",
            target_type=TARGET,
            target_id=topic.key,
            summary="上へ" if step < 0 else "下へ",
        )
    return moved
