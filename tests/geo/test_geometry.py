"""geo.geometry: repair, RFC 7946 orientation, bbox, metric distance, type checks."""

import pyproj
import pytest
import shapely
from shapely.geometry import (
    GeometryCollection,
    LineString,
    MultiLineString,
    MultiPoint,
    MultiPolygon,
    Point,
    Polygon,
)

from geo.geometry import base_type, bbox, check_type, distance_m, orient_rfc7946, repair, round_coords
from geo.model import InvalidInput

GEOD = pyproj.Geod(ellps="WGS84")
JINZHOU = (121.127, 41.095)  # lon, lat of central Jinzhou

SQUARE = [(0, 0), (0, 2), (2, 2), (2, 0)]  # clockwise
HOLE = [(0.5, 0.5), (1.5, 0.5), (1.5, 1.5), (0.5, 1.5)]  # counter-clockwise


def ccw(ring) -> bool:
    return shapely.LinearRing(ring).is_ccw


# ---------------------------------------------------------------- repair
def test_repair_bow_tie_gives_two_triangles():
    bow_tie = Polygon([(0, 0), (1, 1), (1, 0), (0, 1)])
    assert not bow_tie.is_valid
    fixed = repair(bow_tie)
    assert isinstance(fixed, MultiPolygon)
    assert fixed.is_valid and len(fixed.geoms) == 2
    assert fixed.area == pytest.approx(0.5)


def test_repair_keeps_only_the_polygonal_part():
    spike = Polygon([(0, 0), (2, 0), (2, 2), (1, 2), (1, 3), (1, 2), (0, 2)])
    assert isinstance(shapely.make_valid(spike), GeometryCollection)  # polygon + the spike as a line
    fixed = repair(spike)
    assert fixed.geom_type == "Polygon" and fixed.is_valid
    assert fixed.area == pytest.approx(4)


@pytest.mark.parametrize(
    "geom",
    [
        None,
        Polygon(),
        Polygon([(0, 0), (1, 1), (2, 2), (0, 0)]),  # collapses to a line
        LineString([(1, 1), (1, 1)]),  # collapses to a point
    ],
    ids=["none", "empty", "flat polygon", "zero-length line"],
)
def test_repair_returns_none_when_nothing_usable_remains(geom):
    assert repair(geom) is None


@pytest.mark.parametrize(
    "geom", [Point(1, 2), LineString([(0, 0), (1, 1)]), Polygon(SQUARE), MultiPoint([(0, 0), (1, 1)])]
)
def test_repair_leaves_valid_geometries_alone(geom):
    assert repair(geom) is geom


# ---------------------------------------------------------------- orientation
def test_orient_clockwise_polygon_becomes_counter_clockwise():
    polygon = Polygon(SQUARE)
    assert not ccw(polygon.exterior)
    oriented = orient_rfc7946(polygon)
    assert ccw(oriented.exterior)
    assert oriented.equals(polygon)


def test_orient_polygon_with_hole():
    polygon = Polygon(SQUARE, [HOLE])  # exterior clockwise, hole counter-clockwise: both wrong
    oriented = orient_rfc7946(polygon)
    assert ccw(oriented.exterior)
    assert not ccw(oriented.interiors[0])
    assert oriented.area == pytest.approx(3)


def test_orient_multipolygon_and_collection():
    multi = MultiPolygon([Polygon(SQUARE), Polygon([(5, 5), (5, 6), (6, 6)])])
    assert all(ccw(p.exterior) for p in orient_rfc7946(multi).geoms)
    collection = GeometryCollection([Polygon(SQUARE), Point(9, 9)])
    polygon, point = orient_rfc7946(collection).geoms
    assert ccw(polygon.exterior) and point.equals(Point(9, 9))


@pytest.mark.parametrize("geom", [Point(1, 2), LineString([(2, 2), (0, 0)]), None])
def test_orient_leaves_other_types_unchanged(geom):
    oriented = orient_rfc7946(geom)
    assert oriented is None if geom is None else oriented.equals_exact(geom, 0)


# ---------------------------------------------------------------- bbox, rounding
def test_bbox():
    assert bbox(LineString([(121.5, 41.2), (120.9, 41.8)])) == (120.9, 41.2, 121.5, 41.8)


def test_round_coords():
    rounded = round_coords(LineString([(121.12345678, 41.98765432), (1, 2)]))
    assert list(rounded.coords) == [(121.123457, 41.987654), (1, 2)]
    assert round_coords(Point(1.26, 2.04, 3.33), 1).has_z


# ---------------------------------------------------------------- distance
def north_of(point, metres):
    lon, lat, _ = GEOD.fwd(point[0], point[1], 0, metres)
    return lon, lat


@pytest.mark.parametrize("metres", [10, 1000, 20_000, 50_000])
def test_distance_to_a_point_north(metres):
    assert distance_m(JINZHOU, Point(north_of(JINZHOU, metres))) == pytest.approx(metres, rel=0.01)


def test_distance_accepts_a_shapely_point():
    assert distance_m(Point(JINZHOU), Point(north_of(JINZHOU, 1000))) == pytest.approx(1000, rel=0.01)


def test_distance_inside_polygon_is_zero():
    lon, lat = JINZHOU
    square = Polygon(
        [
            (lon - 0.01, lat - 0.01),
            (lon + 0.01, lat - 0.01),
            (lon + 0.01, lat + 0.01),
            (lon - 0.01, lat + 0.01),
        ]
    )
    assert distance_m(JINZHOU, square) == 0


def test_distance_to_polygon_edge():
    lon, lat = JINZHOU
    south_edge = north_of(JINZHOU, 2000)[1]
    box = Polygon(
        [(lon - 0.1, south_edge), (lon + 0.1, south_edge), (lon + 0.1, lat + 0.2), (lon - 0.1, lat + 0.2)]
    )
    assert distance_m(JINZHOU, box) == pytest.approx(2000, rel=0.01)


def test_distance_to_a_line():
    # A north-south line 3 km east of the point: the nearest point is due east.
    lon, lat = JINZHOU
    east_lon = GEOD.fwd(lon, lat, 90, 3000)[0]
    line = LineString([(east_lon, lat - 0.1), (east_lon, lat + 0.1)])
    assert distance_m(JINZHOU, line) == pytest.approx(3000, rel=0.01)
    assert distance_m(JINZHOU, MultiLineString([line, [(lon + 1, lat), (lon + 2, lat)]])) == pytest.approx(
        3000, rel=0.01
    )


# ---------------------------------------------------------------- types
@pytest.mark.parametrize(
    "geom, expected",
    [
        (Point(0, 0), "Point"),
        (MultiPoint([(0, 0), (1, 1)]), "Point"),
        (LineString([(0, 0), (1, 1)]), "LineString"),
        (MultiLineString([[(0, 0), (1, 1)]]), "LineString"),
        (Polygon(SQUARE), "Polygon"),
        (MultiPolygon([Polygon(SQUARE)]), "Polygon"),
        (GeometryCollection([Point(0, 0)]), "GeometryCollection"),
    ],
)
def test_base_type(geom, expected):
    assert base_type(geom) == expected


@pytest.mark.parametrize(
    "geom, allowed",
    [(Point(0, 0), ("Point",)), (MultiPolygon([Polygon(SQUARE)]), ("Point", "Polygon"))],
)
def test_check_type_accepts(geom, allowed):
    check_type(geom, allowed)


@pytest.mark.parametrize(
    "geom, allowed, message",
    [
        (LineString([(0, 0), (1, 1)]), ("Polygon",), "geometry is a LineString; this layer takes Polygon"),
        (
            MultiLineString([[(0, 0), (1, 1)]]),
            ("Point", "Polygon"),
            "geometry is a MultiLineString; this layer takes Point or Polygon",
        ),
        (
            GeometryCollection([Point(0, 0)]),
            ("Point",),
            "geometry is a GeometryCollection; this layer takes Point",
        ),
    ],
)
def test_check_type_rejects_naming_both(geom, allowed, message):
    with pytest.raises(InvalidInput) as caught:
        check_type(geom, allowed)
    assert caught.value.message == message
    assert caught.value.field == "geometry"
