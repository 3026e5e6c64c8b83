"""地図情報: the nearest shelter, facility or AED, from the city's open data; garbage days."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import click
from sqlalchemy.orm import Session

from bot.capability import Capability, Job
from handlers.gis import flow
from handlers.gis import service as gis_service


def _admin() -> Sequence[Any]:
    from handlers.gis.admin import SCREENS

    return SCREENS


def _cli() -> click.Command:
    from handlers.gis.cli import gis_group

    return gis_group


def _seed(db_session: Session) -> None:
    # Map layers (GSI shelters, sample facilities and AEDs) and the sample garbage calendar: layers
    # missing from the database are loaded, staff uploads are kept.
    gis_service.seed(db_session=db_session)


CAPABILITY = Capability(
    name="gis",
    flows=(flow.FLOW,),
    intents=frozenset({"shelter_search", "facility_search", "aed_search", "garbage_day"}),
    models=("handlers.gis.models",),
    admin=_admin,
    cli=_cli,
    jobs=(
        Job(
            id="gis:garbage",
            func="handlers.gis.garbage_notify:send_garbage_reminders",
            name="ごみの日のお知らせ",
            trigger="interval",
            schedule=lambda settings: {"seconds": settings.reminder_sweep_seconds},
        ),
    ),
    seed=_seed,
)
