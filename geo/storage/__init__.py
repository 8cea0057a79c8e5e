"""Storage: every SQL statement of OneMap lives in this package.

``open_store(url)`` picks the backend from the URL scheme; views and services
only ever see the Store / UnitOfWork interface of base.py.
"""

from __future__ import annotations

from pathlib import Path

from geo.model import InvalidInput
from geo.storage.base import Store, UnitOfWork

__all__ = ["Store", "UnitOfWork", "open_store"]


def open_store(url: str) -> Store:
    """A store for a SQLAlchemy URL: ``sqlite:///…`` (embedded) or ``postgresql+psycopg://…``."""
    scheme = url.split(":", 1)[0].split("+", 1)[0]
    if scheme == "sqlite":
        from geo.storage.sqlite import SqliteStore

        path = url.removeprefix("sqlite:///")
        if path and path != url and not path.startswith(":memory:"):
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        return SqliteStore(url)
    if scheme == "postgresql":
        from geo.storage.postgis import PostgisStore

        if not url.startswith("postgresql+psycopg://"):
            raise InvalidInput(f"{url.split('://', 1)[0]}: use postgresql+psycopg://user@host/database "
                               "(the psycopg 3 driver)", field="ONEMAP_DATABASE_URL")
        return PostgisStore(url)
    raise InvalidInput(f"unsupported database URL scheme {scheme!r} "
                       "(use sqlite:///… or postgresql+psycopg://…)", field="ONEMAP_DATABASE_URL")
