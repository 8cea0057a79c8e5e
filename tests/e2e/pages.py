"""Helpers of the browser tests: a seeded village, logging in, a page opened and drawn, the map's reloads
waited for, and a phone with GPS that files a report with a camera's photo."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import shapely
from PIL import Image

from geo import accounts
from geo.access import system_user
from tests.conftest import PASSWORD
from tests.e2e.conftest import watch_csp
from tests.factories import ALL_PASS, add_report
from webapp.context import get_uow

PHONE = {"width": 360, "height": 740}
MAP_READY = "() => document.querySelector('.folium-map').dataset.ready === 'true'"
# A page is ready when its script has drawn its map, if it has one.
READY = {"/": ".folium-map[data-ready=true]", "/sites/{site}": "#site-map[data-ready=true]",
         "/manage/assign": "#assign-map[data-ready=true]"}


def seed_site(app) -> int:
    """A village assigned to the worker, overdue, with an approved report that has a metric and a newer
    one (with a photo) awaiting review; managers see every site."""
    with app.app_context(), get_uow(write=True) as uow:
        zone = next(uow.sites.find(layer_id="sanitation_zones"))
        accounts.assign_sites("worker", [zone.id], uow=uow, user=system_user("test"), now=datetime.now(UTC))
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
        log_in_on(page, base, role)
    return context, page, blocked


def log_in_on(page, base: str, username: str, *, next_path: str | None = None, lang: str | None = None):
    """Log in on this page through the login form (in ``lang``, then on to ``next_path``), and wait until
    the login page is left."""
    query = "&".join(f"{k}={v}" for k, v in (("lang", lang), ("next", next_path)) if v)
    page.goto(f"{base}/login" + (f"?{query}" if query else ""))
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(lambda url: "/login" not in url)


def log_in_to_map(page, base: str, username: str = "planner"):
    """Log in and wait until the map, where the login leads, has drawn its sites."""
    log_in_on(page, base, username)
    page.wait_for_selector(".folium-map[data-ready=true]", timeout=15_000)


def map_drawn(page):
    """Wait until the map has drawn every layer's answer to its latest request for features."""
    page.wait_for_function(MAP_READY)


def map_reloaded(page, action, asking: str = ""):
    """Do ``action`` and wait until the map has asked for the features again (a request whose URL holds
    ``asking``: a move or typing asks 150 ms after it ends) and has drawn what came back."""
    with page.expect_response(lambda r: "/features?" in r.url and asking in r.url):
        action()
    map_drawn(page)


# ------------------------------------------------------------------ the worker's phone
def phone(browser, site=None, *, at=None, locale="zh-CN"):
    """A phone's browser context (360 px, service workers on), its GPS inside ``site`` or at ``at`` (a
    (lat, lon)) if given; its page, and what the page's Content-Security-Policy blocked."""
    gps = {}
    if site is not None or at is not None:
        lat, lon = at or inside(site)
        gps = {"permissions": ["geolocation"], "geolocation": {"latitude": lat, "longitude": lon}}
    context = browser.new_context(viewport=PHONE, locale=locale, service_workers="allow", **gps)
    page = context.new_page()
    return context, page, watch_csp(page)


def inside(site) -> tuple[float, float]:
    """A (lat, lon) inside the site."""
    point = shapely.point_on_surface(site.geometry)
    return point.y, point.x


def _dms(value: float) -> tuple[float, float, float]:
    degrees = int(value)
    minutes = int((value - degrees) * 60)
    return float(degrees), float(minutes), round((value - degrees - minutes / 60) * 3600, 4)


def camera_jpeg(path, lat: float, lon: float, taken: datetime, size=(2400, 1800), endian="<"):
    """A phone camera's JPEG: larger than 1600 px, with EXIF GPS (IFD 0x8825) and time.

    ``endian`` ">" writes a big-endian ("MM") TIFF block, as iPhones do; "<" ("II") as most Androids.
    """
    image = Image.new("RGB", size, (90, 140, 60))
    for x in range(0, size[0], 200):  # some detail, so it is a real picture to re-encode
        image.paste((200, 180, 40), (x, 0, x + 100, size[1]))
    exif = Image.Exif()
    exif.endian = endian
    exif[0x0132] = taken.strftime("%Y:%m:%d %H:%M:%S")
    utc = taken.astimezone(UTC)
    exif[0x8825] = {1: "N", 2: _dms(lat), 3: "E", 4: _dms(lon),
                    7: (float(utc.hour), float(utc.minute), float(utc.second)),
                    0x1D: utc.strftime("%Y:%m:%d")}
    image.save(path, "JPEG", exif=exif, quality=90)
    return path


def fill_report_form(page, photo, note):
    """Answer the village checklist (the third item failed, with a comment), the metrics, the note and a
    photo, and wait until the photo's EXIF is read and the photo downscaled."""
    page.wait_for_selector("#report-form")
    for item in page.locator(".check-item").all():
        item.locator(".choice-pass").click()
    page.locator(".check-item").nth(2).locator(".choice-fail").click()
    page.locator(".check-item").nth(2).locator(".comment input").fill("沟渠有积水")
    page.fill("#metric-person_times", "12")
    page.fill("#metric-garbage_tonnes", "1.5")
    page.fill("#note", note)
    page.set_input_files("#photo-input", str(photo))
    page.wait_for_selector("#photo-list li.photo[data-ready=true] .photo-gps")


def send_a_metric_the_server_refuses(page):
    """Past the form's own bounds check, so that the server is the one to refuse: 20000 labour (its bound
    is 10000), sent; the field's error once shown."""
    page.evaluate("""() => { const input = document.getElementById('metric-person_times');
                            input.max = input.dataset.max = '1e9'; }""")
    page.fill("#metric-person_times", "20000")
    page.click("#submit")
    error = page.locator(".metric[data-metric=person_times] .field-error:not([hidden])")
    error.wait_for()
    return error
