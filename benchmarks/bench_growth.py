"""As reports pile up: bytes per report and the reads that grow with them, on SQLite and PostGIS.

Builds an instance per backend (the Jinzhou dataset), then stores reports in steps
(default 20,000 and then up to 100,000) through the report repository — the rows
``file_report`` writes, one photo row each, in write units of 1,000 — and after
each step measures:

- bytes per report: the size of the reports and photos tables with their indexes (SQLite's
  ``dbstat``, PostgreSQL's ``pg_total_relation_size``) divided by the reports stored;
- a site page's history (``ReportRepo.find`` for one site, newest 50): should stay flat;
- the dashboard's metric sums over a layer (``DashboardView.metric_sums``): grows with the table;
- a full reports export's rows (``ExportView.report_batches``): grows with the table.

These are the numbers docs/deployment.md uses to say when reports should be
partitioned by month. Ratios compare each backend's step with its own first step,
and PostGIS with SQLite in the same run.

    python benchmarks/bench_growth.py --steps 20000 100000 --backend both
"""

from __future__ import annotations

import argparse
import hashlib
import random
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))

import backends  # noqa: E402
import results  # noqa: E402

from geo.access import system_user  # noqa: E402
from geo.status import report_result  # noqa: E402
from webapp.cli import init_instance  # noqa: E402
from webapp.settings import load_config  # noqa: E402

ZONES = "sanitation_zones"
CHECKLIST = {"swept_clean": "pass", "neatly_stacked": "pass", "ditches_cleared": "fail",
             "waste_converted": "pass"}
START = datetime(2024, 1, 1, tzinfo=UTC)
COLUMNS = ("reports/s stored", "bytes per report", "site history ms", "metric sums ms", "export rows ms")


def _report(site_id: int, user_id: int, n: int) -> tuple[dict, list[dict]]:
    observed = START + timedelta(minutes=7 * n)
    key = f"photos/{uuid.uuid4()}/0-0"
    row = {"uuid": str(uuid.uuid4()), "site_id": site_id, "user_id": user_id, "checklist": CHECKLIST,
           "metrics": {"garbage_tonnes": round(random.random() * 3, 2),
                       "person_times": random.randint(1, 30)},
           "note": "沟渠清理完毕，垃圾已转运", "gps_lat": 41.6 + random.random() / 10,
           "gps_lon": 122.0 + random.random() / 10, "gps_accuracy": 8.0, "distance_m": 12.5, "flags": [],
           "observed_at": observed, "received_at": observed + timedelta(seconds=30),
           "content_hash": hashlib.sha256(key.encode()).hexdigest(), "review_status": "pending"}
    photo = {"original_key": f"{key}.original.jpeg", "display_key": f"{key}.display.jpg",
             "thumbnail_key": f"{key}.thumbnail.jpg", "sha256": row["content_hash"], "width": 1600,
             "height": 1200, "taken_at": observed, "exif_lat": None, "exif_lon": None, "flags": []}
    return row, [photo]


def fill(store, start: int, end: int, sites: list[int], user_id: int) -> float:
    """Store reports ``start`` … ``end - 1``; seconds taken."""
    began = time.perf_counter()
    for first in range(start, end, 1000):
        with store.unit_of_work(write=True) as uow:
            for n in range(first, min(first + 1000, end)):
                site_id = sites[n % len(sites)]
                row, photos = _report(site_id, user_id, n)
                stored = uow.reports.add_with_photos(row, photos, "worker")
                uow.reports.note_filed(site_id, stored["id"], row["observed_at"], report_result(CHECKLIST))
            uow.commit()
    return time.perf_counter() - began


def _median_ms(run, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        began = time.perf_counter()
        run()
        times.append(time.perf_counter() - began)
    return results.stats_ms(times)["median"]


def report_bytes(store) -> int:
    """Bytes of the reports and photos tables with their indexes."""
    with store.unit_of_work() as uow:
        if store.url.startswith("sqlite"):
            return uow.connection.exec_driver_sql(
                "SELECT sum(pgsize) FROM dbstat WHERE name IN (SELECT name FROM sqlite_master"
                " WHERE tbl_name IN ('reports', 'photos'))").scalar_one()
        return uow.connection.exec_driver_sql(
            "SELECT pg_total_relation_size('reports') + pg_total_relation_size('photos')").scalar_one()


def reads(store, sites: list[int]) -> dict[str, float]:
    picks = iter(random.Random(7).choices(sites, k=20))
    with store.unit_of_work() as uow:
        history = _median_ms(lambda: uow.reports.find(site_ids=[next(picks)], limit=50), 20)
        metrics = _median_ms(
            lambda: uow.dashboard_view.metric_sums(ZONES, ["garbage_tonnes", "person_times"]), 3)
        export = _median_ms(lambda: sum(len(b) for b in uow.export_view.report_batches(ZONES)), 3)
    return {"history": history, "metrics": metrics, "export": export}


def run_backend(backend: str, steps: list[int], server, tmp: Path) -> list[dict]:
    from geo import services

    out = []
    with backends.instance_env(backend, tmp / backend, server, "growth") as env:
        config = load_config(env=backends.onemap_env(env))
        store, _ = init_instance(config)
        with store.unit_of_work(write=True) as uow:
            services.add_user("worker", "worker", "correct horse 9", uow=uow, user=system_user("bench"),
                              now=datetime.now(UTC))
        with store.unit_of_work() as uow:
            sites = [s.id for s in uow.sites.find(layer_id=ZONES)]
            user_id = uow.users.by_name("worker")[0].id
        done = 0
        for step in steps:
            seconds = fill(store, done, step, sites, user_id)
            if backend == "postgis":
                server.run("VACUUM ANALYZE", env["database"])
            out.append({"reports": step, "rate": (step - done) / seconds,
                        "bytes": report_bytes(store) / step, **reads(store, sites)})
            done = step
            print(f"{backend}: {step:,} reports, {out[-1]}", flush=True)
        store.close()
    return out


def section(measured: dict[str, list[dict]], info: dict) -> str:
    names = [backends.LABELS[b] for b in measured]
    lines = ["## Reports as they pile up (docs/deployment.md)", "",
             f"Measured {info['date']}. Reports stored through `ReportRepo.add_with_photos` "
             "(one photo row each) in write units of 1,000 on the Jinzhou dataset's village zones; "
             "reads timed after each step (medians). Ratios compare a step with the same backend's "
             "first step.", "",
             results.machine_table(info), "",
             "| reports stored | " + " | ".join(f"{n}: {what}" for n in names for what in COLUMNS) + " |",
             "| ---: | " + " | ".join("---:" for _ in names for _ in range(5)) + " |"]
    steps = len(next(iter(measured.values())))
    for i in range(steps):
        cells = []
        for rows in measured.values():
            row, first = rows[i], rows[0]
            cells += [f"{row['rate']:,.0f}", f"{row['bytes']:,.0f}", f"{row['history']:.1f}",
                      f"{row['metrics']:.0f} ({row['metrics'] / first['metrics']:.1f}×)",
                      f"{row['export']:.0f} ({row['export'] / first['export']:.1f}×)"]
        lines.append(f"| {next(iter(measured.values()))[i]['reports']:,} | " + " | ".join(cells) + " |")
    if len(measured) == 2:
        sqlite, postgis = measured["sqlite"][-1], measured["postgis"][-1]
        ratio = {key: postgis[key] / sqlite[key] for key in ("bytes", "history", "metrics", "export", "rate")}
        lines += ["", f"At {sqlite['reports']:,} reports, PostGIS ÷ SQLite: bytes per report "
                  f"{ratio['bytes']:.2f}, site history {ratio['history']:.2f}, "
                  f"metric sums {ratio['metrics']:.2f}, export rows {ratio['export']:.2f}, "
                  f"storing {ratio['rate']:.2f}."]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--steps", type=int, nargs="+", default=[20_000, 100_000])
    parser.add_argument("--out", type=Path, default=HERE / "RESULTS.md")
    backends.add_arguments(parser)
    args = parser.parse_args(argv)
    random.seed(20261201)
    server = backends.PostgisServer(args.postgres) if "postgis" in backends.chosen(args) else None
    info = results.machine()
    measured = {}
    with tempfile.TemporaryDirectory() as tmp:
        for backend in backends.chosen(args):
            measured[backend] = run_backend(backend, sorted(args.steps), server, Path(tmp))
    if server is not None:
        server.close()
    results.write_section(args.out, "report-growth", section(measured, info))
    return 0


if __name__ == "__main__":
    sys.exit(main())
