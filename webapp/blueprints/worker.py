"""The grid worker's phone pages: my sites, the report form, and the service worker.

Reports are not posted here: the form's script queues each report in the phone's
IndexedDB and sends it to `POST /api/v1/sites/<id>/reports` (webapp/static/report-queue.js);
`/sw.js` keeps these pages and their assets available with no network.
"""

from __future__ import annotations

from pathlib import Path

import shapely
from flask import Blueprint, Response, jsonify, render_template, url_for
from flask_login import current_user
from flask_wtf.csrf import generate_csrf

from geo import queries
from geo.model import NotFound
from geo.status import days_overdue, effective_status
from webapp.auth import role_required
from webapp.context import get_uow, layers, now, photo_limits

bp = Blueprint("worker", __name__)
STATIC = Path(__file__).resolve().parent.parent / "static"
MAX_LISTED = 300  # users who see every site (managers) get the most urgent ones, not the whole city
PRECACHE_FORMS = 100  # report forms the service worker fetches ahead for offline use
# Order of "most urgent": overdue (most days first), never inspected, needs attention, the rest.
RANK = {"overdue": 0, "never_inspected": 1, "needs_attention": 2}


def _my_sites(user, uow, moment) -> tuple[list[dict], int]:
    """The user's sites, most overdue first; each with a point to measure distance from."""
    ids = queries.own_site_ids(user, uow)
    items = []
    for layer in (layer for layer in layers().values() if layer.inspections):
        for row in uow.sites.view_rows(layer.id, ids=ids):
            status = effective_status(layer, row.status, row.last_inspected_at, row.last_result, moment)
            days = days_overdue(layer, row.last_inspected_at, moment)  # whole days in ONEMAP_TIMEZONE
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
    items = items[:MAX_LISTED]
    points = shapely.point_on_surface(shapely.from_wkb([i.pop("geom") for i in items])) if items else []
    for item, point in zip(items, points, strict=True):
        item["lat"], item["lon"] = round(point.y, 6), round(point.x, 6)
    return items, total


@bp.get("/my")
@role_required("worker", "manager")
def my_sites():
    moment = now()
    with get_uow() as uow:
        items, total = _my_sites(current_user.user, uow, moment)
    forms = [url_for("worker.report_form", site_id=i["id"]) for i in items[:PRECACHE_FORMS]]
    return render_template("worker/my.html", items=items, total=total, forms=forms)


@bp.get("/my/sites/<int:site_id>/report")
@role_required("worker", "manager")
def report_form(site_id: int):
    moment = now()
    with get_uow() as uow:
        site = queries.visible_site(site_id, uow=uow, user=current_user.user)
    layer = layers()[site.layer_id]
    if not layer.inspections:
        raise NotFound(f"site {site_id} takes no reports")
    status = effective_status(layer, site.status, site.last_inspected_at, site.last_result, moment)
    point = shapely.point_on_surface(site.geometry)
    return render_template("worker/report.html", site=site, layer=layer, status=status,
                           status_def=layer.status(status),
                           point={"lat": round(point.y, 6), "lon": round(point.x, 6)},
                           photo_side=photo_limits().display_side)


@bp.get("/my/csrf-token")
@role_required("worker", "manager")
def csrf_token():
    """A fresh CSRF token for the report queue: a page opened from the offline cache may be old."""
    response = jsonify(csrf_token=generate_csrf(), user=current_user.username)
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.get("/sw.js")
def service_worker():
    """The service worker, from the site root so that its scope can be the whole site."""
    response = Response((STATIC / "sw.js").read_bytes(), content_type="application/javascript; charset=utf-8")
    response.headers["Service-Worker-Allowed"] = "/"
    response.headers["Cache-Control"] = "no-cache"
    return response
