"""RFC 7946 GeoJSON, built feature by feature so a response or file can be streamed.

A FeatureCollection is yielded as byte chunks (opening, one Feature each, closing),
so memory stays flat however many features a layer holds.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

import orjson
from shapely.geometry import mapping
from shapely.geometry.base import BaseGeometry

from geo.geometry import orient_rfc7946, round_coords

_OPTIONS = orjson.OPT_NON_STR_KEYS | orjson.OPT_SERIALIZE_NUMPY


def dumps(obj: Any) -> bytes:
    """JSON bytes via orjson; non-string keys allowed, Chinese text stays UTF-8 (not \\u-escaped)."""
    return orjson.dumps(obj, option=_OPTIONS)


def feature(id: Any, geometry: BaseGeometry | None, properties: dict | None) -> dict:
    """A GeoJSON Feature dict: coordinates rounded to 6 decimals, right-hand rings, no `crs` member.

    `id` None leaves the member out; a missing or empty geometry becomes null.
    """
    geom = None
    if geometry is not None and not geometry.is_empty:
        geom = mapping(round_coords(orient_rfc7946(geometry), 6))
    out: dict[str, Any] = {"type": "Feature"}
    if id is not None:
        out["id"] = id
    out["geometry"] = geom
    out["properties"] = properties if properties is not None else {}
    return out


def iter_feature_collection(
    features: Iterable[dict], *, extra_members: dict | None = None
) -> Iterator[bytes]:
    """Yield a FeatureCollection as chunks: opening bytes, one Feature per chunk, closing bytes.

    `extra_members` (e.g. OGC API `numberMatched`, `links`) are written before the features.
    """
    extra = extra_members or {}
    clash = {"type", "features"} & set(extra)
    if clash:
        raise ValueError(f"extra_members may not redefine {sorted(clash)}")
    head = b'{"type":"FeatureCollection"'
    if extra:
        head += b"," + dumps(extra)[1:-1]
    yield head + b',"features":['
    separator = b""
    for item in features:
        yield separator + dumps(item)
        separator = b","
    yield b"]}"

