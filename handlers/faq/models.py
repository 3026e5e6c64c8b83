"""The FAQ knowledge base: entries staff maintain, citizens' feedback on answers, and the questions
the bot could not answer (counted, for staff to turn into new entries, add to an entry as another
wording, or dismiss).
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, field_validator
from sqlalchemy import Boolean, Float, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from bot.db import Base, JSONType, UTCDateTime

FAQ_ID_PATTERN = r"^[a-z0-9][a-z0-9_-]{0,63}$"
# An official page citizens can open for the details: http(s) only, no spaces (LINE links it).
URL_PATTERN = r"^(https?://[^\s<>\"]+)?$"
MAX_URL = 500
MAX_ALT_QUESTIONS = 50


class FaqEntry(Base):
    __tablename__ = "faq_entries"

    # A readable, stable id ("juminhyo_copy"): postbacks, feedback and reports refer to it.
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    category: Mapped[str] = mapped_column(String(100), default="")
    question: Mapped[str] = mapped_column(Text)
    alt_questions: Mapped[list[str]] = mapped_column(JSONType, default=list)
    answer: Mapped[str] = mapped_column(Text)
    tags: Mapped[list[str]] = mapped_column(JSONType, default=list)
    # The city's own page on the matter ("" when none): shown at the end of the answer.
    url: Mapped[str] = mapped_column(String(MAX_URL), default="", server_default="")
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
    OPEN = "open"  # 未回答: waiting for staff
    RESOLVED = "resolved"  # made into an entry, or added to one as another wording
    DISMISSED = "dismissed"  # not something the FAQ should answer: asked again, it stays dismissed


UNANSWERED_STATUS_LABELS = {
    UnansweredStatus.OPEN: "未回答",
    UnansweredStatus.RESOLVED: "対応済み",
    UnansweredStatus.DISMISSED: "対象外",
}


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
    # When staff handled it, and the entry that answers it now (kept if it is asked again).
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    resolved_faq_id: Mapped[str | None] = mapped_column(String(64))


# Schemas --------------------------------------------------------------------------------------


def storable(value: str) -> str:
    """What both databases can store: no NUL characters, lone surrogates as U+FFFD."""
    value = value.replace("\x00", "")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        value = value.encode("utf-16", "surrogatepass").decode("utf-16", "replace")
    return value


def _clean_text(value: str) -> str:
    return storable(value).strip()


def _required_text(value: str) -> str:
    text = _clean_text(value)
    if not text:
        raise ValueError("空にはできません")
    return text


def _answer_text(value: str) -> str:
    # Staff's line breaks are kept (they become paragraphs on LINE); only the ends are trimmed.
    return _required_text(value.replace("\r\n", "\n").replace("\r", "\n"))


def _clean_list(values: list[str] | None) -> list[str] | None:
    """Trimmed, without empty lines or repeats, in the order given."""
    if values is None:
        return None
    cleaned: list[str] = []
    for value in values:
        text = _clean_text(value)
        if text and text not in cleaned:
            cleaned.append(text)
    return cleaned


# Limits are checked on what was sent; the validators then trim it.
Category = Annotated[str, Field(max_length=100), AfterValidator(_clean_text)]
Question = Annotated[str, Field(min_length=1, max_length=500), AfterValidator(_required_text)]
Answer = Annotated[str, Field(min_length=1, max_length=4000), AfterValidator(_answer_text)]
Url = Annotated[str, Field(max_length=MAX_URL, pattern=URL_PATTERN), AfterValidator(_clean_text)]
Wordings = Annotated[list[Annotated[str, Field(max_length=500)]], Field(max_length=MAX_ALT_QUESTIONS)]
Tags = Annotated[list[Annotated[str, Field(max_length=100)]], Field(max_length=50)]


class FaqEntryCreate(BaseModel):
    """A new entry. Without an id, service.create makes one up."""

    id: str | None = Field(default=None, pattern=FAQ_ID_PATTERN)
    category: Category = ""
    question: Question
    alt_questions: Wordings = Field(default_factory=list)
    answer: Answer
    tags: Tags = Field(default_factory=list)
    url: Url = ""
    is_active: bool = True

    _lists = field_validator("alt_questions", "tags")(_clean_list)


class FaqEntryUpdate(BaseModel):
    """What changes (all optional; applied with model_dump(exclude_unset=True))."""

    category: Category | None = None
    question: Question | None = None
    alt_questions: Wordings | None = None
    answer: Answer | None = None
    tags: Tags | None = None
    url: Url | None = None
    is_active: bool | None = None

    _lists = field_validator("alt_questions", "tags")(_clean_list)


class FaqEntryRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    category: str
    question: str
    alt_questions: list[str]
    answer: str
    tags: list[str]
    url: str
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
    resolved_at: datetime | None = None
    resolved_faq_id: str | None = None


class FaqEntryDraft(BaseModel):
    """The new entry of a `new_entry` step: like FaqEntryCreate, its question optional (the
    question the citizen asked, unless staff reword it)."""

    category: Category = ""
    question: Annotated[str, Field(max_length=500), AfterValidator(_clean_text)] = ""
    alt_questions: Wordings = Field(default_factory=list)
    answer: Answer
    tags: Tags = Field(default_factory=list)
    url: Url = ""

    _lists = field_validator("alt_questions", "tags")(_clean_list)

    def to_create(self, *, faq_id: str | None, question: str) -> FaqEntryCreate:
        values: dict[str, Any] = self.model_dump()
        values["question"] = self.question or question
        return FaqEntryCreate(id=faq_id, **values)


class UnansweredResolve(BaseModel):
    """One step for an unanswered question: a new entry, another wording of an existing entry, or
    out of scope. Each marks the question handled."""

    action: Literal["new_entry", "add_alternative", "dismiss"]
    # add_alternative: the entry it joins (required). new_entry: the new entry's id (optional).
    faq_id: str | None = Field(default=None, pattern=FAQ_ID_PATTERN)
    # The wording kept (default: what the citizen typed): staff may take a name or a number out.
    text: Annotated[str, Field(max_length=500), AfterValidator(_clean_text)] = ""
    # new_entry: the entry; its question defaults to `text`, then to what the citizen typed.
    entry: FaqEntryDraft | None = None


class FeedbackRow(BaseModel):
    """One entry's 役に立った / 役に立たなかった, recently and in all, for the staff report."""

    faq_id: str
    question: str
    is_active: bool
    recent_helpful: int
    recent_not_helpful: int
    helpful: int
    not_helpful: int
    # How sure we are that the answer disappoints (a lower bound: few votes count for less).
    concern: float
