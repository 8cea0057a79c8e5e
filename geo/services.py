"""Use cases. Each takes the unit of work and the time, commits, and writes the audit entry.

Views and CLI commands call exactly one of these; nothing here knows about HTTP.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from importlib import resources
from pathlib import Path

from geo import credentials
from geo.access import GRID_LAYER, require_role
from geo.counties import counties_of
from geo.imports import Prepared, Progress, read_for_layer
from geo.io.read import read_features
from geo.messages import msg
from geo.model import ROLES, Conflict, InvalidInput, LayerDef, NotFound, User
from geo.storage.base import UnitOfWork

MANAGE_USERS = msg("action_manage_users", "managing users")
USERNAME = re.compile(r"^[\w.@-]{2,64}$")
MIN_PASSWORD = 8


def shipped_dataset_dir() -> Path:
    return Path(str(resources.files("onemap_data") / "jinzhou"))


# ------------------------------------------------------------------ the shipped dataset
@dataclass
class LoadResult:
    layers: int
    counties: int
    sites_added: dict[str, int]
    sites_total: int


def load_dataset(
    layers: dict[str, LayerDef],
    *,
    uow: UnitOfWork,
    now: datetime,
    dataset_dir: Path | None = None,
    actor: str | None = None,
    progress: Progress = None,
) -> LoadResult:
    """Store the layer definitions, county boundaries and sites of a dataset folder.

    Idempotent: sites are keyed by (layer, ref), so a second run adds nothing and
    every site keeps its id. Sites already stored are never changed here, and a site deleted since
    is not loaded again.
    """
    dataset_dir = dataset_dir or shipped_dataset_dir()
    for layer in layers.values():
        uow.layers.save(layer, now)
    counties_file = dataset_dir / "counties.geojson"
    new_counties = 0
    if counties_file.exists():
        for feature in read_features(counties_file).features:
            p = feature.properties
            new_counties += uow.counties.save(str(p["code"]), p["name"], p.get("name_en"), feature.geometry)
    locate = counties_of(uow)  # the counties just stored too
    prepared: dict[str, Prepared] = {}
    for layer in layers.values():  # check every file before writing any site
        path = dataset_dir / f"{layer.id}.geojson"
        if path.exists():
            prepared[layer.id] = read_for_layer(layer, path, None, locate)
            if rejections := prepared[layer.id].rejections:
                first = rejections[0]
                raise InvalidInput(msg("dataset_feature_rejected", "{file}: feature {index}: {reason}",
                                       file=path.name, index=first.index, reason=first.reason),
                                   field=path.name, details=rejections)
    total = sum(len(p.sites) for p in prepared.values())
    done = 0
    added: dict[str, int] = {}
    for layer_id, ready in prepared.items():
        # A site deleted on the map stays deleted: its key is in its versions, not on a live site.
        known = uow.sites.ids_by_ref(layer_id).keys() | uow.versions.refs(layer_id)
        added[layer_id] = 0
        for site in ready.sites:
            if site.ref not in known:
                uow.sites.add(site, now, actor=actor, action="load")
                added[layer_id] += 1
            done += 1
            if progress:
                progress(done, total)
    if new_counties or any(added.values()):
        uow.audit.record(actor, "dataset.load", str(dataset_dir.name),
                         {"counties": new_counties, "sites": added}, now)
    uow.commit()
    return LoadResult(len(layers), new_counties, added, uow.sites.count())


# ------------------------------------------------------------------ users
def add_user(username: str, role: str, password: str, *, uow: UnitOfWork, user: User,
             now: datetime, display_name: str | None = None) -> User:
    """A new account (an admin's work: the admin page, or a command as ``access.system_user``)."""
    require_role(user, "admin", action=MANAGE_USERS)
    if not USERNAME.match(username or ""):
        raise InvalidInput(msg("username_invalid", "username: 2–64 letters, digits, '.', '_', '-' or '@'"),
                           field="username")
    if role not in ROLES:
        raise InvalidInput(msg("role_unknown", "role: {value} is not one of {allowed}", value=repr(role),
                               allowed=", ".join(ROLES)), field="role")
    if len(password) < MIN_PASSWORD:
        raise InvalidInput(msg("password_too_short", "password: at least {limit} characters",
                               limit=MIN_PASSWORD), field="password")
    if uow.users.by_name(username):
        raise Conflict(msg("user_exists", "user {username} already exists", username=repr(username)))
    added = uow.users.add(username, credentials.hash_password(password), role, now, display_name)
    uow.audit.record(user.username, "user.add", f"user:{username}", {"role": role}, now)
    uow.commit()
    return added


def _user(username: str, uow: UnitOfWork) -> User:
    found = uow.users.by_name(username)
    if not found:
        raise NotFound(msg("user_not_found", "user {username} does not exist", username=repr(username)))
    return found[0]


def grid_cell_ids(cells: Iterable[str], *, uow: UnitOfWork) -> list[int]:
    """Site ids of grid cells given by id or by their code (``ref``); NotFound names the unknown ones."""
    by_ref = uow.sites.ids_by_ref(GRID_LAYER)
    found, missing = [], []
    for cell in cells:
        site_id = by_ref.get(cell)
        if site_id is None and cell.isdigit():
            site_id = next((s.id for s in uow.sites.find(ids=[int(cell)], layer_id=GRID_LAYER)), None)
        if site_id is None:
            missing.append(cell)
        else:
            found.append(site_id)
    if missing:
        raise NotFound(msg("grid_cells_not_found", "no grid cell {cells} (import the grid_cells layer first)",
                           cells=", ".join(missing)))
    return found


def issue_token(username: str, *, uow: UnitOfWork, user: User, now: datetime) -> str:
    """A new API token for the user ``username`` (an admin's work); only its digest is stored, so it is
    shown once."""
    require_role(user, "admin", action=MANAGE_USERS)
    holder = _user(username, uow)
    token = credentials.new_token()
    uow.tokens.add(holder.id, credentials.token_digest(token), now)
    uow.audit.record(user.username, "token.issue", f"user:{username}", {}, now)
    uow.commit()
    return token


def authenticate(username: str, password: str, *, uow: UnitOfWork) -> User | None:
    found = uow.users.by_name(username)
    user, password_hash = found if found else (None, None)
    if not credentials.verify_password(password_hash, password) or not user or not user.active:
        return None
    return user


def user_for_token(token: str, *, uow: UnitOfWork) -> User | None:
    return uow.tokens.user_for(credentials.token_digest(token))


def session_user(user_id: int, *, uow: UnitOfWork) -> User | None:
    """The user a login session belongs to, or None when there is no such user or they were deactivated
    (their session ends at its next request)."""
    try:
        user = uow.users.get(user_id)
    except NotFound:
        return None
    return user if user.active else None
