"""The 地図情報 section of the staff admin: layers (counts, 出典, upload), the shelter status board
for a disaster, and a map drawn here as SVG (no tile server: the city's closed network has none).

Its SCREENS (the section, its API and a dashboard panel) are declared in handlers/gis/capability.py.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, File, Form, HTTPException, Request, UploadFile
from fastapi import Path as PathParam
from fastapi.responses import HTMLResponse, Response
from pydantic import ValidationError
from sqlalchemy.orm import Session

from admin.auth import CurrentStaff, DbSession, require_role
from admin.models import Actor, StaffRole
from admin.nav import DashboardPanel, Section, staff_roles
from admin.templating import redirect, render
from handlers.gis import MAX_UPLOAD_BYTES
from handlers.gis import api as gis_api
from handlers.gis import flows as gis_flows
from handlers.gis.models import (
    HAZARD_LABELS,
    KIND_LABELS,
    SHELTER_KINDS,
    STATUS_LABELS,
    Hazard,
    LayerMeta,
    LayerRead,
    LayerScope,
    PlaceKind,
    ShelterRead,
    ShelterStatus,
)
from handlers.gis.parsing import LayerFileError
from handlers.gis.service import layers as layer_service
from handlers.gis.service import places as place_service
from handlers.gis.service import search as search_service
from handlers.gis.service import shelters as shelter_service

MAP_WIDTH = 900
KIND_COLOURS: dict[PlaceKind, str] = {
    PlaceKind.SHELTER: "#1f5fa8",
    PlaceKind.EMERGENCY_SITE: "#2e7d32",
    PlaceKind.FACILITY: "#b8860b",
    PlaceKind.AED: "#c62828",
}
STATUS_COLOURS: dict[ShelterStatus, str] = {
    ShelterStatus.OPEN: "#00a040",
    ShelterStatus.FULL: "#e07000",
    ShelterStatus.CLOSED: "#555555",
}

router = APIRouter()


# --- layers ----------------------------------------------------------------------------------------


def _layers_page(
    request: Request, db_session: Session, *, problems: list[str] | None = None, status_code: int = 200
) -> HTMLResponse:
    layers = [LayerRead.model_validate(layer) for layer in layer_service.get_all_layers(db_session=db_session)]
    return render(
        request,
        "gis/layers.html",
        {
            "layers": layers,
            "kind_labels": {k.value: v for k, v in KIND_LABELS.items()},
            "kinds": [(k.value, v) for k, v in KIND_LABELS.items()],
            "problems": problems or [],
            "boundary_source": place_service.BOUNDARY_SOURCE,
            "towns_source": place_service.TOWNS_SOURCE,
            "max_mb": MAX_UPLOAD_BYTES // (1024 * 1024),
        },
        status_code=status_code,
    )


@router.get("/gis", response_class=HTMLResponse)
def list_layers(request: Request, db_session: DbSession) -> HTMLResponse:
    return _layers_page(request, db_session)


@router.post("/gis/layers", response_class=HTMLResponse, dependencies=[Depends(require_role())])
async def upload_layer(
    request: Request,
    actor: CurrentStaff,
    db_session: DbSession,
    file: Annotated[UploadFile, File()],
    layer_key: Annotated[str, Form(max_length=64)] = "",
    new_key: Annotated[str, Form(max_length=64)] = "",
    kind: Annotated[str, Form(max_length=32)] = "",
    title: Annotated[str, Form(max_length=200)] = "",
    source: Annotated[str, Form(max_length=2000)] = "",
    license: Annotated[str, Form(max_length=200)] = "",
    city: Annotated[str, Form(max_length=100)] = "",
    scope: Annotated[str, Form(max_length=16)] = "city",
    is_sample: Annotated[str, Form(max_length=8)] = "",
) -> Response:
    """Replaces an existing layer (its description kept) or creates a new one; a bad file is refused
    with every line and reason, and the layer stays as it was."""
    content = await file.read(MAX_UPLOAD_BYTES + 1)
    filename = (file.filename or "upload")[:300]
    if len(content) > MAX_UPLOAD_BYTES:
        return _layers_page(
            request,
            db_session,
            problems=[f"ファイルが大きすぎます（上限{MAX_UPLOAD_BYTES // (1024 * 1024)}MB）。"],
            status_code=400,
        )
    existing = layer_service.get_layer_by_key(db_session=db_session, key=layer_key) if layer_key else None
    try:
        if existing is not None:
            meta = LayerMeta.model_validate(existing, from_attributes=True)
        else:
            meta = LayerMeta(
                key=new_key.strip(),
                kind=PlaceKind(kind),
                title=title.strip(),
                source=source.strip(),
                license=license.strip(),
                city=city.strip(),
                scope=LayerScope(scope),
                is_sample=bool(is_sample),
            )
    except (ValidationError, ValueError):
        return _layers_page(
            request,
            db_session,
            problems=["新しいレイヤーには、キー（半角英小文字・数字・_）、種類、名前が必要です。"],
            status_code=400,
        )
    try:
        layer = gis_flows.import_layer(
            db_session=db_session, actor=actor, layer_in=meta, content=content, filename=filename, existing=existing
        )
    except LayerFileError as exc:
        return _layers_page(
            request, db_session, problems=[f"{filename}: {p}" for p in exc.problems[:50]], status_code=400
        )
    except layer_service.LayerKindMismatch:
        return _layers_page(request, db_session, problems=["レイヤーの種類が違います。"], status_code=400)
    return redirect("/admin/gis", notice=f"「{layer.title}」を{layer.place_count}件で入れ替えました。")


# --- shelter status board --------------------------------------------------------------------------


def _shelter_rows(db_session: Session) -> list[dict[str, Any]]:
    return [
        {"place": ShelterRead.model_validate(p), "hazards": "・".join(HAZARD_LABELS[Hazard(h)] for h in p.hazards)}
        for p in shelter_service.get_all_shelters(db_session=db_session)
    ]


@router.get("/gis/shelters", response_class=HTMLResponse)
def show_shelter_board(request: Request, actor: CurrentStaff, db_session: DbSession) -> HTMLResponse:
    rows = _shelter_rows(db_session)
    counts = {s.value: sum(1 for r in rows if r["place"].status == s) for s in ShelterStatus}
    return render(
        request,
        "gis/shelters.html",
        {
            "rows": rows,
            "counts": counts,
            "statuses": [(s.value, STATUS_LABELS[s]) for s in ShelterStatus],
            "status_labels": {s.value: label for s, label in STATUS_LABELS.items()},
            "can_change": actor.role in (StaffRole.ADMIN, StaffRole.COUNTER),
        },
    )


@router.post("/gis/shelters/{place_id}/status", dependencies=[Depends(require_role("counter"))])
def change_shelter_status(
    actor: CurrentStaff,
    db_session: DbSession,
    place_id: Annotated[int, PathParam(ge=1, le=2**31 - 1)],
    status: Annotated[str, Form(max_length=16)],
) -> Response:
    place = shelter_service.get_place(db_session=db_session, place_id=place_id)
    if place is None or place.kind not in SHELTER_KINDS:
        raise HTTPException(status_code=404, detail="避難所が見つかりません。")
    try:
        new_status = ShelterStatus(status)
    except ValueError:
        return redirect("/admin/gis/shelters", error="状況の値が正しくありません。")
    gis_flows.set_shelter_status(db_session=db_session, actor=actor, place=place, status=new_status)
    return redirect(
        f"/admin/gis/shelters#shelter-{place.id}",
        notice=f"「{place.name}」を「{STATUS_LABELS[new_status]}」にしました。",
    )


@router.post("/gis/shelters/reset", dependencies=[Depends(require_role("counter"))])
def reset_shelter_statuses(actor: CurrentStaff, db_session: DbSession) -> Response:
    count = gis_flows.reset_shelter_statuses(db_session=db_session, actor=actor)
    return redirect("/admin/gis/shelters", notice=f"{count}件の状況を「未開設」に戻しました。")


# --- the map ---------------------------------------------------------------------------------------


class Projection:
    """Equirectangular, scaled by cos(latitude) at the middle: true to shape at a city's size."""

    def __init__(self, bbox: tuple[float, float, float, float], width: int) -> None:
        lon0, lat0, lon1, lat1 = bbox
        pad_lon, pad_lat = (lon1 - lon0) * 0.04, (lat1 - lat0) * 0.04
        self.lon0, self.lat1 = lon0 - pad_lon, lat1 + pad_lat
        self.kx = math.cos(math.radians((lat0 + lat1) / 2))
        span_x = (lon1 - lon0 + 2 * pad_lon) * self.kx
        self.scale = width / span_x
        self.width = width
        self.height = round((lat1 - lat0 + 2 * pad_lat) * self.scale)

    def xy(self, lat: float, lon: float) -> tuple[float, float]:
        return round((lon - self.lon0) * self.kx * self.scale, 1), round((self.lat1 - lat) * self.scale, 1)

    def inside(self, x: float, y: float) -> bool:
        return 0 <= x <= self.width and 0 <= y <= self.height


def _ring_path(projection: Projection, ring: list[tuple[float, float]]) -> str:
    points: list[tuple[float, float]] = []
    for lon, lat in ring:
        x, y = projection.xy(lat, lon)
        # Drop points closer than half a pixel to the last kept one: the page stays small.
        if points and abs(points[-1][0] - x) < 0.5 and abs(points[-1][1] - y) < 0.5:
            continue
        points.append((x, y))
    if len(points) < 3:
        return ""
    return "M" + " L".join(f"{x},{y}" for x, y in points) + " Z"


def map_context(db_session: Session) -> dict[str, Any]:
    projection = Projection(place_service.boundary().bbox, MAP_WIDTH)
    paths = [p for p in (_ring_path(projection, ring) for ring in place_service.boundary_rings()) if p]
    points: list[dict[str, Any]] = []
    counts: dict[str, int] = {}
    for kind in (PlaceKind.EMERGENCY_SITE, PlaceKind.SHELTER, PlaceKind.FACILITY, PlaceKind.AED):
        for index in search_service.indexes(db_session=db_session, kind=kind):
            for i, place_id in enumerate(index.ids):
                x, y = projection.xy(float(index.points.lats_deg[i]), float(index.points.lons_deg[i]))
                if not projection.inside(x, y):
                    continue
                status = index.statuses[i]
                active = kind in SHELTER_KINDS and status != ShelterStatus.NOT_OPEN
                label = f"{index.names[i]}（{KIND_LABELS[kind]}"
                if active:
                    label += f"・{STATUS_LABELS[status]}"
                label += "）" if index.scope == LayerScope.CITY else f"・{index.city}）"
                points.append(
                    {
                        "id": place_id,
                        "kind": kind.value,
                        "scope": index.scope.value,
                        "x": x,
                        "y": y,
                        "r": 7 if active else 4,
                        "fill": STATUS_COLOURS.get(status, KIND_COLOURS[kind]) if active else KIND_COLOURS[kind],
                        "stroke": "#000000" if active else "#ffffff",
                        "status": status.value,
                        "label": label,
                    }
                )
                counts[kind.value] = counts.get(kind.value, 0) + 1
    # Open shelters last, so they are drawn on top.
    points.sort(key=lambda p: p["r"])
    sources = sorted({layer.source for layer in layer_service.get_all_layers(db_session=db_session) if layer.source})
    return {
        "width": projection.width,
        "height": projection.height,
        "paths": paths,
        "points": points,
        "counts": counts,
        "legend": [(k.value, KIND_LABELS[k], KIND_COLOURS[k]) for k in KIND_COLOURS],
        "status_legend": [(STATUS_LABELS[s], c) for s, c in STATUS_COLOURS.items()],
        "sources": [*sources, place_service.BOUNDARY_SOURCE],
    }


@router.get("/gis/map", response_class=HTMLResponse)
def show_map(request: Request, db_session: DbSession) -> HTMLResponse:
    return render(request, "gis/map.html", {"map": map_context(db_session), "kind_labels": KIND_LABELS})


# --- dashboard -------------------------------------------------------------------------------------


def _panel(db_session: Session, actor: Actor) -> dict[str, Any]:
    rows = shelter_service.get_all_shelters(db_session=db_session)
    return {
        "open": sum(1 for p in rows if p.status == ShelterStatus.OPEN),
        "full": sum(1 for p in rows if p.status == ShelterStatus.FULL),
        "total": len(rows),
    }


SCREENS = (
    Section(
        "gis",
        "地図情報",
        "/gis",
        staff_roles(*StaffRole),
        router=router,
        api_router=gis_api.router,
        order=40,
        description="避難所・公共施設・AEDなどの地図データと、災害時の避難所の開設状況を管理します。",
        templates=Path(__file__).parent / "templates",
    ),
    DashboardPanel("gis_shelters", "避難所の開設状況", template="gis/panel.html", load=_panel, order=20),
)
