"""Nearest places: each layer's places held in memory (a point index per layer version, rebuilt when
an import or a status change moves the version), searched by kind, hazard, status and scope; during a
disaster the open shelters come first. Also the JSON answer of `gis nearest` and the staff API."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session

from handlers.gis.geo import PointIndex
from handlers.gis.models import (
    ACTIVE_STATUSES,
    SHELTER_KINDS,
    Hazard,
    Layer,
    LayerScope,
    NearestPlace,
    Place,
    PlaceKind,
    ShelterStatus,
)
from handlers.gis.service.places import in_city, normalise

SCOPES = ("auto", "city", "all")


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
        self.folded_names = [normalise(p.name) for p in places]  # for names found inside a message
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


# Shorter names (「公園」) say too little to be a place on their own.
MIN_NAME_LENGTH = 3


def named_in(*, db_session: Session, text: str) -> Found | None:
    """The city's own place (shelter, facility, AED site) whose name the text contains, the longest
    name first: 「錦海小学校の前」 is 錦海小学校. A place told without GPS, by a landmark."""
    folded = normalise(text)
    best: tuple[int, LayerIndex, int] | None = None
    for kind in PlaceKind:
        for index in indexes(db_session=db_session, kind=kind, scope=LayerScope.CITY):
            for position, name in enumerate(index.folded_names):
                if len(name) >= MIN_NAME_LENGTH and name in folded and (best is None or len(name) > best[0]):
                    best = (len(name), index, position)
    return best[1].found(best[2], 0.0) if best else None


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
    """The JSON answer of the CLI and the API. `auto`: the city's own places for a point inside the
    city, every city's outside it."""
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
