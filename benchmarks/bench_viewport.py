"""Map viewport under load (benchmarks issue, workload "a"): OneMap beside pygeoapi on the same zones.

What is measured: requests per second, median and p95 latency (send to last byte) and errors of a
county-sized map view, 0.6° × 0.6° at zoom 10, centred in the generated dense area and moved by up to
±0.02° per request (fixed seed), asked by ``--clients`` concurrent keep-alive clients:

- OneMap: ``GET /api/v1/layers/sanitation_zones/features?bbox=…&zoom=10`` with a planner's Bearer
  token, served by ``onemap serve --workers 2`` (gunicorn), on SQLite and on PostGIS;
- pygeoapi: ``GET /collections/sanitation_zones/items?bbox=…&limit=…&f=json`` on the GeoPackage the
  OneMap instance was imported from (instances.zones_file), under gunicorn with the same 2 workers and
  threads, with ``limit`` equal to OneMap's cap on a view (geo.queries.MAX_VIEW_FEATURES), so that both
  return the same features.

How: per size (1k / 10k / 100k zones) the instances are built or reused (instances.build; PostGIS in a
throw-away database), every server is started, the feature counts of both are compared for the same
boxes, then each server gets a warm-up and ``--rounds`` rounds of ``--seconds`` each, interleaved with
the order rotating per round, so that all see the same machine noise. Ratios (OneMap / pygeoapi
requests per second, goal ≥ 5×; OneMap p95 / pygeoapi p95, goal ≤ 1/5) come from the same rounds. When
a goal is missed OneMap's workers are sampled with py-spy under the same load. The peer is set up in
``--work`` when missing (pygeoapi_peer.py). Writes the "viewport" section of RESULTS.md.

    python benchmarks/bench_viewport.py [--sizes 1k 10k 100k] [--seconds 15] [--rounds 3] [--backend both]
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import os
import random
import signal
import socket
import subprocess
import sys
import time
from collections import Counter
from importlib.metadata import version
from pathlib import Path
from urllib.parse import urlencode

import backends
import instances
import orjson
import pygeoapi_peer
import results
import viewport_load as load
import viewport_report as report
from generate import CENTRE

from geo.queries import MAX_VIEW_FEATURES

HERE, BIN = Path(__file__).resolve().parent, Path(sys.executable).parent
SIDE, JITTER, ZOOM = 0.6, 0.02, 10  # a county of Jinzhou is 0.6°–1° across; zoom 10 shows 0.6° in ~440 px
WORKERS, THREADS = 2, 8  # onemap serve's default threads per worker; pygeoapi gets the same
PEER = "pygeoapi"
FEATURES = f"/api/v1/layers/{instances.LAYER}/features"
ITEMS = f"/collections/{pygeoapi_peer.COLLECTION}/items"
SHIPPED = HERE.parent / "data" / "jinzhou" / f"{instances.LAYER}.geojson"  # also in every OneMap instance


def county_box(dx: float = 0.0, dy: float = 0.0) -> tuple[float, ...]:
    x, y = CENTRE[0] + dx, CENTRE[1] + dy
    return tuple(round(v, 6) for v in (x - SIDE / 2, y - SIDE / 2, x + SIDE / 2, y + SIDE / 2))


def views(count: int, seed: int) -> list[tuple[float, ...]]:
    """The fixed county box moved by up to ±JITTER in each direction, the same for the same seed."""
    rng = random.Random(seed)
    return [county_box(rng.uniform(-JITTER, JITTER), rng.uniform(-JITTER, JITTER)) for _ in range(count)]


def bbox_text(box) -> str:
    return ",".join(f"{v:.6f}" for v in box)


def onemap_path(box) -> str:
    return f"{FEATURES}?{urlencode({'bbox': bbox_text(box), 'zoom': ZOOM})}"


def peer_path(box, **extra) -> str:
    return f"{ITEMS}?{urlencode({'bbox': bbox_text(box), 'limit': MAX_VIEW_FEATURES, 'f': 'json', **extra})}"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """One server under test: its gunicorn process (own session), port, paths and request headers."""

    def __init__(self, name: str, argv: list, env: dict, port: int, log: Path, headers: dict, path,
                 database: str | None = None):
        self.name, self.port, self.log, self.headers, self.path = name, port, log, headers, path
        self.database = database
        with log.open("a") as out:
            self.process = subprocess.Popen([str(a) for a in argv], env=dict(os.environ, **env), stdout=out,
                                            stderr=subprocess.STDOUT, start_new_session=True, cwd=HERE.parent)

    @property
    def label(self) -> str:
        return PEER if self.name == PEER else f"OneMap {backends.LABELS[self.name]}"

    def pids(self) -> list[int]:
        return [self.process.pid, *results.children(self.process.pid)]

    def get(self, path: str) -> tuple[int, bytes]:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=600)
        try:
            conn.request("GET", path, headers=self.headers)
            response = conn.getresponse()
            return response.status, response.read()
        finally:
            conn.close()

    def wait_ready(self, timeout: float = 180) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and self.process.poll() is None:
            with contextlib.suppress(OSError):
                status, body = self.get(self.path(county_box()))
                if status == 200:
                    return
                raise RuntimeError(f"{self.label} answered {status}: {body[:300]!r}\n{self.log_tail()}")
            time.sleep(0.3)
        raise RuntimeError(f"{self.label} did not start:\n{self.log_tail()}")

    def log_tail(self) -> str:
        return self.log.read_text(errors="replace")[-3000:] if self.log.exists() else ""

    def close(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()  # the gunicorn master stops its workers
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)  # the session started for this server
                self.process.wait()


def gunicorn_conf(folder: Path) -> Path:
    """gunicorn ≥ 25.1 opens a control socket per user, which every server started here would share."""
    path = folder / "gunicorn-peer.conf.py"
    path.write_text("control_socket_disable = True\n")
    return path


def start_onemap(backend: str, env: dict, token: str, folder: Path) -> Server:
    port = free_port()
    argv = [BIN / "onemap", "serve", "--workers", WORKERS, "--threads", THREADS, "--port", port]
    return Server(backend, argv, backends.onemap_env(env), port, folder / f"onemap-{backend}.log",
                  {"Authorization": f"Bearer {token}"}, onemap_path, env["database"])


def start_peer(args, zones_file: Path, n: int, folder: Path) -> Server:
    port = free_port()
    argv, env = pygeoapi_peer.prepare(args.work, zones_file, SHIPPED, n, port, MAX_VIEW_FEATURES, say=say)
    argv[1:1] = ["-w", WORKERS, "-k", "gthread", "--threads", THREADS, "-b", f"127.0.0.1:{port}",
                 "-c", gunicorn_conf(folder)]
    return Server(PEER, argv, env, port, folder / "pygeoapi.log", {}, peer_path)


def _names(body: dict) -> Counter:
    return Counter(f["properties"].get("name") for f in body["features"])


def _vertices(body: dict) -> float:
    counts = [sum(len(ring) for ring in f["geometry"]["coordinates"]) for f in body["features"]
              if f["geometry"] and f["geometry"]["type"] == "Polygon"]
    return sum(counts) / max(1, len(counts))


def peer_answers(peer: Server, boxes: list) -> list[tuple[bytes, int]]:
    """pygeoapi's items and its count of matching zones (``resulttype=hits``) for each box."""
    return [(peer.get(peer_path(box))[1], orjson.loads(peer.get(peer_path(box, resulttype="hits"))[1])[
        "numberMatched"]) for box in boxes]


def count_check(onemap: Server, peer: list[tuple[bytes, int]], boxes: list) -> list[dict]:
    """For each box: OneMap's matched / returned features beside pygeoapi's hits / returned ones, whether
    both returned the same zones (by name, as a multiset), vertices per zone and bytes per answer."""
    rows = []
    for box, (peer_raw, hits) in zip(boxes, peer, strict=True):
        mine_raw = onemap.get(onemap_path(box))[1]
        mine, theirs = orjson.loads(mine_raw), orjson.loads(peer_raw)
        # a truncated view does not read past the cap, so OneMap does not know how many more there are
        rows.append({"box": bbox_text(box), "matched": mine.get("numberMatched"),
                     "returned": len(mine["features"]), "truncated": mine["truncated"], "peer_hits": hits,
                     "peer_returned": len(theirs["features"]), "same_names": _names(mine) == _names(theirs),
                     "vertices": _vertices(mine), "peer_vertices": _vertices(theirs), "bytes": len(mine_raw),
                     "peer_bytes": len(peer_raw)})
    return rows


def run_rounds(servers: dict[str, Server], paths: dict, args, postgres) -> list[dict]:
    """Each server once per round; the order rotates, so each takes each place in turn."""
    phases, order = [], list(servers)
    for number in range(1, args.rounds + 1):
        shift = (number - 1) % len(order)
        for name in order[shift:] + order[:shift]:
            phase = measure(servers[name], paths[name], args, args.seconds, postgres)
            phase.update(round=number, server=name)
            phases.append(phase)
            say(report.progress(phase, servers[name].label))
    return phases


def measure(server: Server, paths: list[str], args, seconds: float, postgres) -> dict:
    db_pids = (lambda: postgres.backend_pids(server.database)) if server.database else (lambda: [])
    return load.run(server.port, paths, server.headers, clients=args.clients, procs=args.client_procs,
                    seconds=seconds, server_pids=server.pids, db_pids=db_pids)


def spy(server: Server, paths: list[str], args, folder: Path, postgres) -> dict | None:
    """py-spy (non-blocking, 100 Hz) on each OneMap worker during one more round of the same load."""
    if not (BIN / "py-spy").exists():
        return None
    outs = {pid: folder / f"spy-{server.name}-{pid}.txt" for pid in results.children(server.process.pid)}
    spies = [subprocess.Popen([str(BIN / "py-spy"), "record", "--pid", str(pid), "--nonblocking",
                               "--format", "raw", "-r", "100", "-d", str(int(args.seconds + 3)),
                               "-o", str(out)],
                              stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
             for pid, out in outs.items()]
    phase = measure(server, paths, args, args.seconds, postgres)
    for process in spies:
        process.wait(timeout=120)
    lines = [line for out in outs.values() if out.exists() for line in out.read_text().splitlines()]
    return {"rps": phase["rps"], **report.spy_summary(lines)} if lines else None


def run_size(size: str, args, postgres, names: list[str], info: dict) -> dict:
    """Build or reuse the instances of one size, serve them beside pygeoapi, check counts, run rounds."""
    n = instances.SIZES[size]
    folder = args.work / "runs" / size
    folder.mkdir(parents=True, exist_ok=True)
    boxes = views(64, args.seed)
    out: dict = {"size": size, "n": n, "build": {}}
    with contextlib.ExitStack() as stack:
        servers: dict[str, Server] = {}
        for backend in names:
            env = stack.enter_context(backends.instance_env(
                backend, args.work / "instances" / f"{backend}-{size}", postgres, "viewport"))
            if env["database"]:
                info |= postgres.describe(env["database"])
            started = time.monotonic()
            built = instances.build(env, n)
            out["build"][backend] = {"seconds": time.monotonic() - started, "import_s": built["import_s"]}
            say(f"{size} {backends.LABELS[backend]}: instance ready in {time.monotonic() - started:.0f} s")
            servers[backend] = stack.enter_context(contextlib.closing(
                start_onemap(backend, env, built["tokens"]["planner"], folder)))
        servers[PEER] = stack.enter_context(contextlib.closing(
            start_peer(args, Path(built["zones_file"]), n, folder)))
        for server in servers.values():
            server.wait_ready()
        checked = [county_box(), *boxes[:4]]
        peer = peer_answers(servers[PEER], checked)
        out["counts"] = {b: count_check(servers[b], peer, checked) for b in names}
        say(report.counts_line(size, out["counts"]))
        paths = {name: [server.path(box) for box in boxes] for name, server in servers.items()}
        for name, server in servers.items():
            warm = measure(server, paths[name], args, args.warmup, postgres)
            say(f"warm-up {server.label}: {warm['done']} answers, errors: {dict(warm['errors']) or 'none'}")
        out["phases"] = run_rounds(servers, paths, args, postgres)
        out["summary"] = report.summarise(out["phases"], names)
        out["spy"] = {}
        for backend in names:
            if args.profile == "always" or (args.profile == "auto" and not out["summary"][backend]["ok"]):
                say(f"profiling {servers[backend].label} at {size}: py-spy on its workers …")
                out["spy"][backend] = spy(servers[backend], paths[backend], args, folder, postgres)
    return out


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", nargs="+", choices=list(instances.SIZES), default=list(instances.SIZES))
    parser.add_argument("--seconds", type=float, default=15, help="measured seconds per server per round")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--warmup", type=float, default=4, help="seconds of load per server before round 1")
    parser.add_argument("--clients", type=int, default=8, help="concurrent keep-alive clients")
    parser.add_argument("--client-procs", type=int, default=2, help="client processes sharing the clients")
    parser.add_argument("--profile", choices=("auto", "always", "never"), default="auto")
    parser.add_argument("--work", type=Path, default=Path("/tmp/onemap-bench"),
                        help="instances, the pygeoapi virtualenv and its configuration (kept between runs)")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--out", type=Path, default=HERE / "RESULTS.md")
    backends.add_arguments(parser)
    return parser.parse_args(argv)


def say(message: str) -> None:
    print(message, flush=True)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    args.work = args.work.resolve()
    names = backends.chosen(args)
    postgres = backends.PostgisServer(args.postgres) if "postgis" in names else None
    started, info = time.monotonic(), results.machine()
    info["gunicorn / orjson"] = f"{version('gunicorn')} / {version('orjson')}"
    pygeoapi_peer.ensure_spatialite(say)
    peer = pygeoapi_peer.versions(pygeoapi_peer.ensure_venv(args.work / "pygeoapi-venv", say))
    info["peer: pygeoapi / gunicorn / Flask"] = f"{peer['pygeoapi']} / {peer['gunicorn']} / {peer['flask']}"
    info["peer: Python / SpatiaLite"] = f"{peer['python']} (Debian's /usr/bin/python3) / {peer['spatialite']}"
    try:
        runs = [run_size(size, args, postgres, names, info) for size in args.sizes]
    finally:
        if postgres:
            postgres.close()
    info["load average at the end"] = results.load_average()
    minutes = (time.monotonic() - started) / 60
    body = report.markdown(args, info, runs, names, minutes, setup={
        "side": SIDE, "jitter": JITTER, "zoom": ZOOM, "cap": MAX_VIEW_FEATURES, "workers": WORKERS,
        "threads": THREADS})
    results.write_section(args.out, "viewport", body)
    say("\n" + report.console(runs, names, minutes))
    return 0 if all(run["summary"][b]["ok"] for run in runs for b in names) else 1


if __name__ == "__main__":
    sys.exit(main())
