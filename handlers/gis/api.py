"""Staff API for map information under /api/v1 (Bearer token; the 地図情報 section's roles):
nearest places, the layers, and shelter status for the counter in a disaster.

Routes use the admin's per-request session (`admin.auth.DbSession`), the one the token check
opened, so on SQLite nothing waits on a second transaction's write lock.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Path, Query

from admin.api import NOT_FOUND
from admin.auth import CurrentStaff, DbSession, require_role
from handlers.gis import flows as gis_flows
from handlers.gis.models import (
    SHELTER_KINDS,
    Hazard,
    LayerRead,
    NearestPlace,
    PlaceKind,
    ShelterRead,
    ShelterStatusUpdate,
)
from handlers.gis.service import layers as layer_service
from handlers.gis.service import search as search_service
from handlers.gis.service import shelters as shelter_service

router = APIRouter()


@router.get("/gis/nearest", response_model=list[NearestPlace], summary="近い順の避難所・施設・AED")
def read_nearest(
    db_session: DbSession,
    lat: Annotated[float, Query(ge=-90, le=90, description="緯度（WGS84）")],
    lon: Annotated[float, Query(ge=-180, le=180, description="経度（WGS84）")],
    kind: Annotated[PlaceKind, Query(description="shelter / emergency_site / facility / aed")] = PlaceKind.SHELTER,
    hazard: Annotated[Hazard | None, Query(description="この災害に指定された場所だけ")] = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 5,
    scope: Annotated[
        str, Query(pattern="^(auto|city|all)$", description="auto: 市内なら市の場所、市外なら隣接市も")
    ] = "auto",
) -> list[NearestPlace]:
    return search_service.nearest_places(
        db_session=db_session, lat=lat, lon=lon, kind=kind, hazard=hazard, limit=limit, scope=scope
    )


@router.get("/gis/layers", response_model=list[LayerRead], summary="地図レイヤーの一覧（件数と出典）")
def list_layers(db_session: DbSession) -> list[LayerRead]:
    return [LayerRead.model_validate(layer) for layer in layer_service.get_all_layers(db_session=db_session)]


@router.get("/gis/shelters", response_model=list[ShelterRead], summary="市の指定避難所と開設状況")
def list_shelters(db_session: DbSession) -> list[ShelterRead]:
    return [ShelterRead.model_validate(p) for p in shelter_service.get_all_shelters(db_session=db_session)]


@router.post(
    "/gis/shelters/{place_id}/status",
    response_model=ShelterRead,
    summary="避難所の開設状況を変更（開設中・満員・閉鎖・未開設）",
    responses=NOT_FOUND,
    dependencies=[Depends(require_role("counter"))],
)
def update_shelter_status(
    actor: CurrentStaff,
    db_session: DbSession,
    body: ShelterStatusUpdate,
    place_id: Annotated[int, Path(ge=1, le=2**31 - 1)],
) -> ShelterRead:
    place = shelter_service.get_place(db_session=db_session, place_id=place_id)
    if place is None or place.kind not in SHELTER_KINDS:
        raise HTTPException(status_code=404, detail="避難所が見つかりません。")
    return gis_flows.set_shelter_status(db_session=db_session, actor=actor, place=place, status=body.status)
