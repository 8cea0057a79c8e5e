"""Manager pages: the review queue (approve / reject through forms) and assigning sites to workers."""

from datetime import UTC, datetime, timedelta

import pytest

from tests.factories import ALL_PASS, add_report, shipped_count
from webapp.context import get_uow

ZONES = "/api/v1/layers/sanitation_zones/features"


@pytest.fixture
def zones(app):
    with app.app_context(), get_uow() as uow:
        return [s.id for s in uow.sites.find(layer_id="sanitation_zones")]


def _report(app, site_id, hours_ago=1, **kwargs):
    kwargs.setdefault("checklist", ALL_PASS)
    with app.app_context(), get_uow(write=True) as uow:
        observed_at = datetime.now(UTC) - timedelta(hours=hours_ago)
        report_id = add_report(uow, site_id, "worker", observed_at=observed_at,
                               media_url=app.config["ONEMAP"].media_url, **kwargs)
        uow.commit()
    return report_id


def _stored(app, report_id):
    with app.app_context(), get_uow() as uow:
        return next(r for r in uow.reports.find(limit=1000) if r["id"] == report_id)


def _audit(app):
    with app.app_context(), get_uow() as uow:
        return [(e.actor, e.action, e.target) for e in uow.audit.recent(20)]


def _assigned(app, username):
    with app.app_context(), get_uow() as uow:
        return uow.assignments.site_ids(uow.users.by_name(username)[0].id)


def _section(page, name):
    return page.split(f'class="{name}"')[1].split("</section>")[0]


# ------------------------------------------------------------------ review queue
def test_queue_lists_pending_reports_first_newest_first_with_flags_highlighted(app, client, auth, zones):
    older = _report(app, zones[0], hours_ago=5, note="较早的报告")
    flagged = _report(app, zones[1], hours_ago=1, note="沟渠堵塞", flags=["off_site", "photo_far"], photos=2,
                      checklist=ALL_PASS | {"ditches_cleared": "fail"},
                      metrics={"person_times": 12, "garbage_tonnes": 1.5})
    done = _report(app, zones[2], hours_ago=0, note="已经审核过", status="approved")
    auth.login_as("manager")
    page = client.get("/manage/reports").get_data(as_text=True)
    pending, decided = _section(page, "queue-pending"), _section(page, "queue-decided")
    assert "待审核的报告 (2)" in pending
    assert pending.index(f'id="report-{flagged}"') < pending.index(f'id="report-{older}"')  # newest first
    card = pending.split(f'id="report-{flagged}"')[1].split("</article>")[0]
    assert f'href="/sites/{zones[1]}"' in card and "worker" in card and "沟渠堵塞" in card
    assert '<span class="flag flag-alert" data-flag="off_site">⚠ 不在现场</span>' in card
    assert "照片位置偏远" in card
    assert '<li class="answer-fail">清沟渠: 不合格' in card
    assert "出动人工: <b>12</b> 人次" in card and card.count("/thumbnail") == 2
    assert f'action="/manage/reports/{flagged}/review"' in card and 'name="csrf_token"' in card
    assert f'id="report-{done}"' in decided and "已经审核过" in decided and "已通过" in decided
    assert "review-form" not in decided  # decided reports have no buttons
    english = client.get("/manage/reports?lang=en").get_data(as_text=True)
    assert "Awaiting review (2)" in english and "off site" in english and "Ditches cleared: fail" in english


@pytest.mark.backends("sqlite")  # escaping
def test_user_text_is_escaped_in_the_queue(app, client, auth, zones):
    hostile = "<script>alert(1)</script>"
    _report(app, zones[0], note=hostile, checklist=ALL_PASS | {"comments": {"swept_clean": hostile}})
    auth.login_as("manager")
    page = client.get("/manage/reports").get_data(as_text=True)
    assert hostile not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page


def test_approve_and_reject_through_the_forms(app, client, auth, zones):
    first, second = _report(app, zones[0]), _report(app, zones[1])
    auth.login_as("manager")
    token = auth.csrf("/manage/reports")
    approved = client.post(f"/manage/reports/{first}/review",
                           data={"csrf_token": token, "decision": "approve", "comment": "很好"})
    assert approved.status_code == 302 and approved.headers["Location"].endswith("/manage/reports")
    assert (_stored(app, first)["status"], _stored(app, first)["review_comment"]) == ("approved", "很好")
    assert ("manager", "report.approve", f"report:{first}") in _audit(app)

    no_reason = client.post(f"/manage/reports/{second}/review",
                            data={"csrf_token": token, "decision": "reject", "comment": " "})
    assert no_reason.status_code == 422
    card = no_reason.get_data(as_text=True).split(f'id="report-{second}"')[1].split("</article>")[0]
    assert 'class="form-error"' in card and "comment" in card  # the service's message, beside the form
    assert _stored(app, second)["status"] == "pending"  # nothing half-applied

    rejected = client.post(f"/manage/reports/{second}/review",
                           data={"csrf_token": token, "decision": "reject", "comment": "照片看不清"})
    assert rejected.status_code == 302
    stored = _stored(app, second)
    assert (stored["status"], stored["review_comment"]) == ("rejected", "照片看不清")
    assert ("manager", "report.reject", f"report:{second}") in _audit(app)
    assert "报告已退回" in client.get("/manage/reports").get_data(as_text=True)  # the flash

    again = client.post(f"/manage/reports/{first}/review", data={"csrf_token": token, "decision": "reject",
                                                                  "comment": "改主意"})
    assert again.status_code == 409 and "已审核" in again.get_data(as_text=True)
    assert _stored(app, first)["status"] == "approved"
    assert client.post(f"/manage/reports/{first}/review",
                       data={"csrf_token": token, "decision": "maybe"}).status_code == 422
    assert client.post("/manage/reports/999999/review",
                       data={"csrf_token": token, "decision": "approve"}).status_code == 404


def test_approving_a_stage_layer_report_may_move_the_site(app, client, auth):
    with app.app_context(), get_uow() as uow:
        road = next(uow.sites.find(layer_id="road_works"))
    report_id = _report(app, road.id, checklist={"works_quality": "pass"})
    auth.login_as("manager")
    page = client.get("/manage/reports").get_data(as_text=True)
    assert 'name="site_status"' in page.split(f'id="report-{report_id}"')[1].split("</article>")[0]
    response = client.post(f"/manage/reports/{report_id}/review", data={
        "csrf_token": auth.csrf("/manage/reports"), "decision": "approve", "site_status": "open"})
    assert response.status_code == 302
    with app.app_context(), get_uow() as uow:
        assert uow.sites.get(road.id).status == "open"


@pytest.mark.backends("sqlite")  # refused before any write
def test_review_without_csrf_token_is_refused(app, client, auth, zones):
    report_id = _report(app, zones[0])
    auth.login_as("manager")
    response = client.post(f"/manage/reports/{report_id}/review", data={"decision": "approve"})
    assert response.status_code == 400
    assert _stored(app, report_id)["status"] == "pending"


# ------------------------------------------------------------------ assignment
def test_assign_and_unassign_through_the_form_decides_what_the_worker_sees(app, client, auth, zones):
    auth.login_as("manager")
    page = client.get("/manage/assign?worker=worker&layer=sanitation_zones")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert html.count('name="site" value=') == shipped_count("sanitation_zones")
    assert '<option value="worker" selected>' in html
    assert '<option value="planner"' not in html  # only workers can be chosen
    token = auth.csrf("/manage/assign?worker=worker")
    filters = {"worker": "worker", "layer": "sanitation_zones"}
    response = client.post("/manage/assign", data={"csrf_token": token, "action": "assign",
                                                   "site": zones[:4], **filters})
    assert response.status_code == 302
    assert response.headers["Location"].endswith("/manage/assign?worker=worker&layer=sanitation_zones")
    assert _assigned(app, "worker") == set(zones[:4])
    shown = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "为 worker 新分配 4 个站点" in shown and shown.count('class="is-mine"') == 4
    mine_only = client.get("/manage/assign?worker=worker&mine=1").get_data(as_text=True)
    assert mine_only.count('name="site" value=') == 4

    response = client.post("/manage/assign", data={"csrf_token": token, "action": "unassign",
                                                   "site": [zones[0], zones[3], zones[50]], **filters})
    assert response.status_code == 302 and _assigned(app, "worker") == {zones[1], zones[2]}
    actions = _audit(app)
    assert ("manager", "sites.assign", "user:worker") in actions
    assert ("manager", "sites.unassign", "user:worker") in actions

    client.post("/logout", data={"csrf_token": token})
    auth.login_as("worker")
    features = client.get(ZONES).get_json()["features"]
    assert sorted(f["id"] for f in features) == [zones[1], zones[2]]


def test_assignment_page_filters_by_county_and_name_and_shows_other_workers(app, client, auth, zones):
    with app.app_context(), get_uow() as uow:
        zone = uow.sites.get(zones[7])
    auth.login_as("manager")
    token = auth.csrf("/manage/assign")
    client.post("/manage/assign", data={"csrf_token": token, "action": "assign", "worker": "worker2",
                                        "site": [zone.id]})
    page = client.get("/manage/assign", query_string={"worker": "worker", "q": zone.name,
                                                      "county": zone.county}).get_data(as_text=True)
    assert page.count('name="site" value=') == 1 and f'data-site="{zone.id}"' in page
    assert "<td>worker2</td>" in page  # already someone else's
    assert client.get("/manage/assign?layer=nope").status_code == 400


@pytest.mark.backends("sqlite")  # refused before any write
@pytest.mark.parametrize("data, status, words", [
    ({"worker": "worker", "action": "assign"}, 422, "请至少勾选一个站点"),
    ({"action": "assign", "site": ["1"]}, 422, "请选择网格员"),
    ({"worker": "planner", "action": "assign", "site": ["1"]}, 422, "站点只能分配给网格员"),
    ({"worker": "nobody", "action": "assign", "site": ["1"]}, 404, "nobody"),
    ({"worker": "worker", "action": "assign", "site": ["1", "99999"]}, 404, "99999"),
    ({"worker": "worker", "action": "unassign", "site": ["1"], "x": ""}, 302, ""),
    ({"worker": "worker", "action": "steal", "site": ["1"]}, 400, ""),
    ({"worker": "worker", "action": "assign", "site": ["one"]}, 400, ""),
])
def test_bad_assignment_input_is_shown_and_nothing_is_written(app, client, auth, data, status, words):
    auth.login_as("manager")
    response = client.post("/manage/assign", data={"csrf_token": auth.csrf("/manage/assign"), **data})
    assert response.status_code == status
    assert words in response.get_data(as_text=True)
    assert _assigned(app, "worker") == set()


@pytest.mark.backends("sqlite")  # refused before any write
def test_assignment_without_csrf_token_is_refused(app, client, auth, zones):
    auth.login_as("manager")
    response = client.post("/manage/assign", data={"worker": "worker", "action": "assign", "site": zones[:2]})
    assert response.status_code == 400
    assert _assigned(app, "worker") == set()


@pytest.mark.backends("sqlite")  # refused before any write
@pytest.mark.parametrize("role", ["planner", "worker"])
def test_planners_and_workers_may_not_manage(app, client, auth, zones, role):
    report_id = _report(app, zones[0])
    auth.login_as(role)
    token = auth.csrf("/")
    assert client.get("/manage/reports").status_code == 403
    assert client.get("/manage/assign").status_code == 403
    assert client.post(f"/manage/reports/{report_id}/review",
                       data={"csrf_token": token, "decision": "approve"}).status_code == 403
    assert client.post("/manage/assign", data={"csrf_token": token, "worker": "worker", "action": "assign",
                                               "site": zones[:1]}).status_code == 403
    assert _stored(app, report_id)["status"] == "pending" and _assigned(app, "worker") == set()
    assert "/manage/reports" not in client.get("/").get_data(as_text=True)  # no nav link either


@pytest.mark.backends("sqlite")  # refused before any write
@pytest.mark.parametrize("role", ["manager", "admin"])
def test_managers_and_admins_see_the_links(client, auth, role):
    auth.login_as(role)
    page = client.get("/manage/reports").get_data(as_text=True)
    assert 'href="/manage/reports"' in page and 'href="/manage/assign"' in page
    assert ('href="/admin/users"' in page) == (role == "admin")


@pytest.mark.backends("sqlite")  # refused before any write
def test_manager_pages_need_login(client):
    response = client.get("/manage/reports")
    assert response.status_code == 302 and "/login" in response.headers["Location"]
