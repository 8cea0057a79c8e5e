"""The history reader: a layer's sites and latest reports as they were at a past moment."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa

from geo.storage import schema
from geo.storage.views._base import Reader
from geo.storage.views.filters import SiteFilter, where


def _utc(value: datetime | None) -> datetime | None:
    return value.astimezone(UTC) if value is not None else None


class HistoryView(Reader):
    COLUMNS = ("site_id", "version", "name", "ref", "county", "status", "at", "minx", "miny", "maxx", "maxy",
               "geom")

    def sites_as_of(self, f: SiteFilter, at: datetime) -> list[Any]:
        """Rows (COLUMNS plus ``attributes`` as JSON text) of the sites of ``f.layer_id`` as they were at
        ``at``: each site's latest version recorded by then, unless that version deleted it; in id order.
        ``f.bbox`` compares boxes only; the caller makes the exact test."""
        v = schema.site_versions.c
        latest = (sa.select(v.site_id, sa.func.max(v.version).label("version"))
                  .where(v.layer_id == f.layer_id, v.at <= at).group_by(v.site_id).subquery())
        query = (sa.select(*(v[c] for c in self.COLUMNS), sa.cast(v.attributes, sa.Text).label("attributes"))
                 .join(latest, sa.and_(v.site_id == latest.c.site_id, v.version == latest.c.version))
                 .where(v.deleted.is_(False), *where(f, table=schema.site_versions)).order_by(v.site_id))
        return self.c.execute(query).all()

    def latest_reports(self, layer_id: str, at: datetime) -> dict[int, Any]:
        """{site id: (observed_at, checklist, review)} of each site's latest report that counted at ``at``:
        received by then, observed by then, and not rejected by then; ``review`` is "pending" when it
        was not yet reviewed at ``at``, else its review status."""
        r, s = schema.reports.c, schema.sites.c
        counted = sa.and_(
            s.layer_id == layer_id, r.received_at <= at, r.observed_at <= at,
            sa.not_(sa.and_(r.review_status == "rejected", r.reviewed_at <= at)))
        newest_first = sa.func.row_number().over(partition_by=r.site_id,
                                                 order_by=(r.observed_at.desc(), r.id.desc()))
        ranked = (sa.select(r.site_id, r.observed_at, r.checklist, r.review_status, r.reviewed_at,
                            newest_first.label("rank"))
                  .join(schema.sites, s.id == r.site_id).where(counted).subquery())
        rows = self.c.execute(sa.select(ranked).where(ranked.c.rank == 1))
        return {row.site_id: (_utc(row.observed_at), row.checklist,
                              row.review_status if row.reviewed_at is not None and row.reviewed_at <= at
                              else "pending")
                for row in rows}
