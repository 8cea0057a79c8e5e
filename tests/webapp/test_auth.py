"""Login, logout, tokens and deny-by-default, through the real app and database."""

from datetime import UTC, datetime

import pytest

from geo import services
from geo.access import system_user
from webapp.context import get_uow

pytestmark = pytest.mark.backends("sqlite")  # login, sessions and tokens: the same SQL on every store


def test_login_page_is_public_and_chinese_first(client):
    page = client.get("/login")
    assert page.status_code == 200
    text = page.get_data(as_text=True)
    assert "登录" in text and 'name="csrf_token"' in text
    assert "Log in" in client.get("/login?lang=en").get_data(as_text=True)


def test_wrong_password_gives_no_session_and_a_clear_message(client, auth):
    response = auth.login("planner", "not the password")
    assert response.status_code == 401
    assert "用户名或密码错误" in response.get_data(as_text=True)
    assert client.get("/").status_code == 302  # still not logged in
    unknown = auth.login("nobody", "whatever1")
    assert unknown.status_code == 401 and "用户名或密码错误" in unknown.get_data(as_text=True)


def test_page_behind_login_redirects_to_login(client):
    response = client.get("/?layer=mines")
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/login?next=/?layer%3Dmines") or \
        response.headers["Location"].startswith("/login?next=%2F%3Flayer%3Dmines")


@pytest.mark.parametrize("role", ["planner", "worker", "manager", "admin"])
def test_each_role_logs_in_and_sees_the_map(client, auth, role):
    response = auth.login_as(role)
    assert response.headers["Location"] == ("/my" if role == "worker" else "/")
    page = client.get("/").get_data(as_text=True)
    assert "绿色矿山" in page and "农村人居环境整治" in page
    assert f"{role} · " in page


def test_login_returns_to_the_page_asked_for_but_never_off_site(client, auth):
    token = auth.csrf()
    form = {"username": "planner", "password": "correct horse 9", "csrf_token": token}
    assert client.post("/login?next=/api/v1/layers", data=form).headers["Location"] == "/api/v1/layers"
    client.post("/logout", data={"csrf_token": auth.csrf("/")})
    form["csrf_token"] = auth.csrf()
    assert client.post("/login?next=//evil.example/x", data=form).headers["Location"] == "/"


def test_login_without_csrf_token_is_refused(client):
    response = client.post("/login", data={"username": "planner", "password": "correct horse 9"})
    assert response.status_code == 400
    assert client.get("/").status_code == 302


def test_logout_ends_the_session_and_needs_csrf(client, auth):
    auth.login_as("manager")
    assert client.post("/logout").status_code == 400  # no CSRF token: refused
    assert client.get("/").status_code == 200
    client.post("/logout", data={"csrf_token": auth.csrf("/")})
    assert client.get("/").status_code == 302


def test_api_without_token_is_401_json(client):
    response = client.get("/api/v1/layers")
    assert response.status_code == 401
    assert response.is_json and response.json["error"] == "unauthorized"
    bad = client.get("/api/v1/layers", headers={"Authorization": "Bearer om_not-a-real-token"})
    assert bad.status_code == 401 and bad.json["message"]


def test_bearer_token_opens_the_api(app, client):
    with app.app_context(), get_uow(write=True) as uow:
        token = services.issue_token("planner", uow=uow, user=system_user("test"), now=datetime.now(UTC))
    response = client.get("/api/v1/layers", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200
    layers = {layer["id"]: layer for layer in response.json["layers"]}
    assert set(layers) == {"mines", "sanitation_zones", "road_works", "port_multimodal", "grid_cells"}
    zones = layers["sanitation_zones"]
    assert zones["geometry_type"] == ["Polygon"] and zones["cadence_days"] == 7
    assert {"code": "overdue", "label": {"zh_CN": "逾期未巡查", "en": "Overdue"}, "color": "#e53935"} \
        in zones["statuses"]
    assert zones["metrics"][0] == {"id": "person_times", "label": {"zh_CN": "出动人工", "en": "Labour"},
                                   "unit": "人次", "min": 0, "max": 10000}
    # the token is stored only as a digest
    with app.app_context(), get_uow() as uow:
        stored = uow.connection.exec_driver_sql("SELECT token_hash FROM api_tokens").scalars().all()
    assert token not in stored and len(stored[0]) == 64


def test_healthz_is_public_and_checks_the_database(client):
    response = client.get("/healthz")
    assert response.status_code == 200 and response.json == {"status": "ok"}


def test_front_end_assets_come_from_the_app(client, auth):
    auth.login_as("planner")
    page = client.get("/").get_data(as_text=True)
    head = page.split("</head>")[0]
    assert "/vendor/leaflet/leaflet.js" in head and "://" not in head  # nothing from another host
    with client.get("/vendor/leaflet/leaflet.js") as script:
        assert script.status_code == 200 and b"Leaflet" in script.data[:500]
    assert client.get("/vendor/nothing/x.js").status_code == 404


def test_leaflet_geoman_is_served_from_folium_offline(client, auth):
    auth.login_as("manager")
    for filename, mimetype, marker in (("leaflet-geoman.js", "text/javascript", b"pm"),
                                       ("leaflet-geoman.css", "text/css", b".leaflet-pm")):
        with client.get(f"/vendor/leaflet-geoman/{filename}") as response:
            assert response.status_code == 200 and response.mimetype == mimetype
            assert len(response.data) > 10_000 and marker in response.data, filename
            assert response.headers["ETag"]
    assert client.get("/vendor/leaflet-geoman/other.js").status_code == 404


@pytest.mark.backends("sqlite", "postgis")  # the boundaries as the store gives them back
def test_counties_api_returns_the_seven_boundaries(client, auth):
    auth.login_as("planner")
    collection = client.get("/api/v1/counties").get_json()
    names = {f["properties"]["name"] for f in collection["features"]}
    assert names == {"古塔区", "凌河区", "太和区", "黑山县", "义县", "凌海市", "北镇市"}
