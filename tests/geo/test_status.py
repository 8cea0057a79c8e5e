"""Status rules: a case table for the cadence layer, stage layers keep what a manager set."""

from datetime import UTC, datetime, timedelta

import pytest

from geo.status import days_overdue, effective_status

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    "last, result, expected",
    [
        (None, None, "never_inspected"),
        (NOW - timedelta(days=2), "pass", "ok"),
        (NOW - timedelta(days=2), "fail", "needs_attention"),
        (NOW - timedelta(days=7), "pass", "ok"),  # exactly the cadence: still in time
        (NOW - timedelta(days=7, hours=11), "pass", "ok"),  # 7 calendar days ago: in time all of today
        (NOW - timedelta(days=7, hours=13), "pass", "overdue"),  # 8 calendar days ago: see test_local_days
        (NOW - timedelta(days=30), "fail", "overdue"),  # overdue outranks a failed item
    ],
)
def test_sanitation_zone_status_follows_cadence(layers, last, result, expected):
    assert effective_status(layers["sanitation_zones"], "never_inspected", last, result, NOW) == expected


def test_stage_layers_keep_the_stored_status(layers):
    long_ago = NOW - timedelta(days=999)
    mines = layers["mines"]
    assert effective_status(mines, "provincial_passed", long_ago, "fail", NOW) == "provincial_passed"
    assert effective_status(layers["road_works"], "main_complete", None, None, NOW) == "main_complete"


def test_days_overdue(layers):
    zones = layers["sanitation_zones"]
    assert days_overdue(zones, NOW - timedelta(days=10), NOW) == 3
    assert days_overdue(zones, None, NOW) is None
    assert days_overdue(layers["mines"], NOW - timedelta(days=400), NOW) is None
