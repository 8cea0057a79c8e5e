"""geo.recompute: every site's latest report set in one statement equals refresh_latest site by site."""

import random
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from geo import recompute
from geo.status import report_result
from geo.storage import schema as t
from tests.factories import ALL_PASS, add_report

T0 = datetime(2026, 3, 1, 1, 0, tzinfo=UTC)
HOUR = timedelta(hours=1)
LATEST = ("last_report_id", "last_inspected_at", "last_result", "last_review")
NOW = datetime(2026, 6, 1, tzinfo=UTC)


@pytest.fixture
def store(loaded_store):
    return loaded_store


def latest(store) -> dict[int, tuple]:
    """{site id: (last_report_id, last_inspected_at, last_result, last_review)} of every site."""
    with store.unit_of_work() as uow:
        rows = uow.connection.execute(sa.select(t.sites.c.id, *(t.sites.c[c] for c in LATEST)))
        return {row[0]: tuple(row[1:]) for row in rows}


def site_ids(store, layer_id: str) -> list[int]:
    with store.unit_of_work() as uow:
        return sorted(site.id for site in uow.sites.find(layer_id=layer_id))


def spoil(store, ids: list[int], report_id: int) -> None:
    """What a bulk load or a hand fix leaves behind: some columns empty, some pointing at the wrong report."""
    with store.unit_of_work(write=True) as uow:
        s = t.sites.c
        uow.connection.execute(t.sites.update().where(s.id.in_(ids[::2])).values(
            last_report_id=None, last_inspected_at=None, last_result=None, last_review=None))
        uow.connection.execute(t.sites.update().where(s.id.in_(ids[1::2])).values(
            last_report_id=report_id, last_inspected_at=T0, last_result="pass", last_review="approved"))
        uow.commit()


def run(store, layer_id=None) -> int:
    with store.unit_of_work() as uow:
        return recompute.recompute_status(uow=uow, actor="admin", now=NOW, layer_id=layer_id)


def test_the_failed_answer_is_that_of_report_result():
    assert report_result({"swept_clean": recompute.FAILED}) == "fail"
    assert report_result(ALL_PASS) == "pass"


def test_each_case_of_refresh_latest(store):
    """Newest counts; a rejected newest falls back; equal times go to the later id; only rejected → none;
    "na" is no failure, nor is a comment that says "fail"; a site without reports has none."""
    zones = site_ids(store, "sanitation_zones")
    newest, rejected_newest, tie, only_rejected, commented, untouched = zones[:6]
    failed = {**ALL_PASS, "ditches_cleared": "fail"}
    with store.unit_of_work(write=True) as uow:
        add_report(uow, newest, "worker", checklist=failed, observed_at=T0)
        add_report(uow, newest, "worker", checklist=ALL_PASS, observed_at=T0 + 2 * HOUR, status="approved")
        add_report(uow, newest, "worker", checklist=failed, observed_at=T0 + HOUR)  # filed late, older
        add_report(uow, rejected_newest, "worker", checklist=failed, observed_at=T0)
        add_report(uow, rejected_newest, "worker", checklist=ALL_PASS, observed_at=T0 + HOUR,
                   status="rejected")
        add_report(uow, tie, "worker", checklist=ALL_PASS, observed_at=T0)
        add_report(uow, tie, "worker", checklist=failed, observed_at=T0)
        add_report(uow, only_rejected, "worker", checklist=failed, observed_at=T0, status="rejected")
        add_report(uow, commented, "worker", observed_at=T0, status="approved",
                   checklist={**ALL_PASS, "waste_converted": "na", "comments": {"swept_clean": "fail"}})
        uow.commit()
    expected = latest(store)
    assert expected[newest][2:] == ("pass", "approved")
    assert expected[rejected_newest][2:] == ("fail", "pending")
    assert expected[tie][2] == "fail"
    assert expected[only_rejected] == expected[untouched] == (None, None, None, None)
    assert expected[commented][2] == "pass"

    spoil(store, zones, report_id=expected[newest][0])
    spoiled = latest(store)
    assert run(store) == sum(spoiled[i] != expected[i] for i in expected)
    assert latest(store) == expected
    assert run(store) == 0  # nothing left to change


def test_equals_refresh_latest_on_random_reports(store):
    """Reports at random times (many equal), random answers and reviews, over zones and mines."""
    rng = random.Random(7)
    ids = site_ids(store, "sanitation_zones")[:25] + site_ids(store, "mines")
    answers = ("pass", "pass", "pass", "fail", "na")
    with store.unit_of_work(write=True) as uow:
        for _ in range(300):
            checklist = {item: rng.choice(answers) for item in ALL_PASS}
            add_report(uow, rng.choice(ids), "worker", checklist=checklist,
                       observed_at=T0 + rng.randrange(40) * HOUR,
                       status=rng.choice(("pending", "approved", "rejected")))
        uow.commit()
    with store.unit_of_work(write=True) as uow:  # the per-site path, for every site
        for site_id in latest(store):
            uow.reports.refresh_latest(site_id, report_result)
        uow.commit()
    expected = latest(store)
    assert sum(value[0] is not None for value in expected.values()) >= 25
    spoil(store, sorted(expected), report_id=next(v[0] for v in expected.values() if v[0]))
    run(store)
    assert latest(store) == expected


def test_one_layer_only_and_audited(store):
    zones, mines = site_ids(store, "sanitation_zones"), site_ids(store, "mines")
    with store.unit_of_work(write=True) as uow:
        zone_report = add_report(uow, zones[0], "worker", checklist=ALL_PASS, observed_at=T0)
        add_report(uow, mines[0], "worker", checklist=ALL_PASS, observed_at=T0)
        uow.commit()
    expected = latest(store)
    spoil(store, [zones[0], mines[0]], report_id=zone_report)  # the zone emptied, the mine pointed elsewhere
    assert run(store, layer_id="sanitation_zones") == 1
    now = latest(store)
    assert now[zones[0]] == expected[zones[0]]
    assert now[mines[0]] == (zone_report, T0, "pass", "approved") != expected[mines[0]]  # left alone
    with store.unit_of_work() as uow:
        entry = uow.audit.recent(1)[0]
    assert (entry.action, entry.target, entry.detail) == ("sites.recompute_status", "layer:sanitation_zones",
                                                          {"changed": 1})
