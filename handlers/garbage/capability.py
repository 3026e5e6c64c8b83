"""Garbage days: the collection calendar for the citizen's district and the evening-before reminder."""

from __future__ import annotations

import click
from sqlalchemy.orm import Session

from bot.capability import Capability, Job
from handlers.garbage import flow
from handlers.garbage import seed as garbage_seed


def _cli() -> click.Command:
    from handlers.garbage.cli import garbage_group

    return garbage_group


def _seed(db_session: Session) -> None:
    # The sample calendar, when the city has loaded none.
    garbage_seed.seed(db_session=db_session)


CAPABILITY = Capability(
    name="garbage",
    flows=(flow.FLOW,),
    intents=frozenset({"garbage_day"}),
    models=("handlers.garbage.models",),
    cli=_cli,
    jobs=(
        Job(
            # The id it had under 地図情報: a job store that holds it is updated, not given a second one.
            id="gis:garbage",
            func="handlers.garbage.notify:send_garbage_reminders",
            name="ごみの日のお知らせ",
            trigger="interval",
            schedule=lambda settings: {"seconds": settings.reminder_sweep_seconds},
        ),
    ),
    seed=_seed,
)
