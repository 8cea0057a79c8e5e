"""Filing reports through the API: validated, stored exactly once, reviewed, visible to the right people."""

import io
import json
import threading
from datetime import UTC, datetime, timedelta

import pytest
from PIL import Image

from tests.factories import ALL_PASS, jpeg, report, token_for
from webapp.context import get_uow


def post(client, site_id, body, photos=(), token=None, raw=None):
    data = {"report": raw if raw is not None else json.dumps(body, ensure_ascii=False)}
    data["photos"] = [(io.BytesIO(p), f"p{i}.jpg") for i, p in enumerate(photos)]
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return client.post(f"/api/v1/sites/{site_id}/reports", data=data, headers=headers,
                       content_type="multipart/form-data")


def stored(app, site_id):
    with app.app_context(), get_uow() as uow:
        return uow.reports.find(site_ids=[site_id])


def wait_for_photo_jobs(app):
    app.extensions["onemap.photo_jobs"].submit(lambda: None).result(timeout=30)


def test_a_report_is_stored_once_with_its_photos(app, client, zone):
    token = token_for(app, "worker")
    body = report(zone)
    first = post(client, zone.id, body, photos=[jpeg(), jpeg((10, 200, 30))], token=token)
    assert first.status_code == 201, first.get_json()
    created = first.get_json()
    assert created["uuid"] == body["uuid"] and created["status"] == "pending" and created["flags"] == []
    assert len(created["photos"]) == 2 and created["photos"][0]["thumbnail_url"].endswith("/thumbnail")
    again = post(client, zone.id, body, photos=[jpeg(), jpeg((10, 200, 30))], token=token)
    # the retry's receipt is read from the database: the first one, built as it was stored, matches it
    assert again.status_code == 200 and again.get_json() == created
    assert len(stored(app, zone.id)) == 1
    # the site now counts as inspected: status ok on the map
    features = client.get(f"/api/v1/layers/sanitation_zones/features?q={zone.name}",
                          headers={"Authorization": f"Bearer {token}"}).get_json()["features"]
    assert features[0]["properties"]["status"] == "ok" and features[0]["properties"]["unreviewed"] is True
    # derived copies follow the acknowledgement: EXIF-free JPEGs, served once they exist
    wait_for_photo_jobs(app)
    with client.get(created["photos"][0]["url"], headers={"Authorization": f"Bearer {token}"}) as shown:
        assert shown.status_code == 200
        assert not Image.open(io.BytesIO(shown.data)).getexif()


def test_a_report_observed_earlier_but_sent_later_does_not_become_the_latest(app, client, zone):
    token = token_for(app, "worker")
    today = report(zone, checklist=dict(ALL_PASS))
    failed = dict(ALL_PASS, swept_clean="fail")
    last_week = report(zone, checklist=failed,
                       observed_at=(datetime.now(UTC) - timedelta(days=7)).astimezone().isoformat())
    first = post(client, zone.id, today, token=token).get_json()
    assert post(client, zone.id, last_week, token=token).status_code == 201  # queued offline for a week
    site = client.get(f"/api/v1/sites/{zone.id}", headers={"Authorization": f"Bearer {token}"}).get_json()
    assert site["properties"]["status"] == "ok" and site["properties"]["latest_report"]["id"] == first["id"]


def test_same_uuid_with_different_content_is_409_and_keeps_the_first(app, client, zone):
    token = token_for(app, "worker")
    body = report(zone)
    assert post(client, zone.id, body, token=token).status_code == 201
    changed = post(client, zone.id, body | {"note": "改过的"}, token=token)
    assert changed.status_code == 409 and changed.get_json()["error"] == "conflict"
    (kept,) = stored(app, zone.id)
    assert kept["note"] == "村口已清理"


def test_twenty_concurrent_duplicates_store_exactly_one(app, zone):
    token = token_for(app, "worker")
    body = report(zone)
    photo = jpeg()
    barrier = threading.Barrier(20)
    codes, ids = [], []

    def send():
        client = app.test_client()
        barrier.wait()
        response = post(client, zone.id, body, photos=[photo], token=token)
        codes.append(response.status_code)
        ids.append(response.get_json().get("id"))

    threads = [threading.Thread(target=send) for _ in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert sorted(codes) == [200] * 19 + [201]
    assert len(set(ids)) == 1 and len(stored(app, zone.id)) == 1
    wait_for_photo_jobs(app)
    media = app.config["ONEMAP"].instance / "media" / "photos"
    originals = list(media.rglob("*.original.*"))
    assert len(originals) == 1  # the losers left no files behind


@pytest.mark.backends("sqlite")  # refused before anything is stored
@pytest.mark.parametrize(
    "change, field",
    [
        ({"checklist": {**ALL_PASS, "painted_walls": "pass"}}, "checklist.painted_walls"),
        ({"checklist": {k: v for k, v in ALL_PASS.items() if k != "swept_clean"}}, "checklist.swept_clean"),
        ({"checklist": {**ALL_PASS, "swept_clean": "maybe"}}, "checklist.swept_clean"),
        ({"metrics": {"garbage_tonnes": 5000}}, "metrics.garbage_tonnes"),
        ({"metrics": {"rainfall": 3}}, "metrics.rainfall"),
        ({"metrics": {"person_times": "many"}}, "metrics.person_times"),
        ({"gps": {"lat": 95, "lon": 122, "accuracy": 5}}, "gps.lat"),
        ({"gps": {"lat": 41.7, "lon": -200, "accuracy": 5}}, "gps.lon"),
        ({"observed_at": "2026-05-01T09:30:00"}, "observed_at"),
        ({"observed_at": (datetime.now(UTC) + timedelta(days=2)).isoformat()}, "observed_at"),
        ({"uuid": "not-a-uuid"}, "uuid"),
        ({"note": "长" * 6000}, "note"),
    ],
)
def test_invalid_reports_are_422_naming_the_field_and_store_nothing(app, client, zone, change, field):
    response = post(client, zone.id, report(zone, **change), photos=[jpeg()], token=token_for(app, "worker"))
    assert response.status_code == 422, response.get_json()
    assert response.get_json()["field"] == field and response.get_json()["message"].startswith(field)
    assert stored(app, zone.id) == []
    assert not list((app.config["ONEMAP"].instance / "media").rglob("*.original.*"))


@pytest.mark.backends("sqlite")  # refused before anything is stored
def test_malformed_requests_and_photos(app, client, zone):
    token = token_for(app, "worker")
    bad_json = post(client, zone.id, None, token=token, raw="{not json")
    assert bad_json.status_code == 400 and bad_json.get_json()["field"] == "report"
    not_multipart = client.post(f"/api/v1/sites/{zone.id}/reports", json=report(zone),
                                headers={"Authorization": f"Bearer {token}"})
    assert not_multipart.status_code == 415
    gif = io.BytesIO()
    Image.new("RGB", (8, 8)).save(gif, "GIF")
    assert post(client, zone.id, report(zone), photos=[gif.getvalue()], token=token).status_code == 415
    eleven = post(client, zone.id, report(zone), photos=[jpeg()] * 11, token=token)
    assert eleven.status_code == 422 and eleven.get_json()["field"] == "photos"
    assert stored(app, zone.id) == []


def test_flags_for_a_fix_and_photos_far_from_the_site(app, client, zone):
    token = token_for(app, "worker")
    far = {"lat": 41.0, "lon": 121.0, "accuracy": 5}  # tens of km away
    body = report(zone, gps=far, photo_meta=[{"lat": 41.0, "lon": 121.0, "taken_at": (
        datetime.now(UTC) - timedelta(days=3)).isoformat()}])
    created = post(client, zone.id, body, photos=[jpeg()], token=token).get_json()
    assert set(created["flags"]) == {"off_site", "photo_far", "photo_old"}
    assert created["distance_m"] > 10_000


def test_who_may_file(app, client, auth, zone):
    with app.app_context(), get_uow() as uow:
        other = [s.id for s in uow.sites.find(layer_id="sanitation_zones")][5]
    worker = token_for(app, "worker")
    assert post(client, other, report(zone), token=worker).status_code == 404  # not theirs: unseen
    assert post(client, 999999, report(zone), token=worker).status_code == 404
    planner = post(client, zone.id, report(zone), token=token_for(app, "planner"))
    assert planner.status_code == 403  # planners read only
    assert post(client, other, report(zone), token=token_for(app, "manager")).status_code == 201
    # a browser session must send the CSRF token with its report
    auth.login_as("worker")
    assert post(client, zone.id, report(zone)).status_code == 400


def test_review_decisions_status_and_audit(app, client, zone):
    worker, manager = token_for(app, "worker"), token_for(app, "manager")
    failed = report(zone, checklist={**ALL_PASS, "ditches_cleared": "fail"})
    report_id = post(client, zone.id, failed, token=worker).get_json()["id"]
    headers = {"Authorization": f"Bearer {manager}"}

    def review(body, token_headers=headers):
        return client.post(f"/api/v1/reports/{report_id}/review", json=body, headers=token_headers)

    def zone_status():
        return client.get(f"/api/v1/sites/{zone.id}", headers=headers).get_json()["properties"]["status"]

    assert zone_status() == "needs_attention"  # awaiting review, it counts
    assert review({"decision": "reject"}, {"Authorization": f"Bearer {worker}"}).status_code == 403
    assert review({"decision": "maybe"}).get_json()["field"] == "decision"
    assert review({"decision": "reject"}).get_json()["field"] == "comment"
    rejected = review({"decision": "reject", "comment": "照片看不清"})
    assert rejected.status_code == 200 and rejected.get_json()["status"] == "rejected"
    assert zone_status() == "never_inspected"  # a rejected report never counts
    assert review({"decision": "approve"}).status_code == 409
    with app.app_context(), get_uow() as uow:
        actions = [(e.actor, e.action) for e in uow.audit.recent(10)]
    assert ("manager", "report.reject") in actions and ("worker", "report.file") in actions


def test_the_map_marks_a_site_until_its_latest_report_is_reviewed(app, client, zone):
    worker, manager = token_for(app, "worker"), token_for(app, "manager")
    headers = {"Authorization": f"Bearer {manager}"}

    def unreviewed():
        features = client.get(f"/api/v1/layers/sanitation_zones/features?q={zone.name}",
                              headers=headers).get_json()["features"]
        return features[0]["properties"].get("unreviewed", False)

    assert unreviewed() is False  # never inspected: nothing to review
    report_id = post(client, zone.id, report(zone), token=worker).get_json()["id"]
    assert unreviewed() is True
    assert client.post(f"/api/v1/reports/{report_id}/review", json={"decision": "approve"},
                       headers=headers).status_code == 200
    assert unreviewed() is False


def test_stage_layers_move_only_by_a_managers_decision(app, client):
    manager = token_for(app, "manager")
    headers = {"Authorization": f"Bearer {manager}"}
    with app.app_context(), get_uow() as uow:
        road = next(uow.sites.find(layer_id="road_works"))
    body = report(road, checklist={k: "pass" for k in (
        "site_safety", "traffic_management", "dust_control", "drainage_clear", "works_quality",
        "hoarding_signage")}, metrics={"asphalt": 100})
    report_id = post(client, road.id, body, token=manager).get_json()["id"]
    assert client.get(f"/api/v1/sites/{road.id}", headers=headers).get_json()["properties"]["status"] == \
        "main_complete"  # filing alone moves nothing
    bad = client.post(f"/api/v1/reports/{report_id}/review", headers=headers,
                      json={"decision": "approve", "status": "flying"})
    assert bad.status_code == 422 and bad.get_json()["field"] == "status"
    ok = client.post(f"/api/v1/reports/{report_id}/review", headers=headers,
                     json={"decision": "approve", "comment": "验收通过", "status": "open"})
    assert ok.status_code == 200
    now_status = client.get(f"/api/v1/sites/{road.id}", headers=headers).get_json()["properties"]["status"]
    assert now_status == "open"


def test_report_list_filters_and_workers_see_their_own(app, client, zone):
    worker, manager = token_for(app, "worker"), token_for(app, "manager")
    mine = post(client, zone.id, report(zone), token=worker).get_json()["id"]
    theirs = post(client, zone.id, report(zone), token=manager).get_json()["id"]

    def ids(query, token):
        response = client.get(f"/api/v1/reports{query}", headers={"Authorization": f"Bearer {token}"})
        assert response.status_code == 200, response.get_json()
        return sorted(r["id"] for r in response.get_json()["reports"])

    assert ids(f"?site={zone.id}", manager) == sorted([mine, theirs])
    assert ids("", worker) == [mine]
    assert ids("?status=approved", manager) == []
    tomorrow = (datetime.now(UTC) + timedelta(days=1)).isoformat().replace("+", "%2B")
    assert ids(f"?since={tomorrow}", manager) == []
    assert client.get("/api/v1/reports?since=yesterday",
                      headers={"Authorization": f"Bearer {manager}"}).status_code == 400
