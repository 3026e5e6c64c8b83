"""`madoguchi garbage ...`: replace the garbage calendar, send the reminders that are due."""

from __future__ import annotations

from pathlib import Path

import click

from bot.command_support import command_session


@click.group("garbage")
def garbage_group() -> None:
    """Garbage days: the collection calendar and the evening-before reminders."""


@garbage_group.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
def import_command(file: Path) -> None:
    """Replace the garbage calendar with FILE (YAML, see handlers/garbage/data/garbage_sample.yml)."""
    from handlers.garbage import service as garbage_service

    with command_session() as db_session:
        try:
            count = garbage_service.replace_calendar(
                db_session=db_session, text=file.read_text(encoding="utf-8"), source_name=file.name
            )
        except garbage_service.GarbageFileError as exc:
            raise click.ClickException(f"refused: {exc} (the calendar was not changed)") from None
    click.echo(f"garbage calendar: {count} rules")


@garbage_group.command("remind")
def remind_command() -> None:
    """Queue the garbage reminders due now (the evening before); safe to run every few minutes."""
    from bot import clock
    from handlers.garbage.notify import send_due_garbage_reminders

    with command_session() as db_session:
        sent = send_due_garbage_reminders(db_session=db_session, now=clock.now())
    click.echo(f"garbage reminders queued: {sent}")
