"""Times as people read them: ONEMAP_TIMEZONE (Asia/Shanghai by default) in the format of the language,
day boundaries in that zone, and whole days overdue in the right plural."""

import re
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from geo import accounts
from geo.access import system_user
from tests.factories import ALL_PASS, add_report
from webapp.context import get_uow

CST = ZoneInfo("Asia/Shanghai")
ZONES = "sanitation_zones"  # weekly cadence


@pytest.fixture
def zones(app):
    with app.app_context(), get_uow() as uow:
        return [s.id for s in uow.sites.find(layer_id=ZONES)]


def _report(app, site_id, observed_at, **kwargs):
    with app.app_context(), get_uow(write=True) as uow:
        report_id = add_report(uow, site_id, "worker", checklist=kwargs.pop("checklist", ALL_PASS),
                               observed_at=observed_at, **kwargs)
        uow.commit()
    return report_id


def _local(days_ago: int, hour: int, minute: int = 0, zone=CST) -> datetime:
    """``days_ago`` calendar days before today in ``zone``, at hour:minute there, as a UTC moment."""
    today = datetime.now(zone).date()
    return datetime.combine(today - timedelta(days=days_ago), time(hour, minute), zone).astimezone(UTC)


# ---------------------------------------------------------------- times on pages
def test_site_page_shows_a_reports_time_in_china_time(app, client, auth, zones):
    _report(app, zones[0], datetime(2026, 12, 7, 13, 30, tzinfo=UTC), note="晚间巡查",
            received_at=datetime(2026, 12, 7, 13, 31, tzinfo=UTC))
    auth.login_as("planner")
    page = client.get(f"/sites/{zones[0]}").get_data(as_text=True)
    assert "2026年12月7日 21:30" in page and "2026-12-07 13:30" not in page  # not the UTC clock
    english = client.get(f"/sites/{zones[0]}?lang=en").get_data(as_text=True)
    assert "Dec 7, 2026, 9:30\u202fPM" in english  # CLDR puts a narrow no-break space before PM
    assert "Last inspection: Dec 7, 2026" in english


def test_review_queue_shows_times_in_china_time(app, client, auth, zones):
    _report(app, zones[0], datetime(2026, 12, 7, 15, 45, tzinfo=UTC),
            received_at=datetime(2026, 12, 7, 16, 5, tzinfo=UTC))
    auth.login_as("manager")
    page = client.get("/manage/reports").get_data(as_text=True)
    assert "2026年12月7日 23:45" in page and "2026年12月8日 00:05" in page  # received after midnight there


@pytest.mark.backends("sqlite")  # a setting
@pytest.mark.parametrize("app_env", [{"ONEMAP_TIMEZONE": "Europe/London"}])
def test_pages_follow_the_setting(app, client, auth, zones):
    _report(app, zones[0], datetime(2026, 12, 7, 13, 30, tzinfo=UTC))
    auth.login_as("planner")
    assert "2026年12月7日 13:30" in client.get(f"/sites/{zones[0]}").get_data(as_text=True)  # GMT in winter


@pytest.mark.backends("sqlite")  # a setting
def test_map_page_scripts_get_the_time_zone_and_a_local_today(client, auth):
    auth.login_as("planner")
    page = client.get("/").get_data(as_text=True)
    assert '"timeZone": "Asia/Shanghai"' in page or '"timeZone":"Asia/Shanghai"' in page
    assert f'max="{datetime.now(CST).date().isoformat()}"' in page


# ---------------------------------------------------------------- day boundaries
def _late_early_and_two_days(app, zones):
    """Three sites: inspected 8 days ago at 23:30 Beijing time (1 day overdue), 7 days ago at 00:30
    (due today: in time, though that is still the 8th day back in UTC) and 9 days ago (2 days overdue)."""
    late, early, two = zones[:3]
    _report(app, late, _local(8, 23, 30))
    _report(app, early, _local(7, 0, 30))
    _report(app, two, _local(9, 12, 0))
    return late, early, two


def test_dashboard_counts_overdue_days_in_china_time(app, client, auth, zones):
    late, early, two = _late_early_and_two_days(app, zones)
    auth.login_as("planner")
    overdue = client.get("/dashboard").get_data(as_text=True).split('class="dash-overdue"')[1]
    listed = set(map(int, re.findall(r'href="/sites/(\d+)"', overdue)))
    assert late in listed and two in listed and early not in listed
    assert "<td>1天</td>" in overdue and "<td>2天</td>" in overdue
    english = client.get("/dashboard?lang=en").get_data(as_text=True).split('class="dash-overdue"')[1]
    assert "<td>1 day</td>" in english and "<td>2 days</td>" in english and "1 days" not in english


def test_map_status_counts_days_in_china_time(app, client, auth, zones):
    late, early, two = _late_early_and_two_days(app, zones)
    auth.login_as("planner")
    features = client.get(f"/api/v1/layers/{ZONES}/features").get_json()["features"]
    status = {f["id"]: f["properties"]["status"] for f in features}
    assert (status[late], status[early], status[two]) == ("overdue", "ok", "overdue")


def test_worker_sees_whole_days_overdue_in_the_right_plural(app, client, auth, zones):
    late, early, two = _late_early_and_two_days(app, zones)
    with app.app_context(), get_uow(write=True) as uow:
        accounts.assign_sites("worker", [late, early, two], uow=uow, user=system_user("test"),
                              now=datetime.now(UTC))
    auth.login_as("worker")
    page = client.get("/my").get_data(as_text=True)
    rows = re.findall(r'data-site="(\d+)" data-rank="\d+" data-days="(\d+)"', page)
    days = {int(site): int(n) for site, n in rows}
    assert days == {two: 2, late: 1, early: 0}
    assert "逾期1天" in page and "逾期2天" in page
    english = client.get("/my?lang=en").get_data(as_text=True)
    assert "1 day overdue" in english and "2 days overdue" in english and "1 days" not in english


@pytest.mark.parametrize("app_env, on_the_1st, on_the_2nd", [
    ({}, False, True),  # the default, Asia/Shanghai: 06:30 on the 2nd
    ({"ONEMAP_TIMEZONE": "Europe/London"}, True, False),  # 23:30 BST on the 1st
])
def test_since_until_dates_are_days_in_the_configured_zone(app, client, auth, zones, on_the_1st, on_the_2nd):
    _report(app, zones[0], datetime(2026, 6, 1, 22, 30, tzinfo=UTC))
    auth.login_as("manager")

    def exported(day: str) -> bool:
        response = client.get(f"/api/v1/export/{ZONES}.geojson", query_string={"since": day, "until": day})
        assert response.status_code == 200, response.get_data(as_text=True)
        return zones[0] in {f["id"] for f in response.get_json()["features"]}

    assert (exported("2026-06-01"), exported("2026-06-02")) == (on_the_1st, on_the_2nd)
