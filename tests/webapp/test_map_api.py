"""The features API behind the map: viewport, zoom, filters, access, and bad parameters."""

from datetime import UTC, datetime, timedelta

import pytest
import shapely
from shapely.geometry import shape

from geo import accounts
from geo.access import system_user
from geo.geometry import display_forms
from tests.factories import ALL_PASS, add_report, shipped_count, three_statuses
from webapp.context import get_uow

HEISHAN = "121.8,41.4,122.6,42.2"
ZONES = "/api/v1/layers/sanitation_zones/features"
VILLAGES = shipped_count("sanitation_zones")  # the village zones data/jinzhou ships


@pytest.fixture
def planner(auth):
    auth.login_as("planner")
    return auth.client


def _ids(response):
    assert response.status_code == 200, response.get_data(as_text=True)
    return sorted(f["id"] for f in response.get_json()["features"])


def _zone_ids(app):
    with app.app_context(), get_uow() as uow:
        return [s.id for s in uow.sites.find(layer_id="sanitation_zones")]


def test_bbox_returns_exactly_the_sites_in_view(planner):
    everything = planner.get(f"{ZONES}?bbox={HEISHAN}").get_json()
    assert everything["numberMatched"] == VILLAGES and len(everything["features"]) == VILLAGES
    west = (121.8, 41.4, 122.0, 42.2)
    part = planner.get(f"{ZONES}?bbox={','.join(map(str, west))}").get_json()
    assert 0 < len(part["features"]) < VILLAGES
    box = shapely.box(*west)
    assert all(shape(f["geometry"]).intersects(box) for f in part["features"])
    outside = [f for f in everything["features"] if shape(f["geometry"]).intersects(box)]
    assert len(outside) == len(part["features"])  # none missed
    assert planner.get(f"{ZONES}?bbox=100,30,100.1,30.1").get_json()["features"] == []


def test_features_carry_only_what_the_map_needs(planner):
    feature = planner.get(f"{ZONES}?bbox={HEISHAN}").get_json()["features"][0]
    assert set(feature["properties"]) == {"name", "status", "county", "last_inspected_at", "last_result"}
    assert isinstance(feature["id"], int)


def test_geometry_is_simplified_for_the_zoom(planner):
    def vertices(zoom):
        features = planner.get(f"{ZONES}?bbox={HEISHAN}&zoom={zoom}").get_json()["features"]
        assert all(shape(f["geometry"]).is_valid for f in features)
        return sum(len(f["geometry"]["coordinates"][0]) for f in features)

    coarse, fine, full = vertices(7), vertices(16), vertices("")
    assert coarse < fine <= full
    assert coarse < full / 3  # at zoom 7 a village is a few pixels: a handful of vertices


def test_status_county_and_text_filters(app, planner):
    zone_ids = _zone_ids(app)
    with app.app_context(), get_uow(write=True) as uow:
        three_statuses(uow, zone_ids, datetime.now(UTC))  # ok, needs attention, overdue
    assert _ids(planner.get(f"{ZONES}?status=ok")) == [zone_ids[0]]
    assert _ids(planner.get(f"{ZONES}?status=needs_attention")) == [zone_ids[1]]
    assert _ids(planner.get(f"{ZONES}?status=overdue&county=210726")) == [zone_ids[2]]
    assert _ids(planner.get(f"{ZONES}?status=ok,overdue")) == sorted([zone_ids[0], zone_ids[2]])
    assert len(_ids(planner.get(f"{ZONES}?status=never_inspected"))) == VILLAGES - 3
    assert _ids(planner.get(f"{ZONES}?county=210702")) == []  # no village zone in Guta district
    mines = planner.get("/api/v1/layers/mines/features?county=210726").get_json()["features"]
    assert [f["properties"]["name"] for f in mines] == ["黑山县万程膨润土有限责任公司"]
    found = planner.get(f"{ZONES}?q=重点村001").get_json()["features"]
    assert [f["properties"]["name"] for f in found] == ["重点村001（示意）"]
    assert planner.get(f"{ZONES}?q=%25").get_json()["features"] == []  # % is text, not a wildcard


@pytest.mark.backends("sqlite")  # refused or let in before any query
@pytest.mark.parametrize(
    "query, field, words",
    [
        ("bbox=1,2,3", "bbox", "4 numbers"),
        ("bbox=a,b,c,d", "bbox", "not a number"),
        ("bbox=10,10,5,5", "bbox", "min is greater than max"),
        ("bbox=0,0,200,10", "bbox", "outside"),
        ("zoom=-4", "zoom", "-4 is outside 0…24"),
        ("zoom=big", "zoom", "not a whole number"),
        ("status=finished", "status", "unknown 'finished'"),
        ("crs=bd09", "crs", "not one of gcj02"),
    ],
)
def test_bad_parameters_are_400_json_naming_the_parameter(planner, query, field, words):
    response = planner.get(f"{ZONES}?{query}&lang=en")  # the English words
    assert response.status_code == 400
    body = response.get_json()
    assert body["error"] == "bad_parameter" and body["field"] == field
    assert body["message"].startswith(f"{field}: ") and words in body["message"]


@pytest.mark.backends("sqlite")  # refused or let in before any query
def test_unknown_layer_is_404_json(planner):
    response = planner.get("/api/v1/layers/rivers/features")
    assert response.status_code == 404 and response.get_json()["error"] == "not_found"
    assert "rivers" in response.get_json()["message"]


@pytest.mark.backends("sqlite")  # shifted in Python
def test_gcj02_display_shifts_features_for_amap_tiles(planner):
    wgs = planner.get("/api/v1/layers/mines/features").get_json()["features"][0]["geometry"]["coordinates"]
    gcj = planner.get("/api/v1/layers/mines/features?crs=gcj02").get_json()["features"][0]["geometry"]
    assert 0.004 < gcj["coordinates"][0] - wgs[0] < 0.008  # ≈ 500 m east at Jinzhou
    assert 0.0005 < gcj["coordinates"][1] - wgs[1] < 0.003


def _assign(app, username, ids):
    with app.app_context(), get_uow(write=True) as uow:
        accounts.assign_sites(username, ids, uow=uow, user=system_user("test"), now=datetime.now(UTC))


def test_worker_sees_only_their_own_sites(app, client, auth):
    zone_ids = _zone_ids(app)
    _assign(app, "worker", zone_ids[:3])
    auth.login_as("worker")
    assert _ids(client.get(f"{ZONES}?bbox={HEISHAN}")) == zone_ids[:3]
    assert client.get("/api/v1/layers/mines/features").get_json()["features"] == []
    assert client.get(f"/api/v1/sites/{zone_ids[0]}").status_code == 200
    hidden = client.get(f"/api/v1/sites/{zone_ids[5]}")
    assert hidden.status_code == 404  # not 403: a worker learns nothing of other sites
    assert client.get(f"/sites/{zone_ids[5]}").status_code == 404
    client.post("/logout", data={"csrf_token": auth.csrf("/")})
    auth.login_as("worker2")
    assert client.get(f"{ZONES}?bbox={HEISHAN}").get_json()["features"] == []


@pytest.mark.backends("sqlite")  # refused or let in before any query
@pytest.mark.parametrize("role", ["planner", "manager", "admin"])
def test_planners_managers_admins_see_every_site(client, auth, role):
    auth.login_as(role)
    assert len(client.get(ZONES).get_json()["features"]) == VILLAGES


def test_site_api_has_the_latest_report(app, planner):
    zone = _zone_ids(app)[0]
    now = datetime.now(UTC)
    with app.app_context(), get_uow(write=True) as uow:
        add_report(uow, zone, "worker", checklist=ALL_PASS, observed_at=now - timedelta(days=3), note="旧")
        add_report(uow, zone, "worker", checklist=ALL_PASS | {"swept_clean": "fail"}, note="路边有垃圾",
                   observed_at=now - timedelta(days=1), photos=2, media_url=app.config["ONEMAP"].media_url)
        add_report(uow, zone, "worker", checklist=ALL_PASS, observed_at=now, status="rejected", note="退回")
        uow.commit()
    feature = planner.get(f"/api/v1/sites/{zone}").get_json()
    latest = feature["properties"]["latest_report"]
    assert feature["properties"]["status"] == "needs_attention"  # the rejected report does not count
    assert latest["note"] == "路边有垃圾" and latest["result"] == "fail" and len(latest["photos"]) == 2
    thumb = planner.get(f"/media/photos/{latest['photos'][0]}/thumbnail")
    assert thumb.status_code == 200 and thumb.data[:2] == b"\xff\xd8"
    thumb.close()
    assert planner.get("/media/photos/99999/thumbnail").status_code == 404


def test_zoomed_out_views_serve_the_stored_form_and_close_views_exact_detail(app, planner):
    with app.app_context(), get_uow() as uow:
        zone = next(uow.sites.find(layer_id="sanitation_zones"))
    stored = shapely.from_geojson(display_forms(zone.geometry)[11])
    at12 = next(f for f in planner.get(f"{ZONES}?bbox={HEISHAN}&zoom=12").get_json()["features"]
                if f["id"] == zone.id)
    assert shape(at12["geometry"]).equals_exact(stored, 1e-9)
    everything = planner.get(f"{ZONES}?bbox={HEISHAN}").get_json()["features"]
    full = next(f for f in everything if f["id"] == zone.id)
    assert shape(full["geometry"]).equals_exact(zone.geometry, 1e-9)  # no zoom: every vertex


@pytest.mark.parametrize("west", [(121.8, 41.4, 122.6, 42.2), (121.8, 41.4, 122.0, 42.2)])
def test_a_view_holding_more_than_the_map_draws_sends_the_first_and_says_so(planner, monkeypatch, west):
    """Only what the map draws is read: the first sites in id order that really meet the view, whatever
    the index returned around them (the second box cuts through zones, so some candidates drop out)."""
    bbox = ",".join(map(str, west))
    whole = [f["id"] for f in planner.get(f"{ZONES}?bbox={bbox}").get_json()["features"]]
    cap = len(whole) // 2
    assert cap >= 2
    monkeypatch.setattr("geo.queries.MAX_VIEW_FEATURES", cap)
    cut = planner.get(f"{ZONES}?bbox={bbox}&zoom=10").get_json()
    assert cut["truncated"] is True and "numberMatched" not in cut and cut["numberReturned"] == cap
    assert [f["id"] for f in cut["features"]] == whole[:cap]
    monkeypatch.setattr("geo.queries.MAX_VIEW_FEATURES", len(whole))
    fits = planner.get(f"{ZONES}?bbox={bbox}&zoom=10").get_json()
    assert fits["truncated"] is False and fits["numberMatched"] == fits["numberReturned"] == len(whole)


@pytest.mark.backends("sqlite")  # SQLite's two read paths; PostGIS has one
def test_a_small_layer_read_by_its_own_index_finds_what_the_spatial_index_finds(planner, monkeypatch):
    """SQLite reads a layer of few sites by the layer's index, a large one through the R*Tree: the same
    sites either way, for boxes inside, across and outside the zones."""
    from geo.storage.views.map import MapView

    boxes = [HEISHAN, "121.8,41.4,122.0,42.2", "121.0,41.0,121.3,41.3", "100,30,100.1,30.1"]
    answers = []
    for few in (0, 10_000):  # every layer large, every layer small
        monkeypatch.setattr(MapView, "FEW", few)
        answers.append([_ids(planner.get(f"{ZONES}?bbox={box}&zoom=10")) for box in boxes])
    assert answers[0] == answers[1] and answers[0][0] and not answers[0][-1]
