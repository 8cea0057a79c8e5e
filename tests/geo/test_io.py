"""geo.io: formats table, reading every format into WGS84 candidates, streaming GeoJSON, atomic writes.

Fixture files are written into tmp_path with pyogrio / pandas, so every test reads a real file.
"""

import json
import zipfile

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import pytest
import shapely
from shapely.geometry import LineString, MultiPolygon, Point, Polygon

from geo.io.formats import FORMATS, detect_format, writable_format
from geo.io.geojson import dumps, feature, iter_feature_collection
from geo.io.read import read_features
from geo.io.write import write_features
from geo.model import InvalidInput, UnreadableFile

LON, LAT = 121.127, 41.095  # central Jinzhou


def square(lon, lat, size=0.01):
    """A counter-clockwise square, as RFC 7946 wants it."""
    return Polygon([(lon, lat), (lon + size, lat), (lon + size, lat + size), (lon, lat + size)])


PROPERTIES = [
    {"name": "古塔区", "count": 3, "score": 1.5},
    {"name": "凌河区", "count": 7, "score": None},
    {"name": "太和区 Taihe", "count": -2, "score": 0.25},
]
MIXED = [Point(LON, LAT), LineString([(LON, LAT), (LON + 0.02, LAT + 0.01)]), square(LON + 0.1, LAT)]
POINTS = [Point(LON, LAT), Point(LON + 0.1234567, LAT - 0.05), Point(120.98, 41.5)]
POLYGONS = [square(LON, LAT), square(LON + 0.1, LAT + 0.1, 0.02), square(121.5, 41.6, 0.005)]


def frame(geometries, crs="EPSG:4326"):
    data = pd.DataFrame(PROPERTIES).astype({"count": "int32"})  # KML has no 64-bit integers
    return gpd.GeoDataFrame(data, geometry=list(geometries), crs="EPSG:4326").to_crs(crs)


def same_geometry(got, expected):
    return got.normalize().equals_exact(expected.normalize(), 1e-6)


# ---------------------------------------------------------------- fixture writers
def write_gdal(driver, **options):
    def write(gdf, path):
        pyogrio.write_dataframe(gdf, path, driver=driver, **options)
        return path

    return write


def write_zipped_shapefile(gdf, path):
    folder = path.parent / "shp"
    folder.mkdir()
    pyogrio.write_dataframe(gdf, folder / "sites.shp", driver="ESRI Shapefile")
    with zipfile.ZipFile(path, "w") as archive:
        for part in sorted(folder.iterdir()):
            archive.write(part, f"sites/{part.name}")
    return path


def write_csv_lonlat(gdf, path):
    table = pd.DataFrame(gdf.drop(columns="geometry"))
    table.insert(0, "longitude", gdf.geometry.x)
    table.insert(1, "latitude", gdf.geometry.y)
    table.to_csv(path, index=False)
    return path


ROUND_TRIPS = [
    ("geojson", "sites.geojson", write_gdal("GeoJSON"), MIXED),
    ("json", "sites.json", write_gdal("GeoJSON"), MIXED),
    ("gpkg", "sites.gpkg", write_gdal("GPKG"), MIXED),
    ("shp", "sites.zip", write_zipped_shapefile, POLYGONS),
    ("kml", "sites.kml", write_gdal("KML", dataset_options={"NameField": "name"}), MIXED),
    ("csv-xy", "sites.csv", write_gdal("CSV", layer_options={"GEOMETRY": "AS_XY"}), POINTS),
    ("csv-wkt", "sites.csv", write_gdal("CSV", layer_options={"GEOMETRY": "AS_WKT"}), MIXED),
    ("csv-lonlat", "sites.csv", write_csv_lonlat, POINTS),
]


# ---------------------------------------------------------------- formats
@pytest.mark.parametrize(
    "name, fmt",
    [
        ("a.geojson", "geojson"),
        ("a.json", "geojson"),
        ("A.GEOJSON", "geojson"),
        ("a.gpkg", "gpkg"),
        ("a.zip", "shp"),
        ("a.kml", "kml"),
        ("a.csv", "csv"),
        ("村庄.CSV", "csv"),
    ],
)
def test_detect_format(name, fmt):
    assert detect_format(name).id == fmt


@pytest.mark.parametrize("name", ["notes.txt", "sites.xlsx", "sites.shp", "no_extension"])
def test_detect_format_unknown(name):
    with pytest.raises(UnreadableFile) as caught:
        detect_format(f"/some/folder/{name}")
    assert caught.value.file == name
    assert "unknown file type" in str(caught.value.reason)


@pytest.mark.parametrize("fmt", list(FORMATS.values()), ids=list(FORMATS))
def test_formats_table_matches_gdal(fmt):
    capability = pyogrio.list_drivers()[fmt.driver]
    assert "r" in capability
    if fmt.can_write:
        assert "w" in capability
    assert fmt.extensions and all(ext.startswith(".") for ext in fmt.extensions)


def test_writable_format_refuses_import_only_and_unknown():
    assert writable_format("gpkg").driver == "GPKG"
    for fmt in ("shp", "dxf"):
        with pytest.raises(InvalidInput):
            writable_format(fmt)


# ---------------------------------------------------------------- reading
@pytest.mark.parametrize("case, name, write, geometries", ROUND_TRIPS, ids=[c[0] for c in ROUND_TRIPS])
def test_read_round_trip(tmp_path, case, name, write, geometries):
    path = write(frame(geometries), tmp_path / name)
    result = read_features(path)
    assert result.rejections == []
    assert [c.index for c in result.features] == [0, 1, 2]
    for candidate, geometry, properties in zip(result.features, geometries, PROPERTIES, strict=True):
        assert same_geometry(candidate.geometry, geometry), (candidate.geometry, geometry)
        assert candidate.properties == properties
        assert all(type(v) in (str, int, float, type(None)) for v in candidate.properties.values())


def test_read_orients_polygons_counter_clockwise(tmp_path):
    # A Shapefile stores exteriors clockwise; what comes out is RFC 7946 (counter-clockwise).
    path = write_zipped_shapefile(frame(POLYGONS), tmp_path / "sites.zip")
    for candidate in read_features(path).features:
        assert candidate.geometry.exterior.is_ccw


@pytest.mark.parametrize("crs", ["EPSG:4490", "EPSG:32651"])
def test_read_reprojects_the_files_own_crs(tmp_path, crs):
    path = write_gdal("GPKG")(frame(MIXED, crs), tmp_path / "sites.gpkg")
    result = read_features(path)
    assert result.source_crs == crs
    for candidate, geometry in zip(result.features, MIXED, strict=True):
        assert same_geometry(candidate.geometry, geometry)


def test_read_crs_argument_overrides_the_file(tmp_path):
    # A CSV has no CRS of its own: x/y in UTM zone 51N only make sense with crs given.
    path = write_gdal("CSV", layer_options={"GEOMETRY": "AS_XY"})(
        frame(POINTS, "EPSG:32651"), tmp_path / "a.csv"
    )
    result = read_features(path, crs="32651")
    assert result.source_crs == "EPSG:32651"
    for candidate, geometry in zip(result.features, POINTS, strict=True):
        assert same_geometry(candidate.geometry, geometry)


@pytest.mark.parametrize("crs, low, high", [("gcj02", -0.007, -0.005), ("BD-09", -0.014, -0.011)])
def test_read_web_map_offsets(tmp_path, crs, low, high):
    path = write_gdal("GeoJSON")(frame(POINTS), tmp_path / "amap.geojson")
    result = read_features(path, crs=crs)
    moved = result.features[0].geometry
    assert low < moved.x - LON < high
    assert abs(moved.y - LAT) < 0.01


def test_read_unknown_crs_is_invalid_input(tmp_path):
    path = write_gdal("GeoJSON")(frame(POINTS), tmp_path / "a.geojson")
    with pytest.raises(InvalidInput):
        read_features(path, crs="EPSG:999999")


def write_json(path, features):
    path.write_text(json.dumps({"type": "FeatureCollection", "features": features}), encoding="utf-8")
    return path


def geojson_feature(geometry, **properties):
    return {"type": "Feature", "properties": properties, "geometry": geometry}


def polygon(*coords):
    return {"type": "Polygon", "coordinates": [list(coords)]}


def test_read_rejects_bad_features_and_keeps_the_good(tmp_path):
    x, y = LON, LAT
    path = write_json(
        tmp_path / "mixed.geojson",
        [
            geojson_feature(polygon([x, y], [x + 0.01, y], [x + 0.01, y + 0.01], [x, y]), name="good"),
            geojson_feature(None, name="no geometry"),
            geojson_feature({"type": "LineString", "coordinates": [[x, y], [x + 1, y]]}, name="line"),
            geojson_feature(polygon([x, y], [x + 0.02, y], [x + 0.01, y], [x, y]), name="flat"),
            geojson_feature(polygon([500, y], [500.01, y], [500.01, y + 0.01], [500, y]), name="far"),
            geojson_feature(
                polygon([x, y], [x + 0.01, y + 0.01], [x + 0.01, y], [x, y + 0.01], [x, y]), name="bow"
            ),
            geojson_feature(polygon([x, y], [x + 0.01, y], [x + 0.01, y + 0.01]), name="unclosed ring"),
            geojson_feature(polygon([x, y], [x + 0.01, y]), name="two points"),
        ],
    )
    result = read_features(path, allowed_types=("Polygon",))
    assert [(r.index, str(r.reason)) for r in result.rejections] == [
        (1, "no geometry"),
        (2, "geometry is a LineString; this layer takes Polygon"),
        (3, "invalid geometry that could not be repaired"),
        (4, "coordinates outside lon/lat range after conversion to WGS84 (lon 500.0)"),
        (7, "invalid geometry that could not be repaired"),
    ]
    good = {c.index: c for c in result.features}
    assert sorted(good) == [0, 5, 6]
    assert isinstance(good[5].geometry, MultiPolygon) and good[5].geometry.is_valid
    assert good[6].geometry.is_valid and good[6].geometry.exterior.is_ccw
    assert good[0].properties == {"name": "good"}


def test_read_csv_bad_rows(tmp_path):
    path = tmp_path / "bad.csv"
    path.write_text(
        "name,WKT\n"
        "ok,POINT (121.1 41.1)\n"
        'broken,"POLYGON ((121 41, 121.1 41"\n'
        "empty,\n"
        "far,POINT (500000 4550000)\n",
        encoding="utf-8",
    )
    result = read_features(path)
    assert [c.properties for c in result.features] == [{"name": "ok"}]
    reasons = {r.index: str(r.reason) for r in result.rejections}
    assert reasons[1] == "unparsable WKT geometry 'POLYGON ((121 41, 121.1 41'"
    assert reasons[2] == "no geometry"
    assert reasons[3].startswith("coordinates outside lon/lat range after conversion to WGS84 (lon 500000.0)")
    assert "give its EPSG code" in reasons[3]


def test_read_csv_non_numeric_coordinates(tmp_path):
    path = tmp_path / "points.csv"
    path.write_text("名称,lon,lat\n甲,121.1,41.1\n乙,abc,41.2\n丙, 121.3 ,41.3\n", encoding="utf-8")
    result = read_features(path)
    assert [(c.index, c.properties["名称"]) for c in result.features] == [(0, "甲"), (2, "丙")]
    assert [(r.index, str(r.reason)) for r in result.rejections] == [
        (1, "coordinates are not numbers (lon 'abc', lat 41.2)")
    ]


def test_read_csv_in_gbk_from_excel(tmp_path):
    path = tmp_path / "excel.csv"
    path.write_bytes("名称,经度,纬度\n锦州港,121.07,40.81\n".encode("gb18030"))
    (candidate,) = read_features(path).features
    assert candidate.properties == {"名称": "锦州港"}
    assert same_geometry(candidate.geometry, Point(121.07, 40.81))


def test_read_properties_are_plain_python(tmp_path):
    path = write_json(
        tmp_path / "types.geojson",
        [
            geojson_feature(
                {"type": "Point", "coordinates": [LON, LAT]},
                when="2024-05-01T08:30:00+08:00",
                day="2024-05-01",
                tags=["a", "b"],
                nested={"k": 1},
                n=1,
            ),
            geojson_feature({"type": "Point", "coordinates": [LON, LAT]}, n=None),
        ],
    )
    first, second = read_features(path).features
    assert first.properties == {
        "when": "2024-05-01T08:30:00+08:00",
        "day": "2024-05-01",
        "tags": ["a", "b"],
        "nested": {"k": 1},
        "n": 1,
    }
    assert second.properties["n"] is None and second.properties["when"] is None
    assert type(first.properties["n"]) is int


def test_read_drops_heights_and_passes_on_gdal_warnings(tmp_path):
    path = write_json(
        tmp_path / "xyzm.geojson",
        [geojson_feature({"type": "Point", "coordinates": [LON, LAT, 12.5, 7]}, name="four numbers")],
    )
    result = read_features(path)
    (candidate,) = result.features
    assert not candidate.geometry.has_z and same_geometry(candidate.geometry, Point(LON, LAT))
    assert len(result.notes) == 1 and "too many members" in result.notes[0]
    assert str(tmp_path) not in result.notes[0]


def test_read_csv_wkt_with_z(tmp_path):
    path = tmp_path / "z.csv"
    path.write_text(f'geometry,name\n"POINT Z ({LON} {LAT} 30)",a\n', encoding="utf-8")
    (candidate,) = read_features(path).features
    assert candidate.geometry.wkt == Point(LON, LAT).wkt


def test_read_kml_folders_are_read_together(tmp_path):
    path = tmp_path / "folders.kml"
    pyogrio.write_dataframe(frame(POINTS).iloc[:2], path, layer="一", driver="LIBKML")
    pyogrio.write_dataframe(frame(POINTS).iloc[2:], path, layer="二", driver="LIBKML", append=True)
    assert len(pyogrio.list_layers(path)) == 2
    result = read_features(path)
    assert [c.properties["name"] for c in result.features] == [p["name"] for p in PROPERTIES]
    assert [c.index for c in result.features] == [0, 1, 2]


def unreadable_files(tmp_path):
    (tmp_path / "garbage.geojson").write_bytes(b"\x00\x01\x02 not geodata \xff")
    (tmp_path / "garbage.gpkg").write_bytes(b"SQLite format 2\x00 nope")
    zipfile.ZipFile(tmp_path / "empty.zip", "w").close()
    with zipfile.ZipFile(tmp_path / "readme.zip", "w") as archive:
        archive.writestr("readme.txt", "no shapefile here")
    (tmp_path / "not-a-zip.zip").write_text("hello")
    (tmp_path / "notes.txt").write_text("hello")
    (tmp_path / "empty.csv").write_bytes(b"")
    (tmp_path / "no-coordinates.csv").write_text("name,height\na,1\n")
    two_layers = tmp_path / "two-layers.gpkg"
    pyogrio.write_dataframe(frame(POINTS), two_layers, layer="a")
    pyogrio.write_dataframe(frame(POINTS), two_layers, layer="b")


@pytest.mark.parametrize(
    "name, reason",
    [
        ("missing.geojson", "file not found"),
        ("garbage.geojson", "not a readable GeoJSON file"),
        ("garbage.gpkg", "not a readable GeoPackage file"),
        ("empty.zip", "no Shapefile (.shp) inside the zip archive"),
        ("readme.zip", "no Shapefile (.shp) inside the zip archive"),
        ("not-a-zip.zip", "not a zip archive"),
        ("notes.txt", "unknown file type '.txt'"),
        ("empty.csv", "not a readable CSV file"),
        ("no-coordinates.csv", "no geometry columns"),
        ("two-layers.gpkg", "2 layers (a, b)"),
    ],
)
def test_unreadable_files(tmp_path, name, reason):
    unreadable_files(tmp_path)
    with pytest.raises(UnreadableFile) as caught:
        read_features(tmp_path / name)
    assert caught.value.file == name
    assert str(caught.value.reason).startswith(reason)
    assert str(caught.value).startswith(f"{name}: ")
    assert str(tmp_path) not in str(caught.value)  # no server paths in messages


# ---------------------------------------------------------------- GeoJSON
def test_feature_is_rfc7946():
    clockwise = Polygon([(121.0, 41.0), (121.0, 41.1), (121.1234567891, 41.1), (121.1, 41.0)])
    built = feature(7, clockwise, {"name": "锦州"})
    assert set(built) == {"type", "id", "geometry", "properties"}
    assert built["geometry"]["coordinates"][0][2] == (121.123457, 41.1)
    assert shapely.LinearRing(built["geometry"]["coordinates"][0]).is_ccw


def test_feature_without_id_or_geometry():
    assert feature(None, None, None) == {"type": "Feature", "geometry": None, "properties": {}}
    assert feature("a", Point(), {})["geometry"] is None


def test_feature_collection_chunks_parse():
    features = [feature(i, Point(LON + i, LAT), {"i": i}) for i in range(3)]
    chunks = list(iter_feature_collection(features, extra_members={"numberMatched": 3}))
    assert len(chunks) == 5  # opening, three features, closing
    parsed = json.loads(b"".join(chunks))
    assert parsed["type"] == "FeatureCollection" and parsed["numberMatched"] == 3
    assert [f["id"] for f in parsed["features"]] == [0, 1, 2]
    assert parsed["features"][1]["geometry"] == {"type": "Point", "coordinates": [LON + 1, LAT]}


def test_empty_feature_collection():
    assert b"".join(iter_feature_collection([])) == b'{"type":"FeatureCollection","features":[]}'


def test_chinese_text_stays_utf8():
    body = b"".join(iter_feature_collection([feature(1, Point(LON, LAT), {"name": "锦州市 黑山县"})]))
    assert "锦州市 黑山县".encode() in body and b"\\u" not in body


def test_feature_collection_is_lazy():
    pulled = []

    def features():
        for i in range(1000):
            pulled.append(i)
            yield feature(i, Point(LON, LAT), {})

    stream = iter_feature_collection(features())
    next(stream), next(stream)
    assert pulled == [0]


def test_extra_members_may_not_replace_features():
    with pytest.raises(ValueError):
        list(iter_feature_collection([], extra_members={"features": []}))


def test_dumps():
    assert dumps({1: "一", "x": np.int64(2), "f": float("nan")}) == '{"1":"一","x":2,"f":null}'.encode()


# ---------------------------------------------------------------- writing
EXPORT = [
    feature(1, Point(LON, LAT), {"name": "古塔区", "count": 3, "score": 1.5, "report": {"status": "ok"}}),
    feature(
        2,
        LineString([(LON, LAT), (LON + 0.02, LAT + 0.01)]),
        {"name": "凌河区", "count": 7, "score": None, "report": None},
    ),
    feature(3, square(LON + 0.1, LAT), {"name": "太和区", "count": None, "score": 0.25, "report": None}),
]
EXPORT_GEOMETRIES = [MIXED[0], MIXED[1], MIXED[2]]


@pytest.mark.parametrize("fmt", ["geojson", "gpkg", "csv", "kml"])
def test_write_then_read_back(tmp_path, fmt):
    path = tmp_path / f"export.{fmt}"
    write_features(iter(EXPORT), path, fmt)
    result = read_features(path)
    assert result.rejections == []
    for candidate, source, geometry in zip(result.features, EXPORT, EXPORT_GEOMETRIES, strict=True):
        assert same_geometry(candidate.geometry, geometry)
        expected = dict(source["properties"])
        if fmt != "geojson":  # tabular formats: the id is a column, objects are JSON text
            expected = {"id": source["id"], **expected}
            expected["report"] = None if expected["report"] is None else '{"status":"ok"}'
        assert candidate.properties == expected
    assert sorted(p.name for p in tmp_path.iterdir()) == [path.name]  # no temporary left behind


def test_write_csv_has_wkt_and_lonlat_for_points(tmp_path):
    path = tmp_path / "export.csv"
    write_features(EXPORT, path, "csv")
    text = path.read_text(encoding="utf-8-sig")
    header, point_row, line_row, _ = text.splitlines()
    assert header.split(",")[:4] == ["WKT", "lon", "lat", "id"]
    assert f"{LON},{LAT},1,古塔区" in point_row
    assert '"LINESTRING' in line_row and ",,,2," in line_row


def test_write_xlsx(tmp_path):
    path = tmp_path / "export.xlsx"
    write_features(EXPORT, path, "xlsx")
    table = pyogrio.read_dataframe(path)
    assert list(table.columns[:5]) == ["WKT", "lon", "lat", "id", "name"]
    assert table["name"].tolist() == ["古塔区", "凌河区", "太和区"]
    assert same_geometry(shapely.from_wkt(table["WKT"][2]), MIXED[2])


@pytest.mark.parametrize("fmt", ["geojson", "gpkg", "csv", "kml"])
def test_write_empty(tmp_path, fmt):
    path = tmp_path / f"empty.{fmt}"
    write_features([], path, fmt)
    assert read_features(path).features == []


@pytest.mark.parametrize("fmt", ["geojson", "gpkg", "csv", "kml", "xlsx"])
def test_failed_write_leaves_nothing(tmp_path, fmt):
    def failing():
        yield EXPORT[0]
        yield EXPORT[1]
        raise RuntimeError("database went away")

    fresh, existing = tmp_path / f"new.{fmt}", tmp_path / f"old.{fmt}"
    existing.write_bytes(b"previous export")
    for target in (fresh, existing):
        with pytest.raises(RuntimeError, match="database went away"):
            write_features(failing(), target, fmt)
    assert not fresh.exists()
    assert existing.read_bytes() == b"previous export"  # replaced only by a complete file
    assert sorted(p.name for p in tmp_path.iterdir()) == [existing.name]


def test_write_refuses_import_only_format(tmp_path):
    with pytest.raises(InvalidInput):
        write_features(EXPORT, tmp_path / "a.zip", "shp")
    assert list(tmp_path.iterdir()) == []
