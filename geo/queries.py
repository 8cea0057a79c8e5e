"""Read-side use cases: what the map and the site page show (the dashboard: geo/dashboard.py).

Nothing here writes. Access rules apply to every query: a grid worker sees only
their own sites (geo.access).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import numpy as np
import shapely

from geo import access, history
from geo.crs import from_wgs84
from geo.geometry import display_level, pixel_tolerance
from geo.io.geojson import dumps, feature
from geo.messages import msg
from geo.model import LayerDef, NotFound, Site, User
from geo.status import overdue_from, report_result, status_of
from geo.storage.base import UnitOfWork
from geo.storage.views.filters import SiteFilter as Sites

MAX_VIEW_FEATURES = 5000  # a view with more is zoomed out too far to read; the client is told


def own_site_ids(user: User, uow: UnitOfWork) -> set[int] | None:
    """The ids a user is limited to, or None when they see every site.

    A grid worker's sites are those assigned to them one by one, plus every site
    whose representative point lies inside a grid cell assigned to them.
    """
    if access.sees_all_sites(user):
        return None
    ids = uow.assignments.site_ids(user.id)
    return ids | uow.sites.in_cells(ids, access.GRID_LAYER)


def may_see_site(user: User, site: Site, uow: UnitOfWork) -> bool:
    """``site.id in own_site_ids(user)``, answered for one site with as few queries as it can."""
    if access.sees_all_sites(user) or uow.assignments.has(user.id, site.id):
        return True
    point = site.geometry.representative_point()
    return any(cell.geometry.contains(point)
               for cell in uow.sites.find(ids=uow.assignments.site_ids(user.id), layer_id=access.GRID_LAYER))


@dataclass(frozen=True)
class ViewQuery:
    bbox: tuple[float, float, float, float] | None = None
    zoom: int | None = None
    status: frozenset[str] = frozenset()
    county: str | None = None
    q: str | None = None
    display_crs: str | None = None  # "gcj02" to draw on AMap tiles; data stays WGS84 everywhere else
    as_of: datetime | None = None  # the sites and statuses as they were then (geo.history)


def iso_or_none(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def features_in_view(layer: LayerDef, query: ViewQuery, *, uow: UnitOfWork, user: User,
                     now: datetime) -> bytes:
    """A GeoJSON FeatureCollection of the layer's sites in a map view, as one body.

    Geometry comes simplified for the zoom: the stored display form of the zoom's
    level (a pixel or two off at most), or simplified here for very close zooms, for no
    zoom (full detail) and for the GCJ-02 shift. Properties are only what the map
    draws; statuses are the effective ones (cadence applied). At most
    MAX_VIEW_FEATURES, with ``truncated`` saying so (and ``numberMatched`` only when it is not:
    the sites beyond the cap are not read).
    """
    if query.as_of is not None:  # past versions have no stored display forms: simplified here
        level = None
        rows = history.rows_as_of(layer, query.as_of, uow=uow, bbox=query.bbox, county=query.county,
                                  q=query.q, ids=own_site_ids(user, uow))
        statuses = [row.status for row in rows]
    else:
        level = None if query.display_crs else display_level(query.zoom)
        # One more than the map draws tells it that the view holds more (a status filter needs every row)
        wanted = Sites.of(layer_id=layer.id, bbox=query.bbox, county=query.county, q=query.q,
                          ids=own_site_ids(user, uow))
        rows = uow.map_view.rows(wanted, level=level, limit=None if query.status else MAX_VIEW_FEATURES + 1)
        statuses = [status_of(layer, r, now) for r in rows]
    if query.status:
        kept = [(r, s) for r, s in zip(rows, statuses, strict=True) if s in query.status]
        rows, statuses = [r for r, _ in kept], [s for _, s in kept]
    truncated = len(rows) > MAX_VIEW_FEATURES
    rows, statuses = rows[:MAX_VIEW_FEATURES], statuses[:MAX_VIEW_FEATURES]
    if level is not None:
        texts = [row.display.encode() for row in rows]
    else:
        texts = _geojson_texts(shapely.from_wkb([row.geom for row in rows]), query)
    members = dumps({"layer": layer.id, **({} if truncated else {"numberMatched": len(rows)}),
                     "numberReturned": len(rows), "truncated": truncated,
                     **({"as_of": query.as_of.isoformat()} if query.as_of else {})})
    features = b",".join(
        b'{"type":"Feature","id":%d,"geometry":%s,"properties":%s}' % (row.id, text, dumps({
            "name": row.name, "status": status, "county": row.county,
            "last_inspected_at": iso_or_none(row.last_inspected_at), "last_result": row.last_result,
            **({"unreviewed": True} if row.last_review == "pending" else {})}))
        for row, status, text in zip(rows, statuses, texts, strict=True))
    return b'{"type":"FeatureCollection",%s,"features":[%s]}' % (members[1:-1], features)


def _geojson_texts(geometries, query: ViewQuery) -> list[bytes]:
    """GeoJSON of geometries simplified for the query's zoom (and shifted for its basemap)."""
    if not len(geometries):
        return []
    if query.zoom is not None:
        geometries = shapely.simplify(geometries, pixel_tolerance(query.zoom), preserve_topology=True)
    if query.display_crs:
        shifted = [from_wgs84(g, query.display_crs) for g in geometries]
        geometries = shapely.transform(np.array(shifted, dtype=object), lambda xy: np.round(xy, 6))
    return [text.encode() for text in shapely.to_geojson(geometries)]


def visible_site(site_id: int, *, uow: UnitOfWork, user: User, deleted: bool = False) -> Site:
    """The site, or NotFound when it does not exist or the user may not see it (no hint which);
    a deleted site only with ``deleted`` (its page, which keeps its history and photos)."""
    site = uow.sites.get(site_id, deleted=True)
    if not may_see_site(user, site, uow):
        raise _not_found(site_id)
    if site.deleted_at is not None and not deleted:
        uow.sites.get(site_id)  # NotFound saying when it was deleted
    return site


def _not_found(site_id: int) -> NotFound:
    return NotFound(msg("site_not_found", "site {site_id} does not exist", site_id=site_id))


def visible_photo(photo_id: int, *, uow: UnitOfWork, user: User) -> dict[str, Any]:
    """A photo's row (file keys, ``report_id``, ``site_id``); NotFound unless the user may see its site
    (a deleted site's photos only for those who see every site, as its page)."""
    row = uow.photos.get(photo_id)
    try:
        visible_site(row["site_id"], uow=uow, user=user, deleted=access.sees_all_sites(user))
    except NotFound:
        raise NotFound(msg("photo_not_found", "photo {photo_id} does not exist", photo_id=photo_id)) from None
    return row


def site_history(site_id: int, *, uow: UnitOfWork, user: User) -> dict[str, Any]:
    """A site (deleted ones too) and every version of it, oldest first; NotFound as ``visible_site``."""
    return {"site": visible_site(site_id, uow=uow, user=user, deleted=True),
            "versions": uow.versions.history(site_id)}


def status_timeline(layer: LayerDef, site: Site, reports: list[dict], now: datetime) -> list[dict]:
    """The site's status over time, oldest first: [{"at", "status"}].

    For a cadence layer it follows from the reports (rejected ones do not count)
    and the gaps between them; a stage layer shows its current stage since the
    last change.
    """
    if layer.status_mode != "cadence":
        return [{"at": site.updated_at, "status": site.status}]
    events = [{"at": site.created_at, "status": "never_inspected"}]
    counted = sorted((r for r in reports if r["status"] != "rejected"), key=lambda r: r["observed_at"])
    following_reports = [*counted[1:], None] if counted else []
    for report, following in zip(counted, following_reports, strict=True):
        failed = report_result(report["checklist"]) == "fail"
        events.append({"at": report["observed_at"], "status": "needs_attention" if failed else "ok"})
        due = overdue_from(layer, report["observed_at"], now.tzinfo)  # calendar days in now's zone
        if due <= (following["observed_at"] if following else now):
            events.append({"at": due, "status": "overdue"})
    return events


def site_detail(site_id: int, layers: dict[str, LayerDef], *, uow: UnitOfWork, user: User,
                now: datetime, deleted: bool = False) -> dict:
    site = visible_site(site_id, uow=uow, user=user, deleted=deleted)
    layer = layers[site.layer_id]
    reports = uow.reports.find(site_ids=[site.id])
    if not access.sees_all_sites(user):
        reports = [r for r in reports if r["user_id"] == user.id]
    return {
        "site": site,
        "layer": layer,
        "status": status_of(layer, site, now),
        "reports": reports,
        "timeline": status_timeline(layer, site, reports, now),
        "latest": next((r for r in reports if r["status"] != "rejected"), None),
    }


def site_feature(detail: dict) -> dict[str, Any]:
    """One site as a GeoJSON Feature with its latest report summary (for /api/v1/sites/<id>)."""
    site, latest, layer = detail["site"], detail["latest"], detail["layer"]
    summary = None
    if latest:
        summary = {"id": latest["id"], "observed_at": iso_or_none(latest["observed_at"]),
                   "status": latest["status"], "result": report_result(latest["checklist"]),
                   "flags": latest["flags"], "note": latest["note"],
                   "photos": [p["id"] for p in latest["photos"]]}
    return feature(site.id, site.geometry, {
        "layer": layer.id, "name": site.name, "status": detail["status"], "county": site.county,
        "ref": site.ref, **site.attributes, "version": site.version, "latest_report": summary})
