"""Layers in the database (SQLite and PostgreSQL): import, refusal of a bad file with the old layer
intact, hazard filters against brute force, place names, scope, disaster ordering."""

from __future__ import annotations

import math
import random
from collections.abc import Iterator

import pytest
from sqlalchemy import select

from bot.db import Database
from handlers.gis import DATA_DIR
from handlers.gis.models import Hazard, LayerMeta, LayerScope, Place, PlaceKind, ShelterStatus
from handlers.gis.parsing import LayerFileError, parse_layer_file
from handlers.gis.service import layers as layer_service
from handlers.gis.service import places as place_service
from handlers.gis.service import search as search_service
from handlers.gis.service import seed as gis_seed
from handlers.gis.service import shelters as shelter_service
from tests.handlers.gis.conftest import CITY_HALL, OKAYAMA_STATION, USHIMADO_PORT
from tests.handlers.gis.test_geo import reference_m


@pytest.fixture
def db(database_url: str) -> Iterator[Database]:
    database = Database(database_url)
    with database.session() as db_session:
        gis_seed.seed(db_session=db_session)
    yield database
    database.dispose()


AED_META = LayerMeta(key="setouchi_aeds", kind=PlaceKind.AED, title="AED設置場所（サンプル）", is_sample=True)


def aed_names(db: Database) -> list[str]:
    with db.session() as db_session:
        layer = layer_service.get_layer_by_key(db_session=db_session, key="setouchi_aeds")
        assert layer is not None
        return sorted(db_session.scalars(select(Place.name).where(Place.layer_id == layer.id)))


def test_the_demo_layers_are_loaded_with_their_sources(db: Database) -> None:
    with db.session() as db_session:
        layers = {layer.key: layer for layer in layer_service.get_all_layers(db_session=db_session)}
        assert layers["setouchi_emergency_sites"].place_count == 81
        assert layers["setouchi_shelters"].place_count == 50
        assert layers["okayama_shelters"].scope == LayerScope.NEIGHBOUR
        assert layers["setouchi_shelters"].source.startswith("出典：国土地理院")
        assert layers["setouchi_aeds"].is_sample and layers["setouchi_facilities"].is_sample
        # Seeding again changes nothing (staff uploads are kept).
        assert gis_seed.seed(db_session=db_session) == []


def test_shelters_show_the_hazards_their_facility_is_designated_for(db: Database) -> None:
    with db.session() as db_session:
        shelter = db_session.scalar(select(Place).where(Place.kind == PlaceKind.SHELTER, Place.name == "牛窓町公民館"))
        assert shelter is not None and shelter.facility_key == "E3321200016"
        assert set(shelter.hazards) == {"landslide", "storm_surge", "earthquake", "tsunami"}


def test_a_malformed_upload_is_refused_with_lines_and_reasons_and_the_old_layer_stays(db: Database) -> None:
    before = aed_names(db)
    bad = (
        "id,name,address,lat,lon\n"
        "X1,良いAED,瀬戸内市邑久町尾張1,34.66,134.09\n"
        "X2,,瀬戸内市邑久町尾張2,34.66,134.09\n"  # line 3: no name
        "X3,逆のAED,瀬戸内市邑久町尾張3,134.09,34.66\n"  # line 4: latitude and longitude swapped
        "X4,文字のAED,瀬戸内市邑久町尾張4,北緯34度,134.09\n"  # line 5: not a number
    ).encode()
    with pytest.raises(LayerFileError) as refused, db.session() as db_session:
        layer_service.import_layer(db_session=db_session, layer_in=AED_META, content=bad, filename="aed.csv")
    lines = {p.line: p.reason for p in refused.value.problems}
    assert set(lines) == {3, 4, 5}
    assert "名称" in lines[3] and "範囲外" in lines[4] and "数値ではありません" in lines[5]
    assert str(refused.value.problems[0]).startswith("3行目: ")
    assert aed_names(db) == before


def test_a_broken_geojson_is_refused_with_its_line(db: Database) -> None:
    before = aed_names(db)
    broken = b'{"type": "FeatureCollection",\n "features": [\n  {"type": "Feature", "geometry": \n}'
    with pytest.raises(LayerFileError) as refused, db.session() as db_session:
        layer_service.import_layer(db_session=db_session, layer_in=AED_META, content=broken, filename="aed.geojson")
    assert refused.value.problems[0].line == 4
    polygon = (
        b'{"type": "FeatureCollection", "features": [\n'
        b'{"type": "Feature", "properties": {"name": "A"},'
        b' "geometry": {"type": "Point", "coordinates": [134.1, 34.6]}},\n'
        b'{"type": "Feature", "properties": {"name": "B"}, "geometry": {"type": "Polygon", "coordinates": []}}\n]}'
    )
    with pytest.raises(LayerFileError) as refused, db.session() as db_session:
        layer_service.import_layer(db_session=db_session, layer_in=AED_META, content=polygon, filename="aed.geojson")
    assert [(p.line, "Point" in p.reason) for p in refused.value.problems] == [(3, True)]
    assert aed_names(db) == before


def test_a_good_upload_replaces_the_layer_and_moves_its_version(db: Database) -> None:
    good = "name,lat,lon,hours\n新しいAED,34.66,134.09,24時間\n".encode("cp932")  # Excel's Shift_JIS
    with db.session() as db_session:
        old = layer_service.get_layer_by_key(db_session=db_session, key="setouchi_aeds")
        assert old is not None
        version = old.version
        search_service.nearest(db_session=db_session, lat=34.66, lon=134.09, kind=PlaceKind.AED)  # builds the index
        layer = layer_service.import_layer(db_session=db_session, layer_in=AED_META, content=good, filename="aed.csv")
        assert layer.place_count == 1 and layer.version == version + 1
    with db.session() as db_session:
        (found,) = search_service.nearest(db_session=db_session, lat=34.0, lon=134.0, kind=PlaceKind.AED, limit=5)
        assert found.name == "新しいAED" and found.properties["hours"] == "24時間"


def test_shelter_status_survives_a_reimport_of_the_same_file(db: Database) -> None:
    path = DATA_DIR / "setouchi_gsi_designated_shelters_332127.geojson"
    meta = next(m for m, _ in layer_service.demo_layer_metas() if m.key == "setouchi_shelters")
    with db.session() as db_session:
        shelter = shelter_service.get_all_shelters(db_session=db_session)[0]
        shelter_service.set_status(db_session=db_session, place=shelter, status=ShelterStatus.OPEN, actor_name="t")
        ext_id = shelter.ext_id
    with db.session() as db_session:
        layer_service.import_layer(db_session=db_session, layer_in=meta, content=path.read_bytes(), filename=path.name)
    with db.session() as db_session:
        again = db_session.scalar(select(Place).where(Place.ext_id == ext_id))
        assert again is not None and again.status == ShelterStatus.OPEN


@pytest.mark.parametrize("hazard", list(Hazard)[:5])
def test_hazard_filters_match_a_brute_force_over_the_database(db: Database, hazard: Hazard) -> None:
    rng = random.Random(hazard.value)
    with db.session() as db_session:
        places = list(db_session.scalars(select(Place).where(Place.kind == PlaceKind.EMERGENCY_SITE)))
        designated = [p for p in places if hazard.value in p.hazards]
        for _ in range(20):
            lat, lon = rng.uniform(34.55, 34.8), rng.uniform(133.9, 134.3)
            got = search_service.nearest(
                db_session=db_session, lat=lat, lon=lon, kind=PlaceKind.EMERGENCY_SITE, hazard=hazard, limit=5
            )
            assert all(hazard.value in f.hazards for f in got)
            expected = sorted(reference_m(lat, lon, p.lat, p.lon) for p in designated)[:5]
            assert [f.distance_m for f in got] == pytest.approx(expected, abs=1e-3)


def test_a_hazard_nobody_is_designated_for_finds_nothing(db: Database) -> None:
    with db.session() as db_session:
        found = search_service.nearest(
            db_session=db_session, lat=CITY_HALL[0], lon=CITY_HALL[1], kind=PlaceKind.EMERGENCY_SITE, hazard=Hazard.FIRE
        )
        assert found == []


def test_auto_scope_uses_the_neighbours_only_outside_the_city(db: Database) -> None:
    with db.session() as db_session:
        outside = search_service.nearest_places(
            db_session=db_session, lat=OKAYAMA_STATION[0], lon=OKAYAMA_STATION[1], kind=PlaceKind.SHELTER, limit=3
        )
        assert all("岡山市" in p.address for p in outside)
        forced = search_service.nearest_places(
            db_session=db_session,
            lat=OKAYAMA_STATION[0],
            lon=OKAYAMA_STATION[1],
            kind=PlaceKind.SHELTER,
            limit=3,
            scope="city",
        )
        assert all("瀬戸内市" in p.address for p in forced)
        inside = search_service.nearest_places(
            db_session=db_session, lat=CITY_HALL[0], lon=CITY_HALL[1], kind=PlaceKind.SHELTER, limit=10
        )
        assert all("瀬戸内市" in p.address for p in inside)
        assert inside == sorted(inside, key=lambda p: p.distance_m)


def test_disaster_mode_lists_open_shelters_first(db: Database) -> None:
    lat, lon = USHIMADO_PORT
    with db.session() as db_session:
        assert not search_service.disaster_mode(db_session=db_session)
        plain = search_service.find_for_citizen(db_session=db_session, lat=lat, lon=lon, kind=PlaceKind.SHELTER)
        far = search_service.nearest(db_session=db_session, lat=lat, lon=lon, kind=PlaceKind.SHELTER, limit=20)[-1]
        near = plain[2]
        for place_id in (far.id, near.id):
            place = shelter_service.get_place(db_session=db_session, place_id=place_id)
            assert place is not None
            shelter_service.set_status(db_session=db_session, place=place, status=ShelterStatus.OPEN, actor_name="t")
    with db.session() as db_session:
        assert search_service.disaster_mode(db_session=db_session)
        shown = search_service.find_for_citizen(db_session=db_session, lat=lat, lon=lon, kind=PlaceKind.SHELTER)
        assert [f.id for f in shown[:2]] == [near.id, far.id]
        assert [f.status for f in shown[:2]] == [ShelterStatus.OPEN, ShelterStatus.OPEN]
        assert [f.id for f in shown[2:]] == [f.id for f in plain if f.id != near.id][:3]
        # The same facility's 指定緊急避難場所 row shows the status too.
        opened = shelter_service.get_place(db_session=db_session, place_id=near.id)
        assert opened is not None
        if opened.facility_key:
            site = db_session.scalar(
                select(Place).where(Place.kind == PlaceKind.EMERGENCY_SITE, Place.facility_key == opened.facility_key)
            )
            assert site is not None and site.status == ShelterStatus.OPEN
        assert shelter_service.reset_all_statuses(db_session=db_session, actor_name="t") >= 2
        assert not search_service.disaster_mode(db_session=db_session)


@pytest.mark.parametrize(
    ("text", "label", "is_district"),
    [
        ("牛窓の避難所", "牛窓町", True),
        ("うしまどの避難所", "牛窓町", True),
        ("長船町土師の近くのAED", "長船町土師", False),
        ("土師のAED", "長船町土師", False),
        ("邑久町尾張の公民館", "邑久町尾張", False),
        ("おさふねの公民館", "長船町", True),
        ("虫明の避難所", "邑久町虫明", False),
        ("東京の避難所", None, None),
    ],
)
def test_place_names_from_the_towns_and_districts(text: str, label: str | None, is_district: bool | None) -> None:
    place = place_service.resolve_place(text)
    if label is None:
        assert place is None
    else:
        assert place is not None and (place.label, place.is_district) == (label, is_district)
        assert place_service.in_city(place.lat, place.lon)


def test_every_town_resolves_by_its_full_name() -> None:
    for town, (lat, lon) in place_service.towns().items():
        place = place_service.resolve_place(f"{town}の避難所")
        assert place is not None and place.label == town and (place.lat, place.lon) == (lat, lon)


def test_parse_reads_gsi_hazard_columns_and_keeps_other_properties() -> None:
    path = DATA_DIR / "setouchi_gsi_emergency_evacuation_sites_332127.geojson"
    places = parse_layer_file(path.read_bytes(), path.name)
    assert len(places) == 81
    counts = {h: sum(h in p.hazards for p in places) for h in Hazard}
    assert counts[Hazard.TSUNAMI] == 74 and counts[Hazard.FLOOD] == 33 and counts[Hazard.FIRE] == 0
    assert all(math.isfinite(p.lat) for p in places)
