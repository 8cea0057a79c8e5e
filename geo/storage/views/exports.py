"""The exports' reader: sites and reports streamed in batches of lean rows, and report counts."""

from __future__ import annotations

from collections import namedtuple
from collections.abc import Iterable, Iterator
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from geo.storage import schema
from geo.storage.views._base import Reader
from geo.storage.views.filters import SiteFilter, really_in, where


def report_counts(connection: sa.Connection, *, layer_id: str | None = None,
                  site_ids: Iterable[int] | None = None, at: datetime | None = None) -> dict[int, int]:
    """{site id: number of its reports that count (not rejected)} for a layer's sites or the sites
    ``site_ids``, in one grouped query, only sites that have any; with ``at``, those that counted
    then (received by then, not rejected by then)."""
    r, s = schema.reports.c, schema.sites.c
    counted = [r.review_status != "rejected"] if at is None else [
        r.received_at <= at, sa.not_(sa.and_(r.review_status == "rejected", r.reviewed_at <= at))]
    query = sa.select(r.site_id, sa.func.count()).where(*counted).group_by(r.site_id)
    if layer_id is not None:
        query = query.join(schema.sites, s.id == r.site_id).where(s.layer_id == layer_id)
    if site_ids is not None:
        ids = list(site_ids)
        if not ids:
            return {}
        query = query.where(r.site_id.in_(ids))
    return {site_id: n for site_id, n in connection.execute(query)}


class ExportView(Reader):
    SITE_COLUMNS = ("id", "name", "status", "county", "ref", "version", "updated_at", "last_inspected_at",
                    "last_result", "minx", "miny", "maxx", "maxy", "geom")
    # Plain named tuples: reading a field of a SQLAlchemy row costs ten times as much,
    # which was a tenth of a large export's time.
    SiteRow = namedtuple("SiteRow", (*SITE_COLUMNS, "attributes"))

    def site_batches(self, f: SiteFilter, *, size: int = 1000) -> Iterator[list[Any]]:
        """The sites matching ``f`` for an export, in id order, streamed as lists of at most ``size`` rows.

        Lean rows (``SiteRow``): SITE_COLUMNS with the geometry as WKB, plus ``attributes``
        as JSON text (decoding it with orjson is several times faster than the JSON type).
        ``f.bbox`` is exact, as on the map.
        """
        s = schema.sites.c
        query = (sa.select(*(s[name] for name in self.SITE_COLUMNS),
                           sa.cast(s.attributes, sa.Text).label("attributes"))
                 .where(*where(f, self.store)).order_by(s.id))
        with self.c.execute(query.execution_options(yield_per=size)) as result:  # closed if abandoned
            for rows in result.partitions(size):
                rows = really_in(self.store, list(map(self.SiteRow._make, rows)), f.bbox)
                if rows:
                    yield rows

    def report_batches(self, layer_id: str, *, since: datetime | None = None, until: datetime | None = None,
                       county: str | None = None, size: int = 1000) -> Iterator[list[Any]]:
        """Every report on a layer's sites in filing order, streamed as lists of at most ``size`` rows: the
        report's columns, ``username``, ``site_name`` and, only for reports without a GPS fix, the site's
        WKB as ``site_geom``.

        ``since`` / ``until`` bound the observation time, both ends inclusive.
        """
        r, s = schema.reports.c, schema.sites.c
        query = (sa.select(schema.reports, schema.users.c.username, s.name.label("site_name"),
                           sa.case((r.gps_lat.is_(None), s.geom)).label("site_geom"))
                 .join(schema.sites, s.id == r.site_id).join(schema.users, schema.users.c.id == r.user_id)
                 .where(s.layer_id == layer_id).order_by(r.id))
        if since is not None:
            query = query.where(r.observed_at >= since)
        if until is not None:
            query = query.where(r.observed_at <= until)
        if county:
            query = query.where(s.county == county)
        with self.c.execute(query.execution_options(yield_per=size)) as result:  # closed if abandoned
            yield from result.partitions(size)

    def report_counts(self, layer_id: str, at: datetime | None = None) -> dict[int, int]:
        """``report_counts`` of a layer's sites."""
        return report_counts(self.c, layer_id=layer_id, at=at)
