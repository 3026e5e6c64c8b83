"""`madoguchi garbage import|remind`, and the old `madoguchi gis import-garbage|remind` that say where
the command went and still do the work (SQLite and PostgreSQL)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from sqlalchemy import func, select

from bot import clock
from bot.cli import main
from bot.db import Database
from bot.settings import get_settings
from handlers.garbage import service as garbage_service
from handlers.garbage.models import GarbageRule


@pytest.fixture
def cli_db(database_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Database]:
    monkeypatch.setenv("DATABASE_URL", database_url)
    get_settings.cache_clear()
    database = Database(database_url)
    yield database
    database.dispose()
    get_settings.cache_clear()


def run(*args: str) -> Result:
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def rule_count(db: Database) -> int:
    with db.session() as db_session:
        return db_session.scalar(select(func.count()).select_from(GarbageRule)) or 0


def test_cli_imports_a_garbage_calendar_or_refuses_it(cli_db: Database, tmp_path: Path) -> None:
    calendar = tmp_path / "gomi.yml"
    calendar.write_text("districts: {邑久: {燃やせるごみ: {weekdays: [月, 木]}}}\n", encoding="utf-8")
    result = run("garbage", "import", str(calendar))
    assert result.exit_code == 0 and result.output == "garbage calendar: 1 rules\n"
    calendar.write_text("districts: {邑久: {燃やせるごみ: {weekdays: [月, 金星]}}}\n", encoding="utf-8")
    result = run("garbage", "import", str(calendar))
    assert result.exit_code == 1 and "金星" in result.stderr
    assert rule_count(cli_db) == 1


def test_cli_queues_the_reminders_due_now(cli_db: Database) -> None:
    with cli_db.session() as db_session:
        calendar = "districts: {邑久: {燃やせるごみ: {weekdays: [水]}}}"
        garbage_service.replace_calendar(db_session=db_session, text=calendar)
        garbage_service.set_district(db_session=db_session, line_user_id="Uwants", district="邑久")
        garbage_service.set_reminder(db_session=db_session, line_user_id="Uwants", on=True)
    clock.travel_to(datetime(2026, 11, 24, 18, 30, tzinfo=clock.TOKYO))  # Tuesday evening
    assert run("garbage", "remind").output == "garbage reminders queued: 1\n"
    assert run("garbage", "remind").output == "garbage reminders queued: 0\n"


def test_the_old_gis_commands_point_to_the_new_ones_and_still_work(cli_db: Database, tmp_path: Path) -> None:
    calendar = tmp_path / "gomi.yml"
    two_rules = "districts: {邑久: {燃やせるごみ: {weekdays: [月, 木]}, 古紙・古布: {nth: [第4金]}}}\n"
    calendar.write_text(two_rules, encoding="utf-8")
    result = run("gis", "import-garbage", str(calendar))
    assert result.exit_code == 0 and result.stdout == "garbage calendar: 2 rules\n"
    assert result.stderr == "`madoguchi gis import-garbage` is deprecated: use `madoguchi garbage import FILE`.\n"
    assert rule_count(cli_db) == 2
    result = run("gis", "remind")
    assert result.exit_code == 0 and result.stdout == "garbage reminders queued: 0\n"
    assert result.stderr == "`madoguchi gis remind` is deprecated: use `madoguchi garbage remind`.\n"
    # Hidden from the help: people learn the new commands.
    help_text = run("gis", "--help").output
    assert "import-garbage" not in help_text and "remind" not in help_text
    assert "import" in run("garbage", "--help").output
