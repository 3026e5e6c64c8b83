"""Where a citizen is in a multi-step flow, kept in the database with an expiry.

Any process can take the citizen's next event: nothing lives in process memory.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import String, delete, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from bot import clock, db
from bot.db import Base, JSONType, UTCDateTime


class Conversation(Base):
    __tablename__ = "conversations"

    chat_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    flow: Mapped[str] = mapped_column(String(64))
    state: Mapped[str] = mapped_column(String(64))
    data: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())


# Session.info key: chats known (in this transaction) to have no conversation row.
_ABSENT = "conversation.absent"


def preload(*, db_session: Session, chat_ids: Sequence[str]) -> None:
    """Loads the conversations of a batch's chats in one query, so that `get_active` needs none:
    found rows sit in the session's identity map, and the chats without one are remembered."""
    if not chat_ids:
        return
    loaded = db_session.scalars(select(Conversation).where(Conversation.chat_id.in_(list(chat_ids))))
    found = {conversation.chat_id for conversation in loaded}
    db_session.info.setdefault(_ABSENT, set()).update(set(chat_ids) - found)


def get_active(*, db_session: Session, chat_id: str) -> Conversation | None:
    """The open conversation, or None; an expired one is removed and reported as None."""
    if chat_id in db_session.info.get(_ABSENT, ()):
        return None
    conversation = db_session.get(Conversation, chat_id)
    if conversation is None:
        return None
    if conversation.expires_at <= clock.now():
        db_session.delete(conversation)
        db_session.flush()
        return None
    return conversation


def save(
    *, db_session: Session, chat_id: str, flow: str, state: str, data: dict[str, Any], timeout: timedelta
) -> Conversation:
    now = clock.now()
    db_session.info.get(_ABSENT, set()).discard(chat_id)
    conversation = db_session.get(Conversation, chat_id)
    if conversation is None:
        conversation = Conversation(
            chat_id=chat_id, flow=flow, state=state, data=data, updated_at=now, expires_at=now + timeout
        )
        db_session.add(conversation)
    else:
        conversation.flow, conversation.state = flow, state
        conversation.data = dict(data)
        conversation.updated_at, conversation.expires_at = now, now + timeout
    db_session.flush()
    return conversation


def end(*, db_session: Session, chat_id: str) -> None:
    db_session.execute(delete(Conversation).where(Conversation.chat_id == chat_id))
    db_session.flush()


def purge_expired(*, db_session: Session, now: datetime) -> int:
    """Deletes conversations that ran out: an abandoned one would otherwise keep what the citizen
    said in it (a question, a place) until they wrote again."""
    return db.affected_rows(db_session.execute(delete(Conversation).where(Conversation.expires_at <= now)))
