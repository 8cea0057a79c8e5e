"""Report endpoints of the JSON API: file (exactly once), list, review."""

from __future__ import annotations

from datetime import datetime

import orjson
from flask import Blueprint, current_app, request, url_for
from flask_login import current_user
from werkzeug.exceptions import RequestEntityTooLarge

from geo import inspections
from geo.model import InvalidInput, UnsupportedMedia
from geo.times import iso
from webapp import params
from webapp.auth import role_required
from webapp.context import blobs, derive_photos_later, get_uow, layers, now, photo_limits
from webapp.errors import json_error
from webapp.i18n import _, ngettext

bp = Blueprint("reports_api", __name__, url_prefix="/api/v1")


def report_json(report: dict) -> dict:
    """A stored report as the API shows it; photos by URL (they need a login too)."""
    return {
        "id": report["id"], "uuid": report["uuid"], "site_id": report["site_id"],
        "user": report["username"], "status": report["status"], "flags": report["flags"],
        "checklist": report["checklist"], "metrics": report["metrics"], "note": report["note"],
        "gps": report["gps"], "distance_m": report["distance_m"],
        "observed_at": iso(report["observed_at"]), "received_at": iso(report["received_at"]),
        "reviewed_at": iso(report["reviewed_at"]), "review_comment": report["review_comment"],
        "site_version": report["site_version"],
        "photos": [{"id": p["id"], "flags": p["flags"],
                    "url": url_for("planner.photo", photo_id=p["id"], kind="display"),
                    "thumbnail_url": url_for("planner.photo", photo_id=p["id"], kind="thumbnail")}
                   for p in report["photos"]],
    }


def _payload() -> dict:
    if not request.mimetype == "multipart/form-data":
        raise UnsupportedMedia(_("send multipart/form-data with a part `report` (JSON) and parts `photos`"))
    if not request.mimetype_params.get("boundary"):
        raise params.BadParameter("body", _("the multipart/form-data Content-Type has no boundary parameter"))
    parts = request.form.getlist("report")
    parts += [f.read().decode("utf-8", "replace") for f in request.files.getlist("report")]
    if not parts:
        raise params.BadParameter("report", _("the multipart part `report` (JSON) is missing"))
    if len(parts) > 1:  # which one would be the report? Refused rather than guessed
        raise params.BadParameter("report", ngettext("sent {n} time; send one part `report`",
                                                     "sent {n} times; send one part `report`", len(parts)))
    (part,) = parts
    # A `report` sent as a file part is not a form field, which the app-wide NUL check covers.
    if "\x00" in part or "\\u0000" in part:
        raise params.BadParameter("report", _("contains a NUL character"))
    try:
        return orjson.loads(part)
    except orjson.JSONDecodeError as exc:
        raise params.BadParameter("report", _("is not valid JSON ({detail})", detail=exc)) from None


@bp.errorhandler(RequestEntityTooLarge)
def _too_large(_exc):
    # Raised while Werkzeug parses the body; its own message does not say which limit was passed.
    limit = current_app.config["MAX_CONTENT_LENGTH"] // (1024 * 1024)
    return json_error(413, "too_large", _("the request is over its limits: at most {limit} MB in all, "
                                          "{parts} multipart parts, and {text} KB in a text part",
                                          limit=limit, parts=request.max_form_parts,
                                          text=request.max_form_memory_size // 1000))


@bp.post("/sites/<int:site_id>/reports")
def file_report(site_id: int):
    payload = _payload()
    uploads = [inspections.Upload(f.filename or "", f.read()) for f in request.files.getlist("photos")]
    with get_uow() as uow:  # the service takes the write lock itself, for as short as it can
        filed = inspections.file_report(site_id, payload, uploads, layers=layers(), user=current_user.user,
                                        uow=uow, blobs=blobs(), now=now(), limits=photo_limits())
    if filed.created and filed.report["photos"]:
        derive_photos_later([filed.report["id"]])
    return report_json(filed.report), 201 if filed.created else 200


@bp.get("/reports")
def list_reports():
    args = request.args
    site = params.integer(args.get("site"), "site", 1, 2**62)
    status = params.choice(args.get("status"), "status", ("pending", "approved", "rejected"))
    since = None
    if args.get("since"):
        try:
            since = datetime.fromisoformat(args["since"])
        except ValueError:
            raise params.BadParameter("since", _("{value} is not an ISO 8601 time",
                                                 value=repr(args["since"]))) from None
        if since.tzinfo is None:
            raise params.BadParameter("since", _("needs a UTC offset, e.g. 2026-05-01T00:00:00+08:00"))
    limit = params.integer(args.get("limit"), "limit", 1, 5000) or 500
    with get_uow() as uow:
        reports = inspections.list_reports(uow=uow, user=current_user.user, site_id=site, since=since,
                                           status=status, limit=limit)
    return {"reports": [report_json(r) for r in reports]}


@bp.post("/reports/<int:report_id>/review")
@role_required("manager")
def review(report_id: int):
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise params.BadParameter("body", _('send JSON {"decision": "approve"|"reject", "comment": "…"}'))
    if not isinstance(body.get("comment", ""), str):
        raise InvalidInput(_("comment: must be text"), field="comment")
    with get_uow(write=True) as uow:
        report = inspections.review_report(report_id, str(body.get("decision")), body.get("comment", ""),
                                           layers=layers(), uow=uow, user=current_user.user,
                                           now=now(), status=body.get("status"))
    return report_json(report)
