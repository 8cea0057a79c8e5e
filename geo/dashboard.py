"""The dashboard: counts by status per layer and county, targets, work done, construction progress,
and the overdue sites a page at a time.

Everything is counted in SQL (``uow.dashboard_view``, geo/storage/views/dashboard.py, from indexes
where it can): only the overdue sites of the page shown come to Python as rows. The metric sums add
up every report, so they grow with the reports table (benchmarks/bench_dashboard.py).
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime
from typing import Any

from geo.model import LayerDef
from geo.status import days_overdue
from geo.storage.base import UnitOfWork

PER_PAGE = 50


def dashboard(layers: dict[str, LayerDef], *, uow: UnitOfWork, now: datetime, county_names: dict[str, str],
              outside: str = "—", page: int = 1, per_page: int = PER_PAGE) -> dict[str, Any]:
    """Counts by status per layer and county, one page of overdue sites (most days overdue first, then
    by id; ``page`` from 1, past the last page: the last), metric sums, targets and progress.

    Sites in no known county (a rail corridor to Mongolia) are counted under ``outside``.
    """
    view = uow.dashboard_view
    out: dict[str, Any] = {"layers": []}
    for layer in layers.values():
        counts = view.counts(layer, now)
        by_county: dict[str | None, dict[str, int]] = defaultdict(dict)
        totals: dict[str, int] = defaultdict(int)
        for (county, status), n in counts.items():
            by_county[county][status] = n
            totals[status] += n
        target_counts = view.target_counts(layer, now)
        sums = view.metric_sums(layer.id, [m.id for m in layer.metrics])
        # Sites hold only the attributes their layer declares: others have no progress to read.
        progress = [{"id": p.id, "name": p.name, "status": p.status, "progress": p.progress}
                    for p in view.progress(layer, now)] if layer.attribute("progress_pct") else []
        out["layers"].append({
            "layer": layer,
            "total": sum(totals.values()),
            "totals": dict(totals),
            "by_county": {county_names.get(c, c or outside): v for c, v in sorted(
                by_county.items(), key=lambda kv: kv[0] or "")},
            "targets": [{"target": t, "count": target_counts[t.id]} for t in layer.targets],
            "metrics": [{"metric": m, "sum": sums.get(m.id, 0.0),
                         "figure": next((f for f in layer.figures if f.metric == m.id), None)}
                        for m in layer.metrics],
            "progress": progress,
        })
    return out | overdue_page(layers, uow=uow, now=now, county_names=county_names, page=page,
                              per_page=per_page)


def overdue_page(layers: dict[str, LayerDef], *, uow: UnitOfWork, now: datetime, county_names: dict[str, str],
                 page: int = 1, per_page: int = PER_PAGE) -> dict[str, Any]:
    """``overdue``: the page's sites (id, name, layer, county, days, last_inspected_at), with ``page``,
    ``pages`` (at least 1), ``per_page`` and ``overdue_total``."""
    per_page = max(1, per_page)
    page = max(1, page)
    shown = list(layers.values())
    rows, total = uow.dashboard_view.overdue(shown, now, offset=(page - 1) * per_page, limit=per_page)
    pages = max(1, -(-total // per_page))
    if page > pages:  # past the end (the list shrank since the link was made): the last page
        page = pages
        rows, total = uow.dashboard_view.overdue(shown, now, offset=(page - 1) * per_page, limit=per_page)
        pages = max(1, -(-total // per_page))
    overdue = [{"id": r.id, "name": r.name, "layer": r.layer_id,
                "county": county_names.get(r.county, r.county),
                "days": days_overdue(layers[r.layer_id], r.last_inspected_at, now),
                "last_inspected_at": r.last_inspected_at} for r in rows]
    return {"overdue": overdue, "overdue_total": total, "page": page, "pages": pages, "per_page": per_page}
