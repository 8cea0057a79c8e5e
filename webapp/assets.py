"""Third-party front-end files, served by the app from Python packages (no CDN).

`/vendor/<package>/<path>` maps to the files of an xstatic package, so the app
works on a network with no internet.
"""

from __future__ import annotations

import functools
import hashlib
import io

from flask import Blueprint, abort, send_file, send_from_directory
from xstatic.pkg import leaflet, leaflet_markercluster

bp = Blueprint("assets", __name__)
PACKAGES = {"leaflet": leaflet.BASE_DIR, "leaflet-markercluster": leaflet_markercluster.BASE_DIR}
MAX_AGE = 7 * 24 * 3600

# Leaflet-Geoman (drawing and editing for managers) has no xstatic package; folium-offline
# embeds its built files as strings, keyed by the CDN URL folium would otherwise link to.
GEOMAN_URL = "https://unpkg.com/@geoman-io/leaflet-geoman-free@latest/dist/"
EMBEDDED = {"leaflet-geoman": {"leaflet-geoman.js": "text/javascript", "leaflet-geoman.css": "text/css"}}


@functools.cache
def _embedded(package: str, filename: str) -> tuple[bytes, str]:
    """The file's bytes and ETag; importing folium-offline's table takes ~0.7 s, so once, on first use."""
    from offlinefolium import elements

    body = elements._res[GEOMAN_URL + filename].encode()
    return body, hashlib.sha256(body).hexdigest()[:32]


@bp.get("/vendor/<package>/<path:filename>")
def vendor(package: str, filename: str):
    if package in EMBEDDED:
        if filename not in EMBEDDED[package]:
            abort(404)
        body, etag = _embedded(package, filename)
        return send_file(io.BytesIO(body), mimetype=EMBEDDED[package][filename], max_age=MAX_AGE, etag=etag)
    if package not in PACKAGES:
        abort(404)
    return send_from_directory(PACKAGES[package], filename, max_age=MAX_AGE)


def init_app(app) -> None:
    app.register_blueprint(bp)
