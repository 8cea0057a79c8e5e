"""The `onemap` command, run as a user would run it (in-process through click, and as a process)."""

import json
import os
import socket
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from pathlib import Path

import geopandas as gpd
import pytest
import shapely
from click.testing import CliRunner

from geo.access import system_user
from geo.storage import open_store
from tests.factories import shipped_count
from webapp.cli import main
from webapp.settings import load_config


@pytest.fixture
def run(tmp_path, monkeypatch, database_url):
    """`onemap …` in-process on a new instance in tmp_path/instance (on each backend)."""
    monkeypatch.setenv("ONEMAP_INSTANCE", str(tmp_path / "instance"))
    monkeypatch.setenv("ONEMAP_DATABASE_URL", database_url)
    monkeypatch.setenv("ONEMAP_LANG", "en")  # these tests read the English; the default is zh_CN
    runner = CliRunner()

    def invoke(*args, input=None):
        return runner.invoke(main, list(args), input=input, catch_exceptions=False)

    return invoke


def _site_table(url: str | None = None):
    """(id, layer, ref) of every site, in the instance the environment names (or at ``url``)."""
    store = open_store(url or load_config().database_url)
    with store.unit_of_work() as uow:
        rows = uow.connection.exec_driver_sql(
            "SELECT id, layer_id, ref FROM sites ORDER BY id").all()
    store.close()
    return [tuple(r) for r in rows]


def test_init_twice_gives_the_same_database(run, tmp_path):
    first = run("init")
    assert first.exit_code == 0, first.output
    before = _site_table()
    counts = {}
    for _, layer, _ in before:
        counts[layer] = counts.get(layer, 0) + 1
    layers = ("sanitation_zones", "mines", "road_works", "port_multimodal")
    assert counts == {layer: shipped_count(layer) for layer in layers}  # every site data/jinzhou ships
    assert "sites: " in first.output and "new" in first.output
    second = run("init")
    assert second.exit_code == 0 and "sites: 0 new" in second.output
    assert _site_table() == before  # same ids, same refs, same count


@pytest.mark.backends("sqlite")  # the command's words; its storage runs on both
def test_init_demo_prints_one_working_password_per_role(run, tmp_path):
    result = run("init", "--demo")
    assert result.exit_code == 0
    lines = [line for line in result.output.splitlines() if "password:" in line]
    assert [line.split()[1] for line in lines] == ["planner", "worker", "manager", "admin"]
    again = run("init", "--demo")
    assert "password unchanged" in again.output


@pytest.mark.backends("sqlite")  # the command's words; its storage runs on both
def test_validate_layers_ok_and_broken(run, tmp_path):
    ok = run("validate-layers")
    assert ok.exit_code == 0 and "ok  sanitation_zones" in ok.output
    broken = tmp_path / "layers"
    broken.mkdir()
    (broken / "mines.yaml").write_text("id: mines\nname: {zh_CN: 矿, en: Mine}\n", encoding="utf-8")
    result = run("validate-layers", str(broken))
    assert result.exit_code == 1
    assert result.output.strip().startswith("onemap: mines.yaml: ")
    assert "required field is missing" in result.output


@pytest.mark.backends("sqlite")  # the command's words; its storage runs on both
def test_users_add_assign_token(run, tmp_path):
    run("init")
    assert run("users", "add", "li", "--role", "worker", "--password", "s3cret-pass").exit_code == 0
    duplicate = run("users", "add", "li", "--role", "worker", "--password", "s3cret-pass")
    assert duplicate.exit_code == 1 and "already exists" in duplicate.output
    short = run("users", "add", "wang", "--role", "planner", "--password", "short")
    assert short.exit_code == 1 and "password" in short.output
    prompted = run("users", "add", "zhao", "--role", "manager", input="long-enough-1\nlong-enough-1\n")
    assert prompted.exit_code == 0
    assert run("users", "assign", "li", "1", "2").exit_code == 0
    again = run("users", "assign", "li", "2", "3")
    assert "1 site(s) newly assigned, 1 already assigned" in again.output
    missing = run("users", "assign", "li", "99999")
    assert missing.exit_code == 1 and "no site with id 99999" in missing.output
    not_worker = run("users", "assign", "zhao", "1")
    assert not_worker.exit_code == 1 and "assigned to workers" in not_worker.output
    token = run("users", "token", "li")
    assert token.exit_code == 0 and token.output.strip().startswith("om_")


def _zones_file(path: Path, features):
    gpd.GeoDataFrame(features, geometry="geometry", crs="EPSG:4326").to_file(path, driver="GeoJSON")
    return path


def _zone(name, x, y, **extra):
    return {"name": name, "township": "黑山街道", "key_village": True, "geometry": shapely.box(x, y, x + .01,
            y + .01), **extra}


def test_import_checks_everything_first_and_writes_nothing_on_rejection(run, tmp_path):
    run("init")
    before = _site_table()
    path = _zones_file(tmp_path / "zones.geojson", [
        _zone("好村一", 122.1, 41.7),
        _zone("坏户数", 122.2, 41.7, households=-5),
        {"name": "无乡镇", "key_village": True, "geometry": shapely.box(122.3, 41.7, 122.31, 41.71)},
        _zone("好村二", 122.4, 41.7),
    ])
    result = run("import", str(path), "--layer", "sanitation_zones")
    assert result.exit_code == 1
    assert "2 feature(s) rejected, nothing imported" in result.output
    assert "feature 1: households: -5 is below the minimum 0" in result.output
    assert "feature 2: township: required attribute is missing" in result.output
    assert _site_table() == before

    skipped = run("import", str(path), "--layer", "sanitation_zones", "--skip-invalid")
    assert skipped.exit_code == 0, skipped.output
    assert "2 site(s) imported, 2 rejected" in skipped.output
    after = _site_table()
    assert len(after) == len(before) + 2


@pytest.mark.backends("sqlite")  # the command's words; its storage runs on both
def test_import_of_an_unreadable_file_exits_nonzero_and_stores_nothing(run, tmp_path):
    run("init")
    before = _site_table()
    garbage = tmp_path / "zones.geojson"
    garbage.write_bytes(b"\x00\x01 this is not geojson")
    result = run("import", str(garbage), "--layer", "sanitation_zones")
    assert result.exit_code == 1 and "zones.geojson" in result.output
    missing = run("import", str(tmp_path / "nope.gpkg"), "--layer", "sanitation_zones")
    assert missing.exit_code == 1 and "nope.gpkg" in missing.output
    unknown_layer = run("import", str(garbage), "--layer", "rivers")
    assert unknown_layer.exit_code == 1 and "no layer 'rivers'" in unknown_layer.output
    assert _site_table() == before


def test_import_with_gcj02_shifts_onto_wgs84(run, tmp_path):
    run("init")
    path = _zones_file(tmp_path / "gcj.geojson", [_zone("偏移村", 122.1, 41.7, ref="gcj-1")])
    assert run("import", str(path), "--layer", "sanitation_zones", "--crs", "gcj02").exit_code == 0
    store = open_store(load_config().database_url)
    with store.unit_of_work() as uow:
        (site,) = [s for s in uow.sites.find(layer_id="sanitation_zones") if s.ref == "gcj-1"]
    store.close()
    assert -0.008 < site.geometry.bounds[0] - 122.1 < -0.004
    assert site.county == "210726"  # found by position in the Heishan boundary


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_serve_starts_an_empty_instance_with_all_layers(tmp_path, config):
    """`onemap serve` on a new instance: creates the database, loads the data, answers HTTP."""
    port = _free_port()
    env = dict(os.environ, ONEMAP_INSTANCE=str(config.instance), ONEMAP_DATABASE_URL=config.database_url)
    onemap = Path(sys.executable).with_name("onemap")
    log = tmp_path / "serve.log"
    with log.open("w") as out:
        process = subprocess.Popen([str(onemap), "serve", "--port", str(port)], env=env, cwd=tmp_path,
                                   stdout=out, stderr=subprocess.STDOUT)
    try:
        for _ in range(300):
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1) as r:
                    assert json.load(r) == {"status": "ok"}
                break
            except OSError:
                time.sleep(0.1)
        else:
            pytest.fail("onemap serve did not answer: " + log.read_text())
        layers = _site_table(config.database_url)
        assert {layer for _, layer, _ in layers} == {"mines", "sanitation_zones", "road_works",
                                                      "port_multimodal"}
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=5) as r:
            page, where = r.read().decode(), urllib.parse.urlsplit(r.url)
        # whoever opens the new server is sent to the login page, and comes back to the map after it
        assert r.status == 200 and where.path == "/login", r.url
        assert urllib.parse.parse_qs(where.query) == {"next": ["/"]}, r.url
        assert 'name="password"' in page and 'name="csrf_token"' in page and "登录" in page
    finally:
        process.terminate()
        process.wait(timeout=10)


def test_export_geojson_is_rfc7946_and_filtered(run, tmp_path):
    run("init")
    out = tmp_path / "zones.geojson"
    result = run("export", "sanitation_zones", "--format", "geojson", "-o", str(out), "--lang", "zh_CN")
    assert result.exit_code == 0 and f"{shipped_count('sanitation_zones')} site(s)" in result.output
    collection = json.loads(out.read_text(encoding="utf-8"))
    assert "crs" not in collection and len(collection["features"]) == shipped_count("sanitation_zones")
    first = collection["features"][0]
    assert isinstance(first["id"], int) and first["properties"]["status"] == "never_inspected"
    assert first["properties"]["status_label"] == "尚未巡查"
    ring = shapely.LinearRing(first["geometry"]["coordinates"][0])
    assert ring.is_ccw  # right-hand rule: exterior counter-clockwise
    lon, lat = first["geometry"]["coordinates"][0][0]
    assert 121.8 < lon < 122.7 and 41.4 < lat < 42.2  # lon/lat order, WGS84

    mines = tmp_path / "mines.geojson"
    run("export", "mines", "-o", str(mines), "--county", "210726")
    names = [f["properties"]["name"] for f in json.loads(mines.read_text())["features"]]
    assert names == ["黑山县万程膨润土有限责任公司"]
    bad = run("export", "mines", "-o", str(tmp_path / "x.geojson"), "--status", "finished")
    assert bad.exit_code == 1 and "'finished' is not a status of mines" in bad.output
    assert not (tmp_path / "x.geojson").exists()


def test_export_as_of_a_day_before_the_data_was_loaded_is_empty(run, tmp_path):
    run("init")
    out = tmp_path / "zones.geojson"
    assert run("export", "sanitation_zones", "-o", str(out), "--as-of", "2020-01-01").exit_code == 0
    assert json.loads(out.read_text(encoding="utf-8"))["features"] == []
    assert run("export", "sanitation_zones", "-o", str(out), "--as-of", "2999-01-01").exit_code == 1
    bad = run("export", "sanitation_zones", "-o", str(out), "--as-of", "last week")
    assert bad.exit_code == 1 and "--as-of" in bad.output


@pytest.mark.parametrize("fmt", ["gpkg", "csv", "kml", "xlsx"])
def test_export_other_formats_read_back(run, tmp_path, fmt):
    import pyogrio

    from geo.io.read import read_features

    run("init")
    out = tmp_path / f"roads.{fmt}"
    assert run("export", "road_works", "--format", fmt, "-o", str(out)).exit_code == 0
    if fmt == "xlsx":  # a table for spreadsheets: WKT geometry column
        table = pyogrio.read_dataframe(out, read_geometry=False)
        rows = table.to_dict("records")
        assert rows[0]["WKT"].startswith("LINESTRING")
    else:  # what an import of the file would see
        rows = [c.properties | {"length": c.geometry.length} for c in read_features(out).features]
        assert rows[0]["length"] > 0.015  # about 2.2 km of line, in degrees
    table = fmt in ("csv", "xlsx")  # tables for people: headers in ONEMAP_LANG, the status by its label
    name, status = ("Name", "Status") if table else ("name", "status")
    assert len(rows) == 1 and rows[0][name] == "士英北街新建道路工程"
    assert rows[0][status] == ("Main works complete" if table else "main_complete")


def test_recompute_status_sets_every_site_again_from_its_reports(run):
    """After reports were stored without the sites' columns being kept (a bulk load), the command puts
    each site's latest counting report and result back, and only on the layer asked for."""
    from datetime import UTC, datetime

    from geo import services
    from tests.factories import ALL_PASS, add_report

    assert run("init").exit_code == 0
    store = open_store(load_config().database_url)
    with store.unit_of_work(write=True) as uow:
        services.add_user("w1", "worker", "a long password 1", uow=uow, user=system_user("test"),
                          now=datetime.now(UTC))
    with store.unit_of_work(write=True) as uow:
        zone = next(uow.sites.find(layer_id="sanitation_zones"))
        add_report(uow, zone.id, "w1", checklist={**ALL_PASS, "swept_clean": "fail"},
                   observed_at=datetime(2026, 11, 3, 9, tzinfo=UTC))
        uow.connection.exec_driver_sql(
            "UPDATE sites SET last_report_id = NULL, last_inspected_at = NULL, last_result = NULL,"
            " last_review = NULL")
        uow.commit()

    def latest():
        with store.unit_of_work() as uow:
            site = uow.sites.get(zone.id)
            return site.last_inspected_at, site.last_result

    assert latest() == (None, None)
    other = run("recompute-status", "--layer", "mines")
    assert other.exit_code == 0 and "mines: 0 site(s) changed" in other.output
    assert latest() == (None, None)
    done = run("recompute-status")
    assert done.exit_code == 0 and "all layers: 1 site(s) changed" in done.output, done.output
    assert latest() == (datetime(2026, 11, 3, 9, tzinfo=UTC), "fail")
    with store.unit_of_work() as uow:
        assert uow.audit.recent(limit=1)[0].action == "sites.recompute_status"
    store.close()
    unknown = run("recompute-status", "--layer", "rivers")
    assert unknown.exit_code == 1 and "no layer 'rivers'" in unknown.output
