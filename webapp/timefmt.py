"""Times as people read them: in ONEMAP_TIMEZONE, in the format of the page's language.

Stored times are UTC; a page shows them through the Jinja filters registered here
(``{{ r.observed_at | local_datetime }}`` → ``2026年12月7日 21:30`` in zh_CN, ``Dec 7, 2026, 9:30 PM`` in
English; ``| local_date`` → ``2026年12月7日`` / ``Dec 7, 2026``). Flask-Babel does the formatting, in the
zone of its timezone selector (webapp/i18n.py). Programs (GeoJSON, the OGC API, the JSON API) read ISO
8601 with an offset instead, never these.
"""

from __future__ import annotations

from datetime import date, datetime

from flask_babel import format_date, format_time, get_locale


def _moment(value) -> datetime | date | None:
    """A datetime (an ISO 8601 text too, as the OGC pages hold), a date, or None for nothing to show."""
    if value in (None, ""):
        return None
    if isinstance(value, str):
        return datetime.fromisoformat(value)
    return value


def local_datetime(value) -> str:
    """A moment's date (medium) and time (short) in the configured zone, joined as the locale joins them."""
    moment = _moment(value)
    if moment is None:
        return ""
    if not isinstance(moment, datetime):
        return format_date(moment, "medium")
    # how the locale joins a date and a time: "{1} {0}" in zh_CN, "{1}, {0}" in English
    pattern = str(get_locale().datetime_formats["medium"]).replace("'", "")
    return pattern.replace("{1}", format_date(moment, "medium")).replace("{0}", format_time(moment, "short"))


def local_date(value) -> str:
    """A moment's calendar day in the configured zone (a 23:30 report in Beijing is that day's)."""
    moment = _moment(value)
    return "" if moment is None else format_date(moment, "medium")


def init_app(app) -> None:
    app.jinja_env.filters.update(local_datetime=local_datetime, local_date=local_date)
