"""`madoguchi reservations import FILE` (SQLite and PostgreSQL): a city's offices, procedures and slot
rules loaded from a file, all of it or (with every bad entry reported) none; loading again keeps
staff edits unless --overwrite; without a database, one line saying what to run. And a bot with no
procedure set up says so, with the phone number, instead of offering no buttons."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, datetime
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from sqlalchemy import func, select

from bot import clock
from bot.catalog import t
from bot.cli import main
from bot.db import Database
from bot.settings import get_settings
from handlers.reservations.models import CounterSlot, Office, Procedure, SlotRule
from handlers.reservations.service import seed as counter_file
from handlers.reservations.service import setup as setup_service
from handlers.reservations.service import slots as slot_service
from tests.support import LiveApp, new_citizen, quick_replies, say_all

COUNTER = """\
offices:
  - {id: honcho, name: 本庁 市民課, phone: 0869-22-1111, opens: "08:30", closes: "17:15"}
  - {id: ushimado, name: 牛窓支所, opens: 08:30, closes: 17:15}   # times unquoted: read as written
procedures:
  - id: juminhyo
    name: 住民票の写し
    offices: [honcho, ushimado]
    documents: [本人確認書類]
    fields: [name, furigana, phone, copies]
    keywords: [住民票]
slot_rules:
  - {office: honcho, weekdays: [0, 1, 2, 3, 4], start: "09:00", end: "12:00", minutes: 30, capacity: 2}
  - {office: ushimado, weekdays: [0, 2, 4], start: "13:00", end: "15:00", minutes: 60, capacity: 1}
"""

# Five bad entries among good ones: each is reported, and nothing at all is imported.
BROKEN = """\
offices:
  - {id: honcho, name: 本庁 市民課, opens: "08:30", closes: "17:15"}
  - {id: Ushimado!, name: 牛窓支所}
  - {id: osafune, name: 長船支所, opnes: "08:30"}
procedures:
  - {id: juminhyo, name: 住民票の写し, offices: [honcho], fields: [name, favourite_colour]}
  - {id: inkan, name: 印鑑登録, offices: [honcho, nowhere]}
slot_rules:
  - {office: honcho, weekdays: [0, 1, 2, 3, 4], start: "09:00", end: "12:00", minutes: 30, capacity: 2}
  - {office: honcho, weekdays: [7], start: "13:00", end: "12:00", minutes: 30, capacity: 2}
"""


@pytest.fixture
def cli_db(database_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Database]:
    monkeypatch.setenv("DATABASE_URL", database_url)
    get_settings.cache_clear()
    clock.travel_to(datetime(2026, 11, 24, 10, 0, tzinfo=clock.TOKYO))
    database = Database(database_url)
    yield database
    database.dispose()
    get_settings.cache_clear()


def run(*args: str) -> Result:
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def counts(db: Database) -> tuple[int, int, int]:
    with db.session() as db_session:
        return tuple(  # type: ignore[return-value]
            db_session.scalar(select(func.count()).select_from(model)) or 0 for model in (Office, Procedure, SlotRule)
        )


def test_import_loads_a_counter_file_and_again_keeps_staff_edits(cli_db: Database, tmp_path: Path) -> None:
    file = tmp_path / "counter.yml"
    file.write_text(COUNTER, encoding="utf-8")
    result = run("reservations", "import", str(file))
    assert result.exit_code == 0, result.output
    assert result.output == (
        "counter data imported from counter.yml: offices: 2 added, 0 updated, 0 kept; "
        "procedures: 1 added, 0 updated, 0 kept; slot rules: 2 added, 0 updated, 0 kept\n"
    )
    with cli_db.session() as db_session:
        ushimado = setup_service.get_office(db_session=db_session, office_id="ushimado")
        assert ushimado is not None and (ushimado.opens, ushimado.closes) == ("08:30", "17:15")
        procedure = setup_service.get_procedure(db_session=db_session, procedure_id="juminhyo")
        assert procedure is not None and procedure.office_ids == ["honcho", "ushimado"]
        day = slot_service.get_slots_for_day(db_session=db_session, office_id="honcho", day=date(2026, 11, 25))
        assert [s.capacity for s in day] == [2] * 6
        procedure.name = "住民票"  # a staff edit
    # Again: nothing is added twice and the staff edit stays.
    result = run("reservations", "import", str(file))
    assert "offices: 0 added, 0 updated, 2 kept" in result.output and counts(cli_db) == (2, 1, 2)
    with cli_db.session() as db_session:
        assert db_session.get(Procedure, "juminhyo").name == "住民票"  # type: ignore[union-attr]
    # --overwrite: the file wins, and the future slots follow the new rules.
    file.write_text(COUNTER.replace("capacity: 2}", "capacity: 4}"), encoding="utf-8")
    result = run("reservations", "import", "--overwrite", str(file))
    assert "procedures: 0 added, 1 updated, 0 kept; slot rules: 0 added, 2 updated, 0 kept" in result.output
    with cli_db.session() as db_session:
        assert db_session.get(Procedure, "juminhyo").name == "住民票の写し"  # type: ignore[union-attr]
        day = slot_service.get_slots_for_day(db_session=db_session, office_id="honcho", day=date(2026, 11, 25))
        assert [s.capacity for s in day] == [4] * 6
    assert counts(cli_db) == (2, 1, 2)


def test_a_file_with_bad_entries_imports_nothing_and_reports_each(cli_db: Database, tmp_path: Path) -> None:
    file = tmp_path / "broken.yml"
    file.write_text(BROKEN, encoding="utf-8")
    result = run("reservations", "import", str(file))
    assert result.exit_code == 1
    lines = result.stderr.splitlines()
    assert lines[0] == "Error: refused: 5 problem(s) in broken.yml (nothing was imported):"
    reported = "\n".join(lines[1:])
    assert "offices[2] (Ushimado!): id: String should match pattern" in reported
    assert "offices[3] (osafune): unknown key(s) opnes" in reported
    assert "procedures[1] (juminhyo): fields: Value error, unknown form fields: ['favourite_colour']" in reported
    assert "procedures[2] (inkan): offices: no office nowhere" in reported
    assert "slot_rules[2] (honcho): weekdays: Value error" in reported
    assert "Traceback" not in result.output
    assert counts(cli_db) == (0, 0, 0)
    with cli_db.session() as db_session:
        assert db_session.scalar(select(func.count()).select_from(CounterSlot)) == 0
    # Not YAML, or not the counter's shape: one reason each.
    file.write_text("offices: [\n", encoding="utf-8")
    assert "not readable as YAML" in run("reservations", "import", str(file)).stderr
    file.write_text("garbage: {}\n", encoding="utf-8")
    refused = run("reservations", "import", str(file)).stderr
    assert "unknown section(s) garbage" in refused and "nothing to import" in refused


def test_the_sample_file_is_valid_and_loads_as_the_demo_does(cli_db: Database) -> None:
    result = run("reservations", "import", str(counter_file.SEED_FILE))
    assert result.exit_code == 0 and "offices: 3 added" in result.output and "procedures: 9 added" in result.output
    with cli_db.session() as db_session:
        assert counter_file.seed(db_session=db_session) == 0  # the demo's seed: nothing missing


def test_without_a_database_it_says_what_to_run_first(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'none.db'}")
    get_settings.cache_clear()
    try:
        result = run("reservations", "import", str(counter_file.SEED_FILE))
    finally:
        get_settings.cache_clear()
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert result.stderr.splitlines() == [
        "Error: The database has no tables yet. Run `madoguchi db upgrade` first "
        "(and `madoguchi gis import --demo` / `madoguchi garbage import FILE` to load data)."
    ]
    assert "import" in run("reservations", "--help").output


def test_with_no_procedure_set_up_the_bot_says_so_with_the_phone_number(app: LiveApp) -> None:
    user = new_citizen(app)
    answer = say_all(app, user, "窓口の予約をしたい")
    assert [m["text"] for m in answer] == [t("reservations.no_procedures")]
    said = answer[0]["text"]
    assert "現在、LINEで予約できる手続きはありません" in said and app.settings.city_phone in said
    assert t("reservations.ask_procedure") not in str(answer)
    labels = [a["label"] for a in quick_replies(answer[0])]
    assert labels[0] == t("menu.reservation_make") and "やめる" not in labels  # the main menu, not an empty list
