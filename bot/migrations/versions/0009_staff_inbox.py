"""The staff inbox (職員対応): threads with their messages and canned replies, and the recent chat
transcripts staff see as context.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-03 16:44:49.873970
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import bot.db

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "chat_transcripts",
        sa.Column("chat_id", sa.String(length=64), nullable=False),
        sa.Column("entries_enc", sa.Text(), nullable=False),
        sa.Column("updated_at", bot.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("chat_id", name=op.f("pk_chat_transcripts")),
    )
    with op.batch_alter_table("chat_transcripts", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_chat_transcripts_updated_at"), ["updated_at"], unique=False)

    op.create_table(
        "handoff_canned_replies",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("title", sa.String(length=60), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("sort_order", sa.Integer(), nullable=False),
        sa.Column("is_active", sa.Boolean(), nullable=False),
        sa.Column("updated_at", bot.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_handoff_canned_replies")),
    )
    op.create_table(
        "handoff_messages",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("request_id", sa.Integer(), nullable=False),
        sa.Column("at", bot.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("sender", sa.String(length=16), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("body_enc", sa.Text(), nullable=True),
        sa.Column("staff_name", sa.String(length=64), nullable=True),
        sa.Column("line_message_id", sa.String(length=64), nullable=True),
        sa.Column("media_type", sa.String(length=64), nullable=True),
        sa.Column("media_enc", sa.Text(), nullable=True),
        sa.Column("fetch_attempts", sa.Integer(), nullable=False),
        sa.Column("is_context", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(
            ["request_id"],
            ["handoff_requests.id"],
            name=op.f("fk_handoff_messages_request_id_handoff_requests"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_handoff_messages")),
    )
    with op.batch_alter_table("handoff_messages", schema=None) as batch_op:
        batch_op.create_index("ix_handoff_messages_request_id_at", ["request_id", "at"], unique=False)

    with op.batch_alter_table("handoff_requests", schema=None) as batch_op:
        batch_op.add_column(sa.Column("assigned_to", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("assigned_name", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("last_citizen_at", bot.db.UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("last_staff_at", bot.db.UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("waiting_until", bot.db.UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("handed_back_at", bot.db.UTCDateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("handoff_requests", schema=None) as batch_op:
        batch_op.drop_column("handed_back_at")
        batch_op.drop_column("waiting_until")
        batch_op.drop_column("last_staff_at")
        batch_op.drop_column("last_citizen_at")
        batch_op.drop_column("assigned_name")
        batch_op.drop_column("assigned_to")

    with op.batch_alter_table("handoff_messages", schema=None) as batch_op:
        batch_op.drop_index("ix_handoff_messages_request_id_at")

    op.drop_table("handoff_messages")
    op.drop_table("handoff_canned_replies")
    with op.batch_alter_table("chat_transcripts", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_chat_transcripts_updated_at"))

    op.drop_table("chat_transcripts")
