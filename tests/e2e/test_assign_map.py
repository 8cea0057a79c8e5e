"""Managers pick the sites to assign on a map, in a real headless Chromium."""

import pytest
import sqlalchemy as sa

from tests.e2e.pages import log_in_on
from webapp.context import get_uow

# Picking on a map; assignments run on both in tests/webapp/test_manager_pages.py.
pytestmark = pytest.mark.backends("sqlite")

HOSTILE_NAME = '<img src=x onerror="window.__xss = 1">村'


@pytest.fixture
def heishan_zones(app):
    """Heishan's village zones; the first renamed to hostile markup (as a careless import could)."""
    with app.app_context(), get_uow(write=True) as uow:
        zones = [s for s in uow.sites.find(layer_id="sanitation_zones", county="210726")]
        uow.connection.execute(sa.text("UPDATE sites SET name = :name WHERE id = :id"),
                               {"name": HOSTILE_NAME, "id": zones[0].id})
        uow.commit()
    return [s.id for s in zones]


def _assigned(app):
    with app.app_context(), get_uow() as uow:
        return uow.assignments.site_ids(uow.users.by_name("worker")[0].id)


def test_manager_picks_sites_on_the_map_and_assigns_them(live_server, page, app, heishan_zones):
    log_in_on(page, live_server, "manager")
    page.goto(live_server + "/manage/assign?worker=worker&layer=sanitation_zones&county=210726")
    page.wait_for_selector("#assign-map[data-ready=true]")
    shapes = page.locator("#assign-map path.leaflet-interactive")
    assert shapes.count() == len(heishan_zones)  # every listed site is on the map

    # a click on a shape ticks its row; a second click unticks it
    picked = []
    for index in (0, 1):
        shape = shapes.nth(index)
        shape.dispatch_event("click")
        picked.append(page.locator('.assign-table input[name="site"]:checked').evaluate_all(
            "boxes => boxes.map(b => +b.value)"))
    assert len(picked[0]) == 1 and len(picked[1]) == 2
    assert page.locator("#assign-map").get_attribute("data-picked") == "2"
    shapes.nth(1).dispatch_event("click")
    assert page.locator("#assign-map").get_attribute("data-picked") == "1"
    shapes.nth(2).dispatch_event("click")

    # the hostile name shows as text in the tooltip and never runs
    shapes.nth(0).hover(force=True)
    page.wait_for_selector(".leaflet-tooltip")
    assert page.locator(".leaflet-tooltip", has_text="onerror").inner_text() == HOSTILE_NAME
    assert page.evaluate("window.__xss") is None

    chosen = set(page.locator('.assign-table input[name="site"]:checked').evaluate_all(
        "boxes => boxes.map(b => +b.value)"))
    assert len(chosen) == 2 and chosen <= set(heishan_zones)
    page.click('button[name=action][value=assign]')
    page.wait_for_selector("#assign-map[data-ready=true]")
    assert _assigned(app) == chosen
    # back on the page, the worker's sites are drawn as theirs
    mine = page.evaluate("""() => { const out = [];
        document.querySelectorAll('tr.is-mine').forEach(r => out.push(+r.dataset.site)); return out; }""")
    assert set(mine) == chosen
