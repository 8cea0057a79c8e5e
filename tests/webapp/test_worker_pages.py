"""The grid worker's phone pages: my sites (own only, most overdue first), the report form, /sw.js."""

import re
from datetime import UTC, datetime, timedelta

import pytest
import shapely
from babel.numbers import format_decimal

from geo import accounts
from geo.access import system_user
from geo.model import Site
from tests.factories import ALL_PASS, add_report
from webapp.context import get_uow

pytestmark = pytest.mark.backends("sqlite")  # pages and forms; storage tests marked for both below

HOSTILE = ["<script>alert(1)</script>", '<img src=x onerror="alert(1)">']


@pytest.fixture
def zones(app):
    with app.app_context(), get_uow() as uow:
        return [s.id for s in uow.sites.find(layer_id="sanitation_zones")]


def _assign(app, username, ids):
    with app.app_context(), get_uow(write=True) as uow:
        accounts.assign_sites(username, ids, uow=uow, user=system_user("test"), now=datetime.now(UTC))


def _report(app, site_id, days_ago, **kwargs):
    with app.app_context(), get_uow(write=True) as uow:
        add_report(uow, site_id, "worker", checklist=kwargs.pop("checklist", ALL_PASS),
                   observed_at=datetime.now(UTC) - timedelta(days=days_ago), **kwargs)
        uow.commit()


def _listed(page: str) -> list[int]:
    return [int(i) for i in re.findall(r'<li class="my-site" data-site="(\d+)"', page)]


@pytest.mark.backends("sqlite", "postgis")  # who sees which site
def test_my_lists_only_the_workers_sites_most_overdue_first(app, client, auth, zones):
    mine = zones[:5]
    _assign(app, "worker", mine)
    _assign(app, "worker2", [zones[10]])
    _report(app, mine[0], 1)  # ok
    _report(app, mine[1], 10)  # 3 days overdue (weekly cadence)
    _report(app, mine[2], 25)  # 18 days overdue
    _report(app, mine[3], 2, checklist=ALL_PASS | {"ditches_cleared": "fail"})  # needs attention
    # mine[4]: never inspected
    auth.login_as("worker")
    response = client.get("/my")
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert _listed(page) == [mine[2], mine[1], mine[4], mine[3], mine[0]]
    assert zones[10] not in _listed(page) and "逾期18天" in page and "逾期3天" in page
    assert f'href="/my/sites/{mine[2]}/report"' in page  # each site links to its form
    assert '<meta name="csrf-token" content="' in page
    # each site carries a point for sorting by distance on the phone
    first = re.search(rf'data-site="{mine[2]}"[^>]*data-lat="([\d.]+)" data-lon="([\d.]+)"', page)
    assert 40 < float(first.group(1)) < 43 and 120 < float(first.group(2)) < 123


def test_my_with_no_assignment_says_so(client, auth):
    auth.login_as("worker")
    page = client.get("/my").get_data(as_text=True)
    assert "还没有分配给您的站点" in page and _listed(page) == []
    assert "No sites are assigned to you yet" in client.get("/my?lang=en").get_data(as_text=True)


def test_worker_has_a_nav_link_to_my_sites_and_planner_does_not(client, auth):
    auth.login_as("worker")
    assert 'href="/my"' in client.get("/my").get_data(as_text=True)
    client.post("/logout", data={"csrf_token": auth.csrf("/my")})
    auth.login_as("planner")
    assert 'href="/my"' not in client.get("/").get_data(as_text=True)


def test_planner_gets_403_and_manager_may_open_my(app, client, auth, zones):
    auth.login_as("planner")
    assert client.get("/my").status_code == 403
    assert client.get(f"/my/sites/{zones[0]}/report").status_code == 403
    client.post("/logout", data={"csrf_token": auth.csrf("/")})
    auth.login_as("manager")
    page = client.get("/my").get_data(as_text=True)
    assert len(_listed(page)) > 100  # a manager sees (and may report on) every site
    assert client.get(f"/my/sites/{zones[0]}/report").status_code == 200


def test_pages_need_a_login(client, zones):
    for path in ("/my", f"/my/sites/{zones[0]}/report", "/my/csrf-token"):
        response = client.get(path)
        assert response.status_code == 302 and "/login" in response.headers["Location"]


def test_form_has_every_checklist_item_and_metric_with_units_and_bounds(app, client, auth, layers, zones):
    _assign(app, "worker", [zones[0]])
    auth.login_as("worker")
    layer = layers["sanitation_zones"]
    page = client.get(f"/my/sites/{zones[0]}/report").get_data(as_text=True)
    with app.app_context(), get_uow() as uow:
        name = uow.sites.get(zones[0]).name
    assert f"<h1>{name}</h1>" in page and "尚未巡查" in page  # the site's name and status on top
    for item in layer.checklist:
        assert item.label["zh_CN"] in page
        for answer in ("pass", "fail", "na"):
            assert f'name="check.{item.id}" value="{answer}" required' in page
        assert f'name="comment.{item.id}"' in page
    assert ">合格<" in page and ">不合格<" in page and ">不适用<" in page
    for m in layer.metrics:
        assert m.label["zh_CN"] in page
        assert f'name="metric.{m.id}"' in page
        assert f'min="{m.min:g}" max="{m.max:g}"' in page
        low, high = (format_decimal(v, locale="zh_CN") for v in (m.min, m.max))  # 10000 is 10,000
        assert f"单位: {m.unit} · 范围: {low}–{high}" in page
    assert 'type="file"' in page and 'accept="image/*"' in page and 'capture="environment"' in page
    assert "multiple" in page and "现场照片（1–10张）" in page and 'name="note"' in page
    assert '<meta name="csrf-token" content="' in page

    english = client.get(f"/my/sites/{zones[0]}/report?lang=en").get_data(as_text=True)
    for item in layer.checklist:
        assert item.label["en"] in english
    for m in layer.metrics:
        low, high = (format_decimal(v, locale="en") for v in (m.min, m.max))
        assert m.label["en"] in english and f"unit: {m.unit} · range: {low}–{high}" in english
    assert ">pass<" in english and ">n/a<" in english and "Photos (1–10)" in english
    assert "Never inspected" in english and "Submit report" in english


def test_form_of_a_stage_layer_follows_its_own_definition(app, client, auth, layers):
    with app.app_context(), get_uow() as uow:
        road = next(uow.sites.find(layer_id="road_works"))
    _assign(app, "worker", [road.id])
    auth.login_as("worker")
    page = client.get(f"/my/sites/{road.id}/report?lang=en").get_data(as_text=True)
    layer = layers["road_works"]
    assert all(item.label["en"] in page for item in layer.checklist)
    assert all(f'name="metric.{m.id}"' in page for m in layer.metrics)
    assert "sanitation" not in page.lower()


@pytest.mark.backends("sqlite", "postgis")  # who sees which site
def test_sites_the_worker_may_not_see_are_404(app, client, auth, zones):
    _assign(app, "worker", [zones[0]])
    _assign(app, "worker2", [zones[1]])
    auth.login_as("worker")
    assert client.get(f"/my/sites/{zones[1]}/report").status_code == 404  # someone else's
    assert client.get(f"/my/sites/{zones[2]}/report").status_code == 404  # nobody's
    assert client.get("/my/sites/999999/report").status_code == 404  # none at all
    assert client.get(f"/my/sites/{zones[0]}/report").status_code == 200


@pytest.mark.parametrize("hostile", HOSTILE)
def test_site_names_are_escaped(app, client, auth, hostile):
    with app.app_context(), get_uow(write=True) as uow:
        site = Site(id=None, layer_id="sanitation_zones", name=hostile, status="never_inspected",
                    geometry=shapely.box(122.0, 41.6, 122.01, 41.61),
                    attributes={"township": hostile, "key_village": True})
        site_id = uow.sites.add(site, datetime.now(UTC), actor="test")
        uow.commit()
    _assign(app, "worker", [site_id])
    auth.login_as("worker")
    escaped = hostile.replace("<", "&lt;").replace(">", "&gt;")
    for path in ("/my", f"/my/sites/{site_id}/report"):
        page = client.get(path).get_data(as_text=True)
        assert hostile not in page and escaped.replace('"', "&#34;") in page


def test_service_worker_is_served_from_the_root_with_its_scope_allowed(client, auth):
    auth.login_as("worker")
    response = client.get("/sw.js")
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("application/javascript")
    assert response.headers["Service-Worker-Allowed"] == "/"
    assert "no-cache" in response.headers["Cache-Control"]
    assert b'addEventListener("fetch"' in response.data


def test_the_queue_gets_a_fresh_csrf_token_for_the_logged_in_user(client, auth):
    auth.login_as("worker")
    response = client.get("/my/csrf-token")
    body = response.get_json()
    assert body["user"] == "worker" and body["csrf_token"]
    assert response.headers["Cache-Control"] == "no-store"


def test_worker_assets_are_served_without_a_login(client):
    for name in ("worker.js", "report-queue.js", "photos.js", "sw.js"):
        response = client.get(f"/static/{name}")
        assert response.status_code == 200, name
        response.close()
