"""The read side: one module per consumer of site and report rows (map, exports, OGC, dashboard).

Each reader is bound to the connection of one unit of work, like a repository, and is
reached as ``uow.<name>_view``. Readers never write. They build their WHERE clauses from
one ``filters.SiteFilter`` (``filters.where``), so every consumer filters sites the same way
on every backend. Repositories (geo/storage/repositories.py) keep the writes and ``get``.
"""
