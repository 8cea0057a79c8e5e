"""Planning endpoints of the JSON API: create, edit, split, merge, delete and restore sites; their versions.

Each write names the version it was based on (``base_version``); a stale one is a 409
with the current version and what changed since (geo.planning). Browsers send the
session's CSRF token in ``X-CSRFToken``, as for every state-changing request.
"""

from __future__ import annotations

import orjson
from flask import Blueprint, Response, request, url_for
from flask_login import current_user

from geo import planning, queries
from geo.io.geojson import dumps, feature
from geo.model import TooLarge, UnsupportedMedia
from webapp import params
from webapp.auth import role_required
from webapp.context import get_uow, layer_or_404, layers, now
from webapp.i18n import _

bp = Blueprint("sites_api", __name__, url_prefix="/api/v1")

MAX_BODY = 20 * 1024 * 1024  # a drawn site of 100,000 vertices is about 4 MB of GeoJSON


def _body() -> dict:
    """The JSON object of the request, or 415 / 400 / 413 saying what is wrong with it."""
    if request.mimetype != "application/json":
        raise UnsupportedMedia(_("send the site as application/json"))
    if (request.content_length or 0) > MAX_BODY:
        raise TooLarge(_("body: more than {limit} MB", limit=MAX_BODY // 2**20))
    try:
        body = orjson.loads(request.get_data(cache=False))
    except orjson.JSONDecodeError as exc:
        raise params.BadParameter("body", _("is not valid JSON ({detail})", detail=exc)) from None
    if not isinstance(body, dict):
        raise params.BadParameter("body", _("must be a JSON object"))
    return body


def _site_response(planned: planning.Planned, status: int = 200) -> Response:
    """The site a change wrote, as ``GET /api/v1/sites/<id>`` shows it (built by the use case)."""
    response = Response(dumps(planned.feature), status=status, mimetype="application/geo+json")
    response.headers["Location"] = url_for("api.site", site_id=planned.site.id)
    return response


@bp.post("/layers/<layer_id>/sites")
@role_required("manager")
def create(layer_id: str):
    layer = layer_or_404(layer_id)
    with get_uow() as uow:
        planned = planning.create_site(layer, _body(), uow=uow, user=current_user.user, now=now())
    return _site_response(planned, 201)


@bp.patch("/sites/<int:site_id>")
@role_required("manager")
def edit(site_id: int):
    with get_uow() as uow:
        planned = planning.edit_site(site_id, _body(), layers=layers(), uow=uow, user=current_user.user,
                                     now=now())
    return _site_response(planned)


@bp.delete("/sites/<int:site_id>")
@role_required("manager")
def delete(site_id: int):
    # DELETE bodies are optional in HTTP: the base version may come in the query string instead, or not at
    # all (then the current version is deleted).
    body = _body() if request.content_length else {}
    if "base_version" not in body and request.args.get("base_version"):
        body["base_version"] = params.integer(request.args["base_version"], "base_version", 1, 2**31)
    with get_uow() as uow:
        version = planning.delete_site(site_id, body, uow=uow, user=current_user.user, now=now())
    return {"id": site_id, "deleted": True, "version": version}


@bp.post("/sites/<int:site_id>/split")
@role_required("manager")
def split(site_id: int):
    with get_uow() as uow:
        parts = planning.split_site(site_id, _body(), uow=uow, user=current_user.user, now=now())
    return {"sites": [_summary(site) for site in parts]}


@bp.post("/layers/<layer_id>/merge")
@role_required("manager")
def merge(layer_id: str):
    layer = layer_or_404(layer_id)
    with get_uow() as uow:
        planned = planning.merge_sites(layer, _body(), uow=uow, user=current_user.user, now=now())
    return _site_response(planned)


@bp.post("/sites/<int:site_id>/versions/<int:version>/restore")
@role_required("manager")
def restore(site_id: int, version: int):
    with get_uow() as uow:
        planned = planning.restore_version(site_id, version, _body(), layers=layers(), uow=uow,
                                           user=current_user.user, now=now())
    return _site_response(planned)


@bp.get("/sites/<int:site_id>/versions")
def versions(site_id: int):
    with get_uow() as uow:
        history = queries.site_history(site_id, uow=uow, user=current_user.user)
    site = history["site"]
    return {"site_id": site.id, "layer": site.layer_id, "current_version": site.version,
            "deleted": site.deleted_at is not None,
            "versions": [_version_json(v) for v in history["versions"]]}


@bp.get("/sites/<int:site_id>/versions/<int:version>")
def version(site_id: int, version: int):
    """One past version as a GeoJSON Feature, to show its shape on the map."""
    with get_uow() as uow:
        old = planning.past_version(site_id, version, uow=uow, user=current_user.user)
    geometry = old.pop("geometry")
    properties = {k: v for k, v in _version_json(old).items() if k not in ("minx", "miny", "maxx", "maxy")}
    return Response(dumps(feature(site_id, geometry, properties)), mimetype="application/geo+json")


def _version_json(v: dict) -> dict:
    return {**{k: v for k, v in v.items() if k != "site_id"}, "at": v["at"].isoformat()}


def _summary(site) -> dict:
    return {"id": site.id, "name": site.name, "version": site.version,
            "geometry": feature(site.id, site.geometry, {})["geometry"]}
