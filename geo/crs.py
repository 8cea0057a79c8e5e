"""Coordinate reference systems: bring every input to WGS84 lon/lat.

EPSG codes (CGCS2000 EPSG:4490 and its projected zones included) go through
pyproj. The Chinese web-map coordinates are another matter: GCJ-02 (AMap,
Tencent) and BD-09 (Baidu) are deliberate obfuscations, not geodetic datums,
so PROJ has no definition for them and they are written here by hand from the
published formulas. Everything is vectorised over numpy arrays, so a layer of
100 000 vertices converts in one call.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable
from functools import lru_cache

import numpy as np
import pyproj
import shapely
from pyproj.exceptions import CRSError

from geo.messages import msg
from geo.model import InvalidInput

WGS84 = "EPSG:4326"
GCJ02 = "gcj02"
BD09 = "bd09"

_ALIASES = {
    "gcj02": GCJ02, "gcj-02": GCJ02, "gcj_02": GCJ02,
    "bd09": BD09, "bd-09": BD09, "bd_09": BD09, "bd09ll": BD09,
}

# GCJ-02 constants: the Krasovsky 1940 ellipsoid the published formula is built on.
_A = 6378245.0
_EE = 0.00669342162296594323
# BD-09 is GCJ-02 plus a further polar-coordinate twist of Baidu's own.
_X_PI = math.pi * 3000.0 / 180.0

_TOLERANCE_DEG = 1e-9  # inverse iterations stop below this (about 0.1 mm)
_MAX_ITERATIONS = 30


# ---------------------------------------------------------------- parsing
def parse_crs(value) -> str:
    """Normalise a CRS given by a user or a file: "EPSG:4490", "gcj02" or "bd09".

    Accepts an int EPSG code, "4490", "epsg:4326", "GCJ-02", "BD-09" and anything
    else pyproj understands; raises InvalidInput(field="crs") naming the value
    otherwise, so an import can tell the user which CRS it could not use.
    """
    if isinstance(value, numbers.Integral) and not isinstance(value, bool):
        return _parse(int(value))
    if not isinstance(value, str):
        raise InvalidInput(msg("crs_unknown", "unknown CRS {value}", value=repr(value)), field="crs")
    return _parse(value)


@lru_cache(maxsize=256)
def _parse(value: int | str) -> str:
    # Cached: a PROJ database lookup costs up to tens of milliseconds, and every
    # conversion call parses its CRS argument.
    text = f"EPSG:{value}" if isinstance(value, int) else value.strip()
    alias = _ALIASES.get(text.lower())
    if alias:
        return alias
    code = text[5:] if text[:5].lower() == "epsg:" else text
    try:
        if code.isdigit():
            pyproj.CRS.from_epsg(int(code))  # raises for a code PROJ does not know
            return f"EPSG:{int(code)}"
        crs = pyproj.CRS.from_user_input(text)
    except CRSError as exc:
        raise InvalidInput(msg("crs_unknown", "unknown CRS {value}", value=repr(value)), field="crs") from exc
    authority = crs.to_authority(min_confidence=100)
    return f"{authority[0]}:{authority[1]}".upper() if authority else crs.to_string()


@lru_cache(maxsize=64)
def _transformer(source: str, target: str) -> pyproj.Transformer:
    # Building a Transformer costs milliseconds and a batch import converts feature by
    # feature; sharing one is safe, pyproj Transformers are thread-safe since 3.1.
    return pyproj.Transformer.from_crs(source, target, always_xy=True)


# ---------------------------------------------------------------- GCJ-02
def _out_of_china(lon, lat):
    # The rough box every public implementation uses: outside it GCJ-02 is not applied.
    return (lon < 72.004) | (lon > 137.8347) | (lat < 0.8293) | (lat > 55.8271)


def _gcj_offset(lon, lat):
    """The published GCJ-02 offset (dlon, dlat) in degrees at WGS84 (lon, lat)."""
    x, y = lon - 105.0, lat - 35.0
    pi = math.pi
    common = (20.0 * np.sin(6.0 * x * pi) + 20.0 * np.sin(2.0 * x * pi)) * 2.0 / 3.0
    dlat = -100.0 + 2.0 * x + 3.0 * y + 0.2 * y * y + 0.1 * x * y + 0.2 * np.sqrt(np.abs(x)) + common
    dlat += (20.0 * np.sin(y * pi) + 40.0 * np.sin(y / 3.0 * pi)) * 2.0 / 3.0
    dlat += (160.0 * np.sin(y / 12.0 * pi) + 320.0 * np.sin(y * pi / 30.0)) * 2.0 / 3.0
    dlon = 300.0 + x + 2.0 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * np.sqrt(np.abs(x)) + common
    dlon += (20.0 * np.sin(x * pi) + 40.0 * np.sin(x / 3.0 * pi)) * 2.0 / 3.0
    dlon += (150.0 * np.sin(x / 12.0 * pi) + 300.0 * np.sin(x / 30.0 * pi)) * 2.0 / 3.0
    rad = lat / 180.0 * pi
    magic = 1.0 - _EE * np.sin(rad) ** 2
    sqrt_magic = np.sqrt(magic)
    dlat = dlat * 180.0 / ((_A * (1.0 - _EE)) / (magic * sqrt_magic) * pi)
    dlon = dlon * 180.0 / (_A / sqrt_magic * np.cos(rad) * pi)
    return dlon, dlat


def _as_arrays(lon, lat):
    return np.asarray(lon, dtype=float), np.asarray(lat, dtype=float)


def _result(lon, lat):
    # 0-d arrays back to numpy scalars, so scalar in → scalar out.
    return lon[()], lat[()]


def _invert(forward: Callable, lon, lat):
    """Solve forward(x) = target by fixed-point iteration.

    The published GCJ-02 and BD-09 inverses are one step of this and leave errors
    of up to a few metres; a handful of iterations brings them below 0.1 mm.
    """
    x, y = lon.copy(), lat.copy()
    for _ in range(_MAX_ITERATIONS):
        fx, fy = forward(x, y)
        dx, dy = fx - lon, fy - lat
        x, y = x - dx, y - dy
        if dx.size == 0 or max(np.max(np.abs(dx)), np.max(np.abs(dy))) < _TOLERANCE_DEG:
            break
    return x, y


def _wgs_to_gcj_raw(lon, lat):
    dlon, dlat = _gcj_offset(lon, lat)
    return lon + dlon, lat + dlat


def wgs84_to_gcj02(lon, lat):
    """WGS84 → GCJ-02 (AMap, Tencent); points outside China are returned unchanged."""
    lon, lat = _as_arrays(lon, lat)
    glon, glat = _wgs_to_gcj_raw(lon, lat)
    outside = _out_of_china(lon, lat)
    return _result(np.where(outside, lon, glon), np.where(outside, lat, glat))


def gcj02_to_wgs84(lon, lat):
    """GCJ-02 → WGS84 by iteration (round trip well under a millimetre)."""
    lon, lat = _as_arrays(lon, lat)
    wlon, wlat = _invert(_wgs_to_gcj_raw, lon, lat)
    outside = _out_of_china(lon, lat)
    return _result(np.where(outside, lon, wlon), np.where(outside, lat, wlat))


# ---------------------------------------------------------------- BD-09
def _gcj_to_bd_raw(lon, lat):
    z = np.sqrt(lon * lon + lat * lat) + 0.00002 * np.sin(lat * _X_PI)
    theta = np.arctan2(lat, lon) + 0.000003 * np.cos(lon * _X_PI)
    return z * np.cos(theta) + 0.0065, z * np.sin(theta) + 0.006


def gcj02_to_bd09(lon, lat):
    """GCJ-02 → BD-09 (Baidu), the standard formula."""
    return _result(*_gcj_to_bd_raw(*_as_arrays(lon, lat)))


def bd09_to_gcj02(lon, lat):
    """BD-09 → GCJ-02, iterated like gcj02_to_wgs84 so round trips close exactly."""
    return _result(*_invert(_gcj_to_bd_raw, *_as_arrays(lon, lat)))


def wgs84_to_bd09(lon, lat):
    """WGS84 → BD-09 (through GCJ-02, as Baidu defines it)."""
    return gcj02_to_bd09(*wgs84_to_gcj02(lon, lat))


def bd09_to_wgs84(lon, lat):
    """BD-09 → WGS84 (through GCJ-02)."""
    return gcj02_to_wgs84(*bd09_to_gcj02(lon, lat))


_TO_WGS84 = {GCJ02: gcj02_to_wgs84, BD09: bd09_to_wgs84}
_FROM_WGS84 = {GCJ02: wgs84_to_gcj02, BD09: wgs84_to_bd09}


# ---------------------------------------------------------------- any CRS
def to_wgs84_xy(xs, ys, crs):
    """Convert coordinate arrays in `crs` to WGS84 (lon, lat) arrays."""
    crs = parse_crs(crs)
    xs, ys = _as_arrays(xs, ys)
    if crs == WGS84:
        return xs, ys
    if crs in _TO_WGS84:
        return tuple(np.asarray(a) for a in _TO_WGS84[crs](xs, ys))
    return _transformer(crs, WGS84).transform(xs, ys)


def from_wgs84_xy(xs, ys, crs):
    """Convert WGS84 (lon, lat) arrays to `crs` (e.g. to draw on GCJ-02 AMap tiles)."""
    crs = parse_crs(crs)
    xs, ys = _as_arrays(xs, ys)
    if crs == WGS84:
        return xs, ys
    if crs in _FROM_WGS84:
        return tuple(np.asarray(a) for a in _FROM_WGS84[crs](xs, ys))
    return _transformer(WGS84, crs).transform(xs, ys)


def _transform_geometry(geometry, convert: Callable, crs):
    crs = parse_crs(crs)  # fail on a bad CRS even for an empty geometry

    def apply(x, y, z=None):
        nx, ny = convert(x, y, crs)
        return (nx, ny) if z is None else (nx, ny, z)

    # include_z=None keeps a Z coordinate (untouched) where the geometry has one.
    return shapely.transform(geometry, apply, include_z=None, interleaved=False)


def to_wgs84(geometry, crs):
    """A shapely geometry in `crs` → the same geometry in WGS84 lon/lat."""
    return _transform_geometry(geometry, to_wgs84_xy, crs)


def from_wgs84(geometry, crs):
    """A WGS84 shapely geometry → `crs`, e.g. "gcj02" to overlay AMap tiles."""
    return _transform_geometry(geometry, from_wgs84_xy, crs)
