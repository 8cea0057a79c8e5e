"""The geodata file formats OneMap reads and writes, in one table."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from geo.model import InvalidInput, UnreadableFile


@dataclass(frozen=True)
class Format:
    id: str
    driver: str  # GDAL/OGR driver used through pyogrio
    extensions: tuple[str, ...]  # lower case, with the dot; the first is the one we write
    media_type: str
    can_read: bool
    can_write: bool
    label: str  # how messages name it


FORMATS: dict[str, Format] = {
    f.id: f
    for f in (
        Format("geojson", "GeoJSON", (".geojson", ".json"), "application/geo+json", True, True, "GeoJSON"),
        Format("gpkg", "GPKG", (".gpkg",), "application/geopackage+sqlite3", True, True, "GeoPackage"),
        Format("shp", "ESRI Shapefile", (".zip",), "application/zip", True, False, "zipped Shapefile"),
        Format("kml", "KML", (".kml",), "application/vnd.google-earth.kml+xml", True, True, "KML"),
        Format("csv", "CSV", (".csv",), "text/csv; charset=utf-8", True, True, "CSV"),
        Format(
            "xlsx",
            "XLSX",
            (".xlsx",),
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            False,
            True,
            "Excel workbook",
        ),
    )
}


def detect_format(path: str | Path) -> Format:
    """The readable format of a file, from its extension; UnreadableFile names the file otherwise."""
    path = Path(path)
    suffix = path.suffix.lower()
    for fmt in FORMATS.values():
        if fmt.can_read and suffix in fmt.extensions:
            return fmt
    known = ", ".join(ext for f in FORMATS.values() if f.can_read for ext in f.extensions)
    raise UnreadableFile(
        path.name, f"unknown file type {suffix or '(no extension)'!r}; expected one of {known}"
    )


def writable_format(fmt_id: str) -> Format:
    """The format for an export id such as "gpkg"; InvalidInput for an unknown or import-only id."""
    fmt = FORMATS.get(fmt_id)
    if fmt is None or not fmt.can_write:
        known = ", ".join(f.id for f in FORMATS.values() if f.can_write)
        raise InvalidInput(f"cannot export as {fmt_id!r}; choose one of {known}", field="format")
    return fmt
