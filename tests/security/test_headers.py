"""Security headers: a CSP that runs only the app's own scripts, no framing, no sniffing; sessions'
cookies HttpOnly and SameSite."""

import re

import pytest


@pytest.mark.backends("sqlite")  # HTTP headers
def test_every_answer_carries_the_policy_and_pages_use_its_nonce(client, auth):
    auth.login_as("manager")
    for path in ("/", "/manage/assign", "/api/v1/layers", "/static/map.js", "/login", "/nope"):
        with client.get(path) as response:  # closed: a static file's response holds it open
            headers = response.headers
        csp = headers["Content-Security-Policy"]
        assert (
            "script-src 'self' 'nonce-" in csp
            and "'unsafe-inline'" not in csp.split("script-src")[1].split(";")[0]
        )
        assert "frame-ancestors 'none'" in csp and "object-src 'none'" in csp
        assert headers["X-Content-Type-Options"] == "nosniff" and headers["X-Frame-Options"] == "DENY"
    page = client.get("/")
    nonce = re.search(r"'nonce-([^']+)'", page.headers["Content-Security-Policy"])[1]
    html = page.get_data(as_text=True)
    inline = re.findall(r"<script(?![^>]*\bsrc=)(?![^>]*application/json)([^>]*)>", html)
    assert inline and all(f'nonce="{nonce}"' in attrs for attrs in inline)
    assert client.get("/").headers["Content-Security-Policy"] != page.headers["Content-Security-Policy"]


@pytest.mark.parametrize("basemap, host", [("osm", "https://tile.openstreetmap.org"), ("none", None)])
def test_images_only_from_the_app_and_its_basemap(basemap, host):
    from webapp.security import policy

    csp = policy(basemap, "n")
    img = next(d for d in csp.split("; ") if d.startswith("img-src"))
    assert img.startswith("img-src 'self' data: blob:")
    assert (host in img) if host else img == "img-src 'self' data: blob:"


@pytest.mark.backends("sqlite")  # HTTP headers
def test_the_session_cookie_is_http_only_and_same_site(client, auth):
    response = auth.login("manager")
    cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie


@pytest.mark.backends("sqlite")
def test_an_unexpected_error_shows_no_traceback_sql_or_path(app, client, auth, caplog):
    def broken():
        raise RuntimeError("SELECT password_hash FROM users WHERE 1 /work/secret/onemap.db")

    app.add_url_rule("/api/v1/broken", "broken_api", broken)
    app.add_url_rule("/broken", "broken_page", broken)
    auth.login_as("manager")
    for path in ("/api/v1/broken", "/broken"):
        answer = client.get(path)
        text = answer.get_data(as_text=True)
        assert answer.status_code == 500
        assert "SELECT" not in text and "Traceback" not in text and "/work/" not in text
    assert client.get("/api/v1/broken").get_json()["error"] == "internal_error"
    assert "SELECT password_hash" in caplog.text  # the operator sees it in the log
