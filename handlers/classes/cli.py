"""`madoguchi classes ...`: the sessions to come, and the jobs by hand (the scheduler runs them too)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import click

from bot.command_support import command_session, settings_for_command
from bot.db import Database
from bot.settings import Settings


@contextmanager
def _database() -> Iterator[tuple[Database, Settings]]:
    """The jobs' own way in: one transaction per session drawn or reminder sent."""
    with command_session():  # says what to run when the database is missing
        pass
    settings = settings_for_command()
    db = Database(settings.database_url)
    try:
        yield db, settings
    finally:
        db.dispose()


@click.group("classes")
def classes() -> None:
    """スマホ教室: sessions, lottery draws, reminders."""


@classes.command("list")
def list_command() -> None:
    """The sessions to come, with places left, waitlist and applications."""
    from bot import clock
    from handlers.classes.service import sessions

    with command_session() as db_session:
        found = sessions.upcoming(db_session=db_session, now=clock.now(), include_cancelled=True)
        counts = sessions.counts(db_session=db_session, session_ids=[s.id for s in found])
        for session in found:
            count = counts[session.id]
            click.echo(
                f"{session.id:>5}  {session.starts_at.astimezone(clock.TOKYO):%Y-%m-%d %H:%M}  {session.title}"
                f"  @{session.venue}  {count.confirmed}/{session.capacity}"
                f"  waiting {count.waitlisted}  applied {count.applied}  {session.mode}  {session.status}"
            )
    click.echo(f"{len(found)} session(s)")


@classes.command("draw")
def draw_command() -> None:
    """Draw every lottery whose deadline has passed (safe to run again: each is drawn once)."""
    from handlers.classes import notify

    with _database() as (db, settings):
        drawn = notify.draw_due(db=db, settings=settings)
    click.echo(f"lotteries drawn: {drawn}")


@classes.command("remind")
def remind_command() -> None:
    """Queue the day-before reminders that are due (each goes out once, however often this runs)."""
    from handlers.classes import notify

    with _database() as (db, settings):
        sent = notify.send_due(db=db, settings=settings)
    click.echo(f"class reminders queued: {sent}")
