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

import backends
import results

# py-spy stack of a worker thread -> stage: the first marker found in the stack wins.
SPY_STAGES = [("_on_begin", "waiting for the write lock (SQLite: BEGIN IMMEDIATE; PostGIS: advisory lock)"),
              ("inspect (geo/photos.py", "photo check: JPEG header and end marker, EXIF, sha256"),
              ("derive (geo/photos.py", "derived copies: decode, resize, 2 JPEG encodes"),
              ("LocalBlobs.put", "writing a photo file: write, fsync, rename, fsync folder"),
              ("do_commit", "COMMIT (SQLite: WAL fsync; PostGIS: round trip, server's WAL flush)"),
              ("formparser", "multipart parsing"),
              ("file_report (geo/inspections.py", "rest of file_report: its reads and writes (SQL), checks"),
              ("_load_token_user", "Bearer token look-up"), ("body.py", "reading the request body"),
              ("handle_request", "rest of the request (Flask, reply, socket)"),
              ("sync.py", "between requests: waiting for, accepting, closing a connection"),
              ("_worker (concurrent", "idle")]
# cProfile self time -> component: C calls by name, Python by package folder; the first match wins.
COMPONENTS = [("posix.fsync", "fsync"), ("sqlite3", "SQLite C calls (statements, COMMIT)"),
              ("/psycopg/", "psycopg (Python), waiting for PostgreSQL included"),
              ("psycopg_binary", "psycopg C calls, waiting for PostgreSQL included"),
              ("_hashlib", "sha256"), ("Imaging", "Pillow C (JPEG decode / encode, resize)"),
              ("_io.", "file and buffer I/O"), ("/werkzeug/", "Werkzeug (multipart parsing …)"),
              ("/flask", "Flask, Flask-Login"), ("/sqlalchemy/", "SQLAlchemy (Python)"),
              ("/PIL/", "Pillow (Python)"), ("/geo/", "OneMap geo/ (Python)"),
              ("/webapp/", "OneMap webapp/ (Python)"), ("pyproj", "pyproj"), ("shapely", "shapely")]


def _thread_kind(stack: str) -> str:
    """"photo" (the derived copies), "poll" (gunicorn's main thread, which polls the connections and
    hands requests to the pool) or "main" (a request thread of the pool)."""
    if "onemap-photos" in stack:
        return "photo"
    return "poll" if "init_process (" in stack else "main"


def spy_stages(raw_lines: list[str]) -> dict[str, Counter]:
    """py-spy ``--format raw --threads`` lines -> samples per stage, per kind of thread."""
    samples: dict[str, Counter] = {"main": Counter(), "photo": Counter(), "poll": Counter()}
    for line in raw_lines:
        stack, count = line.rsplit(" ", 1)
        kind = _thread_kind(stack)
        stage = ("polling connections, handing requests to the pool" if kind == "poll" else
                 next((label for marker, label in SPY_STAGES if marker in stack), "other"))
        samples[kind][stage] += int(count)
    return samples


def components(stats: dict, calls: int) -> dict[str, float]:
    """Self time in ms per call summed by component (``pstats.Stats(...).stats``)."""
    sums: dict[str, float] = defaultdict(float)
    for (file, _, name), (_, _, self_time, _, _) in stats.items():
        label = next((lab for needle, lab in COMPONENTS if needle in (name if file == "~" else file)),
                     "other C calls" if file == "~" else "other Python")
        sums[label] += self_time * 1000 / calls
    return dict(sums)


def profile_request(env: dict[str, str], req, n: int) -> dict:
    """``n`` filing requests one at a time through the WSGI app (no HTTP): wall time, then cProfile;
    the derived copies of those reports are made afterwards and profiled apart."""
    from werkzeug.test import EnvironBuilder

    from webapp import create_app
    from webapp.cli import prepare_for_serving
    from webapp.settings import load_config

    app = create_app(load_config(env=env))
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


def label(name: str) -> str:
    return "bare" if name == "bare" else f"OneMap on {backends.LABELS[name]}"


def progress(p: dict, name: str) -> str:
    lat = latency(p)
    return (f"round {p['round']} {name:17} {p['rps']:6.1f} reports/s  "
            f"median {lat['median']:5.0f} ms  p95 {lat['p95']:5.0f} ms  errors {sum(p['errors'].values())}  "
            f"server CPU {p['server_cores']:.2f}  PostgreSQL CPU {p['db_cores']:.2f}  "
            f"client CPU {p['client_cores']:.2f}  drain {p['drain'] or 0:.1f} s")


def _pooled(mine: list[dict]) -> dict:
    done, lat = sum(p["done"] for p in mine), results.stats_ms([x for p in mine for x in p["lat"]])
    return {"rps": done / sum(p["seconds"] for p in mine), "median": lat["median"], "p95": lat["p95"],
            "errors": sum((p["errors"] for p in mine), Counter()),
            "sustained": done / sum(p["seconds"] + (p["drain"] or 0) for p in mine),
            "cpu_ms": 1000 * sum(p["cpu_total"] for p in mine) / max(1, done),
            "db_cpu_ms": 1000 * sum(p["db_total"] for p in mine) / max(1, done),
            "client_cores": max(p["client_cores"] for p in mine)}


def _consistent(c: dict, acked: set) -> bool:
    return (c["uuids"] == acked and c["photos"] == c["originals"] == c["reports"]
            and c["derived"] == 2 * c["photos"])


def summarise(phases: list[dict], checks: dict, names: list[str]) -> dict:
    """Pooled numbers per server; per backend the ratio OneMap / bare (pooled and per round) and
    whether it stored exactly what it acknowledged (the bare endpoint's own count included)."""
    out: dict = {name: _pooled([p for p in phases if p["server"] == name]) for name in (*names, "bare")}
    rps = {(p["round"], p["server"]): p["rps"] for p in phases}
    rounds, bare = sorted({p["round"] for p in phases}), out["bare"]
    bare_ok = checks["bare"] == checks["bare_files"] == len(checks["acked"]["bare"])
    for name in names:
        out[name] |= {"ratio": out[name]["rps"] / bare["rps"],
                      "per_round": [rps[r, name] / rps[r, "bare"] for r in rounds],
                      "sustained_ratio": out[name]["sustained"] / bare["rps"],
                      "consistent": bare_ok and _consistent(checks["onemap"][name], checks["acked"][name])}
    return out | {"names": names}


def _setup(args, photo: tuple[bytes, int], threads: int, names: list[str]) -> list[str]:
    servers = len(names) + 1
    return [
        "### Setup", "",
        f"- Photo: 1600 × 1200 JPEG, quality {photo[1]}, **{len(photo[0]):,} bytes** (colour fields "
        "plus sensor-like noise, fixed seed), one per report.",
        "- Request: `POST /api/v1/sites/<id>/reports`, multipart part `report` (JSON: fresh uuid4, the "
        "full checklist, metrics, note, a GPS fix inside the zone, observed_at with offset) and part "
        "`photos`. OneMap gets `Authorization: Bearer` of a grid worker assigned to the village zone.",
        "- OneMap instances: " + "; ".join(BACKEND_SETUP[n] for n in names) + ". Each is built by "
        "OneMap's own `init_instance` with its `ONEMAP_DATABASE_URL`, and served alike.",
        f"- Servers: `gunicorn -w 2 -k gthread --threads {threads}` for `webapp:create_app()` (once per "
        "backend) and `bare_ingest:create_app()`, each with a config file (written by the script into its "
        "temporary folder, passed with `-c`) whose `post_worker_init` hook calls "
        "`webapp.cli.prepare_for_serving()` (`gc.freeze`, as `onemap serve` does; the bare app: "
        "`gc.collect(); gc.freeze()`). Threads let one request's fsync overlap another's work, for every "
        "server alike.",
        "- OneMap makes each photo's shown copy and thumbnail after the acknowledgement, on one thread "
        "per worker, in the quiet moments between requests and at most 30 s after the filing "
        "(`webapp/activity.py`): in a phase shorter than that the copies wait and are made in the *drain* "
        "after it. *Drain incl.* figures count that time: the rate OneMap sustains when the load never "
        "stops.",
        "- Bare endpoint (`bare_ingest.py`), the peer of every backend: the same multipart parsing, reads "
        "the uuid, writes the photo (write, fsync the file, fsync the folder), inserts one row (SQLite "
        "WAL, synchronous=FULL, BEGIN IMMEDIATE). No auth, no validation, no image decoding, no derived "
        "copies.",
        f"- Load: {args.clients} client threads (`http.client`, one connection each) in "
        f"{args.client_procs} client processes; {args.seconds:g} s per server per round, {args.rounds} "
        f"rounds; the {servers} servers take turns, their order rotating from round to round, after a "
        f"{args.warmup:g} s warm-up per server. A request counts when answered 201 within the window; "
        "latency runs from sending to the last byte; any other answer or a connection error is an error. "
        "After each OneMap phase the script waits until OneMap's photo threads have made every derived "
        "copy (*drain*), so none of that work runs during another server's phase.",
        "- CPU: *server* is the gunicorn master and workers; *PostgreSQL* the server processes serving "
        "the PostGIS instance's connections (`pg_stat_activity`; PostgreSQL runs on the same two cores), "
        "not its shared background writers.", ""]


BACKEND_SETUP = {"sqlite": "SQLite: `onemap.db` in the instance folder (WAL, synchronous=FULL)",
                 "postgis": "PostGIS: a fresh database `bench_ingest_…` on the local PostgreSQL server "
                            "(created with the extension, dropped at the end)"}


def _profiles(args, name: str, spy: dict | None, prof: dict | None) -> list[str]:
    out = [f"\nProfile failed: `{x['error']}`" for x in (spy, prof) if x and "error" in x]
    spy, prof = (None if x and "error" in x else x for x in (spy, prof))
    if spy:
        kinds = [spy["samples"][k] for k in ("main", "photo", "poll")]
        out += ["", f"### Where {label(name)}'s workers spend their time (py-spy, same load)", "",
                f"py-spy sampled both workers at 100 Hz (waiting and idle time included) during one more "
                f"{args.seconds:g} s phase ({spy['rps']:.1f} reports/s). Share of each kind of thread's "
                "wall time, both workers together:", "",
                "| stage | request threads | photo thread | gunicorn's main thread |",
                "| --- | ---: | ---: | ---: |"]
        for stage in sorted(set().union(*kinds), key=lambda k: -sum(c[k] for c in kinds)):
            shares = [f"{100 * c[stage] / max(1, c.total()):.1f} %" for c in kinds]
            out.append(f"| {stage} | {' | '.join(shares)} |")
        out += _sessions(spy.get("sessions"))
    if prof:
        cumulative = ", ".join(f"`{k}` {ms:.1f} ms" for k, ms in prof["cumulative"].items())
        request, derive = prof["request"], prof["derive"]
        out += ["", f"### One request in-process on {label(name)} (cProfile)", "",
                f"{prof['n']} filing requests one after another through the WSGI app (no HTTP, no "
                f"concurrency, copies deferred): **{prof['plain_ms']:.1f} ms** per request "
                f"({prof['profiled_ms']:.1f} ms under cProfile); cumulative per request {cumulative}. "
                f"The derived copies, made afterwards as the worker's photo thread does: "
                f"**{prof['derive_ms']:.1f} ms** per photo. Self time by component:", "",
                "| component | ms per request | ms per photo's copies |", "| --- | ---: | ---: |"]
        for part in sorted(set(request) | set(derive), key=lambda k: -request.get(k, 0) - derive.get(k, 0)):
            out.append(f"| {part} | {request.get(part, 0):.1f} | {derive.get(part, 0):.1f} |")
    return out


def _sessions(states: dict[str, float] | None) -> list[str]:
    """PostGIS: what the instance's database sessions were doing in the same phase, on average."""
    if not states:
        return []
    return ["", "The PostgreSQL sessions of the instance in the same phase (`pg_stat_activity` sampled every "
            f"20 ms, {states.pop('samples'):.0f} samples), average number in each state:", "",
            "| state | sessions |", "| --- | ---: |",
            *[f"| {state} | {n:.2f} |" for state, n in sorted(states.items(), key=lambda kv: -kv[1])]]


def _verdict(x: dict) -> str:
    return "**PASS**" if x["ratio"] >= 0.5 else "**FAIL**"


def _side_by_side(s: dict, checks: dict) -> list[str]:
    """The issue's table: every backend beside the bare endpoint of the same run."""
    names = s["names"]
    cols = [*names, "bare"]
    per_round = {n: ", ".join(f"{r:.2f}" for r in s[n]["per_round"]) for n in names}
    rows = [
        ("reports/s, all rounds", lambda n: f"{s[n]['rps']:.1f}"),
        ("**ratio to bare, same run** (goal ≥ 0.50)",
         lambda n: "1" if n == "bare" else f"**{s[n]['ratio']:.2f}** {_verdict(s[n])}"),
        ("ratio per round", lambda n: "" if n == "bare" else per_round[n]),
        ("median / p95 latency, ms", lambda n: f"{s[n]['median']:.0f} / {s[n]['p95']:.0f}"),
        ("errors (any answer but 201)", lambda n: f"{sum(s[n]['errors'].values())}"),
        ("server CPU ms / report, drain incl.", lambda n: f"{s[n]['cpu_ms']:.0f}"),
        ("PostgreSQL CPU ms / report", lambda n: f"{s[n]['db_cpu_ms']:.0f}" if n == "postgis" else "–"),
        ("reports/s, drain incl.", lambda n: f"{s[n]['sustained']:.1f}"),
        ("ratio to bare, drain incl.",
         lambda n: "1" if n == "bare" else f"{s[n]['sustained_ratio']:.2f}"),
        ("stored exactly what it acknowledged, every copy made",
         lambda n: str(checks["bare"] == checks["bare_files"] == len(checks["acked"]["bare"]))
         if n == "bare" else str(s[n]["consistent"])),
    ]
    return ["| | " + " | ".join(label(n) for n in cols) + " |", "| --- |" + " ---: |" * len(cols),
            *[f"| {text} | " + " | ".join(value(n) for n in cols) + " |" for text, value in rows], ""]


def _checks(s: dict, checks: dict) -> list[str]:
    out = ["### Checks after the run", "",
           "Counted through each instance's store (`geo.storage.open_store`, SQLAlchemy), the same way on "
           "every backend; photo files in the instance folder.", ""]
    for name in s["names"]:
        c, acked = checks["onemap"][name], checks["acked"][name]
        missing, extra = len(acked - c["uuids"]), len(c["uuids"] - acked)
        out += [f"- {label(name)}: stored {c['reports']:,} reports and acknowledged {len(acked):,} (201); "
                f"same uuids: **{c['uuids'] == acked}** (missing {missing}, never acknowledged {extra}). "
                f"Photos: {c['photos']:,} rows, {c['originals']:,} originals, {c['derived']:,} of "
                f"{2 * c['photos']:,} derived files (shown copy + thumbnail each)."]
    out += [f"- Bare: {checks['bare']:,} rows, {checks['bare_files']:,} files, "
            f"{len(checks['acked']['bare']):,} acknowledged.",
            f"- All consistent: **{all(s[n]['consistent'] for n in s['names'])}**."]
    return out


def _results(phases: list[dict], s: dict) -> list[str]:
    out = ["### Results", "",
           "| round | server | reports/s | median ms | p95 ms | errors | server CPU, cores "
           "| PostgreSQL CPU, cores | client CPU, cores | drain s |", "| --- | --- |" + " ---: |" * 8]
    for p in phases:
        lat = latency(p)
        db = f"{p['db_cores']:.2f}" if p["server"] == "postgis" else "–"
        out.append(f"| {p['round']} | {label(p['server'])} | {p['rps']:.1f} | {lat['median']:.0f} "
                   f"| {lat['p95']:.0f} | {sum(p['errors'].values())} | {p['server_cores']:.2f} | {db} "
                   f"| {p['client_cores']:.2f} | {p['drain'] or 0:.1f} |")
    errors = sum((s[n]["errors"] for n in (*s["names"], "bare")), Counter())
    listed = "; ".join(f"{n} × {status} {text!r}" for (status, text), n in errors.items())
    busiest = max(s[n]["client_cores"] for n in (*s["names"], "bare"))
    return [*out, "", f"The client processes used at most {busiest:.2f} of the 2 CPU cores.", "",
            "Errors (any answer but 201): " + (listed or "none."), ""]


def markdown(args, info: dict, photo: tuple[bytes, int], phases: list[dict], s: dict, checks: dict,
             spy: dict, prof: dict, minutes: float, threads: int) -> str:
    names, bare = s["names"], s["bare"]
    verdicts = "; ".join(f"{_verdict(s[n])} on {backends.LABELS[n]}: {s[n]['rps']:.1f} reports/s, ratio "
                         f"**{s[n]['ratio']:.2f}**" for n in names)
    out = ["## Report ingest (issue #4)", "",
           "Goal from the issue: reports with one 300 KB photo from 16 concurrent clients against the "
           "production server (gunicorn, 2 workers) reach **at least half the throughput** of a bare "
           "Flask + SQLite endpoint that only saves the file and one row, served the same way and "
           "measured in the same run. OneMap is measured on "
           f"{' and '.join(backends.LABELS[n] for n in names)}, each against the same bare endpoint.", "",
           f"{verdicts} (bare {bare['rps']:.1f} reports/s; goal ≥ 0.50).", "",
           "The machine has 2 cores, shared with whatever else runs there, and PostgreSQL runs on the "
           "same cores, so absolute rates are noisy; the ratios to the bare endpoint "
           "measured in the same rounds are what to compare.", "",
           *_side_by_side(s, checks),
           f"Measured {info['date']}, {minutes:.1f} min for the whole run.", "",
           results.machine_table(info), "", *_setup(args, photo, threads, names), *_results(phases, s),
           *_checks(s, checks)]
    for name in names:
        out += _profiles(args, name, spy.get(name), prof.get(name))
    out += ["", "Rerun: `/work/venv/bin/python benchmarks/bench_ingest.py --clients 16 --seconds 20 "
            "--rounds 3 --backend both` (needs `pip install gunicorn`, and `py-spy` for the worker profile; "
            "`--profile auto|always|never`, `--postgres URL`)."]
    return "\n".join(out)
