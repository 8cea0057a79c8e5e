"""The viewport benchmark's text: console lines, the py-spy summary and its section of RESULTS.md."""

from __future__ import annotations

import math
import re
from collections import Counter

import backends
import results
import viewport_load as load

PEER = "pygeoapi"
RPS_GOAL, P95_GOAL = 5.0, 0.2  # OneMap ≥ 5× pygeoapi's requests/s; OneMap's p95 ≤ 1/5 of pygeoapi's


def progress(phase: dict, label: str) -> str:
    lat = results.stats_ms(phase["lat"]) if phase["lat"] else {"median": math.nan, "p95": math.nan}
    errors = sum(phase["errors"].values())
    return (f"round {phase['round']} {label:16} {phase['rps']:8.1f} req/s  p50 {lat['median']:7.1f} ms  "
            f"p95 {lat['p95']:7.1f} ms  errors {errors}  server {phase['server_cores']:.2f} cores  "
            f"clients {phase['client_cores']:.2f} cores")


def _matched(row: dict) -> str:
    """OneMap's count of matching zones; a truncated view says only that there are more than it sent."""
    return f"{row['returned']:,}+" if row["matched"] is None else f"{row['matched']:,}"


def counts_line(size: str, counts: dict) -> str:
    parts = []
    for backend, rows in counts.items():
        first = rows[0]
        same = all(r["returned"] == r["peer_returned"] for r in rows)
        verdict = "same" if same else "DIFFERENT"
        parts.append(f"{backends.LABELS[backend]} {first['returned']} of {_matched(first)} matched, "
                     f"pygeoapi {first['peer_returned']} of {first['peer_hits']} ({verdict} "
                     f"counts on {len(rows)} boxes)")
    return f"{size} features in the county box: " + "; ".join(parts)


def summarise(phases: list[dict], names: list[str]) -> dict:
    """Pooled numbers per server, and per backend its ratios to pygeoapi and whether the goals are met."""
    by = {name: load.pooled([p for p in phases if p["server"] == name]) for name in [*names, PEER]}
    peer = by[PEER]
    for name in names:
        mine = by[name]
        mine["rps_ratio"] = mine["rps"] / peer["rps"] if peer["rps"] else math.inf
        mine["p95_ratio"] = mine["p95"] / peer["p95"] if peer["p95"] else math.nan
        mine["rps_ok"] = mine["rps_ratio"] >= RPS_GOAL
        mine["p95_ok"] = mine["p95_ratio"] <= P95_GOAL
        mine["ok"] = mine["rps_ok"] and mine["p95_ok"] and not mine["errors"]
    return by


FRAME = re.compile(r"^(?P<func>.*?) \((?P<file>[^:()]+)(?::\d+)?\)$")
OWN = ("geo/", "webapp/")  # py-spy names files relative to the sys.path entry they came from


def _own(file: str) -> bool:
    return file.startswith(OWN) or any(f"/{o}" in file for o in OWN)


def _frame(text: str) -> tuple[str, str]:
    found = FRAME.match(text.strip())
    return (found["func"], found["file"]) if found else (text.strip(), "")


def _short(func: str, file: str) -> str:
    for marker in ("site-packages/", "/work/main/", "/lib/python3"):
        if marker in file:
            file = file.split(marker, 1)[1]
            break
    return f"{func} ({file})" if file else func


def spy_summary(lines: list[str]) -> dict:
    """py-spy raw (collapsed) stacks of the workers: where the request threads spend their samples.

    ``inclusive``: the share of samples whose stack passes through a function of OneMap's own code
    (geo/, webapp/), the top ones; ``leaves``: the share whose innermost frame is a function (own
    code or libraries), the top ones. Samples of threads that wait for a connection are left out.
    """
    inclusive, leaves, total = Counter(), Counter(), 0
    for line in lines:
        stack, _, count = line.rpartition(" ")
        if not count.isdigit() or not stack:
            continue
        frames = [_frame(f) for f in stack.split(";")]
        if not any(_own(file) for _, file in frames):
            continue  # a thread between requests (gunicorn's poll loop, the photo thread)
        n = int(count)
        total += n
        leaves[_short(*frames[-1])] += n
        for key in {_short(func, file) for func, file in frames if _own(file)}:
            inclusive[key] += n
    share = (lambda c: [(k, v / total) for k, v in c.most_common(12)]) if total else (lambda c: [])
    return {"samples": total, "inclusive": share(inclusive), "leaves": share(leaves)}


def _ms(value: float) -> str:
    return "–" if math.isnan(value) else f"{value:,.1f}"


def _errors(s: dict) -> str:
    n = sum(s["errors"].values())
    return str(n) if not n else f"**{n}**"


def _verdict(ok: bool) -> str:
    return "met" if ok else "**missed**"


def _table(runs: list[dict], names: list[str]) -> list[str]:
    lines = ["| zones | OneMap on | OneMap req/s | p50 ms | p95 ms | errors | pygeoapi req/s | p50 ms "
             "| p95 ms | errors | req/s ratio (goal ≥ 5×) | p95 ratio (goal ≤ 0.20) |",
             "| ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- | --- |"]
    for run in runs:
        peer = run["summary"][PEER]
        for name in names:
            s = run["summary"][name]
            mine = f"{s['rps']:,.1f} | {_ms(s['p50'])} | {_ms(s['p95'])} | {_errors(s)}"
            theirs = f"{peer['rps']:,.1f} | {_ms(peer['p50'])} | {_ms(peer['p95'])} | {_errors(peer)}"
            ratios = (f"{s['rps_ratio']:.1f}× {_verdict(s['rps_ok'])} | "
                      f"{s['p95_ratio']:.3f} {_verdict(s['p95_ok'])}")
            lines.append(f"| {run['n']:,} | {backends.LABELS[name]} | {mine} | {theirs} | {ratios} |")
    return lines


def _counts(runs: list[dict], names: list[str]) -> list[str]:
    lines = ["| zones | OneMap on | boxes | OneMap: matched → returned | pygeoapi: hits → returned "
             "| same count | same zones (names) | vertices per zone OneMap / pygeoapi | KB per answer "
             "OneMap / pygeoapi |", "| ---: | --- | ---: | --- | --- | --- | --- | --- | --- |"]
    for run in runs:
        for name in names:
            rows = run["counts"][name]
            first = rows[0]
            same = all(r["returned"] == r["peer_returned"] for r in rows)
            same_names = all(r["same_names"] for r in rows)
            matched = "; ".join(f"{_matched(r)} → {r['returned']:,}" for r in rows)
            hits = "; ".join(f"{r['peer_hits']:,} → {r['peer_returned']:,}" for r in rows)
            lines.append(f"| {run['n']:,} | {backends.LABELS[name]} | {len(rows)} | {matched} | {hits} "
                         f"| {'yes' if same else '**no**'} | {'yes' if same_names else '**no**'} "
                         f"| {first['vertices']:.1f} / {first['peer_vertices']:.1f} "
                         f"| {first['bytes'] / 1000:,.0f} / {first['peer_bytes'] / 1000:,.0f} |")
    return lines


def _detail(runs: list[dict], names: list[str]) -> list[str]:
    lines = ["| zones | server | req/s per round | answers timed | server CPU (cores) | PostgreSQL CPU "
             "(cores) | client CPU (cores) | build / import s |",
             "| ---: | --- | --- | ---: | ---: | ---: | ---: | --- |"]
    for run in runs:
        for name in [*names, PEER]:
            s = run["summary"][name]
            label = PEER if name == PEER else f"OneMap {backends.LABELS[name]}"
            build = run["build"].get(name)
            built = f"{build['seconds']:.0f} / {build['import_s']}" if build else "–"
            db = f"{s['db_cores']:.2f}" if name == "postgis" else "–"
            lines.append(f"| {run['n']:,} | {label} | {', '.join(f'{r:.1f}' for r in s['rps_rounds'])} | "
                         f"{s['n']:,} | {s['server_cores']:.2f} | {db} | {s['client_cores']:.2f} | {built} |")
    return lines


def _error_list(runs: list[dict], names: list[str]) -> list[str]:
    lines = []
    for run in runs:
        for name in [*names, PEER]:
            for (status, text), n in run["summary"][name]["errors"].most_common(3):
                text = " ".join(re.sub(r"<[^>]+>", " ", text).split())  # one line, without the HTML
                lines.append(f"- {run['n']:,} zones, {name}: {n} × status {status}: `{text[:120]}` "
                             "(the server's log names the cause)")
    return lines


def _profiles(runs: list[dict]) -> list[str]:
    lines = []
    for run in runs:
        for name, spy in run["spy"].items():
            label = f"OneMap on {backends.LABELS[name]}, {run['n']:,} zones"
            if not spy or not spy["samples"]:
                lines += [f"**{label}**: no py-spy samples (py-spy missing, or it could not attach).", ""]
                continue
            lines += [f"**{label}** — py-spy, 100 Hz, both workers, {spy['samples']:,} samples in request "
                      f"threads, {spy['rps']:.1f} req/s while sampled. Share of samples passing through "
                      "(OneMap's own functions):", ""]
            lines += [f"- {share:.0%} {func}" for func, share in spy["inclusive"][:8]]
            lines += ["", "Innermost frame (where the time is actually spent):", ""]
            lines += [f"- {share:.0%} {func}" for func, share in spy["leaves"][:8]]
            lines.append("")
    return lines


def _same_text(runs: list[dict], cap: int) -> str:
    rows = [r for run in runs for rows in run["counts"].values() for r in rows]
    counts = all(r["returned"] == r["peer_returned"] and r["matched"] in (None, r["peer_hits"]) for r in rows)
    names = all(r["same_names"] for r in rows)
    capped = sorted({run["n"] for run in runs for rows in run["counts"].values()
                     for r in rows if r["truncated"]})
    text = ("On every checked box both matched and returned the same number of zones" if counts
            else "**The counts differ on some checked box** (table above)")
    text += ", and the same zones by name." if names else "; **the zones returned differ by name**."
    if capped:
        sizes = ", ".join(f"{n:,}" for n in capped)
        text += (f" At {sizes} zones the county view matches more than {cap:,}: "
                 f"both return the first {cap:,} (OneMap says `truncated: true`).")
    return text


def _setup(args, setup: dict, runs: list[dict], names: list[str]) -> list[str]:
    cap = setup["cap"]
    return [
        f"- **View**: {setup['side']}° × {setup['side']}° (a county of Jinzhou is 0.6°–1° across) centred in "
        f"the generated dense area, at zoom {setup['zoom']}; each request moves it by up to "
        f"±{setup['jitter']}° (64 boxes, seed {args.seed}, the same sequence for every server). The dense "
        "area is 0.2° across at 1k zones (the whole of it lies in the view), 0.63° at 10k, 2° at 100k.",
        f"- **OneMap**: `onemap serve --workers {setup['workers']} --threads {setup['threads']}` (gunicorn, "
        "gthread), `GET /api/v1/layers/sanitation_zones/features?bbox=…&zoom=10`, planner's Bearer token; "
        "instances from `instances.build` (Jinzhou dataset + the zones imported from the GeoPackage).",
        f"- **pygeoapi**: gunicorn `-w {setup['workers']} -k gthread --threads {setup['threads']}` "
        "`pygeoapi.flask_app:APP`, provider `SQLiteGPKG` on a copy of the same GeoPackage, "
        f"`GET /collections/sanitation_zones/items?bbox=…&limit={cap}&f=json`.",
        f"- **Load**: {args.clients} keep-alive clients (`http.client`) in {args.client_procs} processes "
        f"of their own; per server a {args.warmup:g} s warm-up, then {args.rounds} rounds of "
        f"{args.seconds:g} s, interleaved (OneMap SQLite, OneMap PostGIS, pygeoapi, the order rotating each "
        "round). Only answers arriving inside each measured window count; clients start 2 s before it. "
        "Latency: request sent to last byte read. Ratios pool all rounds of the same run.",
        "- **Like for like, and where it is not**: both servers do an exact intersects test of each zone "
        "with the box (OneMap: SQLite R*Tree then the exact test at the edge, or PostGIS `ST_Intersects` on "
        "the GiST index; pygeoapi: SpatiaLite `Intersects(geom, BuildMbr(…))` on every row, as its provider "
        "writes it, without the GeoPackage's R-tree). pygeoapi's GeoPackage holds what a OneMap instance "
        "holds: the 110 shipped Jinzhou zones first (as `onemap init` stores them), then the generated ones "
        f"in import order. OneMap returns at most {cap:,} features per view "
        "(`geo.queries.MAX_VIEW_FEATURES`, `truncated: true` when more match), so pygeoapi is asked for "
        f"`limit={cap}`; both take the zones in id / fid order.",
        f"  {_same_text(runs, cap)}",
        "  What differs: OneMap at zoom 10 sends each zone's stored display form for zoom 8 (simplified to "
        "half a pixel at zoom 8 when the zone was stored) and the five properties the map draws; pygeoapi "
        "sends the full geometry (SpatiaLite's `AsGeoJSON`) and every attribute column, and has no per-zoom "
        "simplification. That difference in bytes (table above) is part of what OneMap's design buys, and "
        "it is in these numbers.",
    ]


def markdown(args, info: dict, runs: list[dict], names: list[str], minutes: float, setup: dict) -> str:
    sizes = " ".join(args.sizes)
    rerun = (f"python benchmarks/bench_viewport.py --sizes {sizes} --seconds {args.seconds:g} --rounds "
             f"{args.rounds} --backend {args.backend}")
    ok = all(run["summary"][b]["ok"] for run in runs for b in names)
    lines = ["## Map viewport under load (benchmarks issue, workload a)", "",
             "A county-sized map view asked by concurrent clients of OneMap (gunicorn, 2 workers) and of "
             "pygeoapi (gunicorn, 2 workers) serving the same zones. Goals per backend: OneMap's requests/s "
             "≥ 5× pygeoapi's, and OneMap's p95 latency ≤ 1/5 of pygeoapi's, each from the same run. "
             f"Verdict: **{'all goals met' if ok else 'not every goal met'}**. "
             f"Run took {minutes:.1f} min.", "",
             *_table(runs, names), "",
             "### Feature counts (the county box first, then four of the moved boxes)", "",
             *_counts(runs, names), "",
             "### Setup", "", *_setup(args, setup, runs, names), "",
             "### Per round, CPU, build", "",
             "CPU is the cores' worth of CPU time used during the measured windows (gunicorn master and "
             "workers; PostgreSQL's server processes for the instance's database; the client processes) — "
             "the machine has the CPUs listed below, shared by servers and clients.", "",
             *_detail(runs, names), ""]
    errors = _error_list(runs, names)
    if errors:
        lines += ["Errors:", "", *errors, ""]
    profiles = _profiles(runs)
    if profiles:
        lines += ["### Profile of OneMap's workers where a goal was missed", "", *profiles]
    lines += ["### Machine", "", results.machine_table(info), "", f"Rerun: `{rerun}`", ""]
    return "\n".join(lines)


def console(runs: list[dict], names: list[str], minutes: float) -> str:
    return "\n".join([*_table(runs, names), "", *_counts(runs, names), "", f"{minutes:.1f} min"])
