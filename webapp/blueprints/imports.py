"""Manager pages for importing a file into a layer: upload, preview, then confirm or cancel.

The uploaded file waits in the instance folder (``imports/<token>/``, readable by
the app only) while the manager reads the preview; confirming imports it only if
the import would still do what the preview showed, then deletes it. Uploads left
for more than a day are removed whenever these pages are used.
"""

from __future__ import annotations

import json
import re
import secrets
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user
from werkzeug.datastructures import FileStorage
from werkzeug.exceptions import Forbidden, RequestEntityTooLarge

from geo import imports
from geo.attributes import clean_comment
from geo.crs import parse_crs
from geo.io.formats import FORMATS, detect_format
from geo.model import InvalidInput, LayerDef, UnreadableFile
from webapp.auth import role_required
from webapp.context import county_names, get_uow, layers, now
from webapp.i18n import _, error_text, format_number, label

bp = Blueprint("imports", __name__, url_prefix="/manage/import")

MAX_UPLOAD_BYTES = 50 * 1024 * 1024
STALE_SECONDS = 24 * 3600
ROW_LIMIT = 200  # rows shown per kind of outcome; the counts are always complete
_TOKEN = re.compile(r"^[A-Za-z0-9_-]{20,64}$")
_UNSAFE = re.compile(r"[^\w.-]+")  # \w keeps Chinese file names readable in messages


@dataclass(frozen=True)
class Upload:
    token: str
    folder: Path
    path: Path  # the file itself, under its own (sanitised) name
    layer: str
    crs: str | None
    filename: str  # as the browser sent it
    user: str
    comment: str | None = None  # why: stored on every version the import records


# ------------------------------------------------------------------ the waiting uploads
def _too_large_text() -> str:
    return _("The file is too large: imports take at most {mb} MB.", mb=_limit() // (1024 * 1024))


def _root() -> Path:
    root = current_app.config["ONEMAP"].instance / "imports"
    root.mkdir(mode=0o700, parents=True, exist_ok=True)
    return root


def _limit() -> int:
    return min(MAX_UPLOAD_BYTES, current_app.config.get("MAX_CONTENT_LENGTH") or MAX_UPLOAD_BYTES)


def _stored_name(filename: str) -> str:
    """A file name safe to put on disk that keeps the extension (the format) and a readable stem."""
    original = Path(filename.replace("\\", "/")).name
    suffix = Path(original).suffix.lower()
    stem = _UNSAFE.sub("_", original[: len(original) - len(suffix)]).strip("._")[:100]
    return f"{stem or 'upload'}{suffix}"


def _save(file: FileStorage, layer: LayerDef, crs: str | None, comment: str | None) -> Upload:
    token = secrets.token_urlsafe(24)
    folder = _root() / token
    (folder / "data").mkdir(mode=0o700, parents=True)
    path = folder / "data" / _stored_name(file.filename or "")
    file.save(path)
    meta = {"layer": layer.id, "crs": crs, "filename": file.filename, "user": current_user.username,
            "comment": comment}
    (folder / "meta.json").write_text(json.dumps(meta, ensure_ascii=False), encoding="utf-8")
    return Upload(token, folder, path, layer.id, crs, file.filename or path.name, current_user.username,
                  comment)


def _load(token: str) -> Upload:
    """The waiting upload of this token; 404 when it is gone, unknown, or another user's."""
    if not _TOKEN.match(token):
        abort(404, _("This import no longer exists (confirmed, cancelled or removed after a day); upload the "
                     "file again."))
    folder = _root() / token
    try:
        meta = json.loads((folder / "meta.json").read_text(encoding="utf-8"))
        (path,) = (folder / "data").iterdir()
    except (OSError, ValueError):  # gone, or half-removed by the stale sweep
        abort(404, _("This import no longer exists (confirmed, cancelled or removed after a day); upload the "
                     "file again."))
    if meta["user"] != current_user.username or meta["layer"] not in layers():
        abort(404, _("This import no longer exists (confirmed, cancelled or removed after a day); upload the "
                     "file again."))
    return Upload(token, folder, path, meta["layer"], meta["crs"], meta["filename"], meta["user"],
                  meta.get("comment"))


def _discard(upload: Upload) -> None:
    shutil.rmtree(upload.folder, ignore_errors=True)


@bp.before_request
def _remove_stale() -> None:
    cutoff = time.time() - STALE_SECONDS
    for folder in _root().iterdir():
        try:
            if folder.stat().st_mtime < cutoff:
                shutil.rmtree(folder, ignore_errors=True)
        except FileNotFoundError:  # removed by a concurrent request
            continue


# ------------------------------------------------------------------ pages
def _form(error: str | None = None, values: dict | None = None, status: int = 200):
    extensions = sorted(ext for f in FORMATS.values() if f.can_read for ext in f.extensions)
    return render_template("imports/upload.html", layer_defs=layers(), error=error, values=values or {},
                           extensions=extensions, limit_mb=_limit() // (1024 * 1024)), status


def _preview(upload: Upload, plan: imports.ImportPlan, *, message: str | None = None,
             status: int | None = None):
    """The preview page; an upload that would change nothing is removed at once (nothing to confirm)."""
    layer = layers()[upload.layer]
    if not plan.changes:
        _discard(upload)
    # Not "labels": that name is the templates' global (webapp.labels), which base.html reads.
    field_labels = {"name": _("Name"), "county": _("County"), "status": _("Status")}
    field_labels |= {a.name: label(a.label) for a in layer.attributes}
    statuses = {s.code: label(s.label) for s in layer.statuses}
    return render_template(
        "imports/preview.html", upload=upload, layer=layer, plan=plan, message=message, limit=ROW_LIMIT,
        token=upload.token if plan.changes else None, field_labels=field_labels, statuses=statuses,
        counties=county_names(),
    ), status or (422 if plan.rejections else 200)


@bp.errorhandler(RequestEntityTooLarge)
def _too_large(_exc):
    # Raised while the request body is parsed (the CSRF check), before the view and its role check.
    if current_user.role not in ("manager", "admin"):
        return render_template("error.html", status=403, message=Forbidden.description), 403
    return _form(_too_large_text(), status=413)


@bp.get("")
@role_required("manager")
def upload_form():
    return _form()


@bp.post("")
@role_required("manager")
def upload():
    values = {"layer": request.form.get("layer", ""), "crs": request.form.get("crs", "").strip(),
              "comment": request.form.get("comment", "")}
    file = request.files.get("file")
    layer = layers().get(values["layer"])
    if layer is None:
        return _form(_("Choose a layer."), values, 422)
    if file is None or not file.filename:
        return _form(_("Choose a file to upload."), values, 422)
    try:
        detect_format(file.filename)
        crs = parse_crs(values["crs"]) if values["crs"] else None
        comment = clean_comment(values["comment"])
    except (UnreadableFile, InvalidInput) as exc:
        return _form(error_text(exc), values, 422)
    saved = _save(file, layer, crs, comment)
    if saved.path.stat().st_size > _limit():
        _discard(saved)
        return _form(_too_large_text(), values, 413)
    try:
        with get_uow() as uow:
            plan = imports.preview_import(layer, saved.path, crs, uow, user=current_user.user)
    except (UnreadableFile, InvalidInput) as exc:
        _discard(saved)
        return _form(error_text(exc), values, 422)
    return _preview(saved, plan)


@bp.get("/<token>")
@role_required("manager")
def preview(token: str):
    upload = _load(token)
    with get_uow() as uow:
        plan = imports.preview_import(layers()[upload.layer], upload.path, upload.crs, uow,
                                      user=current_user.user)
    return _preview(upload, plan)


@bp.post("/<token>/confirm")
@role_required("manager")
def confirm(token: str):
    upload = _load(token)
    layer = layers()[upload.layer]
    try:  # the comment may have been edited on the preview page
        comment = clean_comment(request.form.get("comment", upload.comment))
    except InvalidInput as exc:
        with get_uow() as uow:
            plan = imports.preview_import(layer, upload.path, upload.crs, uow, user=current_user.user)
        return _preview(upload, plan, message=error_text(exc), status=422)
    try:
        with get_uow() as uow:
            # The previewed rejections are skipped; any new one changes the digest and stops the import.
            result = imports.import_sites(layer, upload.path, crs=upload.crs, skip_invalid=True, uow=uow,
                                          user=current_user.user, now=now(),
                                          expect=request.form.get("digest", ""), comment=comment)
    except imports.PlanChanged as exc:
        return _preview(upload, exc.plan, message=_("The stored data changed since the preview and nothing "
                                                    "was imported; check the new preview below and confirm "
                                                    "again."), status=409)
    except (UnreadableFile, InvalidInput) as exc:
        _discard(upload)
        values = {"layer": layer.id, "crs": upload.crs or "", "comment": comment or ""}
        return _form(error_text(exc), values, 422)
    _discard(upload)
    flash(_("Imported into {layer}: {added} added, {updated} updated, {unchanged} unchanged, {rejected} "
            "rejected skipped.", layer=label(layer.name), added=format_number(len(result.added)),
            updated=format_number(len(result.updated)), unchanged=format_number(len(result.unchanged)),
            rejected=format_number(len(result.rejections))), "info")
    return redirect(url_for("imports.upload_form"))


@bp.post("/<token>/cancel")
@role_required("manager")
def cancel(token: str):
    _discard(_load(token))
    flash(_("Import cancelled; the uploaded file was deleted."), "info")
    return redirect(url_for("imports.upload_form"))
