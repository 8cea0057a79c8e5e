"""Manager pages: the review queue (approve / reject reports) and assigning sites to grid workers.

Each POST is a CSRF-protected form that calls one use case; on success the browser
is redirected back (post / redirect / get), on bad input the page is shown again
with the service's message beside the form and a 4xx status. Nothing is written
when a use case refuses: it commits only at its end.
"""

from __future__ import annotations

from urllib.parse import urlencode

import shapely
from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user

from geo import accounts, inspections, services
from geo.geometry import pixel_tolerance
from geo.io.geojson import feature
from geo.model import Conflict, InvalidInput, NotFound, OneMapError, PermissionDenied
from geo.status import effective_status
from webapp.auth import role_required
from webapp.blueprints.planner import county_names
from webapp.context import get_uow, layers, now
from webapp.i18n import _, error_text, ngettext

bp = Blueprint("manager", __name__, url_prefix="/manage")

PENDING_LIMIT = 200  # reports awaiting review shown at once, newest first
DECIDED_LIMIT = 50  # recent decisions shown below them
SITE_LIMIT = 500  # sites listed on the assignment page; narrow the filter for more
ERROR_STATUS = {InvalidInput: 422, Conflict: 409, NotFound: 404, PermissionDenied: 403}


def _status_of(exc: OneMapError) -> int:
    return next((s for kind, s in ERROR_STATUS.items() if isinstance(exc, kind)), 400)


# ------------------------------------------------------------------ review queue
def _queue(uow) -> tuple[list[dict], list[dict], dict]:
    pending = uow.reports.find(status="pending", limit=PENDING_LIMIT)
    decided = uow.reports.find(status="approved", limit=DECIDED_LIMIT) + \
        uow.reports.find(status="rejected", limit=DECIDED_LIMIT)
    decided.sort(key=lambda r: (r["reviewed_at"] or r["received_at"], r["id"]), reverse=True)
    decided = decided[:DECIDED_LIMIT]
    site_ids = {r["site_id"] for r in pending + decided}
    sites = {s.id: s for s in uow.sites.find(ids=site_ids)} if site_ids else {}
    return pending, decided, sites


def _render_queue(errors: dict[int, str] | None = None, comments: dict[int, str] | None = None,
                  status: int = 200):
    with get_uow() as uow:
        pending, decided, sites = _queue(uow)
    return render_template("manager/reports.html", pending=pending, decided=decided, sites=sites,
                           layer_defs=layers(), errors=errors or {}, comments=comments or {}), status


@bp.get("/reports")
@role_required("manager")
def reports():
    return _render_queue()


@bp.post("/reports/<int:report_id>/review")
@role_required("manager")
def review(report_id: int):
    decision = request.form.get("decision", "")
    comment = request.form.get("comment", "").strip()
    # Stage layers (mines, roads, port): an approval may move the site to a new stage.
    site_status = (request.form.get("site_status") or "").strip() or None
    try:
        with get_uow(write=True) as uow:
            inspections.review_report(report_id, decision, comment, layers=layers(), uow=uow,
                                   actor=current_user.username, now=now(), status=site_status)
    except (InvalidInput, Conflict, NotFound, PermissionDenied) as exc:
        return _render_queue({report_id: error_text(exc)}, {report_id: comment}, _status_of(exc))
    flash(_("Report approved.") if decision == "approve" else _("Report rejected."), "info")
    return redirect(url_for("manager.reports"))


# ------------------------------------------------------------------ assignment
def _filters(source) -> dict[str, str]:
    """The assignment page's filters, from the query string or the posted form."""
    values = {name: (source.get(name) or "").strip() for name in ("worker", "layer", "county", "q")}
    if values["layer"] and values["layer"] not in layers():
        abort(400, f"layer: unknown {values['layer']!r}")
    values["mine"] = "1" if source.get("mine") == "1" else ""
    return {k: v for k, v in values.items() if v}


def _render_assign(filters: dict[str, str], error: str | None = None, checked: set[int] = frozenset(),
                   status: int = 200):
    with get_uow() as uow:
        workers = [u for u in uow.users.all() if u.role == "worker" and u.active]
        worker = next((u for u in workers if u.username == filters.get("worker")), None)
        own = uow.assignments.site_ids(worker.id) if worker else set()
        ids = own if worker and filters.get("mine") else None
        found = uow.sites.find(layer_id=filters.get("layer"), county=filters.get("county"),
                               q=filters.get("q"), ids=ids, limit=SITE_LIMIT + 1)
        sites = list(found)
        holders = uow.assignments.holders(s.id for s in sites[:SITE_LIMIT])
    truncated = len(sites) > SITE_LIMIT
    sites = sites[:SITE_LIMIT]
    clock = now()
    rows = []
    for site in sites:
        layer = layers().get(site.layer_id)
        code = effective_status(layer, site.status, site.last_inspected_at, site.last_result, clock) \
            if layer else site.status
        rows.append({"site": site, "layer": layer, "status": layer.status(code) if layer else None,
                     "code": code, "mine": site.id in own,
                     "others": [name for name in holders.get(site.id, []) if not worker or
                                name != worker.username]})
    map_features = {"type": "FeatureCollection", "features": [
        feature(row["site"].id, _for_picking(row["site"].geometry),
                {"name": row["site"].name, "mine": row["mine"]}) for row in rows]}
    return render_template("manager/assign.html", workers=workers, worker=worker, own_count=len(own),
                           map_features=map_features,
                           rows=rows, truncated=truncated, limit=SITE_LIMIT, filters=filters,
                           layer_defs=layers(), counties=county_names(), error=error,
                           checked=checked), status


def _for_picking(geometry):
    """Detail enough to click on at a city's zoom (display level 11), not the surveyed outline."""
    return shapely.simplify(geometry, pixel_tolerance(11), preserve_topology=True)


@bp.get("/assign")
@role_required("manager")
def assign():
    return _render_assign(_filters(request.args))


def _site_ids(values: list[str]) -> list[int]:
    try:
        return [int(v) for v in values]
    except ValueError:
        abort(400, "site: site ids are whole numbers")


@bp.post("/assign")
@role_required("manager")
def assign_post():
    filters = _filters(request.form)
    action = request.form.get("action")
    if action not in ("assign", "unassign"):
        abort(400, "action: assign or unassign")
    site_ids = _site_ids(request.form.getlist("site"))
    worker = filters.get("worker", "")
    if not worker:
        return _render_assign(filters, _("Choose a grid worker"), set(site_ids), 422)
    if not site_ids:
        return _render_assign(filters, _("Check at least one site."), set(), 422)
    use_case = services.assign_sites if action == "assign" else accounts.unassign_sites
    try:
        with get_uow(write=True) as uow:
            changed = use_case(worker, site_ids, uow=uow, actor=current_user.username, now=now())
    except (InvalidInput, Conflict, NotFound) as exc:
        return _render_assign(filters, error_text(exc), set(site_ids), _status_of(exc))
    if action == "assign":
        done = ngettext("{n} site newly assigned to {name}.", "{n} sites newly assigned to {name}.",
                        len(changed), name=worker)
    else:
        done = ngettext("{n} site taken from {name}.", "{n} sites taken from {name}.", len(changed),
                        name=worker)
    flash(done, "info")
    return redirect(url_for("manager.assign") + "?" + urlencode(filters))
