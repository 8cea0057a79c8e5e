"""Browser tests: the real app on a local port, driven by headless Chromium through Playwright."""

from __future__ import annotations

import shutil
import threading

import pytest
from werkzeug.serving import make_server

from tests.conftest import require

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
# Chromium tries to reach Google's services at start; this machine's network refuses them.
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]


@pytest.fixture
def app_env():
    """Browser tests draw no basemap: no tiles from the internet, only the app's own layers."""
    return {"ONEMAP_BASEMAP": "none"}


@pytest.fixture
def site(app) -> int:
    """A village of the worker's, overdue, with an approved report and a newer one awaiting review."""
    from tests.e2e.pages import seed_site  # pages.py imports this module

    return seed_site(app)


@pytest.fixture
def live_server(app):
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join(timeout=5)


@pytest.fixture
def browser():
    require(CHROMIUM is not None, "Chromium is not installed (apt-get install chromium)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        require(False, "playwright is not installed (pip install -e '.[test]')")
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1280, "height": 800}, locale="zh-CN")
    page = context.new_page()
    blocked = watch_csp(page)
    yield page
    context.close()
    assert not blocked, blocked


def watch_csp(page) -> list[str]:
    """What the Content-Security-Policy blocked on the page: whatever a test does, it must stay empty
    (the policy never has to stop one of the app's own scripts, styles, images or requests)."""
    blocked: list[str] = []
    page.on("console", lambda m: blocked.append(m.text) if "Content Security Policy" in m.text else None)
    return blocked
