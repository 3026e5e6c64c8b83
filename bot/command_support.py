"""What the commands share (bot/cli.py and the capabilities' command groups): the environment's
settings, and a database session that says in one line what to run when there is no database."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import click
from sqlalchemy.orm import Session

from bot.settings import ConfigError, Settings, get_settings


def settings_for_command() -> Settings:
    """The settings from the environment; the process is configured with them (catalog, NLU)."""
    from bot.runtime import configure_process

    try:
        settings = get_settings()
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from None
    configure_process(settings)
    return settings


def _newest_revisions(database_url: str) -> set[str]:
    """The heads of the migrations this code ships (what `madoguchi db upgrade` goes to)."""
    from alembic.script import ScriptDirectory

    from bot.migrate import alembic_config

    return set(ScriptDirectory.from_config(alembic_config(database_url)).get_heads())


@contextmanager
def command_session() -> Iterator[Session]:
    """One transaction on the database of the environment's settings, for a command. A database that
    is missing or was never migrated is one line saying what to run, not a traceback."""
    from bot.db import Database
    from bot.migrate import current

    settings = settings_for_command()
    try:
        revision = current(settings.database_url)
    except Exception:
        revision = None
    if revision is None:
        raise click.ClickException(
            "The database has no tables yet. Run `madoguchi db upgrade` first "
            "(and `madoguchi gis import --demo` / `madoguchi garbage import FILE` to load data)."
        )
    if set(revision.split(", ")) != _newest_revisions(settings.database_url):
        raise click.ClickException(
            f"The database is at an older version ({revision}). Run `madoguchi db upgrade` first."
        )
    db = Database(settings.database_url)
    try:
        with db.session() as session:
            yield session
    finally:
        db.dispose()
