"""Behind nginx with TLS (ONEMAP_PROXIES=1): the forwarded scheme and host count, cookies stay on HTTPS."""

import pytest

from tests.conftest import PASSWORD, Auth

pytestmark = pytest.mark.backends("sqlite")  # about HTTP only


@pytest.fixture
def app_env():
    return {"ONEMAP_PROXIES": "1"}


FORWARDED = {"X-Forwarded-Proto": "https", "X-Forwarded-Host": "onemap.jz.gov.cn",
             "X-Forwarded-For": "10.1.2.3"}


def test_login_behind_the_proxy_sets_a_secure_cookie_and_links_use_https(client, auth):
    csrf = auth.csrf()
    response = client.post("/login", data={"username": "planner", "password": PASSWORD, "csrf_token": csrf},
                           headers=FORWARDED)
    assert response.status_code == 302
    cookie = response.headers["Set-Cookie"]
    assert "Secure" in cookie and "HttpOnly" in cookie
    links = client.get("/ogc/", headers=FORWARDED).get_json()["links"]  # absolute links, for GIS clients
    assert links and all(link["href"].startswith("https://onemap.jz.gov.cn/ogc") for link in links)


def test_without_proxies_forwarded_headers_are_ignored(app):
    from webapp import create_app
    from webapp.settings import load_config

    plain = create_app(load_config(env={"ONEMAP_INSTANCE": str(app.config["ONEMAP"].instance),
                                        "ONEMAP_DATABASE_URL": app.config["ONEMAP"].database_url}))
    try:
        assert plain.config["SESSION_COOKIE_SECURE"] is False
        browser = plain.test_client()
        csrf = Auth(browser).csrf()
        browser.post("/login", data={"username": "planner", "password": PASSWORD, "csrf_token": csrf})
        links = browser.get("/ogc/", headers=FORWARDED).get_json()["links"]
        # Without a proxy configured, no client can pose as one.
        assert all(link["href"].startswith("http://localhost/ogc") for link in links)
    finally:
        plain.extensions["onemap.store"].close()
