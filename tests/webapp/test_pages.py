"""Server-rendered pages: the site page with its history, the dashboard, escaping of user text."""

from datetime import UTC, datetime, timedelta

import pytest

from tests.factories import ALL_PASS, add_report, bearer, report, shipped_count, token_for
from webapp.context import get_uow

HOSTILE = ["<script>alert(1)</script>", "<img src=x onerror=alert(1)>"]


@pytest.fixture
def zones(app):
    with app.app_context(), get_uow() as uow:
        return [s.id for s in uow.sites.find(layer_id="sanitation_zones")]


def _report(app, site_id, days_ago, **kwargs):
    with app.app_context(), get_uow(write=True) as uow:
        kwargs.setdefault("checklist", ALL_PASS)
        observed_at = datetime.now(UTC) - timedelta(days=days_ago)
        report_id = add_report(uow, site_id, "worker", observed_at=observed_at,
                               media_url=app.config["ONEMAP"].media_url, **kwargs)
        uow.commit()
    return report_id


def test_site_page_shows_history_newest_first_with_photos_and_flags(app, client, auth, zones):
    _report(app, zones[0], 20, note="第一次巡查", metrics={"person_times": 12, "garbage_tonnes": 1.5})
    _report(app, zones[0], 2, note="沟渠堵塞", checklist=ALL_PASS | {"ditches_cleared": "fail"},
            photos=2, flags=["off_site"], status="approved")
    auth.login_as("planner")
    page = client.get(f"/sites/{zones[0]}").get_data(as_text=True)
    assert page.index("沟渠堵塞") < page.index("第一次巡查")  # newest first
    assert "清沟渠: 不合格" in page and "出动人工: <b>12</b> 人次" in page
    assert page.count("/thumbnail") == 2 and "不在现场" in page and "已通过" in page
    assert "需整改" in page  # current status: the latest report failed an item
    timeline = page.split('class="timeline"')[1].split("</ol>")[0]
    assert timeline.index("尚未巡查") < timeline.index("达标") < timeline.index("逾期未巡查") \
        < timeline.index("需整改")  # 20 days ago ok, overdue after 7 days, then the failed report
    english = client.get(f"/sites/{zones[0]}?lang=en").get_data(as_text=True)
    assert "Ditches cleared: fail" in english and "Inspection history (2)" in english


def test_each_report_on_the_site_page_names_the_version_it_was_filed_against(app, client, auth, zone):
    from tests.webapp.test_reports_api import post

    worker = token_for(app, "worker")
    assert post(client, zone.id, report(zone, note="改名前"), token=worker).status_code == 201
    renamed = client.patch(f"/api/v1/sites/{zone.id}", headers=bearer(app, "manager"),
                           json={"base_version": zone.version, "name": "改名村"})
    assert renamed.status_code == 200
    assert post(client, zone.id, report(zone, note="改名后"), token=worker).status_code == 201
    auth.login_as("planner")
    page = client.get(f"/sites/{zone.id}").get_data(as_text=True)
    after, before = page.split('class="report"')[1:3]  # newest first
    assert "改名后" in after and f"填报时为第{zone.version + 1}版" in after
    assert "改名前" in before and f"填报时为第{zone.version}版" in before
    english = client.get(f"/sites/{zone.id}?lang=en").get_data(as_text=True)
    assert f"filed against version {zone.version}" in english


@pytest.mark.backends("sqlite")  # escaping
@pytest.mark.parametrize("hostile", HOSTILE)
def test_user_text_is_escaped_on_the_site_page(app, client, auth, zones, hostile):
    _report(app, zones[0], 1, note=hostile, checklist=ALL_PASS | {"comments": {"swept_clean": hostile}})
    auth.login_as("planner")
    page = client.get(f"/sites/{zones[0]}").get_data(as_text=True)
    assert hostile not in page
    assert hostile.replace("<", "&lt;").replace(">", "&gt;") in page


@pytest.mark.backends("sqlite")  # escaping
@pytest.mark.parametrize("hostile", HOSTILE)
def test_popup_data_is_json_text_not_markup(app, client, auth, zones, hostile):
    """The popup reads these values and sets them with textContent (see the browser test): the worker's
    note arrives as the very text typed, in an answer no browser renders as a page."""
    _report(app, zones[0], 1, note=hostile)
    auth.login_as("planner")
    answer = client.get(f"/api/v1/sites/{zones[0]}")
    assert answer.status_code == 200 and answer.mimetype in ("application/json", "application/geo+json")
    assert answer.headers["X-Content-Type-Options"] == "nosniff"  # never sniffed into HTML
    latest = answer.get_json()["properties"]["latest_report"]
    assert latest["note"] == hostile  # data stays data; escaping is the renderer's job


def test_dashboard_counts_overdue_metrics_and_targets(app, client, auth, zones, layers):
    _report(app, zones[0], 30, metrics={"person_times": 20, "garbage_tonnes": 2.5})
    _report(app, zones[1], 1, metrics={"person_times": 5, "garbage_tonnes": 0.5})
    _report(app, zones[2], 1, status="rejected", metrics={"person_times": 1000})  # does not count
    auth.login_as("planner")
    page = client.get("/dashboard").get_data(as_text=True)
    zones_section = page.split('data-layer="sanitation_zones"')[1].split("</section>")[0]
    # ok, needs attention, overdue, never inspected (the rejected report's zone too)
    heishan = shipped_count("sanitation_zones", county="210726")
    assert f"<th>黑山县</th><td>1</td><td>0</td><td>1</td><td>{heishan - 2}</td>" in zones_section
    assert "本系统填报合计" in zones_section and "25 人次" in zones_section and "3 t" in zones_section
    assert "50,936 人次" in zones_section  # the county's published figure beside ours
    key_villages = next(t.value for t in layers["sanitation_zones"].targets if t.id == "key_villages")
    shipped = shipped_count("sanitation_zones", key_village=True)
    assert f"<b>{shipped}</b> / {key_villages:g}" in zones_section  # key villages target
    overdue = page.split('class="dash-overdue"')[1]
    assert "逾期未巡查的站点 (1)" in overdue and f"/sites/{zones[0]}" in overdue
    mines = page.split('data-layer="mines"')[1].split("</section>")[0]
    green = next(t.value for t in layers["mines"].targets if t.id == "green_mines_2022")
    passed = shipped_count("mines", status="provincial_passed")
    assert f"<b>{passed}</b> / {green:g}" in mines  # provincial green mines, the 2022 target
    roads = page.split('data-layer="road_works"')[1].split("</section>")[0]
    assert "士英北街新建道路工程</a>: 90%" in roads
    assert "<svg" in page and "://" not in page.split("</head>")[0]  # charts made by the app


@pytest.mark.backends("sqlite")  # not storage
def test_dashboard_is_not_for_workers(client, auth):
    auth.login_as("worker")
    assert client.get("/dashboard").status_code == 403
    assert "统计看板" not in client.get("/").get_data(as_text=True)


@pytest.mark.backends("sqlite")  # not storage
def test_map_page_embeds_no_features(client, auth):
    auth.login_as("planner")
    page = client.get("/").get_data(as_text=True)
    assert "重点村001" not in page and "FeatureCollection" not in page
    assert len(page.encode()) < 30_000
