"""Every page on a 360 px phone, for every role: no sideways scrolling, a top bar of one line, and every
link of the collapsed menu (log out and the language switch too) reachable once the menu is opened."""

from __future__ import annotations

import pytest

from tests.e2e.pages import log_in, open_page

TOPBAR_MAX_PX = 60
# What each role's menu leads to, beyond the map; "{site}" is a village assigned to the worker.
ROLE_PAGES = {
    "planner": ["/", "/sites/{site}", "/dashboard"],
    "worker": ["/", "/sites/{site}", "/my", "/my/sites/{site}/report"],
    "manager": ["/", "/sites/{site}", "/dashboard", "/my", "/my/sites/{site}/report", "/manage/reports",
                "/manage/assign", "/manage/import"],
    "admin": ["/", "/sites/{site}", "/dashboard", "/manage/reports", "/manage/assign", "/manage/import",
              "/admin/users"],
}
pytestmark = pytest.mark.backends("sqlite")  # layout, not storage


def _too_wide(page) -> list[str]:
    """The page's width beyond the screen, and the elements that stick out on the right."""
    return page.evaluate("""() => {
      const width = document.scrollingElement.scrollWidth;
      if (width <= innerWidth) return [];
      const out = [...document.querySelectorAll("body *")].filter((e) => {
        const r = e.getBoundingClientRect();
        return r.width && r.right > innerWidth + 1 && getComputedStyle(e).position !== "fixed";
      }).slice(0, 5).map((e) => e.tagName.toLowerCase() + (e.id ? "#" + e.id : "") +
                                (e.className && e.className.baseVal === undefined ? "." + e.className : ""));
      return ["page " + width + " px wide: " + out.join(", ")];
    }""")


def _unreachable(page) -> list[str]:
    """The menu's links and buttons a finger cannot hit after opening the menu."""
    toggle = page.locator(".menu-toggle")
    if not toggle.is_visible():
        return ["no visible menu button"]
    problems = []
    if toggle.get_attribute("aria-expanded") != "false":
        problems.append("collapsed menu button: aria-expanded is not false")
    toggle.click()
    page.wait_for_selector(".menu-toggle[aria-expanded=true]")
    items = page.locator("#site-menu a, #site-menu button")
    for i in range(items.count()):
        item = items.nth(i)
        name = item.inner_text().strip() or item.get_attribute("href") or "?"
        hit = item.evaluate("""(e) => {
          const r = e.getBoundingClientRect();
          const inside = r.left >= 0 && r.right <= innerWidth && r.top >= 0 && r.bottom <= innerHeight;
          if (!r.width || !r.height || !inside) return false;
          const top = document.elementFromPoint(r.left + r.width / 2, r.top + r.height / 2);
          return top === e || e.contains(top);
        }""")
        if not hit:
            problems.append(f"menu item {name!r} is not on screen or is covered")
    toggle.click()
    page.wait_for_selector(".menu-toggle[aria-expanded=false]")
    if items.first.is_visible():
        problems.append("the menu does not close")
    return problems


@pytest.mark.parametrize("lang", ["zh_CN", "en"])  # English words are the longer ones
@pytest.mark.parametrize("role", [None, *ROLE_PAGES])
def test_every_page_fits_a_phone_and_its_menu_is_reachable(live_server, browser, site, role, lang):
    context, page, blocked = log_in(browser, live_server, role)
    problems: list[str] = []
    for n, path in enumerate(ROLE_PAGES.get(role, ["/login"])):
        open_page(page, live_server, path + ("" if n else f"?lang={lang}"), site)  # the session keeps it
        assert page.evaluate("document.documentElement.lang") == lang.replace("_", "-")
        found = _too_wide(page)
        height = page.locator(".topbar").bounding_box()["height"]
        if height > TOPBAR_MAX_PX:
            found.append(f"top bar {height:.0f} px tall")
        found += _unreachable(page)
        problems += [f"{path}: {p}" for p in found]
    context.close()
    assert not problems, "\n".join(problems)
    assert not blocked, blocked


def test_menu_links_work_on_a_phone(live_server, browser, site):
    """Opened on a phone, the menu's links lead where they say: the dashboard, English, and log out."""
    context, page, blocked = log_in(browser, live_server, "manager")
    open_page(page, live_server, "/manage/reports", site)
    page.click(".menu-toggle")
    page.click("#site-menu a[href='/dashboard']")
    page.wait_for_url("**/dashboard")
    assert page.locator(".menu-toggle").get_attribute("aria-expanded") == "false"  # a new page: closed
    page.click(".menu-toggle")
    page.click("#site-menu .lang-switch")
    page.wait_for_function("() => document.documentElement.lang === 'en'")
    assert page.locator(".menu-toggle").inner_text().strip() == "Menu"
    page.locator(".menu-toggle").focus()  # the keyboard opens and closes it as well
    page.keyboard.press("Enter")
    page.wait_for_selector(".menu-toggle[aria-expanded=true]")
    page.keyboard.press("Escape")
    page.wait_for_selector(".menu-toggle[aria-expanded=false]")
    page.click(".menu-toggle")
    page.click("#site-menu button[type=submit]")
    page.wait_for_url("**/login**")
    context.close()
    assert not blocked, blocked


@pytest.mark.parametrize("width", [1025, 1280])
def test_wider_screens_show_the_whole_menu_on_one_line(live_server, browser, site, width):
    """Above the fold-away width the admin's links (the most of any role), in English, fit one line."""
    context, page, blocked = log_in(browser, live_server, "admin", viewport={"width": width, "height": 800})
    open_page(page, live_server, "/dashboard?lang=en", site)
    assert not page.locator(".menu-toggle").is_visible()
    items = page.locator("#site-menu a, #site-menu button")
    assert all(items.nth(i).is_visible() for i in range(items.count()))
    assert page.locator(".topbar").bounding_box()["height"] <= TOPBAR_MAX_PX
    assert page.evaluate("document.scrollingElement.scrollWidth") <= width
    context.close()
    assert not blocked, blocked
