"""申請・通報: forms staff build in the admin, answered in chat, each answer a tracked case.

A form (`forms`) has versions (`form_versions`): the questions as data (handlers/forms/definition.py).
Publishing makes a new version the current one; a conversation in progress keeps answering the
version it started, and a submission keeps the version it answered.

A submission (`form_submissions`) is a case: a 受付番号, a status from the form's workflow, the
department it is routed to, the answers (encrypted, personal data), the place (a LINE location or a
大字), photos (`form_photos`, fetched from LINE's content endpoint and stored encrypted), and the
thread it shares with the citizen (the staff inbox's, handlers/handoff). Every step on a case is a
`form_case_events` row: who, when, what (status, routing, drafts and approvals of 市長への手紙).
Cases are purged FORMS_RETENTION_DAYS after they are closed, photos and thread with them.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import Boolean, Float, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from bot.db import Base, JSONType, UTCDateTime

MAX_ID = 2**31 - 1


class Form(Base):
    __tablename__ = "forms"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    key: Mapped[str] = mapped_column(String(40), unique=True)
    # The published version citizens start now (None: a draft nobody can start yet).
    current_version_id: Mapped[int | None] = mapped_column(Integer)
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    # Demo forms are marked as samples (the admin says so; a city replaces them).
    is_sample: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())


class FormVersion(Base):
    __tablename__ = "form_versions"
    __table_args__ = (UniqueConstraint("form_id", "number"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    form_id: Mapped[int] = mapped_column(ForeignKey("forms.id", ondelete="CASCADE"), index=True)
    number: Mapped[int] = mapped_column(Integer)
    # definition.FormDefinition as JSON: title, start words, questions, workflow, department, ...
    definition: Mapped[dict[str, Any]] = mapped_column(JSONType)
    published_at: Mapped[datetime] = mapped_column(UTCDateTime())
    published_by: Mapped[str | None] = mapped_column(String(64))


class Submission(Base):
    __tablename__ = "form_submissions"
    __table_args__ = (
        Index("ix_form_submissions_form_id_submitted_at", "form_id", "submitted_at"),
        Index("ix_form_submissions_status", "status"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    # 受付番号: what the citizen quotes on the phone and sees in 「私の申請・通報」.
    receipt_no: Mapped[str] = mapped_column(String(20), unique=True)
    form_id: Mapped[int] = mapped_column(ForeignKey("forms.id", ondelete="CASCADE"))
    version_id: Mapped[int] = mapped_column(ForeignKey("form_versions.id", ondelete="CASCADE"))
    line_user_id: Mapped[str] = mapped_column(String(64), index=True)
    # Anonymous (市長への手紙 may be): staff never see who sent it, and nobody can reply.
    anonymous: Mapped[bool] = mapped_column(Boolean, default=False)
    status: Mapped[str] = mapped_column(String(32))
    department: Mapped[str | None] = mapped_column(String(64), index=True)
    # {question key: stored answer} as encrypted JSON (bot/personal_data.py).
    answers_enc: Mapped[str] = mapped_column(Text)
    # The place: a LINE location (lat/lng, address) or a chosen 大字/district (place_name only).
    place_lat: Mapped[float | None] = mapped_column(Float)
    place_lng: Mapped[float | None] = mapped_column(Float)
    place_name: Mapped[str | None] = mapped_column(String(200))
    # The staff inbox thread the case's messages with the citizen live in (created on the first reply).
    thread_id: Mapped[int | None] = mapped_column(Integer)
    submitted_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
    due_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # Staff's own notes on the case (encrypted; never shown to the citizen).
    notes_enc: Mapped[str | None] = mapped_column(Text)
    # 市長への手紙: the answer 秘書広報課 revised, and the second person who approved it (then it is sent).
    answer_enc: Mapped[str | None] = mapped_column(Text)
    answer_by: Mapped[str | None] = mapped_column(String(64))
    approved_by: Mapped[str | None] = mapped_column(String(64))
    approved_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # The nonce of the confirmation card that made it: a second tap answers the same case.
    nonce: Mapped[str] = mapped_column(String(32), unique=True)


class PhotoStatus(StrEnum):
    PENDING = "pending"  # the LINE message id is known; the content is not fetched yet
    STORED = "stored"
    REFUSED = "refused"  # too large, not an image, or LINE no longer had it


class Photo(Base):
    """A photo a citizen sent with a form: fetched from LINE's content endpoint (api-data), checked
    (an image, at most FORMS_MAX_PHOTO_BYTES) and stored encrypted; `token` names its admin/thumbnail URL."""

    __tablename__ = "form_photos"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    token: Mapped[str] = mapped_column(String(64), unique=True)
    line_user_id: Mapped[str] = mapped_column(String(64), index=True)
    # None until the form is sent (a photo of a form the citizen gave up is purged with its draft).
    submission_id: Mapped[int | None] = mapped_column(ForeignKey("form_submissions.id", ondelete="CASCADE"), index=True)
    question: Mapped[str] = mapped_column(String(40))
    line_message_id: Mapped[str | None] = mapped_column(String(64))
    status: Mapped[PhotoStatus] = mapped_column(String(16), default=PhotoStatus.PENDING)
    media_type: Mapped[str | None] = mapped_column(String(64))
    size: Mapped[int | None] = mapped_column(Integer)
    data_enc: Mapped[str | None] = mapped_column(Text)
    thumb_enc: Mapped[str | None] = mapped_column(Text)
    fetch_attempts: Mapped[int] = mapped_column(Integer, default=0)
    error: Mapped[str | None] = mapped_column(String(200))
    received_at: Mapped[datetime] = mapped_column(UTCDateTime())


class CaseEventKind(StrEnum):
    SUBMITTED = "submitted"
    STATUS = "status"
    ROUTED = "routed"
    NOTE = "note"
    REPLY = "reply"
    DRAFT = "draft"  # a department's draft answer (市長への手紙)
    REVISED = "revised"  # 秘書広報課 revised the answer
    APPROVED = "approved"  # a second person approved it; it is sent
    ANSWER_SENT = "answer_sent"


class CaseEvent(Base):
    """The case's audit trail, shown on the case page; drafts and the approved answer live here too."""

    __tablename__ = "form_case_events"
    __table_args__ = (Index("ix_form_case_events_submission_id_at", "submission_id", "at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    submission_id: Mapped[int] = mapped_column(ForeignKey("form_submissions.id", ondelete="CASCADE"))
    at: Mapped[datetime] = mapped_column(UTCDateTime())
    kind: Mapped[CaseEventKind] = mapped_column(String(16))
    actor: Mapped[str] = mapped_column(String(64))
    department: Mapped[str | None] = mapped_column(String(64))
    status: Mapped[str | None] = mapped_column(String(32))
    # A message to the citizen, a note or a draft (encrypted: it may quote personal data).
    text_enc: Mapped[str | None] = mapped_column(Text)


class LetterRoute(Base):
    """市長への手紙: one department a letter was routed to, and where its draft answer stands."""

    __tablename__ = "form_letter_routes"
    __table_args__ = (UniqueConstraint("submission_id", "department"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    submission_id: Mapped[int] = mapped_column(ForeignKey("form_submissions.id", ondelete="CASCADE"), index=True)
    department: Mapped[str] = mapped_column(String(64))
    routed_at: Mapped[datetime] = mapped_column(UTCDateTime())
    due_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    draft_enc: Mapped[str | None] = mapped_column(Text)
    drafted_by: Mapped[str | None] = mapped_column(String(64))
    drafted_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class StaffDepartment(Base):
    """Per-user department membership: a member sees its department's cases (admins see all)."""

    __tablename__ = "form_staff_departments"
    __table_args__ = (UniqueConstraint("staff_user_id", "department"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    staff_user_id: Mapped[int] = mapped_column(ForeignKey("staff_users.id", ondelete="CASCADE"), index=True)
    department: Mapped[str] = mapped_column(String(64))
