"""OGC API – Features at /ogc: documents, paging, filters, errors, access, OpenAPI, and GDAL as a client."""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import time
import urllib.request
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pyogrio
import pytest
import shapely
from openapi_core import Config, OpenAPI
from openapi_core.contrib.werkzeug import WerkzeugOpenAPIRequest, WerkzeugOpenAPIResponse
from openapi_spec_validator import validate
from shapely.geometry import shape

from tests.factories import ALL_PASS, add_report, shipped_count, three_statuses, token_for
from webapp.context import get_uow

LAYERS = {"mines", "sanitation_zones", "road_works", "port_multimodal", "grid_cells"}
ZONES = "/ogc/collections/sanitation_zones/items"
CONF = "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/"
VILLAGES = shipped_count("sanitation_zones")  # the village zones data/jinzhou ships


@pytest.fixture
def planner(auth):
    auth.login_as("planner")
    return auth.client


def _sites(app, layer_id):
    with app.app_context(), get_uow() as uow:
        return list(uow.sites.find(layer_id=layer_id))


def _ok(response, mimetype="application/json"):
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.mimetype == mimetype
    return response.get_json(force=True)


def _ids(response):
    return sorted(f["id"] for f in _ok(response, "application/geo+json")["features"])


def _bad(response, parameter):
    assert response.status_code == 400, response.get_data(as_text=True)
    body = response.get_json()
    assert body["error"] == "bad_parameter" and body["field"] == parameter
    assert body["message"].startswith((f"{parameter}：", f"{parameter}:"))  # in Chinese by default
    return body


# ------------------------------------------------------------------ documents
@pytest.mark.backends("sqlite")  # documents and markup
def test_landing_page_and_conformance(planner):
    landing = _ok(planner.get("/ogc/"))
    links = {link["rel"]: link for link in landing["links"]}
    assert {"self", "alternate", "service-desc", "service-doc", "conformance", "data"} <= set(links)
    assert links["service-desc"]["type"] == "application/vnd.oai.openapi+json;version=3.0"
    assert links["service-desc"]["href"] == "http://localhost/ogc/api"
    assert links["data"]["href"] == "http://localhost/ogc/collections"
    assert links["service-doc"]["type"] == "text/html"
    assert "要素服务" in landing["title"]
    api = planner.get(links["service-desc"]["href"])
    assert api.status_code == 200 and api.content_type == "application/vnd.oai.openapi+json;version=3.0"

    conformance = _ok(planner.get(links["conformance"]["href"]))
    assert set(conformance["conformsTo"]) == {CONF + c for c in ("core", "geojson", "oas30", "html")}


def test_collections_list_every_layer_with_extents_from_the_stored_sites(app, planner):
    document = _ok(planner.get("/ogc/collections"))
    collections = {c["id"]: c for c in document["collections"]}
    assert set(collections) == LAYERS
    zones = collections["sanitation_zones"]
    assert zones["title"] == "农村人居环境整治" and zones["itemType"] == "feature"
    assert zones["crs"] == ["http://www.opengis.net/def/crs/OGC/1.3/CRS84"]
    for layer_id in LAYERS - {"grid_cells"}:
        truth = shapely.GeometryCollection([s.geometry for s in _sites(app, layer_id)]).bounds
        assert collections[layer_id]["extent"]["spatial"]["bbox"] == [pytest.approx(list(truth))]
        assert "temporal" not in collections[layer_id]["extent"]  # nothing inspected yet
    assert collections["grid_cells"]["extent"] == {}  # no cells shipped: nothing to bound
    items = [link for link in zones["links"] if link["rel"] == "items"]
    assert {link["type"] for link in items} == {"application/geo+json", "text/html"}

    zone_ids = [s.id for s in _sites(app, "sanitation_zones")]
    first, last = datetime(2026, 3, 1, 8, tzinfo=UTC), datetime(2026, 4, 2, 9, 30, tzinfo=UTC)
    with app.app_context(), get_uow(write=True) as uow:
        add_report(uow, zone_ids[3], "worker", checklist=ALL_PASS, observed_at=first)
        add_report(uow, zone_ids[7], "worker", checklist=ALL_PASS, observed_at=last)
        uow.commit()
    one = _ok(planner.get("/ogc/collections/sanitation_zones"))
    assert one["extent"]["temporal"]["interval"] == [[first.isoformat(), last.isoformat()]]
    assert {link["rel"] for link in one["links"]} >= {"self", "alternate", "items"}
    english = _ok(planner.get("/ogc/collections/sanitation_zones?lang=en"))
    assert english["title"] == "Village sanitation zones"


# ------------------------------------------------------------------ items
def _walk(client, url):
    """Follow `next` links from ``url``; the pages' ids and the last page."""
    ids, pages = [], 0
    while url:
        page = _ok(client.get(url), "application/geo+json")
        assert page["numberReturned"] == len(page["features"])
        ids += [f["id"] for f in page["features"]]
        pages += 1
        url = next((link["href"] for link in page["links"] if link["rel"] == "next"), None)
        assert pages < 100
    return ids, pages, page


def test_paging_walks_next_links_over_exactly_the_whole_layer(app, planner):
    truth = sorted(s.id for s in _sites(app, "sanitation_zones"))
    ids, pages, last = _walk(planner, f"{ZONES}?limit=7")
    assert len(ids) == len(set(ids)) and sorted(ids) == truth
    assert pages == -(-VILLAGES // 7) and last["numberMatched"] == VILLAGES
    assert last["numberReturned"] == VILLAGES % 7
    prev = next(link["href"] for link in last["links"] if link["rel"] == "prev")
    assert "offset=98" in prev and "limit=7" in prev

    first = _ok(planner.get(ZONES), "application/geo+json")
    assert first["numberReturned"] == 10 and "prev" not in {link["rel"] for link in first["links"]}
    assert datetime.fromisoformat(first["timeStamp"]) > datetime.now(UTC) - timedelta(minutes=5)
    everything = _ok(planner.get(f"{ZONES}?limit=20000"), "application/geo+json")  # clamped to 10000
    assert everything["numberReturned"] == VILLAGES
    assert "next" not in {link["rel"] for link in everything["links"]}
    beyond = _ok(planner.get(f"{ZONES}?offset=500"), "application/geo+json")
    assert beyond["features"] == [] and beyond["numberMatched"] == VILLAGES

    # filters survive in the paging links, whether SQL pages (no bbox) or the geometry test does
    west = shapely.box(121.8, 41.4, 122.0, 42.2)
    ids, _, last = _walk(planner, f"{ZONES}?limit=4&county=210726&bbox=121.8,41.4,122.0,42.2")
    assert ids == sorted(s.id for s in _sites(app, "sanitation_zones")
                         if s.geometry.intersects(west) and s.county == "210726")
    assert last["numberMatched"] == len(ids)
    ids, _, _ = _walk(planner, f"{ZONES}?limit=9&status=never_inspected")
    assert sorted(ids) == truth


def test_status_filter_on_a_stage_layer_uses_the_stored_status(app, planner):
    port = _sites(app, "port_multimodal")
    planned = sorted(s.id for s in port if s.status == "planned")
    assert len(planned) == shipped_count("port_multimodal", status="planned") > 2
    ids, pages, last = _walk(planner, "/ogc/collections/port_multimodal/items?status=planned&limit=2")
    assert ids == planned and pages == -(-len(planned) // 2) and last["numberMatched"] == len(planned)
    both = _ids(planner.get("/ogc/collections/port_multimodal/items?status=planned,under_construction"))
    assert both == sorted(s.id for s in port if s.status in ("planned", "under_construction"))


@pytest.mark.parametrize("layer_id", ["sanitation_zones", "road_works", "mines", "port_multimodal"])
@pytest.mark.parametrize("box", [(121.8, 41.4, 122.0, 42.2), (121.0, 40.8, 121.2, 41.2),
                                 (121.05, 40.85, 121.5, 41.3), (122.1128, 41.6892, 122.1128, 41.6892)])
def test_bbox_returns_what_shapely_says_meets_the_box(app, planner, layer_id, box):
    truth = sorted(s.id for s in _sites(app, layer_id) if s.geometry.intersects(shapely.box(*box)))
    url = f"/ogc/collections/{layer_id}/items?limit=10000&bbox={','.join(map(str, box))}"
    assert _ids(planner.get(url)) == truth


def test_bbox_cuts_the_zones_in_two(app, planner):
    west = _ids(planner.get(f"{ZONES}?limit=1000&bbox=121.8,41.4,122.0,42.2"))
    assert 0 < len(west) < VILLAGES


@pytest.mark.backends("sqlite")  # refused or let in before any query
@pytest.mark.parametrize("value", ["1,2,3", "a,b,c,d", "122,42,121,41", "0,0,200,10", "0,-95,1,1",
                                   "1,2,3,4,5,6", "nan,1,2,3"])
def test_bad_bbox_is_400_naming_it(planner, value):
    _bad(planner.get(f"{ZONES}?bbox={value}"), "bbox")


def test_datetime_filters_on_the_last_inspection(app, planner):
    zone_ids = sorted(s.id for s in _sites(app, "sanitation_zones"))
    times = {zone_ids[0]: datetime(2026, 1, 10, 3, tzinfo=UTC),
             zone_ids[1]: datetime(2026, 2, 20, 12, tzinfo=UTC),
             zone_ids[2]: datetime(2026, 3, 31, 23, tzinfo=UTC)}
    with app.app_context(), get_uow(write=True) as uow:
        for site_id, at in times.items():
            add_report(uow, site_id, "worker", checklist=ALL_PASS, observed_at=at)
        uow.commit()

    def during(value):
        return _ids(planner.get(ZONES, query_string={"limit": 1000, "datetime": value}))

    a, b, c = zone_ids[:3]
    assert during("2026-02-20T12:00:00Z") == [b]  # an instant
    assert during("2026-02-20T20:00:00+08:00") == [b]  # the same instant, written in Beijing time
    assert during("2026-02-20T12:00:01Z") == []
    assert during("2026-01-01T00:00:00Z/2026-02-28T00:00:00Z") == [a, b]
    assert during("2026-02-01T00:00:00Z/..") == [b, c]
    assert during("../2026-02-20T12:00:00Z") == [a, b]  # ends are inclusive
    assert during("/2026-01-31T00:00:00Z") == [a]  # an empty end is open too
    assert during("../..") == [a, b, c]  # any time: the never-inspected have none
    assert during("2026-04-01") == [c]  # a date is a day in China Standard Time: 23:00Z is 07:00 there
    assert during("2026-03-31") == []
    everything = _ok(planner.get(f"{ZONES}?limit=1000"), "application/geo+json")
    inspected = {f["id"]: f["properties"]["last_inspected_at"] for f in everything["features"]}
    assert {i: inspected[i] for i in (a, b, c)} == {i: t.isoformat() for i, t in times.items()}

    for value in ["yesterday", "2026-02-30", "2026-02-20T12:00:00", "2026-03-01/2026-02-01", "..", "a/b/c",
                  "2026-01-01/2026-02-01/2026-03-01"]:
        _bad(planner.get(ZONES, query_string={"datetime": value}), "datetime")


def test_status_and_county_filters(app, planner):
    zone_ids = sorted(s.id for s in _sites(app, "sanitation_zones"))
    with app.app_context(), get_uow(write=True) as uow:
        three_statuses(uow, zone_ids, datetime.now(UTC))  # ok, needs attention, overdue
    assert _ids(planner.get(f"{ZONES}?status=ok")) == [zone_ids[0]]
    assert _ids(planner.get(f"{ZONES}?status=needs_attention")) == [zone_ids[1]]
    assert _ids(planner.get(f"{ZONES}?status=overdue&county=210726")) == [zone_ids[2]]
    assert _ids(planner.get(f"{ZONES}?status=ok,overdue")) == [zone_ids[0], zone_ids[2]]
    never = _ok(planner.get(f"{ZONES}?status=never_inspected&limit=1"), "application/geo+json")
    assert never["numberMatched"] == VILLAGES - 3
    assert never["features"][0]["properties"]["status"] == "never_inspected"
    assert _ids(planner.get(f"{ZONES}?county=210702")) == []  # no village zone in Guta district
    mines = _ok(planner.get("/ogc/collections/mines/items?county=210726"), "application/geo+json")
    assert [f["properties"]["name"] for f in mines["features"]] == ["黑山县万程膨润土有限责任公司"]
    body = _bad(planner.get(f"{ZONES}?status=ok,finished"), "status")
    assert "'finished'" in body["message"]


@pytest.mark.backends("sqlite")  # refused or let in before any query
@pytest.mark.parametrize("query, parameter", [
    ("limit=0", "limit"), ("limit=abc", "limit"), ("limit=1.5", "limit"), ("offset=-1", "offset"),
    ("offset=x", "offset"), ("f=xml", "f"), ("crs=EPSG:4326", "crs"), ("bbox-crs=x", "bbox-crs"),
    ("sortby=name", "sortby"),
])
def test_bad_or_unknown_parameters_are_400_naming_them(planner, query, parameter):
    _bad(planner.get(f"{ZONES}?{query}"), parameter)


@pytest.mark.backends("sqlite")  # refused or let in before any query
def test_unknown_parameters_are_refused_on_every_resource(planner):
    for path in ("/ogc/", "/ogc/conformance", "/ogc/api", "/ogc/collections", "/ogc/collections/mines",
                 "/ogc/collections/mines/items/1"):
        _bad(planner.get(f"{path}?limit=5"), "limit")


def test_features_are_rfc7946_with_status_inspection_and_report_count(app, planner):
    (zone, *_) = sorted(_sites(app, "sanitation_zones"), key=lambda s: s.id)
    observed = datetime.now(UTC) - timedelta(days=1)
    with app.app_context(), get_uow(write=True) as uow:
        add_report(uow, zone.id, "worker", checklist=ALL_PASS, observed_at=observed - timedelta(days=3))
        add_report(uow, zone.id, "worker", checklist=ALL_PASS | {"swept_clean": "fail"}, observed_at=observed)
        add_report(uow, zone.id, "worker", checklist=ALL_PASS, observed_at=observed + timedelta(hours=1),
                   status="rejected")
        uow.commit()
    item = _ok(planner.get(f"{ZONES}/{zone.id}"), "application/geo+json")
    assert item["type"] == "Feature" and item["id"] == zone.id and "crs" not in item
    props = item["properties"]
    assert props["status"] == "needs_attention" and props["status_label"] == "需整改"
    assert props["last_result"] == "fail" and props["last_inspected_at"] == observed.isoformat()
    assert props["report_count"] == 2  # the rejected one does not count
    assert (props["name"], props["county"], props["layer"]) == (zone.name, zone.county, "sanitation_zones")
    geometry = shape(item["geometry"])
    assert geometry.equals_exact(zone.geometry, 1e-6)
    assert shapely.LinearRing(item["geometry"]["coordinates"][0]).is_ccw
    decimals = re.findall(r"\.(\d+)", json.dumps(item["geometry"]["coordinates"]))
    assert decimals and max(map(len, decimals)) <= 7
    assert {link["rel"] for link in item["links"]} >= {"self", "alternate", "collection"}
    listed = _ok(planner.get(f"{ZONES}?limit=1"), "application/geo+json")["features"][0]
    assert listed["properties"] == props


def test_unknown_items_and_collections_are_404_json(app, planner):
    mine = _sites(app, "mines")[0]
    for path in (f"{ZONES}/{mine.id}", f"{ZONES}/999999", f"{ZONES}/abc", f"{ZONES}/99999999999999999999999",
                 "/ogc/collections/nothing", "/ogc/collections/nothing/items",
                 "/ogc/collections/nothing/items/1"):
        response = planner.get(path)
        assert response.status_code == 404, path
        assert response.get_json()["error"] == "not_found" and response.get_json()["message"]
    found = _ok(planner.get(f"/ogc/collections/mines/items/{mine.id}"), "application/geo+json")
    assert found["id"] == mine.id


# ------------------------------------------------------------------ who
@pytest.mark.backends("sqlite")  # refused or let in before any query
@pytest.mark.parametrize("role", ["planner", "manager", "admin"])
def test_planning_roles_may_read(auth, role):
    auth.login_as(role)
    assert auth.client.get(f"{ZONES}?limit=1").status_code == 200


@pytest.mark.backends("sqlite")  # refused or let in before any query
def test_workers_get_403_and_anonymous_401_json(client, auth):
    for path in ("/ogc/", "/ogc/collections", ZONES, "/ogc/api"):
        response = client.get(path)
        assert response.status_code == 401 and response.get_json()["error"] == "unauthorized"
    auth.login_as("worker")
    for path in ("/ogc/", "/ogc/conformance", "/ogc/collections", ZONES, "/ogc/api", f"{ZONES}?f=html"):
        response = client.get(path)
        assert response.status_code == 403 and response.get_json()["error"] == "forbidden", path


@pytest.mark.backends("sqlite")  # refused or let in before any query
def test_bearer_tokens_open_the_api_for_scripts(app, client):
    headers = {"Authorization": f"Bearer {token_for(app, 'manager')}"}
    page = _ok(client.get(f"{ZONES}?limit=3", headers=headers), "application/geo+json")
    assert page["numberReturned"] == 3
    worker = {"Authorization": f"Bearer {token_for(app, 'worker')}"}
    assert client.get(ZONES, headers=worker).status_code == 403
    assert client.get(ZONES, headers={"Authorization": "Bearer om_wrong"}).status_code == 401


# ------------------------------------------------------------------ HTML
@pytest.mark.backends("sqlite")  # documents and markup
def test_html_for_browsers_and_f_parameter(app, planner):
    browser = {"Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"}
    landing = planner.get("/ogc/", headers=browser)
    assert landing.mimetype == "text/html" and "要素服务" in landing.get_data(as_text=True)
    assert _ok(planner.get("/ogc/?f=json", headers=browser))["links"]  # f=json wins over Accept
    assert _ok(planner.get("/ogc/", headers={"Accept": "*/*"}))["links"]  # JSON by default

    page = planner.get(f"{ZONES}?f=html&limit=5")
    text = page.get_data(as_text=True)
    assert page.status_code == 200 and page.mimetype == "text/html"
    assert "农村人居环境整治" in text and f"共 {VILLAGES} 个要素，本页 5 个" in text and "下一页" in text
    first = sorted(_sites(app, "sanitation_zones"), key=lambda s: s.id)[0]
    assert f"/ogc/collections/sanitation_zones/items/{first.id}?f=html" in text and first.name in text
    assert "<td>黑山县</td>" in text  # counties by name, not by code
    item = planner.get(f"{ZONES}/{first.id}", headers=browser).get_data(as_text=True)
    assert first.name in item and "重点村" in item  # attribute labels in Chinese
    english = planner.get(f"{ZONES}?f=html&limit=5&lang=en").get_data(as_text=True)
    assert f"{VILLAGES} items match, 5 on this page" in english
    for path in ("/ogc/conformance", "/ogc/collections", "/ogc/collections/mines", "/ogc/api"):
        response = planner.get(f"{path}?f=html")
        assert response.status_code == 200 and response.mimetype == "text/html", path
    assert "/collections/mines/items" in planner.get("/ogc/api?f=html").get_data(as_text=True)


# ------------------------------------------------------------------ OpenAPI
def test_responses_match_the_openapi_document(app, planner):
    document = _ok(planner.get("/ogc/api?f=json"), "application/vnd.oai.openapi+json")
    validate(document)  # a valid OpenAPI 3.0 document
    assert {f"/collections/{layer}/items" for layer in LAYERS} <= set(document["paths"])
    limit = next(p for p in document["paths"]["/collections/mines/items"]["get"]["parameters"]
                 if p.get("name") == "limit")
    assert limit["schema"]["maximum"] == 10000 and limit["schema"]["default"] == 10
    geojson = {"application/geo+json": json.loads}  # JSON by another media type
    openapi = OpenAPI.from_dict(document, config=Config(extra_media_type_deserializers=geojson))

    zone = sorted(_sites(app, "sanitation_zones"), key=lambda s: s.id)[0]
    with app.app_context(), get_uow(write=True) as uow:
        add_report(uow, zone.id, "worker", checklist=ALL_PASS, observed_at=datetime.now(UTC))
        uow.commit()
    paths = ["/ogc/", "/ogc/conformance", "/ogc/collections", f"{ZONES}/{zone.id}", f"{ZONES}?limit=200",
             f"{ZONES}?bbox=121.8,41.4,122.0,42.2&status=ok,never_inspected&datetime=../..",
             f"{ZONES}?bbox=1,2,3", f"{ZONES}/0", "/ogc/?f=html"]
    for layer in LAYERS:
        paths += [f"/ogc/collections/{layer}", f"/ogc/collections/{layer}/items?limit=1000"]
    for path in paths:
        response = planner.get(path)
        assert response.status_code in (200, 400, 404)
        openapi.validate_response(WerkzeugOpenAPIRequest(response.request), WerkzeugOpenAPIResponse(response))


# ------------------------------------------------------------------ GDAL as a client
def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def live_server(app):
    """`onemap serve` (waitress) on the test's instance, on a free local port.

    A separate process: pyogrio holds the GIL while GDAL downloads, so a server
    thread in this process would never get to answer.
    """
    port = _free_port()
    instance = app.config["ONEMAP"].instance
    env = dict(os.environ, ONEMAP_INSTANCE=str(instance),
               ONEMAP_DATABASE_URL=app.config["ONEMAP"].database_url)
    onemap = Path(sys.executable).with_name("onemap")
    log = instance / "serve.log"
    with log.open("w") as out:
        process = subprocess.Popen([str(onemap), "serve", "--port", str(port)], env=env, stdout=out,
                                   stderr=subprocess.STDOUT)
    try:
        for _ in range(300):
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1):
                    break
            except OSError:
                time.sleep(0.1)
        else:
            pytest.fail("onemap serve did not answer: " + log.read_text())
        yield f"http://127.0.0.1:{port}"
    finally:
        process.terminate()
        process.wait(timeout=10)


@pytest.fixture
def gdal_token(app):
    # The OAPIF driver sends its own Accept header, which replaces GDAL_HTTP_HEADERS; GDAL's
    # own bearer option (GDAL >= 3.9) adds the Authorization header alongside it.
    token = token_for(app, "planner")
    pyogrio.set_gdal_config_options({"GDAL_HTTP_AUTH": "BEARER", "GDAL_HTTP_BEARER": token})
    yield
    pyogrio.set_gdal_config_options({"GDAL_HTTP_AUTH": None, "GDAL_HTTP_BEARER": None})


def test_gdal_reads_every_collection_as_stored(app, live_server, gdal_token):
    listed = pyogrio.list_layers(f"OAPIF:{live_server}/ogc/")
    assert set(listed[:, 0]) == LAYERS

    zones = sorted(_sites(app, "sanitation_zones"), key=lambda s: s.id)
    frame = pyogrio.read_dataframe(f"OAPIF:{live_server}/ogc/collections/sanitation_zones", fid_as_index=True)
    assert len(frame) == VILLAGES
    assert sorted(zip(frame.index, frame["name"], strict=True)) == [(s.id, s.name) for s in zones]
    by_id = {s.id: s for s in zones}
    assert all(geometry.equals_exact(by_id[i].geometry, 1e-6)
               for i, geometry in zip(frame.index, frame.geometry, strict=True))
    mines = pyogrio.read_dataframe(f"OAPIF:{live_server}/ogc/collections/mines",
                                   bbox=(121.8, 41.4, 122.6, 42.2))
    assert list(mines["name"]) == ["黑山县万程膨润土有限责任公司"]


def test_items_leave_out_a_deleted_site_and_show_an_edited_one_as_it_is_now(app, planner):
    from shapely import affinity
    from shapely.geometry import mapping

    from tests.factories import bearer

    def items():
        features = _ok(planner.get(f"{ZONES}?limit=1000"), "application/geo+json")["features"]
        return {f["id"]: f for f in features}

    api, manager = app.test_client(), bearer(app, "manager")  # edits through the planning API
    deleted, edited = sorted(_sites(app, "sanitation_zones"), key=lambda s: s.id)[:2]
    before = items()
    assert {deleted.id, edited.id} <= set(before)
    smaller = shapely.set_precision(affinity.scale(edited.geometry, 0.8, 0.8), 1e-6)  # inside the old one
    answer = api.patch(f"/api/v1/sites/{edited.id}", headers=manager, json={
        "base_version": edited.version, "name": "改名后的村", "geometry": mapping(smaller),
        "attributes": {"households": 321}})
    assert answer.status_code == 200, answer.get_json()
    assert api.delete(f"/api/v1/sites/{deleted.id}", headers=manager).status_code == 200

    after = items()
    assert set(after) == set(before) - {deleted.id}
    shown = after[edited.id]
    assert (shown["properties"]["name"], shown["properties"]["households"]) == ("改名后的村", 321)
    now_shown = shape(shown["geometry"]).normalize()  # RFC 7946 rings may start and turn differently
    assert now_shown.equals_exact(smaller.normalize(), 1e-6) and not now_shown.equals(edited.geometry)
    assert planner.get(f"{ZONES}/{deleted.id}").status_code == 404
    one = _ok(planner.get(f"{ZONES}/{edited.id}"), "application/geo+json")
    assert one["properties"]["name"] == "改名后的村" and one["properties"]["version"] == edited.version + 1
