"""Export downloads for managers and admins: a layer's sites, or its reports, in every writable format.

GeoJSON is streamed straight from the database; the GDAL formats are written to a
temporary file, which is unlinked as soon as it is open and then sent.
"""

from __future__ import annotations

import shutil
import tempfile
import unicodedata
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

from flask import Blueprint, Response, request, stream_with_context, url_for
from flask_login import current_user
from werkzeug.datastructures import Headers

from geo import exports, report_exports, times
from geo.counties import counties_of
from geo.io.formats import FORMATS
from geo.messages import msg
from geo.model import NotFound
from webapp import params
from webapp.auth import role_required
from webapp.context import get_uow, layer_or_404, now, store, zone
from webapp.i18n import LANGUAGES, current_language

bp = Blueprint("exports", __name__, url_prefix="/api/v1/export")
EXPORT_FORMATS = tuple(f.id for f in FORMATS.values() if f.can_write)


def _format(fmt: str):
    if fmt not in EXPORT_FORMATS:
        raise NotFound(msg("no_export_format", "no export format {value}; use one of {allowed}",
                           value=repr(fmt), allowed=", ".join(EXPORT_FORMATS)))
    return FORMATS[fmt]


def _time(name: str, *, end: bool):
    try:
        return times.parse_time(request.args.get(name), end=end, zone=zone())  # dates: ONEMAP_TIMEZONE days
    except ValueError as exc:
        raise params.BadParameter(name, params.problem_of(exc)) from None


def _common():
    """since, until, county and lang from the query string, each checked (400 naming it)."""
    args = request.args
    since, until = _time("since", end=False), _time("until", end=True)
    if since and until and until < since:
        raise params.BadParameter("until", msg("until_before_since", "is before since"))
    county = (args.get("county") or "").strip() or None
    if county:
        with get_uow() as uow:
            known = counties_of(uow).codes
        if county not in known:
            raise params.BadParameter("county", msg("unknown_county",
                                                    "no county with code {value} (known: {known})",
                                                    value=repr(county), known=", ".join(known)))
    lang = params.choice(args.get("lang"), "lang", LANGUAGES) or current_language()
    return since, until, county, lang


def _attachment(name: str) -> Headers:
    """Content-Disposition for a download, with an RFC 5987 ``filename*`` when the name is not ASCII."""
    headers = Headers()
    try:
        name.encode("ascii")
        headers.set("Content-Disposition", "attachment", filename=name)
    except UnicodeEncodeError:
        simple = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode("ascii")
        headers.set("Content-Disposition", "attachment", filename=simple,
                    **{"filename*": "UTF-8''" + quote(name, safe="!#$&+-.^_`|~")})
    return headers


def _file_response(write, spec, stem: str, name: str) -> Response:
    """Run ``write(path)`` into a temporary folder and send the file.

    The folder is removed as soon as the file is open: the open handle keeps the
    data until the response is sent, and nothing is left behind whatever becomes
    of the request. ``stem`` names the file, which GeoPackage and KML take for the
    layer's name.
    """
    folder = Path(tempfile.mkdtemp(prefix="onemap-export-"))
    try:
        path = folder / f"{stem}{spec.extensions[0]}"
        write(path)
        size = path.stat().st_size
        file = path.open("rb")
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    response = Response(_read(file), content_type=spec.media_type, headers=_attachment(name))
    response.content_length = size
    return response


def _read(file) -> Iterator[bytes]:
    """The file in 64 KiB chunks, closed at the end or when the response is dropped."""
    with file:
        while chunk := file.read(1 << 16):
            yield chunk


def _photo_url(photo_id: int) -> str:
    return url_for("planner.photo", photo_id=photo_id, kind="display", _external=True)


@bp.get("/<layer_id>.<fmt>")
@role_required("manager")
def sites(layer_id: str, fmt: str):
    layer = layer_or_404(layer_id)
    spec = _format(fmt)
    status = params.codes(request.args.get("status"), "status", {s.code for s in layer.statuses})
    bbox = params.bbox(request.args.get("bbox"))
    since, until, county, lang = _common()
    at, actor = now(), current_user.username
    as_of = params.as_of(request.args.get("as_of"), at)
    filters = exports.SiteExportFilter(status, county, bbox, since, until, as_of)
    name = exports.download_name(layer.id, fmt, at)
    if spec.id == "geojson":
        body = exports.stream_sites(layer, store=store(), actor=actor, now=at, filters=filters, lang=lang)
        return Response(body, content_type=spec.media_type, headers=_attachment(name))

    def write(path: Path) -> None:
        with get_uow() as uow:
            exports.export_sites(layer, path, spec.id, uow=uow, actor=actor, now=at, filters=filters,
                                 lang=lang, zone=zone())

    return _file_response(write, spec, layer.id, name)


@bp.get("/<layer_id>/reports.<fmt>")
@role_required("manager")
def reports(layer_id: str, fmt: str):
    layer = layer_or_404(layer_id)
    spec = _format(fmt)
    # As `onemap export --reports` does: these choose sites, and a report export ignoring them would mislead.
    for name in ("as_of", "status", "bbox"):
        if request.args.get(name):
            raise params.BadParameter(name, msg(
                "chooses_sites", "chooses sites; a report export takes since, until and county"))
    since, until, county, lang = _common()
    filters = report_exports.ReportFilter(since, until, county)
    at, actor = now(), current_user.username
    name = exports.download_name(layer.id, fmt, at, reports=True)
    if spec.id == "geojson":  # the request context stays for the stream: photo links use url_for
        body = report_exports.stream_reports(layer, store=store(), actor=actor, now=at, photo_url=_photo_url,
                                             filters=filters, lang=lang)
        return Response(stream_with_context(body), content_type=spec.media_type, headers=_attachment(name))

    def write(path: Path) -> None:
        with get_uow() as uow:
            report_exports.export_reports(layer, path, spec.id, uow=uow, actor=actor, now=at,
                                          photo_url=_photo_url, filters=filters, lang=lang, zone=zone())

    return _file_response(write, spec, f"{layer.id}_reports", name)
