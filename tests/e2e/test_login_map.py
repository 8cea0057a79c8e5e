"""A planner logs in through the real login page and sees the map with Jinzhou's counties."""

from tests.conftest import PASSWORD


def test_login_then_map_shows_layers_and_counties(live_server, page, tmp_path):
    page.goto(live_server + "/")
    assert "/login" in page.url  # not logged in: sent to the login page
    page.fill("input[name=username]", "planner")
    page.fill("input[name=password]", "wrong password")
    page.click("button[type=submit]")
    assert page.locator(".flash.error").inner_text() == "用户名或密码错误。"

    page.fill("input[name=username]", "planner")
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_selector("#map[data-ready=true]", timeout=15_000)
    assert page.url == live_server + "/"
    legend = page.locator(".panel").inner_text()
    assert "农村人居环境整治" in legend and "尚未巡查" in legend
    # the seven county outlines are drawn on the map
    assert page.locator(".leaflet-overlay-pane path, .leaflet-overlay-pane canvas").count() >= 1
    page.screenshot(path=str(tmp_path / "map.png"))

    page.click("text=English")
    assert "Village sanitation zones" in page.locator(".panel").inner_text()
    page.click("text=Log out")
    assert "/login" in page.url
