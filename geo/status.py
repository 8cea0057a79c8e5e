"""Site status rules (pure).

Stage layers (mines, road works, port) keep the status a manager set. Cadence
layers (sanitation zones) derive it whenever it is read, because "overdue" is a
matter of the clock: never inspected → never_inspected; last inspection older
than the cadence → overdue; last inspection had a failed item → needs_attention;
otherwise ok.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from geo.model import LayerDef


def effective_status(
    layer: LayerDef,
    stored: str,
    last_inspected_at: datetime | None,
    last_result: str | None,
    now: datetime,
) -> str:
    if layer.status_mode != "cadence":
        return stored
    if last_inspected_at is None:
        return "never_inspected"
    if now - last_inspected_at > timedelta(days=layer.cadence_days):
        return "overdue"
    if last_result == "fail":
        return "needs_attention"
    return "ok"


def days_overdue(layer: LayerDef, last_inspected_at: datetime | None, now: datetime) -> float | None:
    """How many days past its cadence a site is (None when never inspected or not a cadence layer)."""
    if layer.status_mode != "cadence" or last_inspected_at is None:
        return None
    return (now - last_inspected_at).total_seconds() / 86400 - layer.cadence_days


def report_result(checklist: dict[str, str]) -> str:
    """A report's result: "fail" when any checklist item failed, else "pass"."""
    return "fail" if "fail" in checklist.values() else "pass"
