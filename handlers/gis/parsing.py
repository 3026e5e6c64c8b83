"""Reading a layer file (GeoJSON or CSV) into places, refusing it whole with the line and the reason
for every problem. Nothing here touches the database: the service imports only what passed.

GeoJSON: a FeatureCollection (or one Feature) of Point features; GSI's 指定緊急避難場所・指定避難所
files are read as they are (施設・場所名, 住所, 共通ID, one column per hazard). CSV: a header row with
at least a name and coordinates (name/名称, lat/緯度, lon/lng/経度); optional id, address/住所,
hazards (codes or 洪水・津波 …, separated by ; ・ 、 or spaces); other columns are kept as properties
(phone, hours, type …). UTF-8 (with or without BOM) or Shift_JIS (Excel).
"""

from __future__ import annotations

import csv
import io
import json
import math
import re
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from handlers.gis.models import GSI_HAZARD_COLUMNS, HAZARD_LABELS, Hazard, PlaceCreate

MAX_PLACES = 200_000
MAX_ERRORS_SHOWN = 20
# Japan, generously: a point outside is a mistake (often latitude and longitude swapped).
JAPAN = (20.0, 46.5, 122.0, 154.0)  # lat_min, lat_max, lon_min, lon_max

NAME_KEYS = ("施設・場所名", "name", "名称", "施設名")
ADDRESS_KEYS = ("住所", "address", "所在地")
ID_KEYS = ("共通ID", "id", "ID", "番号")
LAT_KEYS = ("lat", "latitude", "緯度")
LON_KEYS = ("lon", "lng", "longitude", "経度")
HAZARD_KEYS = ("hazards", "災害種別")
# Hazards by code or by the words people write.
HAZARD_WORDS: dict[str, Hazard] = {
    **{h.value: h for h in Hazard},
    **{label: h for h, label in HAZARD_LABELS.items()},
    **dict(GSI_HAZARD_COLUMNS.items()),
    "崖崩れ": Hazard.LANDSLIDE,
    "土石流": Hazard.LANDSLIDE,
    "地滑り": Hazard.LANDSLIDE,
    "火事": Hazard.FIRE,
}
_SPLIT = re.compile(r"[;；,、・/\s]+")


@dataclass(frozen=True)
class Problem:
    line: int | None
    reason: str

    def __str__(self) -> str:
        return f"{self.line}行目: {self.reason}" if self.line else self.reason


class LayerFileError(Exception):
    """The file was refused; `problems` says where and why (the layer in the database is untouched)."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        shown = "; ".join(str(p) for p in problems[:MAX_ERRORS_SHOWN])
        more = f" ほか{len(problems) - MAX_ERRORS_SHOWN}件" if len(problems) > MAX_ERRORS_SHOWN else ""
        super().__init__(shown + more)


def parse_layer_file(content: bytes, filename: str) -> list[PlaceCreate]:
    """All the places in the file, or LayerFileError listing every problem found."""
    text = _decode(content)
    stripped = text.lstrip()
    lower = filename.lower()
    if lower.endswith((".geojson", ".json")) or (not lower.endswith(".csv") and stripped.startswith("{")):
        places = _parse_geojson(text)
    else:
        places = _parse_csv(text)
    if not places:
        raise LayerFileError([Problem(None, "場所が1件もありません。")])
    if len(places) > MAX_PLACES:
        raise LayerFileError([Problem(None, f"場所が多すぎます（{len(places)}件、上限{MAX_PLACES}件）。")])
    return places


def _decode(content: bytes) -> str:
    for encoding in ("utf-8-sig", "cp932"):
        try:
            return content.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise LayerFileError([Problem(None, "文字コードを読めません（UTF-8 か Shift_JIS で保存してください）。")])


def _first(props: dict[str, Any], keys: tuple[str, ...]) -> Any:
    for key in keys:
        if key in props and props[key] not in (None, ""):
            return props[key]
    return None


def _coordinate(value: Any, label: str, low: float, high: float, problems: list[str]) -> float | None:
    try:
        number = float(value)
    except (TypeError, ValueError):
        problems.append(f"{label}が数値ではありません（{str(value)[:30]!r}）。")
        return None
    if not math.isfinite(number):
        problems.append(f"{label}が数値ではありません。")
        return None
    if not low <= number <= high:
        problems.append(f"{label} {number} が日本の範囲外です（緯度と経度が逆かもしれません）。")
        return None
    return number


def _hazards(value: Any, problems: list[str]) -> list[Hazard]:
    if value in (None, ""):
        return []
    words = value if isinstance(value, list) else _SPLIT.split(str(value))
    found: list[Hazard] = []
    for word in (str(w).strip() for w in words):
        if not word:
            continue
        hazard = HAZARD_WORDS.get(word)
        if hazard is None:
            problems.append(f"災害の種別「{word[:20]}」がわかりません（例：津波、洪水、tsunami）。")
        elif hazard not in found:
            found.append(hazard)
    return found


def _place(props: dict[str, Any], lat: Any, lon: Any, line: int, extra_problems: list[str]) -> PlaceCreate | Problem:
    problems = list(extra_problems)
    name = _first(props, NAME_KEYS)
    if name is None or not str(name).strip():
        problems.append("名称（name または 施設・場所名）がありません。")
    la = _coordinate(lat, "緯度", JAPAN[0], JAPAN[1], problems)
    lo = _coordinate(lon, "経度", JAPAN[2], JAPAN[3], problems)
    hazards = _hazards(_first(props, HAZARD_KEYS), problems)
    for column, hazard in GSI_HAZARD_COLUMNS.items():
        if str(props.get(column) or "").strip() == "1" and hazard not in hazards:
            hazards.append(hazard)
    if problems or la is None or lo is None:
        return Problem(line, " ".join(problems))
    ext_id = str(_first(props, ID_KEYS) or "").strip()
    # GSI's 共通ID ends in three type digits; the rest names the facility (shared by both files).
    facility_key = str(props.get("facility_key") or "").strip()
    if not facility_key and re.fullmatch(r"E\d{13}", ext_id):
        facility_key = ext_id[:-3]
    skip = {*NAME_KEYS, *ADDRESS_KEYS, *ID_KEYS, *LAT_KEYS, *LON_KEYS, *HAZARD_KEYS, *GSI_HAZARD_COLUMNS}
    kept = {str(k): v for k, v in props.items() if k not in skip and v not in (None, "")}
    try:
        return PlaceCreate(
            ext_id=ext_id[:64],
            facility_key=facility_key[:64],
            name=str(name).strip()[:200],
            address=str(_first(props, ADDRESS_KEYS) or "").strip()[:300],
            lat=la,
            lon=lo,
            hazards=hazards,
            properties=kept,
        )
    except ValidationError as exc:
        return Problem(line, "; ".join(str(e["msg"]) for e in exc.errors()))


def _collect(results: list[PlaceCreate | Problem]) -> list[PlaceCreate]:
    problems = [r for r in results if isinstance(r, Problem)]
    places = [r for r in results if isinstance(r, PlaceCreate)]
    seen: dict[str, int] = {}
    for index, place in enumerate(places):
        if place.ext_id:
            if place.ext_id in seen:
                problems.append(Problem(None, f"ID「{place.ext_id}」が重複しています（{place.name}）。"))
            seen[place.ext_id] = index
    if problems:
        raise LayerFileError(problems)
    return places


# GeoJSON ---------------------------------------------------------------------------------------

_FEATURE_START = re.compile(r'"type"\s*:\s*"Feature"')


def _parse_geojson(text: str) -> list[PlaceCreate]:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise LayerFileError([Problem(exc.lineno, f"JSONとして読めません（{exc.msg}）。")]) from None
    if isinstance(data, dict) and data.get("type") == "Feature":
        features = [data]
    elif isinstance(data, dict) and data.get("type") == "FeatureCollection" and isinstance(data.get("features"), list):
        features = data["features"]
    else:
        raise LayerFileError([Problem(1, "GeoJSON の FeatureCollection ではありません。")])
    # Where each feature starts, for "N行目" (features written in order, each with "type": "Feature").
    starts = [text.count("\n", 0, m.start()) + 1 for m in _FEATURE_START.finditer(text)]
    lines = starts if len(starts) == len(features) else [None] * len(features)
    results: list[PlaceCreate | Problem] = []
    for number, (feature, line) in enumerate(zip(features, lines, strict=True), start=1):
        where = line or number
        if not isinstance(feature, dict):
            results.append(Problem(where, f"{number}件目が地物（Feature）ではありません。"))
            continue
        geometry = feature.get("geometry") or {}
        props = feature.get("properties") or {}
        if not isinstance(props, dict):
            props = {}
        coords = geometry.get("coordinates") if isinstance(geometry, dict) else None
        if not isinstance(geometry, dict) or geometry.get("type") != "Point":
            kind = geometry.get("type") if isinstance(geometry, dict) else None
            results.append(Problem(where, f"{number}件目: 点（Point）ではありません（{kind}）。"))
            continue
        if not isinstance(coords, list) or len(coords) < 2:
            results.append(Problem(where, f"{number}件目: 座標がありません。"))
            continue
        results.append(_place(props, coords[1], coords[0], where, []))
    return _collect(results)


# CSV -------------------------------------------------------------------------------------------


def _parse_csv(text: str) -> list[PlaceCreate]:
    reader = csv.reader(io.StringIO(text))
    try:
        header = [h.strip() for h in next(reader)]
    except StopIteration:
        raise LayerFileError([Problem(None, "ファイルが空です。")]) from None
    except csv.Error as exc:
        raise LayerFileError([Problem(1, f"CSVとして読めません（{exc}）。")]) from None
    lowered = [h.lower() for h in header]
    missing = []
    if not any(k.lower() in lowered for k in NAME_KEYS):
        missing.append("name（名称）")
    if not any(k.lower() in lowered for k in LAT_KEYS):
        missing.append("lat（緯度）")
    if not any(k.lower() in lowered for k in LON_KEYS):
        missing.append("lon（経度）")
    if missing:
        raise LayerFileError([Problem(1, f"見出し行に {'・'.join(missing)} の列がありません。")])
    canonical = {k.lower(): k for k in (*NAME_KEYS, *ADDRESS_KEYS, *ID_KEYS, *LAT_KEYS, *LON_KEYS, *HAZARD_KEYS)}
    keys = [canonical.get(h.lower(), h) for h in header]
    results: list[PlaceCreate | Problem] = []
    try:
        for row in reader:
            line = reader.line_num
            if not any(cell.strip() for cell in row):
                continue
            problems = []
            if len(row) != len(keys):
                problems.append(f"列の数が見出しと違います（{len(row)}列、見出しは{len(keys)}列）。")
            props = {k: v.strip() for k, v in zip(keys, row, strict=False)}
            results.append(_place(props, _first(props, LAT_KEYS), _first(props, LON_KEYS), line, problems))
    except csv.Error as exc:
        results.append(Problem(reader.line_num, f"CSVとして読めません（{exc}）。"))
    return _collect(results)
