"""geo.exports: every format written and read back, RFC 7946 GeoJSON, filters against independent truth,
audit entries, and the reports export."""

import json
import re
from datetime import UTC, datetime, timedelta, timezone

import numpy as np
import pandas as pd
import pyogrio
import pytest
import shapely
import sqlalchemy as sa

from geo import exports, report_exports, times
from geo.layers import value_label
from geo.model import InvalidInput, Site
from geo.storage import schema as t
from tests.factories import ALL_PASS, add_report, shipped_count

NOW = datetime.now(UTC).replace(microsecond=0)
ZONES = "sanitation_zones"
CST = timezone(timedelta(hours=8))


@pytest.fixture
def loaded(loaded_store):
    """A store with the Jinzhou dataset and a user per role (a copy of the session's template)."""
    return loaded_store


@pytest.fixture
def seeded(loaded):
    """Four village zones with reports; what the map must show for each is known by hand."""
    with loaded.unit_of_work(write=True) as uow:
        a, b, c, d = [s.id for s in uow.sites.find(layer_id=ZONES, limit=4)]
        add_report(uow, a, "worker", checklist=ALL_PASS, metrics={"person_times": 5},
                   observed_at=NOW - timedelta(days=1))
        add_report(uow, b, "worker", checklist=ALL_PASS | {"swept_clean": "fail"},
                   observed_at=NOW - timedelta(days=2))
        add_report(uow, c, "worker", checklist=ALL_PASS, observed_at=NOW - timedelta(days=20))
        add_report(uow, d, "worker", checklist=ALL_PASS, observed_at=NOW - timedelta(days=3),
                   status="approved")
        add_report(uow, d, "worker", checklist=ALL_PASS | {"waste_converted": "fail"},  # does not count
                   observed_at=NOW - timedelta(days=1), status="rejected")
        uow.commit()
    return {"ok": a, "needs_attention": b, "overdue": c, "ok_after_rejection": d}


def truth(seeded, site_id):
    """(status, report_count, days since the last inspection that counts) as a person would work them out."""
    known = {seeded["ok"]: ("ok", 1, 1), seeded["needs_attention"]: ("needs_attention", 1, 2),
             seeded["overdue"]: ("overdue", 1, 20), seeded["ok_after_rejection"]: ("ok", 1, 3)}
    return known.get(site_id, ("never_inspected", 0, None))


def export(store, layers, path, fmt="geojson", layer=ZONES, **options):
    with store.unit_of_work() as uow:
        return exports.export_sites(layers[layer], path, fmt, uow=uow, actor="test", now=NOW, **options)


def stored_sites(store, layer=ZONES) -> dict[int, Site]:
    with store.unit_of_work() as uow:
        return {site.id: site for site in uow.sites.find(layer_id=layer)}


def exported_ids(store, layers, tmp_path, layer=ZONES, **filters) -> set[int]:
    path = tmp_path / "filtered.geojson"
    export(store, layers, path, layer=layer, filters=exports.SiteExportFilter(**filters))
    return {f["id"] for f in json.loads(path.read_bytes())["features"]}


# ---------------------------------------------------------------- GeoJSON per RFC 7946
def _reject_constant(name):
    raise ValueError(f"{name} is not JSON")


def test_geojson_is_strict_rfc7946(loaded, layers, tmp_path):
    # Written the wrong way round on purpose: clockwise exterior, counter-clockwise hole, 9 decimals,
    # and a multipolygon (it takes GEOS's own writer) with a clockwise part.
    outer = [(121.9, 41.5), (121.9, 41.6), (122.0, 41.6), (122.0, 41.5)]
    hole = [(121.93, 41.53), (121.97, 41.53), (121.97, 41.57), (121.93, 41.57)]
    holed = shapely.Polygon([(x + 1.23456789e-7, y) for x, y in outer], [hole])
    multi = shapely.MultiPolygon([shapely.Polygon(outer).buffer(0.001),
                                  shapely.box(122.1, 41.5, 122.2, 41.6, ccw=False)])
    with loaded.unit_of_work(write=True) as uow:
        ids = [uow.sites.add(Site(None, ZONES, name, geometry, "never_inspected", None, ref, {}), NOW,
                             actor="test")
               for name, geometry, ref in (("holed", holed, "t-holed"), ("multi", multi, "t-multi"))]
        uow.commit()
    path = tmp_path / "zones.geojson"
    assert export(loaded, layers, path) == 112
    raw = path.read_bytes()
    collection = json.loads(raw, parse_constant=_reject_constant)
    assert set(collection) == {"type", "features"} and collection["type"] == "FeatureCollection"
    assert all("crs" not in f for f in collection["features"])
    for text in re.findall(rb'"coordinates":([-\d.,\[\]eE+]+)', raw):
        assert b"e" not in text.lower()
        assert max(len(d) for d in re.findall(rb"\.(\d+)", text)) <= 7
    by_id = {f["id"]: f for f in collection["features"]}
    sites = stored_sites(loaded)
    for site_id, item in by_id.items():
        geometry = shapely.geometry.shape(item["geometry"])
        polygons = geometry.geoms if geometry.geom_type == "MultiPolygon" else [geometry]
        for polygon in polygons:
            assert polygon.exterior.is_ccw and not any(ring.is_ccw for ring in polygon.interiors)
        assert geometry.normalize().equals_exact(sites[site_id].geometry.normalize(), 1e-6)
        lon, lat = polygons[0].exterior.coords[0]
        assert 118 < lon < 124 and 38 < lat < 44  # lon first, WGS84 degrees
    holed_out = by_id[ids[0]]["geometry"]
    assert holed_out["type"] == "Polygon" and len(holed_out["coordinates"]) == 2
    assert by_id[ids[1]]["geometry"]["type"] == "MultiPolygon"


def test_points_and_lines_keep_their_type(loaded, layers, tmp_path):
    path = tmp_path / "port.geojson"
    export(loaded, layers, path, layer="port_multimodal")
    features = json.loads(path.read_bytes())["features"]
    sites = stored_sites(loaded, "port_multimodal")
    assert {f["id"] for f in features} == set(sites)
    for item in features:
        geometry = shapely.geometry.shape(item["geometry"])
        assert geometry.geom_type == sites[item["id"]].geometry.geom_type
        assert geometry.equals_exact(sites[item["id"]].geometry, 1e-6)


def test_the_stream_and_the_file_hold_the_same_bytes(seeded, loaded, layers, tmp_path):
    path = tmp_path / "zones.geojson"
    export(loaded, layers, path)
    streamed = b"".join(exports.stream_sites(layers[ZONES], store=loaded, actor="test", now=NOW))
    assert streamed == path.read_bytes()


# ---------------------------------------------------------------- every format, read back
def _norm(value):
    """A value as text, whatever type a format brought it back as (CSV: all text; KML: booleans as 0/1)."""
    if value is None or (pd.api.types.is_scalar(value) and pd.isna(value)) or value == "":
        return None
    if isinstance(value, bool | np.bool_):
        return str(int(value))
    if isinstance(value, float | np.floating):
        return str(int(value)) if float(value).is_integer() else repr(float(value))
    if isinstance(value, int | np.integer):
        return str(int(value))
    if isinstance(value, datetime | pd.Timestamp):  # GeoJSON times come back parsed, at milliseconds
        return pd.Timestamp(value).tz_convert(UTC).floor("ms").isoformat()
    if isinstance(value, str) and re.match(r"^\d{4}-\d\d-\d\dT\d\d:", value):
        return pd.Timestamp(value).tz_convert(UTC).floor("ms").isoformat()
    return {"True": "1", "False": "0", "true": "1", "false": "0"}.get(value, value)


def _read_back(path, fmt):
    """{id: (properties by key, geometry)} of an exported file, and the columns as written."""
    if fmt == "xlsx":  # a table for spreadsheets: the geometry is WKT text
        table = pyogrio.read_dataframe(path)
        geometries = shapely.from_wkt(table["WKT"])
    else:
        table = pyogrio.read_dataframe(path, fid_as_index=(fmt == "geojson"))
        geometries = np.asarray(table.geometry)
    return table, geometries


COLUMN = {  # how each format names what OneMap calls `id` and `name`
    "geojson": {"name": "name"}, "gpkg": {"id": "id", "name": "name"}, "kml": {"id": "id2", "name": "Name"},
}


@pytest.mark.parametrize("fmt", ["geojson", "gpkg", "csv", "kml", "xlsx"])
def test_every_format_round_trips(seeded, loaded, layers, tmp_path, fmt):
    layer = layers[ZONES]
    path = tmp_path / f"zones.{fmt}"
    assert export(loaded, layers, path, fmt) == shipped_count(ZONES)
    assert sorted(p.name for p in tmp_path.iterdir() if p.name != "instance") == [path.name]  # nothing left
    if fmt in ("geojson", "gpkg", "kml"):
        assert pyogrio.read_info(path)["crs"] == "EPSG:4326"
    headers = exports.site_headers(layer, "zh_CN") if fmt in ("csv", "xlsx") else COLUMN[fmt]
    table, geometries = _read_back(path, fmt)
    ids = table.index if fmt == "geojson" else table[headers.get("id", "id")]
    sites = stored_sites(loaded)
    assert sorted(int(i) for i in ids) == sorted(sites)
    people = fmt in ("csv", "xlsx")  # tables for people: labels, county names, local times (no codes)
    with loaded.unit_of_work() as uow:
        county_names = {code: zh for code, (zh, _) in uow.counties.names().items()}
    for position, site_id in enumerate(int(i) for i in ids):
        site, row = sites[site_id], table.iloc[position]
        status, reports, days = truth(seeded, site_id)
        inspected = NOW - timedelta(days=days) if days else None
        result = {"needs_attention": "fail", "never_inspected": None}.get(status, "pass")
        expected = {"name": site.name, "status": status, "county": site.county, "ref": site.ref,
                    "status_label": layer.status(status).label["zh_CN"], "report_count": reports,
                    "last_inspected_at": inspected.isoformat() if inspected else None, "last_result": result}
        expected |= {a.name: site.attributes.get(a.name) for a in layer.attributes}
        if people:
            del expected["status"]
            assert "status" not in headers and site.county in county_names
            expected |= {"county": county_names[site.county],
                         "last_inspected_at": inspected.astimezone(CST).strftime("%Y-%m-%d %H:%M")
                         if inspected else None,
                         "last_result": {"pass": "合格", "fail": "不合格"}.get(result)}
            expected |= {a.name: {True: "是", False: "否"}[value] for a in layer.attributes
                         if isinstance(value := site.attributes.get(a.name), bool)}
            if site.attributes.get("approx_reason"):  # the dataset's English sentence, in Chinese
                expected["approx_reason"] = value_label(layer.attribute("approx_reason"),
                                                        site.attributes["approx_reason"])["zh_CN"]
        for key, value in expected.items():
            got = row[headers.get(key, key)]
            assert _norm(got) == _norm(value), (fmt, site_id, key, got, value)
        assert shapely.normalize(geometries[position]).equals_exact(site.geometry.normalize(), 1e-6)


@pytest.mark.backends("sqlite")  # the writers' labels
@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
@pytest.mark.parametrize(("lang", "name", "status"), [("zh_CN", "名称", "状态"), ("en", "Name", "Status")])
def test_tables_for_people_follow_the_language(loaded, layers, tmp_path, fmt, lang, name, status):
    path = tmp_path / f"zones.{fmt}"
    export(loaded, layers, path, fmt, lang=lang)
    table = pyogrio.read_dataframe(path, read_geometry=False)
    township = "乡镇（街道）" if lang == "zh_CN" else "Township"
    assert {name, status, township} <= set(table.columns)
    assert set(table[status]) == {"尚未巡查" if lang == "zh_CN" else "Never inspected"}
    if fmt == "csv":
        assert path.read_bytes().startswith(b"\xef\xbb\xbf")  # a BOM: Excel reads the file as UTF-8


def test_headers_never_repeat(layers):
    for definition in layers.values():
        for lang in exports.LANGUAGES:
            for make in (exports.site_headers, report_exports.report_headers):
                headers = make(definition, lang)
                assert len({h.casefold() for h in headers.values()}) == len(headers)


# ---------------------------------------------------------------- filters
def test_status_filter_is_the_status_the_map_shows(seeded, loaded, layers, tmp_path):
    everyone = set(stored_sites(loaded))
    inspected = {seeded["ok"], seeded["needs_attention"], seeded["overdue"], seeded["ok_after_rejection"]}
    assert exported_ids(loaded, layers, tmp_path, status=frozenset({"ok"})) == {
        seeded["ok"], seeded["ok_after_rejection"]}
    assert exported_ids(loaded, layers, tmp_path, status=frozenset({"needs_attention", "overdue"})) == {
        seeded["needs_attention"], seeded["overdue"]}
    never = exported_ids(loaded, layers, tmp_path, status=frozenset({"never_inspected"}))
    assert never == everyone - inspected


def test_status_filter_on_a_stage_layer(loaded, layers, tmp_path):
    with loaded.unit_of_work() as uow:
        rows = uow.connection.execute(sa.select(t.sites.c.id, t.sites.c.status)
                                      .where(t.sites.c.layer_id == "mines")).all()
    wanted = rows[0].status
    expected = {r.id for r in rows if r.status == wanted}
    assert exported_ids(loaded, layers, tmp_path, layer="mines", status=frozenset({wanted})) == expected


def test_county_filter(loaded, layers, tmp_path):
    with loaded.unit_of_work() as uow:
        rows = uow.connection.execute(sa.select(t.sites.c.id, t.sites.c.county)
                                      .where(t.sites.c.layer_id == "mines")).all()
    assert len({r.county for r in rows}) > 1  # the filter has something to tell apart
    for county in {r.county for r in rows if r.county}:
        expected = {r.id for r in rows if r.county == county}
        assert exported_ids(loaded, layers, tmp_path, layer="mines", county=county) == expected


def test_bbox_filter_keeps_what_really_meets_the_box(loaded, layers, tmp_path):
    with loaded.unit_of_work() as uow:
        rows = uow.connection.execute(sa.select(t.sites.c.id, t.sites.c.geom)
                                      .where(t.sites.c.layer_id == ZONES)).all()
    geometries = {r.id: shapely.from_wkb(r.geom) for r in rows}
    centre = geometries[rows[0].id].centroid
    box = (centre.x - 0.05, centre.y - 0.05, centre.x + 0.05, centre.y + 0.05)
    expected = {i for i, g in geometries.items() if g.intersects(shapely.box(*box))}
    assert 0 < len(expected) < len(rows)
    assert exported_ids(loaded, layers, tmp_path, bbox=box) == expected


@pytest.mark.parametrize(("since_days", "until_days", "expected"), [
    (2.5, None, {"ok", "needs_attention"}),  # the rejected report of a day ago does not count
    (None, 10, {"overdue"}),
    (5, 1.5, {"needs_attention", "ok_after_rejection"}),
    (0.5, None, set()),
])
def test_since_and_until_bound_the_last_inspection(seeded, loaded, layers, tmp_path, since_days, until_days,
                                                   expected):
    since = NOW - timedelta(days=since_days) if since_days is not None else None
    until = NOW - timedelta(days=until_days) if until_days is not None else None
    got = exported_ids(loaded, layers, tmp_path, since=since, until=until)
    assert got == {seeded[name] for name in expected}


def test_filters_combine(seeded, loaded, layers, tmp_path):
    got = exported_ids(loaded, layers, tmp_path, status=frozenset({"ok"}), since=NOW - timedelta(days=2))
    assert got == {seeded["ok"]}


@pytest.mark.parametrize(("text", "end", "expected"), [
    ("2026-05-01", False, datetime(2026, 5, 1, tzinfo=CST)),
    ("2026-05-01", True, datetime(2026, 5, 1, 23, 59, 59, 999999, tzinfo=CST)),
    ("2026-05-01T08:30:00+08:00", True, datetime(2026, 5, 1, 0, 30, tzinfo=UTC)),
    ("2026-05-01T00:30:00Z", False, datetime(2026, 5, 1, 0, 30, tzinfo=UTC)),
    ("", False, None),
    (None, True, None),
])
def test_parse_time(text, end, expected):
    assert times.parse_time(text, end=end) == expected


@pytest.mark.parametrize(("text", "problem"), [
    ("2026-05-01T08:30:00", "needs a UTC offset"),
    ("yesterday", "neither a date"),
    ("2026-13-01", "neither a date"),
])
def test_parse_time_says_what_is_wrong(text, problem):
    with pytest.raises(ValueError, match=problem):
        times.parse_time(text)


@pytest.mark.backends("sqlite")  # refused before any query
@pytest.mark.parametrize(("options", "field"), [
    ({"filters": exports.SiteExportFilter(status=frozenset({"finished"}))}, "status"),
    ({"filters": exports.SiteExportFilter(county="999999")}, "county"),
    ({"filters": exports.SiteExportFilter(since=NOW, until=NOW - timedelta(days=1))}, "until"),
    ({"lang": "fr"}, "lang"),
])
def test_bad_filters_name_the_field_and_write_nothing(loaded, layers, tmp_path, options, field):
    path = tmp_path / "x.gpkg"
    with pytest.raises(InvalidInput) as raised:
        export(loaded, layers, path, "gpkg", **options)
    assert raised.value.field == field
    assert not path.exists()


# ---------------------------------------------------------------- audit
def test_every_export_is_audited_with_its_filters_and_count(seeded, loaded, layers, tmp_path):
    export(loaded, layers, tmp_path / "a.csv", "csv",
           filters=exports.SiteExportFilter(status=frozenset({"ok"})), lang="en")
    with loaded.unit_of_work() as uow:
        entry = uow.audit.recent(1, target=f"layer:{ZONES}")[0]
    assert (entry.actor, entry.action) == ("test", "sites.export")
    assert entry.detail == {"format": "csv", "filters": {"status": ["ok"]}, "lang": "en", "count": 2,
                            "complete": True}


def test_an_abandoned_stream_is_audited_as_incomplete(loaded, layers, monkeypatch):
    monkeypatch.setattr(exports, "BATCH", 50)
    stream = exports.stream_sites(layers[ZONES], store=loaded, actor="someone", now=NOW)
    assert next(stream).startswith(b'{"type":"FeatureCollection"')
    next(stream)
    stream.close()  # the client went away
    with loaded.unit_of_work() as uow:
        entry = uow.audit.recent(1, target=f"layer:{ZONES}")[0]
    assert (entry.actor, entry.detail["complete"]) == ("someone", False)
    assert entry.detail["count"] == 50  # what was handed out before


# ---------------------------------------------------------------- reports
def photo_url(photo_id):
    return f"https://onemap.example.org/media/photos/{photo_id}/display"


@pytest.fixture
def reports(loaded, tmp_path):
    """A report with a GPS fix, answers, metrics and photos; one without a fix; one on another layer."""
    media = f"file://{tmp_path / 'instance' / 'media'}"
    with loaded.unit_of_work(write=True) as uow:
        zone, other = list(uow.sites.find(layer_id=ZONES, limit=2))
        mine = next(uow.sites.find(layer_id="mines"))
        with_fix = add_report(uow, zone.id, "worker", checklist=ALL_PASS | {"ditches_cleared": "fail"},
                              metrics={"garbage_tonnes": 1.5, "person_times": 12}, note="沟渠有积水",
                              observed_at=NOW - timedelta(hours=5), flags=["off_site"], photos=2,
                              media_url=media)
        uow.connection.execute(t.reports.update().where(t.reports.c.id == with_fix).values(
            gps_lat=41.6123456789, gps_lon=122.1234567891, gps_accuracy=8.0, distance_m=420.0))
        without_fix = add_report(uow, other.id, "manager", checklist=ALL_PASS,
                                 observed_at=NOW - timedelta(days=9))
        add_report(uow, mine.id, "manager", checklist={}, observed_at=NOW)
        uow.commit()
    return {"with_fix": with_fix, "without_fix": without_fix, "zone": zone, "other": other}


def export_reports(store, layers, path, fmt="geojson", **options):
    with store.unit_of_work() as uow:
        return report_exports.export_reports(layers[ZONES], path, fmt, uow=uow, actor="test", now=NOW,
                                      photo_url=photo_url, **options)


def test_reports_export_as_points_with_answers_metrics_and_photo_links(reports, loaded, layers, tmp_path):
    path = tmp_path / "reports.geojson"
    assert export_reports(loaded, layers, path) == 2  # the mine's report is another layer's
    features = {f["id"]: f for f in json.loads(path.read_bytes())["features"]}
    filed = features[reports["with_fix"]]
    assert filed["geometry"] == {"type": "Point", "coordinates": [122.123457, 41.612346]}
    p = filed["properties"]
    assert (p["site_id"], p["site_name"], p["filed_by"], p["location"]) == (
        reports["zone"].id, reports["zone"].name, "worker", "gps")
    answers = (p["check_swept_clean"], p["check_ditches_cleared"], p["check_waste_converted"])
    assert answers == ("pass", "fail", "pass")
    assert (p["metric_garbage_tonnes"], p["metric_person_times"], p["metric_seedlings"]) == (1.5, 12, None)
    assert (p["note"], p["flags"], p["review_status"], p["gps_accuracy_m"], p["distance_m"]) == (
        "沟渠有积水", ["off_site"], "pending", 8.0, 420.0)
    assert datetime.fromisoformat(p["observed_at"]) == NOW - timedelta(hours=5)
    with loaded.unit_of_work() as uow:
        photo_ids = [photo["id"] for photo in uow.reports.get(reports["with_fix"])["photos"]]
    assert p["photos"] == [photo_url(i) for i in photo_ids] and len(photo_ids) == 2
    # Without a fix: a point surely on the site, and the row says so.
    unfixed = features[reports["without_fix"]]
    assert unfixed["properties"]["location"] == "site" and unfixed["properties"]["photos"] == []
    assert reports["other"].geometry.intersects(shapely.geometry.shape(unfixed["geometry"]).buffer(1e-6))


@pytest.mark.parametrize("fmt", ["gpkg", "csv", "kml", "xlsx"])
def test_reports_export_in_every_format(reports, loaded, layers, tmp_path, fmt):
    path = tmp_path / f"reports.{fmt}"
    assert export_reports(loaded, layers, path, fmt, lang="zh_CN") == 2
    table = pyogrio.read_dataframe(path, read_geometry=fmt != "xlsx")
    headers = report_exports.report_headers(layers[ZONES], "zh_CN") if fmt in ("csv", "xlsx") else {}
    ids = table[headers.get("id", "id2" if fmt == "kml" else "id")].astype(int).tolist()
    row = table.iloc[ids.index(reports["with_fix"])]
    people = fmt in ("csv", "xlsx")  # tables for people show labels; GIS formats keep the codes
    answer = row[headers.get("check_ditches_cleared", "check_ditches_cleared")]
    assert answer == ("不合格" if people else "fail")
    assert _norm(row[headers.get("metric_garbage_tonnes", "metric_garbage_tonnes")]) == "1.5"
    assert photo_url(1).rsplit("/", 3)[0] in row[headers.get("photos", "photos")]
    if fmt in ("csv", "xlsx"):
        assert {"扫干净", "清运垃圾（t）", "照片链接"} <= set(table.columns)
        assert (float(row["lon"]), float(row["lat"])) == (122.123457, 41.612346)
    else:
        point = table.geometry.iloc[ids.index(reports["with_fix"])]
        assert (round(point.x, 6), round(point.y, 6)) == (122.123457, 41.612346)


def test_reports_filters_and_audit(reports, loaded, layers, tmp_path):
    path = tmp_path / "recent.geojson"
    recent = report_exports.ReportFilter(since=NOW - timedelta(days=1))
    assert export_reports(loaded, layers, path, filters=recent) == 1
    assert [f["id"] for f in json.loads(path.read_bytes())["features"]] == [reports["with_fix"]]
    with loaded.unit_of_work() as uow:
        entry = uow.audit.recent(1, target=f"layer:{ZONES}")[0]
    assert entry.action == "reports.export" and entry.detail["count"] == 1
    assert entry.detail["filters"] == {"since": (NOW - timedelta(days=1)).isoformat()}
