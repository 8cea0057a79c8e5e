"""Report ingest (issue #4): reports/s and latency with one ~300 KB photo from 16 concurrent clients.

Builds a fresh OneMap instance on each backend asked for (SQLite in the instance
folder, PostGIS in a throw-away database), serves each with gunicorn (2 workers) next
to the bare Flask + SQLite endpoint of bare_ingest.py (gunicorn, 2 workers), the peer
of both, posts the same multipart report (fresh uuid each) to every server in
interleaved rounds, checks through the store (SQLAlchemy) that OneMap stored exactly
what it acknowledged and made every derived photo copy, and when OneMap misses the goal
(≥ half the bare throughput) on a backend profiles it there: py-spy on the workers under
the same load, cProfile on one request in-process. See README.md.

    python benchmarks/bench_ingest.py [--clients 16] [--seconds 20] [--rounds 3] [--backend both]
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import io
import json
import multiprocessing
import os
import resource
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from datetime import UTC, datetime
from importlib.metadata import version
from pathlib import Path

import backends
import ingest_report as report
import numpy as np
import results
import sqlalchemy as sa
from PIL import Image

from geo import accounts
from geo.access import system_user
from geo.storage import open_store
from geo.storage import schema as t

HERE, BIN = Path(__file__).resolve().parent, Path(sys.executable).parent
CHECKLIST = dict.fromkeys(("swept_clean", "neatly_stacked", "ditches_cleared", "waste_converted"), "pass")
HOOKS = {"onemap": "from webapp.cli import prepare_for_serving\n    prepare_for_serving()",
         "bare": "import gc\n    gc.collect()\n    gc.freeze()"}
BARE = "bare"  # the peer's key beside the backends' ("sqlite", "postgis")


def make_photo(target: int = 300_000, size=(1600, 1200), seed: int = 4) -> tuple[bytes, int]:
    """Photo-like JPEG (smooth colour fields + sensor-like noise) at the quality nearest ``target`` bytes."""
    rng = np.random.default_rng(seed)
    small = Image.fromarray(rng.integers(0, 256, (size[1] // 40, size[0] // 40, 3), dtype=np.uint8))
    base = np.asarray(small.resize(size, Image.Resampling.BICUBIC), dtype=np.float32)
    image = Image.fromarray(np.clip(base + rng.normal(0, 4, base.shape), 0, 255).astype(np.uint8))

    def encoded(quality: int) -> bytes:
        buffer = io.BytesIO()
        image.save(buffer, "JPEG", quality=quality)
        return buffer.getvalue()

    best = min(range(50, 96), key=lambda q: abs(len(encoded(q)) - target))
    return encoded(best), best


def build_onemap(env: dict) -> tuple[str, int, dict]:
    """init_instance, a grid worker with one village zone and a token; a GPS fix inside the zone."""
    from geo import services
    from webapp.cli import init_instance
    from webapp.settings import load_config

    store, _ = init_instance(load_config(env=backends.onemap_env(env)))
    now = datetime.now(UTC)
    with store.unit_of_work(write=True) as uow:
        services.add_user("bench-worker", "worker", "benchmark password 1", uow=uow,
                          user=system_user("bench"), now=now)
    with store.unit_of_work(write=True) as uow:
        site = next(uow.sites.find(layer_id="sanitation_zones"))
        accounts.assign_sites("bench-worker", [site.id], uow=uow, user=system_user("bench"), now=now)
        token = services.issue_token("bench-worker", uow=uow, user=system_user("bench"), now=now)
    store.close()
    point = site.geometry.representative_point()
    return token, site.id, {"lat": point.y, "lon": point.x, "accuracy": 8}


class Request:
    """The issue's multipart report: part `report` (JSON), part `photos`; ``body()`` with a fresh uuid."""

    def __init__(self, site_id: int, gps: dict, photo: bytes, token: str | None):
        b = uuid.uuid4().hex
        self.path = f"/api/v1/sites/{site_id}/reports"
        self.headers = {"Content-Type": f"multipart/form-data; boundary={b}"}
        self.headers |= {"Authorization": f"Bearer {token}"} if token else {}
        self.template = {"checklist": CHECKLIST, "metrics": {"person_times": 10}, "gps": gps,
                         "note": "村口已清理"}
        self.head = f'--{b}\r\nContent-Disposition: form-data; name="report"\r\n\r\n'.encode()
        self.tail = (f'\r\n--{b}\r\nContent-Disposition: form-data; name="photos"; filename="p.jpg"\r\n'
                     f"Content-Type: image/jpeg\r\n\r\n").encode() + photo + f"\r\n--{b}--\r\n".encode()

    def body(self, report_uuid: str) -> bytes:
        observed = datetime.now(UTC).astimezone().isoformat()
        report = dict(self.template, uuid=report_uuid, observed_at=observed)
        return self.head + json.dumps(report, ensure_ascii=False).encode() + self.tail


THREADS = 4  # per worker: gthread workers overlap one request's fsync with another's work


def start_gunicorn(name: str, spec: str, chdir: Path, env: dict,
                   tmp: Path) -> tuple[subprocess.Popen, int, Path]:
    """gunicorn -w 2 -k gthread on a free port: (process, port, log file); the post_worker_init hook
    is in a config file (-c)."""
    hook = HOOKS[BARE if name == BARE else "onemap"]
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    conf, log = tmp / f"gunicorn-{name}.conf.py", tmp / f"gunicorn-{name}.log"
    conf.write_text(f"control_socket_disable = True\n\n\ndef post_worker_init(worker):\n    {hook}\n")
    with log.open("a") as out:
        command = [str(BIN / "gunicorn"), "-w", "2", "-k", "gthread", "--threads", str(THREADS),
                   "-b", f"127.0.0.1:{port}", "-c", str(conf), "--chdir", str(chdir), spec]
        process = subprocess.Popen(command, env=dict(os.environ, **env), stdout=out, stderr=subprocess.STDOUT,
                                   start_new_session=True)
    return process, port, log


def wait_ready(server: Server, timeout: float = 180) -> str:
    """Post single reports until one is acknowledged (the workers import and build the app first)."""
    deadline, req = time.monotonic() + timeout, server.req
    while time.monotonic() < deadline and server.process.poll() is None:
        report_uuid = str(uuid.uuid4())
        conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=120)
        try:
            conn.request("POST", req.path, req.body(report_uuid), req.headers)
            response = conn.getresponse()
            if response.status == 201:
                return report_uuid
            raise RuntimeError(f"{server.label}: first report answered {response.status}: "
                               f"{response.read()[:300]!r}\n{server.log_tail()}")
        except OSError:
            time.sleep(0.2)
        finally:
            conn.close()
    raise RuntimeError(f"{server.label} did not answer:\n{server.log_tail()}")


def stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.terminate()  # graceful: the master stops its workers
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)  # the session this script started for it
            process.wait()


def server_cpu(master: int) -> float:
    """CPU seconds used so far by a gunicorn master and its workers."""
    return results.cpu_seconds([master, *results.children(master)])


class Server:
    """One gunicorn server under load: its process, port, request, and for OneMap its store and
    instance (checks) and, on PostGIS, the database whose server processes' CPU is counted too."""

    def __init__(self, name: str, process: tuple[subprocess.Popen, int, Path], req: Request,
                 env: dict | None = None, postgres: backends.PostgisServer | None = None):
        self.name, (self.process, self.port, self.log), self.req, self.env = name, process, req, env
        self.store = open_store(env["ONEMAP_DATABASE_URL"]) if env else None
        self.database = env["database"] if env else None
        self.postgres = postgres

    @property
    def label(self) -> str:
        return "bare" if self.name == BARE else f"OneMap on {backends.LABELS[self.name]}"

    def log_tail(self, chars: int = 4000) -> str:
        """The end of the server's gunicorn log (it lives in the temporary folder, gone after the run)."""
        return self.log.read_text(errors="replace")[-chars:] if self.log.exists() else ""

    def db_cpu(self) -> float:
        """CPU seconds of the PostgreSQL processes serving this instance's database (0 on SQLite)."""
        return results.cpu_seconds(self.postgres.backend_pids(self.database)) if self.database else 0.0

    def close(self) -> None:
        stop(self.process)
        if self.store:
            self.store.close()


def _client_thread(port: int, req: Request, start: float, end: float, rows: list) -> None:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    time.sleep(max(0.0, start - time.monotonic()))
    while time.monotonic() < end:
        report_uuid = str(uuid.uuid4())
        body, t0 = req.body(report_uuid), time.monotonic()
        try:
            conn.request("POST", req.path, body, req.headers)
            response = conn.getresponse()
            status, data = response.status, response.read()
            if response.will_close:  # gunicorn's sync workers close every connection
                conn.close()
        except (OSError, http.client.HTTPException) as exc:
            status, data = 0, repr(exc).encode()
            conn.close()
        rows.append((t0, time.monotonic(), status, report_uuid, b"" if status == 201 else data[:160]))
    conn.close()


def _client_process(port: int, req: Request, threads: int, start: float, end: float, queue) -> None:
    rows: list = []
    before = resource.getrusage(resource.RUSAGE_SELF)
    pool = [threading.Thread(target=_client_thread, args=(port, req, start, end, rows))
            for _ in range(threads)]
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join()
    after = resource.getrusage(resource.RUSAGE_SELF)
    queue.put((rows, after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime))


def run_load(server: Server, args, seconds: float) -> dict:
    """``args.clients`` threads spread over ``args.client_procs`` processes post for ``seconds``."""
    context, req = multiprocessing.get_context("fork"), server.req
    queue, start = context.Queue(), time.monotonic() + 0.5
    end, n, procs = start + seconds, args.clients, args.client_procs
    children = [context.Process(target=_client_process, args=(server.port, req, n // procs + (i < n % procs),
                                                              start, end, queue)) for i in range(procs)]
    for child in children:
        child.start()
    time.sleep(max(0.0, start - time.monotonic()))
    cpu0, db0 = server_cpu(server.process.pid), server.db_cpu()
    time.sleep(max(0.0, end - time.monotonic()))
    cpu1, db1 = server_cpu(server.process.pid), server.db_cpu()
    collected = [queue.get() for _ in children]
    for child in children:
        child.join()
    rows = [row for part, _ in collected for row in part]
    ok = [row for row in rows if row[2] == 201 and row[1] <= end]  # answered within the window
    return {"done": len(ok), "rps": len(ok) / seconds, "lat": [row[1] - row[0] for row in ok],
            "errors": Counter((r[2], r[4].decode("utf-8", "replace")) for r in rows if r[2] != 201),
            "acked": {row[3] for row in rows if row[2] == 201}, "cpu0": cpu0, "db0": db0, "seconds": seconds,
            "server_cores": (cpu1 - cpu0) / seconds, "db_cores": (db1 - db0) / seconds,
            "client_cores": sum(cpu for _, cpu in collected) / (time.monotonic() - start)}


def photo_count(store) -> int:
    with store.unit_of_work() as uow:
        return uow.connection.execute(sa.select(sa.func.count()).select_from(t.photos)).scalar_one()


def derived_files(instance: Path) -> list[str]:
    return [p.name for p in (instance / "media" / "photos").rglob("*") if p.is_file()]


def onemap_counts(server: Server) -> dict:
    """What the instance holds: reports (their uuids) and photo rows through the store, files on disk."""
    with server.store.unit_of_work() as uow:
        uuids = set(uow.connection.execute(sa.select(t.reports.c.uuid)).scalars())
    names = derived_files(Path(server.env["ONEMAP_INSTANCE"]))
    return {"reports": len(uuids), "photos": photo_count(server.store), "uuids": uuids,
            "originals": sum(".original." in n for n in names),
            "derived": sum(n.endswith((".display.jpg", ".thumbnail.jpg")) for n in names)}


def wait_derived(server: Server, timeout: float = 900) -> float | None:
    """Seconds until every stored photo has its shown copy and thumbnail (None: not within ``timeout``)."""
    t0, instance = time.monotonic(), Path(server.env["ONEMAP_INSTANCE"])
    while time.monotonic() - t0 < timeout:
        derived = sum(n.endswith((".display.jpg", ".thumbnail.jpg")) for n in derived_files(instance))
        if derived >= 2 * photo_count(server.store):
            return time.monotonic() - t0
        time.sleep(0.25)
    return None


def spy_phase(server: Server, args, tmp: Path) -> dict | None:
    """The same load on OneMap with py-spy sampling both workers (idle and waiting included); on PostGIS
    also what the database's sessions are doing."""
    if not (BIN / "py-spy").exists():
        return None
    outs = {pid: tmp / f"spy-{server.name}-{pid}.txt" for pid in results.children(server.process.pid)}
    spies = [subprocess.Popen([str(BIN / "py-spy"), "record", "--pid", str(pid), "--idle", "--threads",
                               "--format", "raw", "-r", "100", "-d", str(int(args.seconds)), "-o", str(out)],
                              stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
             for pid, out in outs.items()]
    with (server.postgres.session_states(server.database) if server.database
          else contextlib.nullcontext()) as sessions:
        phase = run_load(server, args, args.seconds)
    for spy in spies:
        spy.wait(timeout=120)
    samples = report.spy_stages([line for out in outs.values() if out.exists()
                                 for line in out.read_text().splitlines()])
    return {"samples": samples, "rps": phase["rps"], "sessions": sessions} if samples["main"] else None


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--client-procs", type=int, default=2, help="client processes sharing the threads")
    parser.add_argument("--seconds", type=float, default=20, help="per server per round")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--warmup", type=float, default=5, help="seconds of load per server before round 1")
    parser.add_argument("--profile", choices=("auto", "always", "never"), default="auto")
    parser.add_argument("--out", type=Path, default=HERE / "RESULTS.md")
    backends.add_arguments(parser)
    return parser.parse_args(argv)


def start_servers(stack: contextlib.ExitStack, names: list[str], photo: bytes, tmp: Path,
                  postgres: backends.PostgisServer | None, info: dict) -> dict[str, Server]:
    """A OneMap instance and server per backend, then the bare endpoint; stopped when ``stack`` closes."""
    servers: dict[str, Server] = {}
    for name in names:
        env = stack.enter_context(backends.instance_env(name, tmp / f"instance-{name}", postgres, "ingest"))
        if env["database"]:
            info |= postgres.describe(env["database"])
        token, site_id, gps = build_onemap(env)  # the same site and fix on every backend
        process = start_gunicorn(name, "webapp:create_app()", HERE.parent, backends.onemap_env(env), tmp)
        servers[name] = stack.enter_context(contextlib.closing(
            Server(name, process, Request(site_id, gps, photo, token), env, postgres)))
    bare_env = {"ONEMAP_BARE_DIR": str(tmp / "bare")}
    process = start_gunicorn(BARE, "bare_ingest:create_app()", HERE, bare_env, tmp)
    servers[BARE] = stack.enter_context(contextlib.closing(
        Server(BARE, process, Request(site_id, gps, photo, None))))
    return servers


def drain(server: Server) -> float:
    """OneMap: seconds until its photo threads have made every derived copy; the bare endpoint has none."""
    return 0.0 if server.name == BARE else wait_derived(server)


def run_rounds(servers: dict[str, Server], args, acked: dict) -> list[dict]:
    """``args.rounds`` rounds, each server once per round; the order rotates, so each takes each place."""
    phases, order = [], list(servers)
    for number in range(1, args.rounds + 1):
        shift = (number - 1) % len(order)
        for name in order[shift:] + order[:shift]:
            server = servers[name]
            p = run_load(server, args, args.seconds)
            p.update(round=number, server=name, drain=drain(server))
            p["cpu_total"] = server_cpu(server.process.pid) - p["cpu0"]
            p["db_total"] = server.db_cpu() - p["db0"]
            acked[name] |= p["acked"]
            phases.append(p)
            print(report.progress(p, server.label), flush=True)
    return phases


def check(servers: dict[str, Server], acked: dict, tmp: Path) -> dict:
    """What each OneMap instance stored (through its store) and what the bare endpoint stored."""
    bare_db = sqlite3.connect(tmp / "bare" / "bare.db")  # the peer's own file, not a OneMap instance
    checks = {"onemap": {name: onemap_counts(server) for name, server in servers.items() if name != BARE},
              "acked": acked, "bare": bare_db.execute("SELECT count(*) FROM reports").fetchone()[0],
              "bare_files": sum(1 for _ in (tmp / "bare" / "photos").iterdir())}
    bare_db.close()
    return checks


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    names = backends.chosen(args)
    postgres = backends.PostgisServer(args.postgres) if "postgis" in names else None
    started, info, photo = time.monotonic(), results.machine(), make_photo()
    info["gunicorn / Pillow"] = f"{version('gunicorn')} / {version('pillow')}"
    info["OneMap code"] = report.code_version(HERE.parent)
    print(f"photo: 1600 x 1200 JPEG, quality {photo[1]}, {len(photo[0]):,} bytes", flush=True)
    spy, prof = {}, {}
    with tempfile.TemporaryDirectory(prefix="bench-ingest-") as folder, contextlib.ExitStack() as stack:
        tmp = Path(folder)
        servers = start_servers(stack, names, photo[0], tmp, postgres, info)
        acked = {name: {wait_ready(server)} for name, server in servers.items()}
        for name, server in servers.items():
            warm = run_load(server, args, args.warmup)
            acked[name] |= warm["acked"]
            print(f"warm-up {server.label}: {warm['done']} reports, errors: {dict(warm['errors']) or 'none'}")
            drain(server)
        phases = run_rounds(servers, args, acked)
        checks = check(servers, acked, tmp)
        summary = report.summarise(phases, checks, names)
        slow = [n for n in names if args.profile == "always" or (args.profile == "auto"
                                                                 and summary[n]["ratio"] < 0.5)]
        for name in slow:
            print(f"profiling {servers[name].label}: py-spy on its workers under the same load …", flush=True)
            spy[name] = report.attempt(spy_phase, servers[name], args, tmp)
            wait_derived(servers[name])
        for server in servers.values():
            stop(server.process)  # the in-process profile runs alone; the databases live until the end
        for name in slow:
            print(f"profiling {servers[name].label}: one request in-process (cProfile) …", flush=True)
            prof[name] = report.attempt(report.profile_request, backends.onemap_env(servers[name].env),
                                        servers[name].req, 40)
    if postgres:
        postgres.close()
    info["load average at the end"] = results.load_average()
    minutes = (time.monotonic() - started) / 60
    body = report.markdown(args, info, photo, phases, summary, checks, spy, prof, minutes, THREADS)
    results.write_section(args.out, "report-ingest", body)
    print("\n" + body.split("### Setup")[0] + "### Results" + body.split("### Results", 1)[1])
    ok = all(summary[n]["ratio"] >= 0.5 and summary[n]["consistent"] for n in names)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
