"""The stores on real databases: what both must do alike, and what each backend does its own way."""

import sqlite3
import threading
from datetime import UTC, datetime

import pytest
import shapely
import sqlalchemy as sa

from geo.model import NotFound, Site
from geo.storage import open_store

NOW = datetime(2026, 5, 1, 8, 0, tzinfo=UTC)


def _add(store, layers, *sites):
    with store.unit_of_work(write=True) as uow:
        for layer in layers.values():
            uow.layers.save(layer, NOW)
        ids = [uow.sites.add(site, NOW, actor="test") for site in sites]
        uow.commit()
    return ids


def _site(geometry, name="site", layer="sanitation_zones", status="never_inspected"):
    return Site(None, layer, name, geometry, status)


@pytest.mark.backends("sqlite")
def test_migrate_is_repeatable_and_sets_pragmas(store):
    store.migrate()  # second run: nothing to do, no error
    assert not sa.inspect(store.engine).get_table_names() == []
    with store.unit_of_work() as uow:
        run = uow.connection.exec_driver_sql
        assert run("PRAGMA journal_mode").scalar() == "wal"
        assert run("PRAGMA foreign_keys").scalar() == 1
        assert run("PRAGMA busy_timeout").scalar() >= 5000
    assert store.is_empty() and store.ping()


@pytest.mark.backends("sqlite")
def test_bbox_lookup_uses_rtree_then_exact_geometry(store, layers):
    # An L-shaped zone whose bounding box covers the query box but whose shape does not.
    l_shape = shapely.Polygon([(0, 0), (3, 0), (3, 1), (1, 1), (1, 3), (0, 3)])
    inside, far, l_id = _add(
        store, layers,
        _site(shapely.box(2.1, 2.1, 2.2, 2.2), "inside"),
        _site(shapely.box(50, 50, 51, 51), "far"),
        _site(l_shape, "L"),
    )
    query = (2.0, 2.0, 2.5, 2.5)
    with store.unit_of_work() as uow:
        rtree_hits = uow.connection.exec_driver_sql(
            "SELECT id FROM sites_rtree WHERE maxx >= 2 AND minx <= 2.5 AND maxy >= 2 AND miny <= 2.5"
        ).scalars().all()
        found = [s.name for s in uow.sites.find(bbox=query)]
    assert sorted(rtree_hits) == sorted([inside, l_id])  # the index is a prefilter…
    assert found == ["inside"]  # …the exact test drops the L whose box only overlaps


@pytest.mark.backends("sqlite")
def test_rtree_follows_updates_and_deletes(store, layers):
    (site_id,) = _add(store, layers, _site(shapely.Point(1, 1)))
    with store.unit_of_work(write=True) as uow:
        uow.connection.execute(sa.text("UPDATE sites SET minx=10, maxx=10, miny=10, maxy=10 WHERE id=:i"),
                               {"i": site_id})
        uow.commit()
    with store.unit_of_work() as uow:
        box = uow.connection.exec_driver_sql("SELECT minx, miny FROM sites_rtree").one()
        assert tuple(box) == (10, 10)
    with store.unit_of_work(write=True) as uow:
        uow.connection.execute(sa.text("DELETE FROM sites"))
        uow.commit()
    with store.unit_of_work() as uow:
        assert uow.connection.exec_driver_sql("SELECT count(*) FROM sites_rtree").scalar() == 0


def test_unit_of_work_rolls_back_without_commit(store, layers):
    _add(store, layers)
    with store.unit_of_work(write=True) as uow:
        uow.sites.add(_site(shapely.Point(1, 1)), NOW, actor="test")  # no commit
    with store.unit_of_work() as uow:
        assert uow.sites.count() == 0
    with pytest.raises(RuntimeError), store.unit_of_work(write=True) as uow:
        uow.sites.add(_site(shapely.Point(1, 1)), NOW, actor="test")
        raise RuntimeError("service failed half-way")
    with store.unit_of_work() as uow:
        assert uow.sites.count() == 0


@pytest.mark.backends("sqlite")
def test_write_unit_takes_the_write_lock_up_front(store, config):
    """BEGIN IMMEDIATE: a second writer sees the lock at once, before the first has written."""
    path = config.database_url.removeprefix("sqlite:///")
    with store.unit_of_work(write=True) as uow:
        uow.users.by_name("nobody")  # reads only, yet holds the write lock
        other = sqlite3.connect(path, timeout=0, isolation_level=None)
        with pytest.raises(sqlite3.OperationalError, match="locked"):
            other.execute("BEGIN IMMEDIATE")
        other.close()
    with store.unit_of_work() as uow:  # a read unit does not
        uow.users.by_name("nobody")
        other = sqlite3.connect(path, timeout=0, isolation_level=None)
        other.execute("BEGIN IMMEDIATE")
        other.execute("ROLLBACK")
        other.close()


@pytest.mark.backends("sqlite")
def test_writers_of_one_process_queue_for_the_database_one_after_another(store):
    """Eight threads writing at once: every write lands, none fails on a locked database, and a
    writer waiting in the queue starts only once the one before it has committed."""
    inside: list[int] = []
    errors: list[Exception] = []

    def write(n: int) -> None:
        try:
            for i in range(15):
                with store.unit_of_work(write=True) as uow:
                    uow.audit.record("t", "test.write", f"thread:{n}", {"i": i}, NOW)
                    inside.append(n)
                    assert len(inside) == 1, "two writers inside one write transaction"
                    inside.pop()
                    uow.commit()
        except Exception as exc:  # noqa: BLE001 - reported by the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=write, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    with store.unit_of_work() as uow:
        assert len(uow.audit.recent(limit=1000)) == 8 * 15


@pytest.mark.backends("sqlite")
def test_a_writer_kept_waiting_past_the_busy_timeout_gets_a_locked_database_error(store, monkeypatch):
    """The queue waits no longer than SQLite's own busy timeout, and a failed start frees it."""
    from geo.storage import sqlite

    monkeypatch.setattr(sqlite, "BUSY_TIMEOUT_MS", 200)
    holding, done = threading.Event(), threading.Event()

    def hold() -> None:
        with store.unit_of_work(write=True) as uow:
            uow.audit.record("t", "test.hold", "x", {}, NOW)
            holding.set()
            done.wait(10)
            uow.commit()

    holder = threading.Thread(target=hold)
    holder.start()
    holding.wait(10)
    with store.unit_of_work(write=True) as uow, pytest.raises(sa.exc.OperationalError, match="locked"):
        uow.audit.record("t", "test.late", "x", {}, NOW)
    done.set()
    holder.join()
    with store.unit_of_work(write=True) as uow:  # the queue is free again
        uow.audit.record("t", "test.after", "x", {}, NOW)
        uow.commit()
    with store.unit_of_work() as uow:
        assert [e.action for e in uow.audit.recent()] == ["test.after", "test.hold"]


def test_foreign_keys_are_enforced(store):
    with store.unit_of_work(write=True) as uow, pytest.raises(sa.exc.IntegrityError):
        uow.connection.execute(sa.text(
            "INSERT INTO assignments (user_id, site_id, assigned_at) VALUES (99, 99, '2026-01-01')"
        ))


def test_site_round_trip_keeps_geometry_attributes_and_aware_times(store, layers):
    polygon = shapely.Polygon([(121.1, 41.1), (121.2, 41.1), (121.2, 41.2)])
    site = Site(None, "sanitation_zones", "重点村", polygon, "never_inspected", "210726", "hs-x",
                {"township": "黑山街道", "key_village": True, "households": 320})
    (site_id,) = _add(store, layers, site)
    with store.unit_of_work() as uow:
        got = uow.sites.get(site_id)
        with pytest.raises(NotFound, match="site 999"):
            uow.sites.get(999)
    assert got.geometry.equals(polygon)
    assert got.attributes == site.attributes and got.county == "210726" and got.ref == "hs-x"
    assert got.created_at == NOW and got.created_at.tzinfo is not None


def test_unknown_database_scheme_is_a_clear_error():
    from geo.model import InvalidInput

    with pytest.raises(InvalidInput, match="unsupported database URL scheme 'mysql'"):
        open_store("mysql://localhost/onemap")


def test_migrations_build_exactly_the_declared_schema(store):
    """Alembic's comparison of the migrated database with schema.py finds nothing to change."""
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    from geo.storage.schema import backend_only, metadata

    with store.engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"include_object": backend_only})
        assert compare_metadata(context, metadata) == []


@pytest.mark.backends("sqlite")
def test_rtree_triggers_survive_later_migrations(store):
    with store.engine.connect() as connection:
        triggers = connection.exec_driver_sql("SELECT name FROM sqlite_master WHERE type='trigger'"
                                              " AND tbl_name = 'sites'")
        assert len(triggers.all()) == 3  # the R*Tree's insert, update and delete


@pytest.mark.backends("postgis")
def test_postgis_bbox_is_exact_in_sql_through_the_gist_index(store, layers):
    l_shape = shapely.Polygon([(0, 0), (3, 0), (3, 1), (1, 1), (1, 3), (0, 3)])
    inside, _far, _l = _add(store, layers, _site(shapely.box(2.1, 2.1, 2.2, 2.2), "inside"),
                            _site(shapely.box(50, 50, 51, 51), "far"), _site(l_shape, "L"))
    query = (2.0, 2.0, 2.5, 2.5)
    with store.unit_of_work() as uow:
        run = uow.connection.exec_driver_sql
        assert run("SELECT ST_SRID(shape) FROM sites LIMIT 1").scalar() == 4326
        in_sql = run("SELECT id FROM sites WHERE ST_Intersects(shape, ST_MakeEnvelope(2, 2, 2.5, 2.5, 4326))")
        assert in_sql.scalars().all() == [inside]  # the L's box overlaps, its shape does not
        assert [s.name for s in uow.sites.find(bbox=query)] == ["inside"]
        run("SET enable_seqscan = off")  # three rows: the planner would rightly scan them
        plan = " ".join(run("EXPLAIN SELECT id FROM sites WHERE ST_Intersects(shape, "
                            "ST_MakeEnvelope(2, 2, 2.5, 2.5, 4326))").scalars())
        assert "ix_sites_shape" in plan


@pytest.mark.backends("postgis")
def test_postgis_shape_follows_the_stored_geometry(store, layers):
    (site_id,) = _add(store, layers, _site(shapely.Point(1, 1)))
    with store.unit_of_work(write=True) as uow:
        site = uow.sites.get(site_id)
        uow.sites.update(Site(site_id, site.layer_id, site.name, shapely.Point(10, 20), site.status), NOW,
                         actor="test")
        uow.commit()
    with store.unit_of_work() as uow:
        assert uow.connection.exec_driver_sql("SELECT ST_AsText(shape) FROM sites").scalar() == "POINT(10 20)"


@pytest.mark.backends("postgis")
def test_postgis_write_units_exclude_each_other_across_connections(store):
    """The advisory lock a write unit takes: another connection (another server) cannot take it meanwhile."""
    from geo.storage.postgis import WRITE_LOCK

    other = sa.create_engine(store.url, poolclass=sa.pool.NullPool)
    try:
        with store.unit_of_work(write=True) as uow:
            uow.users.by_name("nobody")  # reads only, yet holds the lock
            with other.connect() as c:
                assert c.exec_driver_sql(f"SELECT pg_try_advisory_xact_lock({WRITE_LOCK})").scalar() is False
        with store.unit_of_work() as uow:  # a read unit does not take it
            uow.users.by_name("nobody")
            with other.connect() as c:
                assert c.exec_driver_sql(f"SELECT pg_try_advisory_xact_lock({WRITE_LOCK})").scalar() is True
    finally:
        other.dispose()


def test_distance_from_a_gps_fix_is_metres_on_either_backend(store, layers):
    """Measured by shapely on SQLite, by ST_Distance on geography in PostGIS: within a metre of each other."""
    from geo.geometry import distance_m

    zone = shapely.box(121.10, 41.10, 121.11, 41.11)
    (site_id,) = _add(store, layers, _site(zone))
    with store.unit_of_work() as uow:
        site = uow.sites.get(site_id)
        assert uow.sites.distance_m(site, 121.105, 41.105) == 0  # inside
        east = uow.sites.distance_m(site, 121.12, 41.105)  # 0.01° east of the edge: about 839 m
    assert abs(east - distance_m((121.12, 41.105), zone)) < 1.0 and 835 < east < 845


def test_grid_cells_hold_the_sites_whose_point_is_inside(store, layers):
    cell = shapely.box(121.0, 41.0, 121.1, 41.1)
    cell_id, inside, outside, straddling = _add(
        store, layers, _site(cell, "cell", layer="grid_cells"),
        _site(shapely.Point(121.05, 41.05), "in"), _site(shapely.Point(121.2, 41.05), "out"),
        _site(shapely.box(121.09, 41.0, 121.3, 41.1), "mostly out"))  # its point lies outside the cell
    with store.unit_of_work() as uow:
        assert uow.sites.in_cells([cell_id, inside], "grid_cells") == {cell_id, inside}
        assert uow.sites.in_cells([inside, outside], "grid_cells") == set()  # not cells


@pytest.mark.backends("postgis")
def test_postgis_a_pooled_connection_the_server_dropped_while_idle_is_replaced(store, monkeypatch):
    """After a server restart or a failover the pool's idle connections are dead: the next unit still
    works, on a new connection, because a connection idle for a while is pinged before use."""
    from geo.storage import postgis

    def backend_pid() -> int:
        with store.unit_of_work() as uow:
            return uow.connection.exec_driver_sql("SELECT pg_backend_pid()").scalar_one()

    first = backend_pid()
    assert backend_pid() == first  # pooled: the same connection again
    killer = sa.create_engine(store.url, poolclass=sa.pool.NullPool)
    try:
        with killer.connect() as connection:
            assert connection.exec_driver_sql(f"SELECT pg_terminate_backend({first})").scalar_one()
    finally:
        killer.dispose()
    monkeypatch.setattr(postgis, "PING_AFTER_IDLE_S", 0.0)  # as if it had been idle for a while
    assert backend_pid() != first
    with store.unit_of_work() as uow:
        assert uow.users.by_name("nobody") is None


@pytest.mark.backends("postgis")
def test_postgis_brief_units_run_their_statement_outside_a_transaction(store):
    """A login's or a token's look-up opens no transaction (no BEGIN and ROLLBACK round trips), and the
    pooled connection is transactional again for the next unit."""
    import psycopg

    def status(uow):
        return uow.connection.connection.dbapi_connection.info.transaction_status

    with store.unit_of_work(brief=True) as uow:
        assert uow.users.by_name("nobody") is None
        assert status(uow) == psycopg.pq.TransactionStatus.IDLE
    with store.unit_of_work() as uow:
        uow.users.by_name("nobody")
        assert status(uow) == psycopg.pq.TransactionStatus.INTRANS


@pytest.mark.backends("postgis")
def test_postgis_units_safe_beside_other_writers_skip_the_writers_lock(store):
    """Filing a report (begin_write(exclusive=False)) goes on while another server holds the lock."""
    from geo.storage.postgis import WRITE_LOCK

    other = sa.create_engine(store.url, poolclass=sa.pool.NullPool)
    try:
        with other.connect() as holder:
            holder.exec_driver_sql(f"SELECT pg_advisory_lock({WRITE_LOCK})")  # a review in progress elsewhere
            with store.unit_of_work() as uow:
                uow.begin_write(exclusive=False)
                uow.audit.record("t", "report.file", "site:1", {}, NOW)
                uow.commit()
            with store.unit_of_work() as uow:
                uow.connection.exec_driver_sql("SET lock_timeout = '300ms'")
                uow.connection.commit()
                uow.begin_write()  # exclusive: waits for the holder, here until the timeout
                with pytest.raises(sa.exc.OperationalError, match="lock timeout"):
                    uow.audit.record("t", "report.approve", "report:1", {}, NOW)
            holder.exec_driver_sql(f"SELECT pg_advisory_unlock({WRITE_LOCK})")
    finally:
        other.dispose()
    with store.unit_of_work() as uow:
        assert [e.action for e in uow.audit.recent()] == ["report.file"]
