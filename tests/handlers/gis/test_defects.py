"""Issue 17's map defects, each pinned by a test that failed before its fix: the reset reports the
shelters it actually changed (item 16)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import select

from bot.db import Database
from handlers.gis.models import LayerScope, Place, PlaceKind, ShelterStatus
from handlers.gis.service import seed as gis_seed
from handlers.gis.service import shelters as shelter_service


@pytest.fixture
def db(database_url: str) -> Iterator[Database]:
    database = Database(database_url)
    with database.session() as db_session:
        gis_seed.seed(db_session=db_session)
    yield database
    database.dispose()


def test_resetting_counts_the_shelters_changed_not_their_emergency_site_rows(db: Database) -> None:
    with db.session() as db_session:
        paired = [
            s for s in shelter_service.get_all_shelters(db_session=db_session, scope=LayerScope.CITY) if s.facility_key
        ]
        for shelter in paired[:2]:
            changed = shelter_service.set_status(
                db_session=db_session, place=shelter, status=ShelterStatus.OPEN, actor_name="t"
            )
            assert len(changed) >= 2  # the same facility's 指定緊急避難場所 follows
        assert shelter_service.reset_all_statuses(db_session=db_session, actor_name="t") == 2
        assert shelter_service.reset_all_statuses(db_session=db_session, actor_name="t") == 0
        assert not db_session.scalars(select(Place).where(Place.status != ShelterStatus.NOT_OPEN)).first()


def test_a_shelter_and_a_lone_emergency_site_count_as_two(db: Database) -> None:
    with db.session() as db_session:
        shelter = next(s for s in shelter_service.get_all_shelters(db_session=db_session) if s.facility_key)
        shelter_service.set_status(db_session=db_session, place=shelter, status=ShelterStatus.FULL, actor_name="t")
        lone = db_session.scalars(
            select(Place).where(Place.kind == PlaceKind.EMERGENCY_SITE, Place.facility_key.is_(None))
        ).first()
        expected = 1
        if lone is not None:
            shelter_service.set_status(db_session=db_session, place=lone, status=ShelterStatus.OPEN, actor_name="t")
            expected = 2
        assert shelter_service.reset_all_statuses(db_session=db_session, actor_name="t") == expected
