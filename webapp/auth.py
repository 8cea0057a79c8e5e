"""Login and logout, API tokens and role checks — deny by default.

Browsers log in with a CSRF-protected form and get a session cookie; scripts and
GIS clients send `Authorization: Bearer <token>`. Every endpoint needs one of the
two unless it is listed in PUBLIC_ENDPOINTS.
"""

from __future__ import annotations

from functools import wraps
from urllib.parse import urlsplit

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_login import LoginManager, UserMixin, current_user, login_user, logout_user
from flask_wtf import FlaskForm
from flask_wtf.csrf import CSRFProtect
from limits import parse
from wtforms import PasswordField, StringField
from wtforms.validators import DataRequired

from geo import services
from geo.model import User
from webapp.context import get_uow
from webapp.i18n import _

bp = Blueprint("auth", __name__)
csrf = CSRFProtect()
login_manager = LoginManager()
PUBLIC_ENDPOINTS = {"auth.login", "static", "assets.vendor", "health.healthz"}
# Guessing: failed logins and unknown tokens are counted per address (behind nginx, the user's own,
# by ONEMAP_PROXIES) in ONEMAP_RATELIMIT_STORAGE; past these the address gets 429 for the rest of the
# minute. Successful logins and good tokens cost nothing.
limiter = Limiter(key_func=get_remote_address, default_limits=[])
LOGIN_FAILURES = "10 per minute"
BAD_TOKENS = parse("20 per minute")
MACHINE_PREFIXES = ("/api/", "/ogc")


class SessionUser(UserMixin):
    """Flask-Login's view of a OneMap user."""

    def __init__(self, user: User, via_token: bool = False):
        self.user = user
        self.via_token = via_token

    def get_id(self) -> str:
        return str(self.user.id)

    @property
    def role(self) -> str:
        return self.user.role

    @property
    def username(self) -> str:
        return self.user.username


@login_manager.user_loader
def _load_session_user(user_id: str) -> SessionUser | None:
    try:
        wanted = int(user_id)
    except ValueError:
        return None
    with get_uow(brief=True) as uow:  # every request: one statement, no transaction
        user = services.session_user(wanted, uow=uow)
    return SessionUser(user) if user else None


@login_manager.request_loader
def _load_token_user(req) -> SessionUser | None:
    header = req.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    address = get_remote_address()
    if not limiter.limiter.test(BAD_TOKENS, "bad-token", address):
        abort(429, "too many requests with an unknown token from this address; wait a minute")
    with get_uow(brief=True) as uow:
        user = services.user_for_token(token.strip(), uow=uow)
    if user is None:
        limiter.limiter.hit(BAD_TOKENS, "bad-token", address)
        return None
    return SessionUser(user, via_token=True)


def is_machine_request() -> bool:
    return request.path.startswith(MACHINE_PREFIXES)


def _require_login():
    if request.endpoint in PUBLIC_ENDPOINTS or current_user.is_authenticated:
        # A session cookie can be sent by another site's form; a Bearer token cannot.
        if current_user.is_authenticated and not current_user.via_token and request.method not in (
            "GET", "HEAD", "OPTIONS"
        ):
            csrf.protect()
        return None
    if is_machine_request():
        return login_manager.unauthorized()
    return redirect(url_for("auth.login", next=request.full_path.rstrip("?")))


@login_manager.unauthorized_handler
def _unauthorized():
    from webapp.errors import json_error

    if is_machine_request():
        return json_error(401, "unauthorized", "log in or send Authorization: Bearer <token>")
    return redirect(url_for("auth.login", next=request.full_path.rstrip("?")))


def role_required(*roles: str):
    """Let only these roles through (admins pass everywhere)."""

    def decorate(view):
        @wraps(view)
        def wrapped(*args, **kwargs):
            if current_user.role not in roles and current_user.role != "admin":
                abort(403)
            return view(*args, **kwargs)

        return wrapped

    return decorate


class LoginForm(FlaskForm):
    username = StringField(validators=[DataRequired()])
    password = PasswordField(validators=[DataRequired()])


def _safe_next(target: str | None, role: str) -> str:
    """Only same-site paths: a login link must not bounce users to another site.

    Without one, grid workers start on their own sites, everyone else on the map.
    """
    if target and target.startswith("/") and not target.startswith("//") and not urlsplit(target).netloc:
        return target
    return url_for("worker.my_sites") if role == "worker" else url_for("planner.index")


@bp.route("/login", methods=["GET", "POST"])
@limiter.limit(LOGIN_FAILURES, methods=["POST"], deduct_when=lambda response: response.status_code != 302)
def login():
    form = LoginForm()
    status = 200
    if form.validate_on_submit():
        with get_uow() as uow:
            user = services.authenticate(form.username.data.strip(), form.password.data, uow=uow)
        if user:
            login_user(SessionUser(user))
            return redirect(_safe_next(request.args.get("next"), user.role))
        flash(_("Wrong user name or password."), "error")
        status = 401
    elif request.method == "POST":
        expired = bool(form.csrf_token.errors)
        flash(_("The page expired; please log in again.") if expired
              else _("Enter your user name and password."), "error")
        status = 400
    return render_template("auth/login.html", form=form), status


@bp.post("/logout")
def logout():
    logout_user()
    return redirect(url_for("auth.login"))


def init_app(app) -> None:
    app.config.setdefault("WTF_CSRF_TIME_LIMIT", None)  # the token lives as long as the session
    csrf.init_app(app)
    login_manager.init_app(app)
    app.config["WTF_CSRF_CHECK_DEFAULT"] = False  # checked in _require_login, so tokens skip it
    app.config["RATELIMIT_STORAGE_URI"] = app.config["ONEMAP"].ratelimit_storage
    app.config.setdefault("RATELIMIT_HEADERS_ENABLED", True)  # Retry-After on a 429
    limiter.init_app(app)
    app.before_request(_require_login)
    app.register_blueprint(bp)
