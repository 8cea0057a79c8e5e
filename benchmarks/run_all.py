"""The provincial-scale workloads (a–f), one after another, each writing its section of RESULTS.md.

    python benchmarks/run_all.py [--backend both] [--postgres URL] [--only viewport export …] [--with-budgets]

Each script measures its peer in the same run and reports ratios; each exits 0 when its targets are
met. Run one at a time on purpose: two benchmarks at once would share the CPUs and skew each other's
ratios. ``--with-budgets`` also runs the planner map budget and the growth of report storage (earlier
issues' benchmarks). The summary section lists every step with when it last ran, its time and whether
its targets held (a step not run this time keeps its last row); the exit status is 0 only if every
step run this time met its targets.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path

import backends
import results

HERE = Path(__file__).resolve().parent
SECTION = "summary"

# (key, what it measures, script and its arguments, whether --backend/--postgres are passed on).
# e (first draw) runs on SQLite: the issue asks a, b and c on PostGIS too, and e measures the page.
STEPS = [
    ("viewport", "a. map viewport query under gunicorn (2 workers) beside pygeoapi, 1k / 10k / 100k zones",
     ["bench_viewport.py"], True),
    ("export", "b. full-layer GeoJSON export beside pyogrio/GDAL and geopandas, 10k / 100k zones",
     ["bench_export.py", "--sizes", "10000", "100000"], True),
    ("ingest", "c. report ingest with a 300 KB photo, 16 clients, beside a bare Flask + SQLite endpoint",
     ["bench_ingest.py"], True),
    ("fixes", "d. 100k / 1M GPS fixes assigned to 1k / 10k / 100k zones beside geopandas.sjoin",
     ["bench_fixes.py"], False),
    ("first_draw", "e. the map page in headless Chromium (SQLite): bytes and time to the first features",
     ["bench_first_draw.py", "--backend", "sqlite"], False),
    ("status", "f. every site's status recomputed after 1M reports on 100k zones",
     ["bench_status.py"], True),
]
BUDGETS = [
    ("map", "the planner map budget at 100k zones (page weight, features request latency)",
     ["bench_map.py", "--zones", "100000"], True),
    ("growth", "reports as they pile up: storage per report and the reads that must not grow",
     ["bench_growth.py"], True),
]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    backends.add_arguments(parser)
    parser.add_argument("--only", nargs="+", choices=[key for key, *_ in STEPS + BUDGETS],
                        help="run these steps only")
    parser.add_argument("--with-budgets", action="store_true", help="also the map budget and storage growth")
    parser.add_argument("--out", type=Path, default=HERE / "RESULTS.md")
    args = parser.parse_args(argv)
    steps = STEPS + BUDGETS if args.with_budgets or args.only else STEPS
    done = {}
    for key, what, command, takes_backend in steps:
        if args.only and key not in args.only:
            continue
        full = [sys.executable, str(HERE / command[0]), *command[1:], "--out", str(args.out)]
        if takes_backend:
            full += ["--backend", args.backend, "--postgres", args.postgres]
        print(f"[run_all] {what}\n[run_all] $ {' '.join(full[1:])}", flush=True)
        started, at = time.perf_counter(), datetime.now().astimezone()
        code = subprocess.run(full, check=False).returncode
        done[key] = _row(key, what, at, time.perf_counter() - started, code)
        results.write_section(args.out, SECTION, summary(done, _last_rows(args.out)))  # after every step
    print(summary(done, _last_rows(args.out)))
    return 0 if all("**not all met**" not in row for row in done.values()) else 1


def _row(key: str, what: str, at: datetime, seconds: float, code: int) -> str:
    verdict = "met" if code == 0 else f"**not all met** (exit {code}: see its section)"
    return f"| `{key}` | {what} | {at:%Y-%m-%d %H:%M %Z} | {seconds / 60:.1f} | {verdict} |"


def _last_rows(path: Path) -> dict[str, str]:
    """The summary's rows as the file holds them, by step: a step not run this time keeps its row."""
    text = path.read_text(encoding="utf-8") if path.exists() else ""
    section = text.partition(f"<!-- begin: {SECTION} -->")[2].partition(f"<!-- end: {SECTION} -->")[0]
    rows = {}
    for line in section.splitlines():
        if line.startswith("| `") and line.count("|") == 6:  # | key | what | when | minutes | targets |
            rows[line.split("`")[1]] = line
    return rows


def summary(done: dict[str, str], last: dict[str, str]) -> str:
    keys = [key for key, *_ in STEPS + BUDGETS if key in done or key in last]
    lines = ["## Summary of `benchmarks/run_all.py`", "",
             "Each step's last run; its section below has its peer, the ratios of that run, the machine.",
             "", "| step | what | run | minutes | targets |", "| --- | --- | --- | ---: | --- |"]
    lines += [done.get(key) or last[key] for key in keys]
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
