"""A manager uploads a file with broken features in a real headless Chromium: the preview lists each
rejected feature's reason in the page's language, Chinese first, then English."""

import pytest

from tests.e2e.pages import log_in_on
from tests.factories import broken_file

pytestmark = pytest.mark.backends("sqlite")  # messages, not storage


def _preview(page, live_server, query=""):
    page.goto(live_server + "/manage/import" + query)
    page.select_option("select[name=layer]", "sanitation_zones")
    page.set_input_files("input[name=file]", files=[
        {"name": "村庄.geojson", "mimeType": "application/geo+json", "buffer": broken_file()}])
    page.click(".import-form button[type=submit]")
    page.wait_for_selector(".import-rejected")
    return {int(row.get_attribute("data-feature")): row.locator("td").nth(1).inner_text()
            for row in page.locator(".import-rejected tbody tr").all()}


def test_rejected_features_are_listed_in_the_language_of_the_page(live_server, page):
    log_in_on(page, live_server, "manager")

    chinese = _preview(page, live_server)
    assert page.locator("html").get_attribute("lang") == "zh-CN"
    assert chinese == {0: "ref 'Z1' 在文件中重复出现（要素 0, 2）", 1: "name：必填（需有属性 `name`）",
                       2: "ref 'Z1' 在文件中重复出现（要素 0, 2）", 3: "没有图形"}
    assert page.locator("[data-count=rejected]").inner_text() == "4"

    english = _preview(page, live_server, "?lang=en")
    assert page.locator("html").get_attribute("lang") == "en"
    assert english == {0: "ref 'Z1' appears more than once in the file (features 0, 2)",
                       1: "name: required (a property `name`)",
                       2: "ref 'Z1' appears more than once in the file (features 0, 2)", 3: "no geometry"}
