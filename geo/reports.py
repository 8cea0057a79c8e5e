"""Inspection reports as submitted: checked against the layer definition (pure).

`parse_report` turns the JSON a phone or script sent into a ReportInput or raises
InvalidInput naming the field; `content_hash` fingerprints what was sent, so the
same UUID sent again is recognised as a retry (same hash) or a conflict.
"""

from __future__ import annotations

import hashlib
import math
import uuid as uuidlib
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson

from geo.messages import msg
from geo.model import InvalidInput, LayerDef
from geo.photos import plausible_time

ANSWERS = ("pass", "fail", "na")
MAX_NOTE = 5000
MAX_COMMENT = 1000
MAX_PHOTOS = 10
CLOCK_SKEW = timedelta(minutes=10)  # a phone clock may run a little fast; beyond that, refuse
EARLIEST = datetime(2000, 1, 1, tzinfo=UTC)  # no report of OneMap was observed before this


@dataclass(frozen=True)
class GpsFix:
    lat: float
    lon: float
    accuracy: float | None


@dataclass(frozen=True)
class ReportInput:
    uuid: str
    checklist: dict[str, Any]  # {item: answer, "comments": {item: text}} as stored
    metrics: dict[str, float]
    note: str
    gps: GpsFix | None
    observed_at: datetime
    photo_meta: list[dict | None]  # per photo: position/time read on the phone before downscaling


def _number(value: Any, field: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise InvalidInput(msg("report_not_number", "{field}: {value} is not a number", field=field,
                               value=repr(value)), field=field)
    return float(value)


def _checklist(layer: LayerDef, given: Any) -> dict[str, Any]:
    if not isinstance(given, dict):
        raise InvalidInput(msg("report_checklist_required",
                               "checklist: an object of item answers is required"), field="checklist")
    comments = given.get("comments") or {}
    answers = {k: v for k, v in given.items() if k != "comments"}
    items = {item.id: item for item in layer.checklist}
    ids = list(items)
    for key in answers:
        if key not in ids:
            field = "checklist." + key
            raise InvalidInput(msg("report_not_an_item", "{field}: not an item of {layer}", field=field,
                                   layer=layer.name), field=field)
    for item in ids:
        field, label = f"checklist.{item}", items[item].label
        if item not in answers:
            raise InvalidInput(msg("report_answer_missing",
                                   "{field} ({label}): answer missing (pass, fail or na)",
                                   field=field, label=label), field=field)
        if answers[item] not in ANSWERS:
            raise InvalidInput(msg("report_answer_invalid",
                                   "{field} ({label}): {value} is not pass, fail or na",
                                   field=field, label=label, value=repr(answers[item])), field=field)
    if not isinstance(comments, dict):
        raise InvalidInput(msg("report_comments_required",
                               "checklist.comments: an object of texts is required"),
                           field="checklist.comments")
    clean_comments = {}
    for key, text in comments.items():
        field = f"checklist.comments.{key}"
        if key not in ids:
            raise InvalidInput(msg("report_not_an_item", "{field}: not an item of {layer}", field=field,
                                   layer=layer.name), field=field)
        if not isinstance(text, str) or len(text) > MAX_COMMENT:
            raise InvalidInput(msg("report_text_too_long", "{field}: text of at most {limit} characters",
                                   field=field, limit=MAX_COMMENT), field=field)
        if text.strip():
            clean_comments[key] = text.strip()
    clean = {item: answers[item] for item in ids}
    return clean | {"comments": clean_comments} if clean_comments else clean


def _metrics(layer: LayerDef, given: Any) -> dict[str, float]:
    if given is None:
        return {}
    if not isinstance(given, dict):
        raise InvalidInput(msg("report_metrics_required", "metrics: an object of numbers is required"),
                           field="metrics")
    known = {m.id: m for m in layer.metrics}
    clean = {}
    for key, value in given.items():
        field = f"metrics.{key}"
        if key not in known:
            raise InvalidInput(msg("report_not_a_metric", "{field}: not a metric of {layer}", field=field,
                                   layer=layer.name), field=field)
        if value is None:
            continue
        number, metric = _number(value, field), known[key]
        if not metric.min <= number <= metric.max:
            raise InvalidInput(msg("report_metric_out_of_range",
                                   "{field} ({label}): {value} is outside {min}…{max} {unit}",
                                   field=field, label=metric.label, value=format(number, "g"),
                                   min=format(metric.min, "g"), max=format(metric.max, "g"),
                                   unit=metric.unit),
                               field=field)
        clean[key] = number
    return clean


def _gps(given: Any) -> GpsFix | None:
    if given is None:
        return None
    if not isinstance(given, dict):
        raise InvalidInput(msg("report_gps_required", "gps: an object {{lat, lon, accuracy}} is required"),
                           field="gps")
    lat, lon = _number(given.get("lat"), "gps.lat"), _number(given.get("lon"), "gps.lon")
    if not -90 <= lat <= 90:
        raise InvalidInput(msg("report_latitude_out_of_range", "gps.lat: {value} is outside -90…90",
                               value=lat), field="gps.lat")
    if not -180 <= lon <= 180:
        raise InvalidInput(msg("report_longitude_out_of_range", "gps.lon: {value} is outside -180…180",
                               value=lon), field="gps.lon")
    accuracy = given.get("accuracy")
    if accuracy is not None:
        accuracy = _number(accuracy, "gps.accuracy")
        if accuracy < 0:
            raise InvalidInput(msg("report_accuracy_negative", "gps.accuracy: must not be negative"),
                               field="gps.accuracy")
    return GpsFix(lat, lon, accuracy)


def _observed_at(given: Any, now: datetime) -> datetime:
    try:
        moment = datetime.fromisoformat(str(given))
    except (TypeError, ValueError):
        raise InvalidInput(msg("report_time_invalid", "observed_at: {value} is not an ISO 8601 time",
                               value=repr(given)), field="observed_at") from None
    if moment.tzinfo is None:
        raise InvalidInput(msg("report_time_without_offset",
                               "observed_at: needs a UTC offset, e.g. 2026-05-01T09:30:00+08:00"),
                           field="observed_at")
    if moment > now + CLOCK_SKEW:
        raise InvalidInput(msg("report_time_in_future", "observed_at: lies in the future"),
                           field="observed_at")
    if moment < EARLIEST:  # a phone clock never set; year 1 would not even convert to UTC for storing
        raise InvalidInput(msg("report_time_too_early", "observed_at: before {year}; check the phone's clock",
                               year=EARLIEST.year), field="observed_at")
    return moment


def _photo_meta(given: Any, photos: int) -> list[dict | None]:
    if given is None:
        return [None] * photos
    if not isinstance(given, list) or len(given) != photos:
        raise InvalidInput(msg("report_photo_meta_count",
                               "photo_meta: one entry (or null) per photo, {count} in all", count=photos),
                           field="photo_meta")
    out: list[dict | None] = []
    for index, meta in enumerate(given):
        if meta is None:
            out.append(None)
            continue
        where = f"photo_meta.{index}"
        if not isinstance(meta, dict):
            raise InvalidInput(msg("report_photo_meta_entry", "{field}: an object or null", field=where),
                               field=where)
        entry: dict[str, Any] = {}
        if meta.get("lat") is not None and meta.get("lon") is not None:
            fix = _gps({"lat": meta["lat"], "lon": meta["lon"]})
            entry.update(lat=fix.lat, lon=fix.lon)
        if meta.get("taken_at"):
            try:
                taken = datetime.fromisoformat(str(meta["taken_at"]))
            except ValueError:
                raise InvalidInput(msg("report_photo_time_invalid", "{field}: not an ISO 8601 time",
                                       field=where + ".taken_at"), field=where + ".taken_at") from None
            known = plausible_time(taken) if taken.tzinfo else None  # naive, or a clock never set: unknown
            entry["taken_at"] = known.isoformat() if known else None
        out.append(entry or None)
    return out


def parse_report(layer: LayerDef, payload: Any, *, photos: int, now: datetime) -> ReportInput:
    """Check a submitted report against ``layer``; InvalidInput names the first bad field."""
    if not isinstance(payload, dict):
        raise InvalidInput(msg("report_object_required", "report: a JSON object is required"), field="report")
    if photos > MAX_PHOTOS:
        raise InvalidInput(msg("report_too_many_photos", "photos: at most {limit} per report, got {count}",
                               limit=MAX_PHOTOS, count=photos), field="photos")
    try:
        report_uuid = str(uuidlib.UUID(str(payload.get("uuid"))))
    except ValueError:
        raise InvalidInput(msg("report_uuid_invalid", "uuid: {value} is not a UUID",
                               value=repr(payload.get("uuid"))), field="uuid") from None
    note = payload.get("note") or ""
    if not isinstance(note, str) or len(note) > MAX_NOTE:
        raise InvalidInput(msg("report_text_too_long", "{field}: text of at most {limit} characters",
                               field="note", limit=MAX_NOTE), field="note")
    return ReportInput(
        uuid=report_uuid,
        checklist=_checklist(layer, payload.get("checklist")),
        metrics=_metrics(layer, payload.get("metrics")),
        note=note.strip(),
        gps=_gps(payload.get("gps")),
        observed_at=_observed_at(payload.get("observed_at"), now),
        photo_meta=_photo_meta(payload.get("photo_meta"), photos),
    )


def content_hash(site_id: int, report: ReportInput, photo_digests: list[str]) -> str:
    """Fingerprint of what was sent: a retry of the same report has the same one."""
    canonical = {
        "site": site_id, "uuid": report.uuid, "checklist": report.checklist, "metrics": report.metrics,
        "note": report.note, "gps": report.gps and [report.gps.lat, report.gps.lon, report.gps.accuracy],
        "observed_at": report.observed_at.isoformat(), "photos": photo_digests,
    }
    return hashlib.sha256(orjson.dumps(canonical, option=orjson.OPT_SORT_KEYS)).hexdigest()
