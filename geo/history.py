"""Sites and statuses as they were at a past moment (``as_of``), from the recorded versions.

A site is shown as its latest version recorded by then, unless that version deleted
it; a site created later is not shown. Its latest inspection is the newest report that
counted then: received by then, observed by then, and not yet rejected. A stage
layer's status is the version's; a cadence layer's follows from that inspection and
the clock stopped at ``as_of``. Nothing here writes.
"""

from __future__ import annotations

from collections import namedtuple
from datetime import datetime

import shapely

from geo.model import LayerDef
from geo.status import effective_status, report_result
from geo.storage.base import UnitOfWork
from geo.storage.views.filters import SiteFilter

# The fields of SiteRepo's export rows (so exports take either), plus what a map view marks.
Row = namedtuple("Row", ("id", "name", "status", "county", "ref", "version", "updated_at",
                         "last_inspected_at", "last_result", "last_review", "minx", "miny", "maxx", "maxy",
                         "geom", "attributes"))


def rows_as_of(layer: LayerDef, at: datetime, *, uow: UnitOfWork, bbox=None, county: str | None = None,
               q: str | None = None, ids=None) -> list[Row]:
    """The layer's sites as they were at ``at``, in id order; ``status`` is the one shown then.

    ``bbox`` is exact (boxes in SQL, then shapely on the candidates); ``attributes`` is JSON text.
    """
    wanted = SiteFilter.of(layer_id=layer.id, bbox=bbox, county=county, q=q, ids=ids)
    versions = uow.history_view.sites_as_of(wanted, at)
    if bbox is not None and versions:
        hits = shapely.intersects(shapely.from_wkb([v.geom for v in versions]), shapely.box(*bbox))
        versions = [v for v, hit in zip(versions, hits.tolist(), strict=True) if hit]
    latest = uow.history_view.latest_reports(layer.id, at)
    rows = []
    for v in versions:
        inspected, checklist, review = latest.get(v.site_id, (None, None, None))
        result = report_result(checklist) if checklist is not None else None
        status = effective_status(layer, v.status, inspected, result, at)
        rows.append(Row(v.site_id, v.name, status, v.county, v.ref, v.version, v.at, inspected, result,
                        review, v.minx, v.miny, v.maxx, v.maxy, v.geom, v.attributes))
    return rows


def filtered(rows: list[Row], *, status: frozenset[str] = frozenset(), since: datetime | None = None,
             until: datetime | None = None) -> list[Row]:
    """The rows whose shown status is among ``status`` and last inspection within [since, until]."""
    def keep(row: Row) -> bool:
        if status and row.status not in status:
            return False
        if since is not None or until is not None:
            if row.last_inspected_at is None:
                return False
            if since is not None and row.last_inspected_at < since:
                return False
            if until is not None and row.last_inspected_at > until:
                return False
        return True

    return [row for row in rows if keep(row)]
