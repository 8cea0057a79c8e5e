"""Migrations fill what they add for the data already stored."""

import shapely
import sqlalchemy as sa
from alembic import command
from alembic.config import Config

from geo.storage.sql import MIGRATIONS

WKB = shapely.to_wkb(shapely.box(121.0, 41.0, 121.01, 41.01))


def _migrations(tmp_path):
    """Alembic's config for the migrations, and an engine on a new SQLite file to run them on."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    return config, sa.create_engine(f"sqlite:///{tmp_path / 'old.db'}")


def _layer_and_worker(run) -> None:
    run(sa.text("INSERT INTO layers (id, definition, updated_at) VALUES ('zones', '{}', '2026-01-01')"))
    run(sa.text("INSERT INTO users (id, username, password_hash, role, active, created_at)"
                " VALUES (1, 'w', 'x', 'worker', 1, '2026-01-01')"))


def test_0004_marks_sites_whose_latest_report_awaits_review(tmp_path):
    config, engine = _migrations(tmp_path)
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "0003")
        run = connection.execute
        _layer_and_worker(run)
        for site_id, review in ((1, "pending"), (2, "approved"), (3, None)):
            run(sa.text("INSERT INTO sites (id, layer_id, name, status, geom, minx, miny, maxx, maxy,"
                        " attributes, version, created_at, updated_at, last_report_id) VALUES (:id, 'zones',"
                        " 'z', 'ok', :g, 121, 41, 121.01, 41.01, '{}', 1, '2026-01-01', '2026-01-01', :r)"),
                {"id": site_id, "g": WKB, "r": site_id if review else None})
            if review:
                run(sa.text("INSERT INTO reports (id, uuid, site_id, user_id, checklist, metrics, note,"
                            " flags, observed_at, received_at, content_hash, review_status) VALUES (:id, :u,"
                            " :id, 1, '{}', '{}', '', '[]', '2026-01-01', '2026-01-01', 'h', :s)"),
                    {"id": site_id, "u": f"uuid-{site_id}", "s": review})
        command.upgrade(config, "head")
        rows = dict(run(sa.text("SELECT id, last_review FROM sites")).all())
    assert rows == {1: "pending", 2: "approved", 3: None}


def test_0006_records_every_stored_site_as_its_current_version(tmp_path):
    config, engine = _migrations(tmp_path)
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "0005")
        run = connection.execute
        run(sa.text("INSERT INTO layers (id, definition, updated_at) VALUES ('zones', '{}', '2026-01-01')"))
        run(sa.text("INSERT INTO sites (id, layer_id, ref, name, status, geom, minx, miny, maxx, maxy,"
                    " attributes, version, created_at, updated_at) VALUES (7, 'zones', 'Z-7', '老村',"
                    " 'ok', :g, 121, 41, 121.01, 41.01, :a, 3, '2025-01-01', '2026-02-03 04:05:06')"),
            {"g": WKB, "a": '{"township": "芳山镇"}'})
        command.upgrade(config, "head")
        [row] = run(sa.text("SELECT site_id, version, ref, name, status, attributes, action, actor, deleted,"
                            " at FROM site_versions")).all()
        deleted_at = run(sa.text("SELECT deleted_at FROM sites WHERE id = 7")).scalar()
    assert row[:8] == (7, 3, "Z-7", "老村", "ok", '{"township": "芳山镇"}', "initial", None)
    assert row.deleted == 0 and row.at.startswith("2026-02-03 04:05:06") and deleted_at is None


def test_0008_sums_the_metrics_of_the_reports_already_stored(tmp_path):
    config, engine = _migrations(tmp_path)
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "0007")
        run = connection.execute
        _layer_and_worker(run)
        run(sa.text("INSERT INTO sites (id, layer_id, name, status, geom, minx, miny, maxx, maxy,"
                    " attributes, version, created_at, updated_at) VALUES (1, 'zones', 'z', 'ok', :g,"
                    " 121, 41, 121.01, 41.01, '{}', 1, '2026-01-01', '2026-01-01')"), {"g": WKB})
        for report_id, metrics, review in ((1, '{"tonnes": 2.5, "people": 3}', "approved"),
                                           (2, '{"tonnes": 1, "note": "x"}', "pending"),
                                           (3, '{"tonnes": 100}', "rejected")):
            run(sa.text("INSERT INTO reports (id, uuid, site_id, user_id, checklist, metrics, note, flags,"
                        " observed_at, received_at, content_hash, review_status) VALUES (:id, :u, 1, 1, '{}',"
                        " :m, '', '[]', '2026-01-01', '2026-01-01', 'h', :s)"),
                {"id": report_id, "u": f"uuid-{report_id}", "m": metrics, "s": review})
        command.upgrade(config, "head")
        totals = dict(run(sa.text("SELECT metric, total FROM metric_totals WHERE layer_id = 'zones'")).all())
    assert totals == {"tonnes": 3.5, "people": 3.0}
