"""Hostile site geometries and bodies sent to the planning API: each refused with the status CONTRACT.md
names and a message, and nothing written (the layer's count and the site's versions unchanged)."""

import pytest

from tests.factories import ATTRS, bearer, free_square
from webapp.context import get_uow

X, Y = 122.2, 41.7


def _ring(n):
    return [[X + 0.01 * (i % 2), Y + 0.0001 * i] for i in range(n)] + [[X, Y]]


HOSTILE = [
    ("unclosed ring", {"type": "Polygon", "coordinates": [[[X, Y], [X + .01, Y], [X + .01, Y + .01]]]}, 422),
    ("self-intersection", {"type": "Polygon", "coordinates": [[[X, Y], [X + .01, Y + .01], [X + .01, Y],
                                                               [X, Y + .01], [X, Y]]]}, 422),
    ("NaN", {"type": "Point", "coordinates": [float("nan"), Y]}, 400),  # not JSON at all
    ("Infinity", {"type": "Point", "coordinates": [float("inf"), Y]}, 400),
    ("a string coordinate", {"type": "Point", "coordinates": ["122.2", Y]}, 422),
    ("a boolean coordinate", {"type": "Point", "coordinates": [True, Y]}, 422),
    ("out of range", {"type": "Point", "coordinates": [X, 95.0]}, 422),
    ("swapped lat/lon", {"type": "Point", "coordinates": [Y, X]}, 422),
    ("no coordinates", {"type": "Polygon"}, 422),
    ("a geometry collection", {"type": "GeometryCollection", "geometries": []}, 422),
    ("a Feature, not a geometry", {"type": "Feature", "geometry": None, "properties": {}}, 422),
    ("200,000 vertices", {"type": "Polygon", "coordinates": [_ring(200_000)]}, 422),
    ("nested 100,000 deep", None, 400),  # the body is built in the test
]


def _count(app):
    with app.app_context(), get_uow() as uow:
        return uow.sites.count("sanitation_zones")


@pytest.mark.backends("sqlite")  # refused before anything is stored; the stored 3D one below runs on both
@pytest.mark.parametrize("what, geometry, status", HOSTILE, ids=[h[0] for h in HOSTILE])
def test_a_hostile_geometry_is_refused_and_nothing_is_written(app, client, what, geometry, status):
    manager = bearer(app, "manager")
    before = _count(app)
    if geometry is None and status == 400:  # deeper than a JSON parser follows
        body = b'{"name": "x", "geometry": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"
        answer = client.post("/api/v1/layers/sanitation_zones/sites", data=body,
                             headers={**manager, "Content-Type": "application/json"})
    else:
        answer = client.post("/api/v1/layers/sanitation_zones/sites", headers=manager,
                             json={"name": "x", "geometry": geometry, "attributes": ATTRS})
    body = answer.get_json()
    assert answer.status_code == status, body
    assert body["message"] and body.get("field") in ("geometry", "body")
    assert _count(app) == before


def test_a_3d_geometry_is_accepted_flattened_to_2d(app, client):
    """Drawn in free space, so that only the third dimension is in question; each store keeps it flat."""
    manager = bearer(app, "manager")
    before = _count(app)
    ring = free_square(app)["coordinates"][0]
    geometry = {"type": "Polygon", "coordinates": [[[x, y, 5] for x, y in ring]]}
    answer = client.post("/api/v1/layers/sanitation_zones/sites", headers=manager,
                         json={"name": "x", "geometry": geometry, "attributes": ATTRS})
    body = answer.get_json()
    assert answer.status_code == 201, body
    assert _count(app) == before + 1
    with app.app_context(), get_uow() as uow:
        assert not uow.sites.get(body["id"]).geometry.has_z


@pytest.mark.parametrize("name", ["<script>alert(1)</script>", "'; DROP TABLE sites; --", "村\u202e名"])
def test_hostile_names_are_stored_as_text_and_shown_as_text(app, client, auth, name):
    manager = bearer(app, "manager")
    created = client.post("/api/v1/layers/sanitation_zones/sites", headers=manager,
                          json={"name": name, "geometry": free_square(app), "attributes": ATTRS})
    assert created.status_code == 201, created.get_json()
    site_id = created.get_json()["id"]
    assert client.get(f"/api/v1/sites/{site_id}", headers=manager).get_json()["properties"]["name"] == name
    auth.login_as("manager")
    page = client.get(f"/sites/{site_id}").get_data(as_text=True)
    assert "<script>alert(1)</script>" not in page
    assert _count(app) > 0  # the table is still there
