"""Write GeoJSON-like features to a file, atomically.

Every format is written under a temporary name beside the target and renamed
into place at the end (geo.io.files), so an error midway leaves neither a
half-written file nor a stray temporary one. GeoJSON is streamed (memory stays flat); the other
formats are built as a GeoDataFrame first and handed to GDAL through pyogrio.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import shapely
from shapely.geometry import shape

from geo.io.files import replace_atomically, write_atomically
from geo.io.formats import Format, writable_format
from geo.io.geojson import dumps, iter_feature_collection

WGS84 = "EPSG:4326"
_INT32 = np.iinfo(np.int32)
# A spreadsheet opening a CSV runs a cell that starts with one of these as a formula (OWASP "CSV
# injection": =HYPERLINK(…) or =cmd|… in an imported attribute or a worker's note would run on the
# manager's machine). XLSX needs nothing: GDAL writes text as string cells, which are never evaluated.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_PLAIN_NUMBER = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?")


def write_features(features: Iterable[dict], path: str | Path, fmt: str) -> None:
    """Write GeoJSON Feature dicts (WGS84, as built by geo.io.geojson.feature) as `fmt` to `path`.

    `fmt` is an id of geo.io.formats.FORMATS that can be written; an existing file at
    `path` is replaced only once the new one is complete.
    """
    path = Path(path)
    spec = writable_format(fmt)
    if spec.id == "geojson":
        with write_atomically(path) as out:
            out.writelines(iter_feature_collection(features))
        return
    frame = _frame(features)
    with replace_atomically(path) as temporary:  # GDAL writes by name, and may put files beside it
        _write_frame(frame, temporary, spec)


def _frame(features: Iterable[dict]) -> gpd.GeoDataFrame:
    """Features as a WGS84 GeoDataFrame; the feature id becomes an `id` column, nested values JSON text."""
    rows: list[dict[str, Any]] = []
    geometries = []
    for item in features:
        properties = {key: _cell(value) for key, value in (item.get("properties") or {}).items()}
        if item.get("id") is not None and "id" not in properties:
            properties = {"id": item["id"], **properties}
        rows.append(properties)
        geometries.append(shape(item["geometry"]) if item.get("geometry") else None)
    table = pd.DataFrame(rows, index=range(len(rows)))
    return gpd.GeoDataFrame(table.astype(_nullable_integers(table)), geometry=geometries, crs=WGS84)


def _nullable_integers(table: pd.DataFrame) -> dict[str, str]:
    """Integer columns with gaps, which pandas would hold (and GDAL write) as floats: 12 → 12.0."""
    return {
        name: "Int64"
        for name in table.columns
        if table[name].dtype.kind in "fO"
        and table[name].notna().any()
        and all(isinstance(v, int) and not isinstance(v, bool) for v in table[name].dropna())
    }


def _cell(value: Any) -> Any:
    # Tabular formats hold scalars only: lists and objects (e.g. a report summary) become JSON text.
    return dumps(value).decode() if isinstance(value, dict | list | tuple) else value


def _write_frame(frame: gpd.GeoDataFrame, path: Path, spec: Format) -> None:
    layer = path.stem
    geometry_type = None if len(frame) else "Unknown"  # pyogrio cannot infer a type from no rows
    if spec.id == "gpkg":
        pyogrio.write_dataframe(frame, path, layer=layer, driver=spec.driver, geometry_type=geometry_type)
    elif spec.id == "kml":
        options = {"NameField": "name", "DescriptionField": "description"}
        pyogrio.write_dataframe(
            _int32_columns(frame),
            path,
            layer=layer,
            driver=spec.driver,
            geometry_type=geometry_type,
            dataset_options=options,
        )
    elif spec.id == "csv":
        # GDAL writes the geometry as a first column "WKT"; a BOM lets Excel see UTF-8 Chinese text.
        pyogrio.write_dataframe(
            _inert_text(_with_lonlat(frame)),
            path,
            layer=layer,
            driver=spec.driver,
            geometry_type=geometry_type,
            layer_options={"GEOMETRY": "AS_WKT", "WRITE_BOM": "YES"},
        )
    elif spec.id == "xlsx":
        table = pd.DataFrame(_with_lonlat(frame).drop(columns="geometry"))
        table.insert(0, "WKT", shapely.to_wkt(np.asarray(frame.geometry), rounding_precision=-1))
        pyogrio.write_dataframe(table, path, layer=layer, driver=spec.driver)
    else:  # a writable format without a writer here is a programming error
        raise AssertionError(f"no writer for {spec.id}")


def neutralise_formula(value: Any) -> Any:
    """Text a spreadsheet would run as a formula, with a leading apostrophe (shown as text); else as it is.

    A plain number such as "-12.5" is left alone: a spreadsheet reads it as that number, nothing runs.
    """
    if isinstance(value, str) and value.startswith(_FORMULA_START) and not _PLAIN_NUMBER.fullmatch(value):
        return "'" + value
    return value


def _inert_text(frame: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """The frame with every text cell passed through ``neutralise_formula``."""
    text = [name for name, dtype in frame.dtypes.items() if name != frame.geometry.name
            and (pd.api.types.is_object_dtype(dtype) or pd.api.types.is_string_dtype(dtype))]
    if not text:
        return frame
    frame = frame.copy()
    for name in text:
        frame[name] = frame[name].map(neutralise_formula)
    return frame


def _with_lonlat(frame: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Add lon/lat columns (points only), so spreadsheets can use them without parsing WKT."""
    if "lon" in frame or "lat" in frame:
        return frame
    geometries = np.asarray(frame.geometry)
    frame = frame.copy()
    frame.insert(0, "lat", shapely.get_y(geometries))  # NaN (written as empty) for non-points
    frame.insert(0, "lon", shapely.get_x(geometries))
    return frame


def _int32_columns(frame: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """KML has no 64-bit integer type (GDAL writes them as text or float): narrow those that fit."""
    narrowed = {
        name: "Int32"
        for name, dtype in frame.dtypes.items()
        if pd.api.types.is_integer_dtype(dtype) and frame[name].dropna().between(_INT32.min, _INT32.max).all()
    }
    return frame.astype(narrowed) if narrowed else frame
