"""Builders for test data that the app's own services do not create yet.

Reports are stored through the report repository, as the filing service will
store them; photo files are real JPEG files written to the instance's media folder.
"""

from __future__ import annotations

import hashlib
import io
import uuid
from datetime import UTC, datetime

from PIL import Image

from geo.status import report_result
from geo.storage.blobs import open_blobs

ALL_PASS = {"swept_clean": "pass", "neatly_stacked": "pass", "ditches_cleared": "pass",
            "waste_converted": "pass"}  # a sanitation-zone checklist with every item passed


def jpeg(color=(200, 80, 40), size=(64, 48)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, color).save(buffer, "JPEG")
    return buffer.getvalue()


def add_report(uow, site_id: int, username: str, *, checklist: dict, metrics: dict | None = None,
               note: str = "", observed_at: datetime, status: str = "pending", flags=(),
               photos: int = 0, media_url: str | None = None, received_at: datetime | None = None) -> int:
    user, _ = uow.users.by_name(username)
    report_id = uow.reports.add({
        "uuid": str(uuid.uuid4()), "site_id": site_id, "user_id": user.id, "checklist": checklist,
        "metrics": metrics or {}, "note": note, "gps_lat": None, "gps_lon": None, "gps_accuracy": None,
        "distance_m": None, "flags": list(flags), "observed_at": observed_at,
        "received_at": received_at or datetime.now(UTC),
        "content_hash": hashlib.sha256(note.encode()).hexdigest(),
        "review_status": status,
    })
    blobs = open_blobs(media_url) if photos else None
    for n in range(photos):
        data = jpeg(color=(40 * n % 255, 120, 200))
        key = f"photos/{report_id}/{n}"
        for kind in ("original", "display", "thumbnail"):
            blobs.put(f"{key}.{kind}.jpg", data)
        uow.reports.add_photo({"report_id": report_id, "original_key": f"{key}.original.jpg",
                               "display_key": f"{key}.display.jpg", "thumbnail_key": f"{key}.thumbnail.jpg",
                               "sha256": hashlib.sha256(data).hexdigest(), "width": 64, "height": 48,
                               "flags": []})
    uow.reports.refresh_latest(site_id, report_result)
    return report_id
