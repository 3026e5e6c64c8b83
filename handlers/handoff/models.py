"""The staff inbox (職員対応): a citizen's request for a person is a thread. It holds the recent
conversation with the bot (for context), what the citizen writes while a person handles it, and the
staff's replies. Status: 未対応 (open) → 対応中 (in_progress) → 対応済み (done).

What citizens and staff write is personal data: message bodies and images are stored encrypted
(bot/personal_data.py) and purged with the thread (HANDOFF_RETENTION_DAYS).
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import Boolean, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from bot.db import Base, UTCDateTime

MAX_ID = 2**31 - 1
MAX_REPLY = 2000


class HandoffStatus(StrEnum):
    OPEN = "open"  # 未対応
    IN_PROGRESS = "in_progress"  # 対応中
    DONE = "done"  # 対応済み

    @property
    def label(self) -> str:
        return STATUS_LABELS[self]


STATUS_LABELS = {HandoffStatus.OPEN: "未対応", HandoffStatus.IN_PROGRESS: "対応中", HandoffStatus.DONE: "対応済み"}


class HandoffSource(StrEnum):
    TEXT = "text"  # the citizen wrote it ("職員と話したい")
    MENU = "menu"  # a button (main menu, or under an answer that did not help)
    FORM = "form"  # staff replied to a case (申請・通報): the case's messages live in this thread


class Sender(StrEnum):
    CITIZEN = "citizen"
    BOT = "bot"  # the conversation before the request (context), and the bot's notes
    STAFF = "staff"


class MessageKind(StrEnum):
    TEXT = "text"
    IMAGE = "image"
    STICKER = "sticker"
    LOCATION = "location"


class HandoffRequest(Base):
    __tablename__ = "handoff_requests"
    __table_args__ = (Index("ix_handoff_requests_status_requested", "status", "requested_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    line_user_id: Mapped[str] = mapped_column(String(64), index=True)
    # What the citizen wrote when asking (None when they tapped a button); clipped.
    message: Mapped[str | None] = mapped_column(Text)
    source: Mapped[HandoffSource] = mapped_column(String(16))
    status: Mapped[HandoffStatus] = mapped_column(String(16), default=HandoffStatus.OPEN)
    # Whether the office was open when they asked (what we told them depends on it).
    office_open: Mapped[bool] = mapped_column(Boolean)
    requested_at: Mapped[datetime] = mapped_column(UTCDateTime())
    handled_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    handled_by: Mapped[str | None] = mapped_column(String(64))
    assigned_to: Mapped[int | None] = mapped_column(Integer)
    assigned_name: Mapped[str | None] = mapped_column(String(64))
    last_citizen_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    last_staff_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # While the bot stays quiet for the citizen: until then (no staff reply by then → handed back).
    waiting_until: Mapped[datetime | None] = mapped_column(UTCDateTime())
    handed_back_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class HandoffMessage(Base):
    """One message in a thread. `body_enc` and `media_enc` are encrypted; `line_message_id` is the
    citizen's image on LINE until it has been fetched (LINE keeps content for a limited time)."""

    __tablename__ = "handoff_messages"
    __table_args__ = (Index("ix_handoff_messages_request_id_at", "request_id", "at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    request_id: Mapped[int] = mapped_column(ForeignKey("handoff_requests.id", ondelete="CASCADE"))
    at: Mapped[datetime] = mapped_column(UTCDateTime())
    sender: Mapped[Sender] = mapped_column(String(16))
    kind: Mapped[MessageKind] = mapped_column(String(16), default=MessageKind.TEXT)
    body_enc: Mapped[str | None] = mapped_column(Text)
    staff_name: Mapped[str | None] = mapped_column(String(64))
    line_message_id: Mapped[str | None] = mapped_column(String(64))
    media_type: Mapped[str | None] = mapped_column(String(64))
    media_enc: Mapped[str | None] = mapped_column(Text)
    fetch_attempts: Mapped[int] = mapped_column(Integer, default=0)
    # Part of the conversation before the request (shown as context), not of the thread itself.
    is_context: Mapped[bool] = mapped_column(Boolean, default=False)


class CannedReply(Base):
    """定型文: replies staff pick and edit before sending."""

    __tablename__ = "handoff_canned_replies"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    title: Mapped[str] = mapped_column(String(60))
    body: Mapped[str] = mapped_column(Text)
    sort_order: Mapped[int] = mapped_column(Integer, default=0)
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())


# Schemas --------------------------------------------------------------------------------------


class HandoffRequestCreate(BaseModel):
    line_user_id: str
    message: str | None = None
    source: HandoffSource = HandoffSource.TEXT


class HandoffRequestRead(BaseModel):
    """A thread as lists and the audit log see it: no words, no LINE id."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    source: HandoffSource
    status: HandoffStatus
    office_open: bool
    requested_at: datetime
    handled_at: datetime | None
    handled_by: str | None
    assigned_name: str | None
    last_citizen_at: datetime | None
    last_staff_at: datetime | None
    waiting_until: datetime | None


class ThreadMessageRead(BaseModel):
    id: int
    at: datetime
    sender: Sender
    kind: MessageKind
    text: str | None
    staff_name: str | None
    has_image: bool
    is_context: bool


class ThreadRead(HandoffRequestRead):
    """For counter and admin roles only: the citizen's name and the messages, decrypted."""

    citizen_name: str | None = None
    messages: list[ThreadMessageRead] = Field(default_factory=list)


class ReplyIn(BaseModel):
    text: str = Field(min_length=1, max_length=MAX_REPLY)


class StatusIn(BaseModel):
    status: HandoffStatus


class CannedReplyIn(BaseModel):
    title: str = Field(min_length=1, max_length=60)
    body: str = Field(min_length=1, max_length=MAX_REPLY)
    sort_order: int = Field(default=0, ge=0, le=10_000)
    is_active: bool = True
