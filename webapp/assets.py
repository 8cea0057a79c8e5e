"""Third-party front-end files, served by the app from Python packages (no CDN).

`/vendor/<package>/<path>` maps to the files of an xstatic package, so the app
works on a network with no internet.
"""

from __future__ import annotations

from flask import Blueprint, abort, send_from_directory
from xstatic.pkg import leaflet, leaflet_markercluster

bp = Blueprint("assets", __name__)
PACKAGES = {"leaflet": leaflet.BASE_DIR, "leaflet-markercluster": leaflet_markercluster.BASE_DIR}


@bp.get("/vendor/<package>/<path:filename>")
def vendor(package: str, filename: str):
    if package not in PACKAGES:
        abort(404)
    return send_from_directory(PACKAGES[package], filename, max_age=7 * 24 * 3600)


def init_app(app) -> None:
    app.register_blueprint(bp)
