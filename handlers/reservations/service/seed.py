"""The counter's sample data (data/counter.yml): offices, procedures and slot rules."""

from __future__ import annotations

from pathlib import Path

import yaml
from sqlalchemy.orm import Session

from bot import clock
from handlers.reservations.models import Office, OfficeCreate, Procedure, ProcedureCreate, SlotRule
from handlers.reservations.service import setup

SEED_FILE = Path(__file__).parent.parent / "data" / "counter.yml"


def seed(*, db_session: Session, path: Path = SEED_FILE) -> int:
    """Adds the offices, procedures and slot rules from the file that are missing (staff edits stay)."""
    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    added = 0
    for item in data.get("offices", []):
        if db_session.get(Office, item["id"]) is None:
            setup.create_office(db_session=db_session, office_in=OfficeCreate(**item))
            added += 1
    for item in data.get("procedures", []):
        if db_session.get(Procedure, item["id"]) is None:
            values = dict(item)
            values["office_ids"] = values.pop("offices", [])
            setup.create_procedure(db_session=db_session, procedure_in=ProcedureCreate(**values))
            added += 1
    for item in data.get("slot_rules", []):
        office_id = item["office"]
        # An office that has any rule is left alone: its rules are the staff's now.
        if setup.get_all_rules(db_session=db_session, office_id=office_id):
            continue
        for rule in [r for r in data["slot_rules"] if r["office"] == office_id]:
            db_session.add(
                SlotRule(
                    office_id=office_id,
                    weekdays=list(rule["weekdays"]),
                    start_time=rule["start"],
                    end_time=rule["end"],
                    slot_minutes=int(rule["minutes"]),
                    capacity=int(rule["capacity"]),
                    is_active=True,
                    updated_at=clock.now(),
                )
            )
            added += 1
        db_session.flush()
    return added
