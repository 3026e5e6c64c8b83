"""お知らせ配信: topics and subscriptions, verified member groups with registration codes, and broadcasts
with their runs (each run's delivery is the engine's send job, migration 0011).

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-03 20:46:08.970039
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import bot.db

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "broadcast_images",
        sa.Column("token", sa.String(length=64), nullable=False),
        sa.Column("content_type", sa.String(length=32), nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
        sa.Column("preview", sa.LargeBinary(), nullable=False),
        sa.Column("width", sa.Integer(), nullable=False),
        sa.Column("height", sa.Integer(), nullable=False),
        sa.Column("created_at", bot.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("token", name=op.f("pk_broadcast_images")),
    )
    op.create_table(
        "broadcast_subscribers",
        sa.Column("line_user_id", sa.String(length=64), nullable=False),
        sa.Column("asked_at", bot.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("answered_at", bot.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("updated_at", bot.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("line_user_id", name=op.f("pk_broadcast_subscribers")),
    )
    op.create_table(
        "broadcast_topics",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("key", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=40), nullable=False),
        sa.Column("description", sa.String(length=200), nullable=False),
        sa.Column("keywords", bot.db.JSONType, nullable=False),
        sa.Column("default_on", sa.Boolean(), nullable=False),
        sa.Column("sort_order", sa.Integer(), nullable=False),
        sa.Column("is_active", sa.Boolean(), nullable=False),
        sa.Column("updated_at", bot.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_broadcast_topics")),
        sa.UniqueConstraint("key", name=op.f("uq_broadcast_topics_key")),
    )
    op.create_table(
        "broadcasts",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("title", sa.String(length=80), nullable=False),
        sa.Column("template", sa.String(length=16), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("image_path", sa.String(length=200), nullable=True),
        sa.Column("audience", bot.db.JSONType, nullable=False),
        sa.Column("urgent", sa.Boolean(), nullable=False),
        sa.Column("status", sa.String(length=24), nullable=False),
        sa.Column("send_at", bot.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("recurrence", bot.db.JSONType, nullable=True),
        sa.Column("created_by", sa.String(length=64), nullable=False),
        sa.Column("created_by_id", sa.Integer(), nullable=True),
        sa.Column("created_at", bot.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("approved_by", sa.String(length=64), nullable=True),
        sa.Column("approved_at", bot.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("cancelled_by", sa.String(length=64), nullable=True),
        sa.Column("cancelled_at", bot.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("updated_at", bot.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_broadcasts")),
    )
    with op.batch_alter_table("broadcasts", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_broadcasts_status"), ["status"], unique=False)

    op.create_table(
        "member_code_attempts",
        sa.Column("line_user_id", sa.String(length=64), nullable=False),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("window_started_at", bot.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("locked_until", bot.db.UTCDateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("line_user_id", name=op.f("pk_member_code_attempts")),
    )
    op.create_table(
        "member_groups",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("name", sa.String(length=60), nullable=False),
        sa.Column("description", sa.String(length=200), nullable=False),
        sa.Column("created_at", bot.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(length=64), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_member_groups")),
        sa.UniqueConstraint("name", name=op.f("uq_member_groups_name")),
    )
    op.create_table(
        "broadcast_runs",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("broadcast_id", sa.Integer(), nullable=False),
        sa.Column("due_at", bot.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("send_job_id", sa.Integer(), nullable=True),
        sa.Column("started_at", bot.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("held_from", bot.db.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["broadcast_id"],
            ["broadcasts.id"],
            name=op.f("fk_broadcast_runs_broadcast_id_broadcasts"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_broadcast_runs")),
        sa.UniqueConstraint("broadcast_id", "due_at", name="uq_broadcast_runs_broadcast_due"),
    )
    with op.batch_alter_table("broadcast_runs", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_broadcast_runs_broadcast_id"), ["broadcast_id"], unique=False)
        batch_op.create_index("ix_broadcast_runs_status_due", ["status", "due_at"], unique=False)

    op.create_table(
        "broadcast_subscriptions",
        sa.Column("line_user_id", sa.String(length=64), nullable=False),
        sa.Column("topic_id", sa.Integer(), nullable=False),
        sa.Column("created_at", bot.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["topic_id"],
            ["broadcast_topics.id"],
            name=op.f("fk_broadcast_subscriptions_topic_id_broadcast_topics"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("line_user_id", "topic_id", name=op.f("pk_broadcast_subscriptions")),
    )
    with op.batch_alter_table("broadcast_subscriptions", schema=None) as batch_op:
        batch_op.create_index("ix_broadcast_subscriptions_topic", ["topic_id", "line_user_id"], unique=False)

    op.create_table(
        "group_members",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("group_id", sa.Integer(), nullable=False),
        sa.Column("name_enc", sa.Text(), nullable=False),
        sa.Column("phone_enc", sa.Text(), nullable=True),
        sa.Column("district", sa.String(length=32), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("line_user_id", sa.String(length=64), nullable=True),
        sa.Column("code_digest", sa.String(length=64), nullable=True),
        sa.Column("code_expires_at", bot.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("created_at", bot.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("linked_at", bot.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("removed_at", bot.db.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["group_id"], ["member_groups.id"], name=op.f("fk_group_members_group_id_member_groups"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_group_members")),
        sa.UniqueConstraint("code_digest", name=op.f("uq_group_members_code_digest")),
    )
    with op.batch_alter_table("group_members", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_group_members_group_id"), ["group_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_group_members_line_user_id"), ["line_user_id"], unique=False)


def downgrade() -> None:
    op.drop_table("broadcast_images")
    with op.batch_alter_table("group_members", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_group_members_line_user_id"))
        batch_op.drop_index(batch_op.f("ix_group_members_group_id"))

    op.drop_table("group_members")
    with op.batch_alter_table("broadcast_subscriptions", schema=None) as batch_op:
        batch_op.drop_index("ix_broadcast_subscriptions_topic")

    op.drop_table("broadcast_subscriptions")
    with op.batch_alter_table("broadcast_runs", schema=None) as batch_op:
        batch_op.drop_index("ix_broadcast_runs_status_due")
        batch_op.drop_index(batch_op.f("ix_broadcast_runs_broadcast_id"))

    op.drop_table("broadcast_runs")
    op.drop_table("member_groups")
    op.drop_table("member_code_attempts")
    with op.batch_alter_table("broadcasts", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_broadcasts_status"))

    op.drop_table("broadcasts")
    op.drop_table("broadcast_topics")
    op.drop_table("broadcast_subscribers")
