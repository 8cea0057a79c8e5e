"""The report-ingest benchmark's profiles and text (issue #4): one OneMap request profiled
in-process, py-spy stacks sorted into stages, pooled numbers and ratios, the RESULTS.md section
and the console lines. bench_ingest.py runs the servers and the load."""

from __future__ import annotations

import cProfile
import pstats
import subprocess
import time
import uuid
from collections import Counter, defaultdict
from pathlib import Path

import results

# py-spy stack of a worker thread -> stage: the first marker found in the stack wins.
SPY_STAGES = [("_on_begin", "waiting for the SQLite write lock (BEGIN IMMEDIATE)"),
              ("inspect (geo/photos.py", "photo check: full JPEG decode, EXIF, sha256"),
              ("derive (geo/photos.py", "derived copies: decode, resize, 2 JPEG encodes"),
              ("LocalBlobs.put", "writing a photo file: write, fsync, rename, fsync folder"),
              ("do_commit", "COMMIT (WAL fsync)"), ("formparser", "multipart parsing"),
              ("file_report (geo/inspections.py", "rest of the write transaction (SQL, checks)"),
              ("_load_token_user", "Bearer token look-up"), ("body.py", "reading the request body"),
              ("handle_request", "rest of the request (Flask, reply, socket)"),
              ("sync.py", "between requests: waiting for, accepting, closing a connection"),
              ("_worker (concurrent", "idle")]
# cProfile self time -> component: C calls by name, Python by package folder; the first match wins.
COMPONENTS = [("posix.fsync", "fsync"), ("sqlite3", "SQLite C calls (statements, COMMIT)"),
              ("_hashlib", "sha256"), ("Imaging", "Pillow C (JPEG decode / encode, resize)"),
              ("_io.", "file and buffer I/O"), ("/werkzeug/", "Werkzeug (multipart parsing …)"),
              ("/flask", "Flask, Flask-Login"), ("/sqlalchemy/", "SQLAlchemy (Python)"),
              ("/PIL/", "Pillow (Python)"), ("/geo/", "OneMap geo/ (Python)"),
              ("/webapp/", "OneMap webapp/ (Python)"), ("pyproj", "pyproj"), ("shapely", "shapely")]


def spy_stages(raw_lines: list[str]) -> dict[str, Counter]:
    """py-spy ``--format raw --threads`` lines -> samples per stage, for request and photo threads."""
    samples: dict[str, Counter] = {"main": Counter(), "photo": Counter()}
    for line in raw_lines:
        stack, count = line.rsplit(" ", 1)
        stage = next((label for marker, label in SPY_STAGES if marker in stack), "other")
        samples["photo" if "onemap-photos" in stack else "main"][stage] += int(count)
    return samples


def components(stats: dict, calls: int) -> dict[str, float]:
    """Self time in ms per call summed by component (``pstats.Stats(...).stats``)."""
    sums: dict[str, float] = defaultdict(float)
    for (file, _, name), (_, _, self_time, _, _) in stats.items():
        label = next((lab for needle, lab in COMPONENTS if needle in (name if file == "~" else file)),
                     "other C calls" if file == "~" else "other Python")
        sums[label] += self_time * 1000 / calls
    return dict(sums)


def profile_request(instance: Path, req, n: int) -> dict:
    """``n`` filing requests one at a time through the WSGI app (no HTTP): wall time, then cProfile;
    the derived copies of those reports are made afterwards and profiled apart."""
    from werkzeug.test import EnvironBuilder

    from webapp import create_app
    from webapp.cli import prepare_for_serving
    from webapp.settings import load_config

    app = create_app(load_config(env={"ONEMAP_INSTANCE": str(instance)}))
    jobs: list = []
    app.extensions["onemap.photo_jobs"] = type("Later", (), {"submit": staticmethod(jobs.append)})()
    auth, kind = {"Authorization": req.headers["Authorization"]}, req.headers["Content-Type"]

    def file_all(count: int, profile: cProfile.Profile | None = None) -> float:
        batch = [EnvironBuilder(req.path, method="POST", data=req.body(str(uuid.uuid4())), headers=auth,
                                content_type=kind).get_environ() for _ in range(count)]
        status: list[str] = []

        def call(environ: dict) -> bytes:
            return b"".join(app(environ, lambda s, h, exc_info=None: status.append(s)))

        t0 = time.perf_counter()
        for environ in batch:
            body = profile.runcall(call, environ) if profile else call(environ)
            assert status[-1].startswith("201"), body[:300]
        return (time.perf_counter() - t0) * 1000 / count

    file_all(5)
    prepare_for_serving()
    plain_ms, jobs[:], request_profile = file_all(n), [], cProfile.Profile()
    profiled_ms, derive_profile, t0 = file_all(n, request_profile), cProfile.Profile(), time.perf_counter()
    derive_profile.runcall(lambda: [job() for job in jobs])
    derive_ms = (time.perf_counter() - t0) * 1000 / len(jobs)
    app.extensions["onemap.store"].engine.dispose()
    stats = pstats.Stats(request_profile).stats
    cumulative = {f"{path.split('/')[-1]}:{fn}": sum(v[3] for (f, _, g), v in stats.items()
                                                     if f.endswith(path) and g == fn) * 1000 / n
                  for path, fn in [("geo/inspections.py", "file_report"), ("geo/photos.py", "inspect"),
                                   ("geo/storage/blobs.py", "put"), ("webapp/auth.py", "_load_token_user")]}
    return {"n": n, "plain_ms": plain_ms, "profiled_ms": profiled_ms, "derive_ms": derive_ms,
            "cumulative": cumulative, "request": components(stats, n),
            "derive": components(pstats.Stats(derive_profile).stats, len(jobs))}



def attempt(profile, *args) -> dict:
    """A profile, or why it failed (others may be editing the tree): the numbers get written anyway."""
    try:
        return profile(*args)
    except Exception as exc:
        print(f"profiling failed: {exc!r}", flush=True)
        return {"error": repr(exc)}


def code_version(repo: Path) -> str:
    """The commit measured, and whether geo/ or webapp/ had uncommitted changes (read-only git calls)."""
    def git(*argv: str) -> str:
        done = subprocess.run(["git", "--no-optional-locks", *argv], cwd=repo, capture_output=True, text=True)
        return done.stdout.strip() if done.returncode == 0 else "?"

    dirty = git("status", "--porcelain", "--", "geo", "webapp")
    return git("rev-parse", "--short", "HEAD") + (" + uncommitted changes in geo/, webapp/" if dirty else "")


def latency(phase: dict) -> dict[str, float]:
    return results.stats_ms(phase["lat"]) if phase["lat"] else {"median": 0.0, "p95": 0.0}


def progress(p: dict) -> str:
    lat = latency(p)
    return (f"round {p['round']} {p['server']:6} {p['rps']:6.1f} reports/s  "
            f"median {lat['median']:5.0f} ms  p95 {lat['p95']:5.0f} ms  errors {sum(p['errors'].values())}  "
            f"server CPU {p['server_cores']:.2f}  client CPU {p['client_cores']:.2f}  "
            f"drain {p['drain'] or 0:.1f} s")


def summarise(phases: list[dict], checks: dict) -> dict:
    """Pooled numbers per server, the ratio OneMap / bare (pooled and per round), consistency."""
    out: dict = {}
    for name in ("OneMap", "bare"):
        mine = [p for p in phases if p["server"] == name]
        done, lat = sum(p["done"] for p in mine), results.stats_ms([x for p in mine for x in p["lat"]])
        out[name] = {"rps": done / sum(p["seconds"] for p in mine), "median": lat["median"],
                     "p95": lat["p95"], "errors": sum((p["errors"] for p in mine), Counter()),
                     "sustained": done / sum(p["seconds"] + (p["drain"] or 0) for p in mine),
                     "cpu_ms": 1000 * sum(p["cpu_total"] for p in mine) / max(1, done),
                     "client_cores": max(p["client_cores"] for p in mine)}
    rps = {(p["round"], p["server"]): p["rps"] for p in phases}
    c, acked = checks["onemap"], checks["acked"]
    consistent = (c["uuids"] == acked["OneMap"] and c["photos"] == c["originals"] == c["reports"]
                  and c["derived"] == 2 * c["photos"]
                  and checks["bare"] == checks["bare_files"] == len(acked["bare"]))
    return {**out, "ratio": out["OneMap"]["rps"] / out["bare"]["rps"],
            "per_round": [rps[r, "OneMap"] / rps[r, "bare"] for r in sorted({p["round"] for p in phases})],
            "sustained_ratio": out["OneMap"]["sustained"] / out["bare"]["rps"], "consistent": consistent}


def _setup(args, photo: tuple[bytes, int], threads: int) -> list[str]:
    return [
        "### Setup", "",
        f"- Photo: 1600 × 1200 JPEG, quality {photo[1]}, **{len(photo[0]):,} bytes** (colour fields "
        "plus sensor-like noise, fixed seed), one per report.",
        "- Request: `POST /api/v1/sites/<id>/reports`, multipart part `report` (JSON: fresh uuid4, the "
        "full checklist, metrics, note, a GPS fix inside the zone, observed_at with offset) and part "
        "`photos`. OneMap gets `Authorization: Bearer` of a grid worker assigned to the village zone.",
        f"- Servers: `gunicorn -w 2 -k gthread --threads {threads}` for `webapp:create_app()` and "
        "`bare_ingest:create_app()`, each with a config file (written by the script into its temporary "
        "folder, passed with `-c`) whose `post_worker_init` hook calls `webapp.cli.prepare_for_serving()` "
        "(`gc.freeze`, as `onemap serve` does; the bare app: `gc.collect(); gc.freeze()`). Threads let "
        "one request's fsync overlap another's work, for both servers alike.",
        "- OneMap makes each photo's shown copy and thumbnail after the acknowledgement, on one thread "
        "per worker, in the quiet moments between requests and at most 30 s after the filing "
        "(`webapp/activity.py`): in a phase shorter than that the copies wait and are made in the *drain* "
        "after it. *Drain incl.* figures count that time: the rate OneMap sustains when the load never "
        "stops.",
        "- Bare endpoint (`bare_ingest.py`): the same multipart parsing, reads the uuid, writes the photo "
        "(write, fsync the file, fsync the folder), inserts one row (SQLite WAL, synchronous=FULL, "
        "BEGIN IMMEDIATE). No auth, no validation, no image decoding, no derived copies.",
        f"- Load: {args.clients} client threads (`http.client`, one connection each) in "
        f"{args.client_procs} client processes; {args.seconds:g} s per server per round, {args.rounds} "
        f"rounds, order alternating (OneMap first in odd rounds), after a {args.warmup:g} s warm-up per "
        "server. A request counts when answered 201 within the window; latency runs from sending to the "
        "last byte; any other answer or a connection error is an error. After each OneMap phase the "
        "script waits until OneMap's photo threads have made every derived copy (*drain*), so none of "
        "that work runs during a bare phase.", ""]


def _profiles(args, spy: dict | None, prof: dict | None) -> list[str]:
    out = [f"\nProfile failed: `{x['error']}`" for x in (spy, prof) if x and "error" in x]
    spy, prof = (None if x and "error" in x else x for x in (spy, prof))
    if spy:
        main, photo = spy["samples"]["main"], spy["samples"]["photo"]
        out += ["", "### Where OneMap's workers spend their time (py-spy, same load)", "",
                f"py-spy sampled both workers at 100 Hz (waiting and idle time included) during one more "
                f"{args.seconds:g} s phase ({spy['rps']:.1f} reports/s). Share of each thread's wall "
                "time, both workers together:", "",
                "| stage | request thread | photo thread |", "| --- | ---: | ---: |"]
        for stage in sorted(set(main) | set(photo), key=lambda k: -main[k] - photo[k]):
            out.append(f"| {stage} | {100 * main[stage] / max(1, main.total()):.1f} % "
                       f"| {100 * photo[stage] / max(1, photo.total()):.1f} % |")
    if prof:
        cumulative = ", ".join(f"`{k}` {ms:.1f} ms" for k, ms in prof["cumulative"].items())
        request, derive = prof["request"], prof["derive"]
        out += ["", "### One request in-process (cProfile)", "",
                f"{prof['n']} filing requests one after another through the WSGI app (no HTTP, no "
                f"concurrency, copies deferred): **{prof['plain_ms']:.1f} ms** per request "
                f"({prof['profiled_ms']:.1f} ms under cProfile); cumulative per request {cumulative}. "
                f"The derived copies, made afterwards as the worker's photo thread does: "
                f"**{prof['derive_ms']:.1f} ms** per photo. Self time by component:", "",
                "| component | ms per request | ms per photo's copies |", "| --- | ---: | ---: |"]
        for label in sorted(set(request) | set(derive), key=lambda k: -request.get(k, 0) - derive.get(k, 0)):
            out.append(f"| {label} | {request.get(label, 0):.1f} | {derive.get(label, 0):.1f} |")
    return out


def markdown(args, info: dict, photo: tuple[bytes, int], phases: list[dict], s: dict, checks: dict,
             spy: dict | None, prof: dict | None, minutes: float, threads: int) -> str:
    verdict, c, acked = "PASS" if s["ratio"] >= 0.5 else "FAIL", checks["onemap"], checks["acked"]
    per_round = ", ".join(f"{r:.2f}" for r in s["per_round"])
    out = ["## Report ingest (issue #4)", "",
           "Goal from the issue: reports with one 300 KB photo from 16 concurrent clients against the "
           "production server (gunicorn, 2 workers) reach **at least half the throughput** of a bare "
           "Flask + SQLite endpoint that only saves the file and one row, served the same way and "
           "measured in the same run.", "",
           f"**{verdict}**: OneMap {s['OneMap']['rps']:.1f} reports/s, bare {s['bare']['rps']:.1f} "
           f"reports/s, ratio **{s['ratio']:.2f}** (goal ≥ 0.50; per round {per_round}).", "",
           f"Measured {info['date']}, {minutes:.1f} min for the whole run.", "",
           results.machine_table(info), "", *_setup(args, photo, threads), "### Results", "",
           "| round | server | reports/s | median ms | p95 ms | errors | server CPU, cores "
           "| client CPU, cores | drain s |", "| --- | --- |" + " ---: |" * 7]
    for p in phases:
        lat = latency(p)
        out.append(f"| {p['round']} | {p['server']} | {p['rps']:.1f} | {lat['median']:.0f} "
                   f"| {lat['p95']:.0f} | {sum(p['errors'].values())} | {p['server_cores']:.2f} "
                   f"| {p['client_cores']:.2f} | {p['drain'] or 0:.1f} |")
    out += ["", "| all rounds | reports/s | median ms | p95 ms | errors "
            "| server CPU ms / report, drain incl. | reports/s, drain incl. |",
            "| --- | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for name in ("OneMap", "bare"):
        x = s[name]
        out.append(f"| {name} | {x['rps']:.1f} | {x['median']:.0f} | {x['p95']:.0f} | "
                   f"{sum(x['errors'].values())} | {x['cpu_ms']:.0f} | {x['sustained']:.1f} |")
    errors = s["OneMap"]["errors"] + s["bare"]["errors"]
    listed = "; ".join(f"{n} × {status} {text!r}" for (status, text), n in errors.items())
    missing, extra = len(acked["OneMap"] - c["uuids"]), len(c["uuids"] - acked["OneMap"])
    out += ["", f"Ratio OneMap / bare: **{s['ratio']:.2f}** → **{verdict}**. Counting the time OneMap "
            f"needs afterwards to finish the derived copies: {s['OneMap']['sustained']:.1f} reports/s, "
            f"ratio {s['sustained_ratio']:.2f}. The client processes used at most "
            f"{max(s[n]['client_cores'] for n in ('OneMap', 'bare')):.2f} of the 2 CPU cores.", "",
            "Errors (any answer but 201): " + (listed or "none."), "", "### Checks after the run", "",
            f"- OneMap stored {c['reports']:,} reports and acknowledged {len(acked['OneMap']):,} (201); "
            f"same uuids: **{c['uuids'] == acked['OneMap']}** (missing {missing}, "
            f"never acknowledged {extra}).",
            f"- Photos: {c['photos']:,} rows, {c['originals']:,} originals, {c['derived']:,} of "
            f"{2 * c['photos']:,} derived files (shown copy + thumbnail each).",
            f"- Bare: {checks['bare']:,} rows, {checks['bare_files']:,} files, "
            f"{len(acked['bare']):,} acknowledged.",
            f"- All consistent: **{s['consistent']}**.", *_profiles(args, spy, prof), "",
            "Rerun: `/work/venv/bin/python benchmarks/bench_ingest.py --clients 16 --seconds 20 --rounds 3` "
            "(needs `pip install gunicorn`, and `py-spy` for the worker profile; "
            "`--profile auto|always|never`)."]
    return "\n".join(out)
