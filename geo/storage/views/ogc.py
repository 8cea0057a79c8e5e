"""The OGC API reader: pages of a layer's items in id order, exact counts, extents."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from geo.storage import schema
from geo.storage.views._base import Reader
from geo.storage.views.exports import report_counts
from geo.storage.views.filters import LIVE, SiteFilter, really_in, where


class OgcView(Reader):
    def page(self, f: SiteFilter, *, offset: int = 0, limit: int = 10) -> tuple[int, list[int]]:
        """(how many sites match ``f``, the ids of one page of them in id order), both in SQL;
        for filters that need no geometry test (no bbox)."""
        s = schema.sites.c
        matching = sa.select(s.id).where(*where(f))
        matched = self.c.execute(sa.select(sa.func.count()).select_from(matching.subquery())).scalar_one()
        if offset >= matched:
            return matched, []
        return matched, list(self.c.execute(matching.order_by(s.id).offset(offset).limit(limit)).scalars())

    def rows(self, f: SiteFilter) -> list[Any]:
        """Lean rows (id, status, last_inspected_at, last_result) of the sites matching ``f``, in id order.

        For matching that SQL alone cannot do: ``f.bbox`` is exact (index prefilter, then
        shapely for sites whose box crosses its edge), and the caller can derive a
        status from the rows.
        """
        s = schema.sites.c
        columns = [s.id, s.status, s.last_inspected_at, s.last_result]
        if f.bbox is not None:
            columns += [s.minx, s.miny, s.maxx, s.maxy, s.geom]
        rows = self.c.execute(sa.select(*columns).where(*where(f, self.store)).order_by(s.id)).all()
        return really_in(self.store, rows, f.bbox)

    def extent(self, layer_id: str) -> tuple[tuple[float, float, float, float] | None,
                                             tuple[datetime, datetime] | None]:
        """A layer's bounding box and the span of its sites' last inspections (None when there is none)."""
        s = schema.sites.c
        row = self.c.execute(sa.select(
            sa.func.min(s.minx), sa.func.min(s.miny), sa.func.max(s.maxx), sa.func.max(s.maxy),
            sa.func.min(s.last_inspected_at), sa.func.max(s.last_inspected_at),
        ).where(s.layer_id == layer_id, LIVE)).one()
        bbox = None if row[0] is None else (row[0], row[1], row[2], row[3])
        return bbox, (None if row[4] is None else (row[4], row[5]))

    def report_counts(self, site_ids: Iterable[int]) -> dict[int, int]:
        """{site id: number of its reports that count} for those of the sites that have any."""
        return report_counts(self.c, site_ids=site_ids)
