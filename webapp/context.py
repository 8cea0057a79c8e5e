"""Request-scoped access to the store and layers that create_app attached to the app."""

from __future__ import annotations

from contextlib import AbstractContextManager
from datetime import UTC, datetime

from flask import current_app

from geo.model import LayerDef
from geo.storage import Store, UnitOfWork


def store() -> Store:
    return current_app.extensions["onemap.store"]


def get_uow(*, write: bool = False) -> AbstractContextManager[UnitOfWork]:
    return store().unit_of_work(write=write)


def layers() -> dict[str, LayerDef]:
    return current_app.extensions["onemap.layers"]


def now() -> datetime:
    return datetime.now(UTC)


def blobs():
    """Where photo files live (ONEMAP_MEDIA_URL)."""
    from geo.storage.blobs import open_blobs

    return open_blobs(current_app.config["ONEMAP"].media_url)


def derive_photos_later(report_ids: list[int]) -> None:
    """Make shown copies and thumbnails after the response, on the app's one photo thread."""
    from geo import inspections

    app = current_app._get_current_object()
    media = blobs()

    def work():
        with app.app_context(), get_uow() as uow:
            inspections.derive_photos(report_ids, uow=uow, blobs=media)

    app.extensions["onemap.photo_jobs"].submit(work)
