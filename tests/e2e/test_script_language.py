"""The page scripts speak the page's language, in Chromium: their text comes from the catalogue the
page embeds (webapp/script_catalogue.py, read by i18n.js), Chinese by default and English with
?lang=en, with English plural forms right ("1 report", "2 reports")."""

from __future__ import annotations

import pytest

from tests.e2e.pages import log_in_on, log_in_to_map, phone

pytestmark = pytest.mark.backends("sqlite")  # catalogues, not storage


PLANNING = {  # the manager's planning tools on the map (edit.js)
    "zh_CN": {"title": "新建站点", "draw": {"画点", "画线", "画面"}, "cancel": "取消"},
    "en": {"title": "New site", "draw": {"Place a point", "Draw a line", "Draw an area"}, "cancel": "Cancel"},
}

QUEUE = {  # the worker's queue on /my (worker.js), after one report and after two
    "zh_CN": {"ready": "已可离线使用", "one": "1份报告等待发送", "two": "2份报告等待发送",
              "photos": ("1张照片", "2张照片"), "state": "等待发送"},
    "en": {"ready": "Ready to use offline", "one": "1 report waiting to be sent",
           "two": "2 reports waiting to be sent", "photos": ("1 photo", "2 photos"),
           "state": "Waiting to send"},
}


@pytest.mark.parametrize("lang", ["zh_CN", "en"])
def test_the_planning_tools_speak_the_pages_language(live_server, page, app, lang):
    log_in_to_map(page, live_server, "manager")
    if lang == "en":
        page.goto(live_server + "/?lang=en")
        page.wait_for_selector(".folium-map[data-ready=true]")
    page.wait_for_selector("#edit-new:not([disabled])")
    page.click("#edit-new")
    page.wait_for_selector("#edit-panel button.edit-draw")
    want = PLANNING[lang]
    assert page.inner_text("#edit-panel h3") == want["title"]
    draws = set(page.locator("#edit-panel button.edit-draw").all_inner_texts())
    assert draws and draws <= want["draw"], draws
    assert want["cancel"] in page.locator("#edit-panel .buttons button").all_inner_texts()
    assert page.evaluate("OneMapI18n.lang") == lang


@pytest.mark.parametrize("lang", ["zh_CN", "en"])
def test_the_workers_queue_speaks_the_pages_language_with_its_plurals(live_server, browser, app, lang):
    context, page, blocked = phone(browser)
    try:
        log_in_on(page, live_server, "worker", next_path="/my")
        page.wait_for_selector("#worker-my")
        if lang == "en":
            page.goto(f"{live_server}/my?lang=en")
        page.wait_for_selector("#worker-my[data-offline-ready=true]")
        want = QUEUE[lang]
        assert page.inner_text("#offline-ready") == want["ready"]

        context.set_offline(True)  # the reports stay queued
        queue = """([uuid, photos]) => OneMapQueue.add("worker", 1, "村",
            {uuid, observed_at: new Date().toISOString()},
            Array.from({length: photos}, () => new Blob(["x"])))"""
        page.evaluate(queue, ["00000000-0000-4000-8000-000000000001", 1])
        page.wait_for_function("() => document.querySelector('#queue').dataset.waiting === '1'")
        assert page.inner_text("#queue-summary").startswith(want["one"])
        page.evaluate(queue, ["00000000-0000-4000-8000-000000000002", 2])
        page.wait_for_function("() => document.querySelector('#queue').dataset.waiting === '2'")
        assert page.inner_text("#queue-summary").startswith(want["two"])
        items = page.locator("#queue-list li.queue-item")
        assert want["photos"][1] in items.nth(0).inner_text()  # newest first
        assert want["photos"][0] in items.nth(1).inner_text()
        assert items.nth(0).locator(".queue-state").inner_text() == want["state"]
    finally:
        context.close()
    assert not blocked, blocked
