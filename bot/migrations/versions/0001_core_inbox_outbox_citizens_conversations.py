"""core: inbox, outbox, citizens, conversations

Revision ID: 0001
Revises:
Create Date: 2026-11-24 08:05:23.157503
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import bot.db

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:

    op.create_table(
        "citizens",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("line_user_id", sa.String(length=64), nullable=False),
        sa.Column("display_name", sa.String(length=200), nullable=True),
        sa.Column("picture_url", sa.String(length=2000), nullable=True),
        sa.Column("language", sa.String(length=16), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("created_at", bot.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("followed_at", bot.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("blocked_at", bot.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("last_seen_at", bot.db.UTCDateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_citizens")),
        sa.UniqueConstraint("line_user_id", name=op.f("uq_citizens_line_user_id")),
    )
    op.create_table(
        "conversations",
        sa.Column("chat_id", sa.String(length=64), nullable=False),
        sa.Column("flow", sa.String(length=64), nullable=False),
        sa.Column("state", sa.String(length=64), nullable=False),
        sa.Column("data", sa.JSON().with_variant(postgresql.JSONB(), "postgresql"), nullable=False),
        sa.Column("updated_at", bot.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("expires_at", bot.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("chat_id", name=op.f("pk_conversations")),
    )
    op.create_table(
        "inbox_events",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("event_key", sa.String(length=64), nullable=False),
        sa.Column("event_type", sa.String(length=40), nullable=False),
        sa.Column("chat_id", sa.String(length=64), nullable=True),
        sa.Column("user_id", sa.String(length=64), nullable=True),
        sa.Column("mode", sa.String(length=16), nullable=False),
        sa.Column("is_redelivery", sa.Boolean(), nullable=False),
        sa.Column("event_time", bot.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("received_at", bot.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("payload", sa.JSON().with_variant(postgresql.JSONB(), "postgresql"), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", bot.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("locked_until", bot.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("processed_at", bot.db.UTCDateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_inbox_events")),
        sa.UniqueConstraint("event_key", name=op.f("uq_inbox_events_event_key")),
    )
    with op.batch_alter_table("inbox_events", schema=None) as batch_op:
        batch_op.create_index("ix_inbox_events_chat_status", ["chat_id", "status"], unique=False)
        batch_op.create_index("ix_inbox_events_status_next", ["status", "next_attempt_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_inbox_events_user_id"), ["user_id"], unique=False)

    op.create_table(
        "outbox_messages",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("inbox_event_id", sa.Integer(), nullable=True),
        sa.Column("reply_token", sa.String(length=255), nullable=True),
        sa.Column("reply_deadline", bot.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("to", sa.String(length=64), nullable=True),
        sa.Column("recipients", sa.JSON().with_variant(postgresql.JSONB(), "postgresql"), nullable=True),
        sa.Column("messages", sa.JSON().with_variant(postgresql.JSONB(), "postgresql"), nullable=False),
        sa.Column("notification_disabled", sa.Boolean(), nullable=False),
        sa.Column("retry_key", sa.String(length=36), nullable=False),
        sa.Column("purpose", sa.String(length=64), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("ambiguous_attempt", sa.Boolean(), nullable=False),
        sa.Column("created_at", bot.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("next_attempt_at", bot.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("locked_until", bot.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("sent_at", bot.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("request_id", sa.String(length=64), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["inbox_event_id"],
            ["inbox_events.id"],
            name=op.f("fk_outbox_messages_inbox_event_id_inbox_events"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_outbox_messages")),
    )
    with op.batch_alter_table("outbox_messages", schema=None) as batch_op:
        batch_op.create_index("ix_outbox_messages_status_next", ["status", "next_attempt_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_outbox_messages_to"), ["to"], unique=False)


def downgrade() -> None:

    with op.batch_alter_table("outbox_messages", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_outbox_messages_to"))
        batch_op.drop_index("ix_outbox_messages_status_next")

    op.drop_table("outbox_messages")
    with op.batch_alter_table("inbox_events", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_inbox_events_user_id"))
        batch_op.drop_index("ix_inbox_events_status_next")
        batch_op.drop_index("ix_inbox_events_chat_status")

    op.drop_table("inbox_events")
    op.drop_table("conversations")
    op.drop_table("citizens")
