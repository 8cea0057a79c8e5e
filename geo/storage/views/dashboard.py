"""The dashboard's reader: a layer's figures counted in SQL, and one page of the overdue list.

Every status here is ``statuses.status_case``, so the counts agree row by row with
``geo.status.effective_status``; no site row is read into Python except the page shown.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import Any

import orjson
import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import JSONB

from geo.model import LayerDef, Target
from geo.storage import schema
from geo.storage.views._base import Reader
from geo.storage.views.filters import SiteFilter, where
from geo.storage.views.statuses import local_day_number, overdue_cutoff, status_case


class DashboardView(Reader):
    def counts(self, layer: LayerDef, now: datetime) -> dict[tuple[str | None, str], int]:
        """{(county, status): live sites of the layer}, in one GROUP BY (county None: in no known county)."""
        s = schema.sites.c
        rows = (sa.select(s.county, status_case(layer, now).label("status"))
                .where(*where(SiteFilter(layer_id=layer.id))).subquery())
        query = (sa.select(rows.c.county, rows.c.status, sa.func.count())
                 .group_by(rows.c.county, rows.c.status))
        return {(county, status): n for county, status, n in self.c.execute(query)}

    def target_counts(self, layer: LayerDef, now: datetime) -> dict[str, int]:
        """{target id: live sites matching its ``where``}: ``(status if key == "status" else
        attributes.get(key)) == value`` for every key, as Python compares the stored values (a missing
        key is None; True == 1; a string equals only a string), every target in one pass.

        SQLite reads ``ix_sites_attributes_sqlite`` alone. PostgreSQL reads the rows that may match a
        target, found by jsonb containment in ``ix_sites_attributes_gin``, parsing each row's JSON once.
        """
        if not layer.targets:
            return {}
        live = where(SiteFilter(layer_id=layer.id))
        if self.c.dialect.name == "sqlite":
            status, attributes = status_case(layer, now), schema.sites.c.attributes
            matching = [_matches(t, status, lambda key, value: _sqlite_equals(attributes, key, value))
                        for t in layer.targets]
            query = sa.select(*(_count(m) for m in matching)).where(*live)
        else:
            candidates = [_candidates(t) for t in layer.targets]
            rows = sa.select(sa.cast(schema.sites.c.attributes, JSONB).label("j"),
                             status_case(layer, now).label("status")).where(*live)
            if all(candidates):  # else some target needs every row read anyway
                rows = rows.where(sa.or_(*(sa.and_(*c) for c in candidates)))
            rows = rows.offset(0).subquery()  # OFFSET 0: not merged, so each row's JSON is parsed once
            matching = [_matches(t, rows.c.status, lambda key, value: _jsonb_equals(rows.c.j, key, value))
                        for t in layer.targets]
            query = sa.select(*(_count(m) for m in matching)).select_from(rows)
        return {t.id: int(n or 0) for t, n in zip(layer.targets, self.c.execute(query).one(), strict=True)}

    def metric_sums(self, layer_id: str, metric_ids: Iterable[str]) -> dict[str, float]:
        """{metric: sum over every report on the layer's sites that is not rejected}: the running sums
        ``metric_totals`` holds (kept by triggers on ``reports``, migration 0008), so the dashboard
        reads no report rows however many there are."""
        ids = list(metric_ids)
        if not ids:
            return {}
        m = schema.metric_totals.c
        totals = dict(self.c.execute(sa.select(m.metric, m.total).where(m.layer_id == layer_id,
                                                                         m.metric.in_(ids))).all())
        return {metric: float(totals.get(metric) or 0.0) for metric in ids}

    def overdue(self, layers: Sequence[LayerDef], now: datetime, *, offset: int = 0,
                limit: int = 50) -> tuple[list[Any], int]:
        """One page of the live overdue sites of ``layers`` (cadence layers; others have none), most
        days overdue first, then by id; and how many there are in all. Rows: id, name, county,
        layer_id, last_inspected_at."""
        s = schema.sites.c
        cadence = [layer for layer in layers if layer.status_mode == "cadence"]
        if not cadence:
            return [], 0
        cutoffs = {layer.id: overdue_cutoff(layer, now) for layer in cadence}
        late = [*where(SiteFilter()), sa.or_(*(sa.and_(s.layer_id == layer_id, s.last_inspected_at < cutoff)
                                               for layer_id, cutoff in cutoffs.items()))]
        total, earliest = self.c.execute(sa.select(sa.func.count(), sa.func.min(s.last_inspected_at))
                                         .where(*late)).one()
        if not total or offset >= total:
            return [], total
        # Days overdue = today − due day, the due day being the local day of the last inspection +
        # cadence: ordering by the due day, then id, is "most days overdue first, then id".
        day = local_day_number(s.last_inspected_at, now.tzinfo or UTC, earliest, max(cutoffs.values()))
        cadence_days = (sa.literal(cadence[0].cadence_days) if len(cadence) == 1 else
                        sa.case({layer.id: layer.cadence_days for layer in cadence}, value=s.layer_id))
        due = (day + cadence_days).label("due")
        page = (sa.select(s.id, due).where(*late).order_by(due, s.id).offset(offset).limit(limit)
                .subquery())
        query = (sa.select(s.id, s.name, s.county, s.layer_id, s.last_inspected_at)
                 .join(page, page.c.id == s.id).order_by(page.c.due, page.c.id))
        return self.c.execute(query).all(), total

    def progress(self, layer: LayerDef, now: datetime, attribute: str = "progress_pct") -> list[Any]:
        """The live sites of the layer that have ``attribute``, in id order: id, name, status, progress
        (the stored value). Layers with such an attribute are small (road works, the port)."""
        s = schema.sites.c
        query = (sa.select(s.id, s.name, status_case(layer, now).label("status"),
                           s.attributes[attribute].label("progress"))
                 .where(*where(SiteFilter(layer_id=layer.id)), self._has(attribute)).order_by(s.id))
        return self.c.execute(query).all()

    # ------------------------------------------------------------------ attributes in SQL
    def _has(self, key: str) -> sa.ColumnElement[bool]:
        """The site's attributes hold ``key`` (with any value, null included)."""
        a = schema.sites.c.attributes
        if self.c.dialect.name == "sqlite":
            return sa.func.json_type(a, _path(key)).is_not(None)
        return a[key].is_not(None)  # ->: SQL NULL only when the key is missing


def _count(test: sa.ColumnElement[bool]) -> sa.ColumnElement[int]:
    return sa.func.sum(sa.case((test, 1), else_=0))


def _matches(target: Target, status: sa.ColumnElement[str], equals) -> sa.ColumnElement[bool]:
    """Every key of the target's ``where``: the status the map shows, or ``equals(key, value)``."""
    return sa.and_(sa.true(), *(status == value if key == "status" else equals(key, value)
                                for key, value in target.where.items()))


def _forms(value: Any) -> list[Any]:
    """The JSON values Python finds equal to ``value``: True == 1 and False == 0 (jsonb: true is not 1)."""
    if isinstance(value, bool | int | float) and value in (0, 1):
        return [bool(value), int(value)]
    return [value]


def _sqlite_equals(attributes: sa.ColumnElement, key: str, value: Any) -> sa.ColumnElement[bool]:
    """``attributes.get(key) == value`` with SQLite's JSON_EXTRACT (SQLAlchemy's ``as_string``): it gives
    true / false as 1 / 0, numbers as numbers, strings as text and lists or objects as JSON text, and
    SQLite never finds a number equal to a text. Numbers are compared uncast (``as_float`` would
    CAST, and a text cast to a number is 0)."""
    item = attributes[key]
    if value is None:
        return item.as_string().is_(None)  # missing or JSON null
    if isinstance(value, str):  # the type tested second: evaluated for equal texts only
        return sa.and_(item.as_string() == value, sa.func.json_type(attributes, _path(key)) == "text")
    if isinstance(value, bool | int | float):
        return sa.func.json_extract(attributes, _path(key), type_=sa.Float) == float(value)
    return sa.and_(item.as_string() == sa.func.json(orjson.dumps(value).decode()),
                   sa.func.json_type(attributes, _path(key)).in_(("array", "object")))


def _jsonb_equals(document: sa.ColumnElement, key: str, value: Any) -> sa.ColumnElement[bool]:
    """``attributes.get(key) == value`` on the attributes as jsonb: jsonb equality (numbers by value,
    objects whatever their key order), either form of a boolean."""
    item = document[key]
    if value is None:
        return sa.or_(item.is_(None), sa.func.jsonb_typeof(item) == "null")  # missing or JSON null
    return sa.or_(*(item == sa.cast(sa.literal(orjson.dumps(form).decode()), JSONB)
                    for form in _forms(value)))


def _candidates(target: Target) -> list[sa.ColumnElement[bool]]:
    """PostgreSQL: what the attributes of a site matching the target must contain, as jsonb containment
    (``ix_sites_attributes_gin``): a necessary condition, the exact test follows. None also matches a
    missing key, which containment cannot say."""
    attributes = sa.cast(schema.sites.c.attributes, JSONB)
    return [sa.or_(*(attributes.contains({key: form}) for form in _forms(value)))
            for key, value in target.where.items() if key != "status" and value is not None]


def _path(key: str) -> str:
    """The JSON path SQLAlchemy's accessors use on SQLite for a top-level key."""
    return '$."' + key.replace('"', '\\"') + '"'
