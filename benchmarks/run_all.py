"""Every benchmark, one after another, each writing its own section of RESULTS.md.

    python benchmarks/run_all.py [--backend both] [--postgres URL] [--only viewport export …]

The workloads of the provincial-scale benchmarks (a–f), then the planner map budget and the growth of
report storage. Each script measures its peer in the same run and reports ratios; each exits 0 when
its targets are met. Run one at a time on purpose: two benchmarks at once would share the CPUs and
skew each other's ratios. The summary section lists every step, its time and whether its targets
held; the exit status is 0 only if every step met its targets.
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

# (key, what it measures, script and its arguments; --backend/--postgres are added where taken)
STEPS = [
    ("viewport", "a. map viewport query under gunicorn (2 workers) beside pygeoapi, 1k / 10k / 100k zones",
     ["bench_viewport.py"], True),
    ("export", "b. full-layer GeoJSON export beside pyogrio/GDAL and geopandas, 10k / 100k zones",
     ["bench_export.py", "--sizes", "10000", "100000"], True),
    ("ingest", "c. report ingest with a 300 KB photo, 16 clients, beside a bare Flask + SQLite endpoint",
     ["bench_ingest.py"], True),
    ("fixes", "d. 100k / 1M GPS fixes assigned to 1k / 10k / 100k zones beside geopandas.sjoin",
     ["bench_fixes.py"], False),
    ("first_draw", "e. the map page in headless Chromium: bytes and time to the first features drawn",
     ["bench_first_draw.py"], True),
    ("status", "f. every site's status recomputed after 1M reports on 100k zones",
     ["bench_status.py"], True),
    ("map", "the planner map budget at 100k zones (page weight, features request latency)",
     ["bench_map.py", "--zones", "100000"], True),
    ("growth", "reports as they pile up: storage per report and the reads that must not grow",
     ["bench_growth.py"], True),
]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    backends.add_arguments(parser)
    parser.add_argument("--only", nargs="+", choices=[key for key, *_ in STEPS], help="run these steps only")
    parser.add_argument("--out", type=Path, default=HERE / "RESULTS.md")
    args = parser.parse_args(argv)
    done = []
    for key, what, command, takes_backend in STEPS:
        if args.only and key not in args.only:
            continue
        full = [sys.executable, str(HERE / command[0]), *command[1:], "--out", str(args.out)]
        if takes_backend:
            full += ["--backend", args.backend, "--postgres", args.postgres]
        print(f"[run_all] {what}\n[run_all] $ {' '.join(full[1:])}", flush=True)
        started = time.perf_counter()
        code = subprocess.run(full, check=False).returncode
        done.append((key, what, code, time.perf_counter() - started))
    results.write_section(args.out, SECTION, summary(done))
    print(summary(done))
    return 0 if all(code == 0 for _, _, code, _ in done) else 1


def summary(done: list[tuple[str, str, int, float]]) -> str:
    lines = ["## Summary of the last `benchmarks/run_all.py`", "",
             f"Run {datetime.now().astimezone():%Y-%m-%d %H:%M %Z}; each workload's section below has its "
             "peer, its ratios from the same run and the machine.", "",
             "| step | what | minutes | targets |", "| --- | --- | ---: | --- |"]
    for key, what, code, seconds in done:
        verdict = "met" if code == 0 else f"**not all met** (exit {code}: see its section)"
        lines.append(f"| `{key}` | {what} | {seconds / 60:.1f} | {verdict} |")
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
