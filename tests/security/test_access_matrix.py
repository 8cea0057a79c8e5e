"""Every route × every role (anonymous, planner, a worker, another worker, manager, admin) → who gets in.

The routes come from the app's URL map: a route added without a line in RULES fails the test,
so nobody ships an endpoint whose access nobody decided. Scripts' Bearer tokens are used for the
roles; a browser session reaches the same views through the same checks (tests/webapp/test_auth.py).

Outcomes: ``in`` — past the access checks (any answer but 401, 403 and 404: a request without a
valid body gets 400 / 415 / 422 there); ``login`` — 401, or a redirect to the login page for a page;
``no`` — 403; ``unseen`` — 404, a site the user may not see (no hint that it exists).
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from geo import accounts, services
from geo.access import system_user
from tests.factories import ALL_PASS, add_report
from webapp.context import get_uow

ROLES = ("anonymous", "planner", "worker", "other_worker", "manager", "admin")
EVERYONE = dict.fromkeys(ROLES, "in")
SIGNED_IN = {**EVERYONE, "anonymous": "login"}
READERS = {**SIGNED_IN, "worker": "no", "other_worker": "no"}  # planners, managers, admins
MANAGERS = {**SIGNED_IN, "planner": "no", "worker": "no", "other_worker": "no"}
ADMINS = {**MANAGERS, "manager": "no"}
OWN_SITE = {**SIGNED_IN, "other_worker": "unseen"}  # workers see their own sites only
UPLOAD = {**MANAGERS, "manager": "unseen", "admin": "unseen"}  # past the check: no such upload
WORKERS = {**SIGNED_IN, "planner": "no", "admin": "in"}  # the phone pages: workers (and managers)

# (endpoint, method) → (path, with {site}, {report}, {photo} filled in; who gets in)
RULES: dict[tuple[str, str], tuple[str, dict[str, str]]] = {
    ("planner.index", "GET"): ("/", SIGNED_IN),
    ("planner.site_page", "GET"): ("/sites/{site}", OWN_SITE),
    ("planner.dashboard", "GET"): ("/dashboard", READERS),
    ("planner.photo", "GET"): ("/media/photos/{photo}/thumbnail", OWN_SITE),
    ("health.healthz", "GET"): ("/healthz", EVERYONE),
    ("auth.login", "GET"): ("/login", EVERYONE),
    ("auth.login", "POST"): ("/login", EVERYONE),
    ("auth.logout", "POST"): ("/logout", dict.fromkeys(ROLES, "login")),  # back to the login page
    ("static", "GET"): ("/static/map.js", EVERYONE),
    ("assets.vendor", "GET"): ("/vendor/leaflet/leaflet.js", EVERYONE),
    ("worker.service_worker", "GET"): ("/sw.js", SIGNED_IN),
    ("worker.my_sites", "GET"): ("/my", {**WORKERS}),
    ("worker.csrf_token", "GET"): ("/my/csrf-token", {**WORKERS}),
    ("worker.report_form", "GET"): ("/my/sites/{site}/report", {**WORKERS, "other_worker": "unseen"}),
    ("admin.users", "GET"): ("/admin/users", ADMINS),
    ("admin.create_user", "POST"): ("/admin/users", ADMINS),
    ("admin.set_active", "POST"): ("/admin/users/target/active", ADMINS),
    ("admin.reset_password", "POST"): ("/admin/users/target/password", ADMINS),
    ("manager.reports", "GET"): ("/manage/reports", MANAGERS),
    ("manager.review", "POST"): ("/manage/reports/{report}/review", MANAGERS),
    ("manager.assign", "GET"): ("/manage/assign", MANAGERS),
    ("manager.assign_post", "POST"): ("/manage/assign", MANAGERS),
    ("imports.upload_form", "GET"): ("/manage/import", MANAGERS),
    ("imports.upload", "POST"): ("/manage/import", MANAGERS),
    ("imports.preview", "GET"): ("/manage/import/0123456789abcdef", UPLOAD),
    ("imports.cancel", "POST"): ("/manage/import/0123456789abcdef/cancel", UPLOAD),
    ("imports.confirm", "POST"): ("/manage/import/0123456789abcdef/confirm", UPLOAD),
    ("api.layer_definitions", "GET"): ("/api/v1/layers", SIGNED_IN),
    ("api.counties", "GET"): ("/api/v1/counties", SIGNED_IN),
    ("api.layer_features", "GET"): ("/api/v1/layers/sanitation_zones/features", SIGNED_IN),
    ("api.site", "GET"): ("/api/v1/sites/{site}", OWN_SITE),
    ("reports_api.file_report", "POST"): ("/api/v1/sites/{site}/reports", {**OWN_SITE, "planner": "no"}),
    ("reports_api.list_reports", "GET"): ("/api/v1/reports", SIGNED_IN),
    ("reports_api.review", "POST"): ("/api/v1/reports/{report}/review", MANAGERS),
    ("sites_api.create", "POST"): ("/api/v1/layers/sanitation_zones/sites", MANAGERS),
    ("sites_api.merge", "POST"): ("/api/v1/layers/sanitation_zones/merge", MANAGERS),
    ("sites_api.edit", "PATCH"): ("/api/v1/sites/{site}", MANAGERS),
    # a base version that never was: the request passes the access check, then 409 deletes nothing
    ("sites_api.delete", "DELETE"): ("/api/v1/sites/{site}?base_version=999", MANAGERS),
    ("sites_api.split", "POST"): ("/api/v1/sites/{site}/split", MANAGERS),
    ("sites_api.versions", "GET"): ("/api/v1/sites/{site}/versions", OWN_SITE),
    ("sites_api.version", "GET"): ("/api/v1/sites/{site}/versions/1", OWN_SITE),
    ("sites_api.restore", "POST"): ("/api/v1/sites/{site}/versions/1/restore", MANAGERS),
    ("exports.sites", "GET"): ("/api/v1/export/sanitation_zones.csv", MANAGERS),
    ("exports.reports", "GET"): ("/api/v1/export/sanitation_zones/reports.csv", MANAGERS),
    ("ogc.landing", "GET"): ("/ogc/", READERS),
    ("ogc.conformance", "GET"): ("/ogc/conformance", READERS),
    ("ogc.api", "GET"): ("/ogc/api", READERS),
    ("ogc.collection_list", "GET"): ("/ogc/collections", READERS),
    ("ogc.collection", "GET"): ("/ogc/collections/sanitation_zones", READERS),
    ("ogc.items", "GET"): ("/ogc/collections/sanitation_zones/items", READERS),
    ("ogc.item", "GET"): ("/ogc/collections/sanitation_zones/items/{site}", READERS),
}


def _routes(app) -> set[tuple[str, str]]:
    return {(rule.endpoint, method) for rule in app.url_map.iter_rules()
            for method in rule.methods - {"HEAD", "OPTIONS"}}


@pytest.mark.backends("sqlite")  # the URL map
def test_every_route_has_a_rule(app):
    missing = sorted(_routes(app) - set(RULES))
    assert not missing, f"routes with no access rule in RULES: {missing}"
    assert not sorted(set(RULES) - _routes(app)), "RULES names routes the app no longer has"


@pytest.fixture
def world(app):
    """A zone assigned to `worker` with a report and a photo; `other_worker` has no site; a token each."""
    now = datetime.now(UTC)
    with app.app_context():
        with get_uow(write=True) as uow:
            site = next(uow.sites.find(layer_id="sanitation_zones"))
            accounts.assign_sites("worker", [site.id], uow=uow, user=system_user("test"), now=now)
        for name, role in (("other_worker", "worker"), ("target", "planner")):  # target: of the admin forms
            with get_uow(write=True) as uow:
                services.add_user(name, role, "another password 1", uow=uow, user=system_user("test"),
                                  now=now)
        with get_uow(write=True) as uow:
            report = add_report(uow, site.id, "worker", checklist=ALL_PASS, observed_at=now, photos=1,
                                media_url=app.config["ONEMAP"].media_url)
            photo = uow.photos.ids_by_report([report])[report][0]
            uow.commit()
        tokens = {}
        for role in ROLES[1:]:
            with get_uow(write=True) as uow:
                tokens[role] = services.issue_token(role, uow=uow, user=system_user("test"), now=now)
    return {"site": site.id, "report": report, "photo": photo, "tokens": tokens}


def _outcome(response) -> str:
    status = response.status_code
    if status == 401 or (status == 302 and "/login" in response.headers.get("Location", "")):
        return "login"
    return {403: "no", 404: "unseen"}.get(status, "in")


@pytest.mark.backends("sqlite")  # access rules do not depend on the database; the app's tests run on both
def test_each_role_gets_exactly_the_access_its_rule_says(app, world):
    client = app.test_client()
    wrong = []
    for (endpoint, method), (path, expected) in sorted(RULES.items()):
        url = path.format(site=world["site"], report=world["report"], photo=world["photo"])
        for role in ROLES:
            headers = {} if role == "anonymous" else {"Authorization": f"Bearer {world['tokens'][role]}"}
            # A report part, so that filing reaches the access check (an empty body is refused first,
            # for every site alike); it is refused after it, as an empty report.
            filing = endpoint == "reports_api.file_report"
            with client.open(url, method=method, headers=headers, data={"report": "{}"} if filing else None,
                             content_type="multipart/form-data" if filing else None) as response:
                got = _outcome(response)
            if got != expected[role]:
                wrong.append(f"{method} {url} as {role}: {got} (HTTP {response.status_code}), "
                             f"expected {expected[role]}")
    assert not wrong, "\n".join(wrong)
