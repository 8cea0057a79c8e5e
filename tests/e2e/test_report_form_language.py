"""A grid worker's report refused by the server for a metric out of bounds: the phone shows the server's
reason beside the field, in Chinese for a Chinese worker and in English for an English one."""

from datetime import UTC, datetime, timedelta

import pytest

from geo import services
from tests.conftest import PASSWORD
from tests.e2e.conftest import watch_csp
from tests.e2e.test_worker_offline import PHONE, _camera_jpeg, _fill_form, _inside
from webapp.context import get_uow


@pytest.fixture
def app_env():
    return {"ONEMAP_BASEMAP": "none"}


@pytest.fixture
def my_site(app):
    with app.app_context(), get_uow(write=True) as uow:
        site = next(uow.sites.find(layer_id="sanitation_zones"))
        services.assign_sites("worker", [site.id], uow=uow, actor="test", now=datetime.now(UTC))
    return site


@pytest.mark.parametrize(
    "lang, locale, says, not_says",
    [
        ("zh_CN", "zh-CN",
         ["服务器未接收此报告",
          "metrics.person_times（出动人工）：20000 超出 0…10000 人次 的范围"],
         "is outside"),
        ("en", "en-GB", ["metrics.person_times (Labour): 20000 is outside 0…10000 人次"], "超出"),
    ],
    ids=["zh_CN", "en"],
)
def test_the_servers_refusal_of_a_metric_is_shown_in_the_workers_language(live_server, browser, my_site,
                                                                          tmp_path, lang, locale, says,
                                                                          not_says):
    lat, lon = _inside(my_site)
    context = browser.new_context(viewport=PHONE, locale=locale,
                                  geolocation={"latitude": lat, "longitude": lon},
                                  permissions=["geolocation"], service_workers="allow")
    page = context.new_page()
    blocked = watch_csp(page)
    taken = datetime.now(UTC).astimezone() - timedelta(minutes=5)
    try:
        # the language chosen on the login page stays with the session
        page.goto(f"{live_server}/login?lang={lang}&next=/my/sites/{my_site.id}/report")
        page.fill("input[name=username]", "worker")
        page.fill("input[name=password]", PASSWORD)
        page.click("button[type=submit]")
        page.wait_for_selector(f"#worker-report[data-site='{my_site.id}']")
        assert page.locator("html").get_attribute("lang") == lang.replace("_", "-")
        _fill_form(page, _camera_jpeg(tmp_path / "a.jpg", lat, lon, taken), "超出范围")
        # past the form's own bounds check, so that the server is the one to refuse
        page.evaluate("""() => { const input = document.getElementById('metric-person_times');
                                input.max = input.dataset.max = '1e9'; }""")
        page.fill("#metric-person_times", "20000")
        page.click("#submit")
        error = page.locator(".metric[data-metric=person_times] .field-error:not([hidden])")
        error.wait_for()
        page.wait_for_selector("#outcome[data-state=failed]", state="attached")
        shown = error.inner_text()
        assert all(text in shown for text in says), shown
        assert not_says not in shown
    finally:
        context.close()
    assert not blocked, blocked
