"""The storage interface every backend implements: a Store that hands out units of work.

A unit of work is one transaction with the repositories bound to it
(``uow.sites``, ``uow.users``, …). It rolls back unless the service commits,
so a service that fails half-way leaves nothing half-written (the idea of
cosmicpython's chapter 6).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from contextlib import AbstractContextManager
from pathlib import Path

from geo.messages import msg
from geo.model import InvalidInput
from geo.storage import protocols as p


class UnitOfWork(ABC):
    """One transaction: the repositories (writes and ``get``) and the readers of the read side
    (``*_view``, one per consumer), each typed by its Protocol in protocols.py."""

    layers: p.Layers
    counties: p.Counties
    sites: p.Sites
    versions: p.Versions
    users: p.Users
    tokens: p.Tokens
    assignments: p.Assignments
    reports: p.Reports
    photos: p.Photos
    audit: p.Audit
    map_view: p.MapReader
    export_view: p.ExportReader
    ogc_view: p.OgcReader
    history_view: p.HistoryReader
    dashboard_view: p.DashboardReader
    store: Store  # the store this unit of work belongs to

    @abstractmethod
    def begin_write(self, *, exclusive: bool = True) -> None:
        """End what was read so far and start the write transaction (taking the write lock now).

        Lets a service do slow work (checking photos, writing files) before it
        holds the lock, so other writers are not kept waiting. ``exclusive=False``
        says the unit's writes are safe beside other writers by themselves (inserts
        under unique constraints, single-row conditional updates): a backend that
        can run writers side by side (PostgreSQL) then takes no writers' lock and
        goes on in the transaction of the reads.
        """

    @abstractmethod
    def commit(self) -> None: ...

    @abstractmethod
    def rollback(self) -> None: ...


class Store(ABC):
    """A database holding OneMap's tables, chosen by URL in ``open_store``."""

    url: str
    # What is built once from data that stays while the store runs (geo.counties); emptied when it changes.
    cache: dict[str, object]

    @abstractmethod
    def migrate(self) -> None:
        """Create or upgrade the tables to the newest migration; safe to run again."""

    @abstractmethod
    def unit_of_work(self, *, write: bool = False, brief: bool = False) -> AbstractContextManager[UnitOfWork]:
        """A transaction; ``write=True`` takes the write lock up front where the backend has one.

        ``brief=True``: a unit of one read statement (a login's user, a token's), run without a transaction
        where that saves round trips (PostgreSQL: no BEGIN and ROLLBACK)."""

    @abstractmethod
    def ping(self) -> bool:
        """True when the database answers a trivial query."""

    @abstractmethod
    def is_empty(self) -> bool:
        """True when no tables or no layers exist yet (a new instance)."""

    def close(self) -> None:  # noqa: B027 - optional for backends with nothing to release
        """Release connections."""

    dump_name = "database"

    @property
    def backend(self) -> str:
        """The kind of database: ``sqlite`` or ``postgresql`` (the URL's scheme without its driver)."""
        return self.url.split(":", 1)[0].split("+", 1)[0]

    def snapshot(self, path: Path) -> AbstractContextManager[UnitOfWork]:
        """Write a consistent copy of the whole database to the file ``path`` while it is in use,
        and yield a read-only unit of work that sees exactly what the copy holds."""
        raise InvalidInput(msg("backup_unavailable", "backups of {backend} databases are not available",
                               backend=self.backend),
                           field="ONEMAP_DATABASE_URL")

    def load(self, path: Path) -> None:
        """Replace the whole database by the copy ``snapshot`` wrote to ``path``."""
        raise InvalidInput(msg("restore_unavailable", "restoring {backend} databases is not available",
                               backend=self.backend),
                           field="ONEMAP_DATABASE_URL")
