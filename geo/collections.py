"""Layers as OGC API – Features collections, read side: extents, paged items, time filters.

Plain values in and out; the web layer (webapp/blueprints/ogc.py) adds links and
serialises. Every feature carries its effective status (cadence applied), so a
``status`` filter means what the map shows, and its last inspection time is the
time a ``datetime`` filter is applied to.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, tzinfo
from typing import Any

from geo.exports import LOCAL_TIME, SiteProperties, parse_time
from geo.io.geojson import feature
from geo.messages import msg
from geo.model import LayerDef, NotFound, Site
from geo.status import effective_status
from geo.storage.base import UnitOfWork

CRS84 = "http://www.opengis.net/def/crs/OGC/1.3/CRS84"
GREGORIAN = "http://www.opengis.net/def/uom/ISO-8601/0/Gregorian"
DEFAULT_LIMIT = 10
MAX_LIMIT = 10_000

Bounds = tuple[datetime | None, datetime | None]  # inclusive; None is an open end

_OPEN = ("", "..")  # both spellings of an open interval end in OGC API – Features


def parse_datetime(text: str, zone: tzinfo = LOCAL_TIME) -> Bounds:
    """An instant or an interval ``start/end`` (``..`` or nothing for an open end) as inclusive bounds;
    a date is a whole day in ``zone``.

    Raises ValueError saying what is wrong.
    """
    text = text.strip()
    if "/" not in text:
        if text in _OPEN:
            raise ValueError(msg("datetime_empty", "give a time, a date or an interval start/end"))
        return parse_time(text, end=False, zone=zone), parse_time(text, end=True, zone=zone)
    start_text, end_text = (part.strip() for part in text.split("/", 1))
    if "/" in end_text:
        raise ValueError(msg("interval_slashes", "an interval has one '/' between its start and its end"))
    start = None if start_text in _OPEN else parse_time(start_text, end=False, zone=zone)
    end = None if end_text in _OPEN else parse_time(end_text, end=True, zone=zone)
    if start is not None and end is not None and start > end:
        raise ValueError(msg("interval_reversed", "the interval starts after it ends"))
    return start, end


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
    status = effective_status(layer, site.status, site.last_inspected_at, site.last_result, now)
    return feature(site.id, site.geometry, SiteProperties(layer, "zh_CN")(site, status, report_count))


def _features(layer: LayerDef, ids: list[int], *, uow: UnitOfWork, now: datetime) -> list[dict[str, Any]]:
    if not ids:
        return []
    counts = uow.sites.report_counts(ids)
    return [site_feature(layer, site, now, counts.get(site.id, 0))
            for site in uow.sites.find(layer_id=layer.id, ids=ids)]


def item_page(layer: LayerDef, query: ItemQuery, *, uow: UnitOfWork, now: datetime) -> ItemPage:
    """One page of a layer's sites meeting the query, in id order (stable, so pages never overlap).

    Counting and paging run in SQL when they can. A bbox needs the exact geometry
    test, and a status filter on a cadence layer the clock, so those match over lean
    rows here; either way only the page's sites are loaded whole.
    """
    derived = bool(query.status) and layer.status_mode == "cadence"  # stored status is not what is shown
    stored = None if derived else query.status
    if query.bbox is None and not derived:
        matched, page = uow.sites.item_ids(layer.id, status=stored, county=query.county,
                                           inspected=query.inspected, offset=query.offset, limit=query.limit)
        return ItemPage(_features(layer, page, uow=uow, now=now), matched)
    rows = uow.sites.item_rows(layer.id, bbox=query.bbox, status=stored, county=query.county,
                               inspected=query.inspected)
    if derived:
        rows = [r for r in rows
                if effective_status(layer, r.status, r.last_inspected_at, r.last_result, now) in query.status]
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
    return site_feature(layer, site, now, uow.sites.report_counts([site.id]).get(site.id, 0))


def extent(layer: LayerDef, *, uow: UnitOfWork) -> dict[str, Any]:
    """The layer's OGC extent: the box of its sites (CRS84) and the span of their last inspections.

    A member is left out when there is nothing to bound (no sites, or none inspected yet).
    """
    bbox, inspected = uow.sites.extent(layer.id)
    out: dict[str, Any] = {}
    if bbox is not None:
        out["spatial"] = {"bbox": [list(bbox)], "crs": CRS84}
    if inspected is not None:
        out["temporal"] = {"interval": [[moment.isoformat() for moment in inspected]], "trs": GREGORIAN}
    return out
