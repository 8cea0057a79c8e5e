"""The map's reader: lean rows of the sites in a view, with their stored display forms."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from geo.storage import schema
from geo.storage.views._base import Reader
from geo.storage.views.filters import SiteFilter, really_in, where


class MapView(Reader):
    COLUMNS = ("id", "name", "status", "county", "last_report_id", "last_inspected_at", "last_result",
               "last_review", "minx", "miny", "maxx", "maxy", "geom")
    FEW = 2000  # a layer this small is read by its own index (SQLite; PostgreSQL's planner decides)

    def rows(self, f: SiteFilter, *, level: int | None = None, with_attributes: bool = False,
             limit: int | None = None) -> list[Any]:
        """What a map view or a summary needs, lean: rows of COLUMNS, in id order (``f.layer_id`` given).

        With ``f.bbox``, the store's index finds candidates and only sites really
        meeting the box are kept; geometries are decoded only for the candidates
        whose box crosses the view's edge. With ``level``, each row also carries
        ``display``: its stored GeoJSON for that zoom level, and ``geom`` is None
        unless the exact box test needs it (SQLite), so PostGIS sends no WKB.
        With ``limit``, at most that many rows: reading stops there, so a view
        holding far more sites than the map draws costs no more than the ones drawn.
        """
        s = schema.sites.c
        columns = [s[name] for name in self.COLUMNS]
        if level is not None and (f.bbox is None or self.store.bbox_is_exact):
            columns[self.COLUMNS.index("geom")] = sa.null().label("geom")
        if level is not None:
            columns.append(s[f"display_z{level}"].label("display"))
        if with_attributes:
            columns.append(s.attributes)
        few = f.bbox is not None and self._few(f.layer_id)
        query = sa.select(*columns).where(*where(f, self.store, few=few)).order_by(s.id)
        if limit is None:
            return really_in(self.store, self.c.execute(query).all(), f.bbox)
        if f.bbox is None or self.store.bbox_is_exact:
            return self.c.execute(query.limit(limit)).all()
        # The exact test drops some candidates: read them in batches until enough are really in.
        kept: list[Any] = []
        result = self.c.execute(query)
        try:
            while len(kept) < limit and (batch := result.fetchmany(1000)):
                kept += really_in(self.store, batch, f.bbox)
        finally:
            result.close()
        return kept[:limit]

    def _few(self, layer_id: str | None) -> bool:
        if self.store.bbox_is_exact or layer_id is None:
            return False
        first = (sa.select(sa.literal(1)).where(schema.sites.c.layer_id == layer_id).limit(self.FEW + 1)
                 .subquery())
        return self.c.execute(sa.select(sa.func.count()).select_from(first)).scalar_one() <= self.FEW
