"""The grid worker on a phone (360 px, GPS granted, service workers on): file a report online,
then another with no network, and see both arrive exactly once when the network is back."""

from datetime import UTC, datetime, timedelta

import pytest

from geo import accounts
from geo.access import system_user
from tests.e2e.pages import (
    PHONE,
    camera_jpeg,
    fill_report_form,
    inside,
    log_in_on,
    phone,
    send_a_metric_the_server_refuses,
)
from tests.factories import ALL_PASS, add_report
from webapp.context import get_uow


@pytest.fixture
def my_sites(app):
    """Two villages assigned to the worker; the first is overdue, so it is listed first."""
    with app.app_context(), get_uow(write=True) as uow:
        zones = [s for s in uow.sites.find(layer_id="sanitation_zones")][:2]
        accounts.assign_sites("worker", [z.id for z in zones], uow=uow, user=system_user("test"),
                              now=datetime.now(UTC))
    with app.app_context(), get_uow(write=True) as uow:
        add_report(uow, zones[0].id, "worker", checklist=ALL_PASS,
                   observed_at=datetime.now(UTC) - timedelta(days=20))
        uow.commit()
    return zones


def test_worker_files_online_then_offline_and_each_report_arrives_once(live_server, browser, app, my_sites,
                                                                       tmp_path):
    overdue, other = my_sites
    lat, lon = inside(overdue)
    context, page, blocked = phone(browser, at=(lat, lon))
    foreign = []
    page.on("request", lambda r: foreign.append(r.url)
            if r.url.startswith("http") and not r.url.startswith(live_server) else None)  # blob: is local
    taken = datetime.now(UTC).astimezone() - timedelta(minutes=5)
    try:
        log_in_on(page, live_server, "worker", next_path="/my")

        # my sites: the overdue one first, sorted with the phone's position, kept for offline use
        page.wait_for_selector("#my-sites[data-sorted=distance]")
        page.wait_for_selector("#worker-my[data-offline-ready=true]")
        sites = page.locator("#my-sites li.my-site")
        assert sites.count() == 2
        assert sites.nth(0).get_attribute("data-site") == str(overdue.id)
        assert "逾期13天" in sites.nth(0).inner_text()
        assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]  # no sideways scroll

        # 1. online: the form, a photo with EXIF, the GPS fix → a receipt
        sites.nth(0).locator("a").click()
        page.wait_for_selector(f"#worker-report[data-site='{overdue.id}']")
        assert overdue.name in page.locator("h1").inner_text()
        page.wait_for_selector("#worker-report[data-gps=fix]")
        assert "精度 ±" in page.locator("#gps-status").inner_text()
        fill_report_form(page, camera_jpeg(tmp_path / "online.jpg", lat, lon, taken), "第一份：在线提交")
        page.click("#submit")
        page.wait_for_selector("#outcome[data-state=sent] #receipt:not([hidden])")
        assert "回执：编号" in page.locator("#receipt").inner_text()
        first_uuid = page.locator("#outcome").get_attribute("data-uuid")
        first_id = page.locator("#receipt").get_attribute("data-report-id")

        # 2. no network: the other form opens from the service worker's cache and is queued
        context.set_offline(True)
        other_lat, other_lon = inside(other)
        context.set_geolocation({"latitude": other_lat, "longitude": other_lon})  # walked to the next village
        response = page.goto(f"{live_server}/my/sites/{other.id}/report")
        assert response.from_service_worker
        assert page.evaluate("fetch('/healthz').then(() => 'online', () => 'offline')") == "offline"
        page.wait_for_selector(f"#worker-report[data-site='{other.id}']")
        photo = camera_jpeg(tmp_path / "offline.jpg", other_lat, other_lon, taken, endian=">")
        fill_report_form(page, photo, "第二份：离线填报")
        page.click("#submit")
        page.wait_for_selector("#outcome[data-state=queued]")
        assert "联网后自动发送" in page.locator("#outcome-text").inner_text()
        second_uuid = page.locator("#outcome").get_attribute("data-uuid")

        page.goto(live_server + "/my")  # the list, from the cache, shows what waits and what arrived
        waiting = page.locator(f"#queue-list li[data-uuid='{second_uuid}'][data-state=queued]")
        waiting.wait_for()
        assert other.name in waiting.inner_text()
        assert "1份报告等待发送" in page.locator("#queue-summary").inner_text()
        sent = page.locator(f"#queue-list li[data-uuid='{first_uuid}'][data-state=sent] .receipt")
        assert f"编号 {first_id}" in sent.inner_text()
        assert page.locator(f"li.my-site[data-site='{other.id}'] .site-queued").is_visible()

        # 3. the network is back: sent on its own, receipt shown
        context.set_offline(False)
        receipt = page.locator(f"#queue-list li[data-uuid='{second_uuid}'][data-state=sent] .receipt")
        receipt.wait_for(timeout=20_000)
        assert "回执：编号" in receipt.inner_text()
        page.wait_for_selector("#queue[data-waiting='0']")
        second_id = receipt.get_attribute("data-report-id")
        page.reload()  # a reload sends nothing twice
        page.locator(f"#queue-list li[data-uuid='{second_uuid}'][data-state=sent]").wait_for()
    finally:
        context.close()
    assert not blocked, blocked

    assert foreign == []  # nothing but the app itself
    with app.app_context(), get_uow() as uow:
        stored = uow.reports.find(site_ids=[overdue.id, other.id])
        mine = [r for r in stored if r["uuid"] in (first_uuid, second_uuid)]
        assert sorted(r["uuid"] for r in mine) == sorted([first_uuid, second_uuid])  # each exactly once
        by_uuid = {r["uuid"]: r for r in mine}
        assert by_uuid[first_uuid]["site_id"] == overdue.id and str(by_uuid[first_uuid]["id"]) == first_id
        assert by_uuid[second_uuid]["site_id"] == other.id and str(by_uuid[second_uuid]["id"]) == second_id
        positions = {first_uuid: (lat, lon), second_uuid: (other_lat, other_lon)}
        for report in mine:
            site_lat, site_lon = positions[report["uuid"]]
            assert len(report["photos"]) == 1
            photo = report["photos"][0]
            assert max(photo["width"], photo["height"]) == 1600  # downscaled on the phone
            row = uow.photos.get(photo["id"])
            assert row["exif_lat"] == pytest.approx(site_lat, abs=1e-5)  # read from EXIF on the phone
            assert row["exif_lon"] == pytest.approx(site_lon, abs=1e-5)
            assert abs(photo["taken_at"] - taken) < timedelta(seconds=2)
            assert report["checklist"]["ditches_cleared"] == "fail"
            assert report["checklist"]["comments"] == {"ditches_cleared": "沟渠有积水"}
            assert report["metrics"] == {"person_times": 12, "garbage_tonnes": 1.5}
            assert report["gps"]["lat"] == pytest.approx(site_lat, abs=1e-6)
            assert report["gps"]["accuracy"] is not None
            assert report["flags"] == []  # filed on site, photos taken there just before
        assert by_uuid[second_uuid]["note"] == "第二份：离线填报"


@pytest.mark.backends("sqlite")  # a message; nothing is stored
def test_a_refused_report_shows_the_servers_message_next_to_its_field(live_server, browser, app, my_sites,
                                                                       tmp_path):
    site = my_sites[1]
    lat, lon = inside(site)
    context, page, blocked = phone(browser, at=(lat, lon))
    taken = datetime.now(UTC).astimezone() - timedelta(minutes=5)
    try:
        log_in_on(page, live_server, "worker", next_path=f"/my/sites/{site.id}/report")
        fill_report_form(page, camera_jpeg(tmp_path / "a.jpg", lat, lon, taken), "超出范围")
        error = send_a_metric_the_server_refuses(page)
        assert "服务器未接收此报告" in error.inner_text() and "10000" in error.inner_text()
        assert page.locator("#outcome").get_attribute("data-state") == "failed"
        refused = page.locator("#outcome").get_attribute("data-uuid")

        # kept visible, with the server's message, until the worker removes it
        page.goto(live_server + "/my")
        failed = page.locator(f"#queue-list li[data-uuid='{refused}'][data-state=failed]")
        failed.wait_for()
        assert "10000" in failed.inner_text() and "metrics.person_times" in failed.inner_text()
        failed.locator("button.queue-dismiss").click()
        failed.wait_for(state="detached")

        page.goto(f"{live_server}/my/sites/{site.id}/report")
        fill_report_form(page, camera_jpeg(tmp_path / "b.jpg", lat, lon, taken), "改正后")
        page.click("#submit")
        page.wait_for_selector("#outcome[data-state=sent] #receipt:not([hidden])")
    finally:
        context.close()
    assert not blocked, blocked
    with app.app_context(), get_uow() as uow:
        stored = uow.reports.find(site_ids=[site.id])
    assert [r["note"] for r in stored] == ["改正后"]  # nothing half-written by the refused one
