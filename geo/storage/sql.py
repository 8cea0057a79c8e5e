"""The SQL store shared by every backend: engine, migrations and units of work.

Backends override only what differs (sqlite.py: pragmas, BEGIN IMMEDIATE and the
R*Tree bounding-box filter; a PostGIS store: the spatial filter), the way
pygeoapi's PostgreSQLProvider overrides only ``_get_bbox_filter``.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import orjson
import shapely
import shapely.prepared
import sqlalchemy as sa
from alembic import command
from alembic.config import Config

from geo.geometry import distance_m
from geo.model import Site
from geo.storage import schema as t
from geo.storage.base import Store, UnitOfWork
from geo.storage.repositories import (
    AssignmentRepo,
    AuditRepo,
    CountyRepo,
    LayerRepo,
    PhotoRepo,
    ReportRepo,
    SiteRepo,
    SiteVersionRepo,
    TokenRepo,
    UserRepo,
)
from geo.storage.views.dashboard import DashboardView
from geo.storage.views.exports import ExportView
from geo.storage.views.history import HistoryView
from geo.storage.views.map import MapView
from geo.storage.views.ogc import OgcView

MIGRATIONS = Path(__file__).with_name("migrations")


def _json(value: Any) -> str:
    return orjson.dumps(value).decode()


class SqlStore(Store):
    # True when layer_bbox_clause is exact (PostGIS): the shapely test after it is skipped.
    bbox_is_exact = False
    # True when a write unit safe beside other writers may go on in the transaction of its reads
    # (PostGIS: no lock to take first); SQLite must start a writer's transaction (BEGIN IMMEDIATE).
    writes_continue_reads = False
    # File name of the copy ``snapshot`` writes into a backup folder.
    dump_name = "database.sqlite"

    def __init__(self, url: str):
        self.url = url
        self.engine = self._create_engine(url)
        self.cache: dict[str, Any] = {}  # built once from data that stays while the store runs (geo.counties)

    # ------------------------------------------------------------ backend hooks
    def _create_engine(self, url: str) -> sa.Engine:
        return sa.create_engine(url, json_serializer=_json, pool_pre_ping=True)

    def _transaction_ended(self, connection: sa.Connection) -> None:
        """Called after every COMMIT or ROLLBACK of a unit of work (sqlite.py frees its writers' queue)."""

    def layer_bbox_clause(self, layer_id: str | None, bbox, *, few: bool = False) -> sa.ColumnElement[bool]:
        """Sites of a layer (any layer when None) whose bounding box meets ``bbox``.

        A prefilter: the exact geometry test follows in ``exact_filter`` / ``exact_mask``. ``few``: the
        layer has few sites, so reading them all by the layer's index beats a spatial index search.
        """
        minx, miny, maxx, maxy = bbox
        s = t.sites.c
        clause = sa.and_(s.maxx >= minx, s.minx <= maxx, s.maxy >= miny, s.miny <= maxy)
        return clause if layer_id is None else sa.and_(s.layer_id == layer_id, clause)

    def exact_filter(self, sites: Iterable[Site], bbox) -> Iterator[Site]:
        """Keep the sites whose geometry really intersects ``bbox`` (shapely; none to drop when the
        bbox clause was exact already)."""
        if self.bbox_is_exact:
            return iter(sites)
        box = shapely.box(*bbox)
        shapely.prepare(box)
        return (site for site in sites if box.intersects(site.geometry))

    def exact_mask(self, geometries, bbox):
        """Vectorised exact test: which of ``geometries`` (numpy array) intersect ``bbox``."""
        return shapely.intersects(geometries, shapely.box(*bbox))

    def distance_m(self, connection: sa.Connection, site: Site, lon: float, lat: float) -> float:
        """Metres from a GPS fix to a site's geometry."""
        return distance_m((lon, lat), site.geometry)

    def sites_in_cells(self, connection: sa.Connection, ids: Iterable[int], cell_layer: str) -> set[int]:
        """Ids of the sites whose representative point lies inside one of the sites ``ids`` that are
        cells of ``cell_layer`` (the cells themselves included)."""
        sites = SiteRepo(connection, self)
        found: set[int] = set()
        for cell in sites.find(ids=list(ids), layer_id=cell_layer):
            inside = shapely.prepared.prep(cell.geometry)
            found |= {site.id for site in sites.find(bbox=cell.geometry.bounds)
                      if inside.contains(site.geometry.representative_point())}
        return found

    def _connect(self, write: bool, brief: bool = False) -> sa.Connection:
        """A connection; a write unit's marks its BEGIN as a writer's (sqlite.py, postgis.py); ``brief``
        is for backends whose single statements need no transaction (postgis.py)."""
        connection = self.engine.connect()
        return connection.execution_options(onemap_write=True) if write else connection

    # ------------------------------------------------------------ Store
    def migrate(self) -> None:
        config = Config()
        config.set_main_option("script_location", str(MIGRATIONS))
        with self.engine.begin() as connection:
            config.attributes["connection"] = connection
            command.upgrade(config, "head")

    @contextmanager
    def unit_of_work(self, *, write: bool = False, brief: bool = False):
        connection = self._connect(write, brief and not write)
        uow = SqlUnitOfWork(self, connection)
        try:
            yield uow
        finally:
            try:
                if connection.in_transaction():
                    connection.rollback()
                connection.close()
            finally:
                self._transaction_ended(connection)

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
        self._store = store
        self.connection = connection
        self.layers = LayerRepo(connection)
        self.counties = CountyRepo(connection)
        self.sites = SiteRepo(connection, store)
        self.versions = SiteVersionRepo(connection)
        self.users = UserRepo(connection)
        self.tokens = TokenRepo(connection)
        self.assignments = AssignmentRepo(connection)
        self.reports = ReportRepo(connection)
        self.photos = PhotoRepo(connection)
        self.audit = AuditRepo(connection)
        # The read side (geo/storage/views/): one reader per consumer.
        self.map_view = MapView(connection, store)
        self.export_view = ExportView(connection, store)
        self.ogc_view = OgcView(connection, store)
        self.history_view = HistoryView(connection, store)
        self.dashboard_view = DashboardView(connection, store)

    def begin_write(self, *, exclusive: bool = True) -> None:
        if self.connection.in_transaction() and (exclusive or not self._store.writes_continue_reads):
            self.rollback()
        # In place: the next BEGIN is a writer's.
        self.connection.execution_options(onemap_write=True, onemap_exclusive=exclusive)

    @property
    def store(self) -> SqlStore:
        return self._store

    def commit(self) -> None:
        try:
            self.connection.commit()
        finally:
            self._store._transaction_ended(self.connection)
        self.connection.execution_options(onemap_write=False, onemap_exclusive=True)  # later reads: no lock
        if self.counties.stored:  # the store's counties changed: geo.counties builds them again
            self._store.cache.clear()
            self.counties.stored = False

    def rollback(self) -> None:
        try:
            self.connection.rollback()
        finally:
            self._store._transaction_ended(self.connection)
