"""Request-scoped access to the store and layers that create_app attached to the app."""

from __future__ import annotations

import time
from contextlib import AbstractContextManager
from datetime import UTC, datetime

from flask import current_app

from geo.model import LayerDef
from geo.storage import Store, UnitOfWork
from webapp.activity import MAX_DEFER


def store() -> Store:
    return current_app.extensions["onemap.store"]


def get_uow(*, write: bool = False) -> AbstractContextManager[UnitOfWork]:
    return store().unit_of_work(write=write)


def layers() -> dict[str, LayerDef]:
    return current_app.extensions["onemap.layers"]


def now() -> datetime:
    return datetime.now(UTC)


def blobs():
    """Where photo files live (ONEMAP_MEDIA_URL, ONEMAP_S3_ENDPOINT), opened by create_app."""
    return current_app.extensions["onemap.blobs"]


def photo_limits():
    """Size caps of photos and the side of their shown copies (ONEMAP_MAX_PHOTO_*, ONEMAP_PHOTO_SIDE)."""
    return current_app.extensions["onemap.photo_limits"]


def derive_photos_later(report_ids: list[int]) -> None:
    """Make shown copies and thumbnails after the response, on the app's one photo thread."""
    from geo import inspections

    app = current_app._get_current_object()
    media, limits = blobs(), photo_limits()
    deadline = time.monotonic() + MAX_DEFER

    def work():
        app.extensions["onemap.activity"].wait_quiet(deadline)  # acknowledgements first
        try:
            with app.app_context(), get_uow() as uow:
                inspections.derive_photos(report_ids, uow=uow, blobs=media, limits=limits)
        except Exception:  # a full disk, a storage outage: nobody awaits this job, so the log must hear
            app.logger.exception("photo copies of reports %s not made (made when next asked for)", report_ids)

    app.extensions["onemap.photo_jobs"].submit(work)
