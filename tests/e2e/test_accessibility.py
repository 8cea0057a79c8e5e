"""axe-core (bundled by axe-playwright-python, injected by the test: nothing from a CDN) on every kind of
page, in Chinese and for the map and login in English: no violation of serious or critical impact, and
none of the lesser ones this app once had (a viewport that forbids zooming, a map page without a heading,
an empty table header)."""

from __future__ import annotations

import pytest

from tests.conftest import require
from tests.e2e.pages import PHONE, log_in, open_page

DESKTOP = {"width": 1280, "height": 800}
# (role, page, language, screen); None: nobody logged in. The worker's pages are for phones.
PAGES = [
    (None, "/login", "zh_CN", DESKTOP),
    (None, "/login", "en", DESKTOP),
    ("planner", "/", "zh_CN", DESKTOP),
    ("planner", "/", "en", DESKTOP),
    ("manager", "/", "zh_CN", DESKTOP),  # with the planning panel
    ("planner", "/sites/{site}", "zh_CN", DESKTOP),
    ("planner", "/dashboard", "zh_CN", DESKTOP),
    ("worker", "/my", "zh_CN", PHONE),
    ("worker", "/my/sites/{site}/report", "zh_CN", PHONE),
    ("manager", "/manage/reports", "zh_CN", DESKTOP),
    ("manager", "/manage/import", "zh_CN", DESKTOP),
    ("manager", "/manage/assign", "zh_CN", DESKTOP),
    ("admin", "/admin/users", "zh_CN", DESKTOP),
]
BLOCKING = ("serious", "critical")
# Lesser rules the app once broke, or passes now: they must stay passed.
KEPT = ("meta-viewport", "meta-viewport-large", "page-has-heading-one", "empty-table-header",
        "landmark-one-main", "region", "heading-order", "landmark-unique", "html-has-lang", "html-lang-valid",
        "valid-lang")

pytestmark = pytest.mark.backends("sqlite")  # markup, not storage


@pytest.fixture(scope="module")
def axe():
    try:
        from axe_playwright_python.sync_playwright import Axe
    except ImportError:
        require(False, "axe-playwright-python is not installed (pip install -e '.[test]')")
    return Axe()


def _describe(violations: list[dict]) -> str:
    return "\n".join(f"{v['impact']} {v['id']}: {v['help']} — "
                     + "; ".join(" ".join(map(str, n["target"])) for n in v["nodes"][:6]) for v in violations)


@pytest.mark.parametrize(("role", "path", "lang", "screen"), PAGES,
                         ids=[f"{r or 'anonymous'}-{p}-{lang}" for r, p, lang, _ in PAGES])
def test_no_serious_accessibility_violations(live_server, browser, site, axe, role, path, lang, screen):
    context, page, blocked = log_in(browser, live_server, role, viewport=screen,
                                    locale="en" if lang == "en" else "zh-CN")
    open_page(page, live_server, path + f"?lang={lang}", site)
    assert page.evaluate("document.documentElement.lang") == ("en" if lang == "en" else "zh-CN")
    violations = axe.run(page).response["violations"]
    context.close()
    assert not blocked, blocked
    bad = [v for v in violations if v["impact"] in BLOCKING or v["id"] in KEPT]
    assert not bad, _describe(bad)


@pytest.mark.parametrize("lang", ["zh_CN", "en"])
def test_the_opened_phone_menu_is_accessible(live_server, browser, site, axe, lang):
    context, page, blocked = log_in(browser, live_server, "manager", viewport=PHONE)
    open_page(page, live_server, f"/?lang={lang}", site)
    toggle = page.get_by_role("button", name="菜单" if lang == "zh_CN" else "Menu")
    assert toggle.get_attribute("aria-expanded") == "false"
    toggle.click()
    page.wait_for_selector(".menu-toggle[aria-expanded=true]")
    assert page.get_by_role("navigation").get_by_role("link").first.is_visible()
    violations = axe.run(page).response["violations"]
    context.close()
    assert not blocked, blocked
    bad = [v for v in violations if v["impact"] in BLOCKING or v["id"] in KEPT]
    assert not bad, _describe(bad)


def test_the_map_page_can_be_zoomed_and_has_a_heading(live_server, browser, site):
    context, page, blocked = log_in(browser, live_server, "planner", viewport=PHONE)
    open_page(page, live_server, "/", site)
    viewports = page.locator("meta[name=viewport]")
    assert viewports.count() == 1
    content = viewports.get_attribute("content").replace(" ", "")
    assert "user-scalable=no" not in content and "maximum-scale" not in content, content
    assert page.locator("h1").count() == 1 and page.locator("h1").inner_text().strip()
    context.close()
    assert not blocked, blocked


def test_no_empty_table_header_on_the_dashboard(live_server, browser, site):
    context, page, blocked = log_in(browser, live_server, "planner", viewport=DESKTOP)
    open_page(page, live_server, "/dashboard", site)
    headers = page.locator("th")
    assert headers.count() > 0
    empty = [i for i in range(headers.count()) if not headers.nth(i).text_content().strip()]
    assert not empty, [headers.nth(i).evaluate("(e) => e.outerHTML") for i in empty]
    context.close()
    assert not blocked, blocked
