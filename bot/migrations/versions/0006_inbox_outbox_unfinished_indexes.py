"""inbox and outbox: partial indexes over the unfinished rows, in id order, for claiming

Claiming takes the oldest due rows whose chat has no earlier event or answer still under way.
Without these, PostgreSQL read every pending row of a backlog, probed each chat through an
index of all its rows, and sorted (19 to 80 ms for 3,000 pending rows, seconds before the
table had statistics); with them it walks the unfinished rows in id order, probes only a
chat's unfinished rows, and stops at the batch size. Finished rows, the vast majority, are
not in these indexes.
The inbox's older (status, next_attempt_at) and (chat_id, status) indexes are dropped: the
planners preferred them and sorted the whole backlog. Dead letters get a small index of their
own for the staff list. Also joins the GIS (0004) and reservations (0005) branches back into one line.

Revision ID: 0006
Revises: 0004, 0005
Create Date: 2026-11-24 12:45:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | tuple[str, ...] | None = ("0004", "0005")
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

INBOX_UNFINISHED = sa.text("status IN ('pending', 'processing')")
OUTBOX_UNFINISHED = sa.text("status IN ('pending', 'sending')")


INDEXES = [
    ("ix_inbox_events_unfinished", "inbox_events", ["id"], INBOX_UNFINISHED),
    ("ix_inbox_events_dead", "inbox_events", ["id"], sa.text("status = 'dead'")),
    ("ix_inbox_events_unfinished_chat", "inbox_events", ["chat_id", "id"], INBOX_UNFINISHED),
    ("ix_outbox_messages_unfinished", "outbox_messages", ["id"], OUTBOX_UNFINISHED),
    ("ix_outbox_messages_unfinished_to", "outbox_messages", ["to"], OUTBOX_UNFINISHED),
]


# Superseded: with them, both planners gathered and sorted a whole backlog to claim a batch.
SUPERSEDED = [
    ("ix_inbox_events_status_next", "inbox_events", ["status", "next_attempt_at"]),
    ("ix_inbox_events_chat_status", "inbox_events", ["chat_id", "status"]),
]


def upgrade() -> None:
    for name, table, _columns in SUPERSEDED:
        op.drop_index(name, table_name=table)
    for name, table, columns, where in INDEXES:
        op.create_index(name, table, columns, postgresql_where=where, sqlite_where=where)


def downgrade() -> None:
    for name, table, _columns, _where in reversed(INDEXES):
        op.drop_index(name, table_name=table)
    for name, table, columns in SUPERSEDED:
        op.create_index(name, table, columns)
