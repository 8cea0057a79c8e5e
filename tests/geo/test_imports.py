"""geo.imports: every format, re-import by ref (update / unchanged, ids kept), preview, all or nothing.

Files are written into tmp_path with pyogrio / pandas; the store is a copy of the loaded Jinzhou instance.
"""

import json
import zipfile
from datetime import UTC, datetime, timedelta

import geopandas as gpd
import orjson
import pandas as pd
import pyogrio
import pytest
import shapely
import sqlalchemy as sa
from shapely.geometry import Point, box

from geo.access import system_user
from geo.counties import CountyLocator
from geo.geometry import display_forms
from geo.imports import PlanChanged, import_sites, preview_import
from geo.layers import load_layers
from geo.model import InvalidInput, PermissionDenied, UnreadableFile, User
from geo.queries import ViewQuery, features_in_view

LAYERS = load_layers()
MINES, ZONES = LAYERS["mines"], LAYERS["sanitation_zones"]
LON, LAT = 121.127, 41.095  # central Jinzhou
NOW = datetime(2024, 5, 1, 8, 0, tzinfo=UTC)
PLANNER = User(id=0, username="viewer", role="planner")


@pytest.fixture
def store(loaded_store):
    """Imports here go into a store that holds the Jinzhou dataset (tests/geo/conftest.py)."""
    return loaded_store


def preview(store, layer, path, crs=None):
    with store.unit_of_work() as uow:
        return preview_import(layer, path, crs, uow, user=system_user("test"))


def run(store, layer, path, crs=None, skip_invalid=False, now=NOW, expect=None):
    with store.unit_of_work() as uow:
        return import_sites(layer, path, crs=crs, skip_invalid=skip_invalid, uow=uow,
                            user=system_user("test"), now=now, expect=expect)


def sites(store, layer_id):
    with store.unit_of_work() as uow:
        return {s.ref: s for s in uow.sites.find(layer_id=layer_id)}


def site_count(store):
    with store.unit_of_work() as uow:
        return uow.sites.count()


def county_of(store, geometry):
    with store.unit_of_work() as uow:
        return CountyLocator(uow.counties.all()).code_for(geometry)


def audit(store):
    with store.unit_of_work() as uow:
        return [(e.action, e.detail) for e in uow.audit.recent(5)]


# ------------------------------------------------------------------ writing real files
def write_gdal(driver, **options):
    def write(gdf, path):
        pyogrio.write_dataframe(gdf, path, driver=driver, **options)
        return path

    return write


def write_zipped_shapefile(gdf, path):
    folder = path.parent / "shp"
    folder.mkdir()
    gdf = gdf.drop(columns="programme_year")  # longer than a Shapefile's 10-character field names
    pyogrio.write_dataframe(gdf, folder / "mines.shp", driver="ESRI Shapefile", encoding="UTF-8")
    with zipfile.ZipFile(path, "w") as archive:
        for part in sorted(folder.iterdir()):
            archive.write(part, f"mines/{part.name}")
    return path


def write_csv_lonlat(gdf, path):
    table = pd.DataFrame(gdf.drop(columns="geometry"))
    table.insert(0, "lon", gdf.geometry.x)
    table.insert(1, "lat", gdf.geometry.y)
    table.to_csv(path, index=False)
    return path


def write_csv_wkt(gdf, path):
    table = pd.DataFrame(gdf.drop(columns="geometry"))
    table.insert(0, "wkt", gdf.geometry.to_wkt())
    table.to_csv(path, index=False)
    return path


MINE_ROWS = [
    {"ref": "T-1", "name": "测试矿一", "commodity": "stone", "programme_year": 2021},
    {"ref": "T-2", "name": "测试矿二", "commodity": "bentonite", "programme_year": 2022},
    {"ref": "T-3", "name": "测试矿三", "commodity": "coal", "programme_year": 2023},
]
MINE_POLYGONS = [box(LON + i * 0.02, LAT, LON + i * 0.02 + 0.01, LAT + 0.01) for i in range(3)]
MINE_POINTS = [Point(LON + i * 0.02, LAT) for i in range(3)]

FORMATS = [
    ("geojson", "mines.geojson", write_gdal("GeoJSON"), MINE_POLYGONS),
    ("gpkg", "mines.gpkg", write_gdal("GPKG"), MINE_POLYGONS),
    ("shp", "mines.zip", write_zipped_shapefile, MINE_POLYGONS),
    ("kml", "mines.kml", write_gdal("KML", dataset_options={"NameField": "name"}), MINE_POLYGONS),
    ("csv-lonlat", "mines.csv", write_csv_lonlat, MINE_POINTS),
    ("csv-wkt", "mines.csv", write_csv_wkt, MINE_POLYGONS),
]


def mines_frame(geometries, rows=MINE_ROWS):
    data = pd.DataFrame(rows).astype({"programme_year": "int32"})  # KML has no 64-bit integers
    return gpd.GeoDataFrame(data, geometry=list(geometries), crs="EPSG:4326")


def zone(ref, geometry, **extra):
    return {"ref": ref, "name": f"村{ref}", "township": "黑山街道", "key_village": True, "households": 10,
            "geometry": geometry, **extra}


def zones_file(path, features):
    gpd.GeoDataFrame(features, geometry="geometry", crs="EPSG:4326").to_file(path, driver="GeoJSON")
    return path


HEISHAN = (122.1, 41.7)


def zone_box(i, dx=0.0):
    x, y = HEISHAN
    return box(x + i * 0.02 + dx, y, x + i * 0.02 + dx + 0.01, y + 0.01)


# ------------------------------------------------------------------ every format, twice
@pytest.mark.parametrize("case, name, write, geometries", FORMATS, ids=[f[0] for f in FORMATS])
def test_every_format_imports_and_a_second_run_changes_nothing(store, tmp_path, case, name, write,
                                                               geometries):
    path = write(mines_frame(geometries), tmp_path / name)
    before = site_count(store)
    plan = preview(store, MINES, path)
    assert (len(plan.additions), len(plan.updates), len(plan.unchanged), plan.rejections) == (3, 0, 0, [])

    first = run(store, MINES, path)
    assert (len(first.added), first.updated, first.unchanged, first.rejections) == (3, [], [], [])
    stored = sites(store, "mines")
    for row, geometry in zip(MINE_ROWS, geometries, strict=True):
        site = stored[row["ref"]]
        assert site.name == row["name"] and site.attributes["commodity"] == row["commodity"]
        assert site.status == MINES.initial_status and site.county == county_of(store, geometry)
        assert site.geometry.normalize().equals_exact(geometry.normalize(), 1e-6)
        if case != "shp":
            assert site.attributes["programme_year"] == row["programme_year"]
    ids = {ref: stored[ref].id for ref in ("T-1", "T-2", "T-3")}

    second = run(store, MINES, path, now=NOW + timedelta(hours=1))
    assert (second.added, second.updated, second.rejections) == ([], [], [])
    assert sorted(second.unchanged) == sorted(ids.values())
    again = sites(store, "mines")
    assert {ref: again[ref].id for ref in ids} == ids  # no duplicates, ids kept
    assert all(again[ref].version == 1 and again[ref].updated_at == NOW for ref in ids)  # not rewritten
    assert site_count(store) == before + 3


# ------------------------------------------------------------------ updates
def _raw(store, site_id):
    """A site's stored box and display forms, and the box its spatial index holds."""
    index = ("SELECT minx, maxx, miny, maxy FROM sites_rtree WHERE id = :id"
             if store.url.startswith("sqlite") else  # PostGIS: the box of the generated geometry column
             "SELECT ST_XMin(shape), ST_XMax(shape), ST_YMin(shape), ST_YMax(shape)"
             " FROM sites WHERE id = :id")
    with store.unit_of_work() as uow:
        row = uow.connection.execute(sa.text("SELECT minx, miny, maxx, maxy, display_z8, display_z11 "
                                             "FROM sites WHERE id = :id"), {"id": site_id}).one()
        rtree = uow.connection.execute(sa.text(index), {"id": site_id}).one()
    return row, rtree


def _in_view(store, bbox):
    with store.unit_of_work() as uow:
        body = features_in_view(ZONES, ViewQuery(bbox=bbox, zoom=9), uow=uow, user=PLANNER, now=NOW)
    return {f["id"] for f in orjson.loads(body)["features"]}


def test_an_edited_file_updates_the_changed_sites_and_their_map_forms(store, tmp_path):
    original = zones_file(tmp_path / "zones.geojson", [zone("Z1", zone_box(0)), zone("Z2", zone_box(1)),
                                                       zone("Z3", zone_box(2))])
    run(store, ZONES, original)
    ids = {ref: s.id for ref, s in sites(store, "sanitation_zones").items() if ref in ("Z1", "Z2", "Z3")}
    moved = zone_box(0, dx=0.3)  # about 25 km east
    edited = zones_file(tmp_path / "zones-edited.geojson", [
        zone("Z1", moved), zone("Z2", zone_box(1), households=12, street_chief="王五"),
        zone("Z3", zone_box(2))])

    plan = preview(store, ZONES, edited)
    assert [u.site.id for u in plan.updates] == [ids["Z1"], ids["Z2"]]
    assert [u.index for u in plan.unchanged] == [2]
    z1, z2 = plan.updates
    assert z1.geometry_changed and z1.changes == ()
    assert not z2.geometry_changed
    assert [(c.field, c.before, c.after) for c in z2.changes] == [("households", 10, 12),
                                                                    ("street_chief", None, "王五")]

    later = NOW + timedelta(days=1)
    result = run(store, ZONES, edited, now=later)
    assert (result.added, result.updated, result.unchanged) == ([], [ids["Z1"], ids["Z2"]], [ids["Z3"]])
    after = sites(store, "sanitation_zones")
    assert after["Z1"].geometry.normalize().equals_exact(moved.normalize(), 1e-9)
    assert after["Z2"].attributes["households"] == 12 and after["Z2"].attributes["street_chief"] == "王五"
    assert (after["Z1"].version, after["Z1"].updated_at, after["Z1"].created_at) == (2, later, NOW)
    assert (after["Z3"].version, after["Z3"].updated_at) == (1, NOW)

    (minx, miny, maxx, maxy, z8, z11), rtree = _raw(store, ids["Z1"])
    assert (minx, miny, maxx, maxy) == pytest.approx(moved.bounds)
    assert rtree == pytest.approx((minx, maxx, miny, maxy), abs=1e-4)  # R*Tree boxes are 32-bit floats
    assert {8: z8, 11: z11} == display_forms(after["Z1"].geometry)
    assert ids["Z1"] in _in_view(store, moved.buffer(0.001).bounds)
    assert ids["Z1"] not in _in_view(store, zone_box(0).buffer(0.001).bounds)


def test_columns_missing_from_the_file_keep_their_values_and_empty_cells_clear_them(store, tmp_path):
    run(store, ZONES, zones_file(tmp_path / "a.geojson", [zone("Z1", zone_box(0), street_chief="李四")]))
    without_column = zones_file(tmp_path / "b.geojson", [
        {"ref": "Z1", "name": "村Z1", "township": "黑山街道", "key_village": True, "geometry": zone_box(0)}])
    assert preview(store, ZONES, without_column).unchanged  # households and street_chief stay
    cleared = zones_file(tmp_path / "c.geojson", [zone("Z1", zone_box(0), street_chief=None),
                                                  zone("Z9", zone_box(3), street_chief="赵六")])
    (update,) = preview(store, ZONES, cleared).updates
    assert [(c.field, c.before, c.after) for c in update.changes] == [("street_chief", "李四", None)]
    run(store, ZONES, cleared)
    assert "street_chief" not in sites(store, "sanitation_zones")["Z1"].attributes


def test_status_stays_unless_a_stage_layer_file_gives_a_valid_one(store, tmp_path):
    def mines(path, **extra):
        return write_gdal("GeoJSON")(mines_frame(MINE_POINTS[:1], [MINE_ROWS[0] | extra]), path)

    run(store, MINES, mines(tmp_path / "a.geojson", status="declared"))
    assert sites(store, "mines")["T-1"].status == "declared"
    with store.unit_of_work() as uow:  # a manager moves the mine on after a review
        uow.sites.set_status(sites(store, "mines")["T-1"].id, "onsite_evaluation", NOW, actor="test")
        uow.commit()
    assert preview(store, MINES, mines(tmp_path / "b.geojson")).unchanged  # no status in the file: kept
    (update,) = preview(store, MINES, mines(tmp_path / "c.geojson", status="municipal_passed")).updates
    assert [(c.field, c.before, c.after) for c in update.changes] == [
        ("status", "onsite_evaluation", "municipal_passed")]
    (rejection,) = preview(store, MINES, mines(tmp_path / "d.geojson", status="built")).rejections
    assert rejection.index == 0 and "status: 'built' is not one of" in str(rejection.reason)
    # A cadence layer's status comes from inspections, never from a file.
    run(store, ZONES, zones_file(tmp_path / "z.geojson", [zone("Z1", zone_box(0))]))
    again = zones_file(tmp_path / "z2.geojson", [zone("Z1", zone_box(0), status="ok")])
    assert preview(store, ZONES, again).unchanged


def test_features_without_ref_are_always_new(store, tmp_path):
    feature = {k: v for k, v in zone("x", zone_box(0)).items() if k != "ref"}
    path = zones_file(tmp_path / "noref.geojson", [feature])
    before = site_count(store)
    assert len(run(store, ZONES, path).added) == 1
    assert len(run(store, ZONES, path).added) == 1
    assert site_count(store) == before + 2


@pytest.mark.backends("sqlite")  # the file's own checks
def test_two_features_with_one_ref_are_both_rejected(store, tmp_path):
    path = zones_file(tmp_path / "dup.geojson", [zone("D", zone_box(0)), zone("OK", zone_box(1)),
                                                 zone("D", zone_box(2), households=-1)])
    before = site_count(store)
    plan = preview(store, ZONES, path)
    assert [r.index for r in plan.rejections] == [0, 2]
    assert "ref 'D' appears more than once in the file (features 0, 2)" in str(plan.rejections[0].reason)
    assert str(plan.rejections[1].reason).startswith("households: -1 is below the minimum 0; ref 'D' appears")
    with pytest.raises(InvalidInput, match="2 feature\\(s\\) rejected, nothing imported"):
        run(store, ZONES, path)
    assert site_count(store) == before
    result = run(store, ZONES, path, skip_invalid=True)
    assert len(result.added) == 1 and site_count(store) == before + 1
    assert "D" not in sites(store, "sanitation_zones")


# ------------------------------------------------------------------ broken input writes nothing
@pytest.mark.backends("sqlite")  # the file's own checks
def test_broken_features_and_a_wrong_crs_are_rejected_each_with_its_reason(store, tmp_path):
    path = zones_file(tmp_path / "bad.geojson", [
        zone("B1", zone_box(0)),
        zone("B2", zone_box(1), households="many"),
        {"ref": "B3", "name": "无乡镇", "key_village": True, "geometry": zone_box(2)},
        zone("B4", Point(HEISHAN)),
    ])
    before, log = site_count(store), audit(store)
    reasons = {r.index: str(r.reason) for r in preview(store, ZONES, path).rejections}  # the English
    assert reasons == {1: "households: 'many' is not a number", 2: "township: required attribute is missing",
                       3: "geometry is a Point; this layer takes Polygon"}
    with pytest.raises(InvalidInput) as caught:
        run(store, ZONES, path)
    assert [d.index for d in caught.value.details] == [1, 2, 3]

    # Metres from a projected CRS in a file that names none: far outside lon/lat.
    metres = gpd.GeoSeries([zone_box(0)], crs="EPSG:4326").to_crs(32651)[0]
    properties = {k: v for k, v in zone("P1", None).items() if k != "geometry"}
    (tmp_path / "metres.geojson").write_text(json.dumps({"type": "FeatureCollection", "features": [
        {"type": "Feature", "geometry": shapely.geometry.mapping(metres), "properties": properties}]}))
    (rejection,) = preview(store, ZONES, tmp_path / "metres.geojson").rejections
    assert str(rejection.reason).startswith(
        "coordinates outside lon/lat range after conversion to WGS84 (lon 4")
    with pytest.raises(InvalidInput):
        run(store, ZONES, tmp_path / "metres.geojson")
    assert (site_count(store), audit(store)) == (before, log)  # nothing written, not even an audit entry
    assert run(store, ZONES, tmp_path / "metres.geojson", crs="32651").added  # with the right CRS it fits
    assert site_count(store) == before + 1


@pytest.mark.backends("sqlite")  # the file's own checks
@pytest.mark.parametrize("name, content, reason", [
    ("empty.geojson", b"", "the file is empty (0 bytes)"),
    ("notes.txt", b"hello", "unknown file type '.txt'"),
    ("noshp.zip", None, "no Shapefile (.shp) inside the zip archive"),
    ("nocoords.csv", "name,township\n村一,黑山街道\n".encode(), "no geometry columns"),
])
def test_unreadable_files_name_the_file_and_the_reason_and_write_nothing(store, tmp_path, name, content,
                                                                         reason):
    path = tmp_path / name
    if content is None:
        with zipfile.ZipFile(path, "w") as archive:
            archive.writestr("readme.txt", "no shapefile here")
    else:
        path.write_bytes(content)
    before, log = site_count(store), audit(store)
    for attempt in (lambda: preview(store, ZONES, path), lambda: run(store, ZONES, path, skip_invalid=True)):
        with pytest.raises(UnreadableFile) as caught:
            attempt()
        assert caught.value.file == name and reason in str(caught.value.reason)
    assert (site_count(store), audit(store)) == (before, log)


# ------------------------------------------------------------------ preview, then confirm
def test_preview_writes_nothing_and_the_import_records_an_audit_entry(store, tmp_path):
    path = zones_file(tmp_path / "z.geojson", [zone("Z1", zone_box(0)), zone("Z2", zone_box(1))])
    before, log = site_count(store), audit(store)
    plan = preview(store, ZONES, path)
    assert (site_count(store), audit(store)) == (before, log)
    result = run(store, ZONES, path, expect=plan.digest)
    assert len(result.added) == 2
    action, detail = audit(store)[0]
    assert action == "sites.import"
    assert detail == {"file": "z.geojson", "added": 2, "updated": 0, "unchanged": 0, "rejected": 0}


@pytest.mark.backends("sqlite")  # refused before any write
@pytest.mark.parametrize("role, role_name", [("planner", "Planner"), ("worker", "Grid worker")])
def test_only_managers_import_and_a_refusal_names_the_role(store, tmp_path, role, role_name):
    path = zones_file(tmp_path / "z.geojson", [zone("Z1", zone_box(0))])
    before, log = site_count(store), audit(store)
    someone = User(id=0, username="someone", role=role)
    with store.unit_of_work() as uow, pytest.raises(PermissionDenied, match=role_name) as refused:
        preview_import(ZONES, path, None, uow, user=someone)
    assert "Manager" in str(refused.value)
    with store.unit_of_work() as uow, pytest.raises(PermissionDenied, match=role_name):
        import_sites(ZONES, path, crs=None, skip_invalid=False, uow=uow, user=someone, now=NOW)
    assert (site_count(store), audit(store)) == (before, log)


def households(store):
    """{ref: (version, households)} of the zones these tests import."""
    zones = sites(store, "sanitation_zones")
    return {ref: (zones[ref].version, zones[ref].attributes["households"]) for ref in ("Z1", "Z2")}


def test_a_confirmation_commits_only_what_the_preview_showed(store, tmp_path):
    run(store, ZONES, zones_file(tmp_path / "a.geojson", [zone("Z1", zone_box(0))]))
    path = zones_file(tmp_path / "b.geojson", [zone("Z1", zone_box(0), households=20),
                                               zone("Z2", zone_box(1))])
    plan = preview(store, ZONES, path)
    assert (len(plan.additions), len(plan.updates)) == (1, 1)
    # Someone else stores Z2 (and edits Z1) between the preview and the confirmation.
    run(store, ZONES, zones_file(tmp_path / "c.geojson", [zone("Z1", zone_box(0), households=15),
                                                          zone("Z2", zone_box(1))]))
    before = households(store)
    with pytest.raises(PlanChanged) as caught:
        run(store, ZONES, path, expect=plan.digest)
    fresh = caught.value.plan
    assert (len(fresh.additions), [(c.before, c.after) for c in fresh.updates[0].changes]) == (0, [(15, 20)])
    assert households(store) == before
    result = run(store, ZONES, path, expect=fresh.digest)
    assert (len(result.added), len(result.updated), len(result.unchanged)) == (0, 1, 1)
    assert households(store)["Z1"] == (3, 20)
