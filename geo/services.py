"""Use cases. Each takes the unit of work and the time, commits, and writes the audit entry.

Views and CLI commands call exactly one of these; nothing here knows about HTTP.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from importlib import resources
from pathlib import Path
from typing import Any

import shapely

from geo import credentials
from geo.access import GRID_LAYER
from geo.attributes import clean_attributes
from geo.io.geojson import feature
from geo.io.read import Candidate, Rejection, read_features
from geo.io.write import write_features
from geo.model import ROLES, Conflict, InvalidInput, LayerDef, NotFound, Site, User
from geo.storage.base import UnitOfWork

Progress = Callable[[int, int], None] | None  # (done, total)
USERNAME = re.compile(r"^[\w.@-]{2,64}$")
MIN_PASSWORD = 8


def shipped_dataset_dir() -> Path:
    return Path(str(resources.files("onemap_data") / "jinzhou"))


# ------------------------------------------------------------------ sites from files
@dataclass
class Prepared:
    sites: list[Site] = field(default_factory=list)
    indexes: list[int] = field(default_factory=list)  # position in the file of each site
    rejections: list[Rejection] = field(default_factory=list)


class CountyLocator:
    """Which county a geometry lies in (by its representative point), with an STRtree."""

    def __init__(self, counties: list[dict[str, Any]]):
        self.codes = [c["code"] for c in counties]
        self.tree = shapely.STRtree([c["geometry"] for c in counties])

    def code_for(self, geometry) -> str | None:
        hits = self.tree.query(geometry.representative_point(), predicate="intersects")
        return self.codes[min(hits)] if len(hits) else None


def _text(properties: dict[str, Any], *names: str) -> str | None:
    for name in names:
        value = properties.get(name)
        if value not in (None, ""):
            return str(value).strip()
    return None


def prepare_sites(layer: LayerDef, candidates: Iterable[Candidate], locate: CountyLocator) -> Prepared:
    """Turn read features into Sites for ``layer``, rejecting each that breaks its rules."""
    out = Prepared()
    allowed = {s.code for s in layer.statuses}
    for candidate in candidates:
        props = candidate.properties
        problems: list[str] = []
        name = _text(props, "name", "名称", "NAME", "Name")
        if name is None:
            problems.append("name: required (a property `name`)")
        status = _text(props, "status") or layer.initial_status
        if layer.status_mode == "cadence":
            status = layer.initial_status if status not in allowed else status
        elif status not in allowed:
            problems.append(f"status: {status!r} is not one of {', '.join(sorted(allowed))}")
        attributes, attribute_problems = clean_attributes(layer, props)
        problems += attribute_problems
        if problems:
            out.rejections.append(Rejection(candidate.index, "; ".join(problems)))
            continue
        county = _text(props, "county") or locate.code_for(candidate.geometry)
        ref = _text(props, "ref")
        out.sites.append(Site(None, layer.id, name, candidate.geometry, status, county, ref, attributes))
        out.indexes.append(candidate.index)
    return out


def _read_for_layer(layer: LayerDef, path: Path, crs: str | None, locate: CountyLocator) -> Prepared:
    result = read_features(path, crs=crs, allowed_types=layer.geometry_type)
    prepared = prepare_sites(layer, result.features, locate)
    prepared.rejections = sorted(result.rejections + prepared.rejections, key=lambda r: r.index)
    return prepared


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
    every site keeps its id. Sites already stored are never changed here.
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
            prepared[layer.id] = _read_for_layer(layer, path, None, locate)
            if rejections := prepared[layer.id].rejections:
                first = rejections[0]
                raise InvalidInput(f"{path.name}: feature {first.index}: {first.reason}",
                                   field=path.name, details=rejections)
    total = sum(len(p.sites) for p in prepared.values())
    done = 0
    added: dict[str, int] = {}
    for layer_id, ready in prepared.items():
        known = uow.sites.ids_by_ref(layer_id)
        added[layer_id] = 0
        for site in ready.sites:
            if site.ref not in known:
                uow.sites.add(site, now)
                added[layer_id] += 1
            done += 1
            if progress:
                progress(done, total)
    if new_counties or any(added.values()):
        uow.audit.record(actor, "dataset.load", str(dataset_dir.name),
                         {"counties": new_counties, "sites": added}, now)
    uow.commit()
    return LoadResult(len(layers), new_counties, added, uow.sites.count())


@dataclass
class ImportResult:
    layer: str
    stored: list[int]
    rejections: list[Rejection]


def import_sites(
    layer: LayerDef,
    path: Path,
    *,
    crs: str | None,
    skip_invalid: bool,
    uow: UnitOfWork,
    actor: str | None,
    now: datetime,
    progress: Progress = None,
) -> ImportResult:
    """Import a file's features as new sites, checking every feature before writing any.

    With rejections and no ``skip_invalid`` nothing is written and InvalidInput lists
    each rejected feature; with ``skip_invalid`` the good ones are stored.
    """
    prepared = _read_for_layer(layer, Path(path), crs, CountyLocator(uow.counties.all()))
    if prepared.rejections and not skip_invalid:
        n = len(prepared.rejections)
        raise InvalidInput(f"{Path(path).name}: {n} feature(s) rejected, nothing imported",
                           field="file", details=prepared.rejections)
    known = uow.sites.ids_by_ref(layer.id)
    duplicates = [i for i, s in zip(prepared.indexes, prepared.sites, strict=True) if s.ref in known]
    if duplicates and not skip_invalid:
        raise InvalidInput(
            f"{Path(path).name}: {len(duplicates)} feature(s) have a ref already stored, nothing imported",
            field="ref", details=[Rejection(i, "ref already stored in this layer") for i in duplicates])
    stored = []
    for site in prepared.sites:
        if site.ref in known:
            continue
        stored.append(uow.sites.add(site, now))
        if progress:
            progress(len(stored), len(prepared.sites) - len(duplicates))
    uow.audit.record(actor, "sites.import", f"layer:{layer.id}",
                     {"file": Path(path).name, "stored": len(stored),
                      "rejected": len(prepared.rejections) + len(duplicates)}, now)
    uow.commit()
    rejections = prepared.rejections + [Rejection(i, "ref already stored in this layer") for i in duplicates]
    return ImportResult(layer.id, stored, sorted(rejections, key=lambda r: r.index))


# ------------------------------------------------------------------ export
def site_properties(site: Site, layer: LayerDef) -> dict[str, Any]:
    """What a site says of itself in exports: its status with labels, its attributes."""
    status = layer.status(site.status)
    return {
        "layer": site.layer_id,
        "name": site.name,
        "status": site.status,
        "status_label": status.label["zh_CN"] if status else site.status,
        "county": site.county,
        "ref": site.ref,
        **site.attributes,
        "version": site.version,
        "updated_at": site.updated_at.isoformat() if site.updated_at else None,
    }


def export_sites(
    layer: LayerDef,
    path: Path,
    fmt: str,
    *,
    uow: UnitOfWork,
    status: Iterable[str] | None = None,
    county: str | None = None,
    bbox: tuple[float, float, float, float] | None = None,
) -> int:
    """Write a layer's sites (filtered) to ``path``; the file appears whole or not at all."""
    for code in status or ():
        if not layer.status(code):
            raise InvalidInput(f"status: {code!r} is not a status of {layer.id}", field="status")
    count = 0

    def features():
        nonlocal count
        for site in uow.sites.find(layer_id=layer.id, status=status, county=county, bbox=bbox):
            count += 1
            yield feature(site.id, site.geometry, site_properties(site, layer))

    write_features(features(), path, fmt)
    return count


# ------------------------------------------------------------------ users
def add_user(username: str, role: str, password: str, *, uow: UnitOfWork, actor: str | None,
             now: datetime, display_name: str | None = None) -> User:
    if not USERNAME.match(username or ""):
        raise InvalidInput("username: 2–64 letters, digits, '.', '_', '-' or '@'", field="username")
    if role not in ROLES:
        raise InvalidInput(f"role: {role!r} is not one of {', '.join(ROLES)}", field="role")
    if len(password) < MIN_PASSWORD:
        raise InvalidInput(f"password: at least {MIN_PASSWORD} characters", field="password")
    if uow.users.by_name(username):
        raise Conflict(f"user {username!r} already exists")
    user = uow.users.add(username, credentials.hash_password(password), role, now, display_name)
    uow.audit.record(actor, "user.add", f"user:{username}", {"role": role}, now)
    uow.commit()
    return user


def _user(username: str, uow: UnitOfWork) -> User:
    found = uow.users.by_name(username)
    if not found:
        raise NotFound(f"user {username!r} does not exist")
    return found[0]


def assign_sites(username: str, site_ids: Iterable[int], *, uow: UnitOfWork, actor: str | None,
                 now: datetime) -> list[int]:
    """Assign sites to a grid worker; returns the newly assigned ids."""
    user = _user(username, uow)
    if user.role != "worker":
        raise InvalidInput(f"{username!r} is a {user.role}; sites are assigned to workers", field="username")
    wanted = sorted(set(site_ids))
    found = {s.id for s in uow.sites.find(ids=wanted)}
    missing = [i for i in wanted if i not in found]
    if missing:
        raise NotFound(f"no site with id {', '.join(map(str, missing))}")
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
        raise NotFound(f"no grid cell {', '.join(missing)} (import the grid_cells layer first)")
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
