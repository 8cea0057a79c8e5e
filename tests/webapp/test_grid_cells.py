"""Grid cells (网格): a cell assigned to a worker makes every site inside it theirs."""

import json
from datetime import UTC, datetime

import shapely
from click.testing import CliRunner
from shapely.geometry import mapping

from geo import services
from geo.access import system_user
from geo.storage import open_store
from tests.factories import ALL_PASS
from webapp.cli import main
from webapp.settings import load_config


def test_grid_cells_import_assign_and_what_a_worker_may_see_and_file(tmp_path, monkeypatch, database_url):
    monkeypatch.setenv("ONEMAP_INSTANCE", str(tmp_path / "instance"))
    monkeypatch.setenv("ONEMAP_DATABASE_URL", database_url)
    runner = CliRunner()

    def run(*args):
        return runner.invoke(main, list(args), catch_exceptions=False)

    assert run("init").exit_code == 0
    assert run("users", "add", "li", "--role", "worker", "--password", "long-enough-1").exit_code == 0
    store = open_store(load_config().database_url)
    with store.unit_of_work() as uow:
        zones = list(uow.sites.find(layer_id="sanitation_zones"))
    west = shapely.box(121.8, 41.4, 122.0, 42.2)  # the western strip of Heishan
    inside = sorted(z.id for z in zones if west.contains(z.geometry.representative_point()))
    outside = [z.id for z in zones if z.id not in inside]
    assert inside and outside
    cells = tmp_path / "cells.geojson"
    cells.write_text(json.dumps({"type": "FeatureCollection", "features": [
        {"type": "Feature", "geometry": mapping(west),
         "properties": {"name": "黑山西部网格", "ref": "HS-W", "township": "示意"}}]}), encoding="utf-8")
    imported = run("import", str(cells), "--layer", "grid_cells")
    assert imported.exit_code == 0, imported.output

    unknown = run("users", "assign", "li", "--grid", "HS-X")
    assert unknown.exit_code == 1 and "没有网格 HS-X" in unknown.output  # the CLI follows ONEMAP_LANG (zh_CN)
    assert run("users", "assign", "li", "--grid", "HS-W").exit_code == 0

    from webapp import create_app

    app = create_app(load_config())
    with store.unit_of_work(write=True) as uow:
        token = services.issue_token("li", uow=uow, user=system_user("t"), now=datetime.now(UTC))
    client = app.test_client()
    headers = {"Authorization": f"Bearer {token}"}
    seen = client.get("/api/v1/layers/sanitation_zones/features", headers=headers).get_json()
    assert sorted(f["id"] for f in seen["features"]) == inside

    def file(site_id):
        body = {"uuid": f"00000000-0000-4000-8000-{site_id:012d}", "checklist": ALL_PASS,
                "observed_at": datetime.now(UTC).isoformat()}
        return client.post(f"/api/v1/sites/{site_id}/reports", data={"report": json.dumps(body)},
                           headers=headers, content_type="multipart/form-data")

    assert file(inside[0]).status_code == 201
    assert file(outside[0]).status_code == 404
    with store.unit_of_work() as uow:
        cell_id = uow.sites.ids_by_ref("grid_cells")["HS-W"]
    refused = file(cell_id)
    assert refused.status_code == 422 and "不填报巡查报告" in refused.get_json()["message"]
    app.extensions["onemap.store"].close()
    store.close()
