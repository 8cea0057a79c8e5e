"""Layers as OGC API – Features collections, read side: extents, paged items, time filters.

Plain values in and out; the web layer (webapp/blueprints/ogc.py) adds links and
serialises. Every feature carries its effective status (cadence applied), so a
``status`` filter means what the map shows, and its last inspection time is the
time a ``datetime`` filter is applied to.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from geo.exports import SiteProperties
from geo.io.geojson import feature
from geo.messages import msg
from geo.model import LayerDef, NotFound, Site
from geo.status import status_of
from geo.storage.base import UnitOfWork
from geo.storage.views.filters import SiteFilter as Sites
from geo.times import Bounds

CRS84 = "http://www.opengis.net/def/crs/OGC/1.3/CRS84"
GREGORIAN = "http://www.opengis.net/def/uom/ISO-8601/0/Gregorian"
DEFAULT_LIMIT = 10
MAX_LIMIT = 10_000

@dataclass(frozen=True)
class ItemQuery:
    bbox: tuple[float, float, float, float] | None = None
    inspected: Bounds | None = None  # sites last inspected within; None: no time filter
    status: frozenset[str] = frozenset()  # effective status codes; empty: any
    county: str | None = None
    offset: int = 0
    limit: int = DEFAULT_LIMIT


@dataclass(frozen=True)
class ItemPage:
    features: list[dict[str, Any]]
    matched: int  # features meeting every filter, across all pages


def site_feature(layer: LayerDef, site: Site, now: datetime, report_count: int = 0) -> dict[str, Any]:
    """A site as a GeoJSON Feature with the properties of a GeoJSON export (Chinese status label)."""
    return feature(site.id, site.geometry,
                   SiteProperties(layer, "zh_CN")(site, status_of(layer, site, now), report_count))


def _features(layer: LayerDef, ids: list[int], *, uow: UnitOfWork, now: datetime) -> list[dict[str, Any]]:
    if not ids:
        return []
    counts = uow.ogc_view.report_counts(ids)
    return [site_feature(layer, site, now, counts.get(site.id, 0))
            for site in uow.sites.find(layer_id=layer.id, ids=ids)]


def item_page(layer: LayerDef, query: ItemQuery, *, uow: UnitOfWork, now: datetime) -> ItemPage:
    """One page of a layer's sites meeting the query, in id order (stable, so pages never overlap).

    Counting and paging run in SQL when they can. A bbox needs the exact geometry
    test, and a status filter on a cadence layer the clock, so those match over lean
    rows here; either way only the page's sites are loaded whole.
    """
    derived = bool(query.status) and layer.status_mode == "cadence"  # stored status is not what is shown
    wanted = Sites.of(layer_id=layer.id, bbox=query.bbox, status=None if derived else query.status,
                      county=query.county, inspected=query.inspected)
    if query.bbox is None and not derived:
        matched, page = uow.ogc_view.page(wanted, offset=query.offset, limit=query.limit)
        return ItemPage(_features(layer, page, uow=uow, now=now), matched)
    rows = uow.ogc_view.rows(wanted)
    if derived:
        rows = [r for r in rows if status_of(layer, r, now) in query.status]
    page = [r.id for r in rows[query.offset:query.offset + query.limit]]
    return ItemPage(_features(layer, page, uow=uow, now=now), len(rows))


def item(layer: LayerDef, item_id: str, *, uow: UnitOfWork, now: datetime) -> dict[str, Any]:
    """One site of the layer as a Feature; NotFound for an unknown id or a site of another layer."""
    missing = NotFound(msg("no_item", "collection {collection} has no item {item}", collection=repr(layer.id),
                           item=repr(item_id)))
    if not (item_id.isascii() and item_id.isdigit() and len(item_id) <= 18):  # ids are 64-bit integers
        raise missing
    try:
        site = uow.sites.get(int(item_id))
    except NotFound:
        raise missing from None
    if site.layer_id != layer.id:
        raise missing
    return site_feature(layer, site, now, uow.ogc_view.report_counts([site.id]).get(site.id, 0))


def extent(layer: LayerDef, *, uow: UnitOfWork) -> dict[str, Any]:
    """The layer's OGC extent: the box of its sites (CRS84) and the span of their last inspections.

    A member is left out when there is nothing to bound (no sites, or none inspected yet).
    """
    bbox, inspected = uow.ogc_view.extent(layer.id)
    out: dict[str, Any] = {}
    if bbox is not None:
        out["spatial"] = {"bbox": [list(bbox)], "crs": CRS84}
    if inspected is not None:
        out["temporal"] = {"interval": [[moment.isoformat() for moment in inspected]], "trs": GREGORIAN}
    return out
