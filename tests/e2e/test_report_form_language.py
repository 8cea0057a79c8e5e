"""A grid worker's report refused by the server for a metric out of bounds: the phone shows the server's
reason beside the field, in Chinese for a Chinese worker and in English for an English one."""

from datetime import UTC, datetime, timedelta

import pytest

from tests.e2e.pages import (
    camera_jpeg,
    fill_report_form,
    inside,
    log_in_on,
    phone,
    send_a_metric_the_server_refuses,
)

pytestmark = pytest.mark.backends("sqlite")  # messages, not storage


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
def test_the_servers_refusal_of_a_metric_is_shown_in_the_workers_language(live_server, browser, zone,
                                                                          tmp_path, lang, locale, says,
                                                                          not_says):
    lat, lon = inside(zone)
    context, page, blocked = phone(browser, at=(lat, lon), locale=locale)
    taken = datetime.now(UTC).astimezone() - timedelta(minutes=5)
    try:
        # the language chosen on the login page stays with the session
        log_in_on(page, live_server, "worker", lang=lang, next_path=f"/my/sites/{zone.id}/report")
        page.wait_for_selector(f"#worker-report[data-site='{zone.id}']")
        assert page.locator("html").get_attribute("lang") == lang.replace("_", "-")
        fill_report_form(page, camera_jpeg(tmp_path / "a.jpg", lat, lon, taken), "超出范围")
        error = send_a_metric_the_server_refuses(page)
        page.wait_for_selector("#outcome[data-state=failed]", state="attached")
        shown = error.inner_text()
        assert all(text in shown for text in says), shown
        assert not_says not in shown
    finally:
        context.close()
    assert not blocked, blocked
