"""Upload limits come from settings: per photo, per request, and the side of the shown copies."""

import io
import json
import os
import uuid
from datetime import UTC, datetime

import numpy as np
import pytest
from PIL import Image
from werkzeug.datastructures import FileStorage, MultiDict
from werkzeug.test import stream_encode_multipart

from geo import accounts, services
from geo.access import system_user
from geo.model import InvalidInput
from tests.factories import ALL_PASS
from webapp.context import get_uow
from webapp.settings import load_config

pytestmark = pytest.mark.backends("sqlite")  # size limits, checked before anything is stored


@pytest.fixture
def app_env():
    return {"ONEMAP_MAX_PHOTO_MB": "1", "ONEMAP_MAX_REQUEST_MB": "3", "ONEMAP_PHOTO_SIDE": "800"}


@pytest.fixture
def filing(app):
    """(site, headers) for a worker assigned to one village zone: a Bearer token, and English answers
    (the tests read the English of the messages; a script gets the language it asks for)."""
    now = datetime.now(UTC)
    with app.app_context(), get_uow(write=True) as uow:
        site = next(uow.sites.find(layer_id="sanitation_zones"))
        accounts.assign_sites("worker", [site.id], uow=uow, user=system_user("test"), now=now)
        token = services.issue_token("worker", uow=uow, user=system_user("test"), now=now)
    return site, {"Authorization": f"Bearer {token}", "Accept-Language": "en"}


def noisy_jpeg(side: int, quality: int = 95) -> bytes:
    """A JPEG that compresses badly: about side² / 2 bytes at this quality."""
    pixels = np.random.default_rng(side).integers(0, 256, (side * 3 // 4, side, 3), dtype=np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, "JPEG", quality=quality)
    return buffer.getvalue()


def post(client, site, headers, photos):
    centre = site.geometry.representative_point()
    body = {"uuid": str(uuid.uuid4()), "checklist": dict(ALL_PASS), "metrics": {},
            "gps": {"lat": centre.y, "lon": centre.x, "accuracy": 5},
            "observed_at": datetime.now(UTC).isoformat()}
    fields = MultiDict([("report", json.dumps(body))] + [
        ("photos", FileStorage(io.BytesIO(p), f"p{i}.jpg", content_type="image/jpeg"))
        for i, p in enumerate(photos)])
    # Encoded in memory: the test client's own on-disk body stays open when the app refuses to read it.
    stream, length, boundary = stream_encode_multipart(fields, use_tempfile=False)
    return client.post(f"/api/v1/sites/{site.id}/reports", data=stream.read(), headers=headers,
                       content_type=f"multipart/form-data; boundary={boundary}")


def stored_reports(app, site):
    with app.app_context(), get_uow() as uow:
        return uow.reports.count(site.id)


def test_a_photo_over_the_configured_size_is_413_naming_it(app, client, filing):
    site, headers = filing
    big = noisy_jpeg(1200)
    assert 1024 * 1024 < len(big) < 3 * 1024 * 1024
    response = post(client, site, headers, [big])
    assert response.status_code == 413, response.get_json()
    assert response.get_json()["error"] == "too_large" and "p0.jpg" in response.get_json()["message"]
    assert stored_reports(app, site) == 0


def test_a_request_over_the_configured_size_is_413_and_stores_nothing(app, client, filing):
    site, headers = filing
    photos = [noisy_jpeg(900 + i) for i in range(8)]  # each under 1 MB, together over 3 MB
    assert all(len(p) < 1024 * 1024 for p in photos) and sum(map(len, photos)) > 3 * 1024 * 1024
    response = post(client, site, headers, photos)
    assert response.status_code == 413 and response.is_json
    assert stored_reports(app, site) == 0
    assert not any(files for _, _, files in os.walk(app.config["ONEMAP"].instance / "media"))


def test_shown_copies_and_the_phone_form_follow_the_configured_side(app, client, auth, filing):
    site, headers = filing
    response = post(client, site, headers, [noisy_jpeg(1000, quality=60)])
    assert response.status_code == 201, response.get_json()
    app.extensions["onemap.photo_jobs"].submit(lambda: None).result(timeout=30)
    with client.get(response.get_json()["photos"][0]["url"], headers=headers) as shown:
        assert max(Image.open(io.BytesIO(shown.data)).size) == 800
    auth.login_as("worker")
    page = client.get(f"/my/sites/{site.id}/report").get_data(as_text=True)
    assert 'data-photo-side="800"' in page


@pytest.mark.parametrize("name, value, says", [
    ("ONEMAP_MAX_PHOTO_MB", "lots", "whole number"),
    ("ONEMAP_MAX_PHOTO_MB", "0", "from 1 to"),
    ("ONEMAP_PHOTO_SIDE", "100", "from 320 to"),
])
def test_a_bad_limit_setting_names_itself(tmp_path, name, value, says):
    with pytest.raises(InvalidInput, match=says) as raised:
        load_config(env={"ONEMAP_INSTANCE": str(tmp_path), name: value})
    assert raised.value.field == name and name in str(raised.value)
