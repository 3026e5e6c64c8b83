"""地図情報: the nearest shelter, facility or AED, from the city's open data."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import click
from sqlalchemy.orm import Session

from bot.capability import Capability
from handlers.gis import MAX_UPLOAD_BYTES, flow
from handlers.gis.service import seed as gis_seed


def _admin() -> Sequence[Any]:
    from handlers.gis.admin import SCREENS

    return SCREENS


def _cli() -> click.Command:
    from handlers.gis.cli import gis_group

    return gis_group


def _seed(db_session: Session) -> None:
    # Map layers (GSI shelters, sample facilities and AEDs): layers missing from the database are
    # loaded, staff uploads are kept.
    gis_seed.seed(db_session=db_session)


CAPABILITY = Capability(
    name="gis",
    flows=(flow.FLOW,),
    intents=frozenset({"shelter_search", "facility_search", "aed_search"}),
    models=("handlers.gis.models",),
    admin=_admin,
    cli=_cli,
    seed=_seed,
    # The layer upload (the form's other fields and the multipart framing on top of the file).
    body_limits={"/admin/gis/layers": MAX_UPLOAD_BYTES + 1_000_000},
)
