"""Which sites a reader means: one ``SiteFilter``, turned into WHERE clauses once for every backend.

The map, the exports, the OGC items, the history and the repository's ``find`` all filter
through ``where``; the store supplies only the spatial part (``layer_bbox_clause``: the
R*Tree on SQLite, an exact ``ST_Intersects`` on PostGIS), and ``really_in`` makes the
exact test where that part was only a box comparison.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

import shapely
import sqlalchemy as sa

from geo.storage import schema

if TYPE_CHECKING:
    from geo.storage.sql import SqlStore

Bbox = tuple[float, float, float, float]

# Deleted sites keep their row (reports and versions point at it); every listing leaves them out.
LIVE = schema.sites.c.deleted_at.is_(None)


@dataclass(frozen=True)
class SiteFilter:
    """Sites matching every field given (None / empty: no condition).

    ``status`` holds stored codes (a cadence layer's derived statuses are the caller's to
    test); ``inspected`` is (start, end) of the last inspection, both ends inclusive, None
    for an open end, and never-inspected sites never match it.
    """

    layer_id: str | None = None
    bbox: Bbox | None = None
    status: frozenset[str] = frozenset()
    county: str | None = None
    q: str | None = None
    ids: frozenset[int] | None = None
    inspected: tuple[datetime | None, datetime | None] | None = None

    @classmethod
    def of(cls, *, ids: Iterable[int] | None = None, status: Iterable[str] | None = None,
           **fields: Any) -> SiteFilter:
        """A filter from loose arguments (lists, generators, None)."""
        return cls(ids=None if ids is None else frozenset(ids), status=frozenset(status or ()), **fields)


def where(f: SiteFilter, store: SqlStore | None = None, *, table: sa.Table = schema.sites,
          few: bool = False) -> list[sa.ColumnElement[bool]]:
    """The WHERE clauses of ``f`` on ``table``: ``sites`` (live rows only; the bbox through the store's
    spatial clause when a store is given, ``few`` as in ``layer_bbox_clause``) or ``site_versions``
    (box comparison only, keyed by ``site_id``)."""
    c = table.c
    key = c.site_id if table is schema.site_versions else c.id
    clauses: list[sa.ColumnElement[bool]] = [LIVE] if table is schema.sites else []
    if f.bbox is not None and store is not None and table is schema.sites:
        clauses.append(store.layer_bbox_clause(f.layer_id, f.bbox, few=few))  # the layer included
    else:
        if f.layer_id is not None:
            clauses.append(c.layer_id == f.layer_id)
        if f.bbox is not None:
            minx, miny, maxx, maxy = f.bbox
            clauses += [c.maxx >= minx, c.minx <= maxx, c.maxy >= miny, c.miny <= maxy]
    if f.status:
        clauses.append(c.status.in_(sorted(f.status)))
    if f.county:
        clauses.append(c.county == f.county)
    if f.q:
        clauses.append(c.name.contains(f.q, autoescape=True))
    if f.ids is not None:
        clauses.append(key.in_(sorted(f.ids)))
    if f.inspected is not None:
        start, end = f.inspected
        clauses.append(c.last_inspected_at.is_not(None))
        if start is not None:
            clauses.append(c.last_inspected_at >= start)
        if end is not None:
            clauses.append(c.last_inspected_at <= end)
    return clauses


def really_in(store: SqlStore, rows: Sequence[Any], bbox: Bbox | None) -> list[Any]:
    """The rows (with minx … maxy and geom) whose geometry meets ``bbox``, in order.

    Only the rows whose box crosses the edge of ``bbox`` have their geometry decoded;
    none when the store's bbox clause was exact already (PostGIS) or there is no bbox.
    """
    if bbox is None or store.bbox_is_exact:
        return list(rows)
    minx, miny, maxx, maxy = bbox
    keep = [minx <= r.minx and r.maxx <= maxx and miny <= r.miny and r.maxy <= maxy for r in rows]
    edge = [i for i, inside in enumerate(keep) if not inside]
    if edge:
        hits = store.exact_mask(shapely.from_wkb([rows[i].geom for i in edge]), bbox)
        for i, hit in zip(edge, hits.tolist(), strict=True):
            keep[i] = hit
    return [row for row, kept in zip(rows, keep, strict=True) if kept]
