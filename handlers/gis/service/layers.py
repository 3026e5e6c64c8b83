"""Layers: reading a file and replacing a layer's places with it (validated first, all or nothing,
shelter statuses carried over), the demo layers' manifest, and deleting a layer."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from bot import clock
from handlers.gis import DATA_DIR
from handlers.gis.models import (
    SHELTER_KINDS,
    Hazard,
    Layer,
    LayerMeta,
    LayerScope,
    Place,
    PlaceCreate,
    PlaceKind,
    ShelterStatus,
)
from handlers.gis.parsing import parse_layer_file

LAYERS_FILE = DATA_DIR / "layers.yml"
KIND_ORDER = {kind: i for i, kind in enumerate(PlaceKind)}


class LayerKindMismatch(Exception):
    """An upload for an existing layer declared another kind of place."""


def get_all_layers(*, db_session: Session) -> list[Layer]:
    """The city's own layers first, then by kind (shelters, sites, facilities, AEDs)."""
    layers = db_session.scalars(select(Layer).order_by(Layer.key))
    return sorted(layers, key=lambda layer: (layer.scope != LayerScope.CITY, KIND_ORDER.get(layer.kind, 99), layer.key))


def get_layer_by_key(*, db_session: Session, key: str) -> Layer | None:
    return db_session.scalar(select(Layer).where(Layer.key == key))


def get_layer(*, db_session: Session, layer_id: int) -> Layer | None:
    return db_session.get(Layer, layer_id)


def import_layer(
    *,
    db_session: Session,
    layer_in: LayerMeta,
    content: bytes,
    filename: str,
    actor_name: str = "system",
) -> Layer:
    """Reads the file and replaces the layer's places with it, in the caller's transaction.

    A file with any problem raises LayerFileError before anything is written: the old places stay.
    Shelter statuses carry over to places with the same id in the new file.
    """
    places = parse_layer_file(content, filename)
    return replace_places(
        db_session=db_session, layer_in=layer_in, places=places, filename=filename, actor_name=actor_name
    )


def replace_places(
    *,
    db_session: Session,
    layer_in: LayerMeta,
    places: list[PlaceCreate],
    filename: str = "",
    actor_name: str = "system",
) -> Layer:
    layer = get_layer_by_key(db_session=db_session, key=layer_in.key)
    now = clock.now()
    statuses: dict[str, tuple[ShelterStatus, Any, Any]] = {}
    if layer is None:
        layer = Layer(key=layer_in.key, version=0, updated_at=now)
        db_session.add(layer)
    else:
        if layer.kind != layer_in.kind:
            raise LayerKindMismatch(f"layer {layer.key} holds {layer.kind}, not {layer_in.kind}")
        for ext_id, status, at, by in db_session.execute(
            select(Place.ext_id, Place.status, Place.status_updated_at, Place.status_updated_by).where(
                Place.layer_id == layer.id, Place.status != ShelterStatus.NOT_OPEN
            )
        ):
            if ext_id:
                statuses[ext_id] = (status, at, by)
        db_session.query(Place).filter(Place.layer_id == layer.id).delete(synchronize_session=False)
    for field_name, value in layer_in.model_dump().items():
        setattr(layer, field_name, value)
    layer.version = (layer.version or 0) + 1
    layer.place_count = len(places)
    layer.filename = filename[:300]
    layer.updated_at = now
    layer.updated_by = actor_name[:64]
    db_session.flush()
    rows = []
    for place in places:
        status, at, by = statuses.get(place.ext_id, (ShelterStatus.NOT_OPEN, None, None))
        properties = dict(place.properties)
        if place.hazards:
            properties["own_hazards"] = [h.value for h in place.hazards]
        rows.append(
            {
                "layer_id": layer.id,
                "kind": layer_in.kind.value,
                "ext_id": place.ext_id,
                "facility_key": place.facility_key,
                "name": place.name,
                "address": place.address,
                "lat": place.lat,
                "lon": place.lon,
                "hazards": [h.value for h in place.hazards],
                "properties": properties,
                "status": status,
                "status_updated_at": at,
                "status_updated_by": by,
            }
        )
    for start in range(0, len(rows), 5000):
        db_session.execute(Place.__table__.insert(), rows[start : start + 5000])
    if layer_in.kind in SHELTER_KINDS:
        _link_shelter_hazards(db_session=db_session)
    db_session.flush()
    return layer


def _link_shelter_hazards(*, db_session: Session) -> None:
    """A 指定避難所 shows the hazards its facility is designated for as a 指定緊急避難場所 (GSI keeps
    those flags only in the other file; the two share the facility part of 共通ID)."""
    by_facility: dict[str, set[str]] = {}
    for key, hazards in db_session.execute(
        select(Place.facility_key, Place.hazards).where(
            Place.kind == PlaceKind.EMERGENCY_SITE, Place.facility_key != ""
        )
    ):
        by_facility.setdefault(key, set()).update(hazards or [])
    changed_layers: set[int] = set()
    for place in db_session.scalars(select(Place).where(Place.kind == PlaceKind.SHELTER, Place.facility_key != "")):
        own = set((place.properties or {}).get("own_hazards") or [])
        linked = own | by_facility.get(place.facility_key, set())
        ordered = [h.value for h in Hazard if h.value in linked]
        if ordered != list(place.hazards or []):
            place.hazards = ordered
            changed_layers.add(place.layer_id)
    if changed_layers:
        db_session.execute(update(Layer).where(Layer.id.in_(changed_layers)).values(version=Layer.version + 1))


def delete_layer(*, db_session: Session, layer: Layer) -> None:
    db_session.query(Place).filter(Place.layer_id == layer.id).delete(synchronize_session=False)
    db_session.delete(layer)
    db_session.flush()


def demo_layer_metas() -> list[tuple[LayerMeta, Path]]:
    """The layers shipped as demo data (handlers/gis/data/layers.yml) and their files."""
    manifest = yaml.safe_load(LAYERS_FILE.read_text(encoding="utf-8"))
    out = []
    for entry in manifest["layers"]:
        meta = LayerMeta(
            key=entry["key"],
            kind=entry["kind"],
            title=entry["title"],
            city=entry.get("city", ""),
            scope=entry.get("scope", "city"),
            source=entry.get("source", ""),
            license=entry.get("license", ""),
            source_url=entry.get("url", ""),
            is_sample=bool(entry.get("sample", False)),
        )
        out.append((meta, DATA_DIR / entry["file"]))
    return out
