"""Photos on an S3-compatible server (ONEMAP_MEDIA_URL=s3://…): filed, derived, served, and a storage
outage answered with 503 and nothing stored."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta

import pytest
from click.testing import CliRunner
from PIL import Image

from tests.factories import report, token_for
from tests.webapp.test_reports_api import post, stored, wait_for_photo_jobs
from webapp.cli import main, recover_photos
from webapp.context import catch_up_photos

pytest_plugins = ["tests.s3"]
pytestmark = pytest.mark.backends("sqlite")  # the photo path is the same whatever the database

PREFIX = "jinzhou/media"


@pytest.fixture
def bucket(s3_server):
    return s3_server.bucket()


@pytest.fixture
def app_env(request, s3_server, bucket, tmp_path):
    """The app's photos in ``bucket``. Parameter "s3 down": at an endpoint where nothing answers;
    "folder unusable": in a local folder that cannot be made (a file is in its place)."""
    state = getattr(request, "param", "up")
    if state == "folder unusable":
        (tmp_path / "not-a-folder").write_text("")
        return {"ONEMAP_MEDIA_URL": f"file://{tmp_path / 'not-a-folder' / 'media'}"}
    endpoint = request.getfixturevalue("closed_endpoint") if state == "s3 down" else s3_server.endpoint
    return {"ONEMAP_MEDIA_URL": f"s3://{bucket}/{PREFIX}", "ONEMAP_S3_ENDPOINT": endpoint}


def camera_jpeg() -> bytes:
    """A JPEG as a phone camera writes it, EXIF included."""
    exif = Image.Exif()
    exif[0x010F] = "OneMap test camera"  # Make
    buffer = io.BytesIO()
    Image.new("RGB", (64, 48), (30, 140, 60)).save(buffer, "JPEG", exif=exif.tobytes())
    return buffer.getvalue()


def test_a_reports_photo_is_kept_in_the_bucket_and_served_from_it(app, client, zone, s3_server, bucket):
    token = token_for(app, "worker")
    headers = {"Authorization": f"Bearer {token}"}
    body, photo = report(zone), camera_jpeg()
    filed = post(client, zone.id, body, photos=[photo], token=token)
    assert filed.status_code == 201, filed.get_json()
    (original,) = [k for k in s3_server.objects(bucket) if ".original." in k]
    assert original.startswith(f"{PREFIX}/photos/{body['uuid']}/")
    assert s3_server.objects(bucket)[original] == photo  # the upload, byte for byte
    assert not list((app.config["ONEMAP"].instance / "media").rglob("*.jpg"))  # nothing on local disk

    wait_for_photo_jobs(app)
    urls = filed.get_json()["photos"][0]
    objects = s3_server.objects(bucket)
    for url, kind in ((urls["url"], "display"), (urls["thumbnail_url"], "thumbnail")):
        with client.get(url, headers=headers) as shown:
            assert shown.status_code == 200 and shown.mimetype == "image/jpeg"
            (copy,) = [k for k in objects if f".{kind}." in k]
            assert shown.data == objects[copy]
            assert not Image.open(io.BytesIO(shown.data)).getexif()  # EXIF stripped

    # a copy not made (yet) answers 404, as on a local folder
    s3_server.client.delete_object(Bucket=bucket, Key=next(k for k in objects if ".display." in k))
    missing = client.get(urls["url"], headers=headers)
    assert missing.status_code == 404 and "not ready yet" in missing.get_data(as_text=True)


@pytest.mark.parametrize("app_env", ["s3 down", "folder unusable"], indirect=True)
def test_with_the_storage_unusable_filing_is_503_and_stores_nothing(app, client, zone, s3_server, bucket,
                                                                    tmp_path, caplog):
    token = token_for(app, "worker")
    response = post(client, zone.id, report(zone), photos=[camera_jpeg(), camera_jpeg()], token=token)
    assert response.status_code == 503, response.get_json()
    error = response.get_json()
    # the phone hears what to do; where the storage is (a path, a host) goes to the operator's log only
    assert error["error"] == "storage_unavailable" and "稍后自动重发" in error["message"]
    assert "ONEMAP_MEDIA_URL" not in error["message"] and str(tmp_path) not in error["message"]
    assert "ONEMAP_MEDIA_URL" in caplog.text
    assert stored(app, zone.id) == []  # no report row: the phone keeps it and sends it again later
    assert s3_server.objects(bucket) == {}  # and no object
    assert [p.name for p in tmp_path.rglob("*.jpg*")] == []  # nor a file


def test_serving_removes_objects_no_report_refers_to_and_makes_missing_copies(app, client, zone, s3_server,
                                                                              bucket):
    token = token_for(app, "worker")
    assert post(client, zone.id, report(zone), photos=[camera_jpeg()], token=token).status_code == 201
    wait_for_photo_jobs(app)
    kept = s3_server.objects(bucket)
    display = next(k for k in kept if ".display." in k)
    s3_server.client.delete_object(Bucket=bucket, Key=display)
    orphan = f"{PREFIX}/photos/died-before-commit/0.original.jpg"  # a request killed mid-filing
    s3_server.client.put_object(Bucket=bucket, Key=orphan, Body=camera_jpeg())

    config, store = app.config["ONEMAP"], app.extensions["onemap.store"]
    recover_photos(config, store)  # what `onemap serve` runs first: a fresh file may be another server's
    assert orphan in s3_server.objects(bucket)
    recover_photos(config, store, now=datetime.now(UTC) + timedelta(hours=1))  # a restart, later
    assert set(s3_server.objects(bucket)) == set(kept) - {display}
    catch_up_photos(app).join(timeout=30)  # what the server then does once it listens
    assert set(s3_server.objects(bucket)) == set(kept)


def test_backup_and_restore_carry_the_photos_from_bucket_to_bucket(app, client, zone, s3_server, bucket,
                                                                   tmp_path):
    token = token_for(app, "worker")
    assert post(client, zone.id, report(zone), photos=[camera_jpeg()], token=token).status_code == 201
    wait_for_photo_jobs(app)
    runner = CliRunner()
    source = {"ONEMAP_INSTANCE": str(app.config["ONEMAP"].instance), "ONEMAP_MEDIA_URL": f"s3://{bucket}/{PREFIX}",
              "ONEMAP_S3_ENDPOINT": s3_server.endpoint}
    done = runner.invoke(main, ["backup", str(tmp_path / "backup")], env=source | {"ONEMAP_LANG": "en"})
    assert done.exit_code == 0, done.output
    assert "3 photo file(s)" in done.output  # original, shown copy, thumbnail

    other = s3_server.bucket()
    target = {"ONEMAP_INSTANCE": str(tmp_path / "target"), "ONEMAP_MEDIA_URL": f"s3://{other}/restored",
              "ONEMAP_S3_ENDPOINT": s3_server.endpoint}
    done = runner.invoke(main, ["restore", str(tmp_path / "backup")], env=target)
    assert done.exit_code == 0, done.output
    moved = {key.removeprefix(f"{PREFIX}/"): data for key, data in s3_server.objects(bucket).items()}
    assert {key.removeprefix("restored/"): data for key, data in s3_server.objects(other).items()} == moved
