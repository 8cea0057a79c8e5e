"""The city's counties: which one a geometry lies in, a county by its code, their names in a language.

County boundaries are stored when a dataset is loaded (``onemap init``) and never change while a
store runs, so their shapes and STRtree are built once per store (``counties_of``), not on every
import and every drawn, split or merged site. The store keeps them (``Store.cache``) and drops
them when that changes: a commit that stored a county, a restore (``Store.load``). A county
stored by another process shows after a restart.
"""

from __future__ import annotations

from typing import Any

import shapely

from geo.storage.base import UnitOfWork

_KEY = "counties"


class CountyLocator:
    """Counties by code, and which one a geometry lies in (by its representative point), with an STRtree."""

    def __init__(self, counties: list[dict[str, Any]]):
        self.codes = [c["code"] for c in counties]
        self.by_code = {c["code"]: c for c in counties}
        self.tree = shapely.STRtree([c["geometry"] for c in counties])

    def code_for(self, geometry) -> str | None:
        hits = self.tree.query(geometry.representative_point(), predicate="intersects")
        return self.codes[min(hits)] if len(hits) else None

    def get(self, code: str | None) -> dict[str, Any] | None:
        """The county (code, name, name_en, geometry) of ``code``, or None."""
        return self.by_code.get(code)


def counties_of(uow: UnitOfWork) -> CountyLocator:
    """The counties of the unit of work's store, read and indexed at the first call, then kept.

    A unit of work that stored a county and has not committed it sees its own counties,
    built for it and not kept (they are not the store's until the commit).
    """
    if uow.counties.stored:
        return CountyLocator(uow.counties.all())
    cache = uow.store.cache
    found = cache.get(_KEY)
    if found is None:  # two threads may both build it here; either result is the same
        found = cache[_KEY] = CountyLocator(uow.counties.all())
    return found


def names_in(names: dict[str, tuple[str, str | None]], lang: str) -> dict[str, str]:
    """{code: name in ``lang``} of ``CountyRepo.names()`` (the Chinese name where there is no English)."""
    english = lang == "en"
    return {code: (en or zh) if english else zh for code, (zh, en) in names.items()}


def county_names(uow: UnitOfWork, lang: str) -> dict[str, str]:
    """{code: name in ``lang``} of the store's counties, by code, from the kept copy (``counties_of``)."""
    counties = counties_of(uow).by_code.values()
    return names_in({c["code"]: (c["name"], c["name_en"]) for c in counties}, lang)
