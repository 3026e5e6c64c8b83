"""Map information's rules: importing layers (validated, replaced atomically), nearest places through
an in-memory index that follows each layer's version, the city boundary, place names, and shelter
status in a disaster. No LINE, no HTTP: flows, the admin, the API and the CLI all call these.
"""

from __future__ import annotations

import json
import threading
import unicodedata
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np
import yaml
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from bot import clock
from handlers.gis.geo import Boundary, PointIndex
from handlers.gis.models import (
    Hazard,
    Layer,
    LayerMeta,
    LayerScope,
    NearestPlace,
    Place,
    PlaceCreate,
    PlaceKind,
    ShelterStatus,
)
from handlers.gis.parsing import LayerFileError, Problem, parse_layer_file

DATA_DIR = Path(__file__).parent / "data"
LAYERS_FILE = DATA_DIR / "layers.yml"
BOUNDARY_FILE = DATA_DIR / "setouchi_boundary_n03_2019.geojson"
TOWNS_FILE = DATA_DIR / "setouchi_towns_geolonia.json"
BOUNDARY_SOURCE = "「国土数値情報（行政区域データ）」（国土交通省）を加工して作成"
TOWNS_SOURCE = "Geolonia 住所データ（CC BY 4.0）、国土交通省 位置参照情報"

# The city's three districts (旧町), the 大字 prefix of each, and the 大字 whose point stands for the
# district (where its office is) when someone names only the district.
DISTRICTS: dict[str, tuple[str, str]] = {
    "邑久": ("邑久町", "邑久町尾張"),
    "牛窓": ("牛窓町", "牛窓町牛窓"),
    "長船": ("長船町", "長船町土師"),
}
DISTRICT_ALIASES: dict[str, str] = {
    "おく": "邑久",
    "うしまど": "牛窓",
    "ウシマド": "牛窓",
    "おさふね": "長船",
    "オサフネ": "長船",
}
SHELTER_KINDS = (PlaceKind.SHELTER, PlaceKind.EMERGENCY_SITE)
ACTIVE_STATUSES = (ShelterStatus.OPEN, ShelterStatus.FULL)


class LayerNotFound(Exception):
    pass


class PlaceNotFound(Exception):
    pass


class LayerKindMismatch(Exception):
    """An upload for an existing layer declared another kind of place."""


# --- layers ---------------------------------------------------------------------------------------


KIND_ORDER = {kind: i for i, kind in enumerate(PlaceKind)}


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
    statuses: dict[str, tuple[str, Any, Any]] = {}
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


def seed(*, db_session: Session) -> list[str]:
    """Loads every demo layer that is missing (staff uploads are kept); answers the keys loaded."""
    from handlers.gis import garbage

    loaded = []
    for meta, path in demo_layer_metas():
        if get_layer_by_key(db_session=db_session, key=meta.key) is None:
            import_layer(db_session=db_session, layer_in=meta, content=path.read_bytes(), filename=path.name)
            loaded.append(meta.key)
    garbage.seed(db_session=db_session)
    return loaded


# --- the index ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Found:
    """A place answered by a search, with how far it is."""

    id: int
    kind: PlaceKind
    name: str
    address: str
    lat: float
    lon: float
    distance_m: float
    hazards: tuple[str, ...]
    status: ShelterStatus
    properties: dict[str, Any]
    city: str
    layer_key: str
    source: str
    is_sample: bool


class LayerIndex:
    """One layer version's places in memory: the point index plus what answers need."""

    def __init__(self, layer: Layer, places: list[Place]) -> None:
        self.layer_id = layer.id
        self.version = layer.version
        self.stamp = (layer.version, layer.updated_at)
        self.kind = PlaceKind(layer.kind)
        self.scope = LayerScope(layer.scope)
        self.city, self.key, self.source, self.is_sample = layer.city, layer.key, layer.source, layer.is_sample
        self.ids = [p.id for p in places]
        self.names = [p.name for p in places]
        self.addresses = [p.address for p in places]
        self.hazards = [tuple(p.hazards or ()) for p in places]
        self.properties = [dict(p.properties or {}) for p in places]
        self.statuses = [ShelterStatus(p.status or ShelterStatus.NOT_OPEN) for p in places]
        self.any_active = any(s in ACTIVE_STATUSES for s in self.statuses)
        self.points = PointIndex.build([p.lat for p in places], [p.lon for p in places])
        self.hazard_masks = {
            hazard: np.fromiter((hazard.value in hs for hs in self.hazards), dtype=bool, count=len(places))
            for hazard in Hazard
        }

    def mask_for(
        self,
        hazard: Hazard | None = None,
        statuses: Iterable[ShelterStatus] | None = None,
        where: Callable[[int], bool] | None = None,
    ) -> np.ndarray | None:
        mask = None if hazard is None else self.hazard_masks[hazard]
        if statuses is not None:
            wanted = set(statuses)
            status_mask = np.fromiter((s in wanted for s in self.statuses), dtype=bool, count=len(self.ids))
            mask = status_mask if mask is None else mask & status_mask
        if where is not None:
            where_mask = np.fromiter((where(i) for i in range(len(self.ids))), dtype=bool, count=len(self.ids))
            mask = where_mask if mask is None else mask & where_mask
        return mask

    def found(self, position: int, distance: float) -> Found:
        return Found(
            id=self.ids[position],
            kind=self.kind,
            name=self.names[position],
            address=self.addresses[position],
            lat=float(self.points.lats_deg[position]),
            lon=float(self.points.lons_deg[position]),
            distance_m=distance,
            hazards=self.hazards[position],
            status=self.statuses[position],
            properties=self.properties[position],
            city=self.city,
            layer_key=self.key,
            source=self.source,
            is_sample=self.is_sample,
        )


# Keyed by database and layer id; an entry is current while the layer's version (and update time) match.
_indexes: dict[tuple[str, int], LayerIndex] = {}
_index_lock = threading.Lock()


def _index_for(db_session: Session, layer: Layer) -> LayerIndex:
    key = (str(db_session.get_bind().engine.url), layer.id)
    stamp = (layer.version, layer.updated_at)
    index = _indexes.get(key)
    if index is not None and index.stamp == stamp:
        return index
    with _index_lock:
        index = _indexes.get(key)
        if index is None or index.stamp != stamp:
            places = list(db_session.scalars(select(Place).where(Place.layer_id == layer.id).order_by(Place.id)))
            index = LayerIndex(layer, places)
            _indexes[key] = index
    return index


def indexes(*, db_session: Session, kind: PlaceKind, scope: LayerScope | None = None) -> list[LayerIndex]:
    """The current index of every layer of this kind (rebuilt where the layer's version moved)."""
    query = select(Layer).where(Layer.kind == kind)
    if scope is not None:
        query = query.where(Layer.scope == scope)
    return [_index_for(db_session, layer) for layer in db_session.scalars(query.order_by(Layer.id))]


def nearest(
    *,
    db_session: Session,
    lat: float,
    lon: float,
    kind: PlaceKind,
    hazard: Hazard | None = None,
    limit: int = 5,
    scope: LayerScope | None = None,
    statuses: Iterable[ShelterStatus] | None = None,
    where: Callable[[LayerIndex, int], bool] | None = None,
) -> list[Found]:
    """The `limit` places of `kind` nearest to the point (haversine), nearest first."""
    if limit <= 0:
        return []
    wanted = None if statuses is None else tuple(statuses)
    found: list[Found] = []
    for index in indexes(db_session=db_session, kind=kind, scope=scope):
        condition = None if where is None else (lambda i, index=index: where(index, i))
        mask = index.mask_for(hazard, wanted, condition)
        found.extend(index.found(pos, dist) for pos, dist in index.points.nearest(lat, lon, limit, mask))
    found.sort(key=lambda f: (f.distance_m, f.id))
    return found[:limit]


def disaster_mode(*, db_session: Session) -> bool:
    """Some shelter is open (or full): answers lead with the open ones."""
    return any(index.any_active for kind in SHELTER_KINDS for index in indexes(db_session=db_session, kind=kind))


def find_for_citizen(
    *,
    db_session: Session,
    lat: float,
    lon: float,
    kind: PlaceKind,
    hazard: Hazard | None = None,
    limit: int = 5,
    scope: LayerScope | None = None,
    where: Callable[[LayerIndex, int], bool] | None = None,
) -> list[Found]:
    """What a citizen is shown: the nearest places; during a disaster the open shelters come first
    (nearest first), then the nearest others with their status."""
    nearby = nearest(
        db_session=db_session, lat=lat, lon=lon, kind=kind, hazard=hazard, limit=limit, scope=scope, where=where
    )
    if kind not in SHELTER_KINDS or not disaster_mode(db_session=db_session):
        return nearby
    open_ones = nearest(
        db_session=db_session,
        lat=lat,
        lon=lon,
        kind=kind,
        hazard=hazard,
        limit=limit,
        scope=scope,
        statuses=(ShelterStatus.OPEN,),
        where=where,
    )
    shown = {f.id for f in open_ones}
    return (open_ones + [f for f in nearby if f.id not in shown])[:limit]


# --- shelters in a disaster ---------------------------------------------------------------------


def get_all_shelters(*, db_session: Session, scope: LayerScope = LayerScope.CITY) -> list[Place]:
    query = (
        select(Place)
        .join(Layer, Layer.id == Place.layer_id)
        .where(Place.kind == PlaceKind.SHELTER, Layer.scope == scope)
        .order_by(Place.address, Place.name, Place.id)
    )
    return list(db_session.scalars(query))


def get_place(*, db_session: Session, place_id: int) -> Place | None:
    return db_session.get(Place, place_id)


def set_status(*, db_session: Session, place: Place, status: ShelterStatus, actor_name: str) -> list[Place]:
    """Marks a shelter open / full / closed (or back to 未開設). The same facility's 指定緊急避難場所
    row takes the same status. Answers every place changed."""
    if place.kind not in SHELTER_KINDS:
        raise PlaceNotFound(f"place {place.id} is not a shelter")
    targets = [place]
    if place.facility_key:
        targets = list(
            db_session.scalars(
                select(Place).where(Place.facility_key == place.facility_key, Place.kind.in_(list(SHELTER_KINDS)))
            )
        )
        if place not in targets:
            targets.append(place)
    now = clock.now()
    for target in targets:
        target.status = status
        target.status_updated_at = now
        target.status_updated_by = actor_name[:64]
    layer_ids = {t.layer_id for t in targets}
    db_session.execute(update(Layer).where(Layer.id.in_(layer_ids)).values(version=Layer.version + 1))
    db_session.flush()
    return targets


def reset_all_statuses(*, db_session: Session, actor_name: str) -> int:
    """After a disaster: every shelter back to 未開設. Answers how many changed."""
    rows = list(db_session.scalars(select(Place).where(Place.status != ShelterStatus.NOT_OPEN)))
    now = clock.now()
    for row in rows:
        row.status = ShelterStatus.NOT_OPEN
        row.status_updated_at = now
        row.status_updated_by = actor_name[:64]
    if rows:
        layer_ids = {r.layer_id for r in rows}
        db_session.execute(update(Layer).where(Layer.id.in_(layer_ids)).values(version=Layer.version + 1))
    db_session.flush()
    return len(rows)


# --- the city boundary and place names ----------------------------------------------------------


@cache
def boundary() -> Boundary:
    data = json.loads(BOUNDARY_FILE.read_text(encoding="utf-8"))
    geometry = data["geometry"] if data.get("type") == "Feature" else data["features"][0]["geometry"]
    return Boundary.from_geojson(geometry)


@cache
def boundary_rings() -> list[list[tuple[float, float]]]:
    """Outer rings (lon, lat) of the boundary, for drawing."""
    return [list(zip(poly[0].lons.tolist(), poly[0].lats.tolist(), strict=True)) for poly in boundary().polygons]


def in_city(lat: float, lon: float) -> bool:
    return boundary().contains(lat, lon)


@dataclass(frozen=True)
class PlaceRef:
    """A place the citizen named: a 大字 (town) or a whole district."""

    label: str  # 長船町土師 / 牛窓町
    lat: float
    lon: float
    district: str  # 邑久 / 牛窓 / 長船
    is_district: bool

    @property
    def address_prefix(self) -> str:
        return DISTRICTS[self.district][0]


@cache
def towns() -> dict[str, tuple[float, float]]:
    rows = json.loads(TOWNS_FILE.read_text(encoding="utf-8"))
    return {row["town"]: (float(row["lat"]), float(row["lng"])) for row in rows}


@cache
def _town_short_names() -> list[tuple[str, str]]:
    """(土師, 長船町土師) for every 大字 whose name without the old town is distinctive."""
    prefixes = tuple(prefix for prefix, _ in DISTRICTS.values())
    counts: dict[str, int] = {}
    pairs = []
    for town in towns():
        short = next((town[len(p) :] for p in prefixes if town.startswith(p)), town)
        counts[short] = counts.get(short, 0) + 1
        pairs.append((short, town))
    return sorted(
        ((s, t) for s, t in pairs if counts[s] == 1 and len(s) >= 2 and s not in DISTRICTS),
        key=lambda pair: -len(pair[0]),
    )


def district_of_town(town: str) -> str | None:
    return next((d for d, (prefix, _) in DISTRICTS.items() if town.startswith(prefix)), None)


def normalise(text: str) -> str:
    return "".join(unicodedata.normalize("NFKC", text).split())


def resolve_place(text: str | None, *, district_hint: str | None = None) -> PlaceRef | None:
    """The 大字 or district named in the text (from the city's own 大字 list), else the NLU's district."""
    norm = normalise(text or "")
    for town in sorted(towns(), key=len, reverse=True):
        if town in norm:
            return _town_ref(town)
    for short, town in _town_short_names():
        if short in norm:
            return _town_ref(town)
    for alias, district in DISTRICT_ALIASES.items():
        if alias in norm:
            return district_ref(district)
    for district in DISTRICTS:
        if district in norm:
            return district_ref(district)
    if district_hint in DISTRICTS:
        return district_ref(district_hint)
    return None


def _town_ref(town: str) -> PlaceRef:
    lat, lon = towns()[town]
    district = district_of_town(town) or "邑久"
    return PlaceRef(label=town, lat=lat, lon=lon, district=district, is_district=False)


def district_ref(district: str) -> PlaceRef:
    prefix, center = DISTRICTS[district]
    lat, lon = towns()[center]
    return PlaceRef(label=prefix, lat=lat, lon=lon, district=district, is_district=True)


def district_at(lat: float, lon: float) -> str | None:
    """The district of the nearest 大字 point, for a point inside the city."""
    if not in_city(lat, lon):
        return None
    best = min(towns().items(), key=lambda item: (item[1][0] - lat) ** 2 + (item[1][1] - lon) ** 2)
    return district_of_town(best[0])


__all__ = [
    "BOUNDARY_SOURCE",
    "TOWNS_SOURCE",
    "Found",
    "LayerFileError",
    "LayerKindMismatch",
    "Problem",
    "find_for_citizen",
    "import_layer",
    "in_city",
    "nearest",
    "resolve_place",
]


# --- the JSON answer of the CLI and the API ------------------------------------------------------

SCOPES = ("auto", "city", "all")


def nearest_places(
    *,
    db_session: Session,
    lat: float,
    lon: float,
    kind: PlaceKind,
    hazard: Hazard | None = None,
    limit: int = 5,
    scope: str = "auto",
) -> list[NearestPlace]:
    """`auto`: the city's own places for a point inside the city, every city's outside it."""
    if scope not in SCOPES:
        raise ValueError(f"scope must be one of {', '.join(SCOPES)}")
    layer_scope = None
    if scope == "city" or (scope == "auto" and in_city(lat, lon)):
        layer_scope = LayerScope.CITY
    found = nearest(db_session=db_session, lat=lat, lon=lon, kind=kind, hazard=hazard, limit=limit, scope=layer_scope)
    return [
        NearestPlace(
            id=f.id,
            name=f.name,
            address=f.address,
            lat=f.lat,
            lon=f.lon,
            distance_m=round(f.distance_m, 1),
            hazards=[Hazard(h) for h in f.hazards],
        )
        for f in found
    ]
