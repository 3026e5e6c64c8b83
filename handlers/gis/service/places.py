"""The city's boundary and its place names: is a point inside the city, and which 大字 or district
(邑久 / 牛窓 / 長船) does a citizen's text name. Read from the shipped files, once per process."""

from __future__ import annotations

import json
import unicodedata
from dataclasses import dataclass
from functools import cache

from handlers.gis import DATA_DIR
from handlers.gis.geo import Boundary

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
