"""geo.crs: published GCJ-02 / BD-09 reference values, round trips, EPSG via pyproj."""

import numpy as np
import pyproj
import pytest
import shapely

from geo import crs
from geo.model import InvalidInput

GEOD = pyproj.Geod(ellps="WGS84")

# Published reference pairs, (lon, lat) order.
# wandergis/coordTransform_py, README "测试" section: every function applied to (128.543, 37.065).
COORDTRANSFORM_INPUT = (128.543, 37.065)
COORDTRANSFORM_FORWARD = [
    (crs.wgs84_to_gcj02, (128.54820547949757, 37.065651049489816)),
    (crs.gcj02_to_bd09, (128.54944656269413, 37.07113427883019)),
    (crs.wgs84_to_bd09, (128.55468192918485, 37.07168344938498)),
]
# googollee/eviltransform test fixtures (go/transform_test.go and its ports): WGS84 → GCJ-02.
EVILTRANSFORM = [
    ((121.5272106, 31.1774276), (121.531541859215, 31.17530398364597)),  # Shanghai
    ((113.912316, 22.543847), (113.9171764808363, 22.540796131694766)),  # Shenzhen
    ((116.377817, 39.911954), (116.38404722455657, 39.91334545536069)),  # Beijing
]


def metres(lon1, lat1, lon2, lat2):
    return GEOD.inv(lon1, lat1, lon2, lat2)[2]


@pytest.mark.parametrize("func, expected", COORDTRANSFORM_FORWARD, ids=lambda v: getattr(v, "__name__", ""))
def test_forward_formulas_match_coordtransform(func, expected):
    assert func(*COORDTRANSFORM_INPUT) == pytest.approx(expected, abs=1e-9)


@pytest.mark.parametrize("wgs, gcj", EVILTRANSFORM)
def test_wgs84_to_gcj02_matches_eviltransform(wgs, gcj):
    assert crs.wgs84_to_gcj02(*wgs) == pytest.approx(gcj, abs=1e-9)


@pytest.mark.parametrize(
    "wgs, gcj",
    EVILTRANSFORM + [(COORDTRANSFORM_INPUT, COORDTRANSFORM_FORWARD[0][1])],
)
def test_gcj02_to_wgs84_recovers_published_wgs84(wgs, gcj):
    # The published one-step inverse is off by metres; the iterative one recovers the input exactly.
    assert metres(*wgs, *crs.gcj02_to_wgs84(*gcj)) < 0.001


@pytest.mark.parametrize(
    "func, expected",
    [
        # coordTransform_py publishes the one-step inverses; ours iterate, so a few cm apart.
        (crs.bd09_to_gcj02, (128.5365893261212, 37.058754503281534)),
        (crs.gcj02_to_wgs84, (128.53779452050244, 37.06434895051018)),
        (crs.bd09_to_wgs84, (128.53136876750008, 37.0580926428705)),
    ],
    ids=lambda v: getattr(v, "__name__", ""),
)
def test_inverse_formulas_close_to_published_one_step(func, expected):
    assert metres(*func(*COORDTRANSFORM_INPUT), *expected) < 5.0  # the one-step error is up to ~3 m


def jinzhou_grid():
    return np.meshgrid(np.linspace(120.7, 122.7, 201), np.linspace(40.6, 42.2, 161))


def test_gcj02_round_trip_over_jinzhou_within_half_a_metre():
    lon, lat = jinzhou_grid()
    back = crs.gcj02_to_wgs84(*crs.wgs84_to_gcj02(lon, lat))
    assert back[0].shape == lon.shape
    error = metres(lon, lat, *back)
    assert error.max() < 0.5
    assert error.max() < 0.001  # the iteration converges far beyond the requirement


def test_gcj02_offset_in_jinzhou_is_the_expected_size():
    lon, lat = jinzhou_grid()
    glon, glat = crs.wgs84_to_gcj02(lon, lat)
    assert 0.004 < (glon - lon).min() and (glon - lon).max() < 0.007
    assert 0.001 < (glat - lat).min() and (glat - lat).max() < 0.003


def test_bd09_round_trip_over_jinzhou():
    lon, lat = jinzhou_grid()
    back = crs.bd09_to_wgs84(*crs.wgs84_to_bd09(lon, lat))
    assert metres(lon, lat, *back).max() < 0.001
    gback = crs.bd09_to_gcj02(*crs.gcj02_to_bd09(lon, lat))
    assert metres(lon, lat, *gback).max() < 0.001


@pytest.mark.parametrize(
    "lon, lat",
    [(2.3522, 48.8566), (-74.006, 40.7128), (139.7671, 35.6812), (0.0, 0.0), (120.0, 60.0)],
)
@pytest.mark.parametrize("func", [crs.wgs84_to_gcj02, crs.gcj02_to_wgs84], ids=lambda f: f.__name__)
def test_outside_china_is_unchanged(func, lon, lat):
    assert func(lon, lat) == (lon, lat)
    assert crs.to_wgs84(shapely.Point(lon, lat), "gcj02").equals(shapely.Point(lon, lat))


def test_scalars_in_scalars_out():
    lon, lat = crs.wgs84_to_gcj02(121.14, 41.11)
    assert np.ndim(lon) == 0 and np.ndim(lat) == 0
    assert isinstance(float(lon), float)


@pytest.mark.parametrize(
    "value, expected",
    [
        (4490, "EPSG:4490"),
        ("EPSG:4490", "EPSG:4490"),
        ("4490", "EPSG:4490"),
        ("epsg:4326", "EPSG:4326"),
        (" EPSG:32651 ", "EPSG:32651"),
        ("gcj02", "gcj02"),
        ("GCJ-02", "gcj02"),
        ("bd09", "bd09"),
        ("BD-09", "bd09"),
    ],
)
def test_parse_crs(value, expected):
    assert crs.parse_crs(value) == expected


@pytest.mark.parametrize("value", ["EPSG:99999", "gcj03", "not a crs", "", None, 3.5, True])
def test_bad_crs_raises_invalid_input_naming_the_value(value):
    with pytest.raises(InvalidInput) as info:
        crs.parse_crs(value)
    assert info.value.field == "crs"
    assert repr(value) in info.value.message


def test_bad_crs_raises_from_to_wgs84():
    with pytest.raises(InvalidInput, match="EPSG:99999"):
        crs.to_wgs84(shapely.Point(1, 2), "EPSG:99999")


def test_cgcs2000_is_near_identity():
    lon, lat = jinzhou_grid()
    x, y = crs.to_wgs84_xy(lon, lat, "EPSG:4490")
    assert metres(lon, lat, x, y).max() < 1.0


def _meridian_arc(lat_deg, a=6378137.0, f=1 / 298.257222101):
    """Meridian arc length by numerical integration: independent of PROJ."""
    e2 = f * (2 - f)
    phi = np.linspace(0.0, np.radians(lat_deg), 200001)
    m = a * (1 - e2) / (1 - e2 * np.sin(phi) ** 2) ** 1.5
    return float(np.sum((m[1:] + m[:-1]) / 2 * np.diff(phi)))


@pytest.mark.parametrize(
    "code, false_easting, central_meridian, scale",
    [
        ("EPSG:4529", 41_500_000.0, 123.0, 1.0),  # CGCS2000 3-degree Gauss-Kruger zone 41
        ("EPSG:4527", 39_500_000.0, 117.0, 1.0),  # zone 39
        ("EPSG:32651", 500_000.0, 123.0, 0.9996),  # WGS84 / UTM 51N
    ],
)
def test_projected_point_on_central_meridian(code, false_easting, central_meridian, scale):
    northing = _meridian_arc(41.1) * scale
    lon, lat = crs.to_wgs84_xy(false_easting, northing, code)
    assert metres(lon, lat, central_meridian, 41.1) < 0.01


def test_projected_round_trip_off_the_meridian():
    point = shapely.Point(121.1417, 41.1078)  # Jinzhou, GeoNames
    projected = crs.from_wgs84(point, "EPSG:4529")
    assert 41_300_000 < projected.x < 41_400_000  # about 157 km west of 123°E
    back = crs.to_wgs84(projected, 4529)
    assert metres(point.x, point.y, back.x, back.y) < 0.001


def test_to_wgs84_geometry_gcj02():
    ring = [(121.10, 41.10), (121.20, 41.10), (121.20, 41.20), (121.10, 41.10)]
    polygon = shapely.Polygon(ring)
    out = crs.to_wgs84(polygon, "GCJ-02")
    expected = [crs.gcj02_to_wgs84(x, y) for x, y in ring]
    assert np.allclose(shapely.get_coordinates(out), expected, atol=1e-12)
    assert out.exterior.is_ccw == polygon.exterior.is_ccw


def test_from_wgs84_gcj02_is_inverse_of_to_wgs84():
    line = shapely.LineString([(121.12, 41.133), (121.121, 41.153)])
    back = crs.to_wgs84(crs.from_wgs84(line, "gcj02"), "gcj02")
    assert shapely.equals_exact(back, line, tolerance=1e-9)


def test_to_wgs84_keeps_z():
    line = shapely.LineString([(121.1, 41.1, 5.0), (121.2, 41.2, 7.0)])
    out = crs.to_wgs84(line, "bd09")
    assert out.has_z and list(shapely.get_coordinates(out, include_z=True)[:, 2]) == [5.0, 7.0]


def test_wgs84_is_identity():
    point = shapely.Point(121.1, 41.1)
    assert crs.to_wgs84(point, 4326).equals(point)
