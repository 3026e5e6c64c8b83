"""nlu, faq, handoff: FAQ entries, feedback on answers, unanswered questions, handoff requests

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-24 08:35:24.099759
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import bot.db

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "faq_entries",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("category", sa.String(length=100), nullable=False),
        sa.Column("question", sa.Text(), nullable=False),
        sa.Column("alt_questions", sa.JSON().with_variant(postgresql.JSONB(), "postgresql"), nullable=False),
        sa.Column("answer", sa.Text(), nullable=False),
        sa.Column("tags", sa.JSON().with_variant(postgresql.JSONB(), "postgresql"), nullable=False),
        sa.Column("is_active", sa.Boolean(), nullable=False),
        sa.Column("created_at", bot.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", bot.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_faq_entries")),
    )
    with op.batch_alter_table("faq_entries", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_faq_entries_updated_at"), ["updated_at"], unique=False)

    op.create_table(
        "faq_unanswered",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("text_key", sa.String(length=64), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.Column("best_faq_id", sa.String(length=64), nullable=True),
        sa.Column("best_score", sa.Float(), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("first_asked_at", bot.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("last_asked_at", bot.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_faq_unanswered")),
        sa.UniqueConstraint("text_key", name=op.f("uq_faq_unanswered_text_key")),
    )
    with op.batch_alter_table("faq_unanswered", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_faq_unanswered_last_asked_at"), ["last_asked_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_faq_unanswered_status"), ["status"], unique=False)

    op.create_table(
        "handoff_requests",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("line_user_id", sa.String(length=64), nullable=False),
        sa.Column("message", sa.Text(), nullable=True),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("office_open", sa.Boolean(), nullable=False),
        sa.Column("requested_at", bot.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("handled_at", bot.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("handled_by", sa.String(length=64), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_handoff_requests")),
    )
    with op.batch_alter_table("handoff_requests", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_handoff_requests_line_user_id"), ["line_user_id"], unique=False)
        batch_op.create_index("ix_handoff_requests_status_requested", ["status", "requested_at"], unique=False)

    op.create_table(
        "faq_feedback",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("faq_id", sa.String(length=64), nullable=False),
        sa.Column("line_user_id", sa.String(length=64), nullable=False),
        sa.Column("helpful", sa.Boolean(), nullable=False),
        sa.Column("created_at", bot.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", bot.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["faq_id"], ["faq_entries.id"], name=op.f("fk_faq_feedback_faq_id_faq_entries"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_faq_feedback")),
        sa.UniqueConstraint("faq_id", "line_user_id", name="uq_faq_feedback_faq_id_line_user_id"),
    )
    with op.batch_alter_table("faq_feedback", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_faq_feedback_faq_id"), ["faq_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("faq_feedback", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_faq_feedback_faq_id"))

    op.drop_table("faq_feedback")
    with op.batch_alter_table("handoff_requests", schema=None) as batch_op:
        batch_op.drop_index("ix_handoff_requests_status_requested")
        batch_op.drop_index(batch_op.f("ix_handoff_requests_line_user_id"))

    op.drop_table("handoff_requests")
    with op.batch_alter_table("faq_unanswered", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_faq_unanswered_status"))
        batch_op.drop_index(batch_op.f("ix_faq_unanswered_last_asked_at"))

    op.drop_table("faq_unanswered")
    with op.batch_alter_table("faq_entries", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_faq_entries_updated_at"))

    op.drop_table("faq_entries")
