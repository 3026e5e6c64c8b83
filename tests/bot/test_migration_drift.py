"""The migrations build the schema the models describe, and a landed migration is never edited.

A difference between a freshly migrated database and Base.metadata (every capability's models
loaded) means a model changed without a migration, or a migration that says something else.
The fix is a new migration (the next number in bot/migrations/versions/), never an edit of one
that has landed: databases out there have already run it.
"""

from __future__ import annotations

import hashlib
import pprint
from pathlib import Path

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from bot.capabilities import load_models
from bot.db import Base, make_engine
from bot.migrate import MIGRATIONS_DIR

VERSIONS_DIR = MIGRATIONS_DIR / "versions"

# sha256 of each landed migration. A new migration is added here when it lands; none is ever changed.
LANDED = {
    "0001_core_inbox_outbox_citizens_conversations.py": (
        "2d44791ef52812d0a52dcc62d09095422d3c057d0d1feaeab1467f4c08e6ac9f"
    ),
    "0002_admin.py": "c70580bdeb288822e9a22ca4fc6cc5d2db3df01fde4e5f05195d818ba6bf6fbc",
    "0003_nlu_faq_handoff.py": "6f618ac9b92af4a048980fcaa9e9c36e9c30823d5c6de5b3a9946726c80eb101",
    "0004_gis.py": "51ea55c9e9dbb2df7d1de85ffc17c76ee6cdd0c77e08feccc31413fb142edd37",
    "0005_reservations.py": "76494675e8526868972496795ef7cc9fcf6260dd4fc91c6d170f574a70958e96",
    "0006_inbox_outbox_unfinished_indexes.py": "12d38e8fa0d0f2a95557d1658f7a7fa6ee710a1e4a6517cb1a7610866a4b418a",
    "0007_worker_heartbeats.py": "3589d124eceea73defb4f684aeb99947d99b69624acce5a9e767b0bcdbc503a5",
    "0008_classes.py": "b587edfb77731d91e5b40c4ae74e9ab6f0ffad2c30d8060dd34db7b16f8cb77e",
    "0009_staff_inbox.py": "84a2f798fb6663ff5bc1b198035f6fecbc28e0db261830b9f0c601d669e5900a",
    "0010_faq_staff.py": "470c8536d65add54a0d4e0f3b558af03811da33f0d214bdbb38ad6213e15ada4",
    "0011_send_engine.py": "74cb0c924628aaafaead475a63a42b75225a06f74fa6bf4e60f945ac577f8db9",
    "0012_broadcasts.py": "223c8153ddd78889323d6fb945e837fa3fc6ba2338c8ba6eef3537990f0c3761",
    "0013_forms.py": "1393c4e23818e7caa4ab4d4566c255ab09f0093e76598238d0482d16761abb12",
}


def _sha256(path: Path) -> str:
    # Line endings as git stores them, whatever the checkout made of them.
    return hashlib.sha256(path.read_bytes().replace(b"\r\n", b"\n")).hexdigest()


def test_migrated_schema_matches_the_models(database_url: str) -> None:
    load_models()
    engine = make_engine(database_url)
    try:
        with engine.connect() as connection:
            # The options bot/migrations/env.py runs the migrations with.
            context = MigrationContext.configure(connection, opts={"compare_type": True})
            differences = compare_metadata(context, Base.metadata)
    finally:
        engine.dispose()
    assert not differences, (
        f"the migrated {engine.dialect.name} schema differs from the models "
        "(fix with a new migration, never by editing a landed one):\n" + pprint.pformat(differences, width=120)
    )


def test_landed_migrations_are_unchanged() -> None:
    changed = {
        name
        for name, digest in LANDED.items()
        if not (VERSIONS_DIR / name).exists() or _sha256(VERSIONS_DIR / name) != digest
    }
    assert not changed, f"landed migrations were edited (write a new migration instead): {sorted(changed)}"


def test_every_migration_is_pinned() -> None:
    unpinned = sorted(path.name for path in VERSIONS_DIR.glob("*.py") if path.name not in LANDED)
    assert not unpinned, (
        f"add the new migrations' sha256 to LANDED in {Path(__file__).name} as they land: "
        + ", ".join(f"{name}: {_sha256(VERSIONS_DIR / name)}" for name in unpinned)
    )
