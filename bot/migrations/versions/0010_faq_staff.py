"""faq: an official link per entry, and when and into which entry staff handled an unanswered question

`faq_entries.url` is the city's own page on the matter, shown at the end of the answer ("" when
there is none). `faq_unanswered.resolved_at` and `resolved_faq_id` say when staff handled a
question and which entry answers it now; its status may also be 'dismissed' (out of scope).

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-03 18:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import bot.db

revision: str = "0010"
down_revision: str | tuple[str, ...] | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("faq_entries", schema=None) as batch_op:
        batch_op.add_column(sa.Column("url", sa.String(length=500), server_default="", nullable=False))
    with op.batch_alter_table("faq_unanswered", schema=None) as batch_op:
        batch_op.add_column(sa.Column("resolved_at", bot.db.UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("resolved_faq_id", sa.String(length=64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("faq_unanswered", schema=None) as batch_op:
        batch_op.drop_column("resolved_faq_id")
        batch_op.drop_column("resolved_at")
    with op.batch_alter_table("faq_entries", schema=None) as batch_op:
        batch_op.drop_column("url")
