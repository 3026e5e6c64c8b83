"""`madoguchi faq ...`: ask the FAQ from the command line, and load FAQ entries into the database."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path

import click

from nlu.result import FaqResult


def _dump(result: FaqResult) -> str:
    return json.dumps(result.to_json(), ensure_ascii=False)


def _asker(source: str) -> tuple[Callable[[str], FaqResult], Callable[[], None]]:
    """ask(text) over the database's entries, or the seed file's when the database has none."""
    from nlu import get_embedded
    from nlu.faq import FaqIndex, load_seed

    if source in ("db", "auto"):
        from sqlalchemy.exc import SQLAlchemyError

        from bot.db import Database
        from bot.settings import get_settings
        from handlers.faq import service as faq_service

        db = Database(get_settings().database_url)
        try:
            with db.session() as db_session:
                index = faq_service.get_index(db_session=db_session)
            if index.documents or source == "db":
                return index.ask, db.dispose
        except SQLAlchemyError as exc:
            if source == "db":
                db.dispose()
                raise click.ClickException(f"cannot read the FAQ from the database: {type(exc).__name__}") from None
        db.dispose()
        click.echo("(no FAQ entries in the database: answering from the seed file)", err=True)
    index = FaqIndex.build(load_seed(faq_service_seed_file()), get_embedded().analyse)
    return index.ask, lambda: None


def faq_service_seed_file() -> Path:
    from handlers.faq.service import SEED_FILE

    return SEED_FILE


@click.group("faq")
def faq_group() -> None:
    """The FAQ knowledge base."""


@faq_group.command("ask")
@click.argument("text", required=False)
@click.option("--jsonl", is_flag=True, help="Read one question per line on stdin; write one JSON object per line.")
@click.option(
    "--source",
    type=click.Choice(["auto", "db", "seed"]),
    default="auto",
    show_default=True,
    help="Entries from the database (DATABASE_URL), the seed file, or the database when it has any.",
)
def ask_command(text: str | None, jsonl: bool, source: str) -> None:
    """Print the best FAQ entry for TEXT with its score and the next candidates (JSON)."""
    if not jsonl and text is None:
        raise click.UsageError("give TEXT, or --jsonl to read lines from stdin")
    ask, close = _asker(source)
    try:
        if jsonl:
            out = sys.stdout
            for line in sys.stdin:
                out.write(_dump(ask(line.rstrip("\r\n"))) + "\n")
            out.flush()
        else:
            click.echo(_dump(ask(text or "")))
    finally:
        close()


@faq_group.command("import")
@click.argument("path", required=False, type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--overwrite", is_flag=True, help="Replace entries that already exist (default: only add missing ones).")
def import_command(path: Path | None, overwrite: bool) -> None:
    """Load FAQ entries from a YAML file (default: the demo seed) into the database."""
    from bot.command_support import command_session
    from handlers.faq import service as faq_service

    with command_session() as db_session:
        written = faq_service.seed(db_session=db_session, path=path or faq_service.SEED_FILE, overwrite=overwrite)
        total = len(faq_service.get_all(db_session=db_session))
    click.echo(f"{written} FAQ entries written; {total} active in the database")
