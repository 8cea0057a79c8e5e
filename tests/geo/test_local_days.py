"""Day boundaries in the users' time zone: cadence, overdue, the status timeline, since/until dates.

An inspection counts for the calendar day it was made on where the users are (the zone of the
``now`` the caller gives): 23:30 on a Monday in Beijing is Monday's, 00:30 is Tuesday's.
"""

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from types import SimpleNamespace
from zoneinfo import ZoneInfo

import pytest

from geo import times
from geo.queries import status_timeline
from geo.status import days_overdue, due_day, effective_status, local_day, overdue_from

CST = ZoneInfo("Asia/Shanghai")
LONDON = ZoneInfo("Europe/London")


def cst(day: int, hour: int, minute: int = 0) -> datetime:
    """A moment in December 2026, China Standard Time; the 7th is a Monday."""
    return datetime(2026, 12, day, hour, minute, tzinfo=CST)


MONDAY_LATE = cst(7, 23, 30)  # 15:30 UTC, Monday everywhere west of Beijing too
TUESDAY_EARLY = cst(8, 0, 30)  # 16:30 UTC on Monday: Tuesday in Beijing


@pytest.fixture
def weekly(layers):
    return replace(layers["sanitation_zones"], cadence_days=7)


@pytest.mark.parametrize(
    "inspected, now, status, days",
    [
        (MONDAY_LATE, cst(7, 23, 59), "ok", -7),  # the same Monday
        (MONDAY_LATE, cst(14, 0, 0), "ok", 0),  # the next Monday: the due day, in time all day
        (MONDAY_LATE, cst(14, 23, 59), "ok", 0),
        (MONDAY_LATE, cst(15, 0, 0), "overdue", 1),  # Tuesday 00:00: overdue, 1 day
        (MONDAY_LATE, cst(15, 10, 0), "overdue", 1),
        (MONDAY_LATE, cst(16, 9, 0), "overdue", 2),
        (TUESDAY_EARLY, cst(14, 23, 59), "ok", -1),  # counted for Tuesday: due the next Tuesday
        (TUESDAY_EARLY, cst(15, 10, 0), "ok", 0),
        (TUESDAY_EARLY, cst(16, 0, 0), "overdue", 1),
        (cst(7, 0, 10), cst(14, 23, 59), "ok", 0),  # early or late on Monday: the same due day
        (cst(7, 0, 10), cst(15, 0, 0), "overdue", 1),
    ],
)
def test_cadence_counts_calendar_days_in_the_zone_of_now(weekly, inspected, now, status, days):
    stored_as = inspected.astimezone(UTC)  # the store gives UTC; the zone of `now` defines the days
    assert effective_status(weekly, "ok", stored_as, "pass", now) == status
    assert days_overdue(weekly, stored_as, now) == days


@pytest.mark.parametrize("inspected, day", [(MONDAY_LATE, date(2026, 12, 7)),
                                            (TUESDAY_EARLY, date(2026, 12, 8))])
def test_a_report_counts_for_its_local_day(inspected, day):
    assert local_day(inspected.astimezone(UTC), CST) == day
    assert local_day(inspected.astimezone(UTC), UTC) == date(2026, 12, 7)  # both Monday in UTC


def test_the_zone_is_the_one_of_now(weekly):
    """The same instants with a UTC clock count UTC days: Tuesday 00:30 in Beijing is Monday there."""
    now = cst(15, 10, 0)
    assert effective_status(weekly, "ok", TUESDAY_EARLY, "pass", now) == "ok"
    assert effective_status(weekly, "ok", TUESDAY_EARLY, "pass", now.astimezone(UTC)) == "overdue"


def test_a_failed_item_within_the_cadence_needs_attention(weekly):
    assert effective_status(weekly, "ok", MONDAY_LATE, "fail", cst(14, 23, 0)) == "needs_attention"
    assert effective_status(weekly, "ok", MONDAY_LATE, "fail", cst(15, 0, 0)) == "overdue"


def test_overdue_from_is_midnight_after_the_due_day(weekly):
    assert due_day(weekly, MONDAY_LATE, CST) == date(2026, 12, 14)
    assert overdue_from(weekly, MONDAY_LATE, CST) == cst(15, 0, 0)
    assert overdue_from(weekly, TUESDAY_EARLY, CST) == cst(16, 0, 0)


def test_status_timeline_turns_overdue_at_local_midnight(weekly):
    site = SimpleNamespace(created_at=cst(1, 9, 0))
    reports = [{"observed_at": MONDAY_LATE.astimezone(UTC), "status": "approved", "checklist": {"a": "pass"}}]
    events = status_timeline(weekly, site, reports, cst(16, 9, 0))
    assert [e["status"] for e in events] == ["never_inspected", "ok", "overdue"]
    assert events[-1]["at"] == cst(15, 0, 0)
    assert [e["status"] for e in status_timeline(weekly, site, reports, cst(14, 23, 59))] == \
        ["never_inspected", "ok"]


@pytest.mark.parametrize(
    "zone, text, end, expected",
    [
        (CST, "2026-12-07", False, datetime(2026, 12, 6, 16, 0, tzinfo=UTC)),
        (CST, "2026-12-07", True, datetime(2026, 12, 7, 16, 0, tzinfo=UTC) - timedelta(microseconds=1)),
        (LONDON, "2026-12-07", False, datetime(2026, 12, 7, 0, 0, tzinfo=UTC)),  # GMT in winter
        (LONDON, "2026-06-01", False, datetime(2026, 5, 31, 23, 0, tzinfo=UTC)),  # BST in summer
        (LONDON, "2026-03-29", True, datetime(2026, 3, 29, 23, 0, tzinfo=UTC) - timedelta(microseconds=1)),
        (LONDON, "2026-12-07T12:00:00+08:00", False, datetime(2026, 12, 7, 4, 0, tzinfo=UTC)),  # as given
    ],
)
def test_since_until_dates_are_days_in_the_given_zone(zone, text, end, expected):
    assert times.parse_time(text, end=end, zone=zone) == expected


def test_since_until_dates_default_to_china_standard_time():
    assert times.parse_time("2026-12-07") == cst(7, 0, 0)
