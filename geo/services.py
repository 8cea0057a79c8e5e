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
from geo.access import GRID_LAYER
from geo.imports import CountyLocator, Prepared, Progress, read_for_layer
from geo.io.read import read_features
from geo.messages import msg
from geo.model import ROLE_NAMES, ROLES, Conflict, InvalidInput, LayerDef, NotFound, User
from geo.storage.base import UnitOfWork

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
    locate = CountyLocator(uow.counties.all())
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
def add_user(username: str, role: str, password: str, *, uow: UnitOfWork, actor: str | None,
             now: datetime, display_name: str | None = None) -> User:
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
    user = uow.users.add(username, credentials.hash_password(password), role, now, display_name)
    uow.audit.record(actor, "user.add", f"user:{username}", {"role": role}, now)
    uow.commit()
    return user


def _user(username: str, uow: UnitOfWork) -> User:
    found = uow.users.by_name(username)
    if not found:
        raise NotFound(msg("user_not_found", "user {username} does not exist", username=repr(username)))
    return found[0]


def assign_sites(username: str, site_ids: Iterable[int], *, uow: UnitOfWork, actor: str | None,
                 now: datetime) -> list[int]:
    """Assign sites to a grid worker; returns the newly assigned ids."""
    user = _user(username, uow)
    if user.role != "worker":
        raise InvalidInput(msg("assign_not_a_worker", "{username} is a {role}; sites are assigned to workers",
                               username=repr(username), role=ROLE_NAMES.get(user.role, user.role)),
                           field="username")
    wanted = sorted(set(site_ids))
    found = {s.id for s in uow.sites.find(ids=wanted)}
    missing = [i for i in wanted if i not in found]
    if missing:
        raise NotFound(msg("sites_not_found", "no site with id {ids}", ids=", ".join(map(str, missing))))
    new = uow.assignments.assign(user.id, wanted, now)
    uow.audit.record(actor, "sites.assign", f"user:{username}", {"site_ids": new}, now)
    uow.commit()
    return new


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


def issue_token(username: str, *, uow: UnitOfWork, actor: str | None, now: datetime) -> str:
    """A new API token for the user; only its digest is stored, so it is shown once."""
    user = _user(username, uow)
    token = credentials.new_token()
    uow.tokens.add(user.id, credentials.token_digest(token), now)
    uow.audit.record(actor, "token.issue", f"user:{username}", {}, now)
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
