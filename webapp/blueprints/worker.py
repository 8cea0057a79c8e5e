"""The grid worker's phone pages: my sites, the report form, and the service worker.

Reports are not posted here: the form's script queues each report in the phone's
IndexedDB and sends it to `POST /api/v1/sites/<id>/reports` (webapp/static/report-queue.js);
`/sw.js` keeps these pages and their assets available with no network.
"""

from __future__ import annotations

from pathlib import Path

from flask import Blueprint, Response, jsonify, render_template, url_for
from flask_login import current_user
from flask_wtf.csrf import generate_csrf

from geo import worklists
from webapp.auth import role_required
from webapp.context import get_uow, layers, now, photo_limits

bp = Blueprint("worker", __name__)
STATIC = Path(__file__).resolve().parent.parent / "static"
PRECACHE_FORMS = 100  # report forms the service worker fetches ahead for offline use


@bp.get("/my")
@role_required("worker", "manager")
def my_sites():
    moment = now()
    with get_uow() as uow:
        items, total = worklists.my_sites(current_user.user, layers(), uow=uow, now=moment)
    forms = [url_for("worker.report_form", site_id=i["id"]) for i in items[:PRECACHE_FORMS]]
    return render_template("worker/my.html", items=items, total=total, forms=forms)


@bp.get("/my/sites/<int:site_id>/report")
@role_required("worker", "manager")
def report_form(site_id: int):
    with get_uow() as uow:
        form = worklists.form_target(site_id, layers(), uow=uow, user=current_user.user, now=now())
    return render_template("worker/report.html", site=form.site, layer=form.layer, status=form.status,
                           status_def=form.status_def, point=form.point,
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
