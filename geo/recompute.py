"""Use case: recompute every site's latest report and result from the reports themselves.

Filing and reviewing keep each site's latest counting report (``last_report_id``,
``last_inspected_at``, ``last_result``, ``last_review``) up to date one site at a time
(``ReportRepo.note_filed``, ``refresh_latest``). After reports arrive by another way (a
bulk load, a restore of the reports table, a fix by hand in the database) those columns
are set again for all sites at once, in one set-based UPDATE; the result equals
``refresh_latest`` run for every site.
"""

from __future__ import annotations

from datetime import datetime

from geo.storage.base import UnitOfWork

# The checklist answer that makes a report's result "fail": geo.status.report_result's rule, which the
# database applies here as SQL (tests/geo/test_recompute.py holds the two together).
FAILED = "fail"


def recompute_status(*, uow: UnitOfWork, actor: str, now: datetime, layer_id: str | None = None) -> int:
    """Set the latest counting report (not rejected) and its result on every site, or on the sites of
    ``layer_id``; commits, records ``sites.recompute_status``, and returns how many sites changed."""
    uow.begin_write()
    changed = uow.reports.recompute_latest(FAILED, layer_id)
    uow.audit.record(actor, "sites.recompute_status", f"layer:{layer_id}" if layer_id else "sites",
                     {"changed": changed}, now)
    uow.commit()
    return changed
