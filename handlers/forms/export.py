"""A form's cases for Excel: CSV (UTF-8 with a BOM, CRLF, so Excel opens it as Japanese text) and XLSX
(XlsxWriter, row by row), one row per submission.

The columns: the case's own (受付番号 … 写真枚数), then one per question, over every version the form
has had (oldest first; a question a later version added comes after the earlier ones, under its
newest label). A question the row's version did not ask is blank; an answer reads as on the
confirmation card (answers.display). Photos and the place are in the case's own columns, so photo
and place questions have none of their own.

Rows come from service.stream_cases, one batch at a time, and are decrypted one at a time: memory
stays flat however many cases there are. Citizens type these cells, so a text cell Excel would read
as a formula (=, +, -, @, a tab or a CR first) is written with an apostrophe before it in the CSV;
the XLSX writes every text cell as a string, never as a formula.

Answers are personal data: callers let only the roles that see personal data export.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import IO, Any

import xlsxwriter  # type: ignore[import-untyped]  # no stubs, no py.typed
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from bot import clock
from bot.settings import Settings
from handlers.forms import answers as form_answers
from handlers.forms import service as forms_service
from handlers.forms.definition import FormDefinition, Kind, Question
from handlers.forms.models import FormVersion, Photo, PhotoStatus, Submission

HEADER = ("受付番号", "様式", "版", "状態", "担当課", "受付日時", "期限", "場所", "緯度", "経度", "写真枚数")
# Cases read (and photos counted) per round trip; stream_cases reads the same batches.
BATCH = 1000
CSV_MEDIA_TYPE = "text/csv; charset=utf-8"
XLSX_MEDIA_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
BOM = "\ufeff"
# What Excel (and LibreOffice) read as the start of a formula in a cell.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_NUMBER = re.compile(r"-?\d+(\.\d+)?")
_NO_COLUMN = frozenset({Kind.PHOTO, Kind.PLACE})
_TIME_FORMAT = "%Y/%m/%d %H:%M"

Cell = str | int | float | datetime | None


@dataclass(frozen=True)
class Column:
    key: str
    label: str


def question_columns(*, db_session: Session, form_key: str | None) -> list[Column]:
    """One column per question over the form's versions (oldest first), labelled as the newest
    version that asks it labels it. None (an export across forms): no question columns."""
    form = None if form_key is None else forms_service.get_form(db_session=db_session, key=form_key)
    if form is None:
        return []
    labels: dict[str, str] = {}
    for version in sorted(forms_service.versions_of(db_session=db_session, form=form), key=lambda v: v.number):
        for question in forms_service.definition_of(version).questions:
            if question.kind not in _NO_COLUMN:
                labels[question.key] = question.name  # a dict keeps the first position, takes the newest label
    return [Column(key, label) for key, label in labels.items()]


def header(columns: list[Column]) -> list[str]:
    return [*HEADER, *(column.label for column in columns)]


def safe_cell(value: str) -> str:
    """A text cell Excel would run as a formula gets an apostrophe first (OWASP's CSV injection
    advice); a plain number (「-3」) stays as it is."""
    if value.startswith(_FORMULA_START) and not _NUMBER.fullmatch(value):
        return "'" + value
    return value


def rows(
    *, db_session: Session, case_filter: forms_service.CaseFilter, settings: Settings, columns: list[Column]
) -> Iterator[list[Cell]]:
    """Each matching case (oldest first) as typed cells: the case's columns, then the answers."""
    definitions: dict[int, FormDefinition] = {}
    for chunk in _chunks(forms_service.stream_cases(db_session=db_session, case_filter=case_filter, batch=BATCH)):
        photos = _photo_counts(db_session, [submission.id for submission, _ in chunk])
        for submission, version in chunk:
            definition = definitions.get(version.id)
            if definition is None:
                definition = definitions[version.id] = forms_service.definition_of(version)
            yield _row(submission, version, definition, photos.get(submission.id, 0), columns, settings)


def _chunks(items: Iterator[tuple[Submission, FormVersion]]) -> Iterator[list[tuple[Submission, FormVersion]]]:
    chunk: list[tuple[Submission, FormVersion]] = []
    for item in items:
        chunk.append(item)
        if len(chunk) == BATCH:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def _photo_counts(db_session: Session, submission_ids: list[int]) -> dict[int, int]:
    """Photos kept with each case (refused ones, too large or not images, are not counted)."""
    found = db_session.execute(
        select(Photo.submission_id, func.count(Photo.id))
        .where(Photo.submission_id.in_(submission_ids), Photo.status != PhotoStatus.REFUSED)
        .group_by(Photo.submission_id)
    )
    return {int(submission_id): int(count) for submission_id, count in found if submission_id is not None}


def _local(at: datetime | None) -> datetime | None:
    return None if at is None else at.astimezone(clock.TOKYO).replace(tzinfo=None)


def _row(
    submission: Submission,
    version: FormVersion,
    definition: FormDefinition,
    photos: int,
    columns: list[Column],
    settings: Settings,
) -> list[Cell]:
    stored = forms_service.answers_of(submission, settings)
    questions: dict[str, Question] = {q.key: q for q in definition.questions}
    cells: list[Cell] = [
        submission.receipt_no,
        definition.title,
        version.number,
        submission.status,
        submission.department,
        _local(submission.submitted_at),
        _local(submission.due_at),
        submission.place_name,
        submission.place_lat,
        submission.place_lng,
        photos,
    ]
    for column in columns:
        question, value = questions.get(column.key), stored.get(column.key)
        cells.append(None if question is None or value is None else form_answers.display(question, value))
    return cells


# CSV ------------------------------------------------------------------------------------------------


def _csv_text(cell: Cell) -> str:
    if cell is None:
        return ""
    if isinstance(cell, datetime):
        return cell.strftime(_TIME_FORMAT)
    if isinstance(cell, str):
        return safe_cell(cell)
    return str(cell)


def stream_csv(
    *, db_session: Session, case_filter: forms_service.CaseFilter, settings: Settings, rows_per_chunk: int = 500
) -> Iterator[bytes]:
    """The cases as CSV for Excel, in chunks of encoded rows (the first: the BOM and the header).
    The session must stay open until the last chunk is taken."""
    columns = question_columns(db_session=db_session, form_key=case_filter.form_key)
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    buffer.write(BOM)
    writer.writerow(header(columns))
    pending = 0
    for cells in rows(db_session=db_session, case_filter=case_filter, settings=settings, columns=columns):
        writer.writerow([_csv_text(cell) for cell in cells])
        pending += 1
        if pending >= rows_per_chunk:
            yield buffer.getvalue().encode("utf-8")
            buffer.seek(0)
            buffer.truncate()
            pending = 0
    if buffer.tell():
        yield buffer.getvalue().encode("utf-8")


def write_csv(
    *, db_session: Session, case_filter: forms_service.CaseFilter, settings: Settings, target: IO[bytes]
) -> None:
    for chunk in stream_csv(db_session=db_session, case_filter=case_filter, settings=settings):
        target.write(chunk)


# XLSX -----------------------------------------------------------------------------------------------


def write_xlsx(
    *, db_session: Session, case_filter: forms_service.CaseFilter, settings: Settings, target: str | IO[bytes]
) -> int:
    """The cases as one XLSX sheet, written to `target` (a path or a binary file); answers the rows.

    constant_memory: each row goes to a temporary file as soon as the next begins, so memory does not
    grow with the rows (nor does a shared string table: strings are written inline)."""
    columns = question_columns(db_session=db_session, form_key=case_filter.form_key)
    options: dict[str, Any] = {
        "constant_memory": True,
        # Text typed by citizens stays text: never a formula, a link or a number.
        "strings_to_formulas": False,
        "strings_to_urls": False,
        "strings_to_numbers": False,
    }
    workbook = xlsxwriter.Workbook(target, options)
    try:
        sheet = workbook.add_worksheet("申請・通報")
        bold = workbook.add_format({"bold": True})
        when = workbook.add_format({"num_format": "yyyy/mm/dd hh:mm"})
        titles = header(columns)
        for col, title in enumerate(titles):
            sheet.write_string(0, col, title, bold)
        sheet.freeze_panes(1, 1)
        count = 0
        for cells in rows(db_session=db_session, case_filter=case_filter, settings=settings, columns=columns):
            count += 1
            for col, cell in enumerate(cells):
                if cell is None:
                    continue
                if isinstance(cell, datetime):
                    sheet.write_datetime(count, col, cell, when)
                elif isinstance(cell, str):
                    sheet.write_string(count, col, cell)
                else:
                    sheet.write_number(count, col, cell)
        sheet.autofilter(0, 0, count, len(titles) - 1)
    finally:
        workbook.close()
    return count
