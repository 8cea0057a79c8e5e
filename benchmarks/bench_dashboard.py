"""The dashboard at 100,000 zones: counted in SQL (``geo.dashboard``) beside the Python loop it replaced.

Per backend: an instance of ``instances.build`` (the Jinzhou dataset and ``--zones`` generated zones,
imported as a file), ``--reports`` generated reports stored by ``generate_reports.load_reports`` (what
the metric sums add up), and the zones' latest-inspection columns set as inspections spread over the
last two weeks leave them (3 % never inspected, 10 % of the others failed an item; with a 7-day
cadence about half the zones are overdue, the worst case for the overdue list). On PostGIS the tables
are then vacuumed and analysed, as autovacuum would after a bulk load (index-only scans need it).

Then, in rounds that alternate the two (so both meet the same load of the shared machine):

- the dashboard use case, ``geo.dashboard.dashboard`` (counts by county and status in one GROUP BY,
  targets, metric sums, progress, and one page of 50 overdue sites), each load in its own unit of work
  as a request has; ``--loads`` loads of the first page, and as many of the last page (the deepest
  OFFSET);
- the baseline, same script: the use case as it was before (``python_loop`` below, a copy of the old
  ``geo.queries.dashboard``: every row of every layer read with its attributes, each status derived by
  ``geo.status``, the whole overdue list sorted in Python), ``--old-loads`` loads.

Both must give the same figures (counted statuses by county, targets, sums, progress, the overdue total
and the first and last pages of the list, which the old list gives as its sorted slices); the p95 of
each and their ratio go to the "dashboard" section of RESULTS.md, with the time of each part of one
more load. Goal: p95 ≤ 200 ms at 100,000 zones on each backend.

    python benchmarks/bench_dashboard.py --backend both
    python benchmarks/bench_dashboard.py --backend sqlite --instances /tmp/onemap-bench-dashboard  # kept

``--instances DIR`` keeps the instances in DIR/<backend> and reuses them (with ``--database NAME`` an
existing PostGIS database holding the instance of DIR/postgis, instead of a throw-away one).
"""

from __future__ import annotations

import argparse
import dataclasses
import gc
import math
import sys
import tempfile
import time
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE.parent), str(HERE)]

import backends  # noqa: E402
import instances  # noqa: E402
import numpy as np  # noqa: E402
import results  # noqa: E402
import sqlalchemy as sa  # noqa: E402
from generate import generate_zones  # noqa: E402
from generate_reports import generate_reports, load_reports  # noqa: E402

from geo import dashboard  # noqa: E402
from geo.layers import load_layers  # noqa: E402
from geo.status import days_overdue, effective_status  # noqa: E402
from geo.storage import open_store  # noqa: E402
from geo.storage import schema as t  # noqa: E402
from geo.storage.views.filters import SiteFilter  # noqa: E402

TARGET_MS = 200.0
ZONE = ZoneInfo("Asia/Shanghai")  # ONEMAP_TIMEZONE's default: days are counted there


# ------------------------------------------------------------------ the baseline: the loop it replaced
def _matches(where: dict[str, Any], status: str, attributes: dict[str, Any]) -> bool:
    return all((status if key == "status" else attributes.get(key)) == value for key, value in where.items())


def scanned_sums(uow, layer_id: str, metric_ids: list[str]) -> dict[str, float]:
    """The old ``ReportRepo.metric_sums``: every counting report's JSON added up on each load."""
    r, s = t.reports.c, t.sites.c
    if not metric_ids:
        return {}
    query = (sa.select(*(sa.func.sum(r.metrics[m].as_float()) for m in metric_ids))
             .join(t.sites, s.id == r.site_id)
             .where(s.layer_id == layer_id, r.review_status != "rejected"))
    return {m: float(total or 0.0) for m, total in zip(metric_ids, uow.connection.execute(query).one(),
                                                       strict=True)}


def python_loop(layers, *, uow, now, county_names, outside="—") -> dict[str, Any]:
    """The old ``geo.queries.dashboard``, as it was (its rows now come from the map's reader, which runs
    the query ``SiteRepo.view_rows`` ran, and the sums scanned as ``ReportRepo.metric_sums`` did)."""
    out: dict[str, Any] = {"layers": [], "overdue": []}
    for layer in layers.values():
        rows = uow.map_view.rows(SiteFilter(layer_id=layer.id), with_attributes=True)
        by_county: dict[str | None, dict[str, int]] = defaultdict(lambda: defaultdict(int))
        totals: dict[str, int] = defaultdict(int)
        target_counts = {target.id: 0 for target in layer.targets}
        progress = []
        for row in rows:
            status = effective_status(layer, row.status, row.last_inspected_at, row.last_result, now)
            by_county[row.county][status] += 1
            totals[status] += 1
            for target in layer.targets:
                target_counts[target.id] += _matches(target.where, status, row.attributes)
            if status == "overdue":
                out["overdue"].append({"id": row.id, "name": row.name, "layer": layer.id,
                                       "county": county_names.get(row.county, row.county),
                                       "days": days_overdue(layer, row.last_inspected_at, now),
                                       "last_inspected_at": row.last_inspected_at})
            if "progress_pct" in row.attributes:
                progress.append({"id": row.id, "name": row.name, "status": status,
                                 "progress": row.attributes["progress_pct"]})
        sums = scanned_sums(uow, layer.id, [m.id for m in layer.metrics])
        out["layers"].append({
            "layer": layer,
            "total": len(rows),
            "totals": dict(totals),
            "by_county": {county_names.get(c, c or outside): dict(v) for c, v in sorted(
                by_county.items(), key=lambda kv: kv[0] or "")},
            "targets": [{"target": t, "count": target_counts[t.id]} for t in layer.targets],
            "metrics": [{"metric": m, "sum": sums.get(m.id, 0.0),
                         "figure": next((f for f in layer.figures if f.metric == m.id), None)}
                        for m in layer.metrics],
            "progress": progress,
        })
    out["overdue"].sort(key=lambda o: -(o["days"] or 0))
    return out


# ------------------------------------------------------------------ the instance
def prepare(env: dict, server, args) -> dict:
    """The instance of ``env`` with its zones, reports and inspections; what was built."""
    built = instances.build(backends.onemap_env(env), args.zones)
    store = open_store(env["ONEMAP_DATABASE_URL"])
    try:
        store.migrate()  # an instance kept from before the dashboard's indexes gets them
        with store.unit_of_work() as uow:
            stored = uow.reports.count()
            refs = uow.sites.ids_by_ref(instances.LAYER)
            worker = uow.users.by_name(instances.USERS["worker"])[0].id
        built["load_s"] = None
        if stored == 0 and args.reports:
            polygons = [g for _, g, _ in generate_zones(args.zones, seed=instances.SEED)]
            site_ids = np.array([refs[f"bench-{i:06d}"] for i in range(args.zones)])
            built["load_s"] = load_reports(store, generate_reports(polygons, args.reports), site_ids, worker,
                                           zones=polygons)
        elif stored != args.reports:
            raise SystemExit(f"the instance holds {stored:,} reports, not {args.reports:,}: use a fresh one")
        set_inspections(store, sorted(refs.values()))
    finally:
        store.close()
    if env["database"] is not None:
        server.run("VACUUM ANALYZE sites", env["database"])
        server.run("VACUUM ANALYZE reports", env["database"])
    return built


def set_inspections(store, site_ids: list[int], seed: int = 11) -> None:
    """Latest-inspection columns as two weeks of inspections leave them (the same for the same seed)."""
    rng = np.random.default_rng(seed)
    now = datetime.now(UTC)
    ago = rng.integers(0, 14 * 86400, size=len(site_ids))
    never = rng.random(len(site_ids)) < 0.03
    failed = rng.random(len(site_ids)) < 0.10
    rows = [{"site": site_id, "at": None if n else now - timedelta(seconds=int(a)),
             "result": None if n else ("fail" if f else "pass"), "report": None if n else 0}
            for site_id, a, n, f in zip(site_ids, ago, never, failed, strict=True)]
    s = t.sites
    update = s.update().where(s.c.id == sa.bindparam("site")).values(
        last_inspected_at=sa.bindparam("at"), last_result=sa.bindparam("result"),
        last_report_id=sa.bindparam("report"))
    with store.unit_of_work(write=True) as uow:
        uow.connection.execute(update, rows)
        uow.commit()


# ------------------------------------------------------------------ measuring
def load(store, layers, names, now, run, **kwargs) -> tuple[float, dict]:
    gc.collect()  # the loop's garbage is not collected in the next load's time
    started = time.perf_counter()
    with store.unit_of_work() as uow:
        figures = run(layers, uow=uow, now=now, county_names=names, outside="outside", **kwargs)
    return time.perf_counter() - started, figures


def same_figures(old: dict, new: dict, last: dict) -> bool:
    """The SQL figures equal the loop's: every layer's counts, targets, sums and progress, and the
    overdue total with the first and last pages (the loop's list sorted by days, then id)."""
    keys = ("total", "totals", "by_county", "targets", "progress")
    layers = all({k: a[k] for k in keys} == {k: b[k] for k in keys}
                 and all(x["metric"] == y["metric"] and math.isclose(x["sum"], y["sum"], rel_tol=1e-9)
                         for x, y in zip(a["metrics"], b["metrics"], strict=True))  # summed in another order
                 for a, b in zip(old["layers"], new["layers"], strict=True))
    listed = sorted(old["overdue"], key=lambda o: (-(o["days"] or 0), o["id"]))
    first = listed[:new["per_page"]] == new["overdue"]
    tail = listed[(last["page"] - 1) * last["per_page"]:] == last["overdue"]
    return layers and first and tail and new["overdue_total"] == len(old["overdue"])


def parts(store, layers, now) -> dict[str, float]:
    """Milliseconds of each reader call of one more load (all layers together)."""
    spent: dict[str, float] = defaultdict(float)
    with store.unit_of_work() as uow:
        view = uow.dashboard_view
        calls = {"counts": lambda layer: view.counts(layer, now),
                 "targets": lambda layer: view.target_counts(layer, now),
                 "metric sums": lambda layer: view.metric_sums(layer.id, [m.id for m in layer.metrics]),
                 "progress": lambda layer: layer.attribute("progress_pct") and view.progress(layer, now)}
        for layer in layers.values():
            for name, call in calls.items():
                started = time.perf_counter()
                call(layer)
                spent[name] += (time.perf_counter() - started) * 1000
        started = time.perf_counter()
        view.overdue(list(layers.values()), now, offset=0, limit=dashboard.PER_PAGE)
        spent["overdue page"] = (time.perf_counter() - started) * 1000
    return dict(spent)


def measure(backend: str, env: dict, server, args) -> dict:
    built = prepare(env, server, args)
    layers = load_layers()
    store = open_store(env["ONEMAP_DATABASE_URL"])
    try:
        with store.unit_of_work() as uow:
            names = {code: zh for code, (zh, _) in uow.counties.names().items()}
            sites = uow.connection.execute(sa.select(sa.func.count()).select_from(t.sites)).scalar_one()
        now = datetime.now(UTC).astimezone(ZONE)
        _, first = load(store, layers, names, now, dashboard.dashboard)  # warm the caches, not timed
        pages = first["pages"]
        # The same layers without metrics: what the rest costs, the sums growing with the reports table.
        unsummed = {key: dataclasses.replace(layer, metrics=(), figures=()) for key, layer in layers.items()}
        new, deep, old, rest = [], [], [], []
        for round_ in range(args.loads):
            if round_ < args.old_loads:
                old.append(load(store, layers, names, now, python_loop)[0])
            new.append(load(store, layers, names, now, dashboard.dashboard)[0])
            deep.append(load(store, layers, names, now, dashboard.dashboard, page=pages)[0])
            rest.append(load(store, unsummed, names, now, dashboard.dashboard)[0])
        _, old_figures = load(store, layers, names, now, python_loop)
        _, new_figures = load(store, layers, names, now, dashboard.dashboard)
        _, last_figures = load(store, layers, names, now, dashboard.dashboard, page=pages)
        spent = parts(store, layers, now)
    finally:
        store.close()
    zones = next(entry for entry in new_figures["layers"] if entry["layer"].id == instances.LAYER)
    return {"backend": backend, "sites": sites, "zones": zones["total"], "reports": args.reports,
            "overdue": new_figures["overdue_total"], "pages": pages,
            "new": results.stats_ms(new), "deep": results.stats_ms(deep), "old": results.stats_ms(old),
            "rest": results.stats_ms(rest), "times": {"new": new, "deep": deep, "rest": rest, "old": old},
            "equal": same_figures(old_figures, new_figures, last_figures), "parts": spent,
            "load_s": built.get("load_s"), "import_s": built.get("import_s"),
            "versions": server.describe(env["database"]) if env["database"] else {}}


# ------------------------------------------------------------------ RESULTS.md
def met(r: dict) -> bool:
    return r["equal"] and r["new"]["p95"] <= TARGET_MS and r["deep"]["p95"] <= TARGET_MS


def section(rows: list[dict], info: dict, args, command: str) -> str:
    head = ("| backend | sites | overdue (pages of 50) | SQL: p95 / median ms, first page | last page p95 ms "
            "| without the metric sums p95 ms | Python loop: p95 / median ms | loop ÷ SQL (p95) "
            "| same figures | goal ≤ 200 ms p95 |\n"
            "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- | --- |")
    lines = [f"| {backends.LABELS[r['backend']]} | {r['sites']:,} | {r['overdue']:,} ({r['pages']:,}) "
             f"| {r['new']['p95']:.0f} / {r['new']['median']:.0f} | {r['deep']['p95']:.0f} "
             f"| {r['rest']['p95']:.0f} "
             f"| {r['old']['p95']:.0f} / {r['old']['median']:.0f} | {r['old']['p95'] / r['new']['p95']:.1f}× "
             f"| {'yes' if r['equal'] else 'NO'} | {'met' if met(r) else 'missed'} |" for r in rows]
    spent = "\n".join(f"- {backends.LABELS[r['backend']]}: " + ", ".join(
        f"{name} {ms:.0f} ms" for name, ms in r["parts"].items()) for r in rows)
    loads = "; ".join(f"{backends.LABELS[r['backend']]}: zones imported in {r['import_s']} s, reports "
                      + (f"loaded in {r['load_s']:.0f} s" if r["load_s"] else "from an earlier run")
                      for r in rows)
    for r in rows:
        info.update(r["versions"])
    return f"""## The dashboard counted in SQL (issue 17)

Goal: `geo.dashboard.dashboard` (counts by county and status in one GROUP BY, targets, metric sums,
progress, one page of 50 overdue sites) at p95 ≤ {TARGET_MS:.0f} ms with {args.zones:,} zones, on each
backend, beside the Python loop it replaced (the old `geo.queries.dashboard`, kept in the script), run
in the same rounds. **{'Met' if all(met(r) for r in rows) else 'Missed'}.**

{results.machine_table(info)}

{args.zones:,} generated zones imported as a file beside the Jinzhou dataset, {args.reports:,} generated
reports ({loads}); latest inspections spread over the last two weeks (3 % never inspected, 10 % failed,
7-day cadence: about half overdue). {args.loads} loads of the first page and of the last one (the deepest
OFFSET), {args.old_loads} of the loop, each in its own unit of work; "same figures": counts, targets,
sums, progress, the overdue total and the first and last pages equal the loop's.

{head}
{chr(10).join(lines)}

One more load, by part (all layers):
{spent}

Rerun: `{command}`"""


def _rerun_options(options: list[str]) -> list[str]:
    local = {"--instances", "--database", "--out"}
    kept, skip = [], False
    for option in options:
        if skip or option in local:
            skip = option in local
            continue
        kept.append(option)
    return kept


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    backends.add_arguments(parser)
    parser.add_argument("--zones", type=int, default=100_000)
    parser.add_argument("--reports", type=int, default=100_000, help="reports the metric sums add up")
    parser.add_argument("--loads", type=int, default=20, help="timed loads of the SQL dashboard (each page)")
    parser.add_argument("--old-loads", type=int, default=10, help="timed loads of the Python loop")
    parser.add_argument("--instances", type=Path,
                        help="keep the instances in DIR/<backend> and reuse them in the next run")
    parser.add_argument("--database", help="an existing PostGIS database holding the instance of "
                                           "DIR/postgis (with --instances), used instead of a throw-away one")
    parser.add_argument("--out", type=Path, default=HERE / "RESULTS.md")
    args = parser.parse_args(argv)
    info = results.machine()
    server = backends.PostgisServer(args.postgres) if "postgis" in backends.chosen(args) else None
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        root = args.instances or Path(tmp)
        for backend in backends.chosen(args):
            folder = root / backend
            if backend == "postgis" and args.database:
                env = {"ONEMAP_INSTANCE": str(folder), "ONEMAP_DATABASE_URL": server.url_of(args.database),
                       "database": args.database}
                rows.append(measure(backend, env, server, args))
            else:
                with backends.instance_env(backend, folder, server, "dashboard") as env:
                    rows.append(measure(backend, env, server, args))
            r = rows[-1]
            print(f"{backends.LABELS[backend]}: SQL p95 {r['new']['p95']:.0f} ms (last page "
                  f"{r['deep']['p95']:.0f}, without sums {r['rest']['p95']:.0f}), "
                  f"loop p95 {r['old']['p95']:.0f} ms, "
                  f"{r['old']['p95'] / r['new']['p95']:.1f}×, same figures {r['equal']}, "
                  f"parts {', '.join(f'{k} {v:.0f}' for k, v in r['parts'].items())}", flush=True)
            spread = {k: sorted(round(x * 1000) for x in times) for k, times in r["times"].items()}
            print("  loads, ms:", spread, flush=True)
    if server:
        server.close()
    command = "python benchmarks/bench_dashboard.py " + " ".join(_rerun_options(argv or sys.argv[1:]))
    results.write_section(args.out, "dashboard", section(rows, info, args, command.strip()))
    return 0 if all(met(r) for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
