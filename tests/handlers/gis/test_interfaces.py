"""`madoguchi gis ...`, GET /api/v1/gis/nearest and the admin's 地図情報 pages (SQLite and PostgreSQL)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from admin.models import AuditEntry, StaffRole
from bot.db import Database
from bot.settings import get_settings
from handlers.gis.cli import gis_group
from handlers.gis.models import Place, PlaceKind, ShelterStatus
from handlers.gis.service import layers as layer_service
from handlers.gis.service import search as search_service
from handlers.gis.service import seed as gis_seed
from tests.admin.conftest import SignedIn
from tests.handlers.gis.conftest import CITY_HALL, OKAYAMA_STATION, USHIMADO_PORT
from tests.handlers.gis.test_geo import reference_m
from tests.support import LiveApp

KEYS = {"id", "name", "address", "lat", "lon", "distance_m", "hazards"}


@pytest.fixture
def cli_db(database_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Database]:
    monkeypatch.setenv("DATABASE_URL", database_url)
    get_settings.cache_clear()
    database = Database(database_url)
    yield database
    database.dispose()
    get_settings.cache_clear()


def run(*args: str) -> object:
    return CliRunner().invoke(gis_group, list(args), catch_exceptions=False)


def test_cli_imports_the_demo_layers_and_prints_the_nearest_as_json(cli_db: Database) -> None:
    result = run("nearest", "--lat", "34.62", "--lon", "134.15")
    assert result.exit_code != 0 and "no shelter layer loaded" in result.stderr
    result = run("import", "--demo")
    assert result.exit_code == 0 and "setouchi_emergency_sites: 81 places" in result.output
    result = run("nearest", "--lat", "34.62", "--lon", "134.15", "--kind", "emergency_site", "--hazard", "tsunami")
    assert result.exit_code == 0, result.output
    answer = json.loads(result.stdout)
    assert len(answer) == 5 and all(set(a) == KEYS for a in answer)
    assert all("tsunami" in a["hazards"] for a in answer)
    assert [a["distance_m"] for a in answer] == sorted(a["distance_m"] for a in answer)
    for a in answer:
        assert a["distance_m"] == pytest.approx(reference_m(34.62, 134.15, a["lat"], a["lon"]), abs=0.1)
    result = run("nearest", "--lat", "34.62", "--lon", "134.15", "--kind", "aed", "--limit", "2")
    assert [a["name"] for a in json.loads(result.stdout)] == ["牛窓支所", "牛窓町公民館"]


def test_cli_refuses_a_bad_file_with_the_line_and_keeps_the_layer(cli_db: Database, tmp_path: Path) -> None:
    run("import", "--demo")
    bad = tmp_path / "aed.csv"
    bad.write_text("name,lat,lon\nよいAED,34.66,134.09\nわるいAED,34.66,\n", encoding="utf-8")
    result = run("import", str(bad), "--layer", "setouchi_aeds")
    assert result.exit_code == 1
    assert "aed.csv: 3行目: 経度が数値ではありません" in result.stderr
    with cli_db.session() as db_session:
        layer = layer_service.get_layer_by_key(db_session=db_session, key="setouchi_aeds")
        assert layer is not None and layer.place_count == 15
    good = tmp_path / "new.csv"
    good.write_text("name,lat,lon\nよいAED,34.66,134.09\n", encoding="utf-8")
    result = run("import", str(good), "--layer", "town_aeds", "--kind", "aed", "--title", "町内会のAED")
    assert result.exit_code == 0 and "town_aeds: 1 places" in result.output


# --- API ------------------------------------------------------------------------------------------


@pytest.fixture
def gis_staff(staff: dict[StaffRole, SignedIn], admin_app: LiveApp) -> dict[StaffRole, SignedIn]:
    with admin_app.db.session() as db_session:
        gis_seed.seed(db_session=db_session)
    return staff


def test_api_nearest_matches_the_service(gis_staff: dict[StaffRole, SignedIn], admin_app: LiveApp) -> None:
    with gis_staff[StaffRole.VIEWER].api() as api:
        response = api.get("/api/v1/gis/nearest", params={"lat": CITY_HALL[0], "lon": CITY_HALL[1], "kind": "shelter"})
        assert response.status_code == 200
        answer = response.json()
        assert len(answer) == 5 and all(set(a) == KEYS for a in answer)
        outside = api.get(
            "/api/v1/gis/nearest", params={"lat": OKAYAMA_STATION[0], "lon": OKAYAMA_STATION[1], "limit": 3}
        ).json()
        assert all("岡山市" in a["address"] for a in outside)
        assert api.get("/api/v1/gis/nearest", params={"lat": 91, "lon": 0}).status_code == 422
        assert api.get("/api/v1/gis/nearest", params={"lat": 34, "lon": 134, "hazard": "meteor"}).status_code == 422
        layers = api.get("/api/v1/gis/layers").json()
        assert {layer["key"] for layer in layers} >= {"setouchi_shelters", "setouchi_aeds"}
    with admin_app.db.session() as db_session:
        expected = search_service.nearest_places(
            db_session=db_session, lat=CITY_HALL[0], lon=CITY_HALL[1], kind=PlaceKind.SHELTER
        )
    assert answer == [e.model_dump(mode="json") for e in expected]


def test_api_shelter_status_for_the_counter_only_and_audited(
    gis_staff: dict[StaffRole, SignedIn], admin_app: LiveApp
) -> None:
    with gis_staff[StaffRole.COUNTER].api() as api:
        shelters = api.get("/api/v1/gis/shelters").json()
        target = shelters[0]
        response = api.post(f"/api/v1/gis/shelters/{target['id']}/status", json={"status": "open"})
        assert response.status_code == 200 and response.json()["status"] == "open"
        assert api.post("/api/v1/gis/shelters/999999/status", json={"status": "open"}).status_code == 404
    for role in (StaffRole.VIEWER, StaffRole.BROADCASTER):
        with gis_staff[role].api() as api:
            assert api.post(f"/api/v1/gis/shelters/{target['id']}/status", json={"status": "full"}).status_code == 403
    with admin_app.db.session() as db_session:
        place = db_session.get(Place, target["id"])
        assert place is not None and place.status == ShelterStatus.OPEN
        entry = db_session.scalar(select(AuditEntry).where(AuditEntry.action == "gis.shelter_status"))
        assert entry is not None and entry.staff_name == gis_staff[StaffRole.COUNTER].name


# --- admin pages ----------------------------------------------------------------------------------


def test_layers_page_lists_counts_and_sources(gis_staff: dict[StaffRole, SignedIn]) -> None:
    page = gis_staff[StaffRole.VIEWER].client.get("/admin/gis")
    assert page.status_code == 200
    assert "出典：国土地理院" in page.text and "国土数値情報" in page.text
    assert 'id="layer-setouchi_emergency_sites"' in page.text and ">81<" in page.text
    assert "upload-layer" not in page.text  # only admins load layers


def test_admin_upload_refuses_a_bad_file_and_keeps_the_layer(
    gis_staff: dict[StaffRole, SignedIn], admin_app: LiveApp
) -> None:
    admin = gis_staff[StaffRole.ADMIN]
    bad = "name,lat,lon\nよいAED,34.66,134.09\n,34.66,134.09\n".encode()
    response = admin.client.post(
        "/admin/gis/layers",
        data={"csrf_token": admin.csrf, "layer_key": "setouchi_aeds"},
        files={"file": ("aed.csv", bad, "text/csv")},
    )
    assert response.status_code == 400
    assert "aed.csv: 3行目: 名称" in response.text and "レイヤーは変更していません" in response.text
    with admin_app.db.session() as db_session:
        layer = layer_service.get_layer_by_key(db_session=db_session, key="setouchi_aeds")
        assert layer is not None and layer.place_count == 15
    good = "name,lat,lon\nよいAED,34.66,134.09\n".encode()
    response = admin.client.post(
        "/admin/gis/layers",
        data={"csrf_token": admin.csrf, "layer_key": "setouchi_aeds"},
        files={"file": ("aed.csv", good, "text/csv")},
    )
    assert response.status_code == 303
    with admin_app.db.session() as db_session:
        layer = layer_service.get_layer_by_key(db_session=db_session, key="setouchi_aeds")
        assert layer is not None and layer.place_count == 1 and layer.is_sample  # description kept
    counter = gis_staff[StaffRole.COUNTER]
    response = counter.client.post(
        "/admin/gis/layers",
        data={"csrf_token": counter.csrf, "layer_key": "setouchi_aeds"},
        files={"file": ("aed.csv", good, "text/csv")},
    )
    assert response.status_code == 403


def test_status_board_and_map(gis_staff: dict[StaffRole, SignedIn], admin_app: LiveApp) -> None:
    counter = gis_staff[StaffRole.COUNTER]
    with admin_app.db.session() as db_session:
        shelter = search_service.find_for_citizen(
            db_session=db_session, lat=USHIMADO_PORT[0], lon=USHIMADO_PORT[1], kind=PlaceKind.SHELTER
        )[0]
    response = counter.post(f"/admin/gis/shelters/{shelter.id}/status", {"status": "full"})
    assert response.status_code == 303
    board = counter.client.get("/admin/gis/shelters")
    assert f'id="shelter-{shelter.id}" data-status="full"' in board.text
    viewer = gis_staff[StaffRole.VIEWER]
    assert viewer.post(f"/admin/gis/shelters/{shelter.id}/status", {"status": "open"}).status_code == 403
    page = viewer.client.get("/admin/gis/map")
    assert page.status_code == 200 and '<svg id="gis-map"' in page.text
    assert page.text.count('class="gis-point"') >= 81 + 50 + 10 + 15
    assert f'data-id="{shelter.id}" data-status="full"' in page.text
    assert "https://" not in page.text.split('<svg id="gis-map"')[1].split("</svg>")[0]  # drawn locally
    dashboard = viewer.client.get("/admin/")
    assert 'id="shelters-full">1<' in dashboard.text
