"""Alembic migrations, run programmatically (`madoguchi db upgrade`) with no alembic.ini."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config

MIGRATIONS_DIR = Path(__file__).parent / "migrations"


def alembic_config(database_url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.set_main_option("sqlalchemy.url", database_url.replace("%", "%%"))
    config.attributes["database_url"] = database_url
    return config


def upgrade(database_url: str, revision: str = "heads") -> None:
    """Migrates to the newest revision of every branch (each capability may branch off the core)."""
    command.upgrade(alembic_config(database_url), revision)


def downgrade(database_url: str, revision: str) -> None:
    command.downgrade(alembic_config(database_url), revision)


def current(database_url: str) -> str | None:
    """The revision of every branch the database is at (e.g. \"0004, 0005\"), or None when empty."""
    from alembic.runtime.migration import MigrationContext

    from bot.db import make_engine

    engine = make_engine(database_url)
    try:
        with engine.connect() as conn:
            heads = MigrationContext.configure(conn).get_current_heads()
            return ", ".join(sorted(heads)) or None
    finally:
        engine.dispose()


def revision(database_url: str, message: str, *, autogenerate: bool = True) -> str:
    """Writes a new migration numbered after the newest one, on the head; answers its path.
    Autogenerate compares the models with the database at `database_url` (upgrade it first)."""
    from alembic.script import ScriptDirectory

    config = alembic_config(database_url)
    numbers = [int(r.revision) for r in ScriptDirectory.from_config(config).walk_revisions() if r.revision.isdigit()]
    written = command.revision(
        config, message=message, autogenerate=autogenerate, rev_id=f"{max(numbers, default=0) + 1:04d}", head="head"
    )
    script = written[0] if isinstance(written, list) else written
    return str(script.path) if script is not None else "(nothing written)"
