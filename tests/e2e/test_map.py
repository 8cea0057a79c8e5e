"""The planner map in a real headless Chromium, with the basemap off (no internet needed)."""

from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from tests.e2e.pages import log_in_to_map, map_drawn, map_reloaded
from tests.factories import ALL_PASS, add_report, shipped
from webapp.context import get_uow

# The map in a browser; its queries run on both in tests/webapp/test_map_api.py.
pytestmark = pytest.mark.backends("sqlite")

HOSTILE_NOTE = '<img src=x onerror="window.__xss = 1">'
# Every site the map was sent, and where it is: areas and lines drawn as shapes, points as dots or
# counted in the number of the cluster holding them (what a planner reads off the map).
ON_THE_MAP = """() => {
  const map = OneMap.map, sent = Object.keys(OneMap.layerDefs).flatMap((id) => OneMap.shown(id));
  const points = sent.filter((f) => f.geometry.type === "Point");
  const clustered = [...document.querySelectorAll(".leaflet-marker-pane .marker-cluster")]
    .reduce((n, cluster) => n + Number(cluster.textContent), 0);
  return { shapes: sent.length - points.length, points: points.length,
           shapes_drawn: sent.filter((f) => f.geometry.type !== "Point" && map.hasLayer(f.leaflet)).length,
           points_shown: points.filter((f) => map.hasLayer(f.leaflet)).length + clustered }; }"""


@pytest.fixture
def seeded(app):
    """One overdue village with a report and photo whose note is hostile markup."""
    with app.app_context(), get_uow(write=True) as uow:
        zone = next(uow.sites.find(layer_id="sanitation_zones"))
        add_report(uow, zone.id, "worker", checklist=ALL_PASS, note=HOSTILE_NOTE, photos=1,
                   observed_at=datetime.now(UTC) - timedelta(days=20),
                   media_url=app.config["ONEMAP"].media_url)
        uow.commit()
    return zone


def test_planner_finds_heishan_overdue_villages_and_opens_one(live_server, page, seeded):
    requests = []
    page.on("request", lambda r: requests.append(r.url))
    page.goto(live_server + "/")
    assert "/login" in page.url
    log_in_to_map(page, live_server)
    # the four layers draw, each counted in the legend
    for layer in ("mines", "sanitation_zones", "road_works", "port_multimodal"):
        count = page.locator(f'[data-count="{layer}"]').inner_text()
        assert count not in ("", "(0)"), layer
    assert page.locator(".leaflet-overlay-pane path, .leaflet-overlay-pane canvas").count() > 0
    # every site sent is on the map: each mine and port a dot of its own or counted in a cluster
    shown = page.evaluate(ON_THE_MAP)
    assert shown["points"] > 0 and shown["points_shown"] == shown["points"], shown
    assert shown["shapes"] > 0 and shown["shapes_drawn"] == shown["shapes"], shown

    # two clicks: the county (the map asks 150 ms after it), then the status "overdue" in the village legend
    map_reloaded(page, lambda: page.select_option("select[name=county]", "210726"), asking="county=210726")
    map_reloaded(page, lambda: page.check('.status-filter[data-layer="sanitation_zones"][value="overdue"]'),
                 asking="status=overdue")
    names = page.locator("#site-list li").all_inner_texts()
    villages = [n for n in names if "重点村" in n]
    assert len(villages) == 1 and seeded.name in villages[0]  # the one overdue village of Heishan
    assert all("黑山" in n or "重点村" in n for n in names)  # plus Heishan's mine: other layers unfiltered
    assert "county=210726" in page.url and "sanitation_zones%3Aoverdue" in page.url  # shareable view
    # its latest report awaits review: marked in the list and outlined in dashes on the map
    assert page.locator("#site-list li", has_text=seeded.name).locator(".unreviewed-badge").count() == 1
    dashed = page.evaluate("""() => {
        const names = [];
        window[document.getElementById("map-script").dataset.map].eachLayer((l) => {
          const site = l.feature && l.feature.properties.status;  // county outlines have none
          if (site && l.options.dashArray) names.push(l.feature.properties.name);
        });
        return names; }""")
    assert dashed == [seeded.name]

    # a click opens the popup, and moves the map there, which reloads it; hostile note shows as text
    map_reloaded(page, page.locator("#site-list li", has_text=seeded.name).locator("button.locate").click)
    popup = page.locator(".leaflet-popup-content .popup")
    popup.wait_for(timeout=5000)
    assert popup.locator("h3").inner_text() == seeded.name
    assert popup.locator(".popup-unreviewed").inner_text() == "最近一次巡查待审核"
    page.wait_for_selector(".popup-note", timeout=5000)
    # the reload that followed the move kept the same popup open: one popup, never a second one fading
    assert page.locator(".leaflet-popup").count() == 1
    detail = f"{live_server}/api/v1/sites/{seeded.id}"
    assert [u for u in requests if u == detail] == [detail]  # asked once, not again by the reload
    assert page.locator(".popup-note").inner_text() == HOSTILE_NOTE
    assert page.evaluate("window.__xss") is None
    page.wait_for_selector(".popup-photo img", timeout=5000)

    # open the site page: history with the photo
    page.click(".popup-link")
    page.wait_for_selector("#site-map[data-ready=true]")
    assert seeded.name in page.locator("h1").inner_text()
    assert page.locator(".report .photos img").count() == 1
    assert page.locator(".report .note").inner_text() == HOSTILE_NOTE

    # nothing left the app's own host
    assert requests and all(url.startswith(live_server) for url in requests), \
        [u for u in requests if not u.startswith(live_server)]


def test_shared_url_restores_filters_and_language_switch_sticks(live_server, page, seeded):
    log_in_to_map(page, live_server)
    map_reloaded(page, lambda: page.fill("input[name=q]", "重点村00"), asking="q=")  # typing: 150 ms later
    named = sum("重点村00" in site["name"] for site in shipped("sanitation_zones"))  # 重点村001 … 重点村009
    assert named > 1 and page.locator("#site-list li").count() == named
    shared = page.url
    page.goto(shared)
    page.wait_for_selector(".folium-map[data-ready=true]")  # the first drawing already has the filters
    assert page.input_value("input[name=q]") == "重点村00"
    assert page.locator("#site-list li").count() == named

    legend = page.locator('[data-layer="sanitation_zones"] .legend').inner_text()
    assert "逾期未巡查" in legend
    page.click(".lang-switch")
    page.wait_for_selector(".folium-map[data-ready=true]")
    assert "Overdue" in page.locator('[data-layer="sanitation_zones"] .legend').inner_text()
    assert page.input_value("input[name=q]") == "重点村00"  # the switch keeps the view
    page.goto(live_server + "/dashboard")
    assert "Overdue sites" in page.content()  # the choice sticks across pages


def test_unchecking_a_layer_hides_its_sites(live_server, page, seeded):
    log_in_to_map(page, live_server)
    before = page.locator("#site-list li").count()
    map_reloaded(page, lambda: page.uncheck('input[name=layer][value="sanitation_zones"]'))
    after = page.locator("#site-list li").count()
    assert after < before and not page.locator("#site-list li", has_text="重点村").count()
    assert "layers=" in page.url


def test_locating_a_point_site_from_the_list_opens_its_popup(live_server, page, seeded):
    """Mines and inland ports are points, drawn in clusters: the list's locate button zooms to one and
    opens its popup, which stays open across the reload that follows, without a script error."""
    errors = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    log_in_to_map(page, live_server)
    # the list then holds other layers' sites
    map_reloaded(page, lambda: page.uncheck('input[name=layer][value="sanitation_zones"]'))
    item = page.locator("#site-list li", has_text="内陆港").first
    name = item.locator("a").inner_text()
    map_reloaded(page, item.locator("button.locate").click)  # the move's reload, 150 ms after it
    page.wait_for_selector(".leaflet-popup-content .popup h3", timeout=5000)
    map_drawn(page)
    assert page.locator(".leaflet-popup").count() == 1
    assert page.locator(".leaflet-popup-content h3").inner_text() == name
    assert not errors, errors


def test_a_site_name_made_of_markup_shows_as_text_in_its_tooltip(live_server, page, app):
    with app.app_context(), get_uow(write=True) as uow:
        zone = next(uow.sites.find(layer_id="sanitation_zones"))
        uow.connection.execute(sa.text("UPDATE sites SET name = :name WHERE id = :id"),
                               {"name": HOSTILE_NOTE, "id": zone.id})
        uow.commit()
    log_in_to_map(page, live_server)
    opened = page.evaluate("""(id) => { let found = false;
        window[document.getElementById("map-script").dataset.map].eachLayer((l) => {
          if (l.feature && l.feature.id === id && l.openTooltip) { l.openTooltip(); found = true; } });
        return found; }""", zone.id)
    assert opened
    assert page.locator(".leaflet-tooltip").inner_text() == HOSTILE_NOTE
    assert page.evaluate("window.__xss") is None
