"""Repositories: the queries of each kind of record, written once with SQLAlchemy Core.

Each is bound to the connection of one unit of work. The spatial parts come from
the store (``layer_bbox_clause``, ``exact_filter``, ``exact_mask``), so backends override only those.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Iterator, Mapping
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import shapely
import sqlalchemy as sa
from shapely.geometry import Point

from geo.geometry import display_forms, round_coords
from geo.messages import msg
from geo.model import AuditEntry, LayerDef, NotFound, Site, StaleVersion, User
from geo.storage import schema as t
from geo.storage.views.filters import LIVE, SiteFilter, where

if TYPE_CHECKING:
    from geo.storage.sql import SqlStore


class _Repo:
    def __init__(self, connection: sa.Connection):
        self.c = connection

    def _count(self, table: sa.Table, *where) -> int:
        return self.c.execute(sa.select(sa.func.count()).select_from(table).where(*where)).scalar_one()


class LayerRepo(_Repo):
    def save(self, layer: LayerDef, now: datetime) -> None:
        definition = dataclasses.asdict(layer)
        if self.c.execute(sa.select(t.layers.c.id).where(t.layers.c.id == layer.id)).first():
            self.c.execute(
                t.layers.update()
                .where(t.layers.c.id == layer.id)
                .values(definition=definition, updated_at=now)
            )
        else:
            self.c.execute(t.layers.insert().values(id=layer.id, definition=definition, updated_at=now))

    def ids(self) -> list[str]:
        return list(self.c.execute(sa.select(t.layers.c.id).order_by(t.layers.c.id)).scalars())


class CountyRepo(_Repo):
    stored = False  # True once this unit of work stored a county (geo.counties: not the store's until commit)

    def save(self, code: str, name: str, name_en: str | None, geometry) -> bool:
        """Store a county boundary unless it is already there; True when stored."""
        if self.c.execute(sa.select(t.counties.c.code).where(t.counties.c.code == code)).first():
            return False
        self.c.execute(
            t.counties.insert().values(code=code, name=name, name_en=name_en, geom=shapely.to_wkb(geometry))
        )
        self.stored = True
        return True

    def all(self) -> list[dict[str, Any]]:
        rows = self.c.execute(sa.select(t.counties).order_by(t.counties.c.code))
        return [
            {"code": r.code, "name": r.name, "name_en": r.name_en, "geometry": shapely.from_wkb(r.geom)}
            for r in rows
        ]

    def names(self) -> dict[str, tuple[str, str | None]]:
        """{code: (name, English name)} without the boundaries."""
        c = t.counties.c
        return {code: (name, en) for code, name, en in self.c.execute(
            sa.select(c.code, c.name, c.name_en).order_by(c.code))}

    def count(self) -> int:
        return self._count(t.counties)


def _site(row) -> Site:
    return Site(
        id=row.id,
        layer_id=row.layer_id,
        ref=row.ref,
        name=row.name,
        county=row.county,
        status=row.status,
        geometry=shapely.from_wkb(row.geom),
        attributes=row.attributes,
        version=row.version,
        created_at=row.created_at,
        updated_at=row.updated_at,
        last_report_id=row.last_report_id,
        last_inspected_at=row.last_inspected_at,
        last_result=row.last_result,
        deleted_at=row.deleted_at,
    )


# A Site's columns: not the display forms, GeoJSON text only the map's view query reads.
_SITE_COLUMNS = [c for c in t.sites.c if not c.name.startswith("display_")]
_VERSIONED = ["layer_id", "ref", "name", "county", "status", "geom", "minx", "miny", "maxx", "maxy",
              "attributes"]
def _record_version() -> sa.Insert:
    """INSERT … SELECT of a site's row into site_versions, built once (building it per write cost as
    much as running it)."""
    s, v = t.sites.c, t.site_versions.c
    copied = [s[name] for name in _VERSIONED]
    copied[_VERSIONED.index("ref")] = sa.func.coalesce(sa.bindparam("version_ref", type_=v.ref.type), s.ref)
    columns = ["site_id", "version", *_VERSIONED, "deleted", "action", "actor", "at", "comment", "detail"]
    return t.site_versions.insert().from_select(columns, sa.select(
        s.id, s.version, *copied, s.deleted_at.is_not(None), sa.bindparam("action", type_=v.action.type),
        sa.bindparam("actor", type_=v.actor.type), sa.bindparam("at", type_=v.at.type),
        sa.bindparam("comment", type_=v.comment.type), sa.bindparam("detail", type_=v.detail.type),
    ).where(s.id == sa.bindparam("site_id")))


_RECORD_VERSION = _record_version()
_SITE_BY_ID = sa.select(*_SITE_COLUMNS).where(t.sites.c.id == sa.bindparam("site_id"))


class SiteRepo(_Repo):
    def __init__(self, connection: sa.Connection, store: SqlStore):
        super().__init__(connection)
        self.store = store

    def _values(self, site: Site) -> dict[str, Any]:
        # Stored at 6 decimals (about 0.1 m), as every output is: no rounding on each read.
        geometry = round_coords(site.geometry, 6)
        minx, miny, maxx, maxy = geometry.bounds
        return dict(
            layer_id=site.layer_id,
            ref=site.ref,
            name=site.name,
            county=site.county,
            status=site.status,
            geom=shapely.to_wkb(geometry),
            minx=minx,
            miny=miny,
            maxx=maxx,
            maxy=maxy,
            attributes=site.attributes,
            **{f"display_z{level}": text for level, text in display_forms(geometry).items()},
        )

    # Every write of a site records the version it makes (SiteVersionRepo), in the same
    # transaction: no path can change a site without leaving its history.
    def add(self, site: Site, now: datetime, *, actor: str | None, action: str = "create",
            comment: str | None = None, detail: dict | None = None) -> int:
        values = self._values(site) | {"version": 1, "created_at": now, "updated_at": now}
        site_id = self.c.execute(t.sites.insert().values(**values)).inserted_primary_key[0]
        self._record(site_id, action, actor, now, comment, detail)
        return site_id

    def update(self, site: Site, now: datetime, *, actor: str | None, action: str = "edit",
               comment: str | None = None, detail: dict | None = None,
               base_version: int | None = None) -> int:
        """Rewrite a stored site's ref, name, county, status, attributes and geometry; returns its version.

        The bbox columns and display forms are derived again from the geometry; the
        R*Tree follows the bbox columns by trigger. A deleted site written again is
        live again (a restore). With ``base_version``, the write happens only if that is
        still the stored version (StaleVersion otherwise), decided by the UPDATE itself.
        """
        values = self._values(site)
        del values["layer_id"]  # a site never moves to another layer
        return self._write(site.id, base_version, now, actor, action, comment, detail, **values,
                           deleted_at=None)

    def _write(self, site_id: int, base_version: int | None, now: datetime, actor: str | None, action: str,
               comment: str | None, detail: dict | None, version_ref=None, **values) -> int:
        """UPDATE the site's ``values`` (version + 1) and record the version; ``version_ref`` is the
        ref the version keeps when the row's is released (a deletion)."""
        s = t.sites.c
        where = [s.id == site_id] + ([s.version == base_version] if base_version is not None else [])
        version = self.c.execute(t.sites.update().where(*where).values(
            **values, version=s.version + 1, updated_at=now).returning(s.version)).scalar()
        if version is None:
            current = self.c.execute(sa.select(s.version).where(s.id == site_id)).scalar()
            if current is None:
                raise NotFound(msg("site_not_found", "site {site_id} does not exist", site_id=site_id))
            raise StaleVersion(msg("stale_version", "site {site_id} is at version {current}; this change was "
                                   "based on version {base}", site_id=site_id, current=current,
                                   base=base_version), {"current_version": current})
        self._record(site_id, action, actor, now, comment, detail, ref=version_ref)
        return version

    def delete(self, site_id: int, now: datetime, *, actor: str | None, comment: str | None = None,
               detail: dict | None = None, base_version: int | None = None) -> int:
        """Mark a site deleted (its row, reports and versions stay); returns the version that records it.

        Its ``ref`` is released, so a later import of that key makes a new site; the version
        keeps it, and a restore takes it back.
        """
        s = t.sites.c
        row = self.c.execute(sa.select(s.ref, s.deleted_at).where(s.id == site_id)).first()
        if row is None:
            raise NotFound(msg("site_not_found", "site {site_id} does not exist", site_id=site_id))
        if row.deleted_at is not None:
            raise NotFound(msg("site_deleted_already", "site {site_id} is deleted already", site_id=site_id))
        ref = row.ref
        return self._write(site_id, base_version, now, actor, "delete", comment, detail, deleted_at=now,
                           ref=None, version_ref=ref)

    def _record(self, site_id: int, action: str, actor: str | None, now: datetime, comment: str | None,
                detail: dict | None, ref=None) -> None:
        """Copy the site's row, as just written, into ``site_versions`` (``ref``: the key it keeps when the
        row's was released)."""
        self.c.execute(_RECORD_VERSION, {"site_id": site_id, "action": action, "actor": actor, "at": now,
                                         "comment": comment, "detail": detail, "version_ref": ref})

    def distance_m(self, site: Site, lon: float, lat: float) -> float:
        """Metres from a GPS fix to the site (PostGIS: in SQL, on the spheroid).

        A fix inside the site, as most are, is 0 m without projecting anything or asking the database.
        """
        if site.geometry.intersects(Point(lon, lat)):
            return 0.0
        return self.store.distance_m(self.c, site, lon, lat)

    def in_cells(self, ids: Iterable[int], cell_layer: str) -> set[int]:
        """Sites inside the grid cells among ``ids`` (PostGIS: one ST_Contains join)."""
        return self.store.sites_in_cells(self.c, ids, cell_layer)

    def ids_by_ref(self, layer_id: str) -> dict[str, int]:
        s = t.sites.c
        rows = self.c.execute(sa.select(s.ref, s.id).where(s.layer_id == layer_id, s.ref.is_not(None), LIVE))
        return {ref: site_id for ref, site_id in rows}

    def get(self, site_id: int, *, deleted: bool = False) -> Site:
        """The site; a deleted one only with ``deleted`` (its page and history), else NotFound."""
        row = self.c.execute(_SITE_BY_ID, {"site_id": site_id}).first()
        if row is None:
            raise NotFound(msg("site_not_found", "site {site_id} does not exist", site_id=site_id))
        if row.deleted_at is not None and not deleted:
            raise NotFound(msg("site_deleted", "site {site_id} was deleted on {date}", site_id=site_id,
                               date=row.deleted_at.date().isoformat()))
        return _site(row)

    def find(
        self,
        *,
        layer_id: str | None = None,
        bbox: tuple[float, float, float, float] | None = None,
        status: Iterable[str] | None = None,
        county: str | None = None,
        q: str | None = None,
        ids: Iterable[int] | None = None,
        limit: int | None = None,
    ) -> Iterator[Site]:
        """Sites matching every filter given, in id order, streamed from the database."""
        f = SiteFilter.of(layer_id=layer_id, bbox=bbox, status=status, county=county, q=q, ids=ids)
        query = sa.select(*_SITE_COLUMNS).where(*where(f, self.store)).order_by(t.sites.c.id)
        if limit is not None and bbox is None:
            query = query.limit(limit)
        sites = self._streamed(query)
        if bbox is not None:
            sites = self.store.exact_filter(sites, bbox)
            if limit is not None:
                sites = (site for _, site in zip(range(limit), sites, strict=False))
        return sites

    def _streamed(self, query) -> Iterator[Site]:
        # The result is closed with the generator, so a caller that stops early (next(find(…)))
        # leaves no server-side cursor open on PostgreSQL.
        with self.c.execute(query.execution_options(yield_per=1000)) as rows:
            for row in rows:
                yield _site(row)

    def counts(self) -> dict[tuple[str, str], int]:
        """{(layer_id, status): number of sites}."""
        s = t.sites.c
        rows = self.c.execute(sa.select(s.layer_id, s.status, sa.func.count()).where(LIVE)
                              .group_by(s.layer_id, s.status))
        return {(layer, status): n for layer, status, n in rows}

    def count(self, layer_id: str | None = None) -> int:
        return self._count(t.sites, LIVE, *([t.sites.c.layer_id == layer_id] if layer_id else []))

    def set_status(self, site_id: int, status: str, now: datetime, *, actor: str | None,
                   comment: str | None = None, detail: dict | None = None) -> int:
        """A stage layer's status set on review: a version like any other change."""
        return self._write(site_id, None, now, actor, "status", comment, detail, status=status)

class SiteVersionRepo(_Repo):
    """The recorded versions of sites (written by SiteRepo with each change, read here)."""

    SUMMARY = ("version", "action", "actor", "at", "comment", "detail", "deleted", "name", "ref", "county",
               "status", "attributes")

    def history(self, site_id: int) -> list[dict[str, Any]]:
        """Every version of a site, oldest first, without geometries."""
        v = t.site_versions.c
        rows = self.c.execute(sa.select(*(v[c] for c in self.SUMMARY)).where(v.site_id == site_id)
                              .order_by(v.version))
        return [dict(row._mapping) for row in rows]

    def refs(self, layer_id: str) -> set[str]:
        """Every key a site of the layer ever had, deleted sites' included."""
        v = t.site_versions.c
        return set(self.c.execute(sa.select(v.ref).distinct().where(v.layer_id == layer_id,
                                                                   v.ref.is_not(None))).scalars())

    def get(self, site_id: int, version: int) -> dict[str, Any]:
        """One version with its geometry (shapely)."""
        v = t.site_versions.c
        row = self.c.execute(
            sa.select(t.site_versions).where(v.site_id == site_id, v.version == version)).first()
        if row is None:
            raise NotFound(msg("no_version", "site {site_id} has no version {version}", site_id=site_id,
                               version=version))
        out = dict(row._mapping)
        out["geometry"] = shapely.from_wkb(out.pop("geom"))
        return out

def _user(row) -> User:
    return User(id=row.id, username=row.username, role=row.role, display_name=row.display_name,
                active=row.active)


class UserRepo(_Repo):
    def add(self, username: str, password_hash: str, role: str, now: datetime,
            display_name: str | None = None) -> User:
        result = self.c.execute(
            t.users.insert().values(username=username, password_hash=password_hash, role=role,
                                    display_name=display_name, active=True, created_at=now)
        )
        return self.get(result.inserted_primary_key[0])

    def get(self, user_id: int) -> User:
        row = self.c.execute(sa.select(t.users).where(t.users.c.id == user_id)).first()
        if row is None:
            raise NotFound(msg("user_not_found", "user {user_id} does not exist", user_id=user_id))
        return _user(row)

    def by_name(self, username: str) -> tuple[User, str] | None:
        """The user and their password hash, or None."""
        row = self.c.execute(sa.select(t.users).where(t.users.c.username == username)).first()
        return (_user(row), row.password_hash) if row else None

    def set_password_hash(self, user_id: int, password_hash: str) -> None:
        self.c.execute(t.users.update().where(t.users.c.id == user_id).values(password_hash=password_hash))

    def set_active(self, user_id: int, active: bool) -> None:
        self.c.execute(t.users.update().where(t.users.c.id == user_id).values(active=active))

    def all(self) -> list[User]:
        return [_user(r) for r in self.c.execute(sa.select(t.users).order_by(t.users.c.username))]


_TOKEN_USER = (  # built once: every script request runs it
    sa.select(t.users).join(t.api_tokens, t.api_tokens.c.user_id == t.users.c.id)
    .where(t.api_tokens.c.token_hash == sa.bindparam("token_hash"), t.api_tokens.c.revoked.is_(False),
           t.users.c.active.is_(True)))


class TokenRepo(_Repo):
    def add(self, user_id: int, token_hash: str, now: datetime) -> None:
        self.c.execute(t.api_tokens.insert().values(user_id=user_id, token_hash=token_hash, created_at=now))

    def user_for(self, token_hash: str) -> User | None:
        row = self.c.execute(_TOKEN_USER, {"token_hash": token_hash}).first()
        return _user(row) if row else None


_ASSIGNED = sa.select(t.assignments.c.site_id).where(
    t.assignments.c.user_id == sa.bindparam("user_id"), t.assignments.c.site_id == sa.bindparam("site_id"))


class AssignmentRepo(_Repo):
    def assign(self, user_id: int, site_ids: Iterable[int], now: datetime) -> list[int]:
        """Assign sites to a user; returns the ids that were not assigned to them before."""
        a = t.assignments.c
        have = set(self.c.execute(sa.select(a.site_id).where(a.user_id == user_id)).scalars())
        new = sorted(set(site_ids) - have)
        if new:
            self.c.execute(t.assignments.insert(),
                           [{"user_id": user_id, "site_id": s, "assigned_at": now} for s in new])
        return new

    def has(self, user_id: int, site_id: int) -> bool:
        """Whether this one site is assigned to the user (grid cells not considered)."""
        return self.c.execute(_ASSIGNED, {"user_id": user_id, "site_id": site_id}).first() is not None

    def site_ids(self, user_id: int) -> set[int]:
        a = t.assignments.c
        return set(self.c.execute(sa.select(a.site_id).where(a.user_id == user_id)).scalars())

    def unassign(self, user_id: int, site_ids: Iterable[int]) -> list[int]:
        """Take sites from a user; returns the ids that were assigned to them."""
        a = t.assignments.c
        wanted = sorted(set(site_ids))
        if not wanted:
            return []
        had = sorted(self.c.execute(
            sa.select(a.site_id).where(a.user_id == user_id, a.site_id.in_(wanted))).scalars())
        if had:
            self.c.execute(t.assignments.delete().where(a.user_id == user_id, a.site_id.in_(had)))
        return had

    def by_user(self) -> dict[int, int]:
        """{user id: number of sites assigned} for every user who has any."""
        a = t.assignments.c
        rows = self.c.execute(sa.select(a.user_id, sa.func.count()).group_by(a.user_id))
        return {user_id: n for user_id, n in rows}

    def holders(self, site_ids: Iterable[int]) -> dict[int, list[str]]:
        """{site id: user names of the workers it is assigned to} for the given sites."""
        a = t.assignments.c
        ids = list(site_ids)
        out: dict[int, list[str]] = {}
        if not ids:
            return out
        rows = self.c.execute(
            sa.select(a.site_id, t.users.c.username).join(t.users, t.users.c.id == a.user_id)
            .where(a.site_id.in_(ids)).order_by(a.site_id, t.users.c.username))
        for site_id, username in rows:
            out.setdefault(site_id, []).append(username)
        return out


def _report(row: Mapping[str, Any], photos: list[dict]) -> dict[str, Any]:
    return {
        "id": row["id"], "uuid": row["uuid"], "site_id": row["site_id"], "user_id": row["user_id"],
        "username": row["username"], "checklist": row["checklist"], "metrics": row["metrics"],
        "note": row["note"],
        "gps": None if row["gps_lat"] is None else
        {"lat": row["gps_lat"], "lon": row["gps_lon"], "accuracy": row["gps_accuracy"]},
        "distance_m": row["distance_m"], "flags": row["flags"], "observed_at": row["observed_at"],
        "received_at": row["received_at"], "status": row["review_status"],
        "review_comment": row.get("review_comment"), "reviewed_at": row.get("reviewed_at"),
        "site_version": row.get("site_version"), "photos": photos,
    }


def _photo(row: Mapping[str, Any]) -> dict[str, Any]:
    return {"id": row["id"], "taken_at": row["taken_at"], "flags": row["flags"], "width": row["width"],
            "height": row["height"]}


def _utc(value: datetime | None) -> datetime | None:
    return value.astimezone(UTC) if value is not None else None


# Statements of the filing path, built once: building a statement costs more than running it.
_REPORT_INSERT = t.reports.insert()
_PHOTO_INSERT = t.photos.insert()
_BY_UUID = sa.select(t.reports.c.id, t.reports.c.site_id, t.reports.c.content_hash).where(
    t.reports.c.uuid == sa.bindparam("uuid"))
_NOTE_FILED = t.sites.update().where(
    t.sites.c.id == sa.bindparam("site_id"),
    sa.or_(t.sites.c.last_inspected_at.is_(None), t.sites.c.last_inspected_at <= sa.bindparam("observed_at")),
).values(last_report_id=sa.bindparam("report_id"), last_inspected_at=sa.bindparam("observed_at"),
         last_result=sa.bindparam("result"), last_review="pending")


class ReportRepo(_Repo):
    def add(self, values: dict[str, Any]) -> int:
        """Store a report row (its photos: ``add_with_photos``, or ``PhotoRepo.add``)."""
        return self.c.execute(_REPORT_INSERT, values).inserted_primary_key[0]

    def add_with_photos(self, values: dict[str, Any], photos: list[dict[str, Any]],
                        username: str) -> dict[str, Any]:
        """Store a report and its photo rows; returns the report as ``get`` would, without reading it back."""
        report_id = self.add(values)
        stored = []
        for photo in photos:
            row = {**photo, "report_id": report_id}
            photo_id = PhotoRepo(self.c).add(row)
            stored.append(_photo({**row, "id": photo_id, "taken_at": _utc(row["taken_at"])}))
        times = {k: _utc(values[k]) for k in ("observed_at", "received_at")}
        return _report({**values, **times, "id": report_id, "username": username}, stored)

    def note_filed(self, site_id: int, report_id: int, observed_at: datetime, result: str) -> None:
        """Make a newly filed report the site's latest unless a report observed later is stored."""
        self.c.execute(_NOTE_FILED, {"site_id": site_id, "report_id": report_id, "observed_at": observed_at,
                                     "result": result})

    def refresh_latest(self, site_id: int, result_of) -> None:
        """Point the site at its newest report that counts (not rejected); ``result_of(checklist)``.

        The site's row is locked first (PostgreSQL; SQLite has one writer anyway), so a report
        filed meanwhile, whose ``note_filed`` needs that lock, is either seen here or comes after.
        """
        r = t.reports.c
        # FOR NO KEY UPDATE: it waits for note_filed's UPDATE, and lets a filing's INSERT (whose foreign
        # key takes KEY SHARE on the site) go on, so the two never deadlock.
        self.c.execute(sa.select(t.sites.c.id).where(t.sites.c.id == site_id).with_for_update(key_share=True))
        row = self.c.execute(
            sa.select(r.id, r.observed_at, r.checklist, r.review_status)
            .where(r.site_id == site_id, r.review_status != "rejected")
            .order_by(r.observed_at.desc(), r.id.desc()).limit(1)
        ).first()
        values = (dict(last_report_id=row.id, last_inspected_at=row.observed_at,
                       last_result=result_of(row.checklist), last_review=row.review_status) if row else
                  dict(last_report_id=None, last_inspected_at=None, last_result=None, last_review=None))
        self.c.execute(t.sites.update().where(t.sites.c.id == site_id).values(**values))

    def recompute_latest(self, failed_answer: str, layer_id: str | None = None) -> int:
        """``refresh_latest`` for every site (of ``layer_id``) in one UPDATE; returns how many sites changed.

        A site's result is "fail" when any checklist answer of its newest counting report is
        ``failed_answer`` (``geo.status.report_result`` says so in Python), else "pass". Each site finds
        that report by an index probe (``ix_reports_site_observed``), and only sites whose columns change
        are written. On PostgreSQL the reports table is locked against writers first (SHARE): the UPDATE
        then reads every committed report, and a filing's ``note_filed`` waits instead of being overwritten
        by an older report; SQLite has one writer anyway.
        """
        s = t.sites.c
        postgres = self.c.dialect.name == "postgresql"
        if postgres:
            self.c.execute(sa.text("LOCK TABLE reports IN SHARE MODE"))
        site, other = t.sites.alias("site"), t.reports.alias("other").c
        newest = (sa.select(other.id, other.observed_at, other.checklist, other.review_status)
                  .where(other.site_id == site.c.id, other.review_status != "rejected")
                  .order_by(other.observed_at.desc(), other.id.desc()).limit(1))
        if postgres:  # LATERAL: the planner probes the index per site instead of hashing every report
            found = newest.lateral("found")
            sites_and_reports, r = site.outerjoin(found, sa.true()), found.c
        else:  # no LATERAL in SQLite: the same probe as a correlated subquery, then the report by its id
            newest_id = newest.with_only_columns(other.id).correlate(site).scalar_subquery()
            sites_and_reports, r = site.outerjoin(t.reports, t.reports.c.id == newest_id), t.reports.c
        answers = (sa.func.json_each_text(r.checklist) if postgres else sa.func.json_each(r.checklist)
                   ).table_valued("value")
        failed = sa.exists().select_from(answers).where(answers.c.value == failed_answer)
        latest = (sa.select(site.c.id.label("site_id"), r.id, r.observed_at, r.review_status,
                            sa.case((r.id.is_(None), None), (failed, "fail"), else_="pass").label("result"))
                  .select_from(sites_and_reports)
                  .where(*([site.c.layer_id == layer_id] if layer_id else [])).subquery("latest"))
        changed = sa.or_(s.last_report_id.is_distinct_from(latest.c.id),
                         s.last_inspected_at.is_distinct_from(latest.c.observed_at),
                         s.last_result.is_distinct_from(latest.c.result),
                         s.last_review.is_distinct_from(latest.c.review_status))
        update = (t.sites.update().where(s.id == latest.c.site_id, changed)
                  .values(last_report_id=latest.c.id, last_inspected_at=latest.c.observed_at,
                          last_result=latest.c.result, last_review=latest.c.review_status))
        return self.c.execute(update).rowcount

    def _photos(self, report_ids: list[int]) -> dict[int, list[dict]]:
        p = t.photos.c
        out: dict[int, list[dict]] = {i: [] for i in report_ids}
        if report_ids:
            rows = self.c.execute(sa.select(t.photos).where(p.report_id.in_(report_ids)).order_by(p.id))
            for row in rows:
                out[row.report_id].append(_photo(row._mapping))
        return out

    def find(self, *, site_ids: Iterable[int] | None = None, since: datetime | None = None,
             status: str | None = None, limit: int = 500, ids: Iterable[int] | None = None,
             user_id: int | None = None) -> list[dict[str, Any]]:
        """Reports, newest first, each with its photos and the reporter's user name."""
        r = t.reports.c
        query = (sa.select(t.reports, t.users.c.username).join(t.users, t.users.c.id == r.user_id)
                 .order_by(r.observed_at.desc(), r.id.desc()).limit(limit))
        if ids is not None:
            query = query.where(r.id.in_(list(ids)))
        if user_id is not None:
            query = query.where(r.user_id == user_id)
        if site_ids is not None:
            query = query.where(r.site_id.in_(list(site_ids)))
        if since is not None:
            query = query.where(r.observed_at >= since)
        if status is not None:
            query = query.where(r.review_status == status)
        rows = self.c.execute(query).all()
        photos = self._photos([row.id for row in rows])
        return [_report(row._mapping, photos[row.id]) for row in rows]

    def by_uuid(self, report_uuid: str):
        """(id, site_id, content_hash) of the report with this client UUID, or None."""
        return self.c.execute(_BY_UUID, {"uuid": report_uuid}).first()

    def get(self, report_id: int) -> dict[str, Any]:
        found = self.find(ids=[report_id], limit=1)
        if not found:
            raise NotFound(msg("report_not_found", "report {report_id} does not exist", report_id=report_id))
        return found[0]

    def set_review(self, report_id: int, status: str, reviewer_id: int, comment: str, now: datetime) -> None:
        self.c.execute(t.reports.update().where(t.reports.c.id == report_id).values(
            review_status=status, reviewed_by=reviewer_id, reviewed_at=now, review_comment=comment))

    def count(self, site_id: int | None = None) -> int:
        return self._count(t.reports, *([t.reports.c.site_id == site_id] if site_id else []))

class PhotoRepo(_Repo):
    """The photo rows of reports (the files are in geo.storage.blobs)."""

    def add(self, values: dict[str, Any]) -> int:
        return self.c.execute(_PHOTO_INSERT, values).inserted_primary_key[0]

    def get(self, photo_id: int) -> dict[str, Any]:
        """The photo's row with its report's ``site_id``."""
        row = self.c.execute(
            sa.select(t.photos, t.reports.c.site_id).join(t.reports, t.reports.c.id == t.photos.c.report_id)
            .where(t.photos.c.id == photo_id)).first()
        if row is None:
            raise NotFound(msg("photo_not_found", "photo {photo_id} does not exist", photo_id=photo_id))
        return dict(row._mapping)

    def keys(self) -> set[str]:
        """Every file key a photo row refers to (originals and derived copies)."""
        p = t.photos.c
        rows = self.c.execute(sa.select(p.original_key, p.display_key, p.thumbnail_key))
        return {key for row in rows for key in row}

    def rows(self, report_ids: Iterable[int] | None = None) -> list[dict[str, Any]]:
        """(id and file keys) of every photo, or of the reports' photos, in id order."""
        p = t.photos.c
        query = sa.select(p.id, p.original_key, p.display_key, p.thumbnail_key).order_by(p.id)
        if report_ids is not None:
            query = query.where(p.report_id.in_(list(report_ids)))
        return [dict(row._mapping) for row in self.c.execute(query)]

    def ids_by_report(self, report_ids: Iterable[int]) -> dict[int, list[int]]:
        """{report id: ids of its photos, in order} for those of the reports that have any."""
        p = t.photos.c
        out: dict[int, list[int]] = {}
        ids = list(report_ids)
        if ids:
            rows = self.c.execute(sa.select(p.report_id, p.id).where(p.report_id.in_(ids))
                                  .order_by(p.report_id, p.id))
            for report_id, photo_id in rows:
                out.setdefault(report_id, []).append(photo_id)
        return out


_AUDIT_INSERT = t.audit_log.insert()  # built once: a statement built per call costs ~3x its execution


class AuditRepo(_Repo):
    def record(self, actor: str | None, action: str, target: str, detail: dict, now: datetime) -> None:
        self.c.execute(_AUDIT_INSERT, dict(at=now, actor=actor, action=action, target=target, detail=detail))

    def recent(self, limit: int = 100, target: str | None = None) -> list[AuditEntry]:
        a = t.audit_log.c
        query = sa.select(t.audit_log).order_by(a.id.desc()).limit(limit)
        if target:
            query = query.where(a.target == target)
        return [AuditEntry(r.id, r.at, r.actor, r.action, r.target, r.detail) for r in self.c.execute(query)]
