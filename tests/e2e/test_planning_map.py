"""Planning on the map in a real headless Chromium: a manager draws and reshapes a zone with
Leaflet-Geoman, sees a conflict rather than overwriting a change saved meanwhile, and restores a
version on the site page; a planner gets none of the editing tools."""

import pytest
from shapely.geometry import Point, shape

from geo.access import system_user
from tests.e2e.pages import log_in_to_map, map_drawn, map_reloaded
from tests.factories import ATTRS, bearer, free_square

# The editing tools; planning's storage runs on both in tests/geo/test_planning.py,
# tests/webapp/test_sites_api.py.
pytestmark = pytest.mark.backends("sqlite")

EDIT_FILES = ("leaflet-geoman", "edit.js")


# How many vertices the shape Geoman is drawing has (-1: it draws none).
VERTICES = """() => { const pm = OneMap.map.pm, drawing = pm && pm.Draw.getActiveShape();
    return drawing ? pm.Draw[drawing]._layer.getLatLngs().length : -1; }"""
# Whether Geoman has taken the mouse's latest move: its hint marker (snapped: where it was before the snap)
# is at this point of the page, or the mouse is on a vertex already drawn (a click there closes or ends the
# shape; the vertex, not the map, gets the move).
HINT_AT = """([x, y]) => { const pm = OneMap.map.pm, hint = pm.Draw[pm.Draw.getActiveShape()]._hintMarker;
    const under = document.elementFromPoint(x, y);
    if (under && under.closest(".leaflet-marker-pane .marker-icon:not(.cursor-marker)")) return true;
    const p = OneMap.map.latLngToContainerPoint(hint._snapped ? hint._orgLatLng : hint.getLatLng());
    const box = OneMap.map.getContainer().getBoundingClientRect();
    return Math.abs(box.left + p.x - x) < 1.5 && Math.abs(box.top + p.y - y) < 1.5; }"""
# Whether a vertex handle of the shape being edited stands at this point of the page.
HANDLE_AT = """([x, y]) => [...document.querySelectorAll(
    ".leaflet-marker-pane .marker-icon:not(.marker-icon-middle)")].some((m) => {
      const r = m.getBoundingClientRect();
      return Math.abs(r.left + r.width / 2 - x) < 4 && Math.abs(r.top + r.height / 2 - y) < 4; })"""


def _manager(page, base):
    log_in_to_map(page, base, "manager")
    page.wait_for_selector("#edit-new:not([disabled])")


def _go(page, lng, lat, zoom=15):
    # The page's first fit to the counties may still be zooming: its end would undo this view.
    page.wait_for_function("() => !OneMap.map._animatingZoom")
    map_reloaded(page, lambda: page.evaluate(  # a move reloads the features 150 ms after it ends
        "([lat, lng, z]) => { OneMap.map.setView([lat, lng], z, { animate: false }); }", [lat, lng, zoom]))
    assert page.evaluate("() => OneMap.map.getZoom()") == zoom


def _pixel(page, lng, lat):
    """Where a lon/lat is on the page, for page.mouse."""
    return page.evaluate("""([lng, lat]) => {
        const p = OneMap.map.latLngToContainerPoint([lat, lng]);
        const box = OneMap.map.getContainer().getBoundingClientRect();
        return [box.left + p.x, box.top + p.y]; }""", [lng, lat])


def _click(page, lng, lat):
    page.mouse.click(*_pixel(page, lng, lat))


def _add_vertex(page, lng, lat):
    """Click a vertex of the shape being drawn: move there, wait until Geoman has followed the mouse (and
    snapped), click, and wait until it has taken the vertex (or, for the click that closes or ends the
    shape, has finished drawing)."""
    from playwright.sync_api import TimeoutError as NotYet

    x, y = _pixel(page, lng, lat)
    before = page.evaluate(VERTICES)
    page.mouse.move(x, y)
    for _ in range(20):  # a move made just after a click is at times missed: made again, it is taken
        try:
            page.wait_for_function(HINT_AT, arg=[x, y], timeout=250)
            break
        except NotYet:
            page.mouse.move(x + 1, y)
            page.mouse.move(x, y)
    else:
        raise AssertionError(f"Geoman does not follow the mouse to {x}, {y}")
    page.mouse.down()
    page.mouse.up()
    page.wait_for_function(f"(n) => ({VERTICES})() !== n", arg=before)


def _drag(page, start, end):
    """Drag the vertex handle at ``start`` to ``end``; wait until the handle stands there."""
    page.mouse.move(*_pixel(page, *start))
    page.mouse.down()
    x, y = _pixel(page, *end)
    page.mouse.move(x, y, steps=12)
    page.mouse.up()
    page.wait_for_function(HANDLE_AT, arg=[x, y])


def _drawing(page):
    """Geoman arrives with the first job: wait until it is drawing."""
    page.wait_for_function("() => OneMap.map.pm && OneMap.map.pm.globalDrawModeEnabled()")


def _draw_zone(page, ring):
    """New site → sanitation zones → area, then the corners and the first one again to close it."""
    page.click("#edit-new")
    page.select_option("#edit-panel select[name=layer]", "sanitation_zones")
    page.click("#edit-panel button.edit-draw")
    _drawing(page)
    for lng, lat in [*ring, ring[0]]:
        _add_vertex(page, lng, lat)
    page.wait_for_selector("#edit-panel input[name=name]")


def _popup_action(page, lng, lat, label):
    page.wait_for_selector(".leaflet-popup", state="detached")  # one a reload closed may still be fading
    _click(page, lng, lat)
    page.locator(".leaflet-popup .popup-edit button", has_text=label).click()
    page.wait_for_selector(".leaflet-popup", state="detached")  # it fades out over what it covered


def _api_site(page, base, site_id):
    return page.request.get(f"{base}/api/v1/sites/{site_id}").json()


def _corners(square):
    return [tuple(c) for c in square["coordinates"][0][:4]]


def _stored_zone(page, base, app, name, geometry):
    """A zone stored through the planning API, as another manager would have drawn it; its Feature."""
    made = page.request.post(f"{base}/api/v1/layers/sanitation_zones/sites", headers=bearer(app, "manager"),
                             data={"name": name, "geometry": geometry, "attributes": ATTRS})
    assert made.status == 201, made.text()
    return made.json()


def test_a_manager_draws_a_zone_reshapes_it_and_restores_the_first_version(live_server, page, app):
    requests = []
    page.on("request", lambda r: requests.append(r.url))
    square = free_square(app, size=0.006)
    ring = _corners(square)
    centre = shape(square).centroid
    _manager(page, live_server)
    _go(page, centre.x, centre.y)

    _draw_zone(page, ring)
    page.fill("#edit-panel input[name=name]", "新绘村")
    page.fill('#edit-panel [name="attributes.township"]', "芳山镇")
    page.select_option('#edit-panel [name="attributes.key_village"]', "true")
    page.fill("#edit-panel textarea[name=comment]", "新纳入整治")
    page.click("#edit-panel button.edit-save")
    done = page.locator(".edit-done")
    done.wait_for()
    site_id = int(done.get_attribute("data-site"))
    site = _api_site(page, live_server, site_id)
    props = site["properties"]
    assert (props["name"], props["township"], props["key_village"], props["county"], props["version"]) == (
        "新绘村", "芳山镇", True, "210726", 1)
    drawn = shape(site["geometry"])
    assert abs(drawn.area - shape(square).area) / shape(square).area < 0.05  # clicked to a pixel or so
    map_drawn(page)  # the save reloads the map as it says it is done

    # reshape: drag one corner outwards, then save
    corner = ring[2]
    moved = (corner[0] + (corner[0] - centre.x) * 0.6, corner[1] + (corner[1] - centre.y) * 0.6)
    _popup_action(page, centre.x, centre.y, "编辑形状")
    page.wait_for_selector(".leaflet-marker-pane .marker-icon:not(.marker-icon-middle)")
    _drag(page, corner, moved)
    page.fill("#edit-panel textarea[name=comment]", "扩大边界")
    page.click("#edit-panel button.edit-save")
    page.locator(".edit-done").wait_for()
    site = _api_site(page, live_server, site_id)
    assert site["properties"]["version"] == 2
    reshaped = shape(site["geometry"])
    assert reshaped.area > drawn.area * 1.1 and reshaped.exterior.distance(Point(moved)) < 0.0002

    # the site page lists both versions, newest first; a version's shape shows on its map
    page.goto(f"{live_server}/sites/{site_id}")
    page.wait_for_selector("#version-list[aria-busy=false]", state="attached")
    items = page.locator("#version-list li")
    assert items.count() == 2
    assert "第2版" in items.nth(0).inner_text() and "修改" in items.nth(0).inner_text()
    assert "扩大边界" in items.nth(0).inner_text() and "当前版本" in items.nth(0).inner_text()
    assert "在地图上新建" in items.nth(1).inner_text() and "新纳入整治" in items.nth(1).inner_text()
    assert "manager" in items.nth(1).inner_text()
    items.nth(1).locator(".version-show").click()
    page.wait_for_selector("#site-map[data-shown-version='1']")
    assert "第1版" in page.locator("#version-note").inner_text()

    # restore version 1: a third version with the first shape
    items.nth(1).locator("button.restore").click()
    items.nth(1).locator("textarea").fill("恢复原边界")
    with page.expect_navigation():
        items.nth(1).locator("button.restore-confirm").click()
    page.wait_for_selector("#version-list[aria-busy=false]", state="attached")
    assert page.locator("#version-list li").count() == 3
    assert "恢复自第1版" in page.locator("#version-list li").nth(0).inner_text()
    assert shape(_api_site(page, live_server, site_id)["geometry"]).equals(drawn)
    # Geoman came from the app, like everything else
    assert any("/vendor/leaflet-geoman/leaflet-geoman.js" in u for u in requests)
    assert not [u for u in requests if not u.startswith(live_server)]


def test_a_planner_gets_no_editing_tools(live_server, page, app):
    requests = []
    page.on("request", lambda r: requests.append(r.url))
    log_in_to_map(page, live_server, "planner")
    assert page.locator("#planning, #edit-new").count() == 0
    assert page.evaluate("typeof L.PM") == "undefined"
    assert not [u for u in requests if any(name in u for name in EDIT_FILES)]
    page.locator("#site-list li", has_text="重点村").first.locator("button.locate").click()
    page.locator(".leaflet-popup-content .popup").wait_for()
    assert page.locator(".popup-edit").count() == 0
    page.click(".popup-link")
    page.wait_for_selector("#version-list[aria-busy=false]", state="attached")
    assert page.locator("#version-list li").count() >= 1  # planners read the history
    assert page.locator("#version-list button.restore").count() == 0


def test_a_change_saved_meanwhile_shows_as_a_conflict_and_is_not_overwritten(live_server, page, app):
    square = free_square(app)
    centre = shape(square).centroid
    client = app.test_client()
    created = client.post("/api/v1/layers/sanitation_zones/sites", headers=bearer(app, "manager"),
                          json={"name": "冲突村", "geometry": square, "attributes": ATTRS})
    site_id = created.get_json()["id"]
    _manager(page, live_server)
    _go(page, centre.x, centre.y)
    _popup_action(page, centre.x, centre.y, "编辑属性")
    households = page.locator('#edit-panel [name="attributes.households"]')
    households.wait_for()

    # meanwhile an admin, through the API, sets the households
    other = client.patch(f"/api/v1/sites/{site_id}", headers=bearer(app, "admin"),
                         json={"base_version": 1, "attributes": {"households": 120}, "comment": "普查"})
    assert other.status_code == 200
    households.fill("80")
    page.click("#edit-panel button.edit-save")
    conflict = page.locator(".edit-conflict")
    conflict.wait_for()
    said = conflict.inner_text()
    assert "admin" in said and "户数: （空） → 120" in said
    assert _api_site(page, live_server, site_id)["properties"]["households"] == 120  # not overwritten

    # start again from the latest version: the form shows its values; this save goes through
    conflict.locator("button", has_text="载入最新版本").click()
    page.wait_for_function(
        """() => { const i = document.querySelector('#edit-panel [name="attributes.households"]');
                   return i && i.value === "120"; }""")
    page.fill('#edit-panel [name="attributes.households"]', "80")
    page.click("#edit-panel button.edit-save")
    page.locator(".edit-done").wait_for()
    props = _api_site(page, live_server, site_id)["properties"]
    assert (props["households"], props["version"]) == (80, 3)


def test_a_zone_drawn_over_another_is_refused_with_a_marker_where_they_overlap(live_server, page, app):
    square = free_square(app)
    client = app.test_client()
    client.post("/api/v1/layers/sanitation_zones/sites", headers=bearer(app, "manager"),
                json={"name": "旧村", "geometry": square, "attributes": ATTRS})
    ring = [(x + 0.002, y + 0.002) for x, y in _corners(square)]  # a quarter of it over the old zone
    centre = shape(square).centroid
    _manager(page, live_server)
    _go(page, centre.x + 0.001, centre.y + 0.001)
    _draw_zone(page, ring)
    page.fill("#edit-panel input[name=name]", "重叠村")
    page.click("#edit-panel button.edit-save")  # township and key village missing
    page.wait_for_selector('#edit-panel [data-field="attributes.township"] .field-error:not(:empty)')
    assert "缺少必填属性" in page.locator('[data-field="attributes.key_village"] .field-error').inner_text()
    page.fill('#edit-panel [name="attributes.township"]', "芳山镇")
    page.select_option('#edit-panel [name="attributes.key_village"]', "false")
    page.click("#edit-panel button.edit-save")
    page.locator(".leaflet-tooltip", has_text="与“旧村”").wait_for()
    where = page.evaluate("""() => { let at = null; OneMap.map.eachLayer((l) => {
        if (l.options && l.options.className === "edit-problem") at = l.getLatLng(); }); return at; }""")
    assert shape(square).buffer(1e-6).contains(Point(where["lng"], where["lat"]))
    assert "重叠" in page.locator("#edit-panel .field-error").first.inner_text()
    assert page.locator(".edit-done").count() == 0


def test_a_planner_looks_at_a_past_day_and_back_at_today(live_server, page, app):
    from datetime import UTC, datetime

    from geo import planning
    from webapp.context import get_uow, layers

    square = free_square(app)
    with app.app_context():
        with get_uow() as uow:
            site = planning.create_site(layers()["sanitation_zones"], {"name": "旧名村", "geometry": square,
                                        "attributes": ATTRS}, uow=uow, user=system_user("manager"),
                                        now=datetime(2026, 10, 1, 2, tzinfo=UTC)).site
        with get_uow() as uow:
            planning.edit_site(site.id, {"base_version": 1, "name": "新名村"}, layers=layers(), uow=uow,
                               user=system_user("manager"), now=datetime(2026, 11, 1, 2, tzinfo=UTC))
    centre = shape(square).centroid
    log_in_to_map(page, live_server, "planner")
    _go(page, centre.x, centre.y)

    def names():
        return page.locator("#site-list li a").all_inner_texts()

    assert "新名村" in names() and page.locator("#as-of-note").is_hidden()
    map_reloaded(page, lambda: page.fill("#filters input[name=as_of]", "2026-10-15"),  # typing: 150 ms later
                 asking="as_of=2026-10-15")
    assert "旧名村" in names() and "新名村" not in names()
    assert "2026-10-15" in page.locator("#as-of-note").inner_text()
    assert "as_of=2026-10-15" in page.url  # the view can be shared
    map_reloaded(page, lambda: page.fill("#filters input[name=as_of]", "2026-09-15"),  # typing: 150 ms later
                 asking="as_of=2026-09-15")
    assert "旧名村" not in names() and "新名村" not in names()  # not drawn yet then
    map_reloaded(page, lambda: page.click("#as-of-note button"))
    assert "新名村" in names() and page.locator("#as-of-note").is_hidden()


def test_a_new_zone_snaps_to_the_corners_of_its_neighbour(live_server, page, app):
    """Clicked a few pixels off a neighbour's corners, the new zone takes those corners exactly, so the
    two share their edge with no gap and no overlap."""
    size = 0.004
    square = free_square(app, size=size)
    neighbour = _stored_zone(page, live_server, app, "邻村", square)
    (x0, y0), (x1, y1) = square["coordinates"][0][0], square["coordinates"][0][2]
    east, south, north = max(x0, x1), min(y0, y1), max(y0, y1)
    _manager(page, live_server)
    _go(page, east, (south + north) / 2, zoom=16)
    off = 0.00003  # about 3 px at zoom 16
    ring = [(east + off, south - off), (east + size, south), (east + size, north), (east - off, north + off)]
    _draw_zone(page, ring)
    page.fill("#edit-panel input[name=name]", "新邻村")
    page.fill('#edit-panel [name="attributes.township"]', "芳山镇")
    page.select_option('#edit-panel [name="attributes.key_village"]', "true")
    page.click("#edit-panel button.edit-save")
    done = page.locator(".edit-done")
    done.wait_for()
    drawn = shape(_api_site(page, live_server, int(done.get_attribute("data-site")))["geometry"])
    corners = {(round(x, 6), round(y, 6)) for x, y in drawn.exterior.coords}
    assert {(round(east, 6), round(south, 6)), (round(east, 6), round(north, 6))} <= corners
    stored = shape(neighbour["geometry"])
    assert drawn.intersection(stored).area == 0 and drawn.touches(stored)



def _jagged(x, y, n=20, step=0.0018, jag=0.0001):
    """n vertices northwards from (x, y), ``step`` apart (7 px at zoom 12), ``jag`` (8 m) either side of x."""
    return [(round(x + (jag if i % 2 else -jag), 6), round(y + i * step, 6)) for i in range(n)]


def test_a_new_zone_snaps_to_the_stored_vertices_of_a_detailed_neighbour_not_to_its_simplified_copy(
        live_server, page, app):
    """At zoom 12 the map draws a 40-vertex neighbour as four corners (its jagged edge is under a pixel
    off a straight line); a zone clicked a few pixels off the real vertices still takes them exactly, so
    the server finds no overlap, where snapping to the drawn copy put them on the straight line."""
    x, y = shape(free_square(app)).bounds[:2]  # a free spot, 0.02° clear of other zones and the county's edge
    east, west = _jagged(x, y - 0.017), _jagged(x - 0.006, y - 0.017)
    ring = [*east, *reversed(west), east[0]]
    neighbour = _stored_zone(page, live_server, app, "锯齿村", {"type": "Polygon", "coordinates": [ring]})
    _manager(page, live_server)
    _go(page, x, y, zoom=12)
    bbox = f"{x - 0.05},{y - 0.05},{x + 0.05},{y + 0.05}"
    view = page.request.get(f"{live_server}/api/v1/layers/sanitation_zones/features?bbox={bbox}&zoom=12")
    shown = next(f for f in view.json()["features"] if f["id"] == neighbour["id"])
    assert len(shown["geometry"]["coordinates"][0]) < 8  # what the map draws has lost the jags

    shared = east[7:12]
    clicks = [(vx + 0.0007, vy + 0.0004) for vx, vy in shared]  # about 2 px east and 1.6 px north
    far = x + 0.008  # 23 px east: nothing to snap to
    _draw_zone(page, [*clicks, (far, shared[-1][1]), (far, shared[0][1])])
    page.fill("#edit-panel input[name=name]", "齿合村")
    page.fill('#edit-panel [name="attributes.township"]', "芳山镇")
    page.select_option('#edit-panel [name="attributes.key_village"]', "false")
    page.click("#edit-panel button.edit-save")
    page.locator(".edit-done, #edit-panel .edit-message .form-error").first.wait_for()
    assert page.locator("#edit-panel .form-error").count() == 0, page.locator("#edit-panel").inner_text()
    saved = shape(_api_site(page, live_server, int(page.locator(".edit-done").get_attribute("data-site")))
                  ["geometry"])
    for vx, vy in shared:
        assert min(max(abs(vx - cx), abs(vy - cy)) for cx, cy in saved.exterior.coords) < 1e-7, (vx, vy)
    stored = shape(neighbour["geometry"])
    assert saved.intersection(stored).area == 0 and saved.touches(stored)


def _zones_in(page, base, square):
    (x0, y0), (x1, y1) = square["coordinates"][0][0], square["coordinates"][0][2]
    bbox = ",".join(f"{v:.6f}" for v in (min(x0, x1), min(y0, y1), max(x0, x1), max(y0, y1)))
    found = page.request.get(f"{base}/api/v1/layers/sanitation_zones/features?bbox={bbox}").json()
    return {f["id"]: shape(f["geometry"]) for f in found["features"]}


def test_a_manager_splits_a_zone_on_the_map_merges_the_parts_back_and_deletes_it(live_server, page, app):
    size = 0.006
    square = free_square(app, size=size)
    site_id = _stored_zone(page, live_server, app, "待拆村", square)["id"]
    (x0, y0), (x1, y1) = square["coordinates"][0][0], square["coordinates"][0][2]
    west, east, south, north = min(x0, x1), max(x0, x1), min(y0, y1), max(y0, y1)
    middle = (west + east) / 2
    _manager(page, live_server)
    _go(page, middle, (south + north) / 2)

    # split along a north-south line drawn across the zone: the site keeps one half, a new site the other
    _popup_action(page, middle - size / 4, (south + north) / 2, "拆分")
    _drawing(page)
    for lat in (south - 0.001, north + 0.001, north + 0.001):  # the last vertex again ends the line
        _add_vertex(page, middle, lat)
    page.click("#edit-panel button.edit-save")
    page.locator(".edit-done").wait_for()
    parts = _zones_in(page, live_server, square)
    assert len(parts) == 2 and site_id in parts
    (other_id,) = set(parts) - {site_id}
    assert all(abs(p.area - shape(square).area / 2) / shape(square).area < 0.05 for p in parts.values())
    map_drawn(page)  # the save reloads the map as it says it is done

    # merge: start from the west half, pick the east half on the map
    west_id = min(parts, key=lambda i: parts[i].centroid.x)
    east_id = other_id if west_id == site_id else site_id
    _popup_action(page, middle - size / 4, (south + north) / 2, "合并")
    page.wait_for_selector("#edit-panel button.edit-save")
    _click(page, middle + size / 4, (south + north) / 2)
    page.wait_for_selector("#edit-panel .edit-chosen:not(:empty)")
    page.click("#edit-panel button.edit-save")
    page.locator(".edit-done").wait_for()
    merged = _zones_in(page, live_server, square)
    assert list(merged) == [west_id] and abs(merged[west_id].area - shape(square).area) < 1e-9
    assert page.request.get(f"{live_server}/api/v1/sites/{east_id}").status == 404
    map_drawn(page)  # the save reloads the map as it says it is done

    # delete, then the site is gone from the map's data, and its history says so
    _popup_action(page, middle, (south + north) / 2, "删除")
    page.fill("#edit-panel textarea[name=comment]", "重复录入")
    page.click("#edit-panel button.edit-delete")
    page.locator(".edit-done").wait_for()
    assert _zones_in(page, live_server, square) == {}
    history = page.request.get(f"{live_server}/api/v1/sites/{west_id}/versions").json()["versions"]
    assert [v["action"] for v in history][-2:] == ["merge", "delete"]
    assert history[-1]["comment"] == "重复录入"
