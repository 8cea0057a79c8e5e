"""Manager pages: the review queue (approve / reject reports) and assigning sites to grid workers.

Each POST is a CSRF-protected form that calls one use case; on success the browser
is redirected back (post / redirect / get), on bad input the page is shown again
with the service's message beside the form and a 4xx status. Nothing is written
when a use case refuses: it commits only at its end.
"""

from __future__ import annotations

from urllib.parse import urlencode

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user

from geo import accounts, inspections, worklists
from geo.model import Conflict, InvalidInput, NotFound, OneMapError, PermissionDenied
from webapp.auth import role_required
from webapp.context import county_names, get_uow, layers, now
from webapp.i18n import _, error_text, ngettext

bp = Blueprint("manager", __name__, url_prefix="/manage")

ERROR_STATUS = {InvalidInput: 422, Conflict: 409, NotFound: 404, PermissionDenied: 403}


def _status_of(exc: OneMapError) -> int:
    return next((s for kind, s in ERROR_STATUS.items() if isinstance(exc, kind)), 400)


# ------------------------------------------------------------------ review queue
def _render_queue(errors: dict[int, str] | None = None, comments: dict[int, str] | None = None,
                  status: int = 200):
    with get_uow() as uow:
        queue = worklists.review_queue(uow=uow, user=current_user.user)
    return render_template("manager/reports.html", pending=queue.pending, decided=queue.decided,
                           sites=queue.sites, layer_defs=layers(), errors=errors or {},
                           comments=comments or {}), status


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
                                      user=current_user.user, now=now(), status=site_status)
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
        board = worklists.assignment_board(layers(), uow=uow, user=current_user.user, now=now(),
                                           worker=filters.get("worker"), layer_id=filters.get("layer"),
                                           county=filters.get("county"), q=filters.get("q"),
                                           mine=bool(filters.get("mine")))
    return render_template("manager/assign.html", workers=board.workers, worker=board.worker,
                           own_count=board.own_count, map_features=board.map_features, rows=board.rows,
                           truncated=board.truncated, limit=board.limit, filters=filters,
                           layer_defs=layers(), counties=county_names(), error=error,
                           checked=checked), status


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
    use_case = accounts.assign_sites if action == "assign" else accounts.unassign_sites
    try:
        with get_uow(write=True) as uow:
            changed = use_case(worker, site_ids, uow=uow, user=current_user.user, now=now())
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
