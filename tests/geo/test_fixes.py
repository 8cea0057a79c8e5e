"""geo.fixes: many GPS fixes assigned to real zones near Jinzhou, and their metres to them."""

import numpy as np
import pytest
import shapely
from pyproj import Geod
from shapely.geometry import LineString, Point, Polygon, box

from geo import fixes
from geo.geometry import distance_m
from geo.model import InvalidInput

GEOD = Geod(ellps="WGS84")
X0, Y0 = 121.90, 41.50  # near Heishan County
KM_LON, KM_LAT = 1 / 83.5, 1 / 111.0  # about a kilometre in degrees here
# geo.geometry.distance_m draws an edge straight on a plane centred near the fix, geo.fixes on the Mercator
# plane: along these kilometre-long edges the two lines part by up to about a centimetre.
SAME_METRES = 0.03


def moved(lon: float, lat: float, azimuth: float, metres: float) -> tuple[float, float]:
    """The point ``metres`` from (lon, lat) towards ``azimuth`` (degrees from north), on the ellipsoid."""
    to_lon, to_lat, _ = GEOD.fwd(lon, lat, azimuth, metres)
    return float(to_lon), float(to_lat)


SQUARE = box(X0, Y0, X0 + KM_LON, Y0 + KM_LAT)  # id 10
RING = Polygon(  # id 20: a village around a pond (a 1 km square with a 400 m hole)
    box(X0 + 3 * KM_LON, Y0, X0 + 4 * KM_LON, Y0 + KM_LAT).exterior.coords,
    [box(X0 + 3.3 * KM_LON, Y0 + 0.3 * KM_LAT, X0 + 3.7 * KM_LON, Y0 + 0.7 * KM_LAT).exterior.coords])
ISLAND = box(X0 + 3.45 * KM_LON, Y0 + 0.45 * KM_LAT, X0 + 3.55 * KM_LON, Y0 + 0.55 * KM_LAT)  # id 30
OVERLAP = box(X0 + 0.5 * KM_LON, Y0, X0 + 1.5 * KM_LON, Y0 + KM_LAT)  # id 40, overlaps SQUARE's east half
ROAD = LineString([(X0, Y0 - 3 * KM_LAT), (X0 + 4 * KM_LON, Y0 - 3 * KM_LAT)])  # id 50
IDS = np.array([10, 20, 30, 40, 50])
ZONES = np.array([SQUARE, RING, ISLAND, OVERLAP, ROAD], dtype=object)


def assign(points, radius_m=500.0, ids=IDS, zones=ZONES):
    lon, lat = np.array(points, dtype=float).reshape(-1, 2).T
    return fixes.assign_fixes(lon, lat, ids, zones, radius_m=radius_m)


def test_inside_on_the_edge_and_at_a_corner_is_distance_zero():
    mid_lat = Y0 + 0.5 * KM_LAT
    found = assign([(X0 + 0.2 * KM_LON, mid_lat), (X0, mid_lat), (X0, Y0)])
    assert found.zone_id.tolist() == [10, 10, 10]
    assert found.distance_m.tolist() == [0.0, 0.0, 0.0]
    assert found.inside.all()


def test_where_zones_overlap_the_first_given_wins():
    point = (X0 + 0.8 * KM_LON, Y0 + 0.5 * KM_LAT)
    assert assign([point]).zone_id.tolist() == [10]
    order = [3, 0, 1, 2, 4]
    assert assign([point], ids=IDS[order], zones=ZONES[order]).zone_id.tolist() == [40]


def test_outside_within_the_radius_gets_the_nearest_zone_and_ground_metres():
    west = moved(X0, Y0 + 0.5 * KM_LAT, 270, 200)  # 200 m west of the square's west edge
    south = moved(X0 + 0.2 * KM_LON, Y0, 180, 120)
    found = assign([west, south])
    assert found.zone_id.tolist() == [10, 10]
    assert found.distance_m == pytest.approx([200, 120], abs=0.05)
    assert not found.inside.any()
    # the same metres as one report's distance (geo.geometry.distance_m)
    one_by_one = [distance_m(west, SQUARE), distance_m(south, SQUARE)]
    assert found.distance_m == pytest.approx(one_by_one, abs=SAME_METRES)


def test_nearest_on_the_ground_not_in_degrees():
    """300 m east of one zone and 330 m south of another: in degrees the northern one looks nearer
    (a degree of longitude is 25 % shorter here), on the ground the western one is."""
    west_zone = box(X0 - KM_LON, Y0 - 0.5 * KM_LAT, X0, Y0 + 0.5 * KM_LAT)
    fix = moved(X0, Y0, 90, 300)
    south_edge = moved(*fix, 0, 330)[1]
    north_zone = box(fix[0] - 0.5 * KM_LON, south_edge, fix[0] + 0.5 * KM_LON, south_edge + 0.5 * KM_LAT)
    assert north_zone.distance(Point(fix)) < west_zone.distance(Point(fix))  # in degrees
    found = assign([fix], ids=np.array([1, 2]), zones=np.array([north_zone, west_zone], dtype=object))
    assert found.zone_id.tolist() == [2]
    assert found.distance_m == pytest.approx([300], abs=0.05)


def test_far_outside_has_no_zone():
    found = assign([moved(X0, Y0, 0, 600 + KM_LAT * 111_000), (X0 - 0.5, Y0)], radius_m=500)
    assert found.zone_id.tolist() == [fixes.NO_ZONE] * 2
    assert found.index.tolist() == [fixes.NO_ZONE] * 2
    assert np.isnan(found.distance_m).all()


def test_the_radius_is_metres_on_the_ground():
    fix = moved(X0, Y0 + 0.5 * KM_LAT, 270, 450)
    assert assign([fix], radius_m=460).zone_id.tolist() == [10]
    assert assign([fix], radius_m=440).zone_id.tolist() == [fixes.NO_ZONE]


def test_a_hole_is_outside_and_an_island_in_it_is_its_own_zone():
    hole_west = X0 + 3.3 * KM_LON
    in_pond = moved(hole_west, Y0 + 0.5 * KM_LAT, 90, 50)  # 50 m into the pond from its west shore
    on_island = (X0 + 3.5 * KM_LON, Y0 + 0.5 * KM_LAT)
    found = assign([in_pond, on_island])
    assert found.zone_id.tolist() == [20, 30]
    assert found.distance_m[0] == pytest.approx(50, abs=0.05)
    assert found.distance_m[0] == pytest.approx(distance_m(in_pond, RING), abs=SAME_METRES)
    assert found.distance_m[1] == 0


def test_a_line_zone_is_measured_to_the_line():
    fix = moved(X0 + 2 * KM_LON, Y0 - 3 * KM_LAT, 0, 80)
    found = assign([fix])
    assert found.zone_id.tolist() == [50]
    assert found.distance_m == pytest.approx([80], abs=0.05)


def test_random_fixes_agree_with_one_report_distance_to_every_zone():
    """Brute force: for each fix, distance_m to every zone; the smallest within the radius must win.

    Edges of at most ~100 m, as village outlines have: along the 4 km road the planes of the two
    methods would part by decimetres."""
    zones = shapely.segmentize(ZONES, 0.001)
    rng = np.random.default_rng(3)
    lon = rng.uniform(X0 - 0.5 * KM_LON, X0 + 4.5 * KM_LON, 150)
    lat = rng.uniform(Y0 - 3.5 * KM_LAT, Y0 + 1.5 * KM_LAT, 150)
    found = fixes.assign_fixes(lon, lat, IDS, zones, radius_m=400)
    for i in range(lon.size):
        metres = np.array([distance_m((lon[i], lat[i]), zone) for zone in zones])
        # equally near (the square and the zone overlapping it share edges): the first given
        best = int(np.flatnonzero(metres <= metres.min() + 1e-6)[0]) if metres.min() <= 400 else fixes.NO_ZONE
        assert found.index[i] == best, (i, metres)
        if best != fixes.NO_ZONE:
            assert found.distance_m[i] == pytest.approx(metres[best], abs=0.002)
    assert (found.index == fixes.NO_ZONE).any() and found.inside.any() and (found.distance_m > 0).any()


def test_distances_to_given_zones_pairwise():
    west = moved(X0, Y0 + 0.5 * KM_LAT, 270, 200)
    lon, lat = np.array([west, west, (X0 + 3.5 * KM_LON, Y0 + 0.5 * KM_LAT)]).T
    metres = fixes.distances_m(lon, lat, ZONES, which=[0, 0, 1])
    assert metres[:2] == pytest.approx([200, 200], abs=0.05)
    assert metres[2] == pytest.approx(distance_m((lon[2], lat[2]), RING), abs=SAME_METRES)
    assert fixes.distances_m([], [], ZONES, which=[]).size == 0


def test_nothing_to_assign():
    assert fixes.assign_fixes([], [], IDS, ZONES, radius_m=100).zone_id.size == 0
    found = fixes.assign_fixes([X0], [Y0], [], [], radius_m=100)
    assert found.zone_id.tolist() == [fixes.NO_ZONE]


@pytest.mark.parametrize("lon, lat", [([X0, np.nan], [Y0, Y0]), ([X0], [95.0]), ([X0, X0], [Y0])])
def test_unusable_fixes_are_refused(lon, lat):
    with pytest.raises(InvalidInput):
        fixes.assign_fixes(lon, lat, IDS, ZONES, radius_m=100)


def test_zones_need_ids_and_geometries():
    with pytest.raises(InvalidInput):
        fixes.assign_fixes([X0], [Y0], IDS[:2], ZONES, radius_m=100)
    with pytest.raises(InvalidInput):
        fixes.assign_fixes([X0], [Y0], [1, 2], np.array([SQUARE, None], dtype=object), radius_m=100)
