"""Photo storage: the same contract on a local folder and on an S3-compatible server."""

from __future__ import annotations

import os
import sys

import pytest

from geo.model import InvalidInput, NotFound, StorageFull, StorageUnavailable
from geo.storage.blobs import LocalBlobs, S3Blobs, open_blobs

pytest_plugins = ["tests.s3"]

PAGE = 50  # S3 listing page size here, so 120 keys take three pages as 2,500 would at S3's 1,000


@pytest.fixture(params=["local", "s3"])
def blobs(request, tmp_path):
    if request.param == "local":
        return open_blobs(f"file://{tmp_path / 'media'}")
    server = request.getfixturevalue("s3_server")
    media = open_blobs(f"s3://{server.bucket()}/jinzhou/media", endpoint=server.endpoint)
    media.page_size = PAGE
    return media


def test_put_then_read_gives_the_same_bytes(blobs):
    data = bytes(range(256)) * 40
    blobs.put("photos/r1/a-0.original.jpg", data)
    assert blobs.read("photos/r1/a-0.original.jpg") == data
    with blobs.open("photos/r1/a-0.original.jpg") as f:
        assert f.read() == data
    blobs.put("photos/r1/a-0.original.jpg", b"second")  # put replaces
    assert blobs.read("photos/r1/a-0.original.jpg") == b"second"


def test_a_missing_key_is_not_found(blobs):
    with pytest.raises(NotFound, match="photos/none.jpg"):
        blobs.read("photos/none.jpg")
    with pytest.raises(NotFound):
        blobs.open("photos/none.jpg")


def test_exists_follows_put_and_delete(blobs):
    assert not blobs.exists("photos/r1/x.jpg")
    blobs.put("photos/r1/x.jpg", b"jpeg")
    assert blobs.exists("photos/r1/x.jpg")
    blobs.delete("photos/r1/x.jpg")
    assert not blobs.exists("photos/r1/x.jpg")


def test_delete_is_idempotent(blobs):
    blobs.delete("photos/never-written.jpg")
    blobs.put("photos/once.jpg", b"x")
    blobs.delete("photos/once.jpg")
    blobs.delete("photos/once.jpg")
    assert blobs.keys("photos") == []


def test_keys_lists_every_file_in_the_folder_across_pages(blobs, request):
    inside = sorted(f"photos/r{n // 10}/k-{n}.original.jpg" for n in range(120))
    for key in [*inside, "photos-old/elsewhere.jpg", "exports/not-a-photo.csv"]:
        blobs.put(key, b"x")
    assert blobs.keys("photos") == inside
    assert blobs.keys("photos/r3") == [k for k in inside if k.startswith("photos/r3/")]
    assert blobs.keys("nothing-here") == []
    if isinstance(blobs, S3Blobs):  # the server did split the listing, so keys() followed it
        client = request.getfixturevalue("s3_server").client
        page = client.list_objects_v2(Bucket=blobs.bucket, Prefix="jinzhou/media/photos/", MaxKeys=PAGE)
        assert page["IsTruncated"] and page["KeyCount"] == PAGE


# ------------------------------------------------------------------ S3 specifics
def test_s3_objects_live_under_the_url_prefix(s3_server):
    bucket = s3_server.bucket()
    media = open_blobs(f"s3://{bucket}/city/jinzhou/", endpoint=s3_server.endpoint)
    media.put("photos/r1/a.jpg", b"jpeg")
    assert s3_server.objects(bucket) == {"city/jinzhou/photos/r1/a.jpg": b"jpeg"}
    assert media.keys("photos") == ["photos/r1/a.jpg"]
    whole_bucket = open_blobs(f"s3://{bucket}", endpoint=s3_server.endpoint)
    assert whole_bucket.read("city/jinzhou/photos/r1/a.jpg") == b"jpeg"


@pytest.mark.parametrize("call", ["put", "read", "exists", "delete", "keys"])
def test_s3_endpoint_down_is_storage_unavailable(s3_server, closed_endpoint, call):
    media = open_blobs("s3://onemap-photos/jinzhou", endpoint=closed_endpoint)
    with pytest.raises(StorageUnavailable, match=f"s3://onemap-photos/jinzhou at {closed_endpoint}"):
        _call(media, call)


@pytest.mark.parametrize("call", ["put", "read", "exists", "keys"])
def test_s3_missing_bucket_is_storage_unavailable(s3_server, call):
    media = open_blobs("s3://no-such-bucket-here/jinzhou", endpoint=s3_server.endpoint)
    # exists() in particular must not answer False: backups and copies would take every photo as missing
    with pytest.raises(StorageUnavailable, match="no-such-bucket-here"):
        _call(media, call)


def _call(media, call: str):
    args = {"put": ("photos/a.jpg", b"x"), "keys": ("photos",)}.get(call, ("photos/a.jpg",))
    return getattr(media, call)(*args)


# ------------------------------------------------------------------ local folder failures
def test_a_full_disk_is_storage_full_and_leaves_no_partial_file(tmp_path):
    if not os.path.exists("/dev/full"):
        pytest.skip("needs /dev/full (Linux)")
    media = LocalBlobs(tmp_path / "media")
    (tmp_path / "media" / "photos").mkdir(parents=True)
    # the temporary file put writes first leads to /dev/full, whose every write fails with ENOSPC
    (tmp_path / "media" / "photos" / "a.jpg.partial").symlink_to("/dev/full")
    with pytest.raises(StorageFull, match="No space left on device"):
        media.put("photos/a.jpg", b"x" * 100_000)
    assert media.keys("photos") == [] and not media.exists("photos/a.jpg")


def test_a_media_folder_that_cannot_be_made_is_storage_unavailable(tmp_path):
    (tmp_path / "media").write_text("a file where the folder should be")
    media = LocalBlobs(tmp_path / "media")
    with pytest.raises(StorageUnavailable, match=f"photo folder {tmp_path / 'media'}"):
        media.put("photos/a.jpg", b"x")


# ------------------------------------------------------------------ choosing by URL
@pytest.mark.parametrize("url", ["s3://", "s3:///photos", "s3://a/photos", "ftp://host/photos", "/srv/photos",
                                 "file://"])
def test_a_bad_media_url_names_the_setting(url):
    with pytest.raises(InvalidInput, match="ONEMAP_MEDIA_URL") as caught:
        open_blobs(url)
    assert caught.value.field == "ONEMAP_MEDIA_URL"


@pytest.mark.parametrize("endpoint", ["minio:9000", "ftp://minio", "http://"])
def test_a_bad_endpoint_names_the_setting(endpoint):
    with pytest.raises(InvalidInput, match="ONEMAP_S3_ENDPOINT") as caught:
        open_blobs("s3://onemap-photos", endpoint=endpoint)
    assert caught.value.field == "ONEMAP_S3_ENDPOINT"


def test_s3_without_boto3_says_which_extra_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "boto3", None)  # what `import boto3` meets when it is not installed
    with pytest.raises(InvalidInput, match=r"pip install 'onemap\[s3\]'"):
        open_blobs("s3://onemap-photos/jinzhou", endpoint="http://127.0.0.1:9000")
