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
