"""Geometry with no database and no LINE: great-circle distances, the nearest-neighbour index, and
point-in-polygon for the city boundary.

The index is a uniform latitude/longitude grid over numpy arrays. A query looks at the cells
around the point until it has `k` candidates, then widens the search to every cell that could hold
a point closer than the k-th candidate (the spherical cap's bounding box), and ranks those by
haversine distance. So the answer is exact, not approximate, and a query touches a few dozen
points instead of all of them. Small layers (a city's 81 sites) are simply scanned.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

EARTH_RADIUS_M = 6_371_008.8  # mean Earth radius (IUGG)
# Below this many points, scanning every point is as fast as the grid and simpler.
SCAN_BELOW = 4096
# With a mask (a hazard filter) over a gridded layer, scan only when this few points are left.
MASKED_SCAN_BELOW = 1024
# Aim for about this many points per occupied cell.
POINTS_PER_CELL = 6


def haversine_m(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance in metres between two WGS84 points (degrees)."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_M * math.asin(min(1.0, math.sqrt(a)))


def _haversine_many(lat: float, lon: float, lats: np.ndarray, lons: np.ndarray, cos_lats: np.ndarray) -> np.ndarray:
    """Distances in metres from one point to many (arrays in radians, with their cosines precomputed)."""
    p = math.radians(lat)
    a = np.sin((lats - p) * 0.5) ** 2 + math.cos(p) * cos_lats * np.sin((lons - math.radians(lon)) * 0.5) ** 2
    return 2 * EARTH_RADIUS_M * np.arcsin(np.sqrt(np.minimum(a, 1.0)))


@dataclass
class PointIndex:
    """Exact k-nearest over a fixed set of points. Build once per layer version; queries are read-only
    (safe to share between threads)."""

    lats_deg: np.ndarray
    lons_deg: np.ndarray
    lats: np.ndarray = field(init=False)
    lons: np.ndarray = field(init=False)
    cos_lats: np.ndarray = field(init=False)
    cell_deg: float = field(init=False, default=0.0)
    lat0: float = field(init=False, default=0.0)
    lon0: float = field(init=False, default=0.0)
    rows: int = field(init=False, default=0)
    cols: int = field(init=False, default=0)
    cells: dict[int, np.ndarray] = field(init=False, default_factory=dict)

    @classmethod
    def build(cls, lats: Sequence[float], lons: Sequence[float]) -> PointIndex:
        return cls(np.asarray(lats, dtype=np.float64), np.asarray(lons, dtype=np.float64))

    def __post_init__(self) -> None:
        self.lats = np.radians(self.lats_deg)
        self.lons = np.radians(self.lons_deg)
        self.cos_lats = np.cos(self.lats)
        n = len(self.lats_deg)
        if n < SCAN_BELOW:
            return
        lat_min, lat_max = float(self.lats_deg.min()), float(self.lats_deg.max())
        lon_min, lon_max = float(self.lons_deg.min()), float(self.lons_deg.max())
        area = max((lat_max - lat_min) * (lon_max - lon_min), 1e-6)
        self.cell_deg = min(max(math.sqrt(area * POINTS_PER_CELL / n), 0.0005), 1.0)
        self.lat0, self.lon0 = lat_min, lon_min
        self.rows = int((lat_max - lat_min) / self.cell_deg) + 1
        self.cols = int((lon_max - lon_min) / self.cell_deg) + 1
        r = ((self.lats_deg - lat_min) / self.cell_deg).astype(np.int64)
        c = ((self.lons_deg - lon_min) / self.cell_deg).astype(np.int64)
        keys = r * self.cols + c
        order = np.argsort(keys, kind="stable")
        sorted_keys = keys[order]
        starts = np.flatnonzero(np.r_[True, sorted_keys[1:] != sorted_keys[:-1]])
        ends = np.r_[starts[1:], len(order)]
        self.cells = {int(sorted_keys[s]): order[s:e] for s, e in zip(starts, ends, strict=True)}

    def __len__(self) -> int:
        return len(self.lats_deg)

    # -- queries ----------------------------------------------------------------------------------

    def nearest(self, lat: float, lon: float, k: int, mask: np.ndarray | None = None) -> list[tuple[int, float]]:
        """The k nearest points (position in the arrays, distance in metres), nearest first.
        `mask` (bool per point) keeps only some points."""
        n = len(self.lats_deg)
        if k <= 0 or n == 0:
            return []
        if mask is not None and (not self.cells or np.count_nonzero(mask) < MASKED_SCAN_BELOW):
            return self._scan(lat, lon, k, np.flatnonzero(mask))
        if mask is None and not self.cells:
            return self._scan(lat, lon, k, None)
        return self._grid(lat, lon, k, mask)

    def _scan(self, lat: float, lon: float, k: int, subset: np.ndarray | None) -> list[tuple[int, float]]:
        if subset is None:
            d = _haversine_many(lat, lon, self.lats, self.lons, self.cos_lats)
            positions = None
        else:
            if len(subset) == 0:
                return []
            d = _haversine_many(lat, lon, self.lats[subset], self.lons[subset], self.cos_lats[subset])
            positions = subset
        return self._top(d, k, positions)

    @staticmethod
    def _top(d: np.ndarray, k: int, positions: np.ndarray | None) -> list[tuple[int, float]]:
        part = np.argpartition(d, k - 1)[:k] if len(d) > k else np.arange(len(d))
        part = part[np.lexsort((part if positions is None else positions[part], d[part]))]
        ids = part if positions is None else positions[part]
        return [(int(i), float(dist)) for i, dist in zip(ids, d[part], strict=True)]

    def _cell_of(self, lat: float, lon: float) -> tuple[int, int]:
        return math.floor((lat - self.lat0) / self.cell_deg), math.floor((lon - self.lon0) / self.cell_deg)

    def _gather(self, r0: int, r1: int, c0: int, c1: int) -> np.ndarray:
        """Positions of the points in cells rows r0..r1, cols c0..c1 (clipped to the grid)."""
        r0, r1 = max(r0, 0), min(r1, self.rows - 1)
        c0, c1 = max(c0, 0), min(c1, self.cols - 1)
        if r0 > r1 or c0 > c1:
            return np.empty(0, dtype=np.int64)
        if (r1 - r0 + 1) * (c1 - c0 + 1) > len(self.cells):
            # A wide window (a far or sparse query): cheaper to walk the occupied cells.
            parts = [v for key, v in self.cells.items() if r0 <= key // self.cols <= r1 and c0 <= key % self.cols <= c1]
        else:
            cells, cols = self.cells, self.cols
            parts = [
                cells[key] for r in range(r0, r1 + 1) for key in range(r * cols + c0, r * cols + c1 + 1) if key in cells
            ]
        if not parts:
            return np.empty(0, dtype=np.int64)
        return parts[0] if len(parts) == 1 else np.concatenate(parts)

    def _grid(self, lat: float, lon: float, k: int, mask: np.ndarray | None) -> list[tuple[int, float]]:
        n_total = len(self.lats_deg) if mask is None else int(np.count_nonzero(mask))
        k = min(k, n_total)
        if k == 0:
            return []
        r, c = self._cell_of(lat, lon)
        # 1. Grow a square of cells around the point until it holds k candidates.
        ring = 0
        max_ring = max(self.rows, self.cols) + abs(r) + abs(c)
        while True:
            cand = self._gather(r - ring, r + ring, c - ring, c + ring)
            if mask is not None and len(cand):
                cand = cand[mask[cand]]
            if len(cand) >= k or ring > max_ring:
                break
            ring = ring * 2 + 1
        d = _haversine_many(lat, lon, self.lats[cand], self.lons[cand], self.cos_lats[cand])
        kth = float(np.partition(d, k - 1)[k - 1])
        # 2. Every point nearer than the k-th candidate lies in the cap's bounding box: search it all.
        delta = kth / EARTH_RADIUS_M + 1e-9
        lat_span = math.degrees(delta)
        cos_lat = math.cos(math.radians(lat))
        if delta >= math.pi / 2 - abs(math.radians(lat)) or cos_lat <= 1e-9:
            return self._scan(lat, lon, k, None if mask is None else np.flatnonzero(mask))
        lon_span = math.degrees(math.asin(min(1.0, math.sin(delta) / cos_lat)))
        r0 = math.floor((lat - lat_span - self.lat0) / self.cell_deg)
        r1 = math.floor((lat + lat_span - self.lat0) / self.cell_deg)
        c0 = math.floor((lon - lon_span - self.lon0) / self.cell_deg)
        c1 = math.floor((lon + lon_span - self.lon0) / self.cell_deg)
        if not (r - ring <= r0 and r1 <= r + ring and c - ring <= c0 and c1 <= c + ring):
            cand = self._gather(r0, r1, c0, c1)
            if mask is not None and len(cand):
                cand = cand[mask[cand]]
            d = _haversine_many(lat, lon, self.lats[cand], self.lons[cand], self.cos_lats[cand])
        return self._top(d, k, cand)


# --- the city boundary ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Ring:
    lons: np.ndarray
    lats: np.ndarray
    bbox: tuple[float, float, float, float]  # lon_min, lat_min, lon_max, lat_max


@dataclass(frozen=True)
class Boundary:
    """A (multi)polygon in lon/lat: each polygon an outer ring and holes (GeoJSON order)."""

    polygons: tuple[tuple[Ring, ...], ...]
    bbox: tuple[float, float, float, float]

    @classmethod
    def from_geojson(cls, geometry: dict) -> Boundary:
        kind = geometry.get("type")
        coords = geometry.get("coordinates") or []
        polys = [coords] if kind == "Polygon" else coords if kind == "MultiPolygon" else None
        if polys is None:
            raise ValueError(f"boundary must be a Polygon or MultiPolygon, not {kind}")
        built: list[tuple[Ring, ...]] = []
        for poly in polys:
            rings = []
            for ring in poly:
                arr = np.asarray(ring, dtype=np.float64)
                rings.append(
                    Ring(arr[:, 0], arr[:, 1], (arr[:, 0].min(), arr[:, 1].min(), arr[:, 0].max(), arr[:, 1].max()))
                )
            if rings:
                built.append(tuple(rings))
        boxes = [p[0].bbox for p in built]
        bbox = (
            min(b[0] for b in boxes),
            min(b[1] for b in boxes),
            max(b[2] for b in boxes),
            max(b[3] for b in boxes),
        )
        return cls(tuple(built), bbox)

    def contains(self, lat: float, lon: float) -> bool:
        x0, y0, x1, y1 = self.bbox
        if not (x0 <= lon <= x1 and y0 <= lat <= y1):
            return False
        for poly in self.polygons:
            if _in_ring(poly[0], lon, lat) and not any(_in_ring(hole, lon, lat) for hole in poly[1:]):
                return True
        return False


def _in_ring(ring: Ring, x: float, y: float) -> bool:
    """Even-odd ray casting (vectorised over the ring's edges)."""
    x0, y0, x1, y1 = ring.bbox
    if not (x0 <= x <= x1 and y0 <= y <= y1):
        return False
    xs, ys = ring.lons, ring.lats
    xj, yj = np.roll(xs, 1), np.roll(ys, 1)
    crosses = (ys > y) != (yj > y)
    with np.errstate(divide="ignore", invalid="ignore"):
        x_at = (xj - xs) * (y - ys) / (yj - ys) + xs
    return bool(np.count_nonzero(crosses & (x < x_at)) % 2)
