"""Helpers of the browser tests that visit many pages: a seeded village, a logged-in context, a page
opened and drawn."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from geo import services
from tests.conftest import PASSWORD
from tests.e2e.conftest import watch_csp
from tests.factories import ALL_PASS, add_report
from webapp.context import get_uow

PHONE = {"width": 360, "height": 740}
# A page is ready when its script has drawn its map, if it has one.
READY = {"/": ".folium-map[data-ready=true]", "/sites/{site}": "#site-map[data-ready=true]",
         "/manage/assign": "#assign-map[data-ready=true]"}


def seed_site(app) -> int:
    """A village assigned to the worker, overdue, with an approved report that has a metric and a newer
    one (with a photo) awaiting review; managers see every site."""
    with app.app_context(), get_uow(write=True) as uow:
        zone = next(uow.sites.find(layer_id="sanitation_zones"))
        services.assign_sites("worker", [zone.id], uow=uow, actor="test", now=datetime.now(UTC))
    with app.app_context(), get_uow(write=True) as uow:
        add_report(uow, zone.id, "worker", checklist=ALL_PASS, metrics={"person_times": 12},
                   status="approved", observed_at=datetime.now(UTC) - timedelta(days=21))
        add_report(uow, zone.id, "worker", checklist=ALL_PASS, note="路面干净", photos=1,
                   observed_at=datetime.now(UTC) - timedelta(days=20),
                   media_url=app.config["ONEMAP"].media_url)
        uow.commit()
    return zone.id


def open_page(page, base: str, path: str, site_id: int) -> None:
    """Go to one of ROLE_PAGES and wait until it has drawn."""
    page.goto(base + path.format(site=site_id))
    # every request answered: nothing is still being sent when the test closes the browser
    page.wait_for_load_state("networkidle")
    ready = READY.get(path.partition("?")[0])
    if ready:
        page.wait_for_selector(ready, timeout=15_000)


def log_in(browser, base: str, role: str | None, viewport=PHONE, locale="zh-CN"):
    """A new browser context (and page) logged in as this role; None: nobody logged in."""
    context = browser.new_context(viewport=viewport, locale=locale)
    page = context.new_page()
    blocked = watch_csp(page)
    if role:
        page.goto(base + "/login")
        page.fill("input[name=username]", role)
        page.fill("input[name=password]", PASSWORD)
        page.click("button[type=submit]")
        page.wait_for_url(lambda url: "/login" not in url)
    return context, page, blocked
