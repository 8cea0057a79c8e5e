"""The bulk GeoJSON builder of the map writes the same geometry as GEOS, kind by kind."""

import json

import numpy as np
import pytest
import shapely

from geo.io.geojson import dumps, geometry_members

HOLED = shapely.Polygon([(0, 0), (4, 0), (4, 4), (0, 0)], [[(2, 0.5), (3, 0.5), (3, 1.5), (2, 0.5)]])


@pytest.mark.parametrize(
    "geometries",
    [
        [shapely.Point(121.1, 41.1), shapely.Point(122.123456, 41.654321)],
        [shapely.LineString([(0, 0), (1, 1), (2, 0)]), shapely.LineString([(5, 5), (6, 6)])],
        [HOLED, shapely.box(3, 3, 4, 4)],
        [shapely.MultiPolygon([shapely.box(0, 0, 1, 1), HOLED]),
         shapely.MultiPolygon([shapely.box(5, 5, 6, 6)])],
        [shapely.MultiLineString([[(0, 0), (1, 1)], [(2, 2), (3, 3)]])],
        [shapely.MultiPoint([(0, 0), (1, 1)])],
        [shapely.Point(1, 2), shapely.box(0, 0, 1, 1)],  # mixed kinds
        [shapely.box(0, 0, 1, 1), shapely.MultiPolygon([shapely.box(2, 2, 3, 3)])],  # types kept exact
    ],
    ids=["points", "lines", "polygons", "multipolygons", "multilines", "multipoints", "mixed", "poly+multi"],
)
def test_same_geojson_as_geos(geometries):
    built = json.loads(dumps(geometry_members(np.array(geometries, dtype=object))))
    assert built == [json.loads(shapely.to_geojson(g)) for g in geometries]


def test_empty_input():
    assert geometry_members(np.array([], dtype=object)) == []
