"""What a worker's and a manager's lists hold: the worker's sites (and the site of a report form), the
review queue, the assignment board.

Read only. Each takes the user who asks and checks their role (geo.access.require_role),
so the pages that show these lists only parse the request and render what comes back.
Statuses are the effective ones at the ``now`` given (geo.status.status_of).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import shapely

from geo import queries
from geo.access import require_role
from geo.accounts import ASSIGN_SITES
from geo.geometry import pixel_tolerance
from geo.io.geojson import feature
from geo.messages import msg
from geo.model import LayerDef, NotFound, Site, StatusDef, User
from geo.status import days_overdue, status_of
from geo.storage.base import UnitOfWork
from geo.storage.views.filters import SiteFilter

MAX_LISTED = 300  # users who see every site (managers) get the most urgent ones, not the whole city
# Order of "most urgent": overdue (most days first), never inspected, needs attention, the rest.
RANK = {"overdue": 0, "never_inspected": 1, "needs_attention": 2}
PENDING_LIMIT = 200  # reports awaiting review shown at once, newest first
DECIDED_LIMIT = 50  # recent decisions shown below them
SITE_LIMIT = 500  # sites listed on the assignment board; narrow the filter for more
INSPECT_SITES = msg("action_list_own_sites", "listing the sites to inspect")
REVIEW_REPORTS = msg("action_review_reports", "reviewing reports")


# ------------------------------------------------------------------ the worker's sites
def my_sites(user: User, layers: dict[str, LayerDef], *, uow: UnitOfWork, now: datetime,
             limit: int = MAX_LISTED) -> tuple[list[dict[str, Any]], int]:
    """The sites the user inspects (a grid worker's own; every site for a manager), most urgent first:
    overdue by most days, never inspected, needs attention, then the rest, by name. At most ``limit``,
    with how many there are in all; each with a point (lat, lon) to measure the distance from."""
    require_role(user, "worker", "manager", action=INSPECT_SITES)
    ids = queries.own_site_ids(user, uow)
    items = []
    for layer in (layer for layer in layers.values() if layer.inspections):
        for row in uow.map_view.rows(SiteFilter.of(layer_id=layer.id, ids=ids)):
            status = status_of(layer, row, now)
            days = days_overdue(layer, row.last_inspected_at, now)  # whole days in now's zone
            late = days is not None and days > 0
            items.append({
                "id": row.id, "name": row.name, "layer": layer, "status": status,
                "status_def": layer.status(status), "days": days if late else None,
                "day_key": days if late else 0,
                "rank": 0 if late else RANK.get(status, 3),
                "last_inspected_at": row.last_inspected_at, "geom": row.geom,
            })
    items.sort(key=lambda i: (i["rank"], -i["day_key"], i["name"], i["id"]))
    total = len(items)
    items = items[:limit]
    points = shapely.point_on_surface(shapely.from_wkb([i.pop("geom") for i in items])) if items else []
    for item, point in zip(items, points, strict=True):
        item["lat"], item["lon"] = round(point.y, 6), round(point.x, 6)
    return items, total


@dataclass(frozen=True)
class FormTarget:
    """The site a report form is for, with what the form shows of it."""

    site: Site
    layer: LayerDef
    status: str  # the effective status
    status_def: StatusDef | None
    point: dict[str, float]  # {"lat", "lon"}: where to measure the distance from


def form_target(site_id: int, layers: dict[str, LayerDef], *, uow: UnitOfWork, user: User,
                now: datetime) -> FormTarget:
    """The site of a report form: one the user sees (else NotFound) on a layer that takes reports."""
    require_role(user, "worker", "manager", action=INSPECT_SITES)
    site = queries.visible_site(site_id, uow=uow, user=user)
    layer = layers[site.layer_id]
    if not layer.inspections:
        raise NotFound(msg("report_layer_takes_none", "site {site} is a {layer} area, which takes no reports",
                           site=site_id, layer=layer.name))
    status = status_of(layer, site, now)
    point = shapely.point_on_surface(site.geometry)
    return FormTarget(site, layer, status, layer.status(status),
                      {"lat": round(point.y, 6), "lon": round(point.x, 6)})


# ------------------------------------------------------------------ the review queue
@dataclass(frozen=True)
class ReviewQueue:
    pending: list[dict[str, Any]]  # awaiting review, newest first
    decided: list[dict[str, Any]]  # the latest decisions, latest first
    sites: dict[int, Site]  # the sites of both lists, by id


def review_queue(*, uow: UnitOfWork, user: User, pending_limit: int = PENDING_LIMIT,
                 decided_limit: int = DECIDED_LIMIT) -> ReviewQueue:
    """Reports awaiting review and the latest approved or rejected ones, with their sites."""
    require_role(user, "manager", action=REVIEW_REPORTS)
    pending = uow.reports.find(status="pending", limit=pending_limit)
    decided = uow.reports.find(status="approved", limit=decided_limit) + \
        uow.reports.find(status="rejected", limit=decided_limit)
    decided.sort(key=lambda r: (r["reviewed_at"] or r["received_at"], r["id"]), reverse=True)
    decided = decided[:decided_limit]
    site_ids = {r["site_id"] for r in pending + decided}
    sites = {s.id: s for s in uow.sites.find(ids=site_ids)} if site_ids else {}
    return ReviewQueue(pending, decided, sites)


# ------------------------------------------------------------------ the assignment board
@dataclass(frozen=True)
class BoardRow:
    site: Site
    layer: LayerDef | None  # None: a layer no longer defined
    status: StatusDef | None
    code: str  # the effective status
    mine: bool  # assigned to the chosen worker
    others: list[str]  # the other workers it is assigned to


@dataclass(frozen=True)
class AssignmentBoard:
    workers: list[User]  # active grid workers, by name
    worker: User | None  # the one chosen
    own_count: int  # sites assigned to the chosen worker
    rows: list[BoardRow]
    truncated: bool  # more sites matched than ``limit``
    limit: int
    map_features: dict[str, Any]  # the rows as a FeatureCollection simplified for picking on a map


def assignment_board(layers: dict[str, LayerDef], *, uow: UnitOfWork, user: User, now: datetime,
                     worker: str | None = None, layer_id: str | None = None, county: str | None = None,
                     q: str | None = None, mine: bool = False, limit: int = SITE_LIMIT) -> AssignmentBoard:
    """The sites a manager assigns from (of a layer, a county, a name; with ``mine``, only those of the
    chosen ``worker``), at most ``limit``, each with its status, whether the worker has it and who else."""
    require_role(user, "manager", action=ASSIGN_SITES)
    workers = [u for u in uow.users.all() if u.role == "worker" and u.active]
    chosen = next((u for u in workers if u.username == worker), None)
    own = uow.assignments.site_ids(chosen.id) if chosen else set()
    ids = own if chosen and mine else None
    sites = list(uow.sites.find(layer_id=layer_id, county=county, q=q, ids=ids, limit=limit + 1))
    truncated = len(sites) > limit
    sites = sites[:limit]
    holders = uow.assignments.holders(s.id for s in sites)
    rows = []
    for site in sites:
        layer = layers.get(site.layer_id)
        code = status_of(layer, site, now) if layer else site.status
        rows.append(BoardRow(site, layer, layer.status(code) if layer else None, code, site.id in own,
                             [name for name in holders.get(site.id, [])
                              if not chosen or name != chosen.username]))
    map_features = {"type": "FeatureCollection", "features": [
        feature(row.site.id, _for_picking(row.site.geometry), {"name": row.site.name, "mine": row.mine})
        for row in rows]}
    return AssignmentBoard(workers, chosen, len(own), rows, truncated, limit, map_features)


def _for_picking(geometry):
    """Detail enough to click on at a city's zoom (display level 11), not the surveyed outline."""
    return shapely.simplify(geometry, pixel_tolerance(11), preserve_topology=True)
