"""The manager's import pages (/manage/import: upload → preview → confirm or cancel) and `onemap import`."""

import io
import os
import re
import time
import zipfile

import geopandas as gpd
import pytest
from click.testing import CliRunner
from werkzeug.datastructures import FileStorage
from werkzeug.test import encode_multipart

from tests.factories import geojson
from tests.factories import import_zone as zone
from webapp.blueprints import imports as import_pages
from webapp.cli import main
from webapp.context import get_uow

PAGE = "/manage/import"


def upload(client, auth, content: bytes, name="村庄.geojson", layer="sanitation_zones", crs="", csrf=True,
           lang=None, **more):
    data = {"layer": layer, "crs": crs, "file": FileStorage(io.BytesIO(content), filename=name), **more}
    if csrf:
        data["csrf_token"] = auth.csrf(PAGE)
    # Encoded in memory: the test client would spool a large body to a file it never closes.
    boundary, body = encode_multipart(data)
    return client.post(PAGE + (f"?lang={lang}" if lang else ""), data=body,
                       content_type=f"multipart/form-data; boundary={boundary}")


def token_of(page: str) -> str:
    return re.search(r'/manage/import/([\w-]+)/confirm', page).group(1)


def digest_of(page: str) -> str:
    return re.search(r'name="digest" value="([0-9a-f]+)"', page).group(1)


def confirm(client, auth, page: str, **overrides):
    data = {"csrf_token": auth.csrf(PAGE), "digest": digest_of(page)} | overrides
    return client.post(f"{PAGE}/{token_of(page)}/confirm", data=data)


def zones(app):
    with app.app_context(), get_uow() as uow:
        return {s.ref: s for s in uow.sites.find(layer_id="sanitation_zones")}


def counts(app):
    with app.app_context(), get_uow() as uow:
        return uow.sites.count(), len(uow.audit.recent(1000))


def waiting(app):
    folder = app.config["ONEMAP"].instance / "imports"
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


def count_cell(page: str, kind: str) -> int:
    return int(re.search(rf'data-count="{kind}">(\d+)<', page).group(1))


# ------------------------------------------------------------------ who may import
@pytest.mark.backends("sqlite")  # refused or shown before anything is stored
@pytest.mark.parametrize("role", ["planner", "worker"])
def test_planners_and_workers_are_refused(client, auth, role):
    auth.login_as(role)
    assert client.get(PAGE).status_code == 403
    assert upload(client, auth, geojson(zone("Z1", 0))).status_code == 403
    assert "/manage/import" not in client.get("/").get_data(as_text=True)


@pytest.mark.backends("sqlite")  # refused or shown before anything is stored
def test_anonymous_users_are_sent_to_log_in(client):
    response = client.get(PAGE)
    assert response.status_code == 302 and response.headers["Location"].startswith("/login")


@pytest.mark.backends("sqlite")  # refused or shown before anything is stored
@pytest.mark.parametrize("role", ["manager", "admin"])
def test_managers_and_admins_see_the_form_linked_from_the_navigation(client, auth, role):
    auth.login_as(role)
    page = client.get(PAGE).get_data(as_text=True)
    assert 'enctype="multipart/form-data"' in page and 'value="sanitation_zones"' in page
    assert f'href="{PAGE}">数据导入</a>' in client.get("/manage/reports").get_data(as_text=True)


# ------------------------------------------------------------------ preview, confirm, cancel
def test_preview_writes_nothing_and_confirm_commits_it(app, client, auth):
    auth.login_as("manager")
    before = counts(app)
    preview = upload(client, auth, geojson(zone("Z1", 0), zone("Z2", 1), zone("Z3", 2)))
    page = preview.get_data(as_text=True)
    assert preview.status_code == 200
    assert (count_cell(page, "add"), count_cell(page, "update"), count_cell(page, "rejected")) == (3, 0, 0)
    assert "村庄.geojson" in page and "确认导入（3个站点）" in page
    assert counts(app) == before and waiting(app) == [token_of(page)]
    assert client.get(f"{PAGE}/{token_of(page)}").get_data(as_text=True).count('data-feature="') == 3

    done = confirm(client, auth, page)
    assert done.status_code == 302 and done.headers["Location"] == PAGE
    assert "新增3个，更新0个" in client.get(PAGE).get_data(as_text=True)
    assert counts(app) == (before[0] + 3, before[1] + 1)
    assert waiting(app) == []  # the upload is deleted once imported
    gone = client.post(f"{PAGE}/{token_of(page)}/confirm", data={"csrf_token": auth.csrf(PAGE)})
    assert gone.status_code == 404 and "该导入已不存在" in gone.get_data(as_text=True)


def versions_of(client, site_id):
    return client.get(f"/api/v1/sites/{site_id}/versions").get_json()["versions"]


def test_the_comment_given_on_upload_goes_through_the_preview_onto_every_version(app, client, auth):
    auth.login_as("manager")
    page = upload(client, auth, geojson(zone("Z1", 0), zone("Z2", 1)), comment=" 2026年二季度普查 ")
    text = page.get_data(as_text=True)
    assert page.status_code == 200 and ">2026年二季度普查</textarea>" in text  # shown, editable, on confirm
    assert confirm(client, auth, text).status_code == 302
    added = zones(app)
    assert [(v["action"], v["comment"]) for v in versions_of(client, added["Z1"].id)] == [
        ("import", "2026年二季度普查")]
    assert versions_of(client, added["Z2"].id)[-1]["comment"] == "2026年二季度普查"
    # the comment edited on the preview page is the one stored; the update is a version with it
    text = upload(client, auth, geojson(zone("Z1", 0, households=11), zone("Z2", 1)),
                  comment="普查").get_data(as_text=True)
    assert confirm(client, auth, text, comment="户数更正").status_code == 302
    assert [(v["action"], v["comment"]) for v in versions_of(client, added["Z1"].id)] == [
        ("import", "2026年二季度普查"), ("import", "户数更正")]
    assert len(versions_of(client, added["Z2"].id)) == 1  # unchanged: no new version


@pytest.mark.backends("sqlite")  # refused or shown before anything is stored
def test_a_comment_too_long_is_refused_naming_it_and_nothing_is_written(app, client, auth):
    auth.login_as("manager")
    before = counts(app)
    refused = upload(client, auth, geojson(zone("Z1", 0)), comment="长" * 2001)
    assert refused.status_code == 422 and "说明不超过 2000 个字" in refused.get_data(
        as_text=True)
    assert waiting(app) == [] and counts(app) == before
    text = upload(client, auth, geojson(zone("Z1", 0))).get_data(as_text=True)
    again = confirm(client, auth, text, comment="长" * 2001)
    assert again.status_code == 422 and "comment：" in again.get_data(as_text=True)
    assert counts(app) == before and waiting(app) == [token_of(text)]  # still there, to confirm again


def test_the_same_file_again_is_unchanged_and_an_edited_one_shows_what_changes(app, client, auth):
    auth.login_as("manager")
    original = geojson(zone("Z1", 0), zone("Z2", 1))
    confirm(client, auth, upload(client, auth, original).get_data(as_text=True))
    ids = {ref: site.id for ref, site in zones(app).items() if ref in ("Z1", "Z2")}

    again = upload(client, auth, original).get_data(as_text=True)
    assert (count_cell(again, "add"), count_cell(again, "unchanged")) == (0, 2)
    assert "/confirm" not in again and "没有需要写入的内容" in again and waiting(app) == []

    edited = upload(client, auth, geojson(zone("Z1", 0, households=12), zone("Z2", 5), zone("Z3", 2)))
    page = edited.get_data(as_text=True)
    assert (count_cell(page, "add"), count_cell(page, "update"), count_cell(page, "unchanged")) == (1, 2, 0)
    z1 = page.split(f'data-site="{ids["Z1"]}"')[1].split("</tr>")[0]
    assert "户数: 10 → <b>12</b>" in z1 and "<td>否</td>" in z1  # geometry unchanged
    z2 = page.split(f'data-site="{ids["Z2"]}"')[1].split("</tr>")[0]
    assert "<td>是</td>" in z2  # moved
    assert confirm(client, auth, page).status_code == 302
    after = zones(app)
    assert {ref: after[ref].id for ref in ids} == ids
    assert after["Z1"].attributes["households"] == 12 and after["Z2"].version == 2 and "Z3" in after


@pytest.mark.backends("sqlite")  # refused or shown before anything is stored
def test_confirm_needs_the_csrf_token(app, client, auth):
    auth.login_as("manager")
    page = upload(client, auth, geojson(zone("Z1", 0))).get_data(as_text=True)
    before = counts(app)
    refused = client.post(f"{PAGE}/{token_of(page)}/confirm", data={"digest": digest_of(page)})
    assert refused.status_code == 400
    assert counts(app) == before and waiting(app) == [token_of(page)]
    assert upload(client, auth, geojson(zone("Z1", 0)), csrf=False).status_code == 400


def test_a_changed_store_shows_the_new_preview_instead_of_importing(app, client, auth):
    auth.login_as("manager")
    first = upload(client, auth, geojson(zone("Z1", 0), zone("Z2", 1))).get_data(as_text=True)
    second = upload(client, auth, geojson(zone("Z1", 0, households=30))).get_data(as_text=True)
    assert confirm(client, auth, second).status_code == 302  # Z1 is stored before the first is confirmed
    before = counts(app)

    stale = confirm(client, auth, first)
    page = stale.get_data(as_text=True)
    assert stale.status_code == 409 and "预览之后已存数据有变化" in page
    assert (count_cell(page, "add"), count_cell(page, "update")) == (1, 1)
    assert counts(app) == before
    assert confirm(client, auth, page).status_code == 302
    assert zones(app)["Z1"].attributes["households"] == 10 and "Z2" in zones(app)


@pytest.mark.backends("sqlite")  # upload folders, not the database
def test_cancel_deletes_the_upload(app, client, auth):
    auth.login_as("manager")
    page = upload(client, auth, geojson(zone("Z1", 0))).get_data(as_text=True)
    before = counts(app)
    cancelled = client.post(f"{PAGE}/{token_of(page)}/cancel", data={"csrf_token": auth.csrf(PAGE)})
    assert cancelled.status_code == 302 and waiting(app) == [] and counts(app) == before
    assert client.get(f"{PAGE}/{token_of(page)}").status_code == 404


@pytest.mark.backends("sqlite")  # upload folders, not the database
def test_another_managers_upload_cannot_be_seen_or_confirmed(app, client, auth):
    auth.login_as("manager")
    page = upload(client, auth, geojson(zone("Z1", 0))).get_data(as_text=True)
    client.post("/logout", data={"csrf_token": auth.csrf(PAGE)})
    auth.login_as("admin")
    assert client.get(f"{PAGE}/{token_of(page)}").status_code == 404
    assert confirm(client, auth, page).status_code == 404
    assert client.get(f"{PAGE}/..%2F..%2Fsecret_key").status_code == 404


@pytest.mark.backends("sqlite")  # upload folders, not the database
def test_uploads_older_than_a_day_are_removed_when_the_page_is_used(app, client, auth):
    auth.login_as("manager")
    old = upload(client, auth, geojson(zone("Z1", 0))).get_data(as_text=True)
    fresh = upload(client, auth, geojson(zone("Z2", 1))).get_data(as_text=True)
    folder = app.config["ONEMAP"].instance / "imports" / token_of(old)
    two_days_ago = time.time() - 2 * 86400
    os.utime(folder, (two_days_ago, two_days_ago))
    client.get(PAGE)
    assert waiting(app) == [token_of(fresh)]


# ------------------------------------------------------------------ bad files: a clear error, nothing written
def _zip_without_shapefile() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("readme.txt", "no shapefile here")
    return buffer.getvalue()


@pytest.mark.backends("sqlite")  # refused or shown before anything is stored
@pytest.mark.parametrize("name, content, message", [
    ("notes.txt", b"hello", "unknown file type &#39;.txt&#39;"),
    ("empty.geojson", b"", "empty.geojson: the file is empty (0 bytes)"),
    ("shapes.zip", _zip_without_shapefile(), "shapes.zip: no Shapefile (.shp) inside the zip archive"),
    ("村庄.csv", "name,township\n村一,黑山街道\n".encode(), "村庄.csv: no geometry columns"),
    ("broken.geojson", b'{"type": "FeatureCollection", "features": [',
     "broken.geojson: not a readable GeoJSON"),
])
def test_unreadable_files_get_a_clear_error_and_nothing_is_written(app, client, auth, name, content, message):
    auth.login_as("manager")
    before = counts(app)
    response = upload(client, auth, content, name=name, lang="en")  # the English reasons
    assert response.status_code == 422
    assert message in response.get_data(as_text=True)
    assert counts(app) == before and waiting(app) == []


@pytest.mark.backends("sqlite")  # refused or shown before anything is stored
def test_rejected_features_and_a_wrong_crs_are_listed_with_their_reasons(app, client, auth):
    auth.login_as("manager")
    before = counts(app)
    bad = upload(client, auth, geojson(zone("Z1", 0), zone("Z2", 1, households=-3), zone("Z1", 2)), lang="en")
    page = bad.get_data(as_text=True)
    assert bad.status_code == 422 and count_cell(page, "rejected") == 3
    assert "households: -3 is below the minimum 0" in page
    assert "ref &#39;Z1&#39; appears more than once in the file (features 0, 2)" in page
    assert "/confirm" not in page and waiting(app) == []  # nothing left to import

    # Coordinates in metres read with the CRS the manager gave as degrees: far off the globe.
    wrong = upload(client, auth, geojson(zone("Z4", 0)), crs="4326")
    assert wrong.status_code == 200  # correct as given
    metres = gpd.GeoDataFrame([zone("Z5", 0)], geometry="geometry", crs="EPSG:4326").to_crs(32651)
    wrong = upload(client, auth, metres.to_json(to_wgs84=False).encode(), crs="4490")
    assert wrong.status_code == 422
    assert "coordinates outside lon/lat range after conversion to WGS84" in wrong.get_data(as_text=True)
    unknown = upload(client, auth, geojson(zone("Z6", 0)), crs="EPSG:99999")
    assert unknown.status_code == 422 and "unknown CRS" in unknown.get_data(as_text=True)
    assert counts(app)[0] == before[0]


def test_partly_rejected_files_can_be_imported_without_the_rejected_features(app, client, auth):
    auth.login_as("manager")
    before = counts(app)
    page = upload(client, auth, geojson(zone("Z1", 0), zone("Z2", 1, households=-3))).get_data(as_text=True)
    assert "跳过1个被拒绝的要素，导入其余1个站点" in page
    assert confirm(client, auth, page).status_code == 302
    assert counts(app)[0] == before[0] + 1 and "Z2" not in zones(app)


@pytest.mark.backends("sqlite")  # refused or shown before anything is stored
def test_files_over_the_limit_get_413(app, client, auth, monkeypatch):
    auth.login_as("manager")
    before = counts(app)
    monkeypatch.setattr(import_pages, "MAX_UPLOAD_BYTES", 1024 * 1024)
    big = upload(client, auth, geojson(zone("Z1", 0)) + b" " * (1024 * 1024))
    assert big.status_code == 413 and "文件过大：导入的文件不能超过 1 MB" in big.get_data(as_text=True)
    app.config["MAX_CONTENT_LENGTH"] = 1024 * 1024  # refused while the body is read, before the view
    bigger = upload(client, auth, geojson(zone("Z1", 0)) + b" " * (2 * 1024 * 1024))
    assert bigger.status_code == 413 and "文件过大" in bigger.get_data(as_text=True)
    assert counts(app) == before and waiting(app) == []


@pytest.mark.backends("sqlite")  # refused or shown before anything is stored
def test_the_pages_speak_english_too(client, auth):
    auth.login_as("manager")
    page = upload(client, auth, geojson(zone("Z1", 0))).get_data(as_text=True)
    english = client.get(f"{PAGE}/{token_of(page)}?lang=en").get_data(as_text=True)
    assert "Import preview" in english and "Import (1 site)" in english


# ------------------------------------------------------------------ the command line
def test_cli_dry_run_prints_the_preview_and_the_import_prints_its_counts(app, tmp_path, monkeypatch):
    monkeypatch.setenv("ONEMAP_LANG", "en")  # the English lines; tests/webapp/test_messages_b.py: Chinese
    monkeypatch.setenv("ONEMAP_INSTANCE", str(app.config["ONEMAP"].instance))
    monkeypatch.setenv("ONEMAP_DATABASE_URL", app.config["ONEMAP"].database_url)
    runner = CliRunner()
    path = tmp_path / "zones.geojson"
    path.write_bytes(geojson(zone("Z1", 0), zone("Z2", 1)))
    before = counts(app)

    dry = runner.invoke(main, ["import", str(path), "--layer", "sanitation_zones", "--dry-run"])
    assert dry.exit_code == 0, dry.output
    assert "2 to add, 0 to update, 0 unchanged, 0 rejected" in dry.output and "nothing written" in dry.output
    assert counts(app) == before

    first = runner.invoke(main, ["import", str(path), "--layer", "sanitation_zones"])
    assert "2 site(s) imported, 0 rejected (2 added, 0 updated, 0 unchanged)" in first.output
    path.write_bytes(geojson(zone("Z1", 0, households=11), zone("Z2", 1), zone("Z3", 2, households=-1)))
    dry = runner.invoke(main, ["import", str(path), "--layer", "sanitation_zones", "--dry-run"])
    assert dry.exit_code == 1
    assert "0 to add, 1 to update, 1 unchanged, 1 rejected" in dry.output
    assert "households 10 → 11" in dry.output and "feature 2: households: -1 is below" in dry.output
    again = runner.invoke(main, ["import", str(path), "--layer", "sanitation_zones", "--skip-invalid"])
    assert "1 site(s) imported, 1 rejected (0 added, 1 updated, 1 unchanged)" in again.output
    assert counts(app)[0] == before[0] + 2


def test_cli_import_comment_is_stored_on_every_version_it_records(app, client, auth, tmp_path, monkeypatch):
    monkeypatch.setenv("ONEMAP_LANG", "en")
    monkeypatch.setenv("ONEMAP_INSTANCE", str(app.config["ONEMAP"].instance))
    monkeypatch.setenv("ONEMAP_DATABASE_URL", app.config["ONEMAP"].database_url)
    path = tmp_path / "zones.geojson"
    path.write_bytes(geojson(zone("Z1", 0), zone("Z2", 1)))
    result = CliRunner().invoke(main, ["import", str(path), "--layer", "sanitation_zones",
                                       "--comment", "县里报来的新边界"])
    assert result.exit_code == 0, result.output
    auth.login_as("planner")
    for site in (zones(app)["Z1"], zones(app)["Z2"]):
        assert [(v["action"], v["actor"], v["comment"]) for v in versions_of(client, site.id)] == [
            ("import", "cli", "县里报来的新边界")]
    refused = CliRunner().invoke(main, ["import", str(path), "--layer", "sanitation_zones", "--comment",
                                        "x" * 2001])
    assert refused.exit_code != 0 and "comment:" in refused.output
