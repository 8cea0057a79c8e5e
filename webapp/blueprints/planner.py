"""Planner pages: the map, a site's page with its history, the dashboard, and photo files."""

from __future__ import annotations

import hashlib

from flask import Blueprint, current_app, render_template, request, send_file, url_for
from flask_login import current_user

from geo import access, queries
from geo import dashboard as geo_dashboard
from geo.model import NotFound
from geo.storage.blobs import LocalBlobs
from webapp.auth import role_required
from webapp.context import PHOTO_RULE, blobs, county_names, derive_photos_later, get_uow, layers, now
from webapp.i18n import _, current_language, label
from webapp.mapview import map_parts

bp = Blueprint("planner", __name__)


def _page_config() -> dict:
    config = current_app.config["ONEMAP"]
    return {
        "layers": [
            {"id": layer.id, "name": label(layer.name), "geometry": list(layer.geometry_type),
             "statuses": [{"code": s.code, "label": label(s.label), "color": s.color}
                          for s in layer.statuses],
             "features": url_for("api.layer_features", layer_id=layer.id)}
            for layer in layers().values()
        ],
        "counties": url_for("api.counties"),
        "site": url_for("api.site", site_id=0).removesuffix("0"),
        "sitePage": url_for("planner.site_page", site_id=0).removesuffix("0"),
        "crs": "gcj02" if config.basemap == "amap" else None,
        "lang": current_language(),
        "timeZone": config.timezone,  # the scripts show days and times in ONEMAP_TIMEZONE too
    }


@bp.get("/")
def index():
    return render_template("planner/map.html", parts=map_parts(current_app.config["ONEMAP"]),
                           page_config=_page_config(), counties=county_names(),
                           today=now().date().isoformat())  # now() is in ONEMAP_TIMEZONE


@bp.get("/sites/<int:site_id>")
def site_page(site_id: int):
    with get_uow() as uow:
        # A deleted site's page stays for those who see every site: its history, photos and a restore.
        detail = queries.site_detail(site_id, layers(), uow=uow, user=current_user.user, now=now(),
                                     deleted=access.sees_all_sites(current_user.user))
    feature = queries.site_feature(detail)
    return render_template("planner/site.html", d=detail, feature=feature, counties=county_names())


@bp.get("/dashboard")
@role_required("planner", "manager")
def dashboard():
    names = county_names()
    page = request.args.get("page", 1, type=int)  # not a number: the first page
    with get_uow() as uow:
        figures = geo_dashboard.dashboard(layers(), uow=uow, now=now(), county_names=names,
                                          outside=_("Outside Jinzhou"), page=page)
    return render_template("planner/dashboard.html", dash=figures, now=now())


@bp.get(PHOTO_RULE)
def photo(photo_id: int, kind: str):
    """A photo's shown copy or thumbnail (EXIF stripped); originals are never served."""
    with get_uow() as uow:
        row = queries.visible_photo(photo_id, uow=uow, user=current_user.user)
    key = row["display_key" if kind == "display" else "thumbnail_key"]
    media = blobs()
    try:
        if isinstance(media, LocalBlobs):  # the OS sends the file (sendfile), with ETag and ranges
            return send_file(media.path(key), mimetype="image/jpeg", max_age=86400)
        # S3: streamed through the app, so the bucket stays private and access is checked above.
        # A copy is written once under a key unique to its photo, so the key's digest is its ETag.
        etag = hashlib.sha256(key.encode()).hexdigest()[:32]
        return send_file(media.open(key), mimetype="image/jpeg", max_age=86400, etag=etag)
    except NotFound:
        # Not made yet, or its making failed (a full disk): asked for, it is made again.
        derive_photos_later([row["report_id"]])
        raise NotFound(f"photo {photo_id} is not ready yet") from None
