"""The last few messages between each citizen and the bot, so that staff who take a conversation
over (the inbox, handlers/handoff) see what the citizen asked and what the bot answered.

Personal data, kept small and short: the newest TRANSCRIPT_MESSAGES entries per chat (0: none
kept), encrypted (bot/personal_data.py), for TRANSCRIPT_RETENTION_HOURS; a handoff copies them into
its thread. Written in the same transaction as the answer (bot/processor.py).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import String, Text, delete, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from bot import clock, db
from bot import personal_data as crypto
from bot.db import Base, UTCDateTime
from bot.events import Event
from bot.settings import Settings

MAX_ENTRY = 500  # characters of one message kept


class ChatTranscript(Base):
    __tablename__ = "chat_transcripts"

    chat_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    entries_enc: Mapped[str] = mapped_column(Text)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)


@dataclass(frozen=True)
class Entry:
    at: datetime
    sender: str  # "citizen" or "bot"
    text: str


def describe_event(event: Event) -> str | None:
    """What the citizen sent, in words staff read (None: nothing to keep)."""
    if event.text is not None:
        return event.text[:MAX_ENTRY]
    kind = event.kind
    if kind == "postback":
        return "（ボタンを押しました）"
    return {
        "message.image": "（画像）",
        "message.sticker": "（スタンプ）",
        "message.location": "（位置情報）",
        "message.video": "（動画）",
        "message.audio": "（音声）",
        "message.file": "（ファイル）",
    }.get(kind)


def describe_message(message: dict[str, Any]) -> str:
    """What the bot sent (LINE message JSON), in words staff read."""
    kind = message.get("type")
    if kind == "text":
        return str(message.get("text", ""))[:MAX_ENTRY]
    if kind == "flex":
        return f"［カード］{message.get('altText', '')}"[:MAX_ENTRY]
    return {"image": "（画像）", "location": "（地図）", "sticker": "（スタンプ）"}.get(str(kind), "（メッセージ）")


# Session.info key: chats known (in this transaction) to have no transcript row.
_ABSENT = "transcript.absent"


def preload(*, db_session: Session, chat_ids: Sequence[str]) -> None:
    """Loads a batch's transcripts in one query, so that `record` needs none per event."""
    if not chat_ids:
        return
    found = {
        row.chat_id
        for row in db_session.scalars(select(ChatTranscript).where(ChatTranscript.chat_id.in_(list(chat_ids))))
    }
    db_session.info.setdefault(_ABSENT, set()).update(set(chat_ids) - found)


def _row(db_session: Session, chat_id: str) -> ChatTranscript | None:
    if chat_id in db_session.info.get(_ABSENT, ()):
        return None
    return db_session.get(ChatTranscript, chat_id)


def _load(row: ChatTranscript | None, settings: Settings, since: datetime) -> list[Entry]:
    if row is None:
        return []
    try:
        raw = json.loads(crypto.decrypt(row.entries_enc, settings))
    except crypto.CannotDecrypt:
        return []  # written under a key no longer configured: context only, it starts again
    entries = [Entry(datetime.fromisoformat(e["at"]), e["sender"], e["text"]) for e in raw]
    return [e for e in entries if e.at >= since]


def record(
    *,
    db_session: Session,
    settings: Settings,
    chat_id: str,
    incoming: str | None,
    replies: Sequence[dict[str, Any]],
    at: datetime | None = None,
) -> None:
    """Adds the citizen's message and the bot's answer, keeping the newest TRANSCRIPT_MESSAGES."""
    keep = settings.transcript_messages
    if keep <= 0 or (incoming is None and not replies):
        return
    now = at or clock.now()
    row = _row(db_session, chat_id)
    entries = _load(row, settings, now - timedelta(hours=settings.transcript_retention_hours))
    if incoming is not None:
        entries.append(Entry(now, "citizen", incoming))
    entries.extend(Entry(now, "bot", describe_message(m)) for m in replies)
    entries = entries[-keep:]
    encoded = json.dumps(
        [{"at": e.at.isoformat(), "sender": e.sender, "text": e.text} for e in entries],
        ensure_ascii=False,
        separators=(",", ":"),
    )
    if row is None:
        db_session.add(ChatTranscript(chat_id=chat_id, entries_enc=crypto.encrypt(encoded, settings), updated_at=now))
        db_session.info.get(_ABSENT, set()).discard(chat_id)
    else:
        row.entries_enc = crypto.encrypt(encoded, settings)
        row.updated_at = now


def recent(*, db_session: Session, settings: Settings, chat_id: str) -> list[Entry]:
    now = clock.now()
    row = db_session.get(ChatTranscript, chat_id)
    return _load(row, settings, now - timedelta(hours=settings.transcript_retention_hours))


def purge(*, db_session: Session, before: datetime) -> int:
    """Transcripts not written to since `before` (the nightly retention job)."""
    return db.affected_rows(db_session.execute(delete(ChatTranscript).where(ChatTranscript.updated_at < before)))
