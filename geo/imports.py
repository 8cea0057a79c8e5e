"""Importing a file into a layer: preview what would change, then commit exactly that.

A feature is matched to a stored site by the layer's ``ref`` (the source's own
key); a feature without one is always a new site. A matched site is updated
(same id, version + 1) when its geometry, name, county, attributes or — on a
stage layer, when the file gives one — status differ, and left alone otherwise.
Reading, repairing and checking every feature happens before anything is
written, so an import is all or nothing.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import orjson
import shapely

from geo.access import require_role
from geo.attributes import check_attributes, clean_comment
from geo.counties import CountyLocator, counties_of
from geo.geometry import round_coords
from geo.io.read import Candidate, ReadResult, Rejection, read_features
from geo.messages import Message, msg
from geo.model import Conflict, InvalidInput, LayerDef, Site, UnreadableFile, User
from geo.storage.base import UnitOfWork

Progress = Callable[[int, int], None] | None  # (done, total)
IMPORT_SITES = msg("action_import_sites", "importing sites")


# ------------------------------------------------------------------ features → sites
@dataclass
class Prepared:
    sites: list[Site] = field(default_factory=list)
    indexes: list[int] = field(default_factory=list)  # position in the file of each site
    status_given: list[bool] = field(default_factory=list)  # did the feature carry a status
    rejections: list[Rejection] = field(default_factory=list)


def _text(properties: dict[str, Any], *names: str) -> str | None:
    for name in names:
        value = properties.get(name)
        if value not in (None, ""):
            return str(value).strip()
    return None


# Lengths of a site's text columns (geo/storage/schema.py): PostgreSQL refuses longer text where SQLite
# would store it, and stores no NUL in text at all (a CSV can carry one; GDAL cuts strings at it).
_MAX_LENGTH = {"name": 300, "ref": 200, "county": 12}


def _has_nul(value: Any) -> bool:
    if isinstance(value, list):
        return any(_has_nul(v) for v in value)
    return isinstance(value, str) and "\x00" in value


def _text_problems(values: dict[str, Any]) -> list[Message]:
    """What keeps these texts of a feature from being stored the same on every backend."""
    problems = [msg("contains_nul", "{field}: contains a NUL character", field=field)
                for field, value in values.items() if _has_nul(value)]
    return problems + [msg("text_too_long", "{field}: at most {limit} characters, not {length}", field=field,
                           limit=limit, length=format(len(values[field]), ","))
                       for field, limit in _MAX_LENGTH.items() if len(values.get(field) or "") > limit]


def joined(reasons: list[Message | str]) -> Message | str:
    """Several reasons for one feature as one ("a; b"), each translated where it is shown."""
    first, *rest = reasons
    for reason in rest:
        first = msg("reasons", "{first}; {then}", first=first, then=reason)
    return first


def prepare_sites(layer: LayerDef, candidates: Iterable[Candidate], locate: CountyLocator) -> Prepared:
    """Turn read features into Sites for ``layer``, rejecting each that breaks its rules."""
    out = Prepared()
    allowed = {s.code for s in layer.statuses}
    for candidate in candidates:
        props = candidate.properties
        problems: list[Message | str] = []
        name = _text(props, "name", "名称", "NAME", "Name")
        if name is None:
            problems.append(msg("name_required", "name: required (a property `name`)", field="name"))
        given = _text(props, "status")
        status = given or layer.initial_status
        if layer.status_mode == "cadence":
            status = layer.initial_status if status not in allowed else status
        elif status not in allowed:
            problems.append(msg("status_not_allowed", "status: {value} is not one of {allowed}",
                                field="status", value=repr(status), allowed=", ".join(sorted(allowed))))
        attributes, attribute_problems = check_attributes(layer, props)
        problems += attribute_problems
        county, ref = _text(props, "county"), _text(props, "ref")
        # Refused here, with the feature named, rather than failing the whole import on one backend.
        problems += _text_problems({"name": name, "status": given, "county": county, "ref": ref,
                                    **attributes})
        if problems:
            out.rejections.append(Rejection(candidate.index, joined(problems)))
            continue
        county = county or locate.code_for(candidate.geometry)
        out.sites.append(Site(None, layer.id, name, candidate.geometry, status, county, ref, attributes))
        out.indexes.append(candidate.index)
        out.status_given.append(given is not None)
    return out


def read_for_layer(layer: LayerDef, path: Path, crs: str | None, locate: CountyLocator) -> Prepared:
    """A file's features as Sites of ``layer`` plus every rejection (reading and layer rules), by index."""
    return _prepare(layer, _read(layer, Path(path), crs), locate)


def _read(layer: LayerDef, path: Path, crs: str | None) -> ReadResult:
    if path.is_file() and path.stat().st_size == 0:
        raise UnreadableFile(path.name, msg("empty_file", "the file is empty (0 bytes)"))
    return read_features(path, crs=crs, allowed_types=layer.geometry_type)


def _prepare(layer: LayerDef, result: ReadResult, locate: CountyLocator) -> Prepared:
    prepared = prepare_sites(layer, result.features, locate)
    prepared.rejections = sorted(result.rejections + prepared.rejections, key=lambda r: r.index)
    return prepared


# ------------------------------------------------------------------ the plan
@dataclass(frozen=True)
class FieldChange:
    field: str  # "name", "county", "status" or an attribute name
    before: Any
    after: Any


@dataclass(frozen=True)
class Addition:
    index: int
    site: Site


@dataclass(frozen=True)
class Update:
    index: int
    site: Site  # as it will be stored: the stored site's id with the file's values
    changes: tuple[FieldChange, ...]
    geometry_changed: bool


@dataclass(frozen=True)
class Unchanged:
    index: int
    site_id: int
    ref: str
    name: str


@dataclass
class ImportPlan:
    """What importing a file would do; nothing of it is written until ``import_sites``."""

    layer: str
    file: str
    format: str | None
    source_crs: str | None  # None: the file names no CRS and none was given, so WGS84 was assumed
    additions: list[Addition] = field(default_factory=list)
    updates: list[Update] = field(default_factory=list)
    unchanged: list[Unchanged] = field(default_factory=list)
    rejections: list[Rejection] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # what GDAL warned about while reading

    @property
    def changes(self) -> int:
        return len(self.additions) + len(self.updates)

    @property
    def digest(self) -> str:
        """A fingerprint of every outcome shown in a preview; confirming checks it is still the same."""
        outline = [
            [["add", a.index, a.site.ref, a.site.county] for a in self.additions],
            [["update", u.index, u.site.id, u.geometry_changed,
              [[c.field, c.before, c.after] for c in u.changes]] for u in self.updates],
            [["same", u.index, u.site_id] for u in self.unchanged],
            [["reject", r.index, str(r.reason)] for r in self.rejections],
        ]
        return hashlib.sha256(orjson.dumps(outline, default=str)).hexdigest()


class PlanChanged(Conflict):
    """The stored data changed between a preview and its confirmation; ``plan`` is the new preview."""

    def __init__(self, plan: ImportPlan):
        super().__init__(msg("plan_changed", "{file}: the stored sites changed since the preview; "
                             "nothing was imported, check the new preview", file=plan.file))
        self.plan = plan


def _merge_rejections(rejections: Iterable[Rejection]) -> list[Rejection]:
    """One rejection per feature (its reasons joined), in file order."""
    reasons: dict[int, list[Message | str]] = defaultdict(list)
    for rejection in rejections:
        reasons[rejection.index].append(rejection.reason)
    return [Rejection(index, joined(reasons[index])) for index in sorted(reasons)]


def _same_geometry(new, stored) -> bool:
    # Stored geometries are rounded to 6 decimals; the same shape with another start vertex is the same.
    new = round_coords(new, 6)
    try:
        return new.equals_exact(stored, 0) or new.equals(stored)
    except shapely.errors.GEOSException:
        return False


def _updated(layer: LayerDef, stored: Site, new: Site, status_given: bool,
             columns: set[str]) -> tuple[Site, list[FieldChange], bool]:
    """The stored site with the file's values, the fields that change, and whether the geometry does.

    Attributes whose column the file has are taken from the file (an empty cell clears one);
    the others keep their stored value. Status: cadence layers derive it from inspections, so
    the stored one stays; a stage layer takes the file's status only when the feature gives one.
    """
    status = new.status if layer.status_mode != "cadence" and status_given else stored.status
    kept = {k: v for k, v in stored.attributes.items() if not (k in columns and layer.attribute(k))}
    attributes = kept | new.attributes
    fields = (("name", stored.name, new.name), ("county", stored.county, new.county),
              ("status", stored.status, status))
    changes = [FieldChange(name, before, after) for name, before, after in fields if before != after]
    order = {a.name: i for i, a in enumerate(layer.attributes)}  # the layer's order, then the rest
    for key in sorted(set(stored.attributes) | set(attributes), key=lambda k: (order.get(k, len(order)), k)):
        before, after = stored.attributes.get(key), attributes.get(key)
        if before != after or type(before) is not type(after):  # True == 1, but it is a change
            changes.append(FieldChange(key, before, after))
    moved = not _same_geometry(new.geometry, stored.geometry)
    site = Site(stored.id, layer.id, new.name, new.geometry if moved else stored.geometry, status, new.county,
                stored.ref, attributes, version=stored.version)
    return site, changes, moved


def _plan(layer: LayerDef, path: Path, result: ReadResult, prepared: Prepared, uow: UnitOfWork) -> ImportPlan:
    plan = ImportPlan(layer.id, path.name, result.format, result.source_crs, notes=list(result.notes))
    refs: dict[str, list[int]] = defaultdict(list)
    for candidate in result.features:
        if (ref := _text(candidate.properties, "ref")) is not None:
            refs[ref].append(candidate.index)
    rejections = list(prepared.rejections)
    for ref, indexes in refs.items():
        if len(indexes) > 1:
            listed = ", ".join(map(str, indexes))
            duplicate = msg("duplicate_ref",
                            "ref {ref} appears more than once in the file (features {features})",
                            field="ref", ref=repr(ref), features=listed)
            rejections += [Rejection(i, duplicate) for i in indexes]
    plan.rejections = _merge_rejections(rejections)
    rejected = {r.index for r in plan.rejections}
    wanted = {ref for ref, indexes in refs.items() if len(indexes) == 1}
    # The whole layer is streamed rather than looked up by ref: a large file's refs would
    # exceed the database's limit on query parameters.
    stored = {s.ref: s for s in uow.sites.find(layer_id=layer.id) if s.ref in wanted}
    columns = {key for candidate in result.features for key in candidate.properties}
    for index, site, given in zip(prepared.indexes, prepared.sites, prepared.status_given, strict=True):
        if index in rejected:
            continue
        old = stored.get(site.ref) if site.ref is not None else None
        if old is None:
            plan.additions.append(Addition(index, site))
            continue
        new, changes, moved = _updated(layer, old, site, given, columns)
        if changes or moved:
            plan.updates.append(Update(index, new, tuple(changes), moved))
        else:
            plan.unchanged.append(Unchanged(index, old.id, old.ref, old.name))
    return plan


def preview_import(layer: LayerDef, path: Path, crs: str | None, uow: UnitOfWork, *,
                   user: User) -> ImportPlan:
    """What importing ``path`` into ``layer`` would add, update, leave unchanged and reject; writes nothing.
    A manager's work, as the import is.

    Raises UnreadableFile when the file cannot be read at all (empty, wrong type, a zip
    without a Shapefile, a CSV without coordinates) and InvalidInput for an unknown CRS.
    """
    require_role(user, "manager", action=IMPORT_SITES)
    path = Path(path)
    result = _read(layer, path, crs)
    prepared = _prepare(layer, result, counties_of(uow))
    return _plan(layer, path, result, prepared, uow)


# ------------------------------------------------------------------ the import
@dataclass
class ImportResult:
    layer: str
    added: list[int]
    updated: list[int]
    unchanged: list[int]
    rejections: list[Rejection]

    @property
    def stored(self) -> list[int]:
        """Ids of the sites written: added, then updated."""
        return self.added + self.updated


def import_sites(
    layer: LayerDef,
    path: Path,
    *,
    crs: str | None,
    skip_invalid: bool,
    uow: UnitOfWork,
    user: User,
    now: datetime,
    progress: Progress = None,
    expect: str | None = None,
    comment: str | None = None,
) -> ImportResult:
    """Add the file's new features as sites and update the matched ones that differ, in one commit.

    With rejections and no ``skip_invalid`` nothing is written and InvalidInput lists
    each rejected feature; with ``skip_invalid`` the others are imported. ``expect`` is
    the digest of a preview: when the import would now do anything else, PlanChanged
    carries the new preview and nothing is written. ``comment`` (why) is stored on every
    version the import records. A manager's work: ``user`` is checked, and recorded as the actor.
    """
    require_role(user, "manager", action=IMPORT_SITES)
    actor = user.username
    comment = clean_comment(comment)
    path = Path(path)
    result = _read(layer, path, crs)  # the slow part, before the write lock
    prepared = _prepare(layer, result, counties_of(uow))
    uow.begin_write()  # matching and writing see the same stored sites
    plan = _plan(layer, path, result, prepared, uow)
    if expect is not None and plan.digest != expect:
        raise PlanChanged(plan)
    if plan.rejections and not skip_invalid:
        raise InvalidInput(msg("features_rejected", "{file}: {n} feature(s) rejected, nothing imported",
                               file=path.name, n=len(plan.rejections)), field="file", details=plan.rejections)
    added, updated = [], []
    for addition in plan.additions:
        added.append(uow.sites.add(addition.site, now, actor=actor, action="import", comment=comment,
                                   detail={"file": path.name}))
        if progress:
            progress(len(added), plan.changes)
    for update in plan.updates:
        uow.sites.update(update.site, now, actor=actor, action="import", comment=comment,
                         detail={"file": path.name})
        updated.append(update.site.id)
        if progress:
            progress(len(added) + len(updated), plan.changes)
    uow.audit.record(actor, "sites.import", f"layer:{layer.id}",
                     {"file": path.name, "added": len(added), "updated": len(updated),
                      "unchanged": len(plan.unchanged), "rejected": len(plan.rejections)}, now)
    uow.commit()
    return ImportResult(layer.id, added, updated, [u.site_id for u in plan.unchanged], plan.rejections)
