"""The text of the first-draw section of RESULTS.md (bench_first_draw.py) and its console summary."""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from statistics import median

import backends
import numpy as np
import results
from first_draw_probe import ZONES, Load, bbox_of, entry_kind, milestones, zoom_of

TIMES = [("first_draw_ms", "first features drawn (any layer, any round)"),
         ("view_draw_ms", "the view's first features drawn"),
         ("zones_draw_ms", "the view's zones drawn"),
         ("all_drawn_ms", "every layer of the view drawn"),
         ("ready_ms", "`data-ready` (last time)")]
BYTES = [("bytes_before_first", "before the first features drawn"),
         ("bytes_before_view", "before the view's first features drawn"),
         ("bytes_before_zones", "before the view's zones drawn"),
         ("bytes_total", "whole load (bodies)"),
         ("cdp_wire_total", "whole load, headers included (Chromium's count)")]
VIEW_NAMES = {"jinzhou": "the page's first view (`/`, Jinzhou)",
              "county": "county view (zoom 11, dense area)"}


def size_label(n: int) -> str:
    return f"{n // 1000}k" if n % 1000 == 0 else f"{n:,}"


def _kb(value: float) -> str:
    return f"{value / 1000:,.1f} KB"


def _ratio(a: float | None, b: float | None) -> str:
    return f"{a / b:.2f}×" if a is not None and b else "–"


def _values(loads: list[Load], key: str) -> list[float]:
    return [getattr(load, key) for load in loads if getattr(load, key) is not None]


def _time_stats(loads: list[Load], key: str) -> dict | None:
    values = _values(loads, key)
    return results.stats_ms([v / 1000 for v in values]) if values else None


def summarise(r: dict) -> dict:
    """Medians, p95 and the targets' verdicts, per backend, view and size."""
    loads: dict[tuple, list[Load]] = r["loads"]
    sizes, small, large = r["sizes"], r["sizes"][0], r["sizes"][-1]
    stats = {}
    for key, group in loads.items():
        stats[key] = {k: _time_stats(group, k) for k, _ in TIMES}
        stats[key] |= {k: (median(v) if (v := _values(group, k)) else None) for k, _ in BYTES}
        stats[key]["bytes_range"] = {k: (min(v), max(v)) if (v := _values(group, k)) else None
                                     for k, _ in BYTES}
    targets = []
    for backend in r["backends"]:
        for view in r["views"]:
            s, b = stats[(backend, small, view)], stats[(backend, large, view)]
            for key, what in (("bytes_before_first", "any"), ("bytes_before_view", "view")):
                ratio = b[key] / s[key]
                targets.append({"backend": backend, "view": view, "kind": "bytes", "reading": what,
                                "value": ratio, "met": ratio <= r["targets"]["bytes_ratio"]})
            for key, what in (("first_draw_ms", "any"), ("view_draw_ms", "view")):
                value = b[key]["median"]
                targets.append({"backend": backend, "view": view, "kind": "time", "reading": what,
                                "value": value, "p95": b[key]["p95"],
                                "met": value < r["targets"]["first_draw_ms"]})
    return {"stats": stats, "targets": targets, "sizes": sizes}


def slowest_view(r: dict, backend: str) -> str:
    stats, large = r["summary"]["stats"], r["sizes"][-1]
    return max(r["views"], key=lambda v: stats[(backend, large, v)]["view_draw_ms"]["median"])


def spy_summary(lines: list[str], top: int = 14) -> dict:
    """py-spy's raw stacks of threads serving a request (a waitress task) → the functions holding the
    most samples: own (leaf) and, for the project's code, inclusive."""
    own, inclusive, total = Counter(), Counter(), 0
    for line in lines:
        stack, _, count = line.rpartition(" ")
        if not count.isdigit():
            continue
        if "waitress/task.py" not in stack:
            continue  # a thread waiting for work, or waitress's I/O loop
        n = int(count)
        total += n
        frames = [_frame(f) for f in stack.split(";")[1:]]  # the first one is the thread
        own[frames[-1]] += n
        for frame in set(frames):
            if frame.split(" (")[1].startswith(("geo/", "webapp/")):
                inclusive[frame] += n
    return {"total": total, "own": own.most_common(top), "inclusive": inclusive.most_common(top)}


def _frame(text: str) -> str:
    """"function (path/to/file.py:123)" → "function (file path from a known root)"."""
    found = re.match(r"^(.*?) \((.*?)(?::\d+)?\)$", text)
    if not found:
        return f"{text} (?)"
    function, path = found.groups()
    for root in ("/geo/", "/webapp/", "/site-packages/", "/lib/python3"):
        if root in path:
            path = path[path.index(root) + 1:].removeprefix("site-packages/")
            break
    return f"{function} ({path})"


def _stat_cell(stat: dict | None) -> str:
    return f"{stat['median']:,.0f} / {stat['p95']:,.0f}" if stat else "–"


def _results_table(r: dict, backend: str, view: str) -> list[str]:
    stats, sizes, loads = r["summary"]["stats"], r["sizes"], r["loads"]
    small, large = sizes[0], sizes[-1]
    head = ["", *[size_label(n) for n in sizes],
            *[f"{size_label(n)} / {size_label(small)}" for n in sizes[1:]]]
    rows = ["| " + " | ".join(head) + " |", "|" + " --- |" * len(head)]

    def zones_cell(n: int) -> str:
        z = loads[(backend, n, view)][-1].final.get(ZONES)
        if not z:
            return "–"
        # a truncated view reads no further than the cap, so the server does not say how many more there are
        if z.get("matched") is None:
            return f"{z['returned']:,} and more"
        return f"{z['returned']:,} of {z['matched']:,}"

    last = loads[(backend, large, view)][-1]
    blank = " |" * (len(sizes) - 1)
    rows.append("| zones drawn in the view (returned of matched) | "
                + " | ".join(zones_cell(n) for n in sizes) + " |" + blank)
    rows.append("| rounds of features requests per load | " + " | ".join(
        "/".join(str(k) for k in sorted({load.rounds for load in loads[(backend, n, view)]})) for n in sizes)
        + " |" + blank)
    for key, label in BYTES:
        values = {n: stats[(backend, n, view)][key] for n in sizes}
        cells = [_kb(values[n]) if values[n] is not None else "–" for n in sizes]
        ratios = [_ratio(values[n], values[small]) for n in sizes[1:]]
        rows.append(f"| bytes {label}, median | " + " | ".join(cells + ratios) + " |")
    for key, label in TIMES:
        values = {n: stats[(backend, n, view)][key] for n in sizes}
        cells = [_stat_cell(values[n]) for n in sizes]
        medians = {n: values[n]["median"] if values[n] else None for n in sizes}
        ratios = [_ratio(medians[n], medians[small]) for n in sizes[1:]]
        rows.append(f"| ms to {label}, median / p95 | " + " | ".join(cells + ratios) + " |")
    rows.append("")
    spread = ", ".join(f"{size_label(n)}: {_spread(stats[(backend, n, view)]['bytes_range'])}"
                       for n in sizes)
    url = last.fetches[-1][1]
    rows.append(f"The view's requests: zoom {zoom_of(url)}, bbox {bbox_of(url)} "
                f"(the map is {last.map_size[0]} × {last.map_size[1]} px in a 1280 × 800 window). "
                f"Bytes before the first features drawn, min – max over the loads: {spread}.")
    return rows


def _spread(ranges: dict) -> str:
    lo, hi = ranges["bytes_before_first"]
    return f"{_kb(lo)} – {_kb(hi)}"


def _before_first_table(r: dict, backend: str, view: str) -> list[str]:
    """Which responses had finished before the first draw: in how many loads, and their median size."""
    sizes, loads = r["sizes"], r["loads"]
    share: dict[str, dict[int, int]] = defaultdict(lambda: defaultdict(int))
    size: dict[str, dict[int, list[int]]] = defaultdict(lambda: defaultdict(list))
    order: list[str] = []
    for n in sizes:
        for load in loads[(backend, n, view)]:
            before = set()
            for entry in load.entries:
                kind = entry_kind(load, entry)
                if kind not in order:
                    order.append(kind)
                if entry["body"]:  # an aborted request has none
                    size[kind][n].append(entry["body"])
                if entry["end"] <= load.first_draw_ms and entry["body"]:
                    before.add(kind)
            for kind in before:
                share[kind][n] += 1
    head = ["response", *[f"{size_label(n)}: finished before / size" for n in sizes]]
    rows = ["| " + " | ".join(head) + " |", "|" + " --- |" * len(head)]
    for kind in order:
        cells = []
        for n in sizes:
            total = len(loads[(backend, n, view)])
            body = median(size[kind][n]) if size[kind][n] else None
            cells.append(f"{share[kind][n]}/{total} · {_kb(body)}" if body is not None else "–")
        rows.append(f"| `{kind}` | " + " | ".join(cells) + " |")
    return rows


def _milestones_table(r: dict, backend: str, view: str) -> list[str]:
    sizes, loads = r["sizes"], r["loads"]
    marks = {n: [milestones(load) for load in loads[(backend, n, view)]] for n in sizes}
    names = list(dict.fromkeys(name for n in sizes for m in marks[n] for name in m))
    head = ["median ms", *[size_label(n) for n in sizes]]
    rows = ["| " + " | ".join(head) + " |", "|" + " --- |" * len(head)]
    for name in names:
        cells = []
        for n in sizes:
            values = [m[name] for m in marks[n] if name in m]
            cells.append(f"{median(values):,.0f}" if values else "–")
        rows.append(f"| {name} | " + " | ".join(cells) + " |")
    for key in ("TaskDuration", "ScriptDuration", "LayoutDuration", "RecalcStyleDuration"):
        cells = [f"{median(load.browser[key] for load in loads[(backend, n, view)]):,.0f}" for n in sizes]
        rows.append(f"| Chromium main thread: {key} (whole load) | " + " | ".join(cells) + " |")
    return rows


def _alone_table(r: dict, backend: str, view: str) -> list[str]:
    sizes = r["sizes"]
    names = list(dict.fromkeys(name for n in sizes for name in r["alone"][(backend, n, view)]))
    head = ["request (view's), alone, median ms", *[size_label(n) for n in sizes]]
    rows = ["| " + " | ".join(head) + " |", "|" + " --- |" * len(head)]
    for name in names:
        cells = [f"{r['alone'][(backend, n, view)].get(name, float('nan')):,.1f}" for n in sizes]
        rows.append(f"| `{name}` | " + " | ".join(cells) + " |")
    return rows


def _verdicts(r: dict) -> list[str]:
    large, small = size_label(r["sizes"][-1]), size_label(r["sizes"][0])
    rows = ["| backend | view | target | reading | measured | met |", "| --- | --- | --- | --- | --- | --- |"]
    for t in r["summary"]["targets"]:
        reading = "first features (any)" if t["reading"] == "any" else "the view's first features"
        if t["kind"] == "bytes":
            target = f"bytes before first draw, {large} / {small} ≤ {r['targets']['bytes_ratio']}×"
            measured = f"{t['value']:.2f}×"
        else:
            target = f"first draw at {large} < {r['targets']['first_draw_ms']:,.0f} ms (median)"
            measured = f"{t['value']:,.0f} ms (p95 {t['p95']:,.0f})"
        rows.append(f"| {backends.LABELS[t['backend']]} | {t['view']} | {target} | {reading} | {measured} | "
                    f"{'yes' if t['met'] else '**no**'} |")
    return rows


def _spy_text(r: dict) -> list[str]:
    out = []
    for backend, (view, spy) in r.get("spy", {}).items():
        if not spy["total"]:
            continue
        total = spy["total"]
        label = f"{backends.LABELS[backend]} {size_label(r['sizes'][-1])}"
        out += ["", f"py-spy on the {label} server during 5 more loads of the {view} view ({total:,} samples "
                "of threads serving a request, 200 Hz, each thread counted); where their time goes:", "",
                "| function (own samples) | share | | project function (inclusive) | share |",
                "| --- | --- | --- | --- | --- |"]
        for i in range(max(len(spy["own"]), len(spy["inclusive"]))):
            a = spy["own"][i] if i < len(spy["own"]) else ("", 0)
            b = spy["inclusive"][i] if i < len(spy["inclusive"]) else ("", 0)
            out.append(f"| `{a[0]}` | {a[1] / total:.0%} | | `{b[0]}` | {b[1] / total:.0%} |")
    return out


def _findings(r: dict) -> list[str]:
    """What the loads show about map.js's rounds of requests, derived from them."""
    loads, sizes, out = r["loads"], r["sizes"], []
    for backend in r["backends"]:
        for view in r["views"]:
            group = [load for n in sizes for load in loads[(backend, n, view)]]
            twice = [load for load in group if load.rounds > 1]
            if not twice:
                continue
            example = twice[-1]
            gap = median(milestones(load)["view's features requests"] - load.fetches[0][0] for load in twice)
            first, last = example.fetches[0][1], example.fetches[-1][1]
            out.append(
                f"- {backends.LABELS[backend]}, {view}: in {len(twice)} of {len(group)} loads map.js asked "
                f"for every layer's features twice: first for the map's initial position (zoom "
                f"{zoom_of(first)}, bbox {bbox_of(first)}), then, a median {gap:,.0f} ms later, for the view "
                f"(zoom {zoom_of(last)}). map.js calls `load()` right after `fitBounds` / `setView`, which "
                "animate the zoom, so the map still reports its initial view; the `moveend` at the end of "
                "the animation loads again (after its 150 ms debounce), aborting what is still in flight. "
                + _first_round_zones(loads, backend, view, sizes))
    return out


def _first_round_zones(loads: dict, backend: str, view: str, sizes: list[int]) -> str:
    parts = []
    for n in sizes:
        entries = [e for load in loads[(backend, n, view)] for e in load.entries
                   if entry_kind(load, e) == f"{ZONES} features (first round)"]
        done = [e["body"] for e in entries if e["body"]]
        size = f"{_kb(float(np.median(done)))}" if done else "–"
        parts.append(f"{size_label(n)}: {size}, cut short in {len(entries) - len(done)} of {len(entries)}")
    return "The first round's zones response: " + "; ".join(parts) + "."


def section(r: dict) -> str:
    sizes = ", ".join(f"{n:,}" for n in r["sizes"])
    lines = [
        "## Planner map: first draw in Chromium (workload e)", "",
        "`bench_first_draw.py`: the planner's map page, cold (a new browser context with the login cookies "
        "and an empty HTTP cache per load), in headless Chromium against `onemap serve` (waitress, one "
        f"process, `ONEMAP_BASEMAP=none`: no tiles, no request leaves the machine) with {sizes} generated "
        f"village zones; {r['repeat']} loads per size, view and backend, the servers taking turns. Bytes are "
        "response bodies as they came over the wire (Resource Timing `encodedBodySize`; the app sends no "
        "compression, so they equal the decoded sizes). \"First features drawn\" is the first canvas draw "
        "call in Leaflet's overlay pane or the first marker added to its marker pane, on the page's clock "
        "from navigation start; \"the view's\" features are those of the requests for the view the page "
        "settles on. Times are median / p95 in ms; ratios compare medians of the same run.", "",
        f"Rerun: `.venv/bin/python benchmarks/bench_first_draw.py --backend {_backend_arg(r)} "
        f"--repeat {r['repeat']}` ({r['runtime_s'] / 60:.0f} min for this run).", "",
        results.machine_table(r["machine"]), "",
        "### Targets", "", *_verdicts(r), "",
    ]
    findings = _findings(r)
    if findings:
        lines += ["### What the loads show", "", *findings, ""]
    for backend in r["backends"]:
        for view in r["views"]:
            lines += [f"### {backends.LABELS[backend]}, {VIEW_NAMES[view]}", "",
                      *_results_table(r, backend, view), "",
                      "Responses finished before the first features drawn (in how many loads, and their "
                      "median body size):", "", *_before_first_table(r, backend, view), "",
                      "Critical path, median over the loads:", "", *_milestones_table(r, backend, view), "",
                      "The server's own time for the view's requests, each sent alone to the idle server "
                      "(to the last byte):", "", *_alone_table(r, backend, view), ""]
    lines += _spy_text(r)
    return "\n".join(lines)


def _backend_arg(r: dict) -> str:
    return "both" if len(r["backends"]) > 1 else r["backends"][0]


def console(r: dict) -> str:
    out = [f"first draw, {r['repeat']} loads each, {r['runtime_s'] / 60:.1f} min"]
    stats = r["summary"]["stats"]
    for (backend, n, view), s in stats.items():
        out.append(f"{backend:7} {size_label(n):>5} {view:8} first {s['first_draw_ms']['median']:6.0f} ms  "
                   f"view {s['view_draw_ms']['median']:6.0f} ms  ready {s['ready_ms']['median']:6.0f} ms  "
                   f"bytes<first {_kb(s['bytes_before_first']):>10}  total {_kb(s['bytes_total']):>10}")
    out += [f"target {t['backend']} {t['view']} {t['kind']} ({t['reading']}): {t['value']:.2f} "
            f"{'met' if t['met'] else 'MISSED'}" for t in r["summary"]["targets"]]
    return "\n".join(out)
