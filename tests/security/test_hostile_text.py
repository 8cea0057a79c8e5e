"""Text users store is shown as text on every page that shows it, never as markup.

One payload goes into every free-text field a user fills: a worker's display name, a report's note
and checklist comments, a manager's review comment, a site's name and an edit's comment. Then every
page that shows one of them is read as each role that sees it: the payload appears escaped, never raw.
The pages' own scripts build what they show from text nodes (checked below), so JSON the pages fetch
cannot become markup in the browser either; tests/e2e/test_map.py shows it for a popup in Chromium.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from html import escape
from pathlib import Path

import pytest

from geo import accounts, inspections, services
from geo.access import system_user
from tests.conftest import PASSWORD, Auth
from tests.factories import ALL_PASS, add_report, bearer
from webapp.context import get_uow, layers

PAYLOAD = """<script>window.__xss=1</script><img src=x onerror="window.__xss=2">"'&"""
W2_PASSWORD = "another password 1"
WEBAPP = Path(__file__).resolve().parents[2] / "webapp"


@pytest.fixture
def hostile(app, client):
    """A worker named by the payload, with a report, a rejection and a site edit that all carry it."""
    now = datetime.now(UTC)
    with app.app_context():
        with get_uow(write=True) as uow:
            services.add_user("w2", "worker", W2_PASSWORD, uow=uow, user=system_user("test"), now=now,
                              display_name=PAYLOAD)
        with get_uow(write=True) as uow:
            site = next(uow.sites.find(layer_id="sanitation_zones"))
            accounts.assign_sites("w2", [site.id], uow=uow, user=system_user("test"), now=now)
        with get_uow(write=True) as uow:
            checklist = {**ALL_PASS, "comments": {next(iter(ALL_PASS)): PAYLOAD}}
            report = add_report(uow, site.id, "w2", checklist=checklist, note=PAYLOAD, observed_at=now)
            uow.commit()
        with get_uow(write=True) as uow:
            manager, _ = uow.users.by_name("manager")
            inspections.review_report(report, "reject", PAYLOAD, layers=layers(), uow=uow, user=manager,
                                      now=now)
    edited = client.patch(f"/api/v1/sites/{site.id}", headers=bearer(app, "manager"),
                          json={"base_version": site.version, "name": "村" + PAYLOAD, "comment": PAYLOAD})
    assert edited.status_code == 200, edited.get_json()
    return site.id


def _pages(site: int) -> dict[str, list[str]]:
    """Role → the pages that show the stored text to that role."""
    return {
        "planner": [f"/sites/{site}"],  # the map and dashboard show names through their scripts
        "manager": [f"/sites/{site}", "/manage/reports?status=rejected", "/manage/reports",
                    "/manage/assign?worker=w2"],
        "admin": ["/admin/users", f"/sites/{site}"],
        "w2": ["/my", f"/my/sites/{site}/report", f"/sites/{site}"],
    }


@pytest.mark.backends("sqlite")  # markup; stored text runs on both in test_hostile_imports.py
def test_stored_text_shows_escaped_on_every_page_that_shows_it(app, hostile):
    raw, absent = [], []
    for role, paths in _pages(hostile).items():
        client = app.test_client()
        assert Auth(client).login(role, W2_PASSWORD if role == "w2" else PASSWORD).status_code == 302
        for path in paths:
            page = client.get(path)
            assert page.status_code == 200, (role, path, page.status_code)
            html = page.get_data(as_text=True)
            if "<script>window.__xss" in html or 'onerror="window.__xss' in html:
                raw.append(f"{path} as {role}")
            if escape(PAYLOAD, quote=False)[:40] not in html and escape(PAYLOAD)[:40] not in html:
                absent.append(f"{path} as {role}")
    assert not raw, f"the payload is markup on: {raw}"
    assert not absent, f"pages that should show the text as text but do not: {absent}"


SCRIPTS = sorted((WEBAPP / "static").glob("*.js"))
TEMPLATES = sorted((WEBAPP / "templates").rglob("*.html"))


@pytest.mark.backends("sqlite")
@pytest.mark.parametrize("path", SCRIPTS, ids=[p.name for p in SCRIPTS])
def test_the_pages_scripts_never_parse_text_as_html(path):
    source = path.read_text()
    found = re.findall(r"\.(?:innerHTML|outerHTML)\s*=|insertAdjacentHTML|document\.write|\beval\(", source)
    assert not found, f"{path.name} builds markup from strings: {found}"


@pytest.mark.backends("sqlite")
def test_no_template_switches_escaping_off_for_anything_but_the_rendered_map():
    marked = [p.name for p in TEMPLATES if re.search(r"\{%-?\s*autoescape\s+false", p.read_text())]
    for template in TEMPLATES:
        for expression in re.findall(r"\{\{(.*?)\}\}", template.read_text()):
            # folium's map (webapp/mapview.py) is HTML made from the settings alone, no stored text
            if re.search(r"\|\s*safe\b", expression) and not expression.strip().startswith("parts."):
                marked.append(f"{template.name}: {expression.strip()}")
    assert not marked, f"templates that show text unescaped: {marked}"
