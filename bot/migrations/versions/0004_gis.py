"""gis: map layers and places (shelters, evacuation sites, facilities, AEDs), the garbage calendar
and citizens' garbage districts and reminders

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-24 09:08:51.974491

A branch of its own off 0003 (reservations branch off it too): `madoguchi db upgrade` goes to heads.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import bot.db

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _json() -> sa.types.TypeEngine:
    return sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def upgrade() -> None:
    op.create_table(
        "gis_layers",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("city", sa.String(length=100), nullable=False),
        sa.Column("scope", sa.String(length=16), nullable=False),
        sa.Column("source", sa.Text(), nullable=False),
        sa.Column("license", sa.String(length=200), nullable=False),
        sa.Column("source_url", sa.String(length=500), nullable=False),
        sa.Column("is_sample", sa.Boolean(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("place_count", sa.Integer(), nullable=False),
        sa.Column("filename", sa.String(length=300), nullable=False),
        sa.Column("updated_at", bot.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_by", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_gis_layers")),
        sa.UniqueConstraint("key", name=op.f("uq_gis_layers_key")),
    )
    with op.batch_alter_table("gis_layers", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_gis_layers_kind"), ["kind"], unique=False)

    op.create_table(
        "gis_places",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("layer_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("ext_id", sa.String(length=64), nullable=False),
        sa.Column("facility_key", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("address", sa.String(length=300), nullable=False),
        sa.Column("lat", sa.Float(), nullable=False),
        sa.Column("lon", sa.Float(), nullable=False),
        sa.Column("hazards", _json(), nullable=False),
        sa.Column("properties", _json(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("status_updated_at", bot.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("status_updated_by", sa.String(length=64), nullable=True),
        sa.ForeignKeyConstraint(
            ["layer_id"], ["gis_layers.id"], name=op.f("fk_gis_places_layer_id_gis_layers"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_gis_places")),
    )
    with op.batch_alter_table("gis_places", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_gis_places_facility_key"), ["facility_key"], unique=False)
        batch_op.create_index(batch_op.f("ix_gis_places_kind"), ["kind"], unique=False)
        batch_op.create_index(batch_op.f("ix_gis_places_layer_id"), ["layer_id"], unique=False)

    op.create_table(
        "gis_garbage_rules",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("district", sa.String(length=32), nullable=False),
        sa.Column("category", sa.String(length=64), nullable=False),
        sa.Column("pattern", _json(), nullable=False),
        sa.Column("keywords", _json(), nullable=False),
        sa.Column("sort_order", sa.Integer(), nullable=False),
        sa.Column("source", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_gis_garbage_rules")),
    )
    with op.batch_alter_table("gis_garbage_rules", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_gis_garbage_rules_district"), ["district"], unique=False)

    op.create_table(
        "gis_garbage_preferences",
        sa.Column("line_user_id", sa.String(length=64), nullable=False),
        sa.Column("district", sa.String(length=32), nullable=False),
        sa.Column("reminder", sa.Boolean(), nullable=False),
        sa.Column("last_reminded_for", sa.Date(), nullable=True),
        sa.Column("updated_at", bot.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("line_user_id", name=op.f("pk_gis_garbage_preferences")),
    )
    with op.batch_alter_table("gis_garbage_preferences", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_gis_garbage_preferences_reminder"), ["reminder"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("gis_garbage_preferences", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_gis_garbage_preferences_reminder"))
    op.drop_table("gis_garbage_preferences")
    with op.batch_alter_table("gis_garbage_rules", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_gis_garbage_rules_district"))
    op.drop_table("gis_garbage_rules")
    with op.batch_alter_table("gis_places", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_gis_places_layer_id"))
        batch_op.drop_index(batch_op.f("ix_gis_places_kind"))
        batch_op.drop_index(batch_op.f("ix_gis_places_facility_key"))
    op.drop_table("gis_places")
    with op.batch_alter_table("gis_layers", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_gis_layers_kind"))
    op.drop_table("gis_layers")
