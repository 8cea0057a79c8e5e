"""Read a geodata file into WGS84 candidate features plus a list of rejected ones.

Reading is in three steps: GDAL (through pyogrio) or pandas read the file as it
is; every feature is then normalised (CRS → WGS84, repair, RFC 7946 orientation,
plain Python properties) or rejected with a reason in plain words; the result is
returned. Nothing is written. Whether the attributes fit a layer is decided by
the caller, which has the layer definition.
"""

from __future__ import annotations

import math
import warnings
import zipfile
from dataclasses import dataclass, field
from datetime import date, datetime, time
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import shapely
from pyproj import CRS
from shapely.geometry.base import BaseGeometry

from geo.crs import parse_crs, to_wgs84
from geo.geometry import check_type, orient_rfc7946, repair
from geo.io.formats import Format, detect_format
from geo.messages import Message, msg
from geo.model import InvalidInput, UnreadableFile

WGS84 = "EPSG:4326"
_OFFSET_CRS = ("gcj02", "bd09")  # not known to PROJ: converted by geo.crs, feature by feature

# "fix" (closes unclosed rings) needs shapely >= 2.1 and GEOS >= 3.11; "ignore" gives None instead.
_ON_INVALID = (
    "fix" if hasattr(shapely, "orient_polygons") and shapely.geos_version >= (3, 11, 0) else "ignore"
)
# GDAL warnings not worth telling a user: an unclosed ring is closed ("fix") and then repaired.
_GDAL_ROUTINE = ("Non closed ring detected",)
_PYOGRIO_ERRORS = (
    pyogrio.errors.DataSourceError,
    pyogrio.errors.DataLayerError,
    pyogrio.errors.FieldError,
    pyogrio.errors.CRSError,
    pyogrio.errors.GeometryError,
    pyogrio.errors.FeatureError,
)

# Fields the LIBKML driver derives from KML elements for display (and the placemark's XML id),
# not data a user entered: dropped.
_KML_STYLE_FIELDS = (
    "id",
    "altitudeMode",
    "tessellate",
    "extrude",
    "visibility",
    "drawOrder",
    "icon",
    "snippet",
)
# KML elements kept only when at least one placemark uses them.
_KML_OPTIONAL_FIELDS = ("Name", "description", "Description", "timestamp", "begin", "end")

# CSV geometry columns, matched case-insensitively; the first match wins.
_CSV_WKT = ("wkt", "geometry")
_CSV_XY = (("lon", "lat"), ("longitude", "latitude"), ("lng", "lat"), ("x", "y"), ("经度", "纬度"))


@dataclass(frozen=True)
class Candidate:
    """A feature that can be imported: WGS84 geometry, repaired and oriented; plain properties."""

    index: int  # 0-based position in the file
    geometry: BaseGeometry
    properties: dict[str, Any]


@dataclass(frozen=True)
class Rejection:
    """A feature that cannot be imported, and why."""

    index: int
    reason: Message | str  # a Message, translated where it is shown


@dataclass
class ReadResult:
    """Everything read from one file: the candidates, the rejections, and how the file was taken."""

    features: list[Candidate] = field(default_factory=list)
    rejections: list[Rejection] = field(default_factory=list)
    format: str | None = None  # id in geo.io.formats.FORMATS
    source_crs: str | None = None  # the CRS the coordinates were taken to be in, None if assumed WGS84
    notes: list[str] = field(default_factory=list)  # what GDAL warned about while reading the file


@dataclass
class _Raw:
    """A file as read, before normalisation; `errors` holds per-feature read problems."""

    geometries: list[BaseGeometry | None]
    records: list[dict[str, Any]]
    crs: CRS | None
    errors: dict[int, Message | str] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


def read_features(
    path: str | Path, *, crs: Any = None, allowed_types: tuple[str, ...] | None = None
) -> ReadResult:
    """Read a GeoJSON, GeoPackage, zipped Shapefile, KML or CSV file into WGS84 candidates.

    `crs` (EPSG code, "gcj02" or "bd09") overrides the file's own CRS; a file without
    one is taken as WGS84. `allowed_types` are base geometry types ("Point", …); other
    features are rejected. Raises UnreadableFile when the file cannot be read at all.
    """
    path = Path(path)
    fmt = detect_format(path)
    if not path.is_file():
        raise UnreadableFile(path.name, msg("file_not_found", "file not found"))
    target = parse_crs(crs) if crs is not None else None
    raw = _read_csv(path) if fmt.id == "csv" else _read_gdal(path, fmt)
    return _normalise(raw, fmt, target, allowed_types)


# ---------------------------------------------------------------- reading
def _read_gdal(path: Path, fmt: Format) -> _Raw:
    source = _shapefile_in_zip(path) if fmt.id == "shp" else str(path)
    try:
        layers = [name for name, geometry_type in pyogrio.list_layers(source) if geometry_type is not None]
        if not layers:
            raise UnreadableFile(path.name, msg("no_geometry_layer",
                                            "no layer with geometries in this {format} file",
                                            format=fmt.label))
        if len(layers) > 1 and fmt.id != "kml":  # KML folders are presentation: read them all
            raise UnreadableFile(path.name, msg("several_layers",
                                            "{n} layers ({layers}); keep only the one to import",
                                            n=len(layers), layers=", ".join(layers)))
        notes: list[str] = []
        frames = [_read_layer(source, layer, notes) for layer in layers]
    except _PYOGRIO_ERRORS as exc:
        message = str(exc).replace(source, path.name).split(";")[0].rstrip(".")
        raise UnreadableFile(path.name, msg("unreadable_format", "not a readable {format} file ({detail})",
                                        format=fmt.label, detail=message)) from exc
    frames = [f for f in frames if len(f)] or frames[:1]
    frame = frames[0] if len(frames) == 1 else pd.concat(frames, ignore_index=True)
    if fmt.id == "kml":
        frame = _tidy_kml(frame)
    geometries = list(frame.geometry) if "geometry" in frame else [None] * len(frame)
    records = frame.drop(columns="geometry", errors="ignore").to_dict("records")
    return _Raw(geometries, records, frames[0].crs, notes=notes)


def _shapefile_in_zip(path: Path) -> str:
    """The GDAL path of the Shapefile inside a zip, in whatever folder; a clear reason when there is none."""
    try:
        with zipfile.ZipFile(path) as archive:
            members = archive.infolist()
    except (zipfile.BadZipFile, OSError) as exc:
        raise UnreadableFile(path.name, msg("not_a_zip", "not a zip archive")) from exc
    unsafe = next((m.filename for m in members if _unsafe_member(m)), None)
    if unsafe is not None:
        raise UnreadableFile(path.name, msg(
            "unsafe_zip_entry",
            "unsafe entry {entry} in the zip archive (a link, or a path leading out of it)",
            entry=repr(unsafe)))
    names = [m.filename for m in members]
    # macOS adds __MACOSX/._name.shp resource forks, which are not Shapefiles.
    shapefiles = [
        n for n in names if n.lower().endswith(".shp") and "__MACOSX/" not in n and "/._" not in f"/{n}"
    ]
    if not shapefiles:
        raise UnreadableFile(path.name, msg("no_shapefile_in_zip",
                                            "no Shapefile (.shp) inside the zip archive"))
    if len(shapefiles) > 1:
        raise UnreadableFile(path.name, msg(
            "several_shapefiles", "{n} Shapefiles ({files}); keep only the one to import",
            n=len(shapefiles), files=", ".join(shapefiles)))
    return f"/vsizip/{path}/{shapefiles[0]}"


def _unsafe_member(member: zipfile.ZipInfo) -> bool:
    """A symbolic link, or a name leading out of the archive (absolute, a drive, a `..` part: "zip slip").

    Nothing is extracted, but GDAL resolves `..` in the /vsizip/ path it is given, so such a name
    would have it open a file outside the uploaded archive.
    """
    parts = member.filename.replace("\\", "/").split("/")
    link = (member.external_attr >> 16) & 0o170000 == 0o120000
    return link or parts[0] == "" or ":" in parts[0] or ".." in parts


def _read_layer(source: str, layer: str, notes: list[str]) -> gpd.GeoDataFrame:
    """One layer as a GeoDataFrame; GDAL's warnings about the data are added to `notes`."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        frame = pyogrio.read_dataframe(source, layer=layer, on_invalid=_ON_INVALID, datetime_as_string=True)
    for warning in caught:
        message = str(warning.message).replace(source, "the file")
        if not issubclass(warning.category, RuntimeWarning):  # not from GDAL: pass it on
            warnings.warn_explicit(warning.message, warning.category, warning.filename, warning.lineno)
        elif not message.startswith(_GDAL_ROUTINE) and message not in notes:
            notes.append(message)
    # pandas holds an integer field with nulls as float (1 → 1.0): keep such fields integer.
    info = pyogrio.read_info(source, layer=layer)
    integers = {
        name: "Int64"
        for name, dtype in zip(info["fields"], info["dtypes"], strict=True)
        if dtype.startswith("int") and name in frame and frame[name].dtype.kind == "f"
    }
    return frame.astype(integers) if integers else frame


def _tidy_kml(frame: pd.DataFrame) -> pd.DataFrame:
    """Keep only the data columns of a LIBKML read; its <name> becomes the `name` property."""
    drop = [c for c in _KML_STYLE_FIELDS if c in frame]
    drop += [c for c in _KML_OPTIONAL_FIELDS if c in frame and frame[c].isna().all()]
    # LIBKML renames a data field that clashes with one of its own ("id" → "id2"); undo that.
    renames = {f"{c}2": c for c in drop if f"{c}2" in frame}
    if "Name" in frame and "name" not in frame:
        renames["Name"] = "name"
    return frame.drop(columns=drop).rename(columns=renames)


def _read_csv(path: Path) -> _Raw:
    """CSV by pandas: geometry from a WKT column or a lon/lat pair; bad cells become per-row errors."""
    frame = _csv_frame(path)
    columns = {str(c).strip().lower(): c for c in frame.columns}
    wkt = next((columns[n] for n in _CSV_WKT if n in columns), None)
    xy = next(((columns[x], columns[y]) for x, y in _CSV_XY if x in columns and y in columns), None)
    if wkt is None and xy is None:
        raise UnreadableFile(path.name, msg(
            "no_geometry_columns",
            "no geometry columns: expected lon/lat, longitude/latitude, x/y or a WKT column"))
    geometry_columns = [c for c in (wkt, *(xy or ())) if c is not None]
    records = frame.drop(columns=geometry_columns).to_dict("records")
    geometries: list[BaseGeometry | None] = []
    errors: dict[int, Message | str] = {}
    for i, row in enumerate(frame[geometry_columns].itertuples(index=False, name=None)):
        cells = {column: _plain(value) for column, value in zip(geometry_columns, row, strict=True)}
        try:
            geometries.append(_csv_geometry(cells, wkt, xy))
        except InvalidInput as exc:
            geometries.append(None)
            errors[i] = exc.text
    return _Raw(geometries, records, None, errors)


def _csv_frame(path: Path) -> pd.DataFrame:
    # Excel on Chinese Windows saves CSV as GBK; UTF-8 (with or without BOM) is tried first.
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            return pd.read_csv(
                path,
                encoding=encoding,
                keep_default_na=False,
                na_values=[""],
                dtype_backend="numpy_nullable",
                low_memory=False,  # types from the whole file, not per chunk (and no DtypeWarning)
            )
        except UnicodeDecodeError:
            continue
        except (pd.errors.ParserError, pd.errors.EmptyDataError, ValueError) as exc:
            raise UnreadableFile(path.name, msg("unreadable_csv", "not a readable CSV file ({detail})",
                                            detail=str(exc))) from exc
    raise UnreadableFile(path.name, msg("csv_encoding", "not a readable CSV file (unknown text encoding)"))


def _csv_geometry(cells: dict, wkt: str | None, xy: tuple[str, str] | None) -> BaseGeometry | None:
    if wkt is not None and not _blank(cells[wkt]):
        text = str(cells[wkt])
        geom = shapely.from_wkt(text, on_invalid="ignore")
        if geom is None:
            raise InvalidInput(msg("unparsable_wkt", "unparsable WKT geometry {value}",
                                   value=repr(_shorten(text)), field=wkt), field=wkt)
        return geom
    if xy is not None and not (_blank(cells[xy[0]]) and _blank(cells[xy[1]])):
        x, y = (_number(cells[c]) for c in xy)
        if x is None or y is None:
            shown = ", ".join(f"{c} {cells[c]!r}" for c in xy)
            raise InvalidInput(msg("coordinates_not_numbers", "coordinates are not numbers ({values})",
                                   values=shown, fields=", ".join(xy)), field=xy[0])
        return shapely.Point(x, y)
    return None


def _number(value: Any) -> float | None:
    try:
        number = float(str(value).strip())
    except ValueError:
        return None
    return None if math.isnan(number) else number


def _blank(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value)) or str(value).strip() == ""


def _shorten(text: str, limit: int = 40) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


# ---------------------------------------------------------------- normalising
def _normalise(raw: _Raw, fmt: Format, target: str | None, allowed: tuple[str, ...] | None) -> ReadResult:
    named = target or (raw.crs.to_string() if raw.crs is not None else None)
    geometries = raw.geometries
    if target not in _OFFSET_CRS:  # EPSG codes: one vectorised pyproj transformation for the file
        geometries = list(gpd.GeoSeries(geometries, crs=target or raw.crs or WGS84).to_crs(WGS84))
    result = ReadResult(format=fmt.id, source_crs=named, notes=raw.notes)
    for index, (geom, record) in enumerate(zip(geometries, raw.records, strict=True)):
        try:
            if index in raw.errors:
                raise InvalidInput(raw.errors[index])
            geom = _normalise_geometry(geom, target, allowed, assumed=named is None)
        except InvalidInput as exc:
            result.rejections.append(Rejection(index, exc.text))
            continue
        result.features.append(Candidate(index, geom, {str(k): _plain(v) for k, v in record.items()}))
    return result


def _normalise_geometry(
    geom: BaseGeometry | None, target: str | None, allowed: tuple[str, ...] | None, *, assumed: bool
) -> BaseGeometry:
    """WGS84, valid, RFC 7946-oriented geometry; InvalidInput says why there is none."""
    if geom is None or geom.is_empty:
        raise InvalidInput(msg("no_geometry", "no geometry"))
    if geom.has_z:  # heights are not used, and KML gives every vertex one
        geom = shapely.force_2d(geom)
    if allowed:
        check_type(geom, allowed)
    if target in _OFFSET_CRS:
        geom = to_wgs84(geom, target)
    _check_lonlat(geom, assumed)
    repaired = repair(geom)
    if repaired is None:
        raise InvalidInput(msg("unrepairable_geometry", "invalid geometry that could not be repaired"))
    return orient_rfc7946(repaired)


def _check_lonlat(geom: BaseGeometry, assumed: bool) -> None:
    if not np.isfinite(shapely.get_coordinates(geom)).all():
        raise InvalidInput(msg("not_convertible_to_wgs84", "coordinates could not be converted to WGS84"))
    minx, miny, maxx, maxy = geom.bounds
    axes = ((msg("axis_lon", "lon"), (minx, maxx), 180), (msg("axis_lat", "lat"), (miny, maxy), 90))
    for axis, values, limit in axes:
        bad = next((v for v in values if abs(v) > limit), None)
        if bad is not None and assumed:
            raise InvalidInput(msg(
                "outside_lonlat_assumed_wgs84", "coordinates outside lon/lat range after conversion to WGS84 "
                "({axis} {value}); the file names no CRS, so WGS84 lon/lat was assumed: give its EPSG code",
                axis=axis, value=bad, limit=limit))
        if bad is not None:
            raise InvalidInput(msg(
                "outside_lonlat",
                "coordinates outside lon/lat range after conversion to WGS84 ({axis} {value})",
                axis=axis, value=bad, limit=limit))


def _plain(value: Any) -> Any:
    """A property value as plain Python: no numpy/pandas types, NaN → None, times → ISO strings."""
    if isinstance(value, np.ndarray):
        return [_plain(v) for v in value.tolist()]
    if isinstance(value, np.generic):
        value = value.item()
    if value is None or value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, datetime | date | time):  # pandas Timestamp is a datetime
        return value.isoformat()
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value
