"""Requests from citizens to talk with a person, kept until staff have dealt with them."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel, ConfigDict
from sqlalchemy import Boolean, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from bot.db import Base, UTCDateTime


class HandoffStatus(StrEnum):
    OPEN = "open"
    DONE = "done"


class HandoffSource(StrEnum):
    TEXT = "text"  # the citizen wrote it ("職員と話したい")
    MENU = "menu"  # a button (main menu, or under an answer that did not help)


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


class HandoffRequestCreate(BaseModel):
    line_user_id: str
    message: str | None = None
    source: HandoffSource = HandoffSource.TEXT


class HandoffRequestRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    line_user_id: str
    message: str | None
    source: HandoffSource
    status: HandoffStatus
    office_open: bool
    requested_at: datetime
    handled_at: datetime | None
    handled_by: str | None
