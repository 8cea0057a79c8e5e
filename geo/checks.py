"""Flags on a report: checks a manager sees, never reasons to refuse a report (pure).

A worker in a muddy field with a weak GPS fix must still be able to file; the
manager decides what a flag means.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from geo.geometry import distance_m

PHOTO_MAX_AGE = timedelta(hours=24)  # a photo taken a day before the report is not of this visit


def report_flags(distance: float | None, geofence_m: float) -> list[str]:
    return ["off_site"] if distance is not None and distance > geofence_m else []


def photo_flags(lat: float | None, lon: float | None, taken_at: datetime | None, *,
                site_geometry, geofence_m: float, observed_at: datetime) -> list[str]:
    """``photo_far``: taken beyond the geofence; ``photo_old``: taken long before the report."""
    flags = []
    if lat is not None and lon is not None and distance_m((lon, lat), site_geometry) > geofence_m:
        flags.append("photo_far")
    if taken_at is not None and taken_at < observed_at - PHOTO_MAX_AGE:
        flags.append("photo_old")
    return flags
