"""The counter's data file: offices, procedures and slot rules, in the shape of data/counter.yml
(the sample the demo loads). `madoguchi reservations import FILE` loads a city's own.

The whole file is read and checked before anything is written: every bad entry is reported, each
with where it is, and then nothing is imported. Loading adds what is missing and keeps what staff
have edited since; `overwrite` makes the file's offices and procedures win, and replaces the slot
rules of the offices it has rules for (the future slots nobody booked follow them).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError
from sqlalchemy.orm import Session

from bot import clock
from handlers.reservations import calendar
from handlers.reservations.models import (
    OfficeCreate,
    OfficeUpdate,
    ProcedureCreate,
    ProcedureUpdate,
    SlotRule,
    SlotRuleCreate,
)
from handlers.reservations.service import setup, slots

SEED_FILE = Path(__file__).parent.parent / "data" / "counter.yml"

SECTIONS = ("offices", "procedures", "slot_rules")
# The file's words for the schemas' fields, where they differ.
PROCEDURE_KEYS = {"offices": "office_ids"}
RULE_KEYS = {"office": "office_id", "start": "start_time", "end": "end_time", "minutes": "slot_minutes"}
# Times written without quotes (17:15) are read by YAML as minutes (1035): they are taken back.
TIME_KEYS = frozenset({"opens", "closes", "start", "end"})


class CounterFileError(ValueError):
    """The file cannot be imported; `problems` says every bad entry, one line each."""

    def __init__(self, problems: Sequence[str]) -> None:
        super().__init__(f"{len(problems)} problem(s)")
        self.problems = list(problems)


@dataclass
class CounterFile:
    offices: list[OfficeCreate] = field(default_factory=list)
    procedures: list[ProcedureCreate] = field(default_factory=list)
    rules: list[SlotRuleCreate] = field(default_factory=list)


@dataclass
class Count:
    added: int = 0
    updated: int = 0  # overwritten from the file (slot rules: replaced)
    kept: int = 0  # already there: left as staff have it

    def __str__(self) -> str:
        return f"{self.added} added, {self.updated} updated, {self.kept} kept"


@dataclass
class Imported:
    offices: Count = field(default_factory=Count)
    procedures: Count = field(default_factory=Count)
    rules: Count = field(default_factory=Count)

    @property
    def added(self) -> int:
        return self.offices.added + self.procedures.added + self.rules.added

    def __str__(self) -> str:
        return f"offices: {self.offices}; procedures: {self.procedures}; slot rules: {self.rules}"


# Reading --------------------------------------------------------------------------------------


def read_counter_file(text: str, *, known_offices: frozenset[str] = frozenset()) -> CounterFile:
    """The file's entries, every one valid, or CounterFileError with every problem. Procedures and
    slot rules may name offices of the file or `known_offices` (those already in the database)."""
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise CounterFileError([f"not readable as YAML: {exc}"]) from None
    if not isinstance(data, dict):
        raise CounterFileError(["the file must be a mapping with offices, procedures and slot_rules"])
    problems: list[str] = []
    unknown = [str(key) for key in data if key not in SECTIONS]
    if unknown:
        problems.append(f"unknown section(s) {', '.join(unknown)} (offices, procedures, slot_rules)")
    if not any(data.get(section) for section in SECTIONS):
        problems.append("nothing to import: no offices, procedures or slot_rules")
    read = CounterFile()
    office_ids: set[str] = set()
    for where, item in _entries(data, "offices", problems):
        office = _validate(OfficeCreate, item, {}, where, problems)
        if office is None:
            continue
        if office.id in office_ids:
            problems.append(f"{where}: the id {office.id} is used twice")
        elif calendar.hhmm(office.opens) >= calendar.hhmm(office.closes):
            problems.append(f"{where}: opens ({office.opens}) must be before closes ({office.closes})")
        else:
            office_ids.add(office.id)
            read.offices.append(office)
    usable = office_ids | known_offices
    procedure_ids: set[str] = set()
    for where, item in _entries(data, "procedures", problems):
        procedure = _validate(ProcedureCreate, item, PROCEDURE_KEYS, where, problems)
        if procedure is None:
            continue
        missing = [o for o in procedure.office_ids if o not in usable]
        if procedure.id in procedure_ids:
            problems.append(f"{where}: the id {procedure.id} is used twice")
        elif not procedure.office_ids:
            problems.append(f"{where}: offices: name at least one office that handles it")
        elif missing:
            problems.append(f"{where}: offices: no office {', '.join(missing)} (in the file or the database)")
        else:
            procedure_ids.add(procedure.id)
            read.procedures.append(procedure)
    for where, item in _entries(data, "slot_rules", problems):
        rule = _validate(SlotRuleCreate, item, RULE_KEYS, where, problems)
        if rule is None:
            continue
        if rule.office_id not in usable:
            problems.append(f"{where}: office: no office {rule.office_id} (in the file or the database)")
        elif calendar.hhmm(rule.start_time) >= calendar.hhmm(rule.end_time):
            problems.append(f"{where}: start ({rule.start_time}) must be before end ({rule.end_time})")
        else:
            read.rules.append(rule)
    if problems:
        raise CounterFileError(problems)
    return read


def _entries(data: dict[str, Any], section: str, problems: list[str]) -> list[tuple[str, dict[str, Any]]]:
    """The section's entries with where each is (「offices[2] (ushimado)」); problems for the rest."""
    items = data.get(section) or []
    if not isinstance(items, list):
        problems.append(f"{section}: write a list (one entry per line starting with -)")
        return []
    found = []
    for number, item in enumerate(items, start=1):
        where = f"{section}[{number}]"
        if not isinstance(item, dict):
            problems.append(f"{where}: write key: value pairs")
            continue
        named = item.get("id") or item.get("office")
        found.append((f"{where} ({named})" if named else where, item))
    return found


def _validate(
    schema: type[BaseModel], item: dict[str, Any], keys: dict[str, str], where: str, problems: list[str]
) -> Any:
    """The entry as `schema` (its keys renamed from the file's words), or None with its problems."""
    values: dict[str, Any] = {}
    for key, value in item.items():
        if key in TIME_KEYS and isinstance(value, int) and not isinstance(value, bool):
            value = f"{value // 60:02d}:{value % 60:02d}"
        values[keys.get(str(key), str(key))] = value
    file_words = {v: k for k, v in keys.items()}
    unknown = [file_words.get(k, k) for k in values if k not in schema.model_fields]
    if unknown:
        problems.append(f"{where}: unknown key(s) {', '.join(unknown)}")
        return None
    try:
        return schema.model_validate(values)
    except ValidationError as exc:
        for error in exc.errors():
            loc = ".".join(file_words.get(str(part), str(part)) for part in error["loc"])
            problems.append(f"{where}: {loc}: {error['msg']}" if loc else f"{where}: {error['msg']}")
        return None


# Writing --------------------------------------------------------------------------------------


def import_counter(*, db_session: Session, text: str, overwrite: bool = False) -> Imported:
    """Loads the file (all of it, or nothing: CounterFileError) in the caller's transaction."""
    known = frozenset(o.id for o in setup.get_all_offices(db_session=db_session, active_only=False))
    counter = read_counter_file(text, known_offices=known)
    imported = Imported()
    follow: set[str] = set()  # offices whose future slots must follow a change
    for office_in in counter.offices:
        office = setup.get_office(db_session=db_session, office_id=office_in.id)
        if office is None:
            setup.create_office(db_session=db_session, office_in=office_in)
            imported.offices.added += 1
        elif overwrite:
            values = office_in.model_dump(exclude={"id"})
            setup.update_office(db_session=db_session, office=office, office_in=OfficeUpdate(**values))
            imported.offices.updated += 1
            follow.add(office.id)
        else:
            imported.offices.kept += 1
    for procedure_in in counter.procedures:
        procedure = setup.get_procedure(db_session=db_session, procedure_id=procedure_in.id)
        if procedure is None:
            setup.create_procedure(db_session=db_session, procedure_in=procedure_in)
            imported.procedures.added += 1
        elif overwrite:
            values = procedure_in.model_dump(exclude={"id"})
            setup.update_procedure(db_session=db_session, procedure=procedure, procedure_in=ProcedureUpdate(**values))
            imported.procedures.updated += 1
        else:
            imported.procedures.kept += 1
    by_office: dict[str, list[SlotRuleCreate]] = {}
    for rule_in in counter.rules:
        by_office.setdefault(rule_in.office_id, []).append(rule_in)
    for office_id, rules in by_office.items():
        existing = setup.get_all_rules(db_session=db_session, office_id=office_id)
        # An office that has rules keeps them (they are the staff's now), unless overwriting.
        if existing and not overwrite:
            imported.rules.kept += len(rules)
            continue
        for rule in existing:
            db_session.delete(rule)
        for rule_in in rules:
            db_session.add(SlotRule(**rule_in.model_dump(), updated_at=clock.now()))
        db_session.flush()
        if existing:
            imported.rules.updated += len(rules)
            follow.add(office_id)
        else:
            imported.rules.added += len(rules)
    for office_id in sorted(follow):
        slots.resync_future_slots(db_session=db_session, office_id=office_id)
    return imported


def seed(*, db_session: Session, path: Path = SEED_FILE) -> int:
    """The sample data (`madoguchi demo`): adds what is missing (staff edits stay); answers how many."""
    return import_counter(db_session=db_session, text=path.read_text(encoding="utf-8")).added
