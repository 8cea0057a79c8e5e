"""The planner's map page in headless Chromium at 1k / 10k / 100k zones: bytes and time to the first draw.

Workload "e" of the benchmarks issue. For each storage backend and zone count (village zones made by
``generate.py`` and imported by ``instances.build``), and for two views of the page, the page's own
first view (``/``: the whole of Jinzhou) and a county-sized view at zoom 11 in the middle of the dense
area of generated zones (``/?view=11/<lat>/<lon>``, where the zones are), it measures per cold load:

1. bytes before the first features are drawn: the response bodies, as they came over the wire
   (Resource Timing ``encodedBodySize``), of every request finished before the moment the first
   feature (a shape or circle marker on the overlay canvas, or a cluster marker) is drawn;
2. the time from navigation start to that first draw, and to the first draw of the view's own
   features (map.js may first draw the features of the map's initial position, see below);
3. the time until ``.folium-map`` gets ``data-ready="true"`` for the last time (every layer's request
   of the view done) and until every layer of the view is drawn; and the bytes of the whole load.

How: one ``onemap serve`` (waitress, one process) per instance on 127.0.0.1, with
``ONEMAP_BASEMAP=none`` (no tiles: a request to another host is counted and fails the run). Chromium,
the system's, headless, with the flags of ``tests/e2e/conftest.py``, logs in through the login form
once per server; every measured load then opens the page in a new browser context holding those
cookies and an empty HTTP cache. ``first_draw_probe.PROBE`` times the page from inside (canvas draw
calls, DOM markers, the features responses, ``data-ready``). One unmeasured load per server and view
warms the server; the servers' loads then take turns in ``--repeat`` rounds, the order rotating each
round, so every size is measured under the same conditions and the ratios between sizes come from the
same run. Afterwards each of the view's features requests is timed alone against the idle server (the
server's own time, without the page's other requests beside it), and when a target is missed (or with
``--profile always``) py-spy samples the largest instance's server during a few more loads, and
Chromium's main-thread time per kind is reported (``Performance.getMetrics``).

Targets (the issue): the bytes before the first draw do not depend on the number of zones (100k / 1k
within 1.1×), and the first features are drawn in under 1 s (median) at 100k.

    .venv/bin/python benchmarks/bench_first_draw.py --backend sqlite --repeat 15
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from importlib.metadata import version
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE.parent), str(HERE)]

import backends  # noqa: E402
import first_draw_report as report  # noqa: E402
import instances  # noqa: E402
import results  # noqa: E402
from first_draw_probe import Load, load_once  # noqa: E402
from generate import CENTRE  # noqa: E402

BIN = Path(sys.executable).parent
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
# The flags of tests/e2e/conftest.py: Chromium tries to reach Google's services at start.
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
COUNTY_ZOOM = 11  # about 0.8° × 0.4° in the page's map (992 × 752 px): the size of a county
TARGET_BYTES_RATIO = 1.1
TARGET_FIRST_DRAW_MS = 1000.0


class OneMapServer:
    """``onemap serve`` for one instance on a free local port, in its own session (stopped by its pid)."""

    def __init__(self, backend: str, n: int, env: dict, built: dict, logs: Path):
        self.backend, self.n, self.built = backend, n, built
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        self.base = f"http://127.0.0.1:{self.port}"
        self.log = logs / f"serve-{backend}-{n}.log"
        settings = backends.onemap_env(env) | {"ONEMAP_BASEMAP": "none"}
        with self.log.open("w") as out:
            self.process = subprocess.Popen(
                [str(BIN / "onemap"), "serve", "--host", "127.0.0.1", "--port", str(self.port)],
                env=dict(os.environ, **settings), stdout=out, stderr=subprocess.STDOUT,
                start_new_session=True)
        self.storage_state: dict = {}

    @property
    def label(self) -> str:
        return f"{backends.LABELS[self.backend]} {report.size_label(self.n)}"

    def wait_ready(self, timeout: float = 300) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and self.process.poll() is None:
            with contextlib.suppress(OSError):
                if self.get("/healthz")[0] == 200:
                    return
            time.sleep(0.3)
        raise RuntimeError(f"{self.label}: the server did not start:\n{self.log.read_text()[-2000:]}")

    def get(self, path: str, cookie: str = "") -> tuple[int, bytes]:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=120)
        try:
            conn.request("GET", path, headers={"Cookie": cookie} if cookie else {})
            response = conn.getresponse()
            return response.status, response.read()
        finally:
            conn.close()

    def cookie(self) -> str:
        return "; ".join(f"{c['name']}={c['value']}" for c in self.storage_state["cookies"])

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)  # the session started for this server
                self.process.wait()


def log_in(browser, server: OneMapServer) -> None:
    """The login form, once; the session cookie is kept for every measured load."""
    context = browser.new_context()
    try:
        page = context.new_page()
        page.goto(server.base + "/login")
        page.fill("input[name=username]", instances.USERS["planner"])
        page.fill("input[name=password]", instances.PASSWORD)
        page.click("button[type=submit]")
        page.wait_for_url(lambda url: "/login" not in url)
        server.storage_state = context.storage_state()
    finally:
        context.close()


def views() -> dict[str, str]:
    lon, lat = CENTRE
    return {"jinzhou": "/", "county": f"/?view={COUNTY_ZOOM}/{lat}/{lon}"}


def measure_rounds(browser, servers: list[OneMapServer], repeat: int) -> dict[tuple, list[Load]]:
    """Warm-up, then ``repeat`` rounds over every server and view, the server order rotating."""
    loads: dict[tuple, list[Load]] = {(s.backend, s.n, v): [] for s in servers for v in views()}
    for server in servers:
        for path in views().values():
            load_once(browser, server.base, path, server.storage_state)
    for r in range(repeat):
        order = servers[r % len(servers):] + servers[:r % len(servers)]
        for server in order:
            for view, path in views().items():
                load = load_once(browser, server.base, path, server.storage_state)
                if load.foreign:
                    raise RuntimeError(f"{server.label} {view}: requests to another host: {load.foreign[:5]}")
                if not load.cold:
                    raise RuntimeError(f"{server.label} {view}: a response came from the browser's cache")
                loads[(server.backend, server.n, view)].append(load)
        print(f"round {r + 1}/{repeat} done", flush=True)
    return loads


def server_alone(servers: list[OneMapServer], loads: dict[tuple, list[Load]], repeat: int) -> dict:
    """Each of the view's features requests (and the counties) timed alone, to the last byte: median ms."""
    timed: dict[tuple, dict[str, float]] = {}
    for server in servers:
        for view in views():
            last = loads[(server.backend, server.n, view)][-1]
            urls = {"counties": "/api/v1/counties"} | {layer: r["url"] for layer, r in last.final.items()}
            row = {}
            for name, url in urls.items():
                seconds = []
                for _ in range(repeat):
                    started = time.perf_counter()
                    status, _ = server.get(url, server.cookie())
                    seconds.append(time.perf_counter() - started)
                    if status != 200:
                        raise RuntimeError(f"{server.label}: {url} answered {status}")
                row[name] = results.stats_ms(seconds)["median"]
            timed[(server.backend, server.n, view)] = row
    return timed


def spy(browser, server: OneMapServer, path: str, loads: int, work: Path) -> list[str]:
    """py-spy on the server (idle threads left out) during ``loads`` more cold loads of ``path``."""
    if not (BIN / "py-spy").exists():
        return []
    out = work / f"spy-{server.backend}-{server.n}.txt"
    sampler = subprocess.Popen([str(BIN / "py-spy"), "record", "--pid", str(server.process.pid), "--threads",
                                "--format", "raw", "-r", "200", "-o", str(out)],
                               stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
    try:
        time.sleep(1.0)  # py-spy attaches
        for _ in range(loads):
            load_once(browser, server.base, path, server.storage_state)
    finally:
        sampler.send_signal(signal.SIGINT)
        sampler.wait(timeout=60)
    return out.read_text().splitlines() if out.exists() else []


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--zones", type=int, nargs="+", default=list(instances.SIZES.values()),
                        help="zone counts (default 1000 10000 100000); the smallest is the ratios' baseline")
    parser.add_argument("--repeat", type=int, default=15, help="measured loads per size, view and backend")
    parser.add_argument("--alone-repeat", type=int, default=10, help="times each request is timed alone")
    parser.add_argument("--work", type=Path, default=Path("/tmp/onemap-bench-first-draw"),
                        help="where the instances are built and kept (the SQLite ones are reused)")
    parser.add_argument("--out", type=Path, default=HERE / "RESULTS.md")
    parser.add_argument("--profile", choices=("auto", "always", "never"), default="auto",
                        help="py-spy on the largest server: when a target is missed (auto), always or never")
    parser.add_argument("--seed", type=int, default=instances.SEED)
    backends.add_arguments(parser)
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if CHROMIUM is None:
        raise SystemExit("Chromium is not installed (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    started = time.perf_counter()
    names = backends.chosen(args)
    sizes = sorted(args.zones)
    postgres = backends.PostgisServer(args.postgres) if "postgis" in names else None
    machine = results.machine()
    r: dict = {"machine": machine, "repeat": args.repeat, "sizes": sizes, "backends": names, "views": views(),
               "targets": {"bytes_ratio": TARGET_BYTES_RATIO, "first_draw_ms": TARGET_FIRST_DRAW_MS}}
    logs = Path(tempfile.mkdtemp(prefix="onemap-bench-first-draw-logs-"))
    try:
        with contextlib.ExitStack() as stack:
            servers = []
            for backend in names:
                for n in sizes:
                    folder = args.work / str(n) / backend
                    if backend == "postgis":
                        shutil.rmtree(folder, ignore_errors=True)  # its database is new: so is the instance
                    env = stack.enter_context(backends.instance_env(backend, folder, postgres, "first_draw"))
                    if env["database"]:
                        machine |= postgres.describe(env["database"])
                    t0 = time.perf_counter()
                    built = instances.build(backends.onemap_env(env), n, seed=args.seed)
                    print(f"{backends.LABELS[backend]} {n:,} zones ready ({time.perf_counter() - t0:.0f} s)",
                          flush=True)
                    server = OneMapServer(backend, n, env, built, logs)
                    stack.callback(server.stop)
                    servers.append(server)
            for server in servers:
                server.wait_ready()
            with sync_playwright() as p:
                browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
                machine["Chromium (headless) / Playwright"] = f"{browser.version} / {version('playwright')}"
                for server in servers:
                    log_in(browser, server)
                loads = measure_rounds(browser, servers, args.repeat)
                r["loads"] = loads
                r["alone"] = server_alone(servers, loads, args.alone_repeat)
                r["summary"] = report.summarise(r)
                missed = not all(t["met"] for t in r["summary"]["targets"])
                r["spy"] = {}
                if args.profile == "always" or (args.profile == "auto" and missed):
                    for backend in names:
                        largest = next(s for s in servers if s.backend == backend and s.n == sizes[-1])
                        view = report.slowest_view(r, backend)
                        r["spy"][backend] = (view, report.spy_summary(
                            spy(browser, largest, views()[view], 5, logs)))
                browser.close()
    finally:
        if postgres:
            postgres.close()
    r["runtime_s"] = time.perf_counter() - started
    machine["load average at the end"] = results.load_average()
    results.write_section(args.out, "first_draw", report.section(r))
    print(report.console(r))
    shutil.rmtree(logs, ignore_errors=True)
    return 0 if all(t["met"] for t in r["summary"]["targets"]) else 1


if __name__ == "__main__":
    sys.exit(main())
