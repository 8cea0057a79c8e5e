"""Query-string parameters, parsed once, with a 400 naming the parameter when they are wrong."""

from __future__ import annotations

import math
from datetime import datetime, timedelta

from geo.messages import Message, msg
from geo.model import OneMapError
from geo.times import parse_time


class BadParameter(OneMapError):
    """A query parameter that cannot be used: "name: problem", the problem translated where it is shown."""

    code = "bad_parameter"

    def __init__(self, name: str, problem: Message | str):
        super().__init__(msg("bad_parameter", "{name}: {problem}", name=name, problem=problem))
        self.field = name


def problem_of(exc: ValueError) -> Message | str:
    """What a parser's ValueError says: its Message when it carries one, else its text."""
    first = exc.args[0] if exc.args else None
    return first if isinstance(first, Message) else str(exc)


def bbox(value: str | None, name: str = "bbox") -> tuple[float, float, float, float] | None:
    if value in (None, ""):
        return None
    parts = value.split(",")
    if len(parts) != 4:
        raise BadParameter(name, msg("bbox_parts", "give minx,miny,maxx,maxy (4 numbers), not {n}",
                                     n=len(parts)))
    try:
        minx, miny, maxx, maxy = (float(p) for p in parts)
    except ValueError:
        raise BadParameter(name, msg("bbox_not_number", "{value} has a part that is not a number",
                                     value=repr(value))) from None
    if not all(math.isfinite(v) for v in (minx, miny, maxx, maxy)):
        raise BadParameter(name, msg("bbox_not_finite", "numbers must be finite"))
    if not (-180 <= minx <= 180 and -180 <= maxx <= 180 and -90 <= miny <= 90 and -90 <= maxy <= 90):
        raise BadParameter(name, msg("bbox_outside", "outside lon -180…180 / lat -90…90 (WGS84 degrees, "
                                     "lon first)"))
    if minx > maxx or miny > maxy:
        raise BadParameter(name, msg("bbox_min_max", "min is greater than max"))
    return minx, miny, maxx, maxy


def integer(value: str | None, name: str, low: int, high: int) -> int | None:
    if value in (None, ""):
        return None
    try:
        number = int(value)
    except ValueError:
        raise BadParameter(name, msg("not_whole_number", "{value} is not a whole number",
                                     value=repr(value))) from None
    if not low <= number <= high:
        raise BadParameter(name, msg("outside_range", "{value} is outside {low}…{high}", value=number,
                                     low=low, high=high))
    return number


def codes(value: str | None, name: str, allowed: set[str]) -> frozenset[str]:
    """A comma-separated list of codes, each of which must be allowed."""
    chosen = frozenset(v.strip() for v in (value or "").split(",") if v.strip())
    unknown = sorted(chosen - allowed)
    if unknown:
        listed = ", ".join(map(repr, unknown))
        raise BadParameter(name, msg("unknown_codes", "unknown {values} (use {allowed})", values=listed,
                                     allowed=", ".join(sorted(allowed))))
    return chosen


def choice(value: str | None, name: str, allowed: tuple[str, ...]) -> str | None:
    if value in (None, ""):
        return None
    if value not in allowed:
        raise BadParameter(name, msg("not_one_of", "{value} is not one of {allowed}", value=repr(value),
                                     allowed=", ".join(allowed)))
    return value


def as_of(value: str | None, now: datetime) -> datetime | None:
    """A past moment to see the data as it was: a date (its end) or an ISO time, in ``now``'s zone
    (webapp.context.now(): ONEMAP_TIMEZONE), whose calendar days geo.status then counts."""
    try:
        moment = parse_time(value, end=True, zone=now.tzinfo)
    except ValueError as exc:
        raise BadParameter("as_of", problem_of(exc)) from None
    if moment is not None:
        moment = moment.astimezone(now.tzinfo)
    if moment is None or moment <= now:
        return moment
    if moment - now < timedelta(days=1):  # today: the end of the day is still to come, so now
        return now
    raise BadParameter("as_of", msg("in_future", "is in the future; give today or an earlier day"))
