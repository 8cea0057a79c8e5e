"""The SQL store shared by every backend: repositories written once with SQLAlchemy Core.

Backends override only what differs (sqlite.py: pragmas, BEGIN IMMEDIATE and the
R*Tree bounding-box filter; a PostGIS store: the spatial filter), the way
pygeoapi's PostgreSQLProvider overrides only ``_get_bbox_filter``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

import orjson
import shapely
import sqlalchemy as sa
from alembic import command
from alembic.config import Config

from geo.model import AuditEntry, LayerDef, NotFound, Site, User
from geo.storage import schema as t
from geo.storage.base import Store, UnitOfWork

MIGRATIONS = Path(__file__).with_name("migrations")


def _json(value: Any) -> str:
    return orjson.dumps(value).decode()


class SqlStore(Store):
    def __init__(self, url: str):
        self.url = url
        self.engine = self._create_engine(url)

    # ------------------------------------------------------------ backend hooks
    def _create_engine(self, url: str) -> sa.Engine:
        return sa.create_engine(url, json_serializer=_json, pool_pre_ping=True)

    def bbox_clause(self, bbox: tuple[float, float, float, float]) -> sa.ColumnElement[bool]:
        """Sites whose bounding box meets ``bbox`` (a prefilter; exact tests follow)."""
        minx, miny, maxx, maxy = bbox
        s = t.sites.c
        return sa.and_(s.maxx >= minx, s.minx <= maxx, s.maxy >= miny, s.miny <= maxy)

    def exact_filter(self, sites: Iterable[Site], bbox) -> Iterator[Site]:
        """Keep the sites whose geometry really intersects ``bbox`` (shapely)."""
        box = shapely.box(*bbox)
        shapely.prepare(box)
        return (site for site in sites if box.intersects(site.geometry))

    def _connect(self, write: bool) -> sa.Connection:
        return self.engine.connect()

    # ------------------------------------------------------------ Store
    def migrate(self) -> None:
        config = Config()
        config.set_main_option("script_location", str(MIGRATIONS))
        with self.engine.begin() as connection:
            config.attributes["connection"] = connection
            command.upgrade(config, "head")

    @contextmanager
    def unit_of_work(self, *, write: bool = False):
        connection = self._connect(write)
        uow = SqlUnitOfWork(self, connection)
        try:
            yield uow
        finally:
            if connection.in_transaction():
                connection.rollback()
            connection.close()

    def ping(self) -> bool:
        try:
            with self.engine.connect() as connection:
                return connection.execute(sa.text("SELECT 1")).scalar() == 1
        except sa.exc.SQLAlchemyError:
            return False

    def is_empty(self) -> bool:
        if not sa.inspect(self.engine).has_table("layers"):
            return True
        with self.engine.connect() as connection:
            return connection.execute(sa.select(sa.func.count()).select_from(t.layers)).scalar() == 0

    def close(self) -> None:
        self.engine.dispose()


class SqlUnitOfWork(UnitOfWork):
    def __init__(self, store: SqlStore, connection: sa.Connection):
        self.connection = connection
        self.layers = LayerRepo(connection)
        self.counties = CountyRepo(connection)
        self.sites = SiteRepo(connection, store)
        self.users = UserRepo(connection)
        self.tokens = TokenRepo(connection)
        self.assignments = AssignmentRepo(connection)
        self.reports = ReportRepo(connection)
        self.audit = AuditRepo(connection)

    def commit(self) -> None:
        self.connection.commit()

    def rollback(self) -> None:
        self.connection.rollback()


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
    def save(self, code: str, name: str, name_en: str | None, geometry) -> bool:
        """Store a county boundary unless it is already there; True when stored."""
        if self.c.execute(sa.select(t.counties.c.code).where(t.counties.c.code == code)).first():
            return False
        self.c.execute(
            t.counties.insert().values(code=code, name=name, name_en=name_en, geom=shapely.to_wkb(geometry))
        )
        return True

    def all(self) -> list[dict[str, Any]]:
        rows = self.c.execute(sa.select(t.counties).order_by(t.counties.c.code))
        return [
            {"code": r.code, "name": r.name, "name_en": r.name_en, "geometry": shapely.from_wkb(r.geom)}
            for r in rows
        ]

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
    )


class SiteRepo(_Repo):
    def __init__(self, connection: sa.Connection, store: SqlStore):
        super().__init__(connection)
        self.store = store

    def _values(self, site: Site) -> dict[str, Any]:
        minx, miny, maxx, maxy = site.geometry.bounds
        return dict(
            layer_id=site.layer_id,
            ref=site.ref,
            name=site.name,
            county=site.county,
            status=site.status,
            geom=shapely.to_wkb(site.geometry),
            minx=minx,
            miny=miny,
            maxx=maxx,
            maxy=maxy,
            attributes=site.attributes,
        )

    def add(self, site: Site, now: datetime) -> int:
        values = self._values(site) | {"version": 1, "created_at": now, "updated_at": now}
        return self.c.execute(t.sites.insert().values(**values)).inserted_primary_key[0]

    def ids_by_ref(self, layer_id: str) -> dict[str, int]:
        s = t.sites.c
        rows = self.c.execute(sa.select(s.ref, s.id).where(s.layer_id == layer_id, s.ref.is_not(None)))
        return {ref: site_id for ref, site_id in rows}

    def get(self, site_id: int) -> Site:
        row = self.c.execute(sa.select(t.sites).where(t.sites.c.id == site_id)).first()
        if row is None:
            raise NotFound(f"site {site_id} does not exist")
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
        s = t.sites.c
        query = sa.select(t.sites).order_by(s.id)
        if layer_id is not None:
            query = query.where(s.layer_id == layer_id)
        if bbox is not None:
            query = query.where(self.store.bbox_clause(bbox))
        if status:
            query = query.where(s.status.in_(list(status)))
        if county:
            query = query.where(s.county == county)
        if q:
            query = query.where(s.name.contains(q, autoescape=True))
        if ids is not None:
            query = query.where(s.id.in_(list(ids)))
        if limit is not None and bbox is None:
            query = query.limit(limit)
        rows = self.c.execution_options(yield_per=1000).execute(query)
        sites = (_site(row) for row in rows)
        if bbox is not None:
            sites = self.store.exact_filter(sites, bbox)
            if limit is not None:
                sites = (site for _, site in zip(range(limit), sites, strict=False))
        return sites

    def counts(self) -> dict[tuple[str, str], int]:
        """{(layer_id, status): number of sites}."""
        s = t.sites.c
        rows = self.c.execute(sa.select(s.layer_id, s.status, sa.func.count()).group_by(s.layer_id, s.status))
        return {(layer, status): n for layer, status, n in rows}

    def count(self, layer_id: str | None = None) -> int:
        return self._count(t.sites, *([t.sites.c.layer_id == layer_id] if layer_id else []))

    def set_status(self, site_id: int, status: str, now: datetime) -> None:
        self.c.execute(t.sites.update().where(t.sites.c.id == site_id).values(status=status, updated_at=now))


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
            raise NotFound(f"user {user_id} does not exist")
        return _user(row)

    def by_name(self, username: str) -> tuple[User, str] | None:
        """The user and their password hash, or None."""
        row = self.c.execute(sa.select(t.users).where(t.users.c.username == username)).first()
        return (_user(row), row.password_hash) if row else None

    def set_password_hash(self, user_id: int, password_hash: str) -> None:
        self.c.execute(t.users.update().where(t.users.c.id == user_id).values(password_hash=password_hash))

    def all(self) -> list[User]:
        return [_user(r) for r in self.c.execute(sa.select(t.users).order_by(t.users.c.username))]


class TokenRepo(_Repo):
    def add(self, user_id: int, token_hash: str, now: datetime) -> None:
        self.c.execute(t.api_tokens.insert().values(user_id=user_id, token_hash=token_hash, created_at=now))

    def user_for(self, token_hash: str) -> User | None:
        k = t.api_tokens.c
        row = self.c.execute(
            sa.select(t.users)
            .join(t.api_tokens, k.user_id == t.users.c.id)
            .where(k.token_hash == token_hash, k.revoked.is_(False), t.users.c.active.is_(True))
        ).first()
        return _user(row) if row else None


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

    def site_ids(self, user_id: int) -> set[int]:
        a = t.assignments.c
        return set(self.c.execute(sa.select(a.site_id).where(a.user_id == user_id)).scalars())


class ReportRepo(_Repo):
    def count(self, site_id: int | None = None) -> int:
        return self._count(t.reports, *([t.reports.c.site_id == site_id] if site_id else []))


class AuditRepo(_Repo):
    def record(self, actor: str | None, action: str, target: str, detail: dict, now: datetime) -> None:
        self.c.execute(t.audit_log.insert().values(at=now, actor=actor, action=action, target=target,
                                                   detail=detail))

    def recent(self, limit: int = 100, target: str | None = None) -> list[AuditEntry]:
        a = t.audit_log.c
        query = sa.select(t.audit_log).order_by(a.id.desc()).limit(limit)
        if target:
            query = query.where(a.target == target)
        return [AuditEntry(r.id, r.at, r.actor, r.action, r.target, r.detail) for r in self.c.execute(query)]
