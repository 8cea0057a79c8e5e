"""Planning on the map: draw, reshape, split, merge, delete and restore sites.

Every change is a new version of the site (``SiteRepo`` records it in the same
transaction), with who, when and an optional comment. Edits name the version they
were based on: when another edit came first, StaleVersion (409) carries the current
version and what changed since, and nothing is written. A drawn or reshaped geometry
is checked before anything is stored: well formed, of the layer's type, valid (the
place of a self-intersection is named), inside its county where the layer says so,
and not overlapping a sibling where the layer forbids it (imports do not apply these
placement rules). Attribute values get an import's checks (geo.attributes), but an
attribute the layer does not declare is refused here, where an import ignores it.

Planning is a manager's work: each use case takes the user who acts and checks their
role itself (geo.access.require_role). A change answers with what it wrote, built in
its own transaction before the commit (``Planned``): nothing is read again afterwards.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

import shapely
from pyproj import Geod
from shapely.geometry import shape
from shapely.ops import split as split_geometry

from geo import queries
from geo.access import require_role
from geo.attributes import check_attributes, clean_comment
from geo.counties import counties_of
from geo.geometry import base_type, either, round_coords
from geo.messages import Message, msg
from geo.model import InvalidInput, LayerDef, NotFound, Site, StaleVersion, User
from geo.status import status_of
from geo.storage.base import UnitOfWork

_GEOD = Geod(ellps="WGS84")
MAX_VERTICES = 100_000  # a drawn site with more is a mistake, not a village
MIN_OVERLAP_M2 = 1.0  # shared edges drawn with snapping differ by far less; an overlap is more
FIELDS = ("name", "status", "county", "ref")
PLAN_SITES = msg("action_plan_sites", "changing sites")
# What GEOS says is wrong with an invalid geometry (lower case, without its place), for the translations.
GEOS_PROBLEMS = {
    "self-intersection": msg("geos_self_intersection", "self-intersection"),
    "ring self-intersection": msg("geos_ring_self_intersection", "ring self-intersection"),
    "too few points": msg("geos_too_few_points", "too few points"),
    "hole lies outside shell": msg("geos_hole_outside_shell", "hole lies outside shell"),
    "nested holes": msg("geos_nested_holes", "nested holes"),
    "nested shells": msg("geos_nested_shells", "nested shells"),
    "interior is disconnected": msg("geos_interior_disconnected", "interior is disconnected"),
    "duplicate rings": msg("geos_duplicate_rings", "duplicate rings"),
    "invalid coordinate": msg("geos_invalid_coordinate", "invalid coordinate"),
    "ring is not closed": msg("geos_ring_not_closed", "ring is not closed"),
}


# ------------------------------------------------------------------ checks
def parse_geometry(layer: LayerDef, value: Any) -> Any:
    """A GeoJSON geometry object → shapely, or InvalidInput naming what is wrong with it."""
    if not isinstance(value, dict) or not isinstance(value.get("type"), str):
        raise InvalidInput(msg("geometry_required",
                               "geometry: a GeoJSON geometry object with a type and coordinates is required"),
                           field="geometry")
    _check_numbers(value.get("coordinates"))
    _check_rings(value)
    try:
        geometry = shape(value)
    except Exception as exc:  # shapely raises several kinds for malformed coordinates
        raise InvalidInput(msg("geometry_malformed", "geometry: not a well-formed GeoJSON {kind} ({detail})",
                               kind=value["type"], detail=str(exc)), field="geometry") from None
    if geometry.is_empty:
        raise InvalidInput(msg("geometry_empty", "geometry: is empty"), field="geometry")
    if shapely.get_num_coordinates(geometry) > MAX_VERTICES:
        raise InvalidInput(_too_many_vertices(), field="geometry")
    if shapely.has_z(geometry):
        geometry = shapely.force_2d(geometry)
    coords = shapely.get_coordinates(geometry)
    bad = next(((x, y) for x, y in coords.tolist() if not (-180 <= x <= 180 and -90 <= y <= 90)), None)
    if bad is not None:
        raise InvalidInput(
            msg("geometry_not_lonlat",
                "geometry: {x}, {y} is not a longitude, latitude in degrees (WGS84, longitude first)",
                x=bad[0], y=bad[1]),
            field="geometry",
            details=[_at(*bad)],
        )
    kind = base_type(geometry)
    if kind not in layer.geometry_type:
        raise InvalidInput(
            msg("geometry_wrong_layer_type", "geometry: a {kind}; {layer} takes {allowed}",
                kind=geometry.geom_type, layer=layer.name, allowed=either(layer.geometry_type)),
            field="geometry",
        )
    geometry = round_coords(geometry, 6)
    if not geometry.is_valid:
        reason = shapely.is_valid_reason(geometry)
        where = re.search(r"\[([-\d.eE+]+)\s+([-\d.eE+]+)\]", reason)
        problem = reason.split("[")[0].strip().lower()
        problem = GEOS_PROBLEMS.get(problem, problem)
        if where:
            text = msg("geometry_invalid_at", "geometry: {problem} at {lon}, {lat}; redraw that part",
                       problem=problem, lon=_degrees(float(where[1])), lat=_degrees(float(where[2])))
        else:
            text = msg("geometry_invalid", "geometry: {problem}; redraw that part", problem=problem)
        raise InvalidInput(
            text,
            field="geometry",
            details=[_at(float(where[1]), float(where[2]))] if where else [],
        )
    return geometry


def _too_many_vertices() -> Message:
    return msg("geometry_too_many_vertices", "geometry: more than {limit} vertices",
               limit=format(MAX_VERTICES, ","))


def _degrees(value: float) -> str:
    return format(value, ".6f")


def _check_numbers(coordinates: Any) -> None:
    """Every coordinate a finite number (JSON may carry NaN, Infinity, strings, booleans), without
    recursion: a deeply nested array must not exhaust the stack."""
    stack, count = [coordinates], 0
    while stack:
        item = stack.pop()
        if isinstance(item, list | tuple):
            stack.extend(item)
            count += 1
            if count > 4 * MAX_VERTICES:
                raise InvalidInput(_too_many_vertices(), field="geometry")
        elif isinstance(item, bool) or not isinstance(item, int | float) or not math.isfinite(item):
            raise InvalidInput(msg("geometry_not_finite",
                                   "geometry: coordinates must be finite numbers, not {value}",
                                   value=repr(item)[:40]), field="geometry")


def _check_rings(value: dict[str, Any]) -> None:
    """RFC 7946 §3.1.6: a polygon's rings are closed (shapely would close them silently)."""
    kind, coordinates = value.get("type"), value.get("coordinates")
    polygons = [coordinates] if kind == "Polygon" else coordinates if kind == "MultiPolygon" else []
    for polygon in polygons if isinstance(polygons, list) else []:
        for n, ring in enumerate(polygon if isinstance(polygon, list) else []):
            if isinstance(ring, list) and len(ring) >= 2 and ring[0] != ring[-1]:
                raise InvalidInput(msg("geometry_ring_not_closed", "geometry: ring {ring} is not closed: its "
                                       "last position must repeat its first", ring=n + 1), field="geometry")


def _at(lon: float, lat: float) -> dict[str, Any]:
    return {"lon": lon, "lat": lat}


def _area_m2(geometry) -> float:
    return abs(_GEOD.geometry_area_perimeter(geometry)[0])


def _hectares(geometry) -> Message:
    return msg("area_hectares", "{value} ha", value=format(_area_m2(geometry) / 10_000, ".2f"))


def check_placement(
    layer: LayerDef, geometry, county: str | None, *, uow: UnitOfWork, ignore: set[int] = frozenset()
) -> None:
    """The layer's rules for where a site may lie: inside its county, not over a sibling (not ``ignore``)."""
    if layer.within == "county":
        found = counties_of(uow).get(county)
        if found is None:
            raise InvalidInput(
                msg("placement_no_county",
                    "geometry: lies in no county of this city; sites of this layer must lie inside one"),
                field="geometry",
                details=[_at(*geometry.representative_point().coords[0])],
            )
        outside = geometry.difference(found["geometry"])
        if not outside.is_empty and (base_type(geometry) != "Polygon" or _area_m2(outside) > MIN_OVERLAP_M2):
            point = outside.representative_point()
            where = {"county_name": {"zh_CN": found["name"], "en": found.get("name_en") or found["name"]},
                     "county": county, "lon": _degrees(point.x), "lat": _degrees(point.y)}
            if base_type(geometry) == "Polygon":
                text = msg("placement_outside_county_by", "geometry: part of it ({area}) lies outside "
                           "{county_name} (county {county}), near {lon}, {lat}", area=_hectares(outside),
                           **where)
            else:
                text = msg("placement_outside_county", "geometry: part of it lies outside {county_name} "
                           "(county {county}), near {lon}, {lat}", **where)
            raise InvalidInput(text, field="geometry", details=[_at(point.x, point.y)])
    if not layer.overlaps and base_type(geometry) == "Polygon":
        for other in uow.sites.find(layer_id=layer.id, bbox=geometry.bounds):
            if other.id in ignore:
                continue
            shared = geometry.intersection(other.geometry)
            if not shared.is_empty and _area_m2(shared) > MIN_OVERLAP_M2:
                point = shared.representative_point()
                raise InvalidInput(
                    msg("placement_overlap", "geometry: overlaps {neighbour} (site {site}) by {area}, near "
                        "{lon}, {lat}; zones of this layer may not overlap", neighbour=other.name,
                        site=other.id, area=_hectares(shared), lon=_degrees(point.x), lat=_degrees(point.y)),
                    field="geometry",
                    details=[_at(point.x, point.y) | {"site": other.id}],
                )


def _county_of(geometry, uow: UnitOfWork) -> str | None:
    return counties_of(uow).code_for(geometry)


def _only(data: dict[str, Any], allowed: tuple[str, ...]) -> None:
    unknown = sorted(set(data) - set(allowed))
    if unknown:
        raise InvalidInput(msg("field_unknown", "{field}: not a field here (use {allowed})", field=unknown[0],
                               allowed=", ".join(allowed)), field=unknown[0])


def _attributes(layer: LayerDef, given: Any, stored: dict[str, Any] | None = None) -> dict[str, Any]:
    """``given`` merged over ``stored`` (None clears one), checked as an import checks them. Keys the
    layer does not declare are refused when given; stored ones (an attribute since dropped from the
    definition) are kept as they are."""
    if not isinstance(given, dict):
        raise InvalidInput(msg("attributes_required",
                               "attributes: an object of attribute values is required"), field="attributes")
    unknown = sorted(k for k in given if layer.attribute(k) is None)
    if unknown:
        raise InvalidInput(msg("attributes_unknown", "attributes: {names} not in the layer's schema",
                               names=", ".join(unknown)), field="attributes")
    stored = stored or {}
    merged = {k: v for k, v in {**stored, **given}.items() if v is not None}
    clean, problems = check_attributes(layer, merged)
    if problems:
        # details: one {"field": "attributes.<name>", "message"} per problem, for the form to show beside it
        raise InvalidInput(msg("attributes_invalid", "attributes: {problems}", problems=_joined(problems)),
                           field="attributes",
                           details=[{"field": f"attributes.{p.values['attribute']}", "message": p}
                                    for p in problems])
    return clean | {k: v for k, v in stored.items() if layer.attribute(k) is None}


def _joined(problems: list[Message]) -> Message:
    """Several problems as one text, "a; b; c" (in Chinese with its own semicolon)."""
    if len(problems) == 1:
        return problems[0]
    return msg("problems_joined", "{first}; {rest}", first=problems[0], rest=_joined(problems[1:]))


def _name(value: Any) -> str:
    name = value.strip() if isinstance(value, str) else ""
    if not name or len(name) > 300:
        raise InvalidInput(msg("site_name_length", "name: 1–300 characters required"), field="name")
    return name


def _status(layer: LayerDef, value: Any) -> str:
    if layer.status_mode == "cadence":
        raise InvalidInput(
            msg("status_derived", "status: {layer} derives its status from inspections; it cannot be set",
                layer=layer.name),
            field="status",
        )
    if not isinstance(value, str) or layer.status(value) is None:
        allowed = ", ".join(s.code for s in layer.statuses)
        raise InvalidInput(msg("status_unknown", "status: {value} is not one of {allowed}", value=repr(value),
                               allowed=allowed), field="status")
    return value


def _base_version(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise InvalidInput(
            msg("base_version_required",
                "base_version: the version number the change is based on is required"),
            field="base_version",
        )
    return value


# ------------------------------------------------------------------ answers
@dataclass(frozen=True)
class Planned:
    """What a planning change answers with: the site as written, and its GeoJSON Feature as
    ``GET /api/v1/sites/<id>`` shows it (its status at the change's ``now``, its latest report)."""

    site: Site
    feature: dict[str, Any]


def _answer(site: Site, layer: LayerDef, uow: UnitOfWork, now: datetime, *, new: bool = False) -> Planned:
    """``site`` (as written) with its Feature, from the change's own transaction: the site's reports are
    read there (a new site has none); the site itself is not read again."""
    reports = [] if new else uow.reports.find(site_ids=[site.id])
    latest = next((r for r in reports if r["status"] != "rejected"), None)
    detail = {"site": site, "layer": layer, "status": status_of(layer, site, now), "latest": latest}
    return Planned(site, queries.site_feature(detail))


def _written(site: Site, version: int, now: datetime) -> Site:
    """A stored site as an UPDATE just wrote it: its geometry at the stored precision, live again."""
    return replace(site, geometry=round_coords(site.geometry, 6), version=version, updated_at=now,
                   deleted_at=None)


# ------------------------------------------------------------------ use cases
def create_site(layer: LayerDef, data: dict[str, Any], *, uow: UnitOfWork, user: User,
                now: datetime) -> Planned:
    """A new site drawn on the map (or posted): name, geometry, attributes, a stage layer's status."""
    require_role(user, "manager", action=PLAN_SITES)
    _only(data, ("name", "geometry", "attributes", "status", "comment"))
    geometry = parse_geometry(layer, data.get("geometry"))
    name = _name(data.get("name"))
    attributes = _attributes(layer, data.get("attributes") or {})
    status = _status(layer, data["status"]) if data.get("status") is not None else layer.initial_status
    comment = clean_comment(data.get("comment"))
    uow.begin_write()  # the overlap check and the insert see the same siblings
    county = _county_of(geometry, uow)
    check_placement(layer, geometry, county, uow=uow)
    site = Site(None, layer.id, name, geometry, status, county, None, attributes, created_at=now,
                updated_at=now)
    site.id = uow.sites.add(site, now, actor=user.username, action="create", comment=comment)
    uow.audit.record(user.username, "site.create", f"site:{site.id}", {"layer": layer.id, "name": name}, now)
    answer = _answer(site, layer, uow, now, new=True)
    uow.commit()
    return answer


def edit_site(
    site_id: int,
    data: dict[str, Any],
    *,
    layers: dict[str, LayerDef],
    uow: UnitOfWork,
    user: User,
    now: datetime,
) -> Planned:
    """Change a site's geometry, name, attributes (merged over the stored ones; null clears one) or a
    stage layer's status, based on ``data["base_version"]``."""
    require_role(user, "manager", action=PLAN_SITES)
    _only(data, ("base_version", "geometry", "name", "attributes", "status", "comment"))
    site, base, comment = _start(site_id, data, uow)
    layer = layers[site.layer_id]
    geometry, county = site.geometry, site.county
    if "geometry" in data:
        geometry = parse_geometry(layer, data["geometry"])
        county = _county_of(geometry, uow)
        check_placement(layer, geometry, county, uow=uow, ignore={site.id})
    name = _name(data["name"]) if "name" in data else site.name
    attributes = (
        _attributes(layer, data["attributes"], site.attributes) if "attributes" in data else site.attributes
    )
    status = _status(layer, data["status"]) if data.get("status") not in (None, site.status) else site.status
    changed = replace(site, name=name, geometry=geometry, status=status, county=county, attributes=attributes)
    if _same(site, changed):
        return _answer(site, layer, uow, now)  # nothing to change: no new version
    version = uow.sites.update(changed, now, actor=user.username, action="edit", comment=comment,
                               base_version=base)
    uow.audit.record(user.username, "site.edit", f"site:{site.id}", {"from_version": base}, now)
    answer = _answer(_written(changed, version, now), layer, uow, now)
    uow.commit()
    return answer


def _same(a: Site, b: Site) -> bool:
    return (a.name, a.status, a.county, a.attributes) == (
        b.name,
        b.status,
        b.county,
        b.attributes,
    ) and round_coords(a.geometry, 6).equals_exact(round_coords(b.geometry, 6), 0)


def _start(site_id: int, data: dict[str, Any], uow: UnitOfWork, *, deleted: bool = False,
           base_optional: bool = False) -> tuple[Site, int, str | None]:
    """What every change of a stored site begins with: its base version and comment read, the write
    lock taken, the site read, and StaleVersion unless the base is current. With ``base_optional`` and no
    base given, the current version is the base (read under the lock, so it is the one changed)."""
    given = data.get("base_version")
    base = None if base_optional and given is None else _base_version(given)
    comment = clean_comment(data.get("comment"))
    uow.begin_write()
    site = uow.sites.get(site_id, deleted=deleted)
    if base is None:
        base = site.version
    _check_base(site, base, uow)
    return site, base, comment


def _check_base(site: Site, base: int, uow: UnitOfWork) -> None:
    """StaleVersion with the current version and what changed since ``base`` unless ``base`` is current."""
    if site.version == base:
        return
    if base > site.version:
        raise StaleVersion(
            msg("version_ahead", "site {site} is at version {version}; there is no version {base}",
                site=site.id, version=site.version, base=base),
            {"current_version": site.version, "changes": [], "versions": []},
        )
    history = uow.versions.history(site.id)
    newer = [v for v in history if v["version"] > base]
    old = next((v for v in history if v["version"] == base), None)
    current = history[-1]
    changes = (
        version_changes(old, current, geometry_changed=_geometry_changed(site.id, base, uow)) if old else []
    )
    who = ", ".join(sorted({v["actor"] or "system" for v in newer}))
    raise StaleVersion(
        msg("version_stale", "site {site} was changed by {who} since version {base} (now version {version}); "
            "nothing was saved: look at the changes and edit the current version",
            site=site.id, who=who, base=base, version=site.version),
        {"current_version": site.version, "changes": changes, "versions": [_json_version(v) for v in newer]},
    )


def _geometry_changed(site_id: int, base: int, uow: UnitOfWork) -> bool:
    current = uow.sites.get(site_id, deleted=True)
    try:
        old = uow.versions.get(site_id, base)
    except NotFound:
        return True
    return not old["geometry"].equals_exact(current.geometry, 0)


def version_changes(before: dict[str, Any], after: dict[str, Any], *, geometry_changed: bool) -> list[dict]:
    """[{"field", "before", "after"}] between two versions (geometry: changed or not)."""
    out = [{"field": f, "before": before[f], "after": after[f]} for f in FIELDS if before[f] != after[f]]
    keys = sorted(set(before["attributes"]) | set(after["attributes"]))
    out += [
        {
            "field": f"attributes.{k}",
            "before": before["attributes"].get(k),
            "after": after["attributes"].get(k),
        }
        for k in keys
        if before["attributes"].get(k) != after["attributes"].get(k)
    ]
    if before["deleted"] != after["deleted"]:
        out.append({"field": "deleted", "before": before["deleted"], "after": after["deleted"]})
    if geometry_changed:
        out.append({"field": "geometry", "before": None, "after": None})
    return out


def past_version(site_id: int, version: int, *, uow: UnitOfWork, user: User) -> dict[str, Any]:
    """One recorded version of a site (deleted ones too) as ``SiteVersionRepo.get`` gives it, geometry
    included; NotFound as ``queries.visible_site`` when the user may not see the site."""
    queries.visible_site(site_id, uow=uow, user=user, deleted=True)
    return uow.versions.get(site_id, version)


def _json_version(v: dict[str, Any]) -> dict[str, Any]:
    return {**v, "at": v["at"].isoformat()}


def delete_site(site_id: int, data: dict[str, Any], *, uow: UnitOfWork, user: User, now: datetime) -> int:
    """Delete a site, keeping its row, reports and versions; returns the version recording it. Without
    ``base_version`` the current version is deleted (a deletion keeps everything, and a restore undoes it)."""
    require_role(user, "manager", action=PLAN_SITES)
    site, base, comment = _start(site_id, data, uow, base_optional=True)
    version = uow.sites.delete(site_id, now, actor=user.username, comment=comment, base_version=base)
    uow.audit.record(user.username, "site.delete", f"site:{site_id}", {"from_version": base}, now)
    uow.commit()
    return version


def restore_version(
    site_id: int,
    version: int,
    data: dict[str, Any],
    *,
    layers: dict[str, LayerDef],
    uow: UnitOfWork,
    user: User,
    now: datetime,
) -> Planned:
    """Make a past version current again, as a new version; a deleted site comes back with it."""
    require_role(user, "manager", action=PLAN_SITES)
    site, base, comment = _start(site_id, data, uow, deleted=True)
    old = uow.versions.get(site_id, version)
    if old["deleted"]:
        raise InvalidInput(
            msg("restore_deletion", "version: version {version} is the deletion of site {site}; restore one "
                "before it", version=version, site=site_id),
            field="version",
        )
    layer = layers[site.layer_id]
    if old["ref"] is not None and site.ref != old["ref"]:
        taken = uow.sites.ids_by_ref(layer.id).get(old["ref"])
        if taken is not None and taken != site_id:
            raise InvalidInput(
                msg("restore_key_taken", "version: its key {key} is now used by site {site}",
                    key=repr(old["ref"]), site=taken),
                field="version",
            )
    check_placement(layer, old["geometry"], old["county"], uow=uow, ignore={site_id})
    restored = replace(site, name=old["name"], geometry=old["geometry"], status=old["status"],
                       county=old["county"], ref=old["ref"], attributes=old["attributes"])
    written = uow.sites.update(
        restored,
        now,
        actor=user.username,
        action="restore",
        comment=comment,
        base_version=base,
        detail={"restored": version},
    )
    uow.audit.record(user.username, "site.restore", f"site:{site_id}", {"version": version}, now)
    answer = _answer(_written(restored, written, now), layer, uow, now)
    uow.commit()
    return answer


def split_site(
    site_id: int, data: dict[str, Any], *, uow: UnitOfWork, user: User, now: datetime
) -> list[Site]:
    """Cut a polygon site in two (or more) along a drawn line: the site keeps the largest part, each other
    part becomes a new site with the same name (numbered), attributes and status. Returns the sites as
    written, the cut one first."""
    require_role(user, "manager", action=PLAN_SITES)
    site, base, comment = _start(site_id, data, uow)
    if base_type(site.geometry) != "Polygon":
        raise InvalidInput(
            msg("split_not_an_area", "site {site} is a {kind}; only areas can be split", site=site_id,
                kind=site.geometry.geom_type),
            field="line",
        )
    line = data.get("line")
    if not isinstance(line, dict) or line.get("type") != "LineString":
        raise InvalidInput(msg("split_line_required", "line: a GeoJSON LineString drawn across the area is "
                               "required"), field="line")
    try:
        cutter = shape(line)
    except Exception:
        raise InvalidInput(msg("split_line_malformed", "line: not a well-formed GeoJSON LineString"),
                           field="line") from None
    parts = sorted(
        (round_coords(p, 6) for p in split_geometry(site.geometry, cutter).geoms), key=_area_m2, reverse=True
    )
    if len(parts) < 2:
        raise InvalidInput(msg("split_line_not_across", "line: it does not cross the area from one edge to "
                               "another"), field="line")
    first, rest = parts[0], parts[1:]
    cut = replace(site, geometry=first, county=_county_of(first, uow))
    version = uow.sites.update(
        cut,
        now,
        actor=user.username,
        action="split",
        comment=comment,
        base_version=base,
        detail={"parts": len(parts)},
    )
    written = [_written(cut, version, now)]
    for n, part in enumerate(rest, start=2):
        new = Site(None, site.layer_id, f"{site.name} ({n})", part, site.status, _county_of(part, uow), None,
                   site.attributes, created_at=now, updated_at=now)
        new.id = uow.sites.add(new, now, actor=user.username, action="split", comment=comment,
                               detail={"split_from": site.id})
        written.append(new)
    new_ids = [s.id for s in written[1:]]
    uow.audit.record(user.username, "site.split", f"site:{site.id}", {"into": new_ids, "from_version": base},
                     now)
    uow.commit()
    return written


def merge_sites(layer: LayerDef, data: dict[str, Any], *, uow: UnitOfWork, user: User,
                now: datetime) -> Planned:
    """Join areas of one layer into the first: it takes their union (which must be one polygon), the
    others are deleted, each pointing at the site it was merged into."""
    require_role(user, "manager", action=PLAN_SITES)
    sites_in = data.get("sites")
    if (
        not isinstance(sites_in, list)
        or len(sites_in) < 2
        or not all(isinstance(s, dict) and isinstance(s.get("id"), int) for s in sites_in)
    ):
        raise InvalidInput(msg("merge_sites_required",
                               'sites: at least two {{"id", "base_version"}} objects are required'),
                           field="sites")
    if len({s["id"] for s in sites_in}) != len(sites_in):
        raise InvalidInput(msg("merge_site_twice", "sites: a site is named twice"), field="sites")
    comment = clean_comment(data.get("comment"))
    uow.begin_write()
    sites = []
    for item in sites_in:
        site = uow.sites.get(item["id"])
        if site.layer_id != layer.id:
            raise InvalidInput(msg("merge_other_layer", "sites: site {site} is not in {layer}", site=site.id,
                                   layer=layer.name), field="sites")
        _check_base(site, _base_version(item.get("base_version")), uow)
        if base_type(site.geometry) != "Polygon":
            raise InvalidInput(
                msg("merge_not_an_area", "sites: site {site} is not an area; only areas can be merged",
                    site=site.id),
                field="sites",
            )
        sites.append(site)
    union = round_coords(shapely.union_all([s.geometry for s in sites]), 6)
    if union.geom_type != "Polygon":
        raise InvalidInput(
            msg("merge_not_touching", "sites: these areas do not touch, so together they are not one area"),
            field="sites",
        )
    keep, others = sites[0], sites[1:]
    ids = {s.id for s in sites}
    county = _county_of(union, uow)
    check_placement(layer, union, county, uow=uow, ignore=ids)
    merged = replace(keep, geometry=union, county=county)
    version = uow.sites.update(
        merged,
        now,
        actor=user.username,
        action="merge",
        comment=comment,
        base_version=keep.version,
        detail={"merged": [s.id for s in others]},
    )
    for other in others:
        uow.sites.delete(
            other.id,
            now,
            actor=user.username,
            comment=comment,
            base_version=other.version,
            detail={"merged_into": keep.id},
        )
    uow.audit.record(user.username, "site.merge", f"site:{keep.id}", {"merged": [s.id for s in others]}, now)
    answer = _answer(_written(merged, version, now), layer, uow, now)
    uow.commit()
    return answer
