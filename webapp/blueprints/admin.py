"""Admin pages: the users — list, create, reset a password, deactivate / reactivate.

Each POST is a CSRF-protected form that calls one use case (geo.services.add_user,
geo.accounts.reset_password / set_active). On bad input the list is shown again
with the use case's message beside the form that was sent (422 invalid, 409
conflict, 404 unknown user); nothing is written then.
"""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_login import current_user

from geo import accounts, services
from geo.model import ROLES, Conflict, InvalidInput, NotFound, OneMapError
from webapp.auth import role_required
from webapp.context import get_uow, now
from webapp.i18n import _, error_text

bp = Blueprint("admin", __name__, url_prefix="/admin")
ERROR_STATUS = {InvalidInput: 422, Conflict: 409, NotFound: 404}


def _status_of(exc: OneMapError) -> int:
    return next((s for kind, s in ERROR_STATUS.items() if isinstance(exc, kind)), 400)


def _render(errors: dict[str, str] | None = None, form: dict[str, str] | None = None, status: int = 200):
    with get_uow() as uow:
        rows = accounts.list_users(uow=uow, user=current_user.user)
    return render_template("admin/users.html", rows=rows, roles=ROLES, errors=errors or {},
                           form=form or {}, me=current_user.username), status


@bp.get("/users")
@role_required("admin")
def users():
    return _render()


@bp.post("/users")
@role_required("admin")
def create_user():
    form = {name: (request.form.get(name) or "").strip() for name in ("username", "role", "display_name")}
    password = request.form.get("password") or ""
    try:
        with get_uow(write=True) as uow:
            services.add_user(form["username"], form["role"], password, uow=uow,
                              user=current_user.user, now=now(),
                              display_name=form["display_name"] or None)
    except (InvalidInput, Conflict) as exc:
        return _render({"create": error_text(exc)}, form, _status_of(exc))
    flash(_("User {name} created.").format(name=form["username"]), "info")
    return redirect(url_for("admin.users"))


@bp.post("/users/<username>/password")
@role_required("admin")
def reset_password(username: str):
    try:
        with get_uow(write=True) as uow:
            accounts.reset_password(username, request.form.get("password") or "", uow=uow,
                                    user=current_user.user, now=now())
    except (InvalidInput, NotFound) as exc:
        return _render({f"password:{username}": error_text(exc)}, status=_status_of(exc))
    flash(_("Password of {name} reset.").format(name=username), "info")
    return redirect(url_for("admin.users"))


@bp.post("/users/<username>/active")
@role_required("admin")
def set_active(username: str):
    active = request.form.get("active") == "1"
    try:
        with get_uow(write=True) as uow:
            accounts.set_active(username, active, uow=uow, user=current_user.user, now=now())
    except (InvalidInput, NotFound) as exc:
        return _render({f"active:{username}": error_text(exc)}, status=_status_of(exc))
    done = _("{name} reactivated.") if active else _("{name} deactivated.")
    flash(done.format(name=username), "info")
    return redirect(url_for("admin.users"))
