"""Export downloads over HTTP (who may, what comes back, parameters, audit) and `onemap export`."""

import csv
import io
import json
import tempfile
import uuid
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from xml.etree import ElementTree

import pyogrio
import pytest
import shapely
from click.testing import CliRunner

from geo import accounts
from geo.access import system_user
from geo.io.formats import FORMATS as FORMATS_TABLE
from tests.factories import ALL_PASS, add_report, bearer, jpeg, shipped_count
from webapp.cli import main
from webapp.context import get_uow

ZONES = "sanitation_zones"
VILLAGES = shipped_count("sanitation_zones")  # the village zones data/jinzhou ships
FORMATS = ("geojson", "gpkg", "csv", "kml", "xlsx")
TODAY = datetime.now(timezone(timedelta(hours=8))).date().isoformat()  # dates are China Standard Time


def read(response, fmt, tmp_path, **options):
    """The downloaded file, written to disk and read back with pyogrio."""
    path = tmp_path / f"download.{fmt}"
    path.write_bytes(response.get_data())
    return pyogrio.read_dataframe(path, **options)


def last_audit(app):
    with app.app_context(), get_uow() as uow:
        return uow.audit.recent(1)[0]


# ---------------------------------------------------------------- who may
@pytest.mark.backends("sqlite")  # refused or let in before any query
def test_anonymous_is_401(client):
    response = client.get(f"/api/v1/export/{ZONES}.geojson")
    assert response.status_code == 401 and response.get_json()["error"] == "unauthorized"


@pytest.mark.backends("sqlite")  # refused or let in before any query
@pytest.mark.parametrize("role", ["planner", "worker"])
@pytest.mark.parametrize("path", [f"{ZONES}.geojson", f"{ZONES}.csv", f"{ZONES}/reports.geojson"])
def test_planners_and_workers_are_403(client, auth, role, path):
    auth.login_as(role)
    response = client.get(f"/api/v1/export/{path}")
    assert response.status_code == 403 and response.get_json()["error"] == "forbidden"


@pytest.mark.backends("sqlite")  # refused or let in before any query
@pytest.mark.parametrize("role", ["manager", "admin"])
def test_managers_and_admins_download(client, auth, role):
    auth.login_as(role)
    response = client.get(f"/api/v1/export/{ZONES}.geojson")
    assert response.status_code == 200 and response.mimetype == "application/geo+json"
    assert len(json.loads(response.get_data())["features"]) == VILLAGES


@pytest.mark.backends("sqlite")  # refused or let in before any query
def test_a_bearer_token_works(app, client):
    response = client.get(f"/api/v1/export/{ZONES}.csv", headers=bearer(app, "manager"))
    assert response.status_code == 200 and response.get_data().startswith(b"\xef\xbb\xbf")
    worker = client.get(f"/api/v1/export/{ZONES}.csv", headers=bearer(app, "worker"))
    assert worker.status_code == 403


# ---------------------------------------------------------------- what comes back
@pytest.mark.parametrize("fmt", FORMATS)
def test_every_format_downloads_under_its_name(app, client, auth, tmp_path, fmt):
    auth.login_as("manager")
    response = client.get(f"/api/v1/export/{ZONES}.{fmt}")
    assert response.status_code == 200
    assert response.headers["Content-Disposition"] == f"attachment; filename={ZONES}-{TODAY}.{fmt}"
    assert response.headers["Content-Type"] == FORMATS_TABLE[fmt].media_type
    table = read(response, fmt, tmp_path, read_geometry=fmt != "xlsx")
    assert len(table) == VILLAGES
    if fmt in ("geojson", "gpkg", "kml"):
        assert pyogrio.read_info(tmp_path / f"download.{fmt}")["crs"] == "EPSG:4326"
    entry = last_audit(app)
    assert (entry.actor, entry.action, entry.target) == ("manager", "sites.export", f"layer:{ZONES}")
    assert entry.detail | {"lang": None} == {"format": fmt, "filters": {}, "lang": None, "count": VILLAGES,
                                            "complete": True}


def test_a_name_that_is_not_ascii_gets_an_rfc_5987_filename():
    from webapp.blueprints.exports import _attachment

    value = _attachment("锦州-2026-05-01.csv")["Content-Disposition"]
    assert value == "attachment; filename=-2026-05-01.csv; filename*=UTF-8''%E9%94%A6%E5%B7%9E-2026-05-01.csv"


def test_geojson_is_streamed(client, auth):
    auth.login_as("manager")
    response = client.get(f"/api/v1/export/{ZONES}.geojson", buffered=False)
    assert response.is_streamed and response.content_length is None
    chunks = list(response.response)
    response.close()
    assert len(chunks) > 2  # the opening, a chunk per batch of sites, the closing
    collection = json.loads(b"".join(chunks))
    assert "crs" not in collection
    ring = shapely.LinearRing(collection["features"][0]["geometry"]["coordinates"][0])
    assert ring.is_ccw


@pytest.mark.backends("sqlite")  # not storage
def test_no_temporary_file_is_left(client, auth, tmp_path, monkeypatch):
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "tmp"))
    (tmp_path / "tmp").mkdir()
    auth.login_as("manager")
    for fmt in ("gpkg", "xlsx"):
        response = client.get(f"/api/v1/export/{ZONES}.{fmt}")
        assert response.status_code == 200 and len(response.get_data()) == response.content_length
        response.close()
    assert list((tmp_path / "tmp").iterdir()) == []


@pytest.mark.backends("sqlite")  # not storage
@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_column_headers_follow_the_language(client, auth, tmp_path, fmt):
    auth.login_as("manager")
    default = read(client.get(f"/api/v1/export/{ZONES}.{fmt}"), fmt, tmp_path, read_geometry=False)
    assert {"名称", "状态", "乡镇（街道）", "最近巡查时间", "有效报告数"} <= set(default.columns)
    english = read(client.get(f"/api/v1/export/{ZONES}.{fmt}?lang=en"), fmt, tmp_path, read_geometry=False)
    assert {"Name", "Status", "Township", "Last inspected", "Reports (not rejected)"} <= set(english.columns)
    assert set(english["Status"]) == {"Never inspected"}


@pytest.mark.backends("sqlite")  # not storage
def test_without_lang_the_users_interface_language_is_used(client, auth, tmp_path):
    auth.login_as("manager")
    client.get("/?lang=en")  # the user switched the interface to English
    table = read(client.get(f"/api/v1/export/{ZONES}.csv"), "csv", tmp_path, read_geometry=False)
    assert "Name" in table.columns and "名称" not in table.columns


def test_filters_reach_the_export_and_the_audit(app, client, auth):
    with app.app_context(), get_uow(write=True) as uow:
        zone = next(uow.sites.find(layer_id=ZONES))
        add_report(uow, zone.id, "worker", checklist=ALL_PASS,
                   observed_at=datetime.now(UTC) - timedelta(days=1))
        uow.commit()
    auth.login_as("manager")
    since = (datetime.now(UTC) - timedelta(days=2)).date().isoformat()
    response = client.get(f"/api/v1/export/{ZONES}.geojson?status=ok&county=210726&since={since}"
                          f"&bbox=118,38,124,44")
    (only,) = json.loads(response.get_data())["features"]
    assert only["id"] == zone.id and only["properties"]["status"] == "ok"
    assert only["properties"]["report_count"] == 1 and only["properties"]["last_result"] == "pass"
    detail = last_audit(app).detail
    assert detail["count"] == 1 and detail["filters"]["status"] == ["ok"]
    assert detail["filters"]["county"] == "210726" and detail["filters"]["bbox"] == [118, 38, 124, 44]
    assert detail["filters"]["since"] == f"{since}T00:00:00+08:00"


# ---------------------------------------------------------------- bad requests
@pytest.mark.backends("sqlite")  # refused or let in before any query
@pytest.mark.parametrize(("query", "field"), [
    ("status=finished", "status"),
    ("bbox=1,2,3", "bbox"),
    ("bbox=10,10,5,5", "bbox"),
    ("county=999999", "county"),
    ("since=yesterday", "since"),
    ("until=2026-05-01T08:00:00", "until"),
    ("since=2026-05-02&until=2026-05-01", "until"),
    ("lang=fr", "lang"),
])
@pytest.mark.parametrize("fmt", ["geojson", "gpkg"])
def test_bad_parameters_are_400_naming_the_parameter(app, client, auth, query, field, fmt):
    auth.login_as("manager")
    response = client.get(f"/api/v1/export/{ZONES}.{fmt}?{query}")
    assert response.status_code == 400
    body = response.get_json()
    assert body["error"] == "bad_parameter" and body["field"] == field and body["message"].startswith(field)


@pytest.mark.backends("sqlite")  # refused or let in before any query
def test_unknown_layer_and_format_are_404(client, auth):
    auth.login_as("manager")
    layer = client.get("/api/v1/export/villages.geojson")
    assert layer.status_code == 404 and "villages" in layer.get_json()["message"]
    for path in (f"{ZONES}.shp", f"{ZONES}.pdf", f"{ZONES}/reports.zip"):
        response = client.get(f"/api/v1/export/{path}")
        assert response.status_code == 404
        assert "geojson, gpkg" in response.get_json()["message"]


# ---------------------------------------------------------------- reports
@pytest.fixture
def filed(app, client):
    """A report filed through the API by a worker (GPS fix, two photos) and one without a fix."""
    with app.app_context(), get_uow(write=True) as uow:
        zone, other = list(uow.sites.find(layer_id=ZONES, limit=2))
        accounts.assign_sites("worker", [zone.id], uow=uow, user=system_user("test"), now=datetime.now(UTC))
        unfixed = add_report(uow, other.id, "manager", checklist=ALL_PASS, metrics={"seedlings": 40},
                             observed_at=datetime.now(UTC) - timedelta(days=3))
        uow.commit()
    point = zone.geometry.representative_point()
    body = {"uuid": str(uuid.uuid4()), "checklist": ALL_PASS | {"neatly_stacked": "fail"},
            "metrics": {"person_times": 12, "garbage_tonnes": 2.5}, "note": "柴草堆放不整齐",
            "gps": {"lat": round(point.y, 6), "lon": round(point.x, 6), "accuracy": 6},
            "observed_at": datetime.now(UTC).astimezone().isoformat()}
    response = client.post(
        f"/api/v1/sites/{zone.id}/reports", headers=bearer(app, "worker"), content_type="multipart/form-data",
        data={"report": json.dumps(body, ensure_ascii=False),
              "photos": [(io.BytesIO(jpeg()), "a.jpg"), (io.BytesIO(jpeg((9, 9, 9))), "b.jpg")]})
    assert response.status_code == 201, response.get_json()
    app.extensions["onemap.photo_jobs"].submit(lambda: None).result(timeout=30)  # copies made
    return {"report": response.get_json(), "body": body, "zone": zone, "other": other, "unfixed": unfixed}


def test_reports_export_holds_each_report_at_its_fix(app, client, auth, filed):
    auth.login_as("manager")
    response = client.get(f"/api/v1/export/{ZONES}/reports.geojson")
    assert response.status_code == 200
    assert response.headers["Content-Disposition"] == f"attachment; filename={ZONES}-reports-{TODAY}.geojson"
    features = {f["id"]: f for f in json.loads(response.get_data())["features"]}
    assert set(features) == {filed["report"]["id"], filed["unfixed"]}
    mine = features[filed["report"]["id"]]
    gps = filed["body"]["gps"]
    assert mine["geometry"]["coordinates"] == [gps["lon"], gps["lat"]]
    p = mine["properties"]
    assert (p["uuid"], p["site_id"], p["filed_by"], p["location"]) == (
        filed["body"]["uuid"], filed["zone"].id, "worker", "gps")
    answers = (p["check_neatly_stacked"], p["check_swept_clean"], p["metric_garbage_tonnes"])
    assert answers == ("fail", "pass", 2.5)
    assert p["note"] == "柴草堆放不整齐" and len(p["photos"]) == 2
    for link in p["photos"]:  # absolute links to the photo route, which answers a logged-in manager
        assert link.startswith("http://localhost/media/photos/") and link.endswith("/display")
        with client.get(link.removeprefix("http://localhost")) as photo:
            assert photo.status_code == 200 and photo.mimetype == "image/jpeg"
    other = features[filed["unfixed"]]["properties"]
    assert other["location"] == "site" and other["metric_seedlings"] == 40
    entry = last_audit(app)
    assert (entry.action, entry.detail["count"], entry.detail["complete"]) == ("reports.export", 2, True)


@pytest.mark.parametrize("fmt", ["gpkg", "csv", "kml", "xlsx"])
def test_reports_export_in_other_formats(app, client, auth, filed, tmp_path, fmt):
    auth.login_as("admin")
    response = client.get(f"/api/v1/export/{ZONES}/reports.{fmt}?lang=en")
    assert response.status_code == 200
    table = read(response, fmt, tmp_path, read_geometry=fmt != "xlsx")
    assert len(table) == 2
    if fmt in ("csv", "xlsx"):
        assert {"Neatly stacked", "Garbage removed (t)", "Photo links", "Filed by"} <= set(table.columns)


def test_reports_export_filters(client, auth, filed):
    auth.login_as("manager")
    since = (datetime.now(UTC) - timedelta(days=1)).isoformat()
    response = client.get(f"/api/v1/export/{ZONES}/reports.geojson", query_string={"since": since})
    assert [f["id"] for f in json.loads(response.get_data())["features"]] == [filed["report"]["id"]]
    bad = client.get(f"/api/v1/export/{ZONES}/reports.csv?until=soon")
    assert bad.status_code == 400 and bad.get_json()["field"] == "until"


# ---------------------------------------------------------------- the command line
@pytest.fixture
def run(app, monkeypatch):
    monkeypatch.setenv("ONEMAP_LANG", "en")  # these tests read the command's English lines
    monkeypatch.setenv("ONEMAP_INSTANCE", str(app.config["ONEMAP"].instance))
    monkeypatch.setenv("ONEMAP_DATABASE_URL", app.config["ONEMAP"].database_url)
    runner = CliRunner()

    def invoke(*args):
        return runner.invoke(main, list(args), catch_exceptions=False)

    return invoke


def test_cli_export_takes_since_until_and_lang(app, run, tmp_path):
    with app.app_context(), get_uow(write=True) as uow:
        zones = [s.id for s in uow.sites.find(layer_id=ZONES, limit=2)]
        for site_id, observed in zip(zones, (datetime(2026, 4, 30, 17, tzinfo=UTC),
                                             datetime(2026, 5, 2, 1, tzinfo=UTC)), strict=True):
            add_report(uow, site_id, "worker", checklist=ALL_PASS, observed_at=observed)
        uow.commit()
    out = tmp_path / "may-day.csv"
    # 17:00 UTC on 30 April is 1 May in China; 01:00 UTC on 2 May is still 2 May there
    result = run("export", ZONES, "--format", "csv", "-o", str(out), "--since", "2026-05-01",
                 "--until", "2026-05-01", "--lang", "en")
    assert result.exit_code == 0 and f"1 site(s) written to {out}" in result.output
    table = pyogrio.read_dataframe(out, read_geometry=False)
    assert table["ID"].astype(int).tolist() == [zones[0]] and "Last inspected" in table.columns
    bad = run("export", ZONES, "-o", str(tmp_path / "x.geojson"), "--since", "May")
    assert bad.exit_code == 1 and "--since: 'May' is neither a date" in bad.output
    with app.app_context(), get_uow() as uow:
        entry = uow.audit.recent(1)[0]  # the bad one wrote nothing
    assert (entry.actor, entry.action, entry.detail["lang"], entry.detail["count"]) == ("cli", "sites.export",
                                                                                        "en", 1)


def test_cli_exports_reports(app, run, filed, tmp_path):
    out = tmp_path / "reports.geojson"
    result = run("export", ZONES, "--reports", "-o", str(out), "--base-url", "https://onemap.example.org/city")
    assert result.exit_code == 0 and "2 report(s)" in result.output
    features = {f["id"]: f for f in json.loads(out.read_bytes())["features"]}
    links = features[filed["report"]["id"]]["properties"]["photos"]
    assert len(links) == 2 and all(link.startswith("https://onemap.example.org/city/media/photos/")
                                   for link in links)
    assert run("export", ZONES, "--reports", "--status", "ok", "-o", str(tmp_path / "x.csv")).exit_code == 1
    assert not Path(tmp_path / "x.csv").exists()


# ---------------------------------------------------------------- the past (as_of)
def _csv_rows(data: bytes) -> list[dict]:
    return list(csv.DictReader(io.StringIO(data.decode("utf-8-sig"))))


def _kml_placemarks(data: bytes) -> dict[str, tuple[str, object]]:
    """{site id: (name, polygon)} from the KML's Placemarks, read with ElementTree."""
    ns = {"k": "http://www.opengis.net/kml/2.2"}
    out = {}
    for mark in ElementTree.fromstring(data).iterfind(".//k:Placemark", ns):
        data_fields = {d.get("name"): d.text for d in mark.iterfind(".//k:SimpleData", ns)}
        ring = mark.find(".//k:outerBoundaryIs//k:coordinates", ns).text.split()
        polygon = shapely.Polygon([tuple(map(float, p.split(",")[:2])) for p in ring])
        out[data_fields["id"]] = (mark.findtext("k:name", namespaces=ns), polygon)
    return out


@pytest.mark.parametrize("fmt", ["csv", "xlsx", "gpkg", "kml"])
def test_a_site_export_as_of_a_past_moment_holds_the_version_of_then(app, client, tmp_path, fmt):
    from tests.factories import free_square
    from tests.webapp.test_sites_api import create

    manager = bearer(app, "manager")
    first, second = free_square(app), free_square(app, 0.006)
    site_id = create(client, manager, first).get_json()["id"]
    then = datetime.now(UTC)
    edited = client.patch(f"/api/v1/sites/{site_id}", headers=manager,
                          json={"base_version": 1, "name": "改名村", "geometry": second})
    assert edited.status_code == 200
    url = f"/api/v1/export/{ZONES}.{fmt}"
    for moment, name, shape in ((then, "新村", first), (None, "改名村", second)):
        query = {"lang": "en"} | ({"as_of": moment.isoformat()} if moment else {})
        response = client.get(url, headers=manager, query_string=query)
        assert response.status_code == 200, response.get_data(as_text=True)
        data = response.get_data()
        if fmt == "csv":
            row = next(r for r in _csv_rows(data) if r["ID"] == str(site_id))
            assert row["Name"] == name
        elif fmt == "kml":
            shown, polygon = _kml_placemarks(data)[str(site_id)]
            assert shown == name and polygon.equals_exact(shapely.geometry.shape(shape), 1e-6)
        else:
            table = read(response, fmt, tmp_path, read_geometry=fmt == "gpkg")
            key = "ID" if fmt == "xlsx" else "id"
            row = table[table[key].astype(int) == site_id].iloc[0]
            assert row["Name" if fmt == "xlsx" else "name"] == name
            if fmt == "gpkg":
                assert row.geometry.equals_exact(shapely.geometry.shape(shape), 1e-6)


@pytest.mark.backends("sqlite")  # refused or let in before any query
def test_a_report_export_refuses_as_of_naming_it(app, client, auth, tmp_path):
    auth.login_as("manager")
    for parameter, value in (("as_of", "2020-01-01"), ("status", "ok"), ("bbox", "121,41,122,42")):
        for fmt in ("geojson", "csv"):
            response = client.get(f"/api/v1/export/{ZONES}/reports.{fmt}", query_string={parameter: value})
            assert response.status_code == 400, (parameter, fmt)
            body = response.get_json()
            assert body["error"] == "bad_parameter" and body["field"] == parameter
            assert body["message"].startswith((f"{parameter}：", f"{parameter}:"))  # Chinese by default
    assert last_audit(app).action != "reports.export"  # nothing was exported


def test_a_report_export_names_the_site_version_it_was_filed_against(app, client, filed, tmp_path):
    manager = bearer(app, "manager")
    zone = filed["zone"]
    renamed = client.patch(f"/api/v1/sites/{zone.id}", headers=manager,
                           json={"base_version": 1, "name": "改名村"})
    assert renamed.status_code == 200  # the site moved on; the report still names the version it saw
    features = json.loads(client.get(f"/api/v1/export/{ZONES}/reports.geojson", headers=manager).get_data())
    shown = {f["id"]: f["properties"]["site_version"] for f in features["features"]}
    assert shown[filed["report"]["id"]] == 1
    response = client.get(f"/api/v1/export/{ZONES}/reports.csv?lang=en", headers=manager)
    rows = {r["ID"]: r for r in _csv_rows(response.get_data())}
    assert rows[str(filed["report"]["id"])]["Site version filed against"] == "1"
    zh = _csv_rows(client.get(f"/api/v1/export/{ZONES}/reports.csv?lang=zh_CN", headers=manager).get_data())
    assert "填报时站点版本" in zh[0]
