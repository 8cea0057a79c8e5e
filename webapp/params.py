"""Query-string parameters, parsed once, with a 400 naming the parameter when they are wrong."""

from __future__ import annotations

import math
from datetime import datetime, timedelta

from geo.exports import parse_time
from geo.model import OneMapError


class BadParameter(OneMapError):
    code = "bad_parameter"

    def __init__(self, name: str, problem: str):
        super().__init__(f"{name}: {problem}")
        self.field = name


def bbox(value: str | None, name: str = "bbox") -> tuple[float, float, float, float] | None:
    if value in (None, ""):
        return None
    parts = value.split(",")
    if len(parts) != 4:
        raise BadParameter(name, f"give minx,miny,maxx,maxy (4 numbers), not {len(parts)}")
    try:
        minx, miny, maxx, maxy = (float(p) for p in parts)
    except ValueError:
        raise BadParameter(name, f"{value!r} has a part that is not a number") from None
    if not all(math.isfinite(v) for v in (minx, miny, maxx, maxy)):
        raise BadParameter(name, "numbers must be finite")
    if not (-180 <= minx <= 180 and -180 <= maxx <= 180 and -90 <= miny <= 90 and -90 <= maxy <= 90):
        raise BadParameter(name, "outside lon -180…180 / lat -90…90 (WGS84 degrees, lon first)")
    if minx > maxx or miny > maxy:
        raise BadParameter(name, "min is greater than max")
    return minx, miny, maxx, maxy


def integer(value: str | None, name: str, low: int, high: int) -> int | None:
    if value in (None, ""):
        return None
    try:
        number = int(value)
    except ValueError:
        raise BadParameter(name, f"{value!r} is not a whole number") from None
    if not low <= number <= high:
        raise BadParameter(name, f"{number} is outside {low}…{high}")
    return number


def codes(value: str | None, name: str, allowed: set[str]) -> frozenset[str]:
    """A comma-separated list of codes, each of which must be allowed."""
    chosen = frozenset(v.strip() for v in (value or "").split(",") if v.strip())
    unknown = sorted(chosen - allowed)
    if unknown:
        listed = ", ".join(map(repr, unknown))
        raise BadParameter(name, f"unknown {listed} (use {', '.join(sorted(allowed))})")
    return chosen


def choice(value: str | None, name: str, allowed: tuple[str, ...]) -> str | None:
    if value in (None, ""):
        return None
    if value not in allowed:
        raise BadParameter(name, f"{value!r} is not one of {', '.join(allowed)}")
    return value


def as_of(value: str | None, now: datetime) -> datetime | None:
    """A past moment to see the data as it was: a date (its end, China Standard Time) or an ISO time."""
    try:
        moment = parse_time(value, end=True)
    except ValueError as exc:
        raise BadParameter("as_of", str(exc)) from None
    if moment is None or moment <= now:
        return moment
    if moment - now < timedelta(days=1):  # today: the end of the day is still to come, so now
        return now
    raise BadParameter("as_of", "is in the future; give today or an earlier day")
