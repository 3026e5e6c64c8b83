"""The FAQ knowledge base: entries staff maintain, citizens' feedback on answers, and the questions
the bot could not answer (counted, for staff to turn into new entries).
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field, field_validator
from sqlalchemy import Boolean, Float, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from bot.db import Base, JSONType, UTCDateTime

FAQ_ID_PATTERN = r"^[a-z0-9][a-z0-9_-]{0,63}$"


class FaqEntry(Base):
    __tablename__ = "faq_entries"

    # A readable, stable id ("juminhyo_copy"): postbacks, feedback and reports refer to it.
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    category: Mapped[str] = mapped_column(String(100), default="")
    question: Mapped[str] = mapped_column(Text)
    alt_questions: Mapped[list[str]] = mapped_column(JSONType, default=list)
    answer: Mapped[str] = mapped_column(Text)
    tags: Mapped[list[str]] = mapped_column(JSONType, default=list)
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    # Every edit moves this forward: the retrieval index rebuilds when it sees a newer one.
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)


class FaqFeedback(Base):
    """One citizen's latest verdict on one answer (役に立った / 役に立たなかった)."""

    __tablename__ = "faq_feedback"
    __table_args__ = (UniqueConstraint("faq_id", "line_user_id", name="uq_faq_feedback_faq_id_line_user_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    faq_id: Mapped[str] = mapped_column(String(64), ForeignKey("faq_entries.id", ondelete="CASCADE"), index=True)
    line_user_id: Mapped[str] = mapped_column(String(64))
    helpful: Mapped[bool] = mapped_column(Boolean)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())


class UnansweredStatus(StrEnum):
    OPEN = "open"
    RESOLVED = "resolved"


class UnansweredQuestion(Base):
    """A question nobody could answer, once per wording (normalised), with how often it came."""

    __tablename__ = "faq_unanswered"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    # SHA-256 of the normalised text: the same question in 全角 or with extra spaces counts once.
    text_key: Mapped[str] = mapped_column(String(64), unique=True)
    text: Mapped[str] = mapped_column(Text)
    count: Mapped[int] = mapped_column(Integer, default=1)
    best_faq_id: Mapped[str | None] = mapped_column(String(64))
    best_score: Mapped[float | None] = mapped_column(Float)
    status: Mapped[UnansweredStatus] = mapped_column(String(16), default=UnansweredStatus.OPEN, index=True)
    first_asked_at: Mapped[datetime] = mapped_column(UTCDateTime())
    last_asked_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)


# Schemas --------------------------------------------------------------------------------------


def _clean_list(values: list[str]) -> list[str]:
    return [v.strip() for v in values if v and v.strip()]


class FaqEntryCreate(BaseModel):
    id: str = Field(pattern=FAQ_ID_PATTERN)
    category: str = Field(default="", max_length=100)
    question: str = Field(min_length=1, max_length=500)
    alt_questions: list[str] = Field(default_factory=list, max_length=50)
    answer: str = Field(min_length=1, max_length=4000)
    tags: list[str] = Field(default_factory=list, max_length=50)
    is_active: bool = True

    _lists = field_validator("alt_questions", "tags")(_clean_list)


class FaqEntryUpdate(BaseModel):
    category: str | None = Field(default=None, max_length=100)
    question: str | None = Field(default=None, min_length=1, max_length=500)
    alt_questions: list[str] | None = Field(default=None, max_length=50)
    answer: str | None = Field(default=None, min_length=1, max_length=4000)
    tags: list[str] | None = Field(default=None, max_length=50)
    is_active: bool | None = None


class FaqEntryRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    category: str
    question: str
    alt_questions: list[str]
    answer: str
    tags: list[str]
    is_active: bool
    updated_at: datetime


class FaqFeedbackSummary(BaseModel):
    faq_id: str
    helpful: int
    not_helpful: int


class UnansweredQuestionRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    text: str
    count: int
    best_faq_id: str | None
    best_score: float | None
    status: UnansweredStatus
    first_asked_at: datetime
    last_asked_at: datetime
