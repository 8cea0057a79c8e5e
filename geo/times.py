"""Times as OneMap reads and writes them: the users' zone, ISO 8601 text, dates as whole local days.

Stored times are UTC. A date given without a time (``since``, ``until``, ``as_of``, an OGC
``datetime``) is a calendar day where the users are: the zone the caller passes (the web app
and the CLI: ONEMAP_TIMEZONE), else ``LOCAL_TIME``. Programs read ISO 8601 with an offset
(``iso``); tables for people read ``YYYY-MM-DD HH:MM`` in a zone (``local_time``).
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta, tzinfo
from zoneinfo import ZoneInfo

from geo.messages import msg

# ONEMAP_TIMEZONE's default, China Standard Time; the web app and the CLI pass theirs.
LOCAL_TIME = ZoneInfo("Asia/Shanghai")
TIME_FORMAT = "%Y-%m-%d %H:%M"  # a local time in a table for people: text that sorts as it reads

Bounds = tuple[datetime | None, datetime | None]  # inclusive; None is an open end

_OPEN = ("", "..")  # both spellings of an open interval end in OGC API – Features


def iso(value: datetime | None) -> str | None:
    """ISO 8601 text of a moment (with its offset), or None."""
    return value.isoformat() if value else None


def parse_time(text: str | None, *, end: bool = False, zone: tzinfo = LOCAL_TIME) -> datetime | None:
    """A ``since`` / ``until`` value: an ISO 8601 time with a UTC offset, or a date (YYYY-MM-DD).

    A date is a whole day in ``zone`` (the web app passes ONEMAP_TIMEZONE): its first instant, or
    with ``end`` its last, so that ``until=2026-05-31`` includes the 31st. ValueError says what is wrong.
    """
    text = (text or "").strip()
    if not text:
        return None
    try:
        day = date.fromisoformat(text)
    except ValueError:
        day = None
    if day is not None:  # the next day's midnight, not 24 h on: a day with a clock change is 23 or 25 h
        start = datetime.combine(day + timedelta(days=1) if end else day, time(), zone)
        return start - timedelta(microseconds=1) if end else start
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(f"{text!r} is neither a date (YYYY-MM-DD) nor an ISO 8601 time") from None
    if moment.tzinfo is None:
        raise ValueError(f"{text!r} needs a UTC offset, e.g. {text}+08:00")
    return moment


def parse_datetime(text: str, zone: tzinfo = LOCAL_TIME) -> Bounds:
    """An instant or an interval ``start/end`` (``..`` or nothing for an open end) as inclusive bounds;
    a date is a whole day in ``zone``.

    Raises ValueError saying what is wrong.
    """
    text = text.strip()
    if "/" not in text:
        if text in _OPEN:
            raise ValueError(msg("datetime_empty", "give a time, a date or an interval start/end"))
        return parse_time(text, end=False, zone=zone), parse_time(text, end=True, zone=zone)
    start_text, end_text = (part.strip() for part in text.split("/", 1))
    if "/" in end_text:
        raise ValueError(msg("interval_slashes", "an interval has one '/' between its start and its end"))
    start = None if start_text in _OPEN else parse_time(start_text, end=False, zone=zone)
    end = None if end_text in _OPEN else parse_time(end_text, end=True, zone=zone)
    if start is not None and end is not None and start > end:
        raise ValueError(msg("interval_reversed", "the interval starts after it ends"))
    return start, end


def local_time(value: datetime | str | None, zone: tzinfo) -> str | None:
    """A stored moment (a datetime, or its ISO 8601 text) as ``YYYY-MM-DD HH:MM`` in ``zone``."""
    if value in (None, ""):
        return None
    moment = datetime.fromisoformat(value) if isinstance(value, str) else value
    if moment.tzinfo is None:  # stored times are UTC
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(zone).strftime(TIME_FORMAT)
