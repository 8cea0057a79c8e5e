"""What every reader holds: the unit of work's connection and the store's spatial hooks."""

from __future__ import annotations

from typing import TYPE_CHECKING

import sqlalchemy as sa

if TYPE_CHECKING:
    from geo.storage.sql import SqlStore


class Reader:
    def __init__(self, connection: sa.Connection, store: SqlStore):
        self.c = connection
        self.store = store
