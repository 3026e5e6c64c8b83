"""Issue 17's map defects, each pinned by a test that failed before its fix: the reset reports the
shelters it actually changed (item 16); the menu's 「避難所・施設」 offers AEDs and facilities too
(item 5); a location far outside the city says what the service covers and the emergency numbers,
not places hundreds of km away (item 7)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import select

from bot.catalog import t
from bot.db import Database
from handlers.gis.models import LayerScope, Place, PlaceKind, ShelterStatus
from handlers.gis.service import seed as gis_seed
from handlers.gis.service import shelters as shelter_service
from tests.handlers.gis.conftest import OKAYAMA_STATION, USHIMADO_PORT, of_type
from tests.support import LiveApp, fields, new_citizen, quick_replies, send_location_all, tap_all


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


# --- item 5: the menu's 「避難所・施設」 offers AEDs and facilities too --------------------------------


def test_the_menu_button_offers_shelters_aeds_and_facilities(gis_app: LiveApp) -> None:
    user = new_citizen(gis_app)
    (question,) = tap_all(gis_app, user, "action=intent&name=shelter_search")
    assert question["text"].startswith("近くの避難所をお探しします。")
    assert t("gis.ask_other_kinds", others="AEDや公共施設") in question["text"]
    actions = quick_replies(question)
    assert actions[0]["type"] == "location"
    assert [a["label"] for a in actions[1:]] == ["邑久", "牛窓", "長船", "AED", "公共施設"]

    aed = next(a for a in actions if fields(a).get("kind") == "aed")
    (asked,) = tap_all(gis_app, user, aed["data"])
    assert asked["text"].startswith("近くのAEDをお探しします。")
    assert [a["label"] for a in quick_replies(asked)[1:]] == ["邑久", "牛窓", "長船", "避難所", "公共施設"]
    messages = send_location_all(gis_app, user, *USHIMADO_PORT)
    assert t("gis.aed_note") in messages[0]["text"]

    (question,) = tap_all(gis_app, user, "action=intent&name=shelter_search")
    facility = next(a for a in quick_replies(question) if fields(a).get("kind") == "facility")
    (asked,) = tap_all(gis_app, user, facility["data"])
    assert asked["text"].startswith("近くの公共施設をお探しします。")
    messages = tap_all(gis_app, user, next(a for a in quick_replies(asked) if a["label"] == "牛窓")["data"])
    assert messages[0]["text"].startswith("牛窓町の公共施設です。")


# --- item 7: a location far outside the city ------------------------------------------------------

TOKYO = (35.6812, 139.7671)


@pytest.mark.parametrize("kind", ["shelter", "aed", "facility"])
def test_a_location_far_outside_the_city_says_what_the_service_covers_and_the_emergency_numbers(
    gis_app: LiveApp, kind: str
) -> None:
    user = new_citizen(gis_app)
    if kind != "shelter":
        tap_all(gis_app, user, f"action=gis_kind&kind={kind}")
    messages = send_location_all(gis_app, user, *TOKYO)
    assert [m["type"] for m in messages] == ["text"]  # no places hundreds of km away
    text = messages[0]["text"]
    assert text == t("gis.out_of_area")
    assert "瀬戸内市とその周辺" in text and "119番" in text and "110番" in text
    assert "km" not in text
    assert quick_replies(messages[0])[0]["type"] == "location"  # 別の場所で探す


def test_a_neighbouring_city_still_gets_its_shelters_but_an_aed_too_far_to_use_is_not_offered(
    gis_app: LiveApp,
) -> None:
    user = new_citizen(gis_app)
    messages = send_location_all(gis_app, user, *OKAYAMA_STATION)
    assert messages[0]["text"].startswith(t("gis.outside_city")) and len(of_type(messages, "location")) == 3
    aed = next(a for a in quick_replies(messages[-1]) if fields(a).get("kind") == "aed")
    (answer,) = tap_all(gis_app, user, aed["data"])  # the city's AEDs are 15 km and more from here
    assert answer["text"] == t("gis.out_of_area")
