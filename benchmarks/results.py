"""Shared by the benchmark scripts: timing statistics, the machine and RESULTS.md sections.

RESULTS.md holds one section per benchmark between ``<!-- begin: KEY -->`` and
``<!-- end: KEY -->`` markers; a script rewrites only its own section, so the
others' numbers stay.
"""

from __future__ import annotations

import contextlib
import os
import platform
import re
import sqlite3
from datetime import UTC, datetime
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

import numpy as np
import shapely

HEADER = """# Benchmark results

Numbers measured by the scripts in this folder (see README.md). Machines are
shared and noisy: compare ratios against the baseline measured in the same run,
not absolute times across runs. Each section is rewritten by its own script.
"""


def stats_ms(seconds: list[float]) -> dict[str, float]:
    """Median, p95, min and mean of durations in seconds, as milliseconds."""
    a = np.asarray(seconds) * 1000
    return {"median": float(np.median(a)), "p95": float(np.percentile(a, 95)), "min": float(a.min()),
            "mean": float(a.mean()), "n": len(a)}


def _package(name: str) -> str:
    try:
        return version(name)
    except PackageNotFoundError:
        return "not installed"


def cpu_model() -> str:
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return platform.processor() or "unknown"
    found = re.search(r"^model name\s*:\s*(.+)$", text, re.M)
    return found.group(1).strip() if found else "unknown"


def load_average() -> str:
    """1, 5 and 15 minute load averages: how busy the shared machine was."""
    return " / ".join(f"{v:.2f}" for v in os.getloadavg())


def machine() -> dict[str, str]:
    """What the numbers were measured on."""
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return {
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "cpu": f"{cpu_model()}, {os.cpu_count()} CPUs ({usable} usable)",
        "os": platform.platform(),
        "python": platform.python_version(),
        "shapely / GEOS": f"{shapely.__version__} / {shapely.geos_version_string}",
        "SQLite": sqlite3.sqlite_version,
        "Flask / SQLAlchemy / waitress": " / ".join(_package(p) for p in ("flask", "sqlalchemy", "waitress")),
        "folium": _package("folium"),
        "load average at the start": load_average(),
    }


def machine_table(info: dict[str, str]) -> str:
    return "| | |\n| --- | --- |\n" + "\n".join(f"| {key} | {value} |" for key, value in info.items())


def write_section(path: Path, key: str, body: str) -> None:
    """Put ``body`` between this benchmark's markers in ``path``, leaving other sections alone."""
    begin, end = f"<!-- begin: {key} -->", f"<!-- end: {key} -->"
    block = f"{begin}\n{body.strip()}\n{end}\n"
    text = path.read_text(encoding="utf-8") if path.exists() else HEADER
    pattern = re.compile(re.escape(begin) + r".*?" + re.escape(end) + r"\n?", re.S)
    if pattern.search(text):
        text = pattern.sub(lambda _: block, text)
    else:
        text = text.rstrip("\n") + "\n\n" + block
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


# ------------------------------------------------------------------ processes (Linux /proc)
def _stat(pid: int) -> list[str]:
    with open(f"/proc/{pid}/stat") as f:
        return f.read().rsplit(")", 1)[1].split()


def children(master: int) -> list[int]:
    """The processes whose parent is ``master`` (a gunicorn master's workers)."""
    found = []
    for path in Path("/proc").glob("[0-9]*"):
        with contextlib.suppress(OSError, IndexError):
            if int(_stat(int(path.name))[1]) == master:
                found.append(int(path.name))
    return found


def cpu_seconds(pids: list[int]) -> float:
    """CPU seconds used so far by these processes (all their threads); gone ones count nothing."""
    total = 0
    for pid in pids:
        with contextlib.suppress(OSError):
            fields = _stat(pid)
            total += int(fields[11]) + int(fields[12])
    return total / os.sysconf("SC_CLK_TCK")
