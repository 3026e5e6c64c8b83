"""`madoguchi reservations ...`: load the counter's offices, procedures and slot rules from a file."""

from __future__ import annotations

from pathlib import Path

import click

from bot.command_support import command_session


@click.group("reservations")
def reservations_group() -> None:
    """Counter reservations (書かない窓口): the offices, procedures and slot rules."""


@reservations_group.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--overwrite",
    is_flag=True,
    help="Update the offices and procedures that exist and replace the slot rules of the offices in FILE "
    "(default: only add what is missing; staff edits stay).",
)
def import_command(file: Path, overwrite: bool) -> None:
    """Load offices, procedures and slot rules from FILE (YAML, shaped as
    handlers/reservations/data/counter.yml). Every entry is checked first: if any is wrong, each is
    reported and nothing is imported."""
    from handlers.reservations.service import seed as counter_file

    try:
        text = file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise click.ClickException(f"cannot read {file.name}: {exc}") from None
    with command_session() as db_session:
        try:
            imported = counter_file.import_counter(db_session=db_session, text=text, overwrite=overwrite)
        except counter_file.CounterFileError as exc:
            lines = "\n".join(f"  {problem}" for problem in exc.problems)
            raise click.ClickException(
                f"refused: {len(exc.problems)} problem(s) in {file.name} (nothing was imported):\n{lines}"
            ) from None
    click.echo(f"counter data imported from {file.name}: {imported}")
