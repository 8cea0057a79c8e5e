"""The planning API: create, edit, split, merge, delete, restore sites; versions; 409 when stale."""

import json
from datetime import UTC, datetime, timedelta

import pytest
import shapely
from shapely.geometry import shape

from geo import imports
from geo.access import system_user
from geo.times import LOCAL_TIME
from tests.factories import ATTRS, add_report, bearer, free_square, report, token_for
from tests.webapp.test_reports_api import post
from webapp.context import get_uow, layers


def create(client, headers, geometry, name="新村", **more):
    return client.post(
        "/api/v1/layers/sanitation_zones/sites",
        headers=headers,
        json={"name": name, "geometry": geometry, "attributes": ATTRS, **more},
    )


def versions(client, headers, site_id):
    return client.get(f"/api/v1/sites/{site_id}/versions", headers=headers).get_json()


def test_a_manager_creates_and_edits_a_site_and_every_version_is_listed(app, client):
    manager = bearer(app, "manager")
    created = create(client, manager, free_square(app), comment="新纳入整治")
    assert created.status_code == 201, created.get_json()
    site = created.get_json()
    assert created.headers["Location"] == f"/api/v1/sites/{site['id']}"
    assert site["properties"]["version"] == 1 and site["properties"]["county"] == "210726"
    assert site["properties"]["township"] == "芳山镇"

    edited = client.patch(
        f"/api/v1/sites/{site['id']}",
        headers=manager,
        json={
            "base_version": 1,
            "name": "新村（扩）",
            "geometry": free_square(app, 0.006),
            "comment": "边界调整",
        },
    )
    assert edited.status_code == 200, edited.get_json()
    assert edited.get_json()["properties"]["version"] == 2
    listed = versions(client, bearer(app, "planner"), site["id"])
    assert listed["current_version"] == 2 and listed["deleted"] is False
    assert [(v["version"], v["action"], v["actor"], v["comment"]) for v in listed["versions"]] == [
        (1, "create", "manager", "新纳入整治"),
        (2, "edit", "manager", "边界调整"),
    ]
    old = client.get(f"/api/v1/sites/{site['id']}/versions/1", headers=manager).get_json()
    assert shape(old["geometry"]).equals(shape(site["geometry"])) and old["properties"]["name"] == "新村"
    # the OGC API serves the current version
    item = client.get(
        f"/ogc/collections/sanitation_zones/items/{site['id']}?f=json", headers=manager
    ).get_json()
    assert item["properties"]["name"] == "新村（扩）" and item["properties"]["version"] == 2


def test_the_second_of_two_edits_on_one_version_gets_409_with_what_changed(app, client):
    manager = bearer(app, "manager")
    site_id = create(client, manager, free_square(app)).get_json()["id"]
    first = client.patch(
        f"/api/v1/sites/{site_id}",
        headers=manager,
        json={"base_version": 1, "attributes": {"households": 120}},
    )
    assert first.status_code == 200
    second = client.patch(
        f"/api/v1/sites/{site_id}",
        headers=bearer(app, "admin"),
        json={"base_version": 1, "name": "另一个名字"},
    )
    assert second.status_code == 409
    body = second.get_json()
    assert body["error"] == "stale_version" and body["current_version"] == 2
    assert body["changes"] == [{"field": "attributes.households", "before": None, "after": 120}]
    assert "manager" in body["message"]
    assert len(versions(client, manager, site_id)["versions"]) == 2  # nothing written
    assert client.get(f"/api/v1/sites/{site_id}", headers=manager).get_json()["properties"]["name"] == "新村"


@pytest.mark.backends("sqlite")  # refused before anything is stored
def test_bad_requests_name_the_problem_and_write_nothing(app, client):
    manager = bearer(app, "manager")
    site_id = create(client, manager, free_square(app)).get_json()["id"]
    x, y = free_square(app)["coordinates"][0][0]
    bowtie = {
        "type": "Polygon",
        "coordinates": [[[x, y], [x + 0.01, y + 0.01], [x + 0.01, y], [x, y + 0.01], [x, y]]],
    }
    cases = [
        ({"base_version": 1, "geometry": bowtie}, 422, "geometry"),
        ({"geometry": free_square(app, 0.005)}, 422, "base_version"),
        ({"base_version": 1, "status": "ok"}, 422, "status"),
        ({"base_version": 1, "attributes": {"households": "many"}}, 422, "attributes"),
        ({"base_version": 1, "colour": "red"}, 422, "colour"),
    ]
    for body, status, field in cases:
        answer = client.patch(f"/api/v1/sites/{site_id}", headers=manager, json=body)
        assert (answer.status_code, answer.get_json()["field"]) == (status, field), answer.get_json()
    bad = client.patch(
        f"/api/v1/sites/{site_id}", headers=manager, json={"base_version": 1, "geometry": bowtie}
    )
    assert bad.get_json()["details"][0]["lon"] is not None  # where to show the problem
    raw = client.patch(
        f"/api/v1/sites/{site_id}",
        headers={**manager, "Content-Type": "application/json"},
        data=b'{"base_version": 1, "name": ',
    )
    assert raw.status_code == 400 and raw.get_json()["field"] == "body"
    form = client.patch(f"/api/v1/sites/{site_id}", headers=manager, data={"name": "x"})
    assert form.status_code == 415
    assert client.post("/api/v1/layers/nope/sites", headers=manager, json={}).status_code == 404
    assert client.patch("/api/v1/sites/999999", headers=manager, json={"base_version": 1}).status_code == 404
    assert len(versions(client, manager, site_id)["versions"]) == 1


def test_only_managers_and_admins_change_sites_and_workers_see_only_their_own_history(app, client, zone):
    geometry = free_square(app)
    assert create(client, bearer(app, "planner"), geometry).status_code == 403
    assert create(client, bearer(app, "worker"), geometry).status_code == 403
    assert create(client, {}, geometry).status_code == 401
    assert create(client, bearer(app, "admin"), geometry).status_code == 201
    worker = bearer(app, "worker")
    assert (
        client.patch(f"/api/v1/sites/{zone.id}", headers=worker, json={"base_version": 1}).status_code == 403
    )
    assert client.get(f"/api/v1/sites/{zone.id}/versions", headers=worker).status_code == 200
    with app.app_context(), get_uow() as uow:
        other = [s.id for s in uow.sites.find(layer_id="sanitation_zones")][5]
    assert client.get(f"/api/v1/sites/{other}/versions", headers=worker).status_code == 404


@pytest.mark.backends("sqlite")  # refused before anything is stored
def test_a_browser_session_must_send_its_csrf_token(app, client, auth):
    auth.login_as("manager")
    geometry = free_square(app)
    assert create(client, {}, geometry).status_code == 400
    token = auth.csrf("/manage/reports")
    assert create(client, {"X-CSRFToken": token}, geometry).status_code == 201


def test_delete_hides_a_site_everywhere_and_restore_brings_it_back(app, client, zone):
    manager = bearer(app, "manager")
    assert client.delete(f"/api/v1/sites/{zone.id}?base_version=0", headers=manager).get_json()["field"] == (
        "base_version"
    )
    deleted = client.delete(f"/api/v1/sites/{zone.id}?base_version=1", headers=manager)
    assert deleted.status_code == 200 and deleted.get_json() == {"id": zone.id, "deleted": True, "version": 2}
    assert client.get(f"/api/v1/sites/{zone.id}", headers=manager).status_code == 404
    features = client.get(f"/api/v1/layers/sanitation_zones/features?q={zone.name}", headers=manager)
    assert zone.id not in [f["id"] for f in features.get_json()["features"]]
    assert (
        client.get(f"/ogc/collections/sanitation_zones/items/{zone.id}", headers=manager).status_code == 404
    )
    exported = client.get("/api/v1/export/sanitation_zones.geojson", headers=manager).get_json()
    assert zone.id not in [f["id"] for f in exported["features"]]
    assert post(client, zone.id, report(zone), token=token_for(app, "worker")).status_code == 404
    history = versions(client, manager, zone.id)
    assert history["deleted"] is True and history["versions"][-1]["action"] == "delete"

    restored = client.post(
        f"/api/v1/sites/{zone.id}/versions/1/restore",
        headers=manager,
        json={"base_version": 2, "comment": "误删"},
    )
    assert restored.status_code == 200 and restored.get_json()["properties"]["version"] == 3
    assert client.get(f"/api/v1/sites/{zone.id}", headers=manager).status_code == 200
    filed = post(client, zone.id, report(zone), token=token_for(app, "worker"))
    assert filed.status_code == 201 and filed.get_json()["site_version"] == 3


def test_split_and_merge_through_the_api(app, client):
    manager = bearer(app, "manager")
    square = free_square(app, 0.01)
    site_id = create(client, manager, square).get_json()["id"]
    (x0, y0), (x1, y1) = square["coordinates"][0][0], square["coordinates"][0][2]
    middle = (x0 + x1) / 2
    line = {
        "type": "LineString",
        "coordinates": [[middle, min(y0, y1) - 0.001], [middle, max(y0, y1) + 0.001]],
    }
    split = client.post(
        f"/api/v1/sites/{site_id}/split", headers=manager, json={"base_version": 1, "line": line}
    )
    assert split.status_code == 200, split.get_json()
    parts = split.get_json()["sites"]
    assert [p["id"] for p in parts][0] == site_id and len(parts) == 2
    merged = client.post(
        "/api/v1/layers/sanitation_zones/merge",
        headers=manager,
        json={"sites": [{"id": p["id"], "base_version": p["version"]} for p in parts], "comment": "合并"},
    )
    assert merged.status_code == 200, merged.get_json()
    assert shape(merged.get_json()["geometry"]).area == shapely.geometry.shape(square).area
    assert client.get(f"/api/v1/sites/{parts[1]['id']}", headers=manager).status_code == 404


def test_the_map_and_exports_take_an_as_of_date(app, client):
    manager = bearer(app, "manager")
    site_id = create(client, manager, free_square(app)).get_json()["id"]
    client.patch(f"/api/v1/sites/{site_id}", headers=manager, json={"base_version": 1, "name": "改名村"})
    url = "/api/v1/layers/sanitation_zones/features?q=村&as_of="
    today = client.get(url + datetime.now(LOCAL_TIME).date().isoformat(), headers=manager)
    assert today.status_code == 200, today.get_json()
    assert {f["id"]: f["properties"]["name"] for f in today.get_json()["features"]}[site_id] == "改名村"
    before = client.get(url + "2020-01-01", headers=manager).get_json()
    assert before["features"] == [] and before["as_of"].startswith("2020-01-01T23:59:59")
    for bad in ("2999-01-01", "yesterday", "2026-13-01T00:00"):
        answer = client.get(url + bad, headers=manager)
        assert answer.status_code == 400 and answer.get_json()["field"] == "as_of", bad
    exported = client.get("/api/v1/export/sanitation_zones.geojson?as_of=2020-01-01", headers=manager)
    assert exported.status_code == 200 and exported.get_json()["features"] == []
    assert client.get("/api/v1/export/sanitation_zones.csv?as_of=nope", headers=manager).status_code == 400


def test_a_deleted_sites_page_stays_for_managers_and_planners_but_not_for_its_worker(app, client, auth, zone):
    assert (
        client.delete(f"/api/v1/sites/{zone.id}?base_version=1", headers=bearer(app, "manager")).status_code
        == 200
    )
    auth.login_as("planner")
    page = client.get(f"/sites/{zone.id}")
    assert page.status_code == 200 and "此站点已于" in page.get_data(as_text=True)
    client.post("/logout", data={"csrf_token": auth.csrf("/")})
    auth.login_as("worker")
    assert client.get(f"/sites/{zone.id}").status_code == 404


def _middle_line(square):
    (x0, y0), (x1, y1) = square["coordinates"][0][0], square["coordinates"][0][2]
    middle = (x0 + x1) / 2
    ys = (min(y0, y1) - 0.001, max(y0, y1) + 0.001)
    return {"type": "LineString", "coordinates": [[middle, ys[0]], [middle, ys[1]]]}


def _state(app, client, headers, site_ids):
    """What a user can see of these sites and the layer: each site and its versions, and the layer's ids."""
    with app.app_context(), get_uow() as uow:
        layer_ids = [s.id for s in uow.sites.find(layer_id="sanitation_zones")]
    shown = {i: (client.get(f"/api/v1/sites/{i}", headers=headers).get_json(), versions(client, headers, i))
             for i in site_ids}
    return layer_ids, shown


@pytest.mark.parametrize("operation", ["delete", "split", "merge", "restore"])
def test_a_stale_base_version_is_409_for_every_change_and_nothing_is_written(app, client, operation):
    manager = bearer(app, "manager")
    square = free_square(app, 0.01)
    site_id = create(client, manager, square).get_json()["id"]
    neighbour = create(client, manager, free_square(app, 0.01, dx=0.01), name="邻村").get_json()["id"]
    renamed = client.patch(f"/api/v1/sites/{site_id}", headers=manager,
                           json={"base_version": 1, "name": "改名村"})
    assert renamed.status_code == 200  # now at version 2; the requests below are based on version 1
    before = _state(app, client, manager, [site_id, neighbour])
    send = {
        "delete": lambda: client.delete(f"/api/v1/sites/{site_id}?base_version=1", headers=manager),
        "split": lambda: client.post(f"/api/v1/sites/{site_id}/split", headers=manager,
                                     json={"base_version": 1, "line": _middle_line(square)}),
        # the neighbour's base is current: only the second site is stale, and the merge must still stop
        "merge": lambda: client.post("/api/v1/layers/sanitation_zones/merge", headers=manager, json={
            "sites": [{"id": neighbour, "base_version": 1}, {"id": site_id, "base_version": 1}]}),
        "restore": lambda: client.post(f"/api/v1/sites/{site_id}/versions/1/restore", headers=manager,
                                       json={"base_version": 1, "comment": "恢复原名"}),
    }[operation]
    answer = send()
    assert answer.status_code == 409, answer.get_json()
    body = answer.get_json()
    assert body["error"] == "stale_version" and body["current_version"] == 2
    assert body["changes"] == [{"field": "name", "before": "新村", "after": "改名村"}]
    assert _state(app, client, manager, [site_id, neighbour]) == before


def test_delete_without_a_base_version_deletes_the_current_one(app, client):
    manager = bearer(app, "manager")
    site_id = create(client, manager, free_square(app)).get_json()["id"]
    client.patch(f"/api/v1/sites/{site_id}", headers=manager, json={"base_version": 1, "name": "改名村"})
    deleted = client.delete(f"/api/v1/sites/{site_id}", headers=manager)
    assert deleted.status_code == 200 and deleted.get_json() == {"id": site_id, "deleted": True, "version": 3}
    assert client.get(f"/api/v1/sites/{site_id}", headers=manager).status_code == 404
    actions = [v["action"] for v in versions(client, manager, site_id)["versions"]]
    assert actions == ["create", "edit", "delete"]
    # a JSON body with only a comment works too, and the comment is kept
    other = create(client, manager, free_square(app, dx=0.01), name="另一村").get_json()["id"]
    answer = client.delete(f"/api/v1/sites/{other}", headers=manager, json={"comment": "重复录入"})
    assert answer.status_code == 200 and answer.get_json()["version"] == 2
    assert versions(client, manager, other)["versions"][-1]["comment"] == "重复录入"


def test_restoring_a_version_whose_key_another_site_now_uses_is_refused(app, client, zone, tmp_path):
    manager = bearer(app, "manager")
    assert zone.ref is not None
    assert client.delete(f"/api/v1/sites/{zone.id}", headers=manager).status_code == 200  # key released
    path = tmp_path / "again.geojson"
    path.write_text(json.dumps({"type": "FeatureCollection", "features": [{
        "type": "Feature", "geometry": free_square(app),
        "properties": {"name": "新录入", "ref": zone.ref, **ATTRS}}]}, ensure_ascii=False), encoding="utf-8")
    with app.app_context(), get_uow(write=True) as uow:
        result = imports.import_sites(layers()["sanitation_zones"], path, crs=None, skip_invalid=False,
                                      uow=uow, user=system_user("test"), now=datetime.now(UTC))
    (taker,) = result.added
    before = versions(client, manager, zone.id)
    refused = client.post(f"/api/v1/sites/{zone.id}/versions/1/restore",
                          headers={**manager, "Accept-Language": "en"}, json={"base_version": 2})
    assert refused.status_code == 422
    body = refused.get_json()
    assert body["field"] == "version" and zone.ref in body["message"] and f"site {taker}" in body["message"]
    assert versions(client, manager, zone.id) == before and before["deleted"] is True
    assert client.get(f"/api/v1/sites/{zone.id}", headers=manager).status_code == 404
    assert client.get(f"/api/v1/sites/{taker}", headers=manager).get_json()["properties"]["ref"] == zone.ref


def test_a_status_set_on_review_is_a_version_carrying_the_reviewers_comment(app, client):
    manager = bearer(app, "manager")
    with app.app_context(), get_uow(write=True) as uow:
        road = next(uow.sites.find(layer_id="road_works"))
        ids = [add_report(uow, road.id, "worker", checklist={"works_quality": "pass"},
                          observed_at=datetime.now(UTC) - timedelta(hours=n)) for n in (2, 1)]
        uow.commit()
        first, second = [s.code for s in layers()["road_works"].statuses if s.code != road.status][:2]
    for report_id, comment, status in zip(ids, ("路面已完工，转入验收", ""), (first, second), strict=True):
        answer = client.post(f"/api/v1/reports/{report_id}/review", headers=manager,
                             json={"decision": "approve", "comment": comment, "status": status})
        assert answer.status_code == 200, answer.get_json()
    latest = versions(client, manager, road.id)["versions"][-2:]
    assert [(v["action"], v["status"], v["actor"], v["comment"], v["detail"]) for v in latest] == [
        ("status", first, "manager", "路面已完工，转入验收", {"report": ids[0]}),
        ("status", second, "manager", None, {"report": ids[1]}),  # the report it came from, no made-up words
    ]
