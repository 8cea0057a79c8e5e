"""Deterministic, Jinzhou-like inspection reports for the zones of ``generate.generate_zones``, and a
bulk loader into a benchmark instance.

``generate_reports(zones, n, seed=…)`` returns the reports as columns (numpy arrays), so 1,000,000
of them fit in a few hundred MB; ``Reports.rows`` turns a slice into the row dicts the reports table
takes. Like phones in a muddy field: most GPS fixes lie inside the zone (with the phone's error),
some a few hundred metres outside it (filed from the road or the next village), a few far off
(a stale fix, a report filed back in the office). Each zone's reports are spread over a year of
daytime visits; a few zones were never inspected, and busy zones get many more reports than quiet
ones. Checklist answers are mostly "pass" (a failed item now and then, with a comment), metrics follow
data/layers/sanitation_zones.yaml, and the review states mix approved, pending (mostly the recent
ones) and rejected.

    python benchmarks/generate_reports.py 100000   # checks n reports on 10,000 zones
"""

from __future__ import annotations

import hashlib
import math
import sys
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import shapely

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE.parent), str(HERE)]

from generate import M_PER_DEG_LAT, M_PER_DEG_LON_EQ  # noqa: E402

CHECKLIST = ("swept_clean", "neatly_stacked", "ditches_cleared", "waste_converted")
ANSWERS = ("pass", "fail", "na")
REVIEWS = ("pending", "approved", "rejected")
PLACES = ("inside", "near", "far")  # where the fix was taken, relative to the zone
START = datetime(2024, 6, 1, tzinfo=UTC)
DAYS = 365
COMMENTS = {"swept_clean": "村道有散落垃圾", "neatly_stacked": "柴草堆放杂乱",
            "ditches_cleared": "沟渠有积水淤泥", "waste_converted": "垃圾未及时转运"}
NOTES = ("巡查正常", "已督促整改", "沟渠清理完毕，垃圾已转运", "雨后路面泥泞", "")


@dataclass(frozen=True)
class Reports:
    """n generated reports as columns; ``zone`` is the position of the report's zone in the zones given."""

    zone: np.ndarray  # int
    lon: np.ndarray
    lat: np.ndarray
    accuracy: np.ndarray  # metres, as the phone reports it
    place: np.ndarray  # index into PLACES
    observed_s: np.ndarray  # seconds after START
    delay_s: np.ndarray  # seconds from observation to reception (offline queues)
    answers: np.ndarray  # n × len(CHECKLIST), index into ANSWERS
    metrics: np.ndarray  # n × 5: person_times, vehicle_trips, garbage_tonnes, flowers_m2, seedlings
    review: np.ndarray  # index into REVIEWS
    uuids: np.ndarray  # n × 16 bytes
    note: np.ndarray  # index into NOTES

    def __len__(self) -> int:
        return len(self.zone)

    def observed_at(self, i: int) -> datetime:
        return START + timedelta(seconds=int(self.observed_s[i]))

    def checklist(self, i: int) -> dict:
        """The checklist as stored: {item: answer}, plus {"comments": {item: text}} on failed items."""
        answers = {item: ANSWERS[a] for item, a in zip(CHECKLIST, self.answers[i], strict=True)}
        comments = {item: COMMENTS[item] for item, a in answers.items() if a == "fail"}
        return answers | {"comments": comments} if comments else answers

    def rows(self, start: int, stop: int, site_ids: np.ndarray, user_id: int, *,
             distances: np.ndarray | None = None, geofence_m: float = 300.0) -> Iterator[dict]:
        """Reports ``start`` … ``stop - 1`` as rows of the reports table; ``site_ids[zone]`` is a zone's
        site, ``distances`` the metres from each fix to its site (``geo.fixes.distances_m``)."""
        from geo.checks import report_flags

        for i in range(start, stop):
            observed = self.observed_at(i)
            distance = None if distances is None else float(distances[i])
            flags = [] if distance is None else report_flags(distance, geofence_m)
            review = REVIEWS[self.review[i]]
            key = uuid.UUID(bytes=self.uuids[i].tobytes(), version=4)
            person, vehicles, tonnes, flowers, seedlings = self.metrics[i]
            yield {
                "uuid": str(key), "site_id": int(site_ids[self.zone[i]]), "user_id": user_id,
                "checklist": self.checklist(i),
                "metrics": {"person_times": int(person), "vehicle_trips": int(vehicles),
                            "garbage_tonnes": round(float(tonnes), 2), "flowers_m2": int(flowers),
                            "seedlings": int(seedlings)},
                "note": NOTES[self.note[i]], "gps_lat": round(float(self.lat[i]), 7),
                "gps_lon": round(float(self.lon[i]), 7), "gps_accuracy": round(float(self.accuracy[i]), 1),
                "distance_m": distance, "flags": flags,
                "observed_at": observed, "received_at": observed + timedelta(seconds=int(self.delay_s[i])),
                "content_hash": hashlib.sha256(key.bytes).hexdigest(), "review_status": review,
                "reviewed_at": None if review == "pending" else observed + timedelta(days=2),
                "review_comment": "照片与现场不符" if review == "rejected" else None,
            }


def _zone_of_each(n_zones: int, n: int, rng: np.random.Generator) -> np.ndarray:
    """Which zone each report is for: 3 % of zones never inspected, the others lognormally busy."""
    weight = rng.lognormal(0.0, 0.6, size=n_zones)
    weight[rng.random(n_zones) < 0.03] = 0.0
    if not weight.any():
        weight[:] = 1.0
    return np.sort(rng.choice(n_zones, size=n, p=weight / weight.sum()))


def _metres_to_degrees(lat: np.ndarray, east_m: np.ndarray, north_m: np.ndarray) -> tuple[np.ndarray, ...]:
    return east_m / (M_PER_DEG_LON_EQ * np.cos(np.radians(lat))), north_m / M_PER_DEG_LAT


def _inside(polygons: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A uniformly random point inside each polygon (rejection from its box), n × 2 lon/lat."""
    bounds = shapely.bounds(polygons)
    xy = np.empty((len(polygons), 2))
    todo = np.arange(len(polygons))
    while todo.size:
        box = bounds[todo]
        x = rng.uniform(box[:, 0], box[:, 2])
        y = rng.uniform(box[:, 1], box[:, 3])
        hit = shapely.contains_xy(polygons[todo], x, y)
        xy[todo[hit]] = np.column_stack([x[hit], y[hit]])
        todo = todo[~hit]
    return xy


def _near(polygons: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A point 30–400 m outside each polygon, straight out from its centre through a random edge point."""
    edge = shapely.get_coordinates(shapely.line_interpolate_point(
        shapely.get_exterior_ring(polygons), rng.random(len(polygons)), normalized=True))
    centre = shapely.get_coordinates(shapely.centroid(polygons))
    east_m, north_m = _to_metres(edge - centre, centre[:, 1])
    length = np.hypot(east_m, north_m)
    out = rng.uniform(30, 400, size=len(polygons)) / np.maximum(length, 1.0)
    dlon, dlat = _metres_to_degrees(edge[:, 1], east_m * out, north_m * out)
    return edge + np.column_stack([dlon, dlat])


def _to_metres(dxy: np.ndarray, lat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    return dxy[:, 0] * M_PER_DEG_LON_EQ * np.cos(np.radians(lat)), dxy[:, 1] * M_PER_DEG_LAT


def _far(polygons: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A point 2–30 km away from each polygon's centre, in any direction."""
    centre = shapely.get_coordinates(shapely.centroid(polygons))
    angle = rng.uniform(0, 2 * math.pi, size=len(polygons))
    metres = rng.uniform(2_000, 30_000, size=len(polygons))
    dlon, dlat = _metres_to_degrees(centre[:, 1], metres * np.cos(angle), metres * np.sin(angle))
    return centre + np.column_stack([dlon, dlat])


def _fixes(polygons: np.ndarray, zone: np.ndarray, rng: np.random.Generator):
    """(lon, lat, accuracy, place) of each report's GPS fix: 85 % inside, 12 % near, 3 % far off."""
    n = len(zone)
    place = rng.choice(len(PLACES), size=n, p=[0.85, 0.12, 0.03])
    xy = np.empty((n, 2))
    for code, draw in enumerate((_inside, _near, _far)):
        rows = np.flatnonzero(place == code)
        if rows.size:
            xy[rows] = draw(polygons[zone[rows]], rng)
    # The phone's own error: accuracy 3–60 m (lognormal), the fix off by about half of it.
    accuracy = np.clip(rng.lognormal(math.log(8), 0.6, size=n), 3, 60)
    error = rng.normal(0, 0.5, size=(n, 2)) * accuracy[:, None]
    dlon, dlat = _metres_to_degrees(xy[:, 1], error[:, 0], error[:, 1])
    return (xy[:, 0] + dlon).round(7), (xy[:, 1] + dlat).round(7), accuracy, place


def _times(zone: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Observation (seconds after START: a day of the year, 07:00–18:00 Beijing time) and reception delay
    (a minute mostly; hours to days when the phone was offline)."""
    n = len(zone)
    day = rng.integers(0, DAYS, size=n)
    local = rng.integers(7 * 3600, 18 * 3600, size=n) - 8 * 3600  # UTC+8 → UTC
    observed = day * 86400 + local
    delay = np.where(rng.random(n) < 0.9, rng.integers(5, 300, size=n), rng.integers(600, 3 * 86400, size=n))
    return observed, delay


def _reviews(observed_s: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Older reports are mostly reviewed (approved, or 6 % rejected); the last month's mostly pending."""
    recent = observed_s > (DAYS - 30) * 86400
    pending = rng.random(len(observed_s)) < np.where(recent, 0.7, 0.05)
    rejected = rng.random(len(observed_s)) < 0.06
    return np.where(pending, 0, np.where(rejected, 2, 1)).astype(np.int8)


def _answers_and_metrics(n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Checklist answers (per item 91 % pass, 6 % fail, 3 % not applicable) and the five metrics."""
    answers = rng.choice(len(ANSWERS), size=(n, len(CHECKLIST)), p=[0.91, 0.06, 0.03]).astype(np.int8)
    metrics = np.column_stack([
        rng.integers(2, 41, size=n),  # person_times
        rng.integers(0, 9, size=n),  # vehicle_trips
        rng.gamma(2.0, 0.6, size=n),  # garbage_tonnes
        np.where(rng.random(n) < 0.1, rng.integers(10, 500, size=n), 0),  # flowers_m2
        np.where(rng.random(n) < 0.05, rng.integers(5, 300, size=n), 0),  # seedlings
    ]).astype(float)
    return answers, metrics


def generate_reports(zones: Sequence, n: int, seed: int = 20240917) -> Reports:
    """``n`` reports on ``zones`` (the shapely polygons of ``generate_zones``), the same for the same seed."""
    polygons = np.asarray(zones, dtype=object)
    rng = np.random.default_rng(seed)
    zone = _zone_of_each(len(polygons), n, rng)
    lon, lat, accuracy, place = _fixes(polygons, zone, rng)
    observed, delay = _times(zone, rng)
    answers, metrics = _answers_and_metrics(n, rng)
    return Reports(zone=zone, lon=lon, lat=lat, accuracy=accuracy, place=place, observed_s=observed,
                   delay_s=delay, answers=answers, metrics=metrics, review=_reviews(observed, rng),
                   uuids=rng.integers(0, 256, size=(n, 16), dtype=np.uint8),
                   note=rng.integers(0, len(NOTES), size=n))


def load_reports(store, reports: Reports, site_ids: np.ndarray, user_id: int, *, zones: Sequence,
                 geofence_m: float = 300.0, batch: int = 20_000) -> float:
    """Store ``reports`` in the instance's store (``geo.storage.open_store``); returns the seconds taken.

    Bulk path: each write unit's connection executes the reports table's INSERT
    (``geo.storage.schema.reports``) with a whole batch of rows, i.e. SQLAlchemy's executemany (one
    prepared statement on SQLite, psycopg's batched executemany on PostgreSQL): the same columns
    ``ReportRepo.add`` writes, without a round trip per report, so 1,000,000 reports take a minute
    rather than the twenty ``file_report`` would. Distances and ``off_site`` flags are computed as
    filing does (metres from the fix to its own site, ``geo.fixes.distances_m``). The sites'
    latest-report columns are left as they are: ``geo.recompute.recompute_status`` sets them.
    """
    import time

    from geo.fixes import distances_m
    from geo.storage import schema

    started = time.perf_counter()
    distances = distances_m(reports.lon, reports.lat, zones, which=reports.zone)
    insert = schema.reports.insert()
    for first in range(0, len(reports), batch):
        rows = list(reports.rows(first, min(first + batch, len(reports)), site_ids, user_id,
                                 distances=distances, geofence_m=geofence_m))
        with store.unit_of_work(write=True) as uow:
            uow.connection.execute(insert, rows)
            uow.commit()
    return time.perf_counter() - started


if __name__ == "__main__":
    import time

    from generate import generate_zones

    n = int(sys.argv[1]) if len(sys.argv) > 1 else 100_000
    polygons = [g for _, g, _ in generate_zones(10_000)]
    began = time.perf_counter()
    made = generate_reports(polygons, n)
    print(f"{n:,} reports in {time.perf_counter() - began:.1f} s")
    inside = shapely.contains_xy(np.asarray(polygons, dtype=object)[made.zone], made.lon, made.lat)
    print("fix inside its zone:", f"{inside.mean():.1%}", "by place:",
          {p: f"{inside[made.place == i].mean():.1%}" for i, p in enumerate(PLACES)})
    print("zones with reports:", f"{np.unique(made.zone).size:,}", "reviews:",
          {r: int((made.review == i).sum()) for i, r in enumerate(REVIEWS)},
          "reports with a failed item:", f"{(made.answers == 1).any(axis=1).mean():.1%}")
    print(next(made.rows(0, 1, np.arange(10_000) + 1, 1)))
