"""スマホ教室: sessions, participants, signups and the reminder markers.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-03 16:26:06.817228
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import bot.db

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def upgrade() -> None:
    op.create_table(
        "class_participants",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("line_user_id", sa.String(length=64), nullable=True),
        sa.Column("is_self", sa.Boolean(), nullable=False),
        sa.Column("details_enc", sa.Text(), nullable=True),
        sa.Column("person_key", sa.String(length=64), nullable=False),
        sa.Column("created_at", bot.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", bot.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_class_participants")),
    )
    with op.batch_alter_table("class_participants", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_class_participants_line_user_id"), ["line_user_id"], unique=False)

    op.create_table(
        "class_sessions",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("title", sa.String(length=100), nullable=False),
        sa.Column("level", sa.String(length=16), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("starts_at", bot.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("ends_at", bot.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("venue", sa.String(length=100), nullable=False),
        sa.Column("venue_address", sa.String(length=200), nullable=False),
        sa.Column("latitude", sa.Double(), nullable=True),
        sa.Column("longitude", sa.Double(), nullable=True),
        sa.Column("capacity", sa.Integer(), nullable=False),
        sa.Column("bring", sa.String(length=300), nullable=False),
        sa.Column("phones", JSON, nullable=False),
        sa.Column("signup_opens_at", bot.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("signup_deadline", bot.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("mode", sa.String(length=16), nullable=False),
        sa.Column("priority_age", sa.Integer(), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("is_sample", sa.Boolean(), nullable=False),
        sa.Column("series_id", sa.String(length=32), nullable=True),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("drawn_at", bot.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("draw_seed", sa.String(length=64), nullable=True),
        sa.Column("created_at", bot.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", bot.db.UTCDateTime(timezone=True), nullable=False),
        sa.CheckConstraint("capacity >= 0", name=op.f("ck_class_sessions_capacity_not_negative")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_class_sessions")),
    )
    with op.batch_alter_table("class_sessions", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_class_sessions_series_id"), ["series_id"], unique=False)
        batch_op.create_index("ix_class_sessions_starts_at", ["starts_at"], unique=False)

    op.create_table(
        "class_signups",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("session_id", sa.Integer(), nullable=False),
        sa.Column("participant_id", sa.Integer(), nullable=True),
        sa.Column("line_user_id", sa.String(length=64), nullable=True),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("queue_no", sa.Integer(), nullable=False),
        sa.Column("active_key", sa.String(length=64), nullable=True),
        sa.Column("details_enc", sa.Text(), nullable=True),
        sa.Column("purged_at", bot.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("qr_token_hash", sa.String(length=64), nullable=True),
        sa.Column("qr_token_enc", sa.Text(), nullable=True),
        sa.Column("idempotency_key", sa.String(length=64), nullable=True),
        sa.Column("priority", sa.Boolean(), nullable=False),
        sa.Column("draw_rank", sa.Integer(), nullable=True),
        sa.Column("promoted_at", bot.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("attended_at", bot.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("created_by", sa.String(length=64), nullable=False),
        sa.Column("created_at", bot.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", bot.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("cancelled_at", bot.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("cancel_reason", sa.String(length=200), nullable=True),
        sa.ForeignKeyConstraint(
            ["participant_id"],
            ["class_participants.id"],
            name=op.f("fk_class_signups_participant_id_class_participants"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["session_id"],
            ["class_sessions.id"],
            name=op.f("fk_class_signups_session_id_class_sessions"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_class_signups")),
        sa.UniqueConstraint("idempotency_key", name=op.f("uq_class_signups_idempotency_key")),
        sa.UniqueConstraint("qr_token_hash", name=op.f("uq_class_signups_qr_token_hash")),
        sa.UniqueConstraint("session_id", "active_key", name="uq_class_signups_session_id_active_key"),
    )
    with op.batch_alter_table("class_signups", schema=None) as batch_op:
        batch_op.create_index("ix_class_signups_line_user_id_status", ["line_user_id", "status"], unique=False)
        batch_op.create_index("ix_class_signups_session_id_status", ["session_id", "status"], unique=False)

    op.create_table(
        "class_reminders_sent",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("signup_id", sa.Integer(), nullable=False),
        sa.Column("starts_at", bot.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("sent_at", bot.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["signup_id"],
            ["class_signups.id"],
            name=op.f("fk_class_reminders_sent_signup_id_class_signups"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_class_reminders_sent")),
        sa.UniqueConstraint("signup_id", "starts_at", name="uq_class_reminders_sent_key"),
    )


def downgrade() -> None:
    op.drop_table("class_reminders_sent")
    with op.batch_alter_table("class_signups", schema=None) as batch_op:
        batch_op.drop_index("ix_class_signups_session_id_status")
        batch_op.drop_index("ix_class_signups_line_user_id_status")

    op.drop_table("class_signups")
    with op.batch_alter_table("class_sessions", schema=None) as batch_op:
        batch_op.drop_index("ix_class_sessions_starts_at")
        batch_op.drop_index(batch_op.f("ix_class_sessions_series_id"))

    op.drop_table("class_sessions")
    with op.batch_alter_table("class_participants", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_class_participants_line_user_id"))

    op.drop_table("class_participants")
