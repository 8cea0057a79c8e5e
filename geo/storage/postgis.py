"""Production: PostgreSQL with PostGIS, shared by several app servers on several machines.

The tables are the shared ones (WKB plus box columns, so every query of
repositories.py runs unchanged); migration 0005 adds a generated ``shape``
geometry column (SRID 4326) to sites and counties with a GiST index, and this
store overrides only the spatial parts: the bbox filter is an exact
``ST_Intersects`` in SQL, a site's distance from a GPS fix is ``ST_Distance``
on geography, grid cells find their sites with ``ST_Contains``.

Writers: the services were written for SQLite's single writer (a write unit
reads, decides, writes). Here a write unit takes a transaction-level advisory
lock first, which gives the same guarantee across processes and machines and is
released by the commit or rollback; readers never wait for it (MVCC). Units
that declare themselves safe beside other writers (``begin_write(exclusive=False)``:
filing a report, recording an export) skip it: the client UUID's unique
constraint decides between duplicate reports, and the site's latest report is a
single conditional UPDATE under the row's lock, which ``refresh_latest`` takes too.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from collections.abc import Iterable
from contextlib import contextmanager
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy import event

from geo.model import InvalidInput, Site
from geo.storage import schema as t
from geo.storage.sql import SqlStore, SqlUnitOfWork, _json
from geo.storage.triggers import POSTGRES_FUNCTION

# Key of the advisory lock every write unit takes: "OneMap" in ASCII.
WRITE_LOCK = 0x4F6E654D6170
# A pooled connection idle longer than this is pinged before use.
PING_AFTER_IDLE_S = 2.0

_DISTANCE = sa.text("SELECT ST_Distance(shape::geography,"
                    " ST_SetSRID(ST_MakePoint(:lon, :lat), 4326)::geography) FROM sites WHERE id = :id")
_IN_CELLS = sa.text("SELECT s.id FROM sites s JOIN sites c"
                    " ON ST_Contains(c.shape, ST_PointOnSurface(s.shape))"
                    " WHERE c.id = ANY(:cells) AND c.layer_id = :layer"
                    " AND s.deleted_at IS NULL AND c.deleted_at IS NULL")


def _envelope(bbox) -> sa.ColumnElement:
    """The box as a geometry; a box of no width or height becomes the point or line it is (ST_Envelope),
    which meets what it touches, as shapely's degenerate box does (ST_MakeEnvelope's would not)."""
    minx, miny, maxx, maxy = (float(v) for v in bbox)
    corners = sa.func.ST_MakeLine(sa.func.ST_MakePoint(minx, miny), sa.func.ST_MakePoint(maxx, maxy))
    return sa.func.ST_Envelope(sa.func.ST_SetSRID(corners, 4326))


def _tool(name: str) -> str:
    found = shutil.which(name)
    if found is None:
        raise InvalidInput(f"{name} is not installed (apt-get install postgresql-client)", field=name)
    return found


class PostgisStore(SqlStore):
    bbox_is_exact = True
    # READ COMMITTED: each statement sees what is committed, so a non-exclusive unit's writes need no
    # fresh transaction after its reads (a ROLLBACK and a BEGIN fewer per filed report).
    writes_continue_reads = True
    dump_name = "database.pgdump"  # pg_dump's custom format

    def _create_engine(self, url: str) -> sa.Engine:
        try:
            import geoalchemy2  # noqa: F401 - teaches SQLAlchemy's reflection (Alembic) the geometry type
            import psycopg  # noqa: F401
        except ImportError:
            raise InvalidInput("the PostgreSQL driver is not installed: pip install 'onemap[postgis]'",
                               field="ONEMAP_DATABASE_URL") from None
        engine = sa.create_engine(url, json_serializer=_json)  # pinged by _ping_if_idle, not pool_pre_ping

        @event.listens_for(engine, "checkout")
        def _ping_if_idle(dbapi_connection, record, _proxy):
            # pool_pre_ping costs a round trip on every checkout, two per request. A connection back in
            # the pool a moment ago is alive (HikariCP's aliveBypassWindowMs); one idle longer, which a
            # restarted or failed-over server may have dropped, is pinged and replaced if it is gone.
            if time.monotonic() - record.info.get("onemap_checked_in", 0.0) < PING_AFTER_IDLE_S:
                return
            try:
                engine.dialect.do_ping(dbapi_connection)
                dbapi_connection.rollback()
            except Exception as exc:  # the pool then opens a new connection
                raise sa.exc.DisconnectionError(f"pooled connection is gone: {exc}") from exc

        @event.listens_for(engine, "checkin")
        def _checked_in(_dbapi_connection, record):
            record.info["onemap_checked_in"] = time.monotonic()

        @event.listens_for(engine, "begin")
        def _on_begin(connection):
            options = connection.get_execution_options()
            if options.get("onemap_write") and options.get("onemap_exclusive", True):
                connection.exec_driver_sql(f"SELECT pg_advisory_xact_lock({WRITE_LOCK})")

        return engine

    def _connect(self, write: bool, brief: bool = False) -> sa.Connection:
        if brief:  # psycopg's autocommit is a flag on the client: no round trip to set or to reset it
            return self.engine.connect().execution_options(isolation_level="AUTOCOMMIT")
        return super()._connect(write)

    # ------------------------------------------------------------ spatial parts
    def layer_bbox_clause(self, layer_id, bbox, *, few=False):  # the planner's statistics know the sizes
        clause = sa.func.ST_Intersects(sa.literal_column("sites.shape"), _envelope(bbox))
        return clause if layer_id is None else sa.and_(t.sites.c.layer_id == layer_id, clause)

    def distance_m(self, connection: sa.Connection, site: Site, lon: float, lat: float) -> float:
        """Metres on the spheroid from a GPS fix to the stored geometry of ``site``."""
        return connection.execute(_DISTANCE, {"lon": lon, "lat": lat, "id": site.id}).scalar_one()

    def sites_in_cells(self, connection: sa.Connection, ids: Iterable[int], cell_layer: str) -> set[int]:
        ids = list(ids)
        if not ids:
            return set()
        return set(connection.execute(_IN_CELLS, {"cells": ids, "layer": cell_layer}).scalars())

    # ------------------------------------------------------------ backup and restore
    def _libpq_url(self) -> str:
        """The database for pg_dump / psql; the password goes in PGPASSWORD, not on a command line."""
        url = self.engine.url.set(drivername="postgresql")
        return url._replace(password=None).render_as_string()

    def _run(self, *command: str) -> None:
        env = dict(os.environ)
        if self.engine.url.password is not None:
            env["PGPASSWORD"] = str(self.engine.url.password)
        done = subprocess.run(command, capture_output=True, text=True, env=env)
        if done.returncode != 0:
            raise InvalidInput(f"{Path(command[0]).name} failed: {done.stderr.strip()[-500:]}",
                               field="database")

    @contextmanager
    def snapshot(self, path: Path):
        """pg_dump of one exported snapshot into ``path``; yields a unit of work reading that same snapshot,
        so the photo keys and counts a backup records are exactly those of the dump, however many
        reports arrive meanwhile. Only OneMap's tables are dumped (not the PostGIS extension,
        which the target database has already)."""
        connection = self.engine.connect().execution_options(isolation_level="REPEATABLE READ")
        try:
            connection.begin()
            snapshot = connection.exec_driver_sql("SELECT pg_export_snapshot()").scalar_one()
            tables = [f"--table=public.{name}" for name in (*t.metadata.tables, "alembic_version")]
            self._run(_tool("pg_dump"), "--format=custom", "--no-owner", "--no-privileges",
                      f"--snapshot={snapshot}", f"--file={path}", *tables, f"--dbname={self._libpq_url()}")
            yield SqlUnitOfWork(self, connection)
        finally:
            if connection.in_transaction():
                connection.rollback()
            connection.close()

    def load(self, path: Path) -> None:
        """Replace OneMap's tables by those of a dump, in one transaction: on any error nothing changes."""
        script = path.with_name(path.name + ".sql")
        self._run(_tool("pg_restore"), "--no-owner", "--no-privileges", f"--file={script}", str(path))
        drop = "DROP TABLE IF EXISTS " + ", ".join((*t.metadata.tables, "alembic_version")) + " CASCADE"
        self.engine.dispose()
        try:
            self._run(_tool("psql"), "--quiet", "--single-transaction", "--set=ON_ERROR_STOP=1",
                      f"--command={drop}", f"--command={POSTGRES_FUNCTION}", f"--file={script}",
                      f"--dbname={self._libpq_url()}")
        finally:
            script.unlink(missing_ok=True)
        self.cache.clear()  # what was built from the replaced rows (geo.counties)
