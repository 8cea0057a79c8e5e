"""Security headers on every response: a Content-Security-Policy that runs only the app's own scripts.

Scripts come from the app's origin, plus the few inline ones the app writes itself (folium's map
set-up, a page's small wiring), which carry the request's nonce; an injected script has none and
does not run. Images may also come from the configured basemap's tile servers, and as data: / blob:
(Geoman's icons, photos previewed on the phone before they are sent). No page may be framed by
another site. Styles stay 'unsafe-inline': folium and the status swatches set them in the markup,
and a style cannot run code.
"""

from __future__ import annotations

import secrets

from flask import g, request

from webapp.params import BadParameter

# The tile servers of each ONEMAP_BASEMAP (webapp/mapview.py).
TILE_HOSTS = {"osm": "https://tile.openstreetmap.org", "tianditu": "https://*.tianditu.gov.cn",
              "amap": "https://*.is.autonavi.com", "none": ""}


def csp_nonce() -> str:
    """This request's nonce for the inline scripts the app writes (made on first use)."""
    if "csp_nonce" not in g:
        g.csp_nonce = secrets.token_urlsafe(16)
    return g.csp_nonce


def policy(basemap: str, nonce: str) -> str:
    tiles = TILE_HOSTS.get(basemap, "")
    return "; ".join([
        "default-src 'self'",
        f"script-src 'self' 'nonce-{nonce}'",
        "style-src 'self' 'unsafe-inline'",
        f"img-src 'self' data: blob: {tiles}".strip(),
        "connect-src 'self'",
        "font-src 'self' data:",
        "worker-src 'self'",
        "object-src 'none'",
        "base-uri 'self'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ])


def reject_nul() -> None:
    """400 for a NUL character in a parameter, a form field or a JSON body: no text of OneMap holds one,
    and PostgreSQL refuses them in text, so it would otherwise surface as a 500."""
    sources = [request.args]
    if request.mimetype in ("multipart/form-data", "application/x-www-form-urlencoded"):
        sources.append(request.form)  # the report part of a filing is JSON text: its \u0000 too
    for source in sources:
        for name, value in source.items(multi=True):
            if "\x00" in value or "\\u0000" in value:
                raise BadParameter(name, "contains a NUL character")
    if request.mimetype == "application/json":
        body = request.get_data()  # cached: the view reads the same bytes
        if b"\x00" in body or b"\\u0000" in body:
            raise BadParameter("body", "contains a NUL character (\\u0000)")


def init_app(app) -> None:
    basemap = app.config["ONEMAP"].basemap
    app.jinja_env.globals["csp_nonce"] = csp_nonce
    app.before_request(reject_nul)

    @app.after_request
    def _headers(response):
        headers = response.headers
        headers.setdefault("Content-Security-Policy", policy(basemap, csp_nonce()))
        headers.setdefault("X-Content-Type-Options", "nosniff")
        headers.setdefault("X-Frame-Options", "DENY")  # for browsers older than frame-ancestors
        headers.setdefault("Referrer-Policy", "same-origin")
        headers.setdefault("Permissions-Policy", "geolocation=(self), camera=(self), microphone=()")
        return response
