"""Exports of a layer's sites, as streamed GeoJSON or as a file through GDAL, and what every export shares.

Each site carries the status the map shows (cadence layers derive it at read
time), its latest inspection and how many reports count towards it. Filters are
the map's (status, county, bbox) plus the time of the last inspection. GeoJSON
follows RFC 7946 (WGS84 lon/lat, counter-clockwise exterior rings, no ``crs``,
6 decimals) and is produced batch by batch, so memory stays flat whatever the
layer's size. Every export is written to the audit log with its filters and count.
Reports are exported by geo.report_exports, with the helpers here.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
import orjson
import shapely

from geo import history
from geo.export_labels import (
    LANGUAGES,
    TABLE_FORMATS,
    Table,
    label_in,
    site_headers,
)
from geo.geometry import orient_rfc7946
from geo.io.files import write_atomically
from geo.io.formats import writable_format
from geo.io.geojson import dumps, feature
from geo.io.write import write_features
from geo.model import InvalidInput, LayerDef
from geo.status import status_of
from geo.storage.base import Store, UnitOfWork
from geo.storage.views.filters import SiteFilter as Sites
from geo.times import LOCAL_TIME, iso

BATCH = 1000  # sites per GeoJSON chunk: vectorised geometry work, a few MB at most in memory

# Headers and value labels of the tables people read (CSV, XLSX) are in geo.export_labels.


@dataclass(frozen=True)
class SiteExportFilter:
    """Which sites an export holds; ``since`` / ``until`` bound the last inspection, both inclusive."""

    status: frozenset[str] = frozenset()
    county: str | None = None
    bbox: tuple[float, float, float, float] | None = None
    since: datetime | None = None
    until: datetime | None = None
    as_of: datetime | None = None  # the sites and statuses as they were then (geo.history)

    def audit(self) -> dict[str, Any]:
        return _given({"status": sorted(self.status), "county": self.county,
                       "bbox": list(self.bbox) if self.bbox else None, "since": iso(self.since),
                       "until": iso(self.until), "as_of": iso(self.as_of)})


def _given(values: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in values.items() if value not in (None, [], "")}


def download_name(layer_id: str, ext: str, now: datetime, *, reports: bool = False) -> str:
    """``<layer>-<YYYY-MM-DD>.<ext>`` (``<layer>-reports-…`` for reports), dated where the users are:
    ``now`` is in their time zone."""
    kind = "-reports" if reports else ""
    return f"{layer_id}{kind}-{now.date().isoformat()}.{ext}"  # the day in now's zone (ONEMAP_TIMEZONE)


def check_site_filter(layer: LayerDef, filters: SiteExportFilter, lang: str, uow: UnitOfWork) -> None:
    """InvalidInput naming the filter that cannot be applied to ``layer``."""
    for code in sorted(filters.status):
        if not layer.status(code):
            raise InvalidInput(f"status: {code!r} is not a status of {layer.id}", field="status")
    check_common(filters.since, filters.until, filters.county, lang, uow)


# ------------------------------------------------------------------ shared by every export
def check_common(since: datetime | None, until: datetime | None, county: str | None, lang: str,
                 uow: UnitOfWork) -> None:
    """InvalidInput naming the first of the filters every export takes that cannot be applied."""
    if since and until and until < since:
        raise InvalidInput(f"until: {until.isoformat()} is before since {since.isoformat()}", field="until")
    if county and county not in uow.counties.names():
        raise InvalidInput(f"county: no county with code {county!r}", field="county")
    if lang not in LANGUAGES:
        raise InvalidInput(f"lang: {lang!r} is not one of {', '.join(LANGUAGES)}", field="lang")


def gdal_feature(id: int, geometry, properties: dict[str, Any], headers: dict[str, str] | None) -> dict:
    """A feature for geo.io.write: the id as the first column, headers translated for people's tables."""
    row = {"id": id, **properties}
    if headers:
        row = {headers.get(key, key): value for key, value in row.items()}
    return feature(None, geometry, row)


def headers_for(fmt: str, headers: dict[str, str]) -> dict[str, str] | None:
    """The translated headers for a format read by people (CSV, XLSX), else None: GIS formats keep keys."""
    return headers if fmt in TABLE_FORMATS else None


def table_for(fmt: str, layer: LayerDef, lang: str, uow: UnitOfWork, zone: ZoneInfo) -> Table | None:
    """How a format read by people (CSV, XLSX) shows its rows (labels, names, local times), else None."""
    return Table(layer, lang, uow.counties.names(), zone) if fmt in TABLE_FORMATS else None


def record_export(uow: UnitOfWork, action: str, layer: LayerDef, fmt: str, filters, lang: str, count: int,
                  actor: str | None, now: datetime, complete: bool = True) -> None:
    """The audit entry of an export (committed): format, filters, language, count, whether it completed."""
    uow.begin_write(exclusive=False)  # one insert: needs no writers' lock where writers run side by side
    uow.audit.record(actor, action, f"layer:{layer.id}",
                     {"format": fmt, "filters": filters.audit(), "lang": lang, "count": count,
                      "complete": complete}, now)
    uow.commit()


# ------------------------------------------------------------------ sites
SITE_HEAD = ("layer", "name", "status", "status_label", "county", "ref")
SITE_TAIL = ("last_inspected_at", "last_result", "report_count", "version", "updated_at")


class SiteProperties:
    """What a site says of itself in exports, for one layer and language (labels looked up once).

    The status the map shows with its label, every attribute of the layer (null when
    not set, so every row has the same columns), the latest inspection and how many
    reports count towards the site. Called per row of ``ExportView.site_batches``, or with a Site.
    """

    def __init__(self, layer: LayerDef, lang: str, *, times_as_text: bool = True):
        # For GeoJSON the times stay datetimes: orjson writes the same ISO 8601 text, faster.
        self.times_as_text = times_as_text
        self.layer_id = layer.id
        self.labels = {s.code: label_in(s.label, lang) for s in layer.statuses}
        self.fixed = frozenset(SITE_HEAD + SITE_TAIL)  # attributes never override these
        self.declared = [a.name for a in layer.attributes if a.name not in self.fixed]

    def __call__(self, row, status: str, reports: int) -> dict[str, Any]:
        stored = row.attributes or {}  # JSON text from export_batches, a dict from a Site
        if isinstance(stored, str):
            stored = orjson.loads(stored)
        out = {"layer": self.layer_id, "name": row.name, "status": status,
               "status_label": self.labels.get(status, status), "county": row.county, "ref": row.ref}
        get = stored.get
        out.update({name: get(name) for name in self.declared})
        if not stored.keys() <= out.keys():  # values stored before an attribute left the definition
            out.update({k: v for k, v in stored.items() if k not in out and k not in self.fixed})
        out.update(last_inspected_at=row.last_inspected_at, last_result=row.last_result, report_count=reports,
                   version=row.version, updated_at=row.updated_at)
        if self.times_as_text:
            out["last_inspected_at"], out["updated_at"] = iso(row.last_inspected_at), iso(row.updated_at)
        return out


def _site_batches(layer: LayerDef, filters: SiteExportFilter, uow: UnitOfWork,
                  now: datetime) -> Iterator[list[tuple[Any, str]]]:
    """Lists of (lean row, status shown on the map) of the sites matching the filters, in id order."""
    if filters.as_of is not None:
        rows = history.filtered(
            history.rows_as_of(layer, filters.as_of, uow=uow, bbox=filters.bbox, county=filters.county),
            status=filters.status, since=filters.since, until=filters.until)
        for start in range(0, len(rows), BATCH):
            yield [(row, row.status) for row in rows[start:start + BATCH]]
        return
    derived = layer.status_mode == "cadence"  # its stored status is not what the map shows: filter after
    inspected = None if filters.since is None and filters.until is None else (filters.since, filters.until)
    wanted = Sites(layer_id=layer.id, status=frozenset() if derived else filters.status,
                   county=filters.county, bbox=filters.bbox, inspected=inspected)
    for rows in uow.export_view.site_batches(wanted, size=BATCH):
        pairs = [(row, status_of(layer, row, now)) for row in rows]
        if filters.status:
            pairs = [(row, status) for row, status in pairs if status in filters.status]
        if pairs:
            yield pairs


_RAGGED = {0: "Point", 1: "LineString", 3: "Polygon"}  # shapely type ids written from numpy arrays


def rfc7946_geometries(wkbs: list[bytes]) -> list[Any]:
    """GeoJSON geometries of a batch of WKB, for ``dumps``: exterior rings counter-clockwise, holes
    clockwise (RFC 7946 §3.1.6), coordinates at 6 decimals.

    Points, lines and polygons become dicts whose coordinates are numpy slices of
    shapely's ragged arrays, which orjson writes directly; this is hand-made because
    GEOS's own GeoJSON writer (``shapely.to_geojson``, kept for multi-part geometries)
    took half of a large export's time. Stored coordinates already have 6 decimals;
    rounding again costs little and guarantees it.
    """
    geometries = orient_rfc7946(shapely.from_wkb(wkbs))
    out: list[Any] = [None] * len(geometries)
    types = shapely.get_type_id(geometries)
    for type_id in np.unique(types).tolist():
        index = np.flatnonzero(types == type_id).tolist()
        group = geometries[index]
        if type_id in _RAGGED:
            values = _from_ragged(group, type_id)
        else:
            rounded = shapely.transform(group, lambda xy: np.round(xy, 6), include_z=None)
            values = [orjson.Fragment(text) for text in shapely.to_geojson(rounded)]
        for i, value in zip(index, values, strict=True):
            out[i] = value
    return out


def _from_ragged(group, type_id: int) -> list[dict[str, Any]]:
    _, coords, offsets = shapely.to_ragged_array(group)
    coords = np.round(coords, 6)
    kind = _RAGGED[type_id]
    if kind == "Point":
        return [{"type": kind, "coordinates": xy} for xy in coords]
    if kind == "LineString":
        ends = offsets[0].tolist()
        return [{"type": kind, "coordinates": coords[a:b]} for a, b in zip(ends, ends[1:], strict=False)]
    rings, polygons = offsets[0].tolist(), offsets[1].tolist()
    return [{"type": kind, "coordinates": [coords[rings[k]:rings[k + 1]] for k in range(a, b)]}
            for a, b in zip(polygons, polygons[1:], strict=False)]


def _site_chunks(layer: LayerDef, filters: SiteExportFilter, uow: UnitOfWork, now: datetime, lang: str,
                 counter: list[int]) -> Iterator[bytes]:
    """The FeatureCollection as byte chunks, one per batch of sites; ``counter[0]`` counts the features."""
    counts = uow.export_view.report_counts(layer.id, at=filters.as_of)
    properties = SiteProperties(layer, lang, times_as_text=False)
    yield b'{"type":"FeatureCollection","features":['
    separator = b""
    for batch in _site_batches(layer, filters, uow, now):
        geometries = rfc7946_geometries([row.geom for row, _ in batch])
        chunk = separator + b",".join(
            dumps({"type": "Feature", "id": row.id, "geometry": geometry,
                   "properties": properties(row, status, counts.get(row.id, 0))})
            for (row, status), geometry in zip(batch, geometries, strict=True))
        counter[0] += len(batch)
        yield chunk
        separator = b","
    yield b"]}"


def _site_features(layer: LayerDef, filters: SiteExportFilter, fmt: str, uow: UnitOfWork, now: datetime,
                   lang: str, counter: list[int], zone: ZoneInfo) -> Iterator[dict]:
    counts = uow.export_view.report_counts(layer.id, at=filters.as_of)
    table = table_for(fmt, layer, lang, uow, zone)
    properties = SiteProperties(layer, lang, times_as_text=table is None)  # a table writes local times
    headers = headers_for(fmt, site_headers(layer, lang))
    for batch in _site_batches(layer, filters, uow, now):
        geometries = shapely.from_wkb([row.geom for row, _ in batch])
        for (row, status), geometry in zip(batch, geometries, strict=True):
            counter[0] += 1
            values = properties(row, status, counts.get(row.id, 0))
            yield gdal_feature(row.id, geometry, table.site(values) if table else values, headers)


def export_sites(layer: LayerDef, path: str | Path, fmt: str, *, uow: UnitOfWork, actor: str | None,
                 now: datetime, filters: SiteExportFilter = SiteExportFilter(), lang: str = "zh_CN",
                 zone: ZoneInfo = LOCAL_TIME) -> int:
    """Write a layer's sites (filtered) to ``path`` as ``fmt``; returns how many. Audited.

    GeoJSON is streamed to disk; the other formats go through GDAL (geo.io.write).
    CSV and XLSX are tables for people (geo.export_labels), with times in ``zone``.
    The file appears whole or not at all.
    """
    spec = writable_format(fmt)
    check_site_filter(layer, filters, lang, uow)
    counter = [0]
    if spec.id == "geojson":
        with write_atomically(Path(path)) as out:
            out.writelines(_site_chunks(layer, filters, uow, now, lang, counter))
    else:
        write_features(_site_features(layer, filters, spec.id, uow, now, lang, counter, zone), path, spec.id)
    record_export(uow, "sites.export", layer, spec.id, filters, lang, counter[0], actor, now)
    return counter[0]


def stream_sites(layer: LayerDef, *, store: Store, actor: str | None, now: datetime,
                 filters: SiteExportFilter = SiteExportFilter(), lang: str = "zh_CN") -> Iterator[bytes]:
    """A layer's sites as GeoJSON byte chunks, for a response body.

    The filters are checked now (so a bad one is an error before anything is sent);
    the stream opens its own unit of work, since it outlives the caller, and writes
    the audit entry when it ends, marked incomplete if the client went away first.
    """
    with store.unit_of_work() as uow:
        check_site_filter(layer, filters, lang, uow)
    return audited_stream(store, "sites.export", layer, filters, lang, actor, now,
                          lambda uow, counter: _site_chunks(layer, filters, uow, now, lang, counter))


def audited_stream(store: Store, action: str, layer: LayerDef, filters, lang: str, actor: str | None,
                   now: datetime, chunks_of) -> Iterator[bytes]:
    """The GeoJSON chunks ``chunks_of(uow, counter)`` yields, read in a unit of work of their own (the
    stream outlives its caller's), then the audit entry, marked incomplete if the client went away first."""
    def chunks() -> Iterator[bytes]:
        counter, complete = [0], False
        with store.unit_of_work() as uow:
            try:
                yield from chunks_of(uow, counter)
                complete = True
            finally:
                record_export(uow, action, layer, "geojson", filters, lang, counter[0], actor, now, complete)

    return chunks()
