"""Exports of a layer's inspection reports: one point per report, as streamed GeoJSON or a file through GDAL.

A report stands at its GPS fix. A report filed without one (the phone had no fix,
or a manager filed it at a desk) stands at a point surely on its site, and its
``location`` column says ``site`` instead of ``gps``: every report is in the
export, and the file stays a layer of points that GIS tools and spreadsheets take.
Each row has one column per checklist item and per metric of the layer, and
absolute links to the report's photos (which need a login, like every page).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import shapely
from shapely.geometry import Point

from geo.export_labels import report_headers
from geo.exports import (
    BATCH,
    audited_stream,
    check_common,
    gdal_feature,
    headers_for,
    record_export,
    table_for,
)
from geo.io.formats import writable_format
from geo.io.geojson import feature, iter_feature_collection
from geo.io.write import write_features
from geo.model import LayerDef
from geo.storage.base import Store, UnitOfWork
from geo.times import LOCAL_TIME, iso

PhotoUrl = Callable[[int], str]  # photo id → absolute address of its shown copy

@dataclass(frozen=True)
class ReportFilter:
    """Which reports an export holds: observed between ``since`` and ``until`` (inclusive), in a county."""

    since: datetime | None = None
    until: datetime | None = None
    county: str | None = None

    def audit(self) -> dict[str, Any]:
        given = {"since": iso(self.since), "until": iso(self.until), "county": self.county}
        return {key: value for key, value in given.items() if value}


def check_report_filter(filters: ReportFilter, lang: str, uow: UnitOfWork) -> None:
    """InvalidInput naming the filter that cannot be applied."""
    check_common(filters.since, filters.until, filters.county, lang, uow)


def report_properties(row, layer: LayerDef, photo_urls: list[str]) -> dict[str, Any]:
    """A stored report as an export row: one column per checklist item, per item's comment and per metric."""
    checklist = row.checklist or {}
    comments = checklist.get("comments")
    comments = comments if isinstance(comments, dict) else {}
    metrics = row.metrics or {}
    properties = {
        "site_id": row.site_id, "site_name": row.site_name, "site_version": row.site_version,
        "uuid": row.uuid, "filed_by": row.username,
        "observed_at": iso(row.observed_at), "received_at": iso(row.received_at),
        "review_status": row.review_status, "review_comment": row.review_comment,
        "reviewed_at": iso(row.reviewed_at), "location": "gps" if row.gps_lat is not None else "site",
        "gps_accuracy_m": row.gps_accuracy, "distance_m": row.distance_m,
    }
    for item in layer.checklist:
        properties[f"check_{item.id}"] = checklist.get(item.id)
        properties[f"comment_{item.id}"] = comments.get(item.id) or None
    properties |= {f"metric_{m.id}": metrics.get(m.id) for m in layer.metrics}
    properties |= {"flags": list(row.flags or []), "note": row.note, "photos": photo_urls}
    return properties


def _point(row):
    """The report's GPS fix, else a point surely on its site (the representative point)."""
    if row.gps_lat is not None:
        return Point(row.gps_lon, row.gps_lat)
    return shapely.from_wkb(row.site_geom).representative_point()


def _features(layer: LayerDef, filters: ReportFilter, fmt: str, uow: UnitOfWork, lang: str,
              photo_url: PhotoUrl, counter: list[int], zone: ZoneInfo = LOCAL_TIME) -> Iterator[dict]:
    headers = headers_for(fmt, report_headers(layer, lang))
    table = table_for(fmt, layer, lang, uow, zone)
    batches = uow.export_view.report_batches(layer.id, since=filters.since, until=filters.until,
                                         county=filters.county, size=BATCH)
    for batch in batches:
        photos = uow.photos.ids_by_report([row.id for row in batch])
        for row in batch:
            counter[0] += 1
            properties = report_properties(row, layer, [photo_url(p) for p in photos.get(row.id, [])])
            if fmt == "geojson":  # the report id is the feature's id
                yield feature(row.id, _point(row), properties)
            else:
                yield gdal_feature(row.id, _point(row), table.report(properties) if table else properties,
                                   headers)


def export_reports(layer: LayerDef, path: str | Path, fmt: str, *, uow: UnitOfWork, actor: str | None,
                   now: datetime, photo_url: PhotoUrl, filters: ReportFilter = ReportFilter(),
                   lang: str = "zh_CN", zone: ZoneInfo = LOCAL_TIME) -> int:
    """Write every report of a layer (filtered) as points to ``path``; returns how many. Audited.

    GeoJSON is streamed to disk; the other formats go through GDAL (geo.io.write).
    CSV and XLSX are tables for people (geo.export_labels), with times in ``zone``.
    The file appears whole or not at all.
    """
    spec = writable_format(fmt)
    check_report_filter(filters, lang, uow)
    counter = [0]
    write_features(_features(layer, filters, spec.id, uow, lang, photo_url, counter, zone), path, spec.id)
    record_export(uow, "reports.export", layer, spec.id, filters, lang, counter[0], actor, now)
    return counter[0]


def stream_reports(layer: LayerDef, *, store: Store, actor: str | None, now: datetime, photo_url: PhotoUrl,
                   filters: ReportFilter = ReportFilter(), lang: str = "zh_CN") -> Iterator[bytes]:
    """A layer's reports as GeoJSON byte chunks for a response body (see geo.exports.stream_sites)."""
    with store.unit_of_work() as uow:
        check_report_filter(filters, lang, uow)
    return audited_stream(store, "reports.export", layer, filters, lang, actor, now, lambda uow, counter:
                          iter_feature_collection(_features(layer, filters, "geojson", uow, lang, photo_url,
                                                            counter)))
