"""Use cases of inspection reports: file one exactly once, review it, finish its photos.

Filing order, so that nothing acknowledged is ever lost and nothing half-written
remains: photos are checked first (nothing written on a bad one); the originals
are written durably under names unique to the attempt; then a short write
transaction (on SQLite, BEGIN IMMEDIATE) commits the rows, the UUID's unique
constraint turning a concurrent duplicate into a retry; only then is the report
acknowledged. The shown copies and thumbnails are derived afterwards, off the
request path and at the lowest CPU priority (``derive_photos``);
files left by a request that died before its commit are removed by
``sweep_orphan_photos``.
"""

from __future__ import annotations

import contextlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa

from geo import checks, photos
from geo.access import sees_all_sites
from geo.messages import msg
from geo.model import (
    ROLE_NAMES,
    Conflict,
    InvalidInput,
    LayerDef,
    NotFound,
    PermissionDenied,
    Site,
    StorageUnavailable,
    User,
)
from geo.queries import may_see_site
from geo.reports import content_hash, parse_report
from geo.status import report_result
from geo.storage.base import UnitOfWork

PHOTO_PREFIX = "photos"
# An unreferenced file younger than this may belong to a filing still in flight on another server
# (its photos are written before its rows); older ones were left by a request that died.
ORPHAN_AGE = timedelta(minutes=10)
LIMITS = photos.Limits()
FILERS = ("worker", "manager", "admin")
REVIEWERS = ("manager", "admin")
REVIEWED = {"approved": msg("review_state_approved", "approved"),
            "rejected": msg("review_state_rejected", "rejected")}


@dataclass(frozen=True)
class Upload:
    name: str
    data: bytes


@dataclass(frozen=True)
class Filed:
    report: dict[str, Any]
    created: bool  # False: the same report was already stored (a retry)


def _may_file(user: User, site: Site, uow: UnitOfWork) -> None:
    if user.role not in FILERS:
        raise PermissionDenied(msg("report_role_cannot_file", "a {role} cannot file reports",
                                   role=ROLE_NAMES.get(user.role, user.role)))
    if not may_see_site(user, site, uow):
        raise NotFound(msg("site_not_found", "site {site} does not exist", site=site.id))


def file_report(site_id: int, payload: Any, uploads: list[Upload], *, layers: dict[str, LayerDef],
                user: User, uow: UnitOfWork, blobs, now: datetime, limits: photos.Limits = LIMITS) -> Filed:
    """Store a report with its photos once; the same UUID again returns the stored report."""
    site = uow.sites.get(site_id)
    _may_file(user, site, uow)
    layer = layers[site.layer_id]
    if not layer.inspections:
        raise InvalidInput(msg("report_layer_takes_none",
                               "site {site} is a {layer} area, which takes no reports",
                               site=site_id, layer=layer.name), field="site")
    report = parse_report(layer, payload, photos=len(uploads), now=now)
    infos = [photos.inspect(u.data, limits,
                            name=u.name or msg("photo_number", "photo {number}", number=i + 1))
             for i, u in enumerate(uploads)]
    fingerprint = content_hash(site_id, report, [info.sha256 for info in infos])

    existing = uow.reports.by_uuid(report.uuid)
    if existing is not None:  # a retry: nothing to write
        return _retry(existing, fingerprint, uow)

    distance = None if report.gps is None else uow.sites.distance_m(site, report.gps.lon, report.gps.lat)
    flags = checks.report_flags(distance, layer.geofence_m)
    # Originals go to disk before the write lock is taken, under names unique to this
    # attempt: a concurrent duplicate never overwrites them, and a loser removes its own.
    attempt = secrets.token_hex(4)
    written: list[str] = []
    try:
        photo_rows = []
        for index, (upload, info, meta) in enumerate(zip(uploads, infos, report.photo_meta, strict=True)):
            base = f"{PHOTO_PREFIX}/{report.uuid}/{attempt}-{index}"
            original = f"{base}.original.{info.format}"
            blobs.put(original, upload.data)
            written.append(original)
            lat, lon, taken = _photo_position(info, meta)
            photo_flags = checks.photo_flags(lat, lon, taken, site_geometry=site.geometry,
                                             geofence_m=layer.geofence_m, observed_at=report.observed_at)
            flags += [f for f in photo_flags if f not in flags]
            photo_rows.append({"original_key": original, "display_key": f"{base}.display.jpg",
                               "thumbnail_key": f"{base}.thumbnail.jpg", "sha256": info.sha256,
                               "width": info.width, "height": info.height, "taken_at": taken,
                               "exif_lat": lat, "exif_lon": lon, "flags": photo_flags})
        # From here to the commit: SQL only, the write lock is held for milliseconds. A duplicate
        # stored since our look-up (by this process or another) fails the UUID's unique constraint.
        # Not exclusive: inserts under the UUID's unique constraint and one conditional UPDATE of the
        # site, safe beside other writers where the backend lets writers run side by side (PostgreSQL).
        uow.begin_write(exclusive=False)
        stored = uow.reports.add_with_photos({
            "uuid": report.uuid, "site_id": site_id, "user_id": user.id, "checklist": report.checklist,
            "metrics": report.metrics, "note": report.note,
            "gps_lat": report.gps and report.gps.lat, "gps_lon": report.gps and report.gps.lon,
            "gps_accuracy": report.gps and report.gps.accuracy, "distance_m": distance, "flags": flags,
            "observed_at": report.observed_at, "received_at": now, "content_hash": fingerprint,
            "review_status": "pending", "site_version": site.version}, photo_rows, user.username)
        # A new report counts at once (pending counts; only a rejection takes it back).
        uow.reports.note_filed(site_id, stored["id"], report.observed_at, report_result(report.checklist))
        uow.audit.record(user.username, "report.file", f"site:{site_id}",
                         {"report": stored["id"], "uuid": report.uuid, "flags": flags}, now)
        uow.commit()
    except sa.exc.IntegrityError:
        # A concurrent request stored this UUID between our look-up and our insert.
        uow.rollback()
        _discard(blobs, written)
        existing = uow.reports.by_uuid(report.uuid)
        if existing is None:
            raise
        return _retry(existing, fingerprint, uow)
    except BaseException:
        _discard(blobs, written)
        raise
    return Filed(stored, True)


def _retry(existing, fingerprint: str, uow: UnitOfWork) -> Filed:
    if existing.content_hash != fingerprint:
        raise Conflict(msg("report_uuid_taken", "uuid: a different report was already stored with this uuid"))
    return Filed(uow.reports.get(existing.id), False)


def _photo_position(info: photos.PhotoInfo, meta: dict | None):
    """The camera's own EXIF first; else what the phone read from it before downscaling."""
    meta = meta or {}
    lat = info.lat if info.lat is not None else meta.get("lat")
    lon = info.lon if info.lon is not None else meta.get("lon")
    taken = info.taken_at
    if taken is None and meta.get("taken_at"):
        taken = datetime.fromisoformat(meta["taken_at"])
    return lat, lon, taken


def _discard(blobs, keys: list[str]) -> None:
    """Remove a failed attempt's files, as many as the storage allows now: the error that made the
    attempt fail is the one to report, and ``sweep_orphan_photos`` removes what is left."""
    for key in keys:
        with contextlib.suppress(StorageUnavailable):
            blobs.delete(key)


def review_report(report_id: int, decision: str, comment: str, *, layers: dict[str, LayerDef],
                  uow: UnitOfWork, user: User, now: datetime, status: str | None = None) -> dict[str, Any]:
    """Approve or reject a report; a stage layer's site may move to ``status`` with an approval.

    A rejected report stops counting towards the site's status at once.
    """
    if decision not in ("approve", "reject"):
        raise InvalidInput(msg("review_decision_invalid", "decision: {value} is not approve or reject",
                               value=repr(decision)), field="decision")
    comment = (comment or "").strip()
    if decision == "reject" and not comment:
        raise InvalidInput(msg("review_reason_required", "comment: say why the report is rejected"),
                           field="comment")
    if user.role not in REVIEWERS:
        raise PermissionDenied(msg("review_managers_only", "only managers review reports"))
    actor = user.username
    report = uow.reports.get(report_id)
    if report["status"] != "pending":
        raise Conflict(msg("review_already_done", "report {report} was already {status}", report=report_id,
                           status=REVIEWED.get(report["status"], report["status"])))
    site = uow.sites.get(report["site_id"])
    layer = layers[site.layer_id]
    if status is not None:
        if decision != "approve" or layer.status_mode != "stages" or not layer.status(status):
            raise InvalidInput(msg("review_status_not_allowed",
                                   "status: {value} cannot be set on {layer} with this decision",
                                   value=repr(status), layer=layer.name), field="status")
        if status != site.status:
            # The version's why is the reviewer's comment; its detail names the report, which the version
            # list shows in the reader's language (a made-up comment would pass for the reviewer's words).
            uow.sites.set_status(site.id, status, now, actor=actor, comment=comment or None,
                                 detail={"report": report_id})
            uow.audit.record(actor, "site.status", f"site:{site.id}",
                             {"from": site.status, "to": status, "report": report_id}, now)
    uow.reports.set_review(report_id, "approved" if decision == "approve" else "rejected", user.id,
                           comment, now)
    uow.reports.refresh_latest(site.id, report_result)
    uow.audit.record(actor, f"report.{decision}", f"report:{report_id}", {"comment": comment}, now)
    uow.commit()
    return uow.reports.get(report_id)


def list_reports(*, uow: UnitOfWork, user: User, site_id: int | None = None, since: datetime | None = None,
                 status: str | None = None, limit: int = 500) -> list[dict[str, Any]]:
    """Reports, newest first, with their photos: every report for those who see every site, a grid
    worker's own otherwise; of one site, filed since a moment, in one review state, at most ``limit``."""
    mine = None if sees_all_sites(user) else user.id
    return uow.reports.find(site_ids=[site_id] if site_id else None, since=since, status=status,
                            user_id=mine, limit=limit)


def derive_photos(report_ids: list[int] | None, *, uow: UnitOfWork, blobs,
                  limits: photos.Limits = LIMITS) -> int:
    """Make the EXIF-free shown copy and thumbnail of photos that lack them; returns how many."""
    return make_copies(missing_copies(report_ids, uow=uow, blobs=blobs), blobs=blobs, limits=limits)


def missing_copies(report_ids: list[int] | None, *, uow: UnitOfWork, blobs) -> list[dict[str, Any]]:
    """The photo rows (of these reports, or of all) whose shown copy or thumbnail is not stored."""
    return [row for row in uow.photos.rows(report_ids)
            if not (blobs.exists(row["display_key"]) and blobs.exists(row["thumbnail_key"]))]


def make_copies(rows: list[dict[str, Any]], *, blobs, limits: photos.Limits = LIMITS) -> int:
    """Make the shown copy and thumbnail of each photo row; returns how many."""
    for row in rows:
        display, thumbnail = photos.derive(blobs.read(row["original_key"]), limits)
        blobs.put(row["thumbnail_key"], thumbnail)
        blobs.put(row["display_key"], display)
    return len(rows)


def sweep_orphan_photos(*, uow: UnitOfWork, blobs, before: datetime | None = None) -> list[str]:
    """Delete photo files no report refers to (left by a request that died before its commit).

    With ``before``, only files written before then: with several servers on one database,
    a file another server wrote a moment ago may be that of a filing about to commit.
    """
    known = uow.photos.keys()
    orphans = [key for key in blobs.keys(PHOTO_PREFIX, before=before) if key not in known]
    for key in orphans:
        blobs.delete(key)
    return orphans
