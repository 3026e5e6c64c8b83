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
    db = Database(settings.database_url)
    try:
        with db.session() as session:
            yield session
    finally:
        db.dispose()
