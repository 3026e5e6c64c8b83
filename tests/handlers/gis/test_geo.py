"""The nearest-neighbour index against an independent brute-force haversine, and the boundary test."""

from __future__ import annotations

import json
import math
import random

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from handlers.gis import DATA_DIR
from handlers.gis.geo import SCAN_BELOW, PointIndex, haversine_m
from handlers.gis.service import places as place_service

R = 6_371_008.8


def reference_m(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Independent of the code under test: the spherical law of cosines via unit vectors."""
    a, b = math.radians(lat1), math.radians(lat2)
    la, lb = math.radians(lon1), math.radians(lon2)
    va = (math.cos(a) * math.cos(la), math.cos(a) * math.sin(la), math.sin(a))
    vb = (math.cos(b) * math.cos(lb), math.cos(b) * math.sin(lb), math.sin(b))
    cross = (
        va[1] * vb[2] - va[2] * vb[1],
        va[2] * vb[0] - va[0] * vb[2],
        va[0] * vb[1] - va[1] * vb[0],
    )
    dot = sum(x * y for x, y in zip(va, vb, strict=True))
    return R * math.atan2(math.sqrt(sum(c * c for c in cross)), dot)


def brute_force(points: list[tuple[float, float]], lat: float, lon: float, k: int, keep=None) -> list[float]:
    distances = sorted(reference_m(lat, lon, p[0], p[1]) for i, p in enumerate(points) if keep is None or keep[i])
    return distances[:k]


def test_haversine_matches_a_known_distance() -> None:
    # 岡山駅 to 瀬戸内市役所: about 16 km.
    assert haversine_m(34.6664, 133.9180, 34.6650, 134.0928) == pytest.approx(16_000, rel=0.01)
    assert haversine_m(34.0, 134.0, 34.0, 134.0) == 0.0


def _okayama_points(seed: int, n: int) -> list[tuple[float, float]]:
    rng = random.Random(seed)
    return [(rng.uniform(34.3, 35.35), rng.uniform(133.3, 134.4)) for _ in range(n)]


GRID_POINTS = _okayama_points(7, SCAN_BELOW * 3)  # big enough for the grid path
GRID_INDEX = PointIndex.build([p[0] for p in GRID_POINTS], [p[1] for p in GRID_POINTS])


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    lat=st.floats(33.0, 36.5),
    lon=st.floats(132.5, 135.5),
    k=st.integers(1, 25),
    masked=st.booleans(),
    seed=st.integers(0, 1000),
)
def test_grid_nearest_equals_brute_force_for_random_points(
    lat: float, lon: float, k: int, masked: bool, seed: int
) -> None:
    keep = None
    if masked:
        rng = np.random.default_rng(seed)
        keep = rng.random(len(GRID_POINTS)) < 0.4
    got = GRID_INDEX.nearest(lat, lon, k, keep)
    expected = brute_force(GRID_POINTS, lat, lon, k, keep)
    assert [d for _, d in got] == pytest.approx(expected, abs=1e-3)
    # The positions answered are really at those distances.
    for position, distance in got:
        p = GRID_POINTS[position]
        assert reference_m(lat, lon, p[0], p[1]) == pytest.approx(distance, abs=1e-3)
        if keep is not None:
            assert keep[position]


@settings(max_examples=100, deadline=None)
@given(
    points=st.lists(st.tuples(st.floats(34.5, 34.8), st.floats(133.9, 134.3)), min_size=1, max_size=60),
    lat=st.floats(34.4, 34.9),
    lon=st.floats(133.8, 134.4),
    k=st.integers(1, 8),
)
def test_small_layers_are_scanned_exactly(points: list[tuple[float, float]], lat: float, lon: float, k: int) -> None:
    index = PointIndex.build([p[0] for p in points], [p[1] for p in points])
    got = index.nearest(lat, lon, k)
    assert len(got) == min(k, len(points))
    assert [d for _, d in got] == pytest.approx(brute_force(points, lat, lon, k), abs=1e-3)


def test_an_empty_mask_or_index_answers_nothing() -> None:
    assert GRID_INDEX.nearest(34.6, 134.0, 5, np.zeros(len(GRID_POINTS), dtype=bool)) == []
    assert PointIndex.build([], []).nearest(34.6, 134.0, 5) == []


# --- the boundary -------------------------------------------------------------------------------


def _gsi_points(name: str) -> list[tuple[float, float]]:
    data = json.loads((DATA_DIR / name).read_text(encoding="utf-8"))
    return [(f["geometry"]["coordinates"][1], f["geometry"]["coordinates"][0]) for f in data["features"]]


def test_every_setouchi_site_and_town_point_is_inside_the_city() -> None:
    points = _gsi_points("setouchi_gsi_emergency_evacuation_sites_332127.geojson")
    points += _gsi_points("setouchi_gsi_designated_shelters_332127.geojson")
    points += list(place_service.towns().values())
    assert len(points) == 81 + 50 + 42
    assert all(place_service.in_city(lat, lon) for lat, lon in points)


@pytest.mark.parametrize(
    ("lat", "lon", "inside"),
    [
        (34.6650, 134.0928, True),  # 瀬戸内市役所
        (34.6664, 133.9180, False),  # 岡山駅（岡山市）
        (34.7470, 134.1890, False),  # 備前市役所の近く
        (34.5800, 134.1000, False),  # 瀬戸内海（沖合）
        (35.6812, 139.7671, False),  # 東京駅
    ],
)
def test_points_inside_and_outside_the_city(lat: float, lon: float, inside: bool) -> None:
    assert place_service.in_city(lat, lon) is inside


def test_neighbouring_cities_sites_are_outside() -> None:
    okayama = _gsi_points("neighbours/okayama_city_gsi_designated_shelters_331007.geojson")
    assert not any(place_service.in_city(lat, lon) for lat, lon in okayama)
