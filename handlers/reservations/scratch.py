"""The booking's scratch data (turn.data), kept with the conversation between the citizen's messages:

- proc: the procedure's id; office: the office's id
- day: the day (ISO); part: am | pm (the half of the day whose times are shown); time: a wished HH:MM
  said in words, tried once against the day's times
- slot: the chosen slot's id
- field: the index of the form question being asked; answers: the answers so far, encrypted (they
  are personal data)
- nonce: the confirmation card's key (the confirm button's idempotency key)
- change: the id of the booking being moved (changing a booking, not making one)

Ids in here came from postbacks, which are only choices: each is checked again when it is read.
"""

from __future__ import annotations

from datetime import date

from bot import personal_data as crypto
from bot.flow import Turn
from handlers.reservations.models import CounterSlot, Office, Procedure
from handlers.reservations.service import setup as setup_service
from handlers.reservations.service import slots as slot_service


def procedure(turn: Turn) -> Procedure | None:
    """The chosen procedure, while it is still offered."""
    proc = turn.data.get("proc")
    return setup_service.get_active_procedure(db_session=turn.db_session, procedure_id=proc) if proc else None


def office(turn: Turn, procedure: Procedure) -> Office | None:
    """The chosen office, if it (still) handles the procedure."""
    office_id = turn.data.get("office")
    offices = setup_service.offices_for(db_session=turn.db_session, procedure=procedure)
    return next((o for o in offices if o.id == office_id), None)


def day(turn: Turn) -> date | None:
    try:
        return date.fromisoformat(str(turn.data.get("day")))
    except ValueError:
        return None


def free_slots(turn: Turn, office: Office, day: date) -> list[CounterSlot]:
    """The day's slots this citizen can still book at the office."""
    return slot_service.available_slots(
        db_session=turn.db_session, office_id=office.id, day=day, now=turn.now, settings=turn.settings
    )


def answers(turn: Turn) -> dict[str, str]:
    return crypto.decrypt_json(turn.data.get("answers"), turn.settings)


def store_answers(turn: Turn, values: dict[str, str]) -> None:
    turn.data["answers"] = crypto.encrypt_json(values, turn.settings)


def forget(turn: Turn, *keys: str) -> None:
    for key in keys:
        turn.data.pop(key, None)
