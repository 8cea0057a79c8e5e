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
        raise InvalidInput(f"{field}: {value!r} is not a number", field=field)
    return float(value)


def _checklist(layer: LayerDef, given: Any) -> dict[str, Any]:
    if not isinstance(given, dict):
        raise InvalidInput("checklist: an object of item answers is required", field="checklist")
    comments = given.get("comments") or {}
    answers = {k: v for k, v in given.items() if k != "comments"}
    ids = [item.id for item in layer.checklist]
    for key in answers:
        if key not in ids:
            raise InvalidInput(f"checklist.{key}: not an item of {layer.id}", field=f"checklist.{key}")
    for item in ids:
        if item not in answers:
            raise InvalidInput(f"checklist.{item}: answer missing (pass, fail or na)",
                               field=f"checklist.{item}")
        if answers[item] not in ANSWERS:
            raise InvalidInput(f"checklist.{item}: {answers[item]!r} is not pass, fail or na",
                               field=f"checklist.{item}")
    if not isinstance(comments, dict):
        raise InvalidInput("checklist.comments: an object of texts is required",
                           field="checklist.comments")
    clean_comments = {}
    for key, text in comments.items():
        field = f"checklist.comments.{key}"
        if key not in ids:
            raise InvalidInput(f"{field}: not an item of {layer.id}", field=field)
        if not isinstance(text, str) or len(text) > MAX_COMMENT:
            raise InvalidInput(f"{field}: text of at most {MAX_COMMENT} characters", field=field)
        if text.strip():
            clean_comments[key] = text.strip()
    clean = {item: answers[item] for item in ids}
    return clean | {"comments": clean_comments} if clean_comments else clean


def _metrics(layer: LayerDef, given: Any) -> dict[str, float]:
    if given is None:
        return {}
    if not isinstance(given, dict):
        raise InvalidInput("metrics: an object of numbers is required", field="metrics")
    known = {m.id: m for m in layer.metrics}
    clean = {}
    for key, value in given.items():
        field = f"metrics.{key}"
        if key not in known:
            raise InvalidInput(f"{field}: not a metric of {layer.id}", field=field)
        if value is None:
            continue
        number, metric = _number(value, field), known[key]
        if not metric.min <= number <= metric.max:
            raise InvalidInput(f"{field}: {number:g} is outside {metric.min:g}…{metric.max:g} {metric.unit}",
                               field=field)
        clean[key] = number
    return clean


def _gps(given: Any) -> GpsFix | None:
    if given is None:
        return None
    if not isinstance(given, dict):
        raise InvalidInput("gps: an object {lat, lon, accuracy} is required", field="gps")
    lat, lon = _number(given.get("lat"), "gps.lat"), _number(given.get("lon"), "gps.lon")
    if not -90 <= lat <= 90:
        raise InvalidInput(f"gps.lat: {lat} is outside -90…90", field="gps.lat")
    if not -180 <= lon <= 180:
        raise InvalidInput(f"gps.lon: {lon} is outside -180…180", field="gps.lon")
    accuracy = given.get("accuracy")
    if accuracy is not None:
        accuracy = _number(accuracy, "gps.accuracy")
        if accuracy < 0:
            raise InvalidInput("gps.accuracy: must not be negative", field="gps.accuracy")
    return GpsFix(lat, lon, accuracy)


def _observed_at(given: Any, now: datetime) -> datetime:
    try:
        moment = datetime.fromisoformat(str(given))
    except (TypeError, ValueError):
        raise InvalidInput(f"observed_at: {given!r} is not an ISO 8601 time", field="observed_at") from None
    if moment.tzinfo is None:
        raise InvalidInput("observed_at: needs a UTC offset, e.g. 2026-05-01T09:30:00+08:00",
                           field="observed_at")
    if moment > now + CLOCK_SKEW:
        raise InvalidInput("observed_at: lies in the future", field="observed_at")
    if moment < EARLIEST:  # a phone clock never set; year 1 would not even convert to UTC for storing
        raise InvalidInput(f"observed_at: before {EARLIEST.year}; check the phone's clock",
                           field="observed_at")
    return moment


def _photo_meta(given: Any, photos: int) -> list[dict | None]:
    if given is None:
        return [None] * photos
    if not isinstance(given, list) or len(given) != photos:
        raise InvalidInput(f"photo_meta: one entry (or null) per photo, {photos} in all", field="photo_meta")
    out: list[dict | None] = []
    for index, meta in enumerate(given):
        if meta is None:
            out.append(None)
            continue
        if not isinstance(meta, dict):
            raise InvalidInput(f"photo_meta.{index}: an object or null", field=f"photo_meta.{index}")
        entry: dict[str, Any] = {}
        if meta.get("lat") is not None and meta.get("lon") is not None:
            fix = _gps({"lat": meta["lat"], "lon": meta["lon"]})
            entry.update(lat=fix.lat, lon=fix.lon)
        if meta.get("taken_at"):
            try:
                taken = datetime.fromisoformat(str(meta["taken_at"]))
            except ValueError:
                raise InvalidInput(f"photo_meta.{index}.taken_at: not an ISO 8601 time",
                                   field=f"photo_meta.{index}.taken_at") from None
            known = plausible_time(taken) if taken.tzinfo else None  # naive, or a clock never set: unknown
            entry["taken_at"] = known.isoformat() if known else None
        out.append(entry or None)
    return out


def parse_report(layer: LayerDef, payload: Any, *, photos: int, now: datetime) -> ReportInput:
    """Check a submitted report against ``layer``; InvalidInput names the first bad field."""
    if not isinstance(payload, dict):
        raise InvalidInput("report: a JSON object is required", field="report")
    if photos > MAX_PHOTOS:
        raise InvalidInput(f"photos: at most {MAX_PHOTOS} per report, got {photos}", field="photos")
    try:
        report_uuid = str(uuidlib.UUID(str(payload.get("uuid"))))
    except ValueError:
        raise InvalidInput(f"uuid: {payload.get('uuid')!r} is not a UUID", field="uuid") from None
    note = payload.get("note") or ""
    if not isinstance(note, str) or len(note) > MAX_NOTE:
        raise InvalidInput(f"note: text of at most {MAX_NOTE} characters", field="note")
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
