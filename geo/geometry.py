"""Pure geometry rules on shapely 2 geometries (WGS84 lon/lat unless said otherwise).

Repair and orientation make imported data safe to store and to publish as
RFC 7946 GeoJSON; `distance_m` measures metres for geofences and "nearest site".
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import shapely
from pyproj import Transformer
from shapely.geometry import MultiLineString, MultiPoint, MultiPolygon, Point
from shapely.geometry.base import BaseGeometry

from geo.messages import Message, msg
from geo.model import InvalidInput

BASE_TYPES = {
    "Point": "Point",
    "MultiPoint": "Point",
    "LineString": "LineString",
    "LinearRing": "LineString",
    "MultiLineString": "LineString",
    "Polygon": "Polygon",
    "MultiPolygon": "Polygon",
}
_MULTI = {"Point": MultiPoint, "LineString": MultiLineString, "Polygon": MultiPolygon}


def base_type(geom: BaseGeometry) -> str:
    """The base type: Point, LineString or Polygon (Multi* map to their base); others keep their name."""
    return BASE_TYPES.get(geom.geom_type, geom.geom_type)


def check_type(geom: BaseGeometry, allowed: tuple[str, ...]) -> None:
    """Raise InvalidInput unless the geometry's base type is one of `allowed` (base type names)."""
    if base_type(geom) not in allowed:
        raise InvalidInput(
            msg("geometry_wrong_type", "geometry is a {kind}; this layer takes {allowed}",
                kind=geom.geom_type, allowed=either(allowed)),
            field="geometry",
        )


def either(names: tuple[str, ...] | list[str]) -> Message | str:
    """Names joined as "A or B or C" in the reader's language (the names are codes, never translated)."""
    if len(names) == 1:
        return names[0]
    return msg("one_or_other", "{one} or {other}", one=names[0], other=either(names[1:]))


def repair(geom: BaseGeometry | None) -> BaseGeometry | None:
    """A valid, non-empty version of `geom` of the same base type, or None when nothing usable remains.

    make_valid can turn a polygon into a collection of polygons, lines and points
    (a bow-tie becomes two triangles); only the parts of the input's own base type
    are kept, so a layer of polygons never receives a stray line.
    """
    if geom is None or geom.is_empty:
        return None
    if geom.is_valid:
        return geom
    try:
        fixed = shapely.make_valid(geom)
    except shapely.errors.GEOSException:
        return None
    want = base_type(geom)
    if want not in _MULTI:  # a GeometryCollection input: keep whatever is valid
        return None if fixed.is_empty else fixed
    parts = [p for p in _flatten(fixed) if not p.is_empty and base_type(p) == want]
    if not parts:
        return None
    return parts[0] if len(parts) == 1 else _MULTI[want](parts)


def _flatten(geom: BaseGeometry) -> list[BaseGeometry]:
    """Single-part geometries inside any multi-part geometry or collection."""
    if hasattr(geom, "geoms"):  # Multi* and GeometryCollection
        return [single for part in geom.geoms for single in _flatten(part)]
    return [geom]


def orient_rfc7946(geom: BaseGeometry | None) -> BaseGeometry | None:
    """Exterior rings counter-clockwise, holes clockwise (RFC 7946 §3.1.6); non-polygons unchanged."""
    if geom is None:
        return None
    if hasattr(shapely, "orient_polygons"):  # shapely >= 2.1; handles collections too
        return shapely.orient_polygons(geom, exterior_cw=False)
    return _orient_fallback(geom)


def _orient_fallback(geom: BaseGeometry) -> BaseGeometry:
    from shapely.geometry.polygon import orient

    if geom.geom_type == "Polygon":
        return orient(geom, sign=1.0)
    if geom.geom_type in ("MultiPolygon", "GeometryCollection"):
        return type(geom)([_orient_fallback(g) for g in geom.geoms])
    return geom


def bbox(geom: BaseGeometry) -> tuple[float, float, float, float]:
    """(minx, miny, maxx, maxy) of the geometry."""
    minx, miny, maxx, maxy = geom.bounds
    return (minx, miny, maxx, maxy)


def round_coords(geom: BaseGeometry | None, ndigits: int = 6) -> BaseGeometry | None:
    """Coordinates rounded to `ndigits` decimals (6 ≈ 0.1 m) for output; keeps Z when present."""
    if geom is None:
        return None
    return shapely.transform(geom, lambda xy: np.round(xy, ndigits), include_z=geom.has_z)


def distance_m(point_lonlat: tuple[float, float] | Point, geom: BaseGeometry) -> float:
    """Metres from a lon/lat point to a WGS84 geometry (0 when the point is inside a polygon).

    Both are projected to an azimuthal-equidistant plane centred on the point, where
    distances from the centre are true; within 50 km the error stays far below 1 %.
    """
    lon, lat = (point_lonlat.x, point_lonlat.y) if isinstance(point_lonlat, Point) else point_lonlat
    # The centre is rounded to 0.01° (≈1 km) so nearby points share one cached transformer;
    # the resulting scale error is below 1e-5 for anything within 50 km.
    to_local = _local_transformer(round(float(lon), 2), round(float(lat), 2))

    def project(xy: np.ndarray) -> np.ndarray:
        x, y = to_local.transform(xy[:, 0], xy[:, 1])
        return np.column_stack([x, y])

    here = shapely.transform(Point(lon, lat), project)
    return float(here.distance(shapely.transform(geom, project)))


@lru_cache(maxsize=512)
def _local_transformer(lon: float, lat: float) -> Transformer:
    local = f"+proj=aeqd +lat_0={lat} +lon_0={lon} +datum=WGS84 +units=m +no_defs"
    return Transformer.from_crs("EPSG:4326", local, always_xy=True)


# ---------------------------------------------------------------- display forms
TILE_SIZE = 256
DISPLAY_LEVELS = (8, 11)  # zooms whose simplified GeoJSON is stored with each site


def pixel_tolerance(zoom: int) -> float:
    """Half a screen pixel at ``zoom``, in degrees: detail finer than that cannot be seen."""
    return 0.5 * 360.0 / (TILE_SIZE * 2**zoom)


def display_level(zoom: int | None) -> int | None:
    """The stored level that serves ``zoom``, or None to simplify on the fly.

    The nearest level at or below the zoom: its half-pixel tolerance is at most a
    pixel at the zoom above it and two pixels at zoom 10, which no one sees on
    shapes a few pixels wide. Beyond zoom 12 a view holds a few hundred sites at
    most, few enough to simplify per request.
    """
    if zoom is None or zoom > DISPLAY_LEVELS[-1] + 1:
        return None
    return max((level for level in DISPLAY_LEVELS if level <= zoom), default=DISPLAY_LEVELS[0])


def display_forms(geom: BaseGeometry) -> dict[int, str]:
    """GeoJSON text of ``geom`` simplified for each display level (topology preserved)."""
    return {level: shapely.to_geojson(shapely.simplify(geom, pixel_tolerance(level), preserve_topology=True))
            for level in DISPLAY_LEVELS}
