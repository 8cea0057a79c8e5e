"""Planner map budget (issue #3): page weight and features-request latency at scale.

Builds a fresh instance (Jinzhou dataset + N generated village zones) on each
backend asked for (SQLite in the instance folder, PostGIS in a throw-away database),
then measures the map page's HTML + JS + CSS against 300 KB, and the latency of
0.2° × 0.2° features requests at zoom 12 against 40 ms median / 60 ms p95,
in-process (Flask test client) and over HTTP (waitress, keep-alive). Baselines
come from the same run: a folium page with every zone embedded, and a full-scan
provider answering the same views; every backend's requests take turns with them.
See benchmarks/README.md.

    python benchmarks/bench_map.py [--zones 100000] [--repeat 200] [--backend sqlite|postgis|both]
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import random
import re
import shutil
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

import backends
import baselines
import map_report
import orjson
import page_weight
import profile_features
import results
import shapely
import sqlalchemy as sa
from generate import CENTRE, VIEW_DEG, dense_box, generate_zones

from geo import services
from geo.access import system_user
from geo.model import Site
from webapp import create_app
from webapp.cli import init_instance, prepare_for_serving
from webapp.settings import load_config

LAYER = "sanitation_zones"
USER, PASSWORD = "bench-planner", "benchmark password 1"
MANAGER = "bench-manager"  # the map page with the planning tools (edit.js; Geoman waits for a drawing job)
ZOOM = 12


def random_views(box, count: int, seed: int) -> list[tuple[float, float, float, float]]:
    """``count`` 0.2° × 0.2° boxes lying wholly inside ``box``, the same for the same seed."""
    rng = random.Random(seed)
    minx, miny, maxx, maxy = box
    views = []
    for _ in range(count):
        x, y = rng.uniform(minx, maxx - VIEW_DEG), rng.uniform(miny, maxy - VIEW_DEG)
        views.append((round(x, 6), round(y, 6), round(x + VIEW_DEG, 6), round(y + VIEW_DEG, 6)))
    return views


def build_instance(config, zones: list) -> tuple[str, float]:
    """The Jinzhou dataset, ``zones`` and a planner with a token, in the instance of ``config``;
    returns the token and the seconds the zones took to insert."""
    store, _ = init_instance(config)
    now = datetime.now(UTC)
    with store.unit_of_work() as uow:
        counties = uow.counties.all()
    tree = shapely.STRtree([c["geometry"] for c in counties])
    points = shapely.points([polygon.centroid.coords[0] for _, polygon, _ in zones])
    point_index, county_index = tree.query(points, predicate="within")
    county_of = dict(zip(point_index.tolist(), county_index.tolist(), strict=True))
    started = time.perf_counter()
    with store.unit_of_work(write=True) as uow:
        for i, (name, polygon, attributes) in enumerate(zones):
            county = counties[county_of[i]]["code"] if i in county_of else None
            uow.sites.add(Site(None, LAYER, name, polygon, "never_inspected", county, f"bench-{i:06d}",
                               attributes), now, actor="bench")
        uow.commit()
    insert_seconds = time.perf_counter() - started
    with store.unit_of_work(write=True) as uow:
        services.add_user(USER, "planner", PASSWORD, uow=uow, user=system_user("benchmark"), now=now)
    with store.unit_of_work(write=True) as uow:
        services.add_user(MANAGER, "manager", PASSWORD, uow=uow, user=system_user("benchmark"), now=now)
    with store.unit_of_work(write=True) as uow:
        token = services.issue_token(USER, uow=uow, user=system_user("benchmark"), now=now)
    store.close()
    return token, insert_seconds


def logged_in_client(app, user: str = USER):
    """A test client with a browser session (the login form, CSRF token included)."""
    client = app.test_client()
    form = client.get("/login").get_data(as_text=True)
    csrf = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', form).group(1)
    response = client.post("/login", data={"username": user, "password": PASSWORD, "csrf_token": csrf})
    if response.status_code != 302:
        sys.exit(f"bench_map: login failed with HTTP {response.status_code}")
    return client


def measure_page(app, user: str = USER) -> page_weight.PageWeight:
    client = logged_in_client(app, user)

    def fetch(path: str) -> tuple[int, bytes]:
        response = client.get(path)
        return response.status_code, response.get_data()

    return page_weight.measure(fetch, "/")


def features_url(bbox) -> str:
    return f"/api/v1/layers/{LAYER}/features?bbox={','.join(map(str, bbox))}&zoom={ZOOM}"


def measure_rounds(modes: dict, rounds: int = 5) -> dict[str, dict]:
    """Latency, response size and feature count of each mode's requests.

    ``modes`` is {key: (get, views, warm-up requests)} with ``get(bbox) -> body bytes``.
    The modes take turns in ``rounds`` rounds, so a slow spell of a shared machine
    hits each of them alike and the ratios between them stay fair.
    """
    for get, views, warmup in modes.values():
        for bbox in views[:warmup]:
            get(bbox)
    raw = {key: ([], [], []) for key in modes}
    for k in range(rounds):
        for key, (get, views, _) in modes.items():
            seconds, sizes, counts = raw[key]
            for bbox in views[k::rounds]:
                started = time.perf_counter()
                body = get(bbox)
                seconds.append(time.perf_counter() - started)
                sizes.append(len(body))
                counts.append(orjson.loads(body)["numberReturned"])
    return {key: {**results.stats_ms(s), "bytes": sum(b) / len(b), "features": sum(c) / len(c)}
            for key, (s, b, c) in raw.items()}


@contextlib.contextmanager
def http_server(app):
    """waitress serving ``app`` on a free local port in a background thread."""
    from waitress import create_server

    server = create_server(app, host="127.0.0.1", port=0, threads=4)
    threading.Thread(target=server.run, daemon=True).start()
    try:
        yield server.effective_port
    finally:
        server.close()
        server.task_dispatcher.shutdown()


def in_process_get(app, token: str):
    client = app.test_client()
    headers = {"Authorization": f"Bearer {token}"}

    def get(bbox) -> bytes:
        response = client.get(features_url(bbox), headers=headers)
        if response.status_code != 200:
            sys.exit(f"bench_map: features request failed: HTTP {response.status_code}")
        return response.get_data()

    return get


def http_get(port: int, token: str):
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)  # one kept-alive connection
    headers = {"Authorization": f"Bearer {token}"}

    def get(bbox) -> bytes:
        connection.request("GET", features_url(bbox), headers=headers)
        response = connection.getresponse()
        body = response.read()
        if response.status != 200:
            sys.exit(f"bench_map: features request over HTTP failed: HTTP {response.status}")
        return body

    return get


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="Planner map budget (issue #3).")
    parser.add_argument("--zones", type=int, default=100_000, help="generated village zones (default 100000)")
    parser.add_argument("--repeat", type=int, default=200, help="features requests per measurement")
    parser.add_argument("--baseline-repeat", type=int, default=30,
                        help="requests for each full-scan baseline (about 1 s each at 100k; default 30)")
    parser.add_argument("--folium-zones", type=int, default=None,
                        help="embed only this many zones in the folium baseline and scale up (default: all)")
    parser.add_argument("--out", type=Path, default=Path(__file__).with_name("RESULTS.md"))
    parser.add_argument("--profile", choices=("auto", "always", "never"), default="auto",
                        help="stage breakdown of the features request (auto: when the budget is missed)")
    parser.add_argument("--keep", type=Path,
                        help="build the instances in DIR/<backend> and keep them (and the PostGIS database)")
    parser.add_argument("--seed", type=int, default=20240603)
    backends.add_arguments(parser)
    return parser.parse_args(argv)


class Instance:
    """One backend's instance for the run: its settings, the app, the planner's token."""

    def __init__(self, backend: str, env: dict, zones: list, server):
        self.backend, self.env = backend, env
        self.config = load_config(env=backends.onemap_env(env))
        say(f"building the {backends.LABELS[backend]} instance (Jinzhou dataset + generated zones)")
        self.token, insert_s = build_instance(self.config, zones)
        self.run: dict = {"insert_s": insert_s, "db_mb": backends.size_mb(env, server)}
        self.app = create_app(self.config)

    def close(self) -> None:
        self.app.extensions["onemap.store"].close()


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    names = backends.chosen(args)
    server = backends.PostgisServer(args.postgres) if "postgis" in names else None
    r: dict = {"machine": results.machine(), "n": args.zones, "repeat": args.repeat,
               "baseline_repeat": args.baseline_repeat, "zoom": ZOOM, "profile": args.profile, "runs": {}}
    root = args.keep or Path(tempfile.mkdtemp(prefix="onemap-bench-"))
    if args.keep and args.keep.exists() and any(args.keep.iterdir()):
        sys.exit(f"bench_map: {args.keep} is not empty; give a new folder")
    started = time.perf_counter()
    try:
        with contextlib.ExitStack() as stack:
            say(f"generating {args.zones} zones")
            zones = list(generate_zones(args.zones, seed=args.seed))
            instances = {}
            for name in names:
                env = stack.enter_context(backends.instance_env(name, root / name, server, "map",
                                                                keep=bool(args.keep)))
                instances[name] = instance = Instance(name, env, zones, server)
                stack.callback(instance.close)
                r["runs"][name] = instance.run
                if env["database"]:
                    r["machine"] |= server.describe(env["database"])
                    if args.keep:
                        say(f"keeping the PostGIS database {env['database']} on the --postgres server "
                            "(drop it yourself)")
                say(f"page weight ({backends.LABELS[name]})")
                instance.run["page"] = measure_page(instance.app)
                instance.run["page_manager"] = measure_page(instance.app, MANAGER)
            r["folium"] = folium_baseline(zones, args)
            del zones
            measure_latency(stack, instances, root, args, r)
            for instance in instances.values():
                run = instance.run
                run["passed"] = map_report.latency_ok(run["inproc"])
                if args.profile == "always" or (args.profile == "auto" and not run["passed"]):
                    profile(instance, r["views"], run)
    finally:
        if server:
            server.close()
        if not args.keep:
            shutil.rmtree(root, ignore_errors=True)
    del r["views"]
    r["wall_s"] = time.perf_counter() - started
    r["machine"]["load average at the end"] = results.load_average()
    map_report.write(args.out, r)
    print(map_report.summary(r))
    ok = all(run["passed"] and map_report.page_ok(run["page"]) and map_report.page_ok(run["page_manager"])
             for run in r["runs"].values())
    return 0 if ok else 1


def folium_baseline(zones: list, args) -> dict:
    folium_n = min(args.folium_zones or args.zones, args.zones)
    say(f"folium baseline page with {folium_n} zones")
    size = baselines.folium_page_bytes(zones[:folium_n], CENTRE)
    return {"zones": folium_n, "bytes": size, "per_feature": size / folium_n,
            "estimated": size / folium_n * args.zones}


def scan_database(instances: dict, root: Path) -> str:
    """The SQLite file the full-scan baselines read: the SQLite instance's own, else a copy of the
    PostGIS instance's layer, so both backends are measured against the same peer."""
    if "sqlite" in instances:
        return sa.engine.make_url(instances["sqlite"].config.database_url).database
    path = root / "scan-baseline.db"
    say("copying the layer into SQLite for the full-scan baselines")
    baselines.copy_layer(instances["postgis"].config.database_url, LAYER, path)
    return str(path)


def measure_latency(stack: contextlib.ExitStack, instances: dict, root: Path, args, r: dict) -> None:
    """Every backend's features requests (in-process and over HTTP) in turns with both full scans."""
    views = random_views(dense_box(args.zones), args.repeat, seed=args.seed + 1)
    prepare_for_serving()  # as `onemap serve` does once the app is built
    say(f"features requests: {args.repeat} in-process and {args.repeat} over HTTP per backend, "
        f"{args.baseline_repeat} for each full scan, in 5 interleaved rounds")
    db_path = scan_database(instances, root)
    scan, vscan = baselines.FullScan(db_path, LAYER), baselines.VectorisedScan(db_path, LAYER)
    stack.callback(scan.close)
    stack.callback(vscan.close)
    modes = {}
    for name, instance in instances.items():
        port = stack.enter_context(http_server(instance.app))
        modes[name, "inproc"] = (in_process_get(instance.app, instance.token), views, 10)
        modes[name, "http"] = (http_get(port, instance.token), views, 10)
    modes["scan"] = (scan.features, views[:args.baseline_repeat], 2)
    modes["vscan"] = (vscan.features, views[:args.baseline_repeat], 2)
    measured = measure_rounds(modes)
    r["scan"], r["vscan"], r["views"] = measured.pop("scan"), measured.pop("vscan"), views
    for (name, mode), stats in measured.items():
        instances[name].run[mode] = stats


def profile(instance: Instance, views, run: dict) -> None:
    """Stage breakdown and query plan, then the same after ANALYZE (a what-if on this throw-away instance)."""
    app, token = instance.app, instance.token
    store, layer = app.extensions["onemap.store"], app.extensions["onemap.layers"][LAYER]
    sample = views[:50]
    say(f"profiling {backends.LABELS[instance.backend]}: query plan and stage breakdown")
    run["plan"] = profile_features.query_plan(store, LAYER, sample[0])
    with store.unit_of_work() as uow:
        user = services.user_for_token(token, uow=uow)
    run["stages"] = profile_features.breakdown(store, layer, sample, ZOOM, user, token)
    with store.engine.connect() as connection:
        connection.exec_driver_sql("ANALYZE")
        connection.commit()
    store.engine.dispose()  # new connections read the new statistics
    say("profiling: after ANALYZE")
    run["plan_analyzed"] = profile_features.query_plan(store, LAYER, sample[0])
    run["stages_analyzed"] = profile_features.breakdown(store, layer, sample, ZOOM, user, token)
    run["inproc_analyzed"] = measure_rounds({"x": (in_process_get(app, token), views[:100], 10)}, 1)["x"]


def say(message: str) -> None:
    print(f"[bench_map] {message}", file=sys.stderr, flush=True)


if __name__ == "__main__":
    sys.exit(main())
