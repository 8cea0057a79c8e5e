"""Statuses counted in SQL: the expressions that say, row by row, what ``geo.status`` says.

The clock stays in Python. ``status_case`` binds one instant per cadence layer, the cutoff
``geo.status``'s day rules give (a site last inspected before local midnight of today − cadence
days, in ``now``'s zone, is overdue), converted to UTC, so the database needs no time zone of
its own and SQLite and PostgreSQL agree. ``local_day`` numbers calendar days in a zone for the
rows of a time range (ordering the overdue list by days overdue): the zone's UTC offsets over
that range are found in Python and written into the SQL as a CASE.

Readers that group by a status select it in a subquery and group the outer query by its
label: PostgreSQL would not see the bound values of a CASE in SELECT and in GROUP BY as one
expression.
"""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta, tzinfo

import sqlalchemy as sa
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.expression import FunctionElement

from geo.model import LayerDef
from geo.status import local_day
from geo.storage import schema

DAY_S = 86_400


def overdue_cutoff(layer: LayerDef, now: datetime) -> datetime:
    """The UTC instant a cadence layer's site must have been inspected at or after to be in time ``now``.

    ``geo.status``: inspected on day D with a cadence of N days, a site is overdue from midnight of
    D + N + 1; so it is overdue now exactly when D < today − N, i.e. when it was last inspected before
    local midnight starting day today − N.
    """
    first_day_in_time = local_day(now, None) - timedelta(days=layer.cadence_days)
    return datetime.combine(first_day_in_time, time(), now.tzinfo or UTC).astimezone(UTC)  # naive: UTC


def status_case(layer: LayerDef, now: datetime, table: sa.Table = schema.sites) -> sa.ColumnElement[str]:
    """The status the map shows, as SQL over ``table``'s columns (``sites`` or a table shaped like it),
    equal row by row to ``geo.status.effective_status(layer, status, last_inspected_at, last_result,
    now)``."""
    c = table.c
    if layer.status_mode != "cadence":
        return c.status
    return sa.case(
        (c.last_inspected_at.is_(None), "never_inspected"),
        (c.last_inspected_at < overdue_cutoff(layer, now), "overdue"),
        (c.last_result == "fail", "needs_attention"),
        else_="ok",
    )


class epoch_seconds(FunctionElement):  # noqa: N801 - SQL function names are lower case
    """Seconds since 1970-01-01 UTC of a UTC timestamp column, on either backend."""

    type = sa.BigInteger()
    name = "epoch_seconds"
    inherit_cache = True


@compiles(epoch_seconds)
def _epoch_seconds(element, compiler, **kw):
    return f"CAST(FLOOR(EXTRACT(EPOCH FROM {compiler.process(element.clauses, **kw)})) AS BIGINT)"


@compiles(epoch_seconds, "sqlite")
def _epoch_seconds_sqlite(element, compiler, **kw):
    # Timestamps are stored as UTC text ("2024-06-01 12:00:00.123456"). The fraction is cut off first:
    # SQLite rounds it to milliseconds, and 23:59:59.9996 would become the next day.
    return f"CAST(strftime('%s', substr({compiler.process(element.clauses, **kw)}, 1, 19)) AS INTEGER)"


def utc_offsets(zone: tzinfo, start: datetime, end: datetime) -> list[tuple[datetime | None, int]]:
    """``zone``'s UTC offsets (seconds) from ``start`` to ``end``: [(from, offset)], the first from None
    (any earlier instant), each later one from the exact second it took effect."""

    def offset(epoch: int) -> int:
        return int(datetime.fromtimestamp(epoch, zone).utcoffset().total_seconds())

    first, last = int(start.timestamp()), int(end.timestamp()) + 1
    found: list[tuple[datetime | None, int]] = [(None, offset(first))]
    lo = first
    while lo < last:  # probe twice a day (offsets change months apart), then bisect to the second
        hi = min(lo + DAY_S // 2, last)
        if offset(hi) != found[-1][1]:
            a, b = lo, hi
            while b - a > 1:
                middle = (a + b) // 2
                a, b = (middle, b) if offset(middle) == found[-1][1] else (a, middle)
            found.append((datetime.fromtimestamp(b, UTC), offset(b)))
        lo = hi
    return found


def local_day_number(column: sa.ColumnElement, zone: tzinfo, start: datetime,
                     end: datetime) -> sa.ColumnElement[int]:
    """The calendar day (in ``zone``) of a UTC timestamp ``column``, as a day number (days since
    1970-01-01), exact for the rows whose timestamps lie between ``start`` and ``end`` (and after 1970)."""
    offsets = utc_offsets(zone, start, end)
    if len(offsets) == 1:
        shift: sa.ColumnElement = sa.literal(offsets[0][1], sa.Integer)
    else:  # the offset in force at each row's instant: the last change before it
        shift = sa.case(*((column < since, before) for (_, before), (since, _) in zip(offsets, offsets[1:],
                                                                                      strict=False)),
                        else_=offsets[-1][1])
    return (epoch_seconds(column) + shift) // DAY_S  # whole seconds ≥ 0: integer division floors
