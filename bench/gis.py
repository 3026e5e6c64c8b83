"""Nearest-N latency of the GIS index with 10,000 and 100,000 synthetic points spread over 岡山県.

    python3 bench/gis.py                 # 10k and 100k, 5 nearest, 20,000 queries each
    python3 bench/gis.py --sizes 100000 --queries 50000 --k 10 --no-db

For each size: index build time; then p50/p99 of
- `index`: PointIndex.nearest (the grid + haversine core),
- `index+hazard`: the same with a hazard mask (40% of points designated),
- `brute`: a plain numpy haversine over every point + argpartition (the baseline),
- `service`: handlers.gis.service.search.nearest on a temporary SQLite database (the layer-version check
  query, the warm in-memory index and building the answer), unless --no-db.
Every index answer is checked against the brute force on the first 500 queries.
"""

from __future__ import annotations

import argparse
import gc
import json
import math
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

# 岡山県, roughly: where the synthetic points and the queries fall.
LAT = (34.30, 35.35)
LON = (133.27, 134.42)
R = 6_371_008.8


def _percentile(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def _points(n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Half uniform over the prefecture, half clustered around towns (as real facilities are)."""
    half = n // 2
    lats = [rng.uniform(*LAT, half)]
    lons = [rng.uniform(*LON, half)]
    centres = rng.uniform((LAT[0], LON[0]), (LAT[1], LON[1]), size=(60, 2))
    pick = rng.integers(0, len(centres), n - half)
    lats.append(centres[pick, 0] + rng.normal(0, 0.03, n - half))
    lons.append(centres[pick, 1] + rng.normal(0, 0.03, n - half))
    return np.clip(np.concatenate(lats), *LAT), np.clip(np.concatenate(lons), *LON)


def _brute(lats_r: np.ndarray, lons_r: np.ndarray, lat: float, lon: float, k: int) -> np.ndarray:
    p, q = math.radians(lat), math.radians(lon)
    a = np.sin((lats_r - p) / 2) ** 2 + math.cos(p) * np.cos(lats_r) * np.sin((lons_r - q) / 2) ** 2
    d = 2 * R * np.arcsin(np.sqrt(np.minimum(a, 1.0)))
    part = np.argpartition(d, k - 1)[:k]
    return np.sort(d[part])


def _time(fn: Any, queries: np.ndarray) -> list[float]:
    for lat, lon in queries[:200]:  # warm-up
        fn(float(lat), float(lon))
    samples = []
    gc.disable()
    try:
        for lat, lon in queries:
            start = time.perf_counter()
            fn(float(lat), float(lon))
            samples.append(time.perf_counter() - start)
    finally:
        gc.enable()
    return samples


def _summary(samples: list[float]) -> dict[str, float]:
    return {
        "p50_us": round(_percentile(samples, 0.50) * 1e6, 1),
        "p99_us": round(_percentile(samples, 0.99) * 1e6, 1),
        "mean_us": round(sum(samples) / len(samples) * 1e6, 1),
    }


def _service_db(lats: np.ndarray, lons: np.ndarray, hazard_mask: np.ndarray) -> tuple[Any, Any]:
    from bot.db import Database
    from bot.migrate import upgrade
    from handlers.gis.models import LayerMeta, PlaceCreate, PlaceKind
    from handlers.gis.service import layers as layer_service
    from handlers.gis.service import search as search_service

    url = f"sqlite:///{tempfile.mkdtemp(prefix='madoguchi-bench-gis-')}/bench.db"
    upgrade(url)
    db = Database(url)
    places = [
        PlaceCreate(name=f"地点{i}", lat=float(a), lon=float(o), hazards=["tsunami"] if h else [])
        for i, (a, o, h) in enumerate(zip(lats, lons, hazard_mask, strict=True))
    ]
    meta = LayerMeta(key="bench", kind=PlaceKind.EMERGENCY_SITE, title="bench", is_sample=True)
    with db.session() as db_session:
        layer_service.replace_places(db_session=db_session, layer_in=meta, places=places)
    return db, search_service


def run(sizes: list[int], queries_n: int, k: int, with_db: bool, seed: int) -> dict[str, Any]:
    from handlers.gis.geo import PointIndex
    from handlers.gis.models import Hazard, PlaceKind

    rng = np.random.default_rng(seed)
    results: dict[str, Any] = {"k": k, "queries": queries_n, "sizes": {}}
    for n in sizes:
        lats, lons = _points(n, rng)
        hazard_mask = rng.random(n) < 0.4
        queries = np.column_stack([rng.uniform(*LAT, queries_n), rng.uniform(*LON, queries_n)])
        start = time.perf_counter()
        index = PointIndex.build(lats, lons)
        build_ms = (time.perf_counter() - start) * 1000
        lats_r, lons_r = np.radians(lats), np.radians(lons)
        # Correctness first: the index agrees with the brute force.
        for lat, lon in queries[:500]:
            got = [d for _, d in index.nearest(float(lat), float(lon), k)]
            expected = _brute(lats_r, lons_r, float(lat), float(lon), k)
            assert np.allclose(got, expected, atol=1e-3), (lat, lon)
        row: dict[str, Any] = {"build_ms": round(build_ms, 1), "cells": len(index.cells)}
        row["index"] = _summary(_time(lambda a, o, ix=index: ix.nearest(a, o, k), queries))
        row["index+hazard"] = _summary(_time(lambda a, o, ix=index, m=hazard_mask: ix.nearest(a, o, k, m), queries))
        brute_queries = queries[: max(500, queries_n // 10)]
        row["brute"] = _summary(_time(lambda a, o, la=lats_r, lo=lons_r: _brute(la, lo, a, o, k), brute_queries))
        if with_db:
            db, search_service = _service_db(lats, lons, hazard_mask)
            try:
                with db.session() as db_session:
                    start = time.perf_counter()
                    search_service.nearest(db_session=db_session, lat=34.6, lon=134.0, kind=PlaceKind.EMERGENCY_SITE)
                    row["service_first_query_ms"] = round((time.perf_counter() - start) * 1000, 1)

                    def via_service(a: float, o: float, service: Any = search_service) -> None:
                        service.nearest(
                            db_session=db_session,
                            lat=a,
                            lon=o,
                            kind=PlaceKind.EMERGENCY_SITE,
                            hazard=Hazard.TSUNAMI,
                            limit=k,
                        )

                    row["service"] = _summary(_time(via_service, queries[: max(1000, queries_n // 10)]))
            finally:
                db.dispose()
        results["sizes"][str(n)] = row
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--queries", type=int, default=20_000)
    parser.add_argument("--k", type=int, default=5)
    parser.add_argument("--seed", type=int, default=20261124)
    parser.add_argument("--no-db", action="store_true", help="skip the service-on-SQLite measurement")
    parser.add_argument("--json", action="store_true", help="print only the JSON result")
    args = parser.parse_args()
    results = run(args.sizes, args.queries, args.k, not args.no_db, args.seed)
    if args.json:
        print(json.dumps(results))
        return
    print(f"nearest-{args.k} over synthetic points in 岡山県, {args.queries} random queries (times in µs)")
    print(f"{'points':>8} {'build':>9} {'what':<13} {'p50':>8} {'p99':>8} {'mean':>8}")
    for n, row in results["sizes"].items():
        first = True
        for what in ("index", "index+hazard", "brute", "service"):
            if what not in row:
                continue
            s = row[what]
            build = f"{row['build_ms']}ms" if first else ""
            print(f"{n if first else '':>8} {build:>9} {what:<13} {s['p50_us']:>8} {s['p99_us']:>8} {s['mean_us']:>8}")
            first = False
    print(json.dumps(results))


if __name__ == "__main__":
    main()
