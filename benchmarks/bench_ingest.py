"""Report ingest (issue #4): reports/s and latency with one ~300 KB photo from 16 concurrent clients.

Builds a fresh OneMap instance, serves it with gunicorn (2 workers) next to the bare
Flask + SQLite endpoint of bare_ingest.py (gunicorn, 2 workers), posts the same
multipart report (fresh uuid each) to both in interleaved rounds, checks that OneMap
stored exactly what it acknowledged and made every derived photo copy, and when
OneMap misses the goal (≥ half the bare throughput) profiles it: py-spy on the
workers under the same load, cProfile on one request in-process. See README.md.

    python benchmarks/bench_ingest.py [--clients 16] [--seconds 20] [--rounds 3]
"""

from __future__ import annotations

import argparse
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

import ingest_report as report
import numpy as np
import results
from PIL import Image

HERE, BIN = Path(__file__).resolve().parent, Path(sys.executable).parent
CHECKLIST = dict.fromkeys(("swept_clean", "neatly_stacked", "ditches_cleared", "waste_converted"), "pass")
HOOKS = {"OneMap": "from webapp.cli import prepare_for_serving\n    prepare_for_serving()",
         "bare": "import gc\n    gc.collect()\n    gc.freeze()"}


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


def build_onemap(instance: Path) -> tuple[str, int, dict]:
    """init_instance, a grid worker with one village zone and a token; a GPS fix inside the zone."""
    from geo import services
    from webapp.cli import init_instance
    from webapp.settings import load_config

    store, _ = init_instance(load_config(env={"ONEMAP_INSTANCE": str(instance)}))
    now = datetime.now(UTC)
    with store.unit_of_work(write=True) as uow:
        services.add_user("bench-worker", "worker", "benchmark password 1", uow=uow, actor="bench", now=now)
    with store.unit_of_work(write=True) as uow:
        site = next(uow.sites.find(layer_id="sanitation_zones"))
        services.assign_sites("bench-worker", [site.id], uow=uow, actor="bench", now=now)
        token = services.issue_token("bench-worker", uow=uow, actor="bench", now=now)
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


def start_gunicorn(name: str, spec: str, chdir: Path, env: dict, tmp: Path) -> tuple[subprocess.Popen, int]:
    """gunicorn -w 2 -k gthread on a free port; the post_worker_init hook is in a config file (-c)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    conf, log = tmp / f"gunicorn-{name}.conf.py", tmp / f"gunicorn-{name}.log"
    conf.write_text(f"control_socket_disable = True\n\n\ndef post_worker_init(worker):\n    {HOOKS[name]}\n")
    with log.open("a") as out:
        command = [str(BIN / "gunicorn"), "-w", "2", "-k", "gthread", "--threads", str(THREADS),
                   "-b", f"127.0.0.1:{port}", "-c", str(conf), "--chdir", str(chdir), spec]
        process = subprocess.Popen(command, env=dict(os.environ, **env), stdout=out, stderr=subprocess.STDOUT,
                                   start_new_session=True)
    return process, port


def wait_ready(server: tuple[subprocess.Popen, int], req: Request, timeout: float = 180) -> str:
    """Post single reports until one is acknowledged (the workers import and build the app first)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and server[0].poll() is None:
        report_uuid, conn = str(uuid.uuid4()), http.client.HTTPConnection("127.0.0.1", server[1], timeout=120)
        try:
            conn.request("POST", req.path, req.body(report_uuid), req.headers)
            response = conn.getresponse()
            if response.status == 201:
                return report_uuid
            raise RuntimeError(f"first report answered {response.status}: {response.read()[:300]!r}")
        except OSError:
            time.sleep(0.2)
        finally:
            conn.close()
    raise RuntimeError("the server did not answer (see its gunicorn log)")


def stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.terminate()  # graceful: the master stops its workers
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)  # the session this script started for it
            process.wait()


def _stat(pid: int) -> list[str]:
    with open(f"/proc/{pid}/stat") as f:
        return f.read().rsplit(")", 1)[1].split()


def workers(master: int) -> list[int]:
    found = []
    for path in Path("/proc").glob("[0-9]*"):
        try:
            found += [int(path.name)] if int(_stat(int(path.name))[1]) == master else []
        except OSError:
            continue
    return found


def server_cpu(master: int) -> float:
    """CPU seconds used so far by a gunicorn master and its workers (all their threads)."""
    fields = [_stat(pid) for pid in [master, *workers(master)]]
    return sum(int(f[11]) + int(f[12]) for f in fields) / os.sysconf("SC_CLK_TCK")


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


def run_load(server: tuple[subprocess.Popen, int], req: Request, args, seconds: float) -> dict:
    """``args.clients`` threads spread over ``args.client_procs`` processes post for ``seconds``."""
    (process, port), context = server, multiprocessing.get_context("fork")
    queue, start = context.Queue(), time.monotonic() + 0.5
    end, n, procs = start + seconds, args.clients, args.client_procs
    children = [context.Process(target=_client_process, args=(port, req, n // procs + (i < n % procs), start,
                                                              end, queue)) for i in range(procs)]
    for child in children:
        child.start()
    time.sleep(max(0.0, start - time.monotonic()))
    cpu0 = server_cpu(process.pid)
    time.sleep(max(0.0, end - time.monotonic()))
    cpu1 = server_cpu(process.pid)
    collected = [queue.get() for _ in children]
    for child in children:
        child.join()
    rows = [row for part, _ in collected for row in part]
    ok = [row for row in rows if row[2] == 201 and row[1] <= end]  # answered within the window
    return {"done": len(ok), "rps": len(ok) / seconds, "lat": [row[1] - row[0] for row in ok],
            "errors": Counter((r[2], r[4].decode("utf-8", "replace")) for r in rows if r[2] != 201),
            "acked": {row[3] for row in rows if row[2] == 201}, "cpu0": cpu0, "seconds": seconds,
            "server_cores": (cpu1 - cpu0) / seconds,
            "client_cores": sum(cpu for _, cpu in collected) / (time.monotonic() - start)}


def onemap_counts(instance: Path) -> dict:
    db = sqlite3.connect(f"file:{instance / 'onemap.db'}?mode=ro", uri=True)
    photos = db.execute("SELECT count(*) FROM photos").fetchone()[0]
    uuids = {row[0] for row in db.execute("SELECT uuid FROM reports")}
    db.close()
    names = [p.name for p in (instance / "media" / "photos").rglob("*") if p.is_file()]
    return {"reports": len(uuids), "photos": photos, "uuids": uuids,
            "originals": sum(".original." in n for n in names),
            "derived": sum(n.endswith((".display.jpg", ".thumbnail.jpg")) for n in names)}


def wait_derived(instance: Path, timeout: float = 900) -> float | None:
    """Seconds until every stored photo has its shown copy and thumbnail (None: not within ``timeout``)."""
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout:
        counts = onemap_counts(instance)
        if counts["derived"] >= 2 * counts["photos"]:
            return time.monotonic() - t0
        time.sleep(0.25)
    return None


def spy_phase(server, req: Request, args, tmp: Path) -> dict | None:
    """The same load on OneMap with py-spy sampling both workers (idle and waiting included)."""
    if not (BIN / "py-spy").exists():
        return None
    outs = {pid: tmp / f"spy-{pid}.txt" for pid in workers(server[0].pid)}
    spies = [subprocess.Popen([str(BIN / "py-spy"), "record", "--pid", str(pid), "--idle", "--threads",
                               "--format", "raw", "-r", "100", "-d", str(int(args.seconds)), "-o", str(out)],
                              stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
             for pid, out in outs.items()]
    phase = run_load(server, req, args, args.seconds)
    for spy in spies:
        spy.wait(timeout=120)
    samples = report.spy_stages([line for out in outs.values() if out.exists()
                                 for line in out.read_text().splitlines()])
    return {"samples": samples, "rps": phase["rps"]} if samples["main"] else None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--client-procs", type=int, default=2, help="client processes sharing the threads")
    parser.add_argument("--seconds", type=float, default=20, help="per server per round")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--warmup", type=float, default=5, help="seconds of load per server before round 1")
    parser.add_argument("--profile", choices=("auto", "always", "never"), default="auto")
    parser.add_argument("--out", type=Path, default=HERE / "RESULTS.md")
    args = parser.parse_args(argv)
    started, info, photo = time.monotonic(), results.machine(), make_photo()
    info["gunicorn / Pillow"] = f"{version('gunicorn')} / {version('pillow')}"
    info["OneMap code"] = report.code_version(HERE.parent)
    print(f"photo: 1600 x 1200 JPEG, quality {photo[1]}, {len(photo[0]):,} bytes", flush=True)
    servers: dict[str, tuple[subprocess.Popen, int]] = {}
    with tempfile.TemporaryDirectory(prefix="bench-ingest-") as folder:
        tmp, phases, spy, prof = Path(folder), [], None, None
        instance = tmp / "instance"
        try:
            token, site_id, gps = build_onemap(instance)
            reqs = {name: Request(site_id, gps, photo[0], token if name == "OneMap" else None)
                    for name in ("OneMap", "bare")}
            servers["OneMap"] = start_gunicorn("OneMap", "webapp:create_app()", HERE.parent,
                                               {"ONEMAP_INSTANCE": str(instance)}, tmp)
            servers["bare"] = start_gunicorn("bare", "bare_ingest:create_app()", HERE,
                                             {"ONEMAP_BARE_DIR": str(tmp / "bare")}, tmp)
            acked = {name: {wait_ready(servers[name], reqs[name])} for name in servers}
            for name in servers:
                warm = run_load(servers[name], reqs[name], args, args.warmup)
                acked[name] |= warm["acked"]
                print(f"warm-up {name}: {warm['done']} reports, errors: {dict(warm['errors']) or 'none'}")
            wait_derived(instance)
            for number in range(1, args.rounds + 1):
                for name in ("OneMap", "bare") if number % 2 else ("bare", "OneMap"):
                    p = run_load(servers[name], reqs[name], args, args.seconds)
                    drain = wait_derived(instance) if name == "OneMap" else 0.0
                    p.update(round=number, server=name, drain=drain)
                    p["cpu_total"] = server_cpu(servers[name][0].pid) - p["cpu0"]
                    acked[name] |= p["acked"]
                    phases.append(p)
                    print(report.progress(p), flush=True)
            wait_derived(instance)
            bare_db = sqlite3.connect(tmp / "bare" / "bare.db")
            checks = {"onemap": onemap_counts(instance), "acked": acked,
                      "bare": bare_db.execute("SELECT count(*) FROM reports").fetchone()[0],
                      "bare_files": sum(1 for _ in (tmp / "bare" / "photos").iterdir())}
            bare_db.close()
            summary = report.summarise(phases, checks)
            profiling = args.profile == "always" or (args.profile == "auto" and summary["ratio"] < 0.5)
            if profiling:
                print("profiling: py-spy on OneMap's workers under the same load …", flush=True)
                spy = report.attempt(spy_phase, servers["OneMap"], reqs["OneMap"], args, tmp)
                wait_derived(instance)
        finally:
            for process, _ in servers.values():
                stop(process)
        if profiling:
            print("profiling: one request in-process (cProfile) …", flush=True)
            prof = report.attempt(report.profile_request, instance, reqs["OneMap"], 40)
    info["load average at the end"] = results.load_average()
    minutes = (time.monotonic() - started) / 60
    body = report.markdown(args, info, photo, phases, summary, checks, spy, prof, minutes, THREADS)
    results.write_section(args.out, "report-ingest", body)
    print("\n" + body.split("### Setup")[0] + "### Results" + body.split("### Results", 1)[1])
    return 0 if summary["ratio"] >= 0.5 and summary["consistent"] else 1


if __name__ == "__main__":
    sys.exit(main())
