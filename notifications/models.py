"""The broadcast delivery engine's tables: a send job, its chunks (one multicast each) and its recipients.

The plan is written whole before the first request goes out: every chunk carries the X-Line-Retry-Key
it will be sent with, whoever sends it and however often, so a chunk LINE accepted once is never
delivered twice. Recipient rows hold LINE user ids and outcomes only; the message bodies live on the
job and are emptied when the job is over.

The rate bucket is the cap that holds across every process: one row per bucket, updated in the same
transaction that claims chunks.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import Float, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from bot.db import Base, JSONType, UTCDateTime


class JobStatus(StrEnum):
    SENDING = "sending"
    DONE = "done"
    CANCELLED = "cancelled"


class ChunkStatus(StrEnum):
    PENDING = "pending"  # due at next_attempt_at (a retry waits here too)
    SENDING = "sending"  # claimed until locked_until; after that, another process takes it over
    SENT = "sent"  # LINE accepted it (200, or 409 for its retry key)
    FAILED = "failed"  # LINE refused it for good (a 4xx, the monthly quota, or out of attempts)
    CANCELLED = "cancelled"  # the job was cancelled before this chunk went out


class RecipientStatus(StrEnum):
    PENDING = "pending"
    SENT = "sent"
    FAILED = "failed"
    SKIPPED = "skipped"  # never sent: the citizen blocked the account
    CANCELLED = "cancelled"  # never sent: the job was cancelled first


class SendJob(Base):
    __tablename__ = "send_jobs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    owner: Mapped[str] = mapped_column(String(100), index=True)  # e.g. "broadcast:12"
    messages: Mapped[list[dict[str, Any]]] = mapped_column(JSONType)  # emptied once the job is over
    aggregation_unit: Mapped[str | None] = mapped_column(String(30))
    notification_disabled: Mapped[bool] = mapped_column(default=False)
    status: Mapped[JobStatus] = mapped_column(String(16), default=JobStatus.SENDING)
    total: Mapped[int] = mapped_column(Integer, default=0)
    skipped: Mapped[int] = mapped_column(Integer, default=0)  # blocked citizens, known at planning
    started_at: Mapped[datetime] = mapped_column(UTCDateTime())
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class SendChunk(Base):
    __tablename__ = "send_chunks"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    job_id: Mapped[int] = mapped_column(ForeignKey("send_jobs.id", ondelete="CASCADE"), index=True)
    seq: Mapped[int] = mapped_column(Integer)
    size: Mapped[int] = mapped_column(Integer)
    retry_key: Mapped[str] = mapped_column(String(36))
    status: Mapped[ChunkStatus] = mapped_column(String(16), default=ChunkStatus.PENDING)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime())
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime())
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    request_id: Mapped[str | None] = mapped_column(String(64))
    last_error: Mapped[str | None] = mapped_column(Text)

    __table_args__ = (
        UniqueConstraint("job_id", "seq", name="uq_send_chunks_job_id_seq"),
        Index("ix_send_chunks_status_next", "status", "next_attempt_at"),
    )


class SendRecipient(Base):
    __tablename__ = "send_recipients"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    job_id: Mapped[int] = mapped_column(ForeignKey("send_jobs.id", ondelete="CASCADE"))
    # The chunk's seq within the job (None: skipped, in no chunk). By seq, not by the chunk's id, so that
    # planning numbers the recipients as it inserts them and the chunks follow (no UPDATE of 100,000 rows).
    chunk_seq: Mapped[int | None] = mapped_column(Integer)
    line_user_id: Mapped[str] = mapped_column(String(64))
    status: Mapped[RecipientStatus] = mapped_column(String(16), default=RecipientStatus.PENDING)
    error: Mapped[str | None] = mapped_column(Text)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    __table_args__ = (
        # One row per person per job: the plan's duplicates go here, not to LINE.
        UniqueConstraint("job_id", "line_user_id", name="uq_send_recipients_job_id_line_user_id"),
        Index("ix_send_recipients_job_chunk", "job_id", "chunk_seq"),
    )


class RateBucket(Base):
    """A token bucket shared by every process: `tokens` as of `updated_at`, refilled at the configured
    rate when read (under the row's lock)."""

    __tablename__ = "send_rate_buckets"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    tokens: Mapped[float] = mapped_column(Float)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
