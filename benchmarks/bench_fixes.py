"""Workload d: assigning GPS fixes to their zones (which zone, metres to it) beside geopandas.sjoin.

For each size, the fixes of ``generate_reports`` (85 % inside their zone, 12 % a few hundred metres
outside, 3 % far off) are assigned to the zones of ``generate_zones`` twice, in turns, ``--repeat``
times each:

- OneMap: ``geo.fixes.assign_fixes`` (shapely STRtree on the Mercator plane, geodesic metres);
- geopandas, as a user would write it: ``gpd.sjoin(points, zones, predicate="within")`` in
  EPSG:4326, then for the fixes outside every zone ``gpd.sjoin_nearest`` in the zones' UTM zone
  (``estimate_utm_crs``) with ``max_distance`` and ``distance_col``.

Both start from lon/lat arrays and the zones' geometries already in memory (a GeoDataFrame for
geopandas) and end with a zone and a distance per fix; ties (overlapping or equally near zones)
go to the zone given first on both sides. The check compares the two answers for every fix: the same
zone, and distances within ``0.05 m + 0.05 %`` (UTM's scale error here is below 0.04 %). Target:
OneMap ≤ 1.0× geopandas' time, measured in the same run on the same data.

    python benchmarks/bench_fixes.py --repeat 3
"""

from __future__ import annotations

import argparse
import sys
import time
from importlib.metadata import version
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE.parent), str(HERE)]

import geopandas as gpd  # noqa: E402
import numpy as np  # noqa: E402
import results  # noqa: E402
from generate import generate_zones  # noqa: E402
from generate_reports import generate_reports  # noqa: E402

from geo import fixes  # noqa: E402

SIZES = ("100000x1000", "100000x10000", "100000x100000", "1000000x10000", "1000000x100000")
RADIUS_M = 500.0
TOLERANCE_M, TOLERANCE_REL = 0.05, 5e-4
TARGET = 1.0


def onemap(lon, lat, zone_ids, zones, frame) -> tuple[np.ndarray, np.ndarray]:
    found = fixes.assign_fixes(lon, lat, zone_ids, zones, radius_m=RADIUS_M)
    return found.index, found.distance_m


def with_geopandas(lon, lat, zone_ids, zones, frame) -> tuple[np.ndarray, np.ndarray]:
    """(zone position or -1, metres) per fix, the geopandas way."""
    n = len(lon)
    points = gpd.GeoDataFrame(geometry=gpd.points_from_xy(lon, lat), crs="EPSG:4326")
    inside = gpd.sjoin(points, frame, predicate="within", how="inner")
    first = inside.groupby(level=0)["index_right"].min()  # overlapping zones: the first given
    zone, distance = np.full(n, -1), np.full(n, np.nan)
    zone[first.index.to_numpy()] = first.to_numpy()
    distance[first.index.to_numpy()] = 0.0
    rest = points.iloc[np.flatnonzero(zone < 0)]
    metric = frame.estimate_utm_crs()
    near = gpd.sjoin_nearest(rest.to_crs(metric), frame.to_crs(metric), max_distance=RADIUS_M,
                             distance_col="distance_m")
    near = near.rename_axis("fix").reset_index().sort_values(["fix", "index_right"])
    near = near.drop_duplicates("fix")  # equally near zones: the first given
    zone[near["fix"].to_numpy()] = near["index_right"].to_numpy()
    distance[near["fix"].to_numpy()] = near["distance_m"].to_numpy()
    return zone, distance


def compare(lon, lat, zones, ours, theirs) -> dict:
    """Fixes where the answers differ, and whether each difference is a tie within the tolerance."""
    (zone, metres), (their_zone, their_metres) = ours, theirs
    same = zone == their_zone
    both = same & (zone >= 0)
    gap = np.abs(metres[both] - their_metres[both])
    allowed = TOLERANCE_M + TOLERANCE_REL * metres[both]
    differ = np.flatnonzero(~same)
    # A differing zone is a tie when the two zones are equally near on the ground (within the tolerance),
    # or one side found none because the fix sits on the radius.
    ties = 0
    if differ.size:
        picked = np.where(their_zone[differ] >= 0, their_zone[differ], zone[differ])
        to_theirs = fixes.distances_m(lon[differ], lat[differ], zones, which=picked)
        reference = np.where(zone[differ] >= 0, metres[differ], RADIUS_M)
        ties = int((np.abs(to_theirs - reference) <= TOLERANCE_M + TOLERANCE_REL * reference).sum())
    return {"zone_mismatches": int(differ.size), "ties": ties, "real_mismatches": int(differ.size) - ties,
            "distance_mismatches": int((gap > allowed).sum()), "max_gap_m": float(gap.max(initial=0)),
            "max_gap_rel": float((gap / np.maximum(metres[both], 1)).max(initial=0))}


def run_case(n_fixes: int, n_zones: int, repeat: int) -> dict:
    zones = np.array([g for _, g, _ in generate_zones(n_zones)], dtype=object)
    reports = generate_reports(zones, n_fixes)
    lon, lat, ids = reports.lon, reports.lat, np.arange(1, n_zones + 1)
    frame = gpd.GeoDataFrame({"zone_id": ids}, geometry=zones, crs="EPSG:4326")
    times: dict[str, list[float]] = {"onemap": [], "geopandas": []}
    answers = {}
    for _ in range(repeat):
        for name, run in (("onemap", onemap), ("geopandas", with_geopandas)):
            started = time.perf_counter()
            answers[name] = run(lon, lat, ids, zones, frame)
            times[name].append(time.perf_counter() - started)
    zone, metres = answers["onemap"]
    medians = {name: float(np.median(t)) for name, t in times.items()}
    checked = compare(lon, lat, zones, answers["onemap"], answers["geopandas"])
    return {"fixes": n_fixes, "zones": n_zones, **{f"{k}_s": v for k, v in medians.items()},
            "ratio": medians["onemap"] / medians["geopandas"],
            "inside": float((metres == 0).mean()), "nearest": float((metres > 0).mean()),
            "none": float((zone < 0).mean()), **checked}


def section(rows: list[dict], info: dict, repeat: int, command: str) -> str:
    head = ("| fixes | zones | inside / nearest / none | OneMap s | geopandas s | ratio | target ≤ 1.0× "
            "| zone mismatches (ties) | distances beyond tolerance | max distance gap |\n"
            "| ---: | ---: | --- | ---: | ---: | ---: | --- | ---: | ---: | ---: |")
    lines = [f"| {r['fixes']:,} | {r['zones']:,} | {r['inside']:.1%} / {r['nearest']:.1%} / {r['none']:.1%} "
             f"| {r['onemap_s']:.2f} | {r['geopandas_s']:.2f} | {r['ratio']:.2f}× "
             f"| {'met' if r['ratio'] <= TARGET else 'missed'} | {r['zone_mismatches']} ({r['ties']}) "
             f"| {r['distance_mismatches']} | {r['max_gap_m'] * 100:.1f} cm ({r['max_gap_rel']:.1e}) |"
             for r in rows]
    met = all(r["ratio"] <= TARGET and r["real_mismatches"] == 0 for r in rows)
    return f"""## Assigning GPS fixes to zones (workload d)

Target: `geo.fixes.assign_fixes` ≤ 1.0× the time of `geopandas.sjoin` (points within polygons, EPSG:4326)
plus `sjoin_nearest` (UTM, `max_distance` {RADIUS_M:.0f} m, `distance_col`) for the fixes outside every
zone, on the same fixes and zones in the same run; both answers the same for every fix.
**{'Met' if met else 'Missed'}** at every size.

{results.machine_table(info)}

Fixes from `generate_reports` (85 % inside their zone, 12 % 30–400 m outside, 3 % 2–30 km off, plus
the phone's error), zones from `generate_zones` (which overlap: ties go to the zone given first on
both sides). Medians of {repeat} runs each, OneMap and geopandas taking turns; times include building
the points, projecting and the tree, as each tool needs them. A zone mismatch is a fix given different
zones; "ties" are those whose two zones are equally near within the tolerance, or that sit on the
radius. Distances compared where both chose the same zone; tolerance 5 cm + 0.05 % (UTM's scale
error across the area is below 0.04 %; OneMap's metres are geodesic).

{head}
{chr(10).join(lines)}

Rerun: `{command}`"""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--sizes", nargs="+", default=list(SIZES), help="FIXESxZONES (default %(default)s)")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--out", type=Path, default=HERE / "RESULTS.md")
    args = parser.parse_args(argv)
    info = results.machine()
    info["geopandas / pandas / pyproj / numpy"] = " / ".join(
        version(p) for p in ("geopandas", "pandas", "pyproj", "numpy"))
    rows = []
    for size in args.sizes:
        n_fixes, n_zones = (int(v) for v in size.split("x"))
        rows.append(run_case(n_fixes, n_zones, args.repeat))
        r = rows[-1]
        print(f"{n_fixes:>9,} fixes × {n_zones:>7,} zones: OneMap {r['onemap_s']:.2f} s, geopandas "
              f"{r['geopandas_s']:.2f} s, ratio {r['ratio']:.2f}; zone mismatches {r['zone_mismatches']} "
              f"({r['ties']} ties), distances beyond tolerance {r['distance_mismatches']}", flush=True)
    command = "python benchmarks/bench_fixes.py " + " ".join(argv if argv is not None else sys.argv[1:])
    results.write_section(args.out, "gps-fixes", section(rows, info, args.repeat, command.strip()))
    return 0 if all(r["ratio"] <= TARGET and r["real_mismatches"] == 0 for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
