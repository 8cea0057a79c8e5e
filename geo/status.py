"""Site status rules (pure).

Stage layers (mines, road works, port) keep the status a manager set. Cadence
layers (sanitation zones) derive it whenever it is read, because "overdue" is a
matter of the clock: never inspected → never_inspected; last inspection older
than the cadence → overdue; last inspection had a failed item → needs_attention;
otherwise ok.

Cadence counts calendar days, in the time zone of the ``now`` the caller gives (an
aware datetime; the web app passes ONEMAP_TIMEZONE, Asia/Shanghai by default): an
inspection counts for the local day it was made on (23:30 in Beijing is that day,
00:30 the next), and with a cadence of N days the site is in time through day D + N
and overdue from the first instant of day D + N + 1. A site inspected on Monday
(at 00:10 or at 23:50 alike) with a 7-day cadence is in time all of the next Monday
and overdue from Tuesday 00:00, 1 day overdue that Tuesday, 2 on Wednesday.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta, tzinfo

from geo.model import LayerDef


def local_day(moment: datetime, zone: tzinfo | None) -> date:
    """The calendar day of ``moment`` in ``zone`` (an aware moment; None: the moment's own zone)."""
    return (moment.astimezone(zone) if zone is not None else moment).date()


def due_day(layer: LayerDef, last_inspected_at: datetime, zone: tzinfo | None) -> date:
    """The last day, in ``zone``, on which a site inspected at ``last_inspected_at`` is still in time."""
    return local_day(last_inspected_at, zone) + timedelta(days=layer.cadence_days)


def overdue_from(layer: LayerDef, last_inspected_at: datetime, zone: tzinfo) -> datetime:
    """The first instant a site inspected at ``last_inspected_at`` is overdue: midnight after its due day."""
    return datetime.combine(due_day(layer, last_inspected_at, zone) + timedelta(days=1), time(), zone)


def effective_status(
    layer: LayerDef,
    stored: str,
    last_inspected_at: datetime | None,
    last_result: str | None,
    now: datetime,
) -> str:
    """The status the map shows: ``stored`` for stage layers, else derived from the last inspection,
    its result and the calendar days (in ``now``'s zone) since it (the module's docstring)."""
    if layer.status_mode != "cadence":
        return stored
    if last_inspected_at is None:
        return "never_inspected"
    if days_overdue(layer, last_inspected_at, now) > 0:
        return "overdue"
    if last_result == "fail":
        return "needs_attention"
    return "ok"


def status_of(layer: LayerDef, row, now: datetime) -> str:
    """``effective_status`` of anything shaped like a site row: a Site, a view or export row
    (``status``, ``last_inspected_at``, ``last_result``)."""
    return effective_status(layer, row.status, row.last_inspected_at, row.last_result, now)


def days_overdue(layer: LayerDef, last_inspected_at: datetime | None, now: datetime) -> int | None:
    """Whole calendar days (in ``now``'s zone) past a site's due day: 1 on the first overdue day, 0 on
    the due day, negative while in time; None when never inspected or not a cadence layer."""
    if layer.status_mode != "cadence" or last_inspected_at is None:
        return None
    return (now.date() - due_day(layer, last_inspected_at, now.tzinfo)).days


def report_result(checklist: dict[str, str]) -> str:
    """A report's result: "fail" when any checklist item failed, else "pass"."""
    return "fail" if "fail" in checklist.values() else "pass"
