"""Domain errors and HTTP errors → responses, in one place.

JSON `{"error", "message"}` for /api and /ogc; an HTML page otherwise.
"""

from __future__ import annotations

import dataclasses

from flask import current_app, jsonify, render_template, request
from werkzeug.exceptions import HTTPException

from geo.messages import Message
from geo.model import (
    Conflict,
    InvalidInput,
    NotFound,
    OneMapError,
    PermissionDenied,
    StorageFull,
    StorageUnavailable,
    TooLarge,
    UnsupportedMedia,
)
from webapp.auth import is_machine_request
from webapp.i18n import _, error_text, translate
from webapp.params import BadParameter

STATUS = {BadParameter: 400, InvalidInput: 422, NotFound: 404, Conflict: 409, PermissionDenied: 403,
          UnsupportedMedia: 415, TooLarge: 413, StorageFull: 507, StorageUnavailable: 503}


def _unexpected_text() -> str:
    return _("Something went wrong on the server and this was not done; try again later, or tell the "
             "administrator when it happened.")


# What the user is told when the server's trouble is named by an error's code.
SERVER_TROUBLE = {
    "storage_unavailable": lambda: _("Photo storage is unavailable right now and nothing was stored; the "
                                     "phone keeps the report and sends it again later."),
    "storage_full": lambda: _("Photo storage is full and nothing was stored; the phone keeps the report and "
                              "sends it again once the administrator frees space."),
}


def json_error(status: int, code: str, message: str, **extra):
    return jsonify(error=code, message=message, **extra), status


def _domain_error(exc: OneMapError):
    status = next((s for kind, s in STATUS.items() if isinstance(exc, kind)), 400)
    message = error_text(exc)
    if status >= 500:  # the server's trouble, not the client's: the operator hears the details (paths,
        current_app.logger.error("%s", exc.message)  # hosts); the user is told what happens next
        message = SERVER_TROUBLE.get(exc.code, _unexpected_text)()
    if is_machine_request():
        extra = {}
        if isinstance(exc, InvalidInput | BadParameter):
            extra["field"] = exc.field
            if getattr(exc, "details", None):
                extra["details"] = [_detail(d) for d in exc.details]
        if isinstance(exc, Conflict):
            extra.update(exc.extra)
        return json_error(status, exc.code, message, **extra)
    return render_template("error.html", status=status, message=message), status


def _detail(detail):
    """One entry of an error's details (a rejected feature: index, reason), its texts translated."""
    if isinstance(detail, Message):
        return translate(detail)
    if dataclasses.is_dataclass(detail):
        values = {f.name: getattr(detail, f.name) for f in dataclasses.fields(detail)}
    elif isinstance(detail, dict) or hasattr(detail, "__dict__"):
        values = dict(getattr(detail, "__dict__", detail))
    else:
        return detail
    return {key: translate(value) if isinstance(value, Message) else value for key, value in values.items()}


def _http_error(exc: HTTPException):
    if is_machine_request():
        code = (exc.name or "error").lower().replace(" ", "_")
        return json_error(exc.code or 500, code, exc.description or exc.name)
    return render_template("error.html", status=exc.code, message=exc.description), exc.code


def _unexpected(exc: Exception):
    """A bug or an outage nobody foresaw: the traceback goes to the log, never to the user (it may name
    tables, SQL or paths); the user gets a plain 500 and the time to quote to the operator."""
    current_app.logger.exception("unexpected error on %s %s", request.method, request.path)
    message = _unexpected_text()
    if is_machine_request():
        return json_error(500, "internal_error", message)
    return render_template("error.html", status=500, message=message), 500


def init_app(app) -> None:
    app.register_error_handler(OneMapError, _domain_error)
    app.register_error_handler(HTTPException, _http_error)
    app.register_error_handler(Exception, _unexpected)
