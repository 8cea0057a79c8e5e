"""OneMap's Flask app. `create_app` is the only place that reads configuration,
opens the store and registers blueprints; nothing happens at import time."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from flask import Flask

from geo.layers import load_layers
from geo.storage import open_store
from webapp.settings import Config, load_config


def create_app(config: Config | None = None) -> Flask:
    config = config or load_config()
    app = Flask(__name__)
    app.config.update(
        SECRET_KEY=config.secret_key,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=config.proxies > 0,  # behind nginx with TLS: never send it in the clear
        MAX_CONTENT_LENGTH=config.max_request_mb * 1024 * 1024,
        ONEMAP=config,
        JSON_AS_ASCII=False,
    )
    app.json.ensure_ascii = False
    if config.proxies:
        from werkzeug.middleware.proxy_fix import ProxyFix

        # The scheme and host the user typed (photo links, redirects) and their address, from the proxy.
        n = config.proxies
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=n, x_proto=n, x_host=n)
    app.extensions["onemap.store"] = open_store(config.database_url)
    app.extensions["onemap.layers"] = load_layers()
    # Opened once: an S3 client is costly to make, and a bad ONEMAP_MEDIA_URL fails here, at start.
    app.extensions["onemap.blobs"] = config.open_media()
    app.extensions["onemap.photo_limits"] = config.photo_limits()
    # One thread makes photo copies after each report is acknowledged (off the request path), in
    # the quiet moments between requests (webapp.activity): the acknowledgements come first.
    app.extensions["onemap.photo_jobs"] = ThreadPoolExecutor(1, thread_name_prefix="onemap-photos")

    from webapp import activity, assets, auth, errors, i18n, security
    from webapp.blueprints import (
        admin,
        api,
        exports,
        health,
        imports,
        manager,
        ogc,
        planner,
        reports_api,
        sites_api,
        worker,
    )

    activity.init_app(app)
    i18n.init_app(app)
    auth.init_app(app)
    security.init_app(app)  # after auth: nobody's body is read before their login is checked
    errors.init_app(app)
    assets.init_app(app)
    for blueprint in (health.bp, planner.bp, api.bp, worker.bp, manager.bp, admin.bp, reports_api.bp, ogc.bp,
                      exports.bp, imports.bp, sites_api.bp):
        app.register_blueprint(blueprint)
    return app
