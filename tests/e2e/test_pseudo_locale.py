"""Untranslated text, found without guessing: every page, as every role, in a pseudo-locale.

The English catalogue is replaced by a generated one that wraps every message in ⟦ ⟧. Whatever a
page shows outside the markers must then be data (site names, user names, numbers, dates), a
layer definition's own label, a proper name or a code; anything else is text that bypassed the
catalogues.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from io import BytesIO

import pytest
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

from geo import accounts
from geo.access import system_user
from tests.e2e.pages import log_in_on
from tests.factories import ALL_PASS, add_report
from webapp.context import get_uow, layers
from webapp.i18n import TRANSLATIONS

pytestmark = pytest.mark.backends("sqlite")  # catalogues, not storage

OPEN, CLOSE = "⟦", "⟧"
# Names and codes that are the same in every language.
PROPER = {"OneMap", "Leaflet", "OpenStreetMap", "OGC", "API", "JSON", "GeoJSON", "HTML", "OpenAPI",
          "CSV", "XLSX", "KML", "GeoPackage", "Shapefile", "EPSG", "WGS84", "CGCS2000", "GCJ-02", "BD-09",
          "QGIS", "ArcGIS", "GDAL", "CRS84", "UTC", "AM", "PM", "中文", "English"}
# Page elements that are codes: OGC link relations and media types, units, command names.
CODES = re.compile(r"^(self|alternate|service-desc|service-doc|conformance|data|items|collection|next|prev|"
                   r"application/\S+|text/\S+|https?://\S+|km|m|ha|onemap( \w+)?)$")
MONTHS = {"Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"}


def pseudo_catalogue(folder):
    """The English catalogue with every translation wrapped in the markers, compiled into ``folder``."""
    with open(TRANSLATIONS / "en" / "LC_MESSAGES" / "messages.po", "rb") as f:
        catalog = read_po(f, locale="en")
    for message in catalog:
        if message.id:
            ids = (message.id,) if isinstance(message.id, str) else message.id
            wrapped = tuple(OPEN + text + CLOSE for text in ids)
            message.string = wrapped[0] if isinstance(message.id, str) else wrapped
    target = folder / "en" / "LC_MESSAGES"
    target.mkdir(parents=True)
    buffer = BytesIO()
    write_mo(buffer, catalog)
    (target / "messages.mo").write_bytes(buffer.getvalue())
    return folder


@pytest.fixture
def app_env(app_env):
    return {**app_env, "ONEMAP_LANG": "en"}


@pytest.fixture
def pseudo_app(app, tmp_path):
    app.config["ONEMAP_TRANSLATIONS"] = str(pseudo_catalogue(tmp_path / "pseudo"))
    with app.app_context(), get_uow(write=True) as uow:
        zone = next(uow.sites.find(layer_id="sanitation_zones"))
        mine = next(uow.sites.find(layer_id="mines"))
        accounts.assign_sites("worker", [zone.id], uow=uow, user=system_user("test"), now=datetime.now(UTC))
        add_report(uow, zone.id, "worker", checklist=ALL_PASS | {"ditches_cleared": "fail"}, photos=1,
                   note="沟渠堵塞", observed_at=datetime.now(UTC) - timedelta(days=20),
                   media_url=app.config["ONEMAP"].media_url, flags=["off_site"])
        uow.commit()
        allowed = _layer_words(layers()) | _dataset_words()
    return app, zone.id, mine.id, allowed


def _dataset_words() -> set[str]:
    """The words of the shipped dataset's own text (English names of places, sources, notes)."""
    import json
    from pathlib import Path

    words: set[str] = set()
    for path in (Path(__file__).resolve().parents[2] / "data" / "jinzhou").glob("*.geojson"):
        for feature in json.loads(path.read_text())["features"]:
            for value in feature["properties"].values():
                if isinstance(value, str):
                    words.update(_words(value))
    return words


def _layer_words(defs) -> set[str]:
    """Every word of the layer definitions' labels and codes (data, not messages)."""
    words: set[str] = set()

    def add(value):
        if isinstance(value, dict):
            for v in value.values():
                add(v)
        elif isinstance(value, list | tuple):
            for v in value:
                add(v)
        elif isinstance(value, str):
            words.update(_words(value))
        elif hasattr(value, "__dataclass_fields__"):
            for name in value.__dataclass_fields__:
                add(getattr(value, name))

    for layer in defs.values():
        add(layer)
    return words


def _words(text: str) -> list[str]:
    return re.findall(r"[A-Za-z][A-Za-z'’\-]*", text)


def _unmarked(text: str) -> str:
    previous = None
    while previous != text:  # markers nest when a message carries a translated value
        previous, text = text, re.sub(f"{OPEN}[^{OPEN}{CLOSE}]*{CLOSE}", " ", text)
    return text


VISIBLE_TEXT = """() => {
  const out = [];
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  while (walker.nextNode()) {
    const node = walker.currentNode, parent = node.parentElement;
    if (!parent || ["SCRIPT", "STYLE", "NOSCRIPT", "TEMPLATE"].includes(parent.tagName)) continue;
    if (!parent.getClientRects().length) continue;
    if (node.textContent.trim()) out.push(node.textContent.trim());
  }
  for (const el of document.querySelectorAll("[placeholder], [title], [aria-label], img[alt]")) {
    for (const name of ["placeholder", "title", "aria-label", "alt"]) {
      const value = el.getAttribute(name);
      if (value && value.trim()) out.push(value.trim());
    }
  }
  out.push(document.title);
  return out;
}"""


def _untranslated(texts: list[str], allowed: set[str]) -> list[str]:
    bad = []
    for text in texts:
        parts = re.split(r"\s+[·—]\s+", _unmarked(text).strip())
        rest = " ".join(part for part in parts if not CODES.match(part))
        words = [w for w in _words(rest) if w not in allowed and w not in PROPER and w not in MONTHS]
        if words:
            bad.append(f"{text!r} (unmarked: {' '.join(words)})")
    return bad


def _login(page, base, username):
    log_in_on(page, base, username, lang="en")
    page.wait_for_load_state("networkidle")


def _visit(page, url):
    page.goto(url)
    page.wait_for_load_state("networkidle")
    if page.locator(".folium-map").count():
        page.wait_for_function("() => document.querySelector('.folium-map').dataset.ready === 'true'",
                               timeout=15_000)


def test_no_page_shows_text_outside_the_catalogues(live_server, page, pseudo_app):
    app, zone, mine, allowed = pseudo_app
    allowed |= {"planner", "worker", "manager", "admin", "worker2"}
    pages = {
        None: ["/login"],
        "planner": ["/", f"/sites/{zone}", f"/sites/{mine}", "/dashboard", "/ogc?f=html",
                    "/ogc/collections?f=html", "/ogc/collections/sanitation_zones?f=html",
                    "/ogc/collections/sanitation_zones/items?f=html",
                    f"/ogc/collections/sanitation_zones/items/{zone}?f=html", "/ogc/conformance?f=html"],
        "worker": ["/my", f"/my/sites/{zone}/report"],
        "manager": ["/", "/manage/reports", "/manage/assign", "/manage/import", f"/sites/{zone}"],
        "admin": ["/admin/users"],
    }
    found = {}
    for role, paths in pages.items():
        page.context.clear_cookies()
        if role:
            _login(page, live_server, role)
        for path in paths:
            _visit(page, live_server + path + ("&" if "?" in path else "?") + "lang=en")
            texts = page.evaluate(VISIBLE_TEXT)
            assert any(OPEN in t for t in texts), f"{path}: the pseudo catalogue is not in use"
            bad = _untranslated(texts, allowed)
            if bad:
                found[f"{role or 'anonymous'} {path}"] = bad[:15]
    assert not found, "\n".join(f"{where}:\n  " + "\n  ".join(bad) for where, bad in found.items())
