"""The embedded default: SQLite in the instance folder, used well.

WAL so readers never wait for the writer; foreign keys on; a busy timeout so a
second writer waits instead of failing; writes start with BEGIN IMMEDIATE, because
under WAL a transaction that reads first and writes later fails at once with
"database is locked" whatever the busy timeout. A process's writers queue on a lock
before their BEGIN IMMEDIATE (``_Writers``). Bounding boxes go through the R*Tree
table that the first migration creates.
"""

from __future__ import annotations

import sqlite3
import threading
from contextlib import contextmanager
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy import event

from geo.messages import msg
from geo.model import InvalidInput
from geo.storage import schema as t
from geo.storage.sql import SqlStore, _json

BUSY_TIMEOUT_MS = 10_000


class _Writers:
    """One writing transaction at a time per process, the others queued on a lock.

    SQLite's busy handler polls: a writer that finds the database locked sleeps 1, 2, 5, 10 … 100 ms
    before trying again, and keeps sleeping after the lock is free. With a worker's threads all
    filing reports, they spent 55 % of their time so (py-spy, benchmarks/RESULTS.md); queued here,
    the next one starts as soon as the previous one ends, and only writers of other processes meet
    the busy handler. The wait is bounded by the same busy timeout.
    """

    def __init__(self):
        self._lock = threading.Lock()
        self._held = threading.local()

    def acquire(self) -> None:
        if not self._lock.acquire(timeout=BUSY_TIMEOUT_MS / 1000):
            raise sa.exc.OperationalError("BEGIN IMMEDIATE", None,
                                          sqlite3.OperationalError("database is locked"))
        self._held.yes = True

    def release(self) -> None:
        if getattr(self._held, "yes", False):
            self._held.yes = False
            self._lock.release()


class SqliteStore(SqlStore):
    def _create_engine(self, url: str) -> sa.Engine:
        engine = sa.create_engine(url, json_serializer=_json)
        writers = self._writers = _Writers()

        @event.listens_for(engine, "connect")
        def _on_connect(dbapi_connection, _record):
            # Let SQLAlchemy's "begin" event below issue BEGIN, not the sqlite3 module.
            dbapi_connection.isolation_level = None
            cursor = dbapi_connection.cursor()
            cursor.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
            cursor.execute("PRAGMA journal_mode = WAL")
            cursor.execute("PRAGMA foreign_keys = ON")
            # FULL: a commit is on disk before it returns, so an acknowledged report
            # survives a power cut (NORMAL could lose the last commits under WAL).
            cursor.execute("PRAGMA synchronous = FULL")
            cursor.close()

        @event.listens_for(engine, "begin")
        def _on_begin(connection):
            if not connection.get_execution_options().get("onemap_write"):
                connection.exec_driver_sql("BEGIN DEFERRED")
                return
            writers.acquire()
            try:
                connection.exec_driver_sql("BEGIN IMMEDIATE")
            except BaseException:
                writers.release()
                raise

        return engine

    def _transaction_ended(self, connection: sa.Connection) -> None:
        self._writers.release()

    def dump(self, path: Path) -> None:
        # SQLite's online backup API: a consistent snapshot while readers and writers go on.
        with self.engine.connect() as connection:
            target = sqlite3.connect(path)
            try:
                connection.connection.dbapi_connection.backup(target)
            finally:
                target.close()

    @contextmanager
    def snapshot(self, path: Path):
        """The online backup into ``path``, then a unit of work reading that copy."""
        self.dump(path)
        copy = SqliteStore(f"sqlite:///{path}")
        try:
            with copy.unit_of_work() as uow:
                yield uow
        finally:
            copy.close()

    def load(self, path: Path) -> None:
        source = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            verdict = source.execute("PRAGMA integrity_check").fetchone()[0]
            if verdict != "ok":
                raise InvalidInput(msg("database_copy_damaged",
                                       "{file}: the database copy is damaged ({detail})",
                                       file=path.name, detail=verdict), field=path.name)
            with self.engine.connect() as connection:
                source.backup(connection.connection.dbapi_connection)
        except sqlite3.DatabaseError as exc:
            raise InvalidInput(msg("not_sqlite", "{file}: not a SQLite database ({detail})", file=path.name,
                                   detail=str(exc)), field=path.name) from None
        finally:
            source.close()
        self.engine.dispose()  # pooled connections may hold pages of the replaced database
        self.cache.clear()  # what was built from the replaced rows (geo.counties)

    def layer_bbox_clause(self, layer_id, bbox, *, few=False):
        if few and layer_id is not None:
            # The R*Tree would hand over every box in view, of all layers (90,000 zones for a province
            # at zoom 8) before the layer filter; a small layer's own rows are fewer to read.
            return super().layer_bbox_clause(layer_id, bbox)
        minx, miny, maxx, maxy = bbox
        rtree = sa.table("sites_rtree", sa.column("id"), sa.column("minx"), sa.column("maxx"),
                         sa.column("miny"), sa.column("maxy"))
        hits = sa.select(rtree.c.id).where(
            rtree.c.maxx >= minx, rtree.c.minx <= maxx, rtree.c.maxy >= miny, rtree.c.miny <= maxy
        )
        in_box = t.sites.c.id.in_(hits)
        if layer_id is None:
            return in_box
        # Without statistics SQLite takes `layer_id = ?` for a selective index term and
        # scans the whole layer; the unary + makes it a plain filter, so the plan starts
        # from the R*Tree hits and looks sites up by rowid.
        return sa.and_(in_box, sa.literal_column("+sites.layer_id") == layer_id)
