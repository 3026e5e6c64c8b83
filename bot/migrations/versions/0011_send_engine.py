"""send engine: send jobs, their chunks and recipients, and the shared rate bucket (notifications/)

A broadcast is planned whole before it goes out: `send_jobs` (the messages, emptied when the job is
over), `send_chunks` (at most 500 recipients each, with the X-Line-Retry-Key every try of the chunk is
sent with, and its lease) and `send_recipients` (one LINE user id per row, with its chunk's seq and its outcome).
`send_rate_buckets` holds the token bucket that caps multicast requests across every process.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-03 21:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import bot.db

revision: str = "0011"
down_revision: str | tuple[str, ...] | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "send_jobs",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("owner", sa.String(length=100), nullable=False),
        sa.Column("messages", sa.JSON().with_variant(postgresql.JSONB(), "postgresql"), nullable=False),
        sa.Column("aggregation_unit", sa.String(length=30), nullable=True),
        sa.Column("notification_disabled", sa.Boolean(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("total", sa.Integer(), nullable=False),
        sa.Column("skipped", sa.Integer(), nullable=False),
        sa.Column("started_at", bot.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("finished_at", bot.db.UTCDateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_send_jobs")),
    )
    op.create_index(op.f("ix_send_jobs_owner"), "send_jobs", ["owner"], unique=False)
    op.create_table(
        "send_chunks",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("job_id", sa.Integer(), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("retry_key", sa.String(length=36), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", bot.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("locked_until", bot.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("sent_at", bot.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("request_id", sa.String(length=64), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["job_id"], ["send_jobs.id"], name=op.f("fk_send_chunks_job_id_send_jobs"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_send_chunks")),
        sa.UniqueConstraint("job_id", "seq", name="uq_send_chunks_job_id_seq"),
    )
    op.create_index(op.f("ix_send_chunks_job_id"), "send_chunks", ["job_id"], unique=False)
    op.create_index("ix_send_chunks_status_next", "send_chunks", ["status", "next_attempt_at"], unique=False)
    op.create_table(
        "send_recipients",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("job_id", sa.Integer(), nullable=False),
        sa.Column("chunk_seq", sa.Integer(), nullable=True),
        sa.Column("line_user_id", sa.String(length=64), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("sent_at", bot.db.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["job_id"], ["send_jobs.id"], name=op.f("fk_send_recipients_job_id_send_jobs"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_send_recipients")),
        sa.UniqueConstraint("job_id", "line_user_id", name="uq_send_recipients_job_id_line_user_id"),
    )
    op.create_index("ix_send_recipients_job_chunk", "send_recipients", ["job_id", "chunk_seq"], unique=False)
    op.create_table(
        "send_rate_buckets",
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("tokens", sa.Float(), nullable=False),
        sa.Column("updated_at", bot.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_send_rate_buckets")),
    )


def downgrade() -> None:
    op.drop_table("send_rate_buckets")
    op.drop_index("ix_send_recipients_job_chunk", table_name="send_recipients")
    op.drop_table("send_recipients")
    op.drop_index("ix_send_chunks_status_next", table_name="send_chunks")
    op.drop_index(op.f("ix_send_chunks_job_id"), table_name="send_chunks")
    op.drop_table("send_chunks")
    op.drop_index(op.f("ix_send_jobs_owner"), table_name="send_jobs")
    op.drop_table("send_jobs")
