"""The viewport benchmark's load: keep-alive HTTP clients in their own processes, and its numbers.

Each client thread holds one connection and asks the paths of its list in turn (the lists are the
same for every server, so each sees the same boxes in the same order). The threads live in forked
client processes, apart from the script, so that a client's Python never waits for another's GIL.

Only answers that arrive inside the measuring window count. Clients start ``ramp`` seconds before
it and the answers in flight at its end finish after it, so the window sees the server in its
steady state at both edges: answers per second is the server's throughput, not the clients' start.
"""

from __future__ import annotations

import http.client
import multiprocessing
import resource
import threading
import time
from collections import Counter

import numpy as np
from results import cpu_seconds


def _client_thread(port: int, paths: list[str], headers: dict, stop_at: float, rows: list) -> None:
    conn, i = http.client.HTTPConnection("127.0.0.1", port, timeout=600), 0
    while time.monotonic() < stop_at:
        path, i = paths[i % len(paths)], i + 1
        t0 = time.monotonic()
        try:
            conn.request("GET", path, headers=headers)
            response = conn.getresponse()
            status, body = response.status, response.read()
            if response.will_close:  # a server that does not keep connections open
                conn.close()
        except (OSError, http.client.HTTPException) as exc:
            status, body = 0, repr(exc).encode()
            conn.close()
        rows.append((t0, time.monotonic(), status, len(body), b"" if status == 200 else body[:200]))
    conn.close()


def _client_process(port: int, lists: list[list[str]], headers: dict, start: float, stop_at: float,
                    queue) -> None:
    rows: list = []
    before = resource.getrusage(resource.RUSAGE_SELF)
    time.sleep(max(0.0, start - time.monotonic()))
    threads = [threading.Thread(target=_client_thread, args=(port, paths, headers, stop_at, rows))
               for paths in lists]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    after = resource.getrusage(resource.RUSAGE_SELF)
    queue.put((rows, after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime))


def run(port: int, paths: list[str], headers: dict, *, clients: int, procs: int, seconds: float,
        ramp: float = 2.0, server_pids=lambda: [], db_pids=lambda: []) -> dict:
    """``clients`` keep-alive clients over ``procs`` processes for ``ramp`` + ``seconds``; client k starts
    its tour of ``paths`` at k/clients of the way, so concurrent requests ask different boxes."""
    lists = [paths[k * len(paths) // clients:] + paths[:k * len(paths) // clients] for k in range(clients)]
    shares = [lists[p::procs] for p in range(procs)]
    context = multiprocessing.get_context("fork")
    queue, start = context.Queue(), time.monotonic() + 0.3
    window = (start + ramp, start + ramp + seconds)
    workers = [context.Process(target=_client_process, args=(port, share, headers, start, window[1], queue))
               for share in shares if share]
    for worker in workers:
        worker.start()
    time.sleep(max(0.0, window[0] - time.monotonic()))
    cpu0, db0 = cpu_seconds(server_pids()), cpu_seconds(db_pids())
    time.sleep(max(0.0, window[1] - time.monotonic()))
    cpu1, db1 = cpu_seconds(server_pids()), cpu_seconds(db_pids())
    collected = [queue.get() for _ in workers]
    for worker in workers:
        worker.join()
    rows = [row for part, _ in collected for row in part]
    inside = [row for row in rows if window[0] <= row[1] <= window[1]]
    ok = [row for row in inside if row[2] == 200]
    return {"done": len(ok), "rps": len(ok) / seconds, "lat": [row[1] - row[0] for row in ok],
            "bytes": float(np.mean([row[3] for row in ok])) if ok else 0.0,
            "errors": Counter((row[2], row[4].decode("utf-8", "replace")) for row in inside if row[2] != 200),
            "server_cores": (cpu1 - cpu0) / seconds, "db_cores": (db1 - db0) / seconds,
            "client_cores": sum(cpu for _, cpu in collected) / (time.monotonic() - start), "seconds": seconds}


def pooled(phases: list[dict]) -> dict:
    """One server's rounds together: throughput over all windows, latency over all answers."""
    seconds = sum(p["seconds"] for p in phases)
    lat = np.asarray([x for p in phases for x in p["lat"]]) * 1000
    errors = Counter()
    for p in phases:
        errors.update(p["errors"])
    return {"rps": sum(p["done"] for p in phases) / seconds, "n": len(lat),
            "p50": float(np.median(lat)) if len(lat) else float("nan"),
            "p95": float(np.percentile(lat, 95)) if len(lat) else float("nan"),
            "rps_rounds": [p["rps"] for p in phases], "errors": errors,
            "bytes": float(np.mean([p["bytes"] for p in phases])),
            "server_cores": float(np.mean([p["server_cores"] for p in phases])),
            "db_cores": float(np.mean([p["db_cores"] for p in phases])),
            "client_cores": float(np.mean([p["client_cores"] for p in phases]))}
