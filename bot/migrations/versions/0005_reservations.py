"""reservations: offices, procedures, slot rules, closures, counter slots, reservations, reminders sent

A branch of its own off 0003 (GIS takes 0004); `madoguchi db upgrade` goes to every head.

Revision ID: 0005
Revises: 0003
Create Date: 2026-11-24 09:08:55.252645
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import bot.db

revision: str = "0005"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
UTC = bot.db.UTCDateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "reservation_offices",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("address", sa.String(length=200), nullable=False),
        sa.Column("phone", sa.String(length=32), nullable=False),
        sa.Column("opens", sa.String(length=5), nullable=False),
        sa.Column("closes", sa.String(length=5), nullable=False),
        sa.Column("sort_order", sa.Integer(), nullable=False),
        sa.Column("is_active", sa.Boolean(), nullable=False),
        sa.Column("updated_at", UTC, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_reservation_offices")),
    )
    op.create_table(
        "reservation_procedures",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("duration_minutes", sa.Integer(), nullable=False),
        sa.Column("office_ids", JSON, nullable=False),
        sa.Column("documents", JSON, nullable=False),
        sa.Column("fields", JSON, nullable=False),
        sa.Column("keywords", JSON, nullable=False),
        sa.Column("sort_order", sa.Integer(), nullable=False),
        sa.Column("is_active", sa.Boolean(), nullable=False),
        sa.Column("updated_at", UTC, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_reservation_procedures")),
    )
    op.create_table(
        "counter_slots",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("office_id", sa.String(length=32), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("starts_at", UTC, nullable=False),
        sa.Column("ends_at", UTC, nullable=False),
        sa.Column("capacity", sa.Integer(), nullable=False),
        sa.Column("booked", sa.Integer(), nullable=False),
        sa.Column("is_closed", sa.Boolean(), nullable=False),
        sa.Column("is_adjusted", sa.Boolean(), nullable=False),
        sa.CheckConstraint("booked >= 0", name=op.f("ck_counter_slots_booked_not_negative")),
        sa.ForeignKeyConstraint(
            ["office_id"],
            ["reservation_offices.id"],
            name=op.f("fk_counter_slots_office_id_reservation_offices"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_counter_slots")),
        sa.UniqueConstraint("office_id", "starts_at", name="uq_counter_slots_office_id_starts_at"),
    )
    with op.batch_alter_table("counter_slots", schema=None) as batch_op:
        batch_op.create_index("ix_counter_slots_office_id_day", ["office_id", "day"], unique=False)

    op.create_table(
        "reservation_closures",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("office_id", sa.String(length=32), nullable=True),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("reason", sa.String(length=200), nullable=False),
        sa.Column("created_at", UTC, nullable=False),
        sa.ForeignKeyConstraint(
            ["office_id"],
            ["reservation_offices.id"],
            name=op.f("fk_reservation_closures_office_id_reservation_offices"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_reservation_closures")),
        sa.UniqueConstraint("office_id", "day", name="uq_reservation_closures_office_id_day"),
    )
    with op.batch_alter_table("reservation_closures", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_reservation_closures_day"), ["day"], unique=False)

    op.create_table(
        "reservation_slot_rules",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("office_id", sa.String(length=32), nullable=False),
        sa.Column("weekdays", JSON, nullable=False),
        sa.Column("start_time", sa.String(length=5), nullable=False),
        sa.Column("end_time", sa.String(length=5), nullable=False),
        sa.Column("slot_minutes", sa.Integer(), nullable=False),
        sa.Column("capacity", sa.Integer(), nullable=False),
        sa.Column("is_active", sa.Boolean(), nullable=False),
        sa.Column("updated_at", UTC, nullable=False),
        sa.ForeignKeyConstraint(
            ["office_id"],
            ["reservation_offices.id"],
            name=op.f("fk_reservation_slot_rules_office_id_reservation_offices"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_reservation_slot_rules")),
    )
    with op.batch_alter_table("reservation_slot_rules", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_reservation_slot_rules_office_id"), ["office_id"], unique=False)

    op.create_table(
        "reservations",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("slot_id", sa.Integer(), nullable=False),
        sa.Column("office_id", sa.String(length=32), nullable=False),
        sa.Column("procedure_id", sa.String(length=32), nullable=False),
        sa.Column("visit_day", sa.Date(), nullable=False),
        sa.Column("starts_at", UTC, nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("line_user_id", sa.String(length=64), nullable=True),
        sa.Column("qr_token_hash", sa.String(length=64), nullable=True),
        sa.Column("qr_token_enc", sa.Text(), nullable=True),
        sa.Column("answers_enc", sa.Text(), nullable=True),
        sa.Column("answers_purged_at", UTC, nullable=True),
        sa.Column("idempotency_key", sa.String(length=64), nullable=True),
        sa.Column("created_by", sa.String(length=64), nullable=False),
        sa.Column("created_at", UTC, nullable=False),
        sa.Column("updated_at", UTC, nullable=False),
        sa.Column("cancelled_at", UTC, nullable=True),
        sa.Column("cancel_reason", sa.String(length=200), nullable=True),
        sa.Column("arrived_at", UTC, nullable=True),
        sa.Column("done_at", UTC, nullable=True),
        sa.ForeignKeyConstraint(
            ["office_id"], ["reservation_offices.id"], name=op.f("fk_reservations_office_id_reservation_offices")
        ),
        sa.ForeignKeyConstraint(
            ["procedure_id"],
            ["reservation_procedures.id"],
            name=op.f("fk_reservations_procedure_id_reservation_procedures"),
        ),
        sa.ForeignKeyConstraint(["slot_id"], ["counter_slots.id"], name=op.f("fk_reservations_slot_id_counter_slots")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_reservations")),
        sa.UniqueConstraint("idempotency_key", name=op.f("uq_reservations_idempotency_key")),
        sa.UniqueConstraint("qr_token_hash", name=op.f("uq_reservations_qr_token_hash")),
    )
    with op.batch_alter_table("reservations", schema=None) as batch_op:
        batch_op.create_index("ix_reservations_line_user_id_status", ["line_user_id", "status"], unique=False)
        batch_op.create_index(batch_op.f("ix_reservations_slot_id"), ["slot_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_reservations_status"), ["status"], unique=False)
        batch_op.create_index(batch_op.f("ix_reservations_visit_day"), ["visit_day"], unique=False)

    op.create_table(
        "reservation_reminders_sent",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("reservation_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("starts_at", UTC, nullable=False),
        sa.Column("sent_at", UTC, nullable=False),
        sa.ForeignKeyConstraint(
            ["reservation_id"],
            ["reservations.id"],
            name=op.f("fk_reservation_reminders_sent_reservation_id_reservations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_reservation_reminders_sent")),
        sa.UniqueConstraint("reservation_id", "kind", "starts_at", name="uq_reservation_reminders_sent_key"),
    )


def downgrade() -> None:
    op.drop_table("reservation_reminders_sent")
    with op.batch_alter_table("reservations", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_reservations_visit_day"))
        batch_op.drop_index(batch_op.f("ix_reservations_status"))
        batch_op.drop_index(batch_op.f("ix_reservations_slot_id"))
        batch_op.drop_index("ix_reservations_line_user_id_status")
    op.drop_table("reservations")
    with op.batch_alter_table("reservation_slot_rules", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_reservation_slot_rules_office_id"))
    op.drop_table("reservation_slot_rules")
    with op.batch_alter_table("reservation_closures", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_reservation_closures_day"))
    op.drop_table("reservation_closures")
    with op.batch_alter_table("counter_slots", schema=None) as batch_op:
        batch_op.drop_index("ix_counter_slots_office_id_day")
    op.drop_table("counter_slots")
    op.drop_table("reservation_procedures")
    op.drop_table("reservation_offices")
    # The scheduler's job store (APScheduler creates it when it first starts).
    op.execute("DROP TABLE IF EXISTS apscheduler_jobs")
