"""A full photo disk, for real: the photo folder is a 4 MB tmpfs that the test fills.

Filing then answers 507 with a message saying what happens next; nothing is half-written (no report row,
no partial or orphan file); what was stored before stays intact and served; and the same report files
once space is freed, as the phone's queue sends it again. Mounting needs root: a laptop skips, CI fails.
"""

from __future__ import annotations

import io
import os
import random
import subprocess
from pathlib import Path

import pytest
from PIL import Image

from tests.conftest import require
from tests.factories import report, token_for
from tests.webapp.test_reports_api import post, stored, wait_for_photo_jobs
from webapp.context import get_uow

DISK = "4m"


@pytest.fixture
def app_env(tmp_path):
    folder = tmp_path / "small-disk"
    folder.mkdir()
    mounted = os.geteuid() == 0 and subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={DISK}", "tmpfs", str(folder)], capture_output=True
    ).returncode == 0
    require(mounted, "mounting a small tmpfs as the photo folder needs root")
    yield {"ONEMAP_MEDIA_URL": f"file://{folder}"}
    subprocess.run(["umount", "--lazy", str(folder)], check=True)


def noisy_jpeg(seed: int, side: int = 400) -> bytes:
    """A photo that does not compress away (random pixels): its size is known before it is sent."""
    pixels = random.Random(seed).randbytes(side * side * 3)
    out = io.BytesIO()
    Image.frombytes("RGB", (side, side), pixels).save(out, "JPEG", quality=90)
    return out.getvalue()


def media(app) -> Path:
    return app.extensions["onemap.blobs"].root


def free_bytes(folder: Path) -> int:
    stats = os.statvfs(folder)
    return stats.f_bavail * stats.f_frsize


def fill(folder: Path, leave: int) -> Path:
    """Take all but ``leave`` bytes of the disk with a file outside the photos' folder."""
    filler = folder / "filler.bin"
    with filler.open("ab") as f:
        f.write(b"\0" * max(free_bytes(folder) - leave, 0))
    return filler


def files(folder: Path) -> set[str]:
    return {str(p.relative_to(folder)) for p in (folder / "photos").rglob("*") if p.is_file()}


def photo_keys(app) -> set[str]:
    """Every file the stored photos name (each photo's original, shown copy and thumbnail)."""
    with app.app_context(), get_uow() as uow:
        rows = uow.photos.rows()
    return {row[kind] for row in rows for kind in ("original_key", "display_key", "thumbnail_key")}


def test_a_full_photo_disk_is_507_stores_nothing_and_the_same_report_files_once_freed(app, client, zone):
    token, folder = token_for(app, "worker"), media(app)
    before = report(zone)
    assert post(client, zone.id, before, photos=[noisy_jpeg(1)], token=token).status_code == 201
    wait_for_photo_jobs(app)
    (earlier,) = stored(app, zone.id)
    shown = shown_copy(client, earlier["photos"][0]["id"], token)
    assert shown.status_code == 200

    filler = fill(folder, leave=20_000)
    photo = noisy_jpeg(2)
    assert len(photo) > 60_000  # more than the space left
    body = report(zone)
    refused = post(client, zone.id, body, photos=[photo], token=token)
    assert refused.status_code == 507, refused.get_json()
    error = refused.get_json()
    assert error["error"] == "storage_full" and "已满" in error["message"]
    assert str(folder) not in error["message"]  # where the disk is goes to the operator's log only

    # nothing half-written: no row, no partial file; the earlier report and its photo are intact
    assert [r["uuid"] for r in stored(app, zone.id)] == [before["uuid"]]
    assert files(folder) == photo_keys(app)
    again = shown_copy(client, earlier["photos"][0]["id"], token)
    assert again.status_code == 200 and again.data == shown.data

    # space freed: the phone's retry of the same report is stored once, with its photo
    filler.unlink()
    accepted = post(client, zone.id, body, photos=[photo], token=token)
    assert accepted.status_code == 201, accepted.get_json()
    wait_for_photo_jobs(app)
    assert sorted(r["uuid"] for r in stored(app, zone.id)) == sorted([before["uuid"], body["uuid"]])
    assert files(folder) == photo_keys(app)
    assert post(client, zone.id, body, photos=[photo], token=token).status_code == 200  # and only once


def test_copies_a_full_disk_kept_from_being_made_are_made_once_asked_for_after_space_is_freed(
        app, client, zone, caplog):
    token, folder = token_for(app, "worker"), media(app)
    photo = noisy_jpeg(3)
    # room for the original, not for the shown copy and thumbnail made after the answer
    filler = fill(folder, leave=len(photo) + 8192)
    filed = post(client, zone.id, report(zone), photos=[photo], token=token)
    assert filed.status_code == 201, filed.get_json()  # the report and its original are safe
    wait_for_photo_jobs(app)
    photo_id = filed.get_json()["photos"][0]["id"]
    assert shown_copy(client, photo_id, token).status_code == 404  # not ready: no room for it
    assert not any(name.endswith(".partial") for name in files(folder))
    assert "not made" in caplog.text and "No space left on device" in caplog.text  # the operator hears

    filler.unlink()
    assert shown_copy(client, photo_id, token).status_code == 404  # asking starts its making
    wait_for_photo_jobs(app)
    shown = shown_copy(client, photo_id, token)
    assert shown.status_code == 200 and shown.mimetype == "image/jpeg"
    assert files(folder) == photo_keys(app)


def shown_copy(client, photo_id: int, token: str):
    """The photo's shown copy, read whole and its file closed."""
    response = client.get(f"/media/photos/{photo_id}/display", headers={"Authorization": f"Bearer {token}"})
    response.get_data()
    response.close()
    return response
