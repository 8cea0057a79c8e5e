"""Builders for test data, and the helpers more than one test module uses.

Reports are stored through the report repository, as the filing service will
store them; photo files are real JPEG files written to the instance's media folder.
What the shipped dataset holds is read from data/jinzhou, never written down as a number.
"""

from __future__ import annotations

import functools
import hashlib
import io
import json
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import geopandas as gpd
import shapely
from PIL import Image
from shapely.geometry import box, mapping

from geo import services
from geo.access import system_user
from geo.status import report_result
from geo.storage.blobs import open_blobs
from webapp.context import get_uow

DATASET = Path(__file__).resolve().parents[1] / "data" / "jinzhou"

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
        uow.photos.add({"report_id": report_id, "original_key": f"{key}.original.jpg",
                               "display_key": f"{key}.display.jpg", "thumbnail_key": f"{key}.thumbnail.jpg",
                               "sha256": hashlib.sha256(data).hexdigest(), "width": 64, "height": 48,
                               "flags": []})
    uow.reports.refresh_latest(site_id, report_result)
    return report_id


# ------------------------------------------------------------------ the shipped dataset
@functools.cache
def shipped(layer_id: str) -> tuple[dict, ...]:
    """The properties of each feature of data/jinzhou/<layer_id>.geojson, which `onemap init` loads."""
    with open(DATASET / f"{layer_id}.geojson", encoding="utf-8") as f:
        return tuple(feature["properties"] for feature in json.load(f)["features"])


def shipped_count(layer_id: str, **where) -> int:
    """How many shipped features of the layer have these property values (all of them, given none)."""
    return sum(all(p.get(k) == v for k, v in where.items()) for p in shipped(layer_id))


def three_statuses(uow, zone_ids, now: datetime) -> None:
    """Reports that make the first three zones ok (yesterday), needs attention (a failed item, two days
    ago) and overdue (a month ago, past the weekly cadence); committed."""
    add_report(uow, zone_ids[0], "worker", checklist=ALL_PASS, observed_at=now - timedelta(days=1))
    add_report(uow, zone_ids[1], "worker", checklist=ALL_PASS | {"ditches_cleared": "fail"},
               observed_at=now - timedelta(days=2))
    add_report(uow, zone_ids[2], "worker", checklist=ALL_PASS, observed_at=now - timedelta(days=30))
    uow.commit()


# ------------------------------------------------------------------ scripts' tokens
def token_for(app, username: str) -> str:
    """A new API token of this user."""
    with app.app_context(), get_uow(write=True) as uow:
        return services.issue_token(username, uow=uow, user=system_user("test"), now=datetime.now(UTC))


def bearer(app, username: str) -> dict[str, str]:
    """The Authorization header of a script holding a new token of this user."""
    return {"Authorization": f"Bearer {token_for(app, username)}"}


# ------------------------------------------------------------------ planning
ATTRS = {"township": "芳山镇", "key_village": True}  # what a new village zone needs


def free_square(app, size=0.004, dx=0.0):
    """A square in Heishan County well away from every zone."""
    with app.app_context(), get_uow() as uow:
        county = next(c["geometry"] for c in uow.counties.all() if c["code"] == "210726")
        zones = shapely.union_all([s.geometry for s in uow.sites.find(layer_id="sanitation_zones")])
    p = county.buffer(-0.02).difference(zones.buffer(0.02)).representative_point()
    return mapping(box(p.x + dx, p.y, p.x + dx + size, p.y + size))


# ------------------------------------------------------------------ filing
def report(site, **overrides) -> dict:
    """The JSON of a report on this site as the phone sends it, from its middle, just now."""
    centre = site.geometry.representative_point()
    body = {"uuid": str(uuid.uuid4()), "checklist": dict(ALL_PASS), "metrics": {"person_times": 12},
            "note": "村口已清理", "gps": {"lat": centre.y, "lon": centre.x, "accuracy": 8},
            "observed_at": datetime.now(UTC).astimezone().isoformat()}
    body.update(overrides)
    return body


# ------------------------------------------------------------------ files to import
IMPORT_AT = (122.1, 41.7)  # in Heishan County


def import_zone(ref, i, **extra) -> dict:
    """A village zone of a file to import: the i-th 0.01° square eastwards of IMPORT_AT."""
    x, y = IMPORT_AT
    return {"ref": ref, "name": f"村{ref}", "township": "黑山街道", "key_village": True, "households": 10,
            "geometry": box(x + i * 0.02, y, x + i * 0.02 + 0.01, y + 0.01), **extra}


def geojson(*features) -> bytes:
    """A GeoJSON file of these features."""
    return gpd.GeoDataFrame(list(features), geometry="geometry", crs="EPSG:4326").to_json().encode()


def broken_file() -> bytes:
    """Feature 0 is fine; 1 has no name; 2 repeats feature 0's ref; 3 has no geometry."""
    nameless = {**import_zone("Z2", 1), "name": None}
    no_geometry = {**import_zone("Z4", 3), "geometry": None}
    return geojson(import_zone("Z1", 0), nameless, import_zone("Z1", 2), no_geometry)
