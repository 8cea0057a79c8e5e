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

import shapely
from shapely.geometry import Point

from geo.exports import (
    BATCH,
    HEADERS,
    check_common,
    gdal_feature,
    headers_for,
    iso,
    label_in,
    record_export,
    unique_headers,
    with_unit,
    write_atomically,
)
from geo.io.formats import writable_format
from geo.io.geojson import feature, iter_feature_collection
from geo.io.write import write_features
from geo.model import LayerDef
from geo.storage.base import Store, UnitOfWork

PhotoUrl = Callable[[int], str]  # photo id → absolute address of its shown copy

# Column headers of tabular report exports (CSV, XLSX) besides the checklist items and metrics.
REPORT_HEADERS: dict[str, dict[str, str]] = {
    "id": HEADERS["id"],
    "site_id": {"zh_CN": "站点编号", "en": "Site ID"},
    "site_name": {"zh_CN": "站点名称", "en": "Site name"},
    "site_version": {"zh_CN": "填报时站点版本", "en": "Site version filed against"},
    "uuid": {"zh_CN": "报告UUID", "en": "Report UUID"},
    "filed_by": {"zh_CN": "填报人", "en": "Filed by"},
    "observed_at": {"zh_CN": "巡查时间", "en": "Observed"},
    "received_at": {"zh_CN": "收到时间", "en": "Received"},
    "review_status": {"zh_CN": "审核状态", "en": "Review status"},
    "review_comment": {"zh_CN": "审核意见", "en": "Review comment"},
    "reviewed_at": {"zh_CN": "审核时间", "en": "Reviewed"},
    "location": {"zh_CN": "位置来源", "en": "Position from"},
    "gps_accuracy_m": {"zh_CN": "定位精度（米）", "en": "GPS accuracy (m)"},
    "distance_m": {"zh_CN": "距站点（米）", "en": "Distance to site (m)"},
    "comments": {"zh_CN": "检查说明", "en": "Checklist comments"},
    "flags": {"zh_CN": "系统提示", "en": "Flags"},
    "note": {"zh_CN": "备注", "en": "Note"},
    "photos": {"zh_CN": "照片链接", "en": "Photo links"},
}


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


def report_headers(layer: LayerDef, lang: str) -> dict[str, str]:
    """{property key: column header in ``lang``} for a layer's report exports."""
    own = {f"check_{item.id}": label_in(item.label, lang) for item in layer.checklist}
    own |= {f"metric_{m.id}": with_unit(label_in(m.label, lang), m.unit, lang) for m in layer.metrics}
    return unique_headers(REPORT_HEADERS, own, lang)


def report_properties(row, layer: LayerDef, photo_urls: list[str]) -> dict[str, Any]:
    """A stored report as an export row: one column per checklist item and per metric."""
    checklist = row.checklist or {}
    metrics = row.metrics or {}
    properties = {
        "site_id": row.site_id, "site_name": row.site_name, "site_version": row.site_version,
        "uuid": row.uuid, "filed_by": row.username,
        "observed_at": iso(row.observed_at), "received_at": iso(row.received_at),
        "review_status": row.review_status, "review_comment": row.review_comment,
        "reviewed_at": iso(row.reviewed_at), "location": "gps" if row.gps_lat is not None else "site",
        "gps_accuracy_m": row.gps_accuracy, "distance_m": row.distance_m,
    }
    properties |= {f"check_{item.id}": checklist.get(item.id) for item in layer.checklist}
    properties["comments"] = checklist.get("comments") or None
    properties |= {f"metric_{m.id}": metrics.get(m.id) for m in layer.metrics}
    properties |= {"flags": list(row.flags or []), "note": row.note, "photos": photo_urls}
    return properties


def _point(row):
    """The report's GPS fix, else a point surely on its site (the representative point)."""
    if row.gps_lat is not None:
        return Point(row.gps_lon, row.gps_lat)
    return shapely.from_wkb(row.site_geom).representative_point()


def _features(layer: LayerDef, filters: ReportFilter, fmt: str, uow: UnitOfWork, lang: str,
              photo_url: PhotoUrl, counter: list[int]) -> Iterator[dict]:
    headers = headers_for(fmt, report_headers(layer, lang))
    batches = uow.reports.export_batches(layer.id, since=filters.since, until=filters.until,
                                         county=filters.county, size=BATCH)
    for batch in batches:
        photos = uow.reports.photo_ids([row.id for row in batch])
        for row in batch:
            counter[0] += 1
            properties = report_properties(row, layer, [photo_url(p) for p in photos.get(row.id, [])])
            if fmt == "geojson":  # the report id is the feature's id
                yield feature(row.id, _point(row), properties)
            else:
                yield gdal_feature(row.id, _point(row), properties, headers)


def export_reports(layer: LayerDef, path: str | Path, fmt: str, *, uow: UnitOfWork, actor: str | None,
                   now: datetime, photo_url: PhotoUrl, filters: ReportFilter = ReportFilter(),
                   lang: str = "zh_CN") -> int:
    """Write every report of a layer (filtered) as points to ``path``; returns how many. Audited.

    GeoJSON is streamed to disk; the other formats go through GDAL (geo.io.write).
    The file appears whole or not at all.
    """
    spec = writable_format(fmt)
    check_report_filter(filters, lang, uow)
    counter = [0]
    features = _features(layer, filters, spec.id, uow, lang, photo_url, counter)
    if spec.id == "geojson":
        write_atomically(iter_feature_collection(features), Path(path))
    else:
        write_features(features, path, spec.id)
    record_export(uow, "reports.export", layer, spec.id, filters, lang, counter[0], actor, now)
    return counter[0]


def stream_reports(layer: LayerDef, *, store: Store, actor: str | None, now: datetime, photo_url: PhotoUrl,
                   filters: ReportFilter = ReportFilter(), lang: str = "zh_CN") -> Iterator[bytes]:
    """A layer's reports as GeoJSON byte chunks for a response body (see geo.exports.stream_sites)."""
    with store.unit_of_work() as uow:
        check_report_filter(filters, lang, uow)

    def chunks() -> Iterator[bytes]:
        counter, complete = [0], False
        with store.unit_of_work() as uow:
            try:
                yield from iter_feature_collection(
                    _features(layer, filters, "geojson", uow, lang, photo_url, counter))
                complete = True
            finally:
                record_export(uow, "reports.export", layer, "geojson", filters, lang, counter[0], actor, now,
                              complete)

    return chunks()
