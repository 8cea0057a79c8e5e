"""Where the time of a features request goes, stage by stage.

``breakdown`` runs the steps of ``geo.queries.features_in_view`` one at a time
with the same functions and arguments (as that function reads today; keep them
in step when it changes) and times each. The SQL the repository sends is caught
from the engine and replayed on the raw DB-API connection (sqlite3 or psycopg), so
"SQL" is the database and its driver alone and "row objects" is what SQLAlchemy
adds. What remains of an end-to-end request is Flask, Werkzeug, the Bearer-token
check and streaming. The plan is SQLite's EXPLAIN QUERY PLAN, or PostgreSQL's
EXPLAIN (ANALYZE, BUFFERS) with the values bound: every unit of work ends in a commit
or rollback, which makes psycopg forget its prepare count, so the query is never a
prepared statement and never gets a generic plan.

Standalone, against an instance kept by ``bench_map.py --keep DIR``::

    python benchmarks/profile_features.py DIR/sqlite [--views 50]
    python benchmarks/profile_features.py DIR/postgis --database-url postgresql+psycopg://…/bench_map_…
"""

from __future__ import annotations

import argparse
import re
import time
from datetime import UTC, datetime

import numpy as np
import shapely
from sqlalchemy import event

from geo import queries
from geo.geometry import display_level, pixel_tolerance
from geo.io.geojson import dumps
from geo.status import effective_status
from geo.storage import open_store
from geo.storage.views.filters import SiteFilter

LEAN_SQL = "  what-if: the same SQL without sites.geom"


def _captured_sql(store, layer_id: str, bbox, level=None) -> tuple[str, tuple]:
    """The statement and parameters ``uow.map_view.rows`` sends for one view."""
    seen: list[tuple[str, tuple]] = []

    def record(conn, cursor, statement, parameters, context, executemany):
        seen.append((statement, parameters))

    event.listen(store.engine, "before_cursor_execute", record)
    try:
        with store.unit_of_work() as uow:
            uow.map_view.rows(SiteFilter(layer_id=layer_id, bbox=bbox), level=level)
    finally:
        event.remove(store.engine, "before_cursor_execute", record)
    return next((s, p) for s, p in seen if "sites" in s and "geom" in s)


def _is_postgres(store) -> bool:
    return store.engine.dialect.name == "postgresql"


def query_plan(store, layer_id: str, bbox) -> list[str]:
    """The database's plan for the map view query: SQLite's EXPLAIN QUERY PLAN, or PostgreSQL's
    EXPLAIN (ANALYZE, BUFFERS) of the statement as sent (values bound, so a custom plan)."""
    statement, parameters = _captured_sql(store, layer_id, bbox, display_level(12))
    explain = "EXPLAIN (ANALYZE, BUFFERS) " if _is_postgres(store) else "EXPLAIN QUERY PLAN "
    with store.engine.connect() as connection:
        raw = connection.connection.dbapi_connection
        lines = [row[-1] for row in raw.execute(explain + statement, parameters)]
    # PostgreSQL prints the view's box as hex WKB, 200 characters of no interest
    return [re.sub(r"'[0-9A-F]{40,}'::geometry", "'<view box>'::geometry", line) for line in lines]


def breakdown(store, layer, bboxes, zoom: int, user, token: str | None = None) -> dict[str, list[float]]:
    """Seconds per stage for each view; stage names are the keys, in request order.

    The last entry times the real ``features_in_view`` (body joined) for comparison.
    """
    from geo import services

    now = datetime.now(UTC)
    times: dict[str, list[float]] = {}

    def lap(name: str, started: float) -> float:
        end = time.perf_counter()
        times.setdefault(name, []).append(end - started)
        return end

    level = display_level(zoom)
    for bbox in bboxes:
        statement, parameters = _captured_sql(store, layer.id, bbox, level)
        with store.unit_of_work() as uow:
            t = time.perf_counter()
            if token:
                services.user_for_token(token, uow=uow)
                t = lap("Bearer token look-up (auth)", t)
            rows = uow.map_view.rows(SiteFilter(layer_id=layer.id, bbox=bbox), level=level)
            t = lap("view_rows total (SQL + row objects + exact test at the edges)", t)
            raw = uow.connection.connection.dbapi_connection
            raw.execute(statement, parameters).fetchall()
            t = lap("  SQL in the database (execute + fetch, DB-API driver)", t)
            # PostGIS: ST_Intersects is exact, so at a zoom with stored display forms nothing reads the WKB
            if store.bbox_is_exact and ", sites.geom" in statement:
                raw.execute(statement.replace(", sites.geom", ""), parameters).fetchall()
                t = lap(LEAN_SQL, t)
            statuses = [effective_status(layer, r.status, r.last_inspected_at, r.last_result, now)
                        for r in rows]
            t = lap("effective status (Python loop)", t)
            body = b",".join(
                b'{"type":"Feature","id":%d,"geometry":%s,"properties":%s}' % (
                    row.id, row.display.encode(), dumps({
                        "name": row.name, "status": status, "county": row.county,
                        "last_inspected_at": queries.iso_or_none(row.last_inspected_at),
                        "last_result": row.last_result}))
                for row, status in zip(rows, statuses, strict=True))
            t = lap("feature bytes around the stored display GeoJSON", t)
            geometries = shapely.from_wkb([row.geom for row in rows])
            t = lap("what-if: decode every WKB", t)
            shapely.to_geojson(shapely.simplify(geometries, pixel_tolerance(zoom), preserve_topology=True))
            t = lap("what-if: simplify (topology preserved) + GeoJSON per request", t)
            view = queries.ViewQuery(bbox=bbox, zoom=zoom)
            queries.features_in_view(layer, view, uow=uow, user=user, now=now)
            lap("whole features_in_view, called directly", t)
            vertices = shapely.get_num_coordinates
            times.setdefault("_sizes", []).append((len(rows), int(vertices(geometries).sum()),
                                                   0, len(body)))
    return times


def table(times: dict[str, list[float]], end_to_end_ms: float | None = None) -> str:
    """A markdown table of median milliseconds per stage (nested stages are indented)."""
    lines = ["| stage | median ms |", "| --- | ---: |"]
    steps: dict[str, float] = {}
    for name, seconds in times.items():
        if name.startswith("_"):
            continue
        median = float(np.median(seconds)) * 1000
        if not name.startswith((" ", "what-if", "whole")):
            steps[name] = median
        label = name.replace("  ", "&nbsp;&nbsp;↳ ", 1) if name.startswith("  ") else name
        lines.append(f"| {label} | {median:.1f} |")
    top = sum(steps.values())
    lines.append(f"| **sum of the steps (not indented, not what-if, not whole)** | **{top:.1f}** |")
    if end_to_end_ms is not None:
        whole = float(np.median(times["whole features_in_view, called directly"])) * 1000
        lines.append(f"| Flask, Werkzeug, auth and streaming: end-to-end median {end_to_end_ms:.1f} ms "
                     f"− whole features_in_view | {end_to_end_ms - whole:.1f} |")
    sizes = np.mean(times.get("_sizes", [(0, 0, 0, 0)]), axis=0)
    lines.append("")
    lines.append(f"Per view on average: {sizes[0]:.0f} features, {sizes[1]:.0f} vertices before "
                 f"simplification and {sizes[2]:.0f} after, {sizes[3] / 1000:.0f} KB of feature JSON. "
                 "Largest steps: " + ", ".join(f"{name.split(' (')[0]} {ms / top:.0%}" for name, ms in
                                               sorted(steps.items(), key=lambda kv: -kv[1])[:3]) + ".")
    return "\n".join(lines)


def main() -> None:
    from bench_map import random_views
    from generate import dense_box

    from geo.layers import load_layers
    from webapp.settings import load_config

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("instance", help="instance folder kept by bench_map.py --keep")
    parser.add_argument("--database-url", help="the instance's database when not the SQLite file in it "
                                               "(a PostGIS database kept by --keep)")
    parser.add_argument("--views", type=int, default=50)
    parser.add_argument("--zoom", type=int, default=12)
    args = parser.parse_args()
    env = {"ONEMAP_INSTANCE": args.instance} | ({"ONEMAP_DATABASE_URL": args.database_url}
                                                 if args.database_url else {})
    store = open_store(load_config(env=env).database_url)
    layer = load_layers()["sanitation_zones"]
    with store.unit_of_work() as uow:
        n = uow.sites.count(layer.id)
        user = next(u for u in uow.users.all() if u.role in ("planner", "admin"))
    views = random_views(dense_box(n), args.views, seed=7)
    print("\n".join(query_plan(store, layer.id, views[0])))
    print(table(breakdown(store, layer, views, args.zoom, user)))
    store.close()


if __name__ == "__main__":
    main()
