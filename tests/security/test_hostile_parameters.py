"""SQL-like strings, huge numbers and nonsense in every filter parameter: each listing answers 200 with
what matches (nothing, for a string no name contains) or 400 naming the parameter — never a 500, and
the data is still there afterwards."""

import pytest

from tests.factories import bearer
from webapp.context import get_uow

SQL = ["' OR '1'='1", "1; DROP TABLE sites; --", "%", "_", "\\",
       "村' UNION SELECT password_hash FROM users --", "\u0000", "𠀀" * 300]
HUGE = ["99999999999999999999999", "-1", "1e308", "NaN", "0x10", ""]
BBOXES = ["-1e308,-1e308,1e308,1e308", "-180,-90,180,90", "1,2,3", "a,b,c,d", "180,90,-180,-90",
          "121,41,121,41"]

# (path, parameter, values)
CASES = [
    ("/api/v1/layers/sanitation_zones/features", "q", SQL),
    ("/api/v1/layers/sanitation_zones/features", "county", SQL),
    ("/api/v1/layers/sanitation_zones/features", "status", SQL),
    ("/api/v1/layers/sanitation_zones/features", "bbox", BBOXES + SQL),
    ("/api/v1/layers/sanitation_zones/features", "zoom", HUGE + SQL),
    ("/api/v1/layers/sanitation_zones/features", "as_of", SQL + HUGE),
    ("/api/v1/reports", "site", HUGE + SQL),
    ("/api/v1/reports", "status", SQL),
    ("/api/v1/reports", "since", SQL),
    ("/api/v1/reports", "limit", HUGE),
    ("/ogc/collections/sanitation_zones/items", "limit", HUGE + SQL),
    ("/ogc/collections/sanitation_zones/items", "offset", HUGE + SQL),
    ("/ogc/collections/sanitation_zones/items", "bbox", BBOXES + SQL),
    ("/ogc/collections/sanitation_zones/items", "datetime", SQL + HUGE),
    ("/ogc/collections/sanitation_zones/items", "status", SQL),
    ("/ogc/collections/sanitation_zones/items", "county", SQL),
    ("/api/v1/export/sanitation_zones.geojson", "status", SQL),
    ("/api/v1/export/sanitation_zones.geojson", "county", SQL),
    ("/api/v1/export/sanitation_zones.geojson", "bbox", BBOXES),
    ("/api/v1/export/sanitation_zones.geojson", "since", SQL),
    ("/api/v1/export/sanitation_zones/reports.csv", "until", SQL),
]


@pytest.mark.backends("sqlite", "postgis")
@pytest.mark.parametrize("path, name, values", CASES, ids=[f"{p} {n}" for p, n, _ in CASES])
def test_hostile_filter_values_get_200_or_a_400_naming_the_parameter(app, client, path, name, values):
    manager = bearer(app, "manager")
    with app.app_context(), get_uow() as uow:
        before = uow.sites.count()
    for value in values:
        answer = client.get(path, query_string={name: value}, headers=manager)
        assert answer.status_code in (200, 400), (name, value, answer.status_code, answer.get_data()[:300])
        if answer.status_code == 400:
            body = answer.get_json()
            assert name in (body.get("field") or "") + body["message"], (name, value, body)
        answer.close()
    with app.app_context(), get_uow() as uow:
        assert uow.sites.count() == before


@pytest.mark.backends("sqlite")  # refused before any query
def test_a_nul_character_anywhere_is_a_400_naming_where(app, client):
    from tests.factories import report, token_for
    from tests.webapp.test_reports_api import post

    manager = bearer(app, "manager")
    with app.app_context(), get_uow() as uow:
        zone = next(uow.sites.find(layer_id="sanitation_zones"))
        before = uow.reports.count()
    answer = client.post("/api/v1/layers/sanitation_zones/sites", headers=manager,
                         json={"name": "村\u0000", "geometry": {"type": "Point", "coordinates": [1, 2]}})
    assert answer.status_code == 400 and answer.get_json()["field"] == "body"
    filed = post(client, zone.id, report(zone, note="清理\u0000完毕"), token=token_for(app, "manager"))
    assert filed.status_code == 400 and filed.get_json()["field"] == "report"
    with app.app_context(), get_uow() as uow:
        assert uow.reports.count() == before
