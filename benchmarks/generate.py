"""Deterministic, Jinzhou-like village sanitation zones for benchmarks.

Zones sit on a jittered grid inside a square "dense area" centred near Heishan
County (Liaoning), sized so that a 0.2° × 0.2° view holds about ``per_view``
zones whatever ``n`` is: 100,000 zones fill a 2° × 2° box, 10,000 a 0.63° box.
Each outline is a star-shaped ring of 36–44 vertices (always a valid polygon),
radius 300–900 m with smooth wobble, counter-clockwise as RFC 7946 wants, and
rounded to 6 decimals like the shipped dataset. At this density neighbouring
zones overlap (real villages are sparser); that only makes the geometry larger
than real, so the measurement errs on the pessimistic side. Attributes follow
data/layers/sanitation_zones.yaml.
"""

from __future__ import annotations

import math
from collections.abc import Iterator

import numpy as np
import shapely

VIEW_DEG = 0.2
CENTRE = (121.9, 41.5)  # lon, lat: between Jinzhou city and Heishan County
M_PER_DEG_LAT = 110_574.0
M_PER_DEG_LON_EQ = 111_320.0

TOWNSHIPS = ("黑山街道", "大虎山街道", "八道壕镇", "四家子镇", "芳山镇", "姜屯镇", "常兴镇", "镇安乡",
             "段家乡", "白厂门镇", "新立屯镇", "励家镇", "胡家镇", "半拉门镇", "小东镇", "无梁殿镇")
SURNAMES = "王李张刘陈杨赵黄周吴徐孙马朱胡郭何高林罗郑梁谢宋唐韩冯于董萧程曹袁邓许傅沈曾彭吕苏卢蒋蔡贾丁"
SUFFIXES = ("家村", "家窝堡村", "家屯村", "家店村", "家沟村", "家台村", "堡子村", "家岗村", "家营子村",
            "家洼村")


def dense_box(n: int, per_view: int = 1000, centre: tuple[float, float] = CENTRE) -> tuple[float, ...]:
    """(minx, miny, maxx, maxy) of the square holding ``n`` zones at ``per_view`` per 0.2° view."""
    side = VIEW_DEG * math.sqrt(n / per_view)
    lon, lat = centre
    return lon - side / 2, lat - side / 2, lon + side / 2, lat + side / 2


def _outlines(centres: np.ndarray, rng: np.random.Generator) -> list:
    """Star-shaped polygons around ``centres`` (n × 2 lon/lat)."""
    n = len(centres)
    counts = rng.integers(36, 45, size=n)
    radius = np.exp(rng.uniform(math.log(300), math.log(900), size=n))  # metres
    phases = rng.uniform(0, 2 * math.pi, size=(n, 3))
    amplitudes = rng.uniform(0.03, 0.12, size=(n, 3))
    polygons = []
    for count in np.unique(counts):
        rows = np.nonzero(counts == count)[0]
        m = len(rows)
        steps = 2 * math.pi / count
        angles = np.arange(count) * steps + rng.uniform(-0.35, 0.35, size=(m, count)) * steps
        wobble = 1 + sum(amplitudes[rows, k, None] * np.sin((k + 2) * angles + phases[rows, k, None])
                         for k in range(3))
        r = radius[rows, None] * wobble * rng.uniform(0.95, 1.05, size=(m, count))
        lat = centres[rows, 1, None]
        dx = r * np.cos(angles) / (M_PER_DEG_LON_EQ * np.cos(np.radians(lat)))
        dy = r * np.sin(angles) / M_PER_DEG_LAT
        ring = np.stack([centres[rows, 0, None] + dx, lat + dy], axis=-1).round(6)
        ring = np.concatenate([ring, ring[:, :1]], axis=1)  # close each ring
        polygons.extend(zip(rows, shapely.polygons(ring), strict=True))
    polygons.sort(key=lambda pair: pair[0])
    return [polygon for _, polygon in polygons]


def generate_zones(n: int, seed: int = 20240603, per_view: int = 1000,
                   centre: tuple[float, float] = CENTRE) -> Iterator[tuple[str, object, dict]]:
    """Yield ``n`` zones as (name, shapely Polygon, attributes), the same for the same seed."""
    rng = np.random.default_rng(seed)
    minx, miny, maxx, maxy = dense_box(n, per_view, centre)
    cols = math.ceil(math.sqrt(n))
    rows = math.ceil(n / cols)
    cell_x, cell_y = (maxx - minx) / cols, (maxy - miny) / rows
    index = np.arange(n)
    jitter = rng.uniform(-0.35, 0.35, size=(n, 2))
    centres = np.column_stack([minx + (index % cols + 0.5 + jitter[:, 0]) * cell_x,
                               miny + (index // cols + 0.5 + jitter[:, 1]) * cell_y])
    polygons = _outlines(centres, rng)
    # A township covers a block of about 0.1° × 0.1° (some 250 villages at the default density).
    block = ((centres[:, 0] - minx) // 0.1).astype(int) * 1000 + ((centres[:, 1] - miny) // 0.1).astype(int)
    households = rng.integers(80, 1300, size=n)
    key = rng.random(n) < 0.10
    beautiful = rng.random(n) < 0.08
    surname = rng.integers(0, len(SURNAMES), size=n)
    suffix = rng.integers(0, len(SUFFIXES), size=n)
    for i in range(n):
        township = TOWNSHIPS[block[i] % len(TOWNSHIPS)]
        name = f"{SURNAMES[surname[i]]}{SUFFIXES[suffix[i]]}"
        attributes = {
            "township": township,
            "key_village": bool(key[i]),
            "beautiful_village": bool(beautiful[i]),
            "households": int(households[i]),
            "street_chief": f"街长（示意）{i + 1:06d}",
            "street_chiefs_count": max(1, int(households[i]) // 15),
        }
        yield name, polygons[i], attributes


if __name__ == "__main__":
    import time

    started = time.perf_counter()
    zones = list(generate_zones(100_000))
    print(f"{len(zones)} zones in {time.perf_counter() - started:.1f} s; box {dense_box(len(zones))}")
    view = shapely.box(CENTRE[0] - 0.1, CENTRE[1] - 0.1, CENTRE[0] + 0.1, CENTRE[1] + 0.1)
    geoms = np.array([g for _, g, _ in zones], dtype=object)
    print("zones in the central 0.2° view:", int(shapely.intersects(geoms, view).sum()))
    print("all valid:", bool(shapely.is_valid(geoms).all()), "vertices/zone:",
          shapely.get_num_coordinates(geoms).mean())
