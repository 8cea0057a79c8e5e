"""The dashboard counted in SQL (geo.dashboard, geo/storage/views/dashboard.py) says what the status
rules say row by row: counts by county and status, targets, the overdue list in its order and pages."""

from __future__ import annotations

import dataclasses
import re
from collections import Counter
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import shapely
import sqlalchemy as sa

from geo import dashboard
from geo.model import Site, Target
from geo.status import days_overdue, status_of
from geo.storage import schema
from geo.storage.views.statuses import local_day_number, overdue_cutoff, status_case, utc_offsets
from tests.factories import ALL_PASS, add_report

SHANGHAI = ZoneInfo("Asia/Shanghai")
NOW = datetime(2026, 6, 10, 9, 0, tzinfo=SHANGHAI)  # today is 10 June; with 7 days, in time from 3 June
ZONES, MINES, ROADS = "sanitation_zones", "mines", "road_works"
QUICK = "quick_zones"  # a second cadence layer: 3 days


def local(day: int, hour: int = 12, minute: int = 0, second: int = 0, micro: int = 0, month: int = 6,
          zone=SHANGHAI) -> datetime:
    return datetime(2026, month, day, hour, minute, second, micro, tzinfo=zone)


# (county, last inspected, last result, attributes, deleted) of each zone; None: never inspected
ZONE_ROWS = [
    ("210726", local(2, 23, 30), "pass", {"key_village": True, "township": "芳山镇"}, False),  # 1 day overdue
    ("210726", local(3, 0, 30), "pass", {"key_village": True}, False),  # due today, though 2 June in UTC
    ("210726", local(3, 0, 0), "fail", {"key_village": False}, False),  # the first in-time instant: failed
    ("210726", local(2, 23, 59, 59, 999_999), "pass", {}, False),  # the last overdue instant
    ("210781", local(2, 0, 0), "fail", {"key_village": 1}, False),  # failed but overdue: overdue (True == 1)
    ("210781", None, None, {"key_village": "true", "tags": ["a", "b"]}, False),  # a text is not True
    ("210781", local(1, month=5), "pass", {"households": 440}, False),  # 33 days overdue
    (None, local(9, 8), "fail", {"households": 440.0, "key_village": True}, False),  # needs attention
    (None, None, None, {"township": "芳山镇", "tags": ["a"], "key_village": "abc"}, False),
    ("210726", local(1, month=5), "pass", {"key_village": True}, True),  # deleted: counted nowhere
    ("210781", None, None, {}, True),
]
# Seven zones overdue by the same number of days, inspected later the lower their id: the list orders
# them by id, not by time.
SAME_DAY = [("210727", local(30, 23 - i, month=5), "pass", {"beautiful_village": True}, False)
            for i in range(7)]
QUICK_ROWS = [  # 3 days: in time from 7 June
    ("210726", local(6, 10), "pass", {}, False),  # 1 day overdue: beside the zones' ones
    ("210726", local(1, 10), "pass", {}, False),  # 6 days
    ("210726", local(7, 0, 0), "fail", {}, False),  # in time: needs attention
]
MINE_ROWS = [("210726", "provincial_passed"), ("210726", "declared"), (None, "provincial_passed")]


@pytest.fixture
def layers(layers):
    zones = dataclasses.replace(layers[ZONES], targets=(
        *layers[ZONES].targets,
        Target("overdue_key", {}, 1, {"status": "overdue", "key_village": True}),
        Target("households", {}, 1, {"households": 440}),
        Target("not_key", {}, 1, {"key_village": False}),  # the text "true" is not False either
        Target("tags", {}, 1, {"tags": ["a", "b"]}),
        Target("township", {}, 1, {"township": "芳山镇"}),
        Target("no_township", {}, 1, {"township": None}),
        Target("everything", {}, 1, {}),
    ))
    quick = dataclasses.replace(layers[ZONES], id=QUICK, cadence_days=3, targets=())
    return {ZONES: zones, QUICK: quick, MINES: layers[MINES], ROADS: layers[ROADS]}


@pytest.fixture
def stored(store, layers):
    """Every row above stored (live ones, deleted ones), with its last inspection."""
    created = datetime(2026, 1, 1, tzinfo=UTC)
    with store.unit_of_work(write=True) as uow:
        for layer in layers.values():
            uow.layers.save(layer, created)
        for layer_id, rows in ((ZONES, ZONE_ROWS + SAME_DAY), (QUICK, QUICK_ROWS)):
            for i, (county, at, result, attributes, deleted) in enumerate(rows):
                site = Site(None, layer_id, f"{layer_id} {i}", shapely.box(i, 0, i + 0.5, 0.5), "ok",
                            county=county, attributes=attributes)
                site_id = uow.sites.add(site, created, actor="test")
                uow.connection.execute(schema.sites.update().where(schema.sites.c.id == site_id).values(
                    last_inspected_at=at, last_result=result, last_report_id=None if at is None else 1))
                if deleted:
                    uow.sites.delete(site_id, created, actor="test")
        for i, (county, status) in enumerate(MINE_ROWS):
            uow.sites.add(Site(None, MINES, f"mine {i}", shapely.Point(i, 1), status, county=county), created,
                          actor="test")
        for i, progress in enumerate((90, None, 12.5)):
            attributes = {} if progress is None else {"progress_pct": progress}
            uow.sites.add(Site(None, ROADS, f"road {i}", shapely.LineString([(i, 2), (i + 1, 2)]), "planned",
                               attributes=attributes), created, actor="test")
        uow.commit()
    return store


def python_figures(uow, layers, now) -> dict:
    """What the dashboard showed before it was counted in SQL: every live row read, its status derived
    by geo.status, then counted; the overdue list sorted by days, then id."""
    s = schema.sites.c
    out = {"counts": {}, "targets": {}, "progress": {}, "overdue": []}
    for layer in layers.values():
        live = sa.select(schema.sites).where(s.layer_id == layer.id, s.deleted_at.is_(None))
        rows = uow.connection.execute(live.order_by(s.id)).all()
        statuses = {row.id: status_of(layer, row, now) for row in rows}
        out["counts"][layer.id] = Counter((row.county, statuses[row.id]) for row in rows)
        out["targets"][layer.id] = {t.id: sum(all(
            (statuses[row.id] if key == "status" else row.attributes.get(key)) == value
            for key, value in t.where.items()) for row in rows) for t in layer.targets}
        out["progress"][layer.id] = [(row.id, row.name, statuses[row.id], row.attributes["progress_pct"])
                                     for row in rows if "progress_pct" in row.attributes]
        out["overdue"] += [(row.id, days_overdue(layer, row.last_inspected_at, now)) for row in rows
                           if statuses[row.id] == "overdue"]
    out["overdue"].sort(key=lambda o: (-o[1], o[0]))
    return out


def test_the_sql_status_is_the_python_status_row_by_row(stored, layers):
    s = schema.sites.c
    with stored.unit_of_work() as uow:
        for layer in layers.values():
            rows = uow.connection.execute(sa.select(schema.sites, status_case(layer, NOW).label("sql_status"))
                                          .where(s.layer_id == layer.id)).all()
            assert rows
            assert [(r.id, r.sql_status) for r in rows] == [(r.id, status_of(layer, r, NOW)) for r in rows]


def test_counts_targets_and_progress_equal_the_rows_counted_in_python(stored, layers):
    with stored.unit_of_work() as uow:
        expected = python_figures(uow, layers, NOW)
        view = uow.dashboard_view
        for layer in layers.values():
            assert view.counts(layer, NOW) == expected["counts"][layer.id], layer.id
            assert view.target_counts(layer, NOW) == expected["targets"][layer.id], layer.id
            assert [tuple(p) for p in view.progress(layer, NOW)] == expected["progress"][layer.id], layer.id
    zones = expected["counts"][ZONES]
    assert zones[("210726", "overdue")] == 2 and zones[("210726", "ok")] == 1  # the day boundaries
    assert zones[("210726", "needs_attention")] == 1 and zones[("210781", "overdue")] == 2
    assert zones[(None, "needs_attention")] == 1 and sum(zones.values()) == 9 + 7  # deleted ones left out
    assert expected["targets"][ZONES] == {"key_villages": 4, "beautiful_villages_2023": 7, "overdue_key": 2,
                                          "households": 2, "not_key": 1, "tags": 1, "township": 2,
                                          "no_township": 14, "everything": 16}
    assert expected["targets"][MINES] == {"green_mines_2022": 2}
    assert [p[1:] for p in expected["progress"][ROADS]] == [("road 0", "planned", 90),
                                                            ("road 2", "planned", 12.5)]


def test_the_overdue_list_is_most_days_first_then_by_id_a_page_at_a_time(stored, layers):
    with stored.unit_of_work() as uow:
        expected = python_figures(uow, layers, NOW)["overdue"]
        pages = [dashboard.overdue_page(layers, uow=uow, now=NOW, county_names={}, page=n, per_page=4)
                 for n in range(1, 5)]
    assert [(o["id"], o["days"]) for page in pages for o in page["overdue"]] == expected
    assert [days for _, days in expected] == [33, 6, *[4] * 7, 1, 1, 1, 1]
    assert {page["overdue_total"] for page in pages} == {13} and {page["pages"] for page in pages} == {4}
    assert [len(page["overdue"]) for page in pages] == [4, 4, 4, 1]
    assert [page["page"] for page in pages] == [1, 2, 3, 4]
    same_day = [o["id"] for page in pages for o in page["overdue"] if o["days"] == 4]
    assert len(same_day) == 7 and same_day == sorted(same_day)  # later inspections first by time: by id here
    ones = [o for page in pages for o in page["overdue"] if o["days"] == 1]
    assert {o["layer"] for o in ones} == {ZONES, QUICK}  # days overdue compare across cadences


def test_a_page_past_the_end_is_the_last_and_none_is_empty(stored, layers):
    with stored.unit_of_work() as uow:
        last = dashboard.overdue_page(layers, uow=uow, now=NOW, county_names={}, page=99, per_page=5)
        first = dashboard.overdue_page(layers, uow=uow, now=NOW, county_names={}, page=0, per_page=5)
        early = dashboard.overdue_page(layers, uow=uow, now=datetime(2026, 5, 1, tzinfo=SHANGHAI),
                                       county_names={})
    assert (last["page"], last["pages"], len(last["overdue"])) == (3, 3, 3)
    assert first["page"] == 1 and len(first["overdue"]) == 5
    assert early == {"overdue": [], "overdue_total": 0, "page": 1, "pages": 1, "per_page": dashboard.PER_PAGE}


def test_the_use_case_keeps_the_shape_the_page_reads(stored, layers):
    names = {"210726": "黑山县", "210781": "凌海市"}
    with stored.unit_of_work() as uow:
        expected = python_figures(uow, layers, NOW)
        figures = dashboard.dashboard(layers, uow=uow, now=NOW, county_names=names, outside="外", per_page=50)
    zones = next(entry for entry in figures["layers"] if entry["layer"].id == ZONES)
    totals = Counter()
    for (_, status), n in expected["counts"][ZONES].items():
        totals[status] += n
    assert zones["total"] == 16 and zones["totals"] == dict(totals)
    assert list(zones["by_county"]) == ["外", "黑山县", "210727", "凌海市"]  # by code, the outside first
    assert zones["by_county"]["外"] == {"needs_attention": 1, "never_inspected": 1}
    assert [t["count"] for t in zones["targets"]][:2] == [4, 7]
    assert [o["id"] for o in figures["overdue"]] == [i for i, _ in expected["overdue"]]
    assert figures["overdue"][0]["county"] == "凌海市" and figures["overdue_total"] == 13
    roads = next(entry for entry in figures["layers"] if entry["layer"].id == ROADS)
    assert [p["progress"] for p in roads["progress"]] == [90, 12.5]


def test_metric_sums_add_up_the_reports_that_count_on_the_layers_sites(stored):
    with stored.unit_of_work(write=True) as uow:
        uow.users.add("worker", "x", "worker", NOW)
        s = schema.sites.c
        zones = list(uow.connection.execute(sa.select(s.id).where(s.layer_id == ZONES).order_by(s.id))
                     .scalars())
        quick = uow.connection.execute(sa.select(s.id).where(s.layer_id == QUICK)).scalars().first()
        for site_id, metrics, status in ((zones[0], {"person_times": 20, "garbage_tonnes": 2.5}, "approved"),
                                         (zones[1], {"person_times": 5}, "pending"),
                                         (zones[2], {"person_times": 1000}, "rejected"),  # does not count
                                         (quick, {"person_times": 7}, "approved")):  # another layer's
            add_report(uow, site_id, "worker", checklist=ALL_PASS, metrics=metrics, observed_at=NOW,
                       status=status)
        uow.commit()
    with stored.unit_of_work() as uow:
        sums = uow.dashboard_view.metric_sums(ZONES, ["person_times", "garbage_tonnes", "seedlings"])
        assert uow.dashboard_view.metric_sums(ZONES, []) == {}
    assert sums == {"person_times": 25.0, "garbage_tonnes": 2.5, "seedlings": 0.0}


def test_metric_sums_follow_a_review_that_rejects_a_report_or_takes_the_rejection_back(stored):
    """The running sums change when a review crosses "rejected", and only then."""
    def sums():
        with stored.unit_of_work() as uow:
            return uow.dashboard_view.metric_sums(ZONES, ["person_times", "garbage_tonnes"])

    with stored.unit_of_work(write=True) as uow:
        worker = uow.users.add("worker", "x", "worker", NOW)
        zone = uow.connection.execute(sa.select(schema.sites.c.id).where(schema.sites.c.layer_id == ZONES)
                                      .order_by(schema.sites.c.id)).scalars().first()
        first = add_report(uow, zone, "worker", checklist=ALL_PASS, observed_at=NOW,
                           metrics={"person_times": 20, "garbage_tonnes": 2.5})
        add_report(uow, zone, "worker", checklist=ALL_PASS, observed_at=NOW, metrics={"person_times": 5})
        uow.commit()
    assert sums() == {"person_times": 25.0, "garbage_tonnes": 2.5}
    for status, expected in (("approved", {"person_times": 25.0, "garbage_tonnes": 2.5}),
                             ("rejected", {"person_times": 5.0, "garbage_tonnes": 0.0}),
                             ("rejected", {"person_times": 5.0, "garbage_tonnes": 0.0}),
                             ("approved", {"person_times": 25.0, "garbage_tonnes": 2.5})):
        with stored.unit_of_work(write=True) as uow:
            uow.reports.set_review(first, status, worker.id, "", NOW)
            uow.commit()
        assert sums() == expected, status


# ------------------------------------------------------------------ days in a zone with summer time
BERLIN = ZoneInfo("Europe/Berlin")


def test_local_days_follow_the_offset_in_force_at_each_instant(store, layers):
    """Berlin moves its clocks on 29 March and 25 October 2026: the day of an instant near midnight
    depends on the offset then, which the SQL takes from a CASE over the offsets of the range."""
    instants = [local(28, 23, 30, month=3, zone=BERLIN), local(29, 0, 30, month=3, zone=BERLIN),
                local(29, 23, 30, month=3, zone=BERLIN), local(30, 0, 30, month=3, zone=BERLIN),
                local(24, 23, 59, 59, month=10, zone=BERLIN), local(25, 0, 0, month=10, zone=BERLIN),
                local(25, 23, 30, month=10, zone=BERLIN), local(26, 0, 0, month=10, zone=BERLIN)]
    assert [offset for _, offset in utc_offsets(BERLIN, instants[0], instants[-1])] == [3600, 7200, 3600]
    s = schema.sites.c
    with store.unit_of_work(write=True) as uow:
        uow.layers.save(layers[ZONES], instants[0])
        for i, at in enumerate(instants):
            site_id = uow.sites.add(Site(None, ZONES, f"z{i}", shapely.box(i, 0, i + 0.5, 0.5), "ok"), at,
                                    actor="test")
            uow.connection.execute(schema.sites.update().where(s.id == site_id).values(last_inspected_at=at))
        day = local_day_number(s.last_inspected_at, BERLIN, instants[0], instants[-1])
        found = uow.connection.execute(sa.select(day).order_by(s.id)).scalars().all()
    epoch = datetime(1970, 1, 1).date()
    assert found == [(at.astimezone(BERLIN).date() - epoch).days for at in instants]


def test_the_cutoff_is_local_midnight_of_today_minus_the_cadence(layers):
    zones = layers[ZONES]
    assert overdue_cutoff(zones, NOW) == datetime(2026, 6, 2, 16, 0, tzinfo=UTC)  # 3 June 00:00 in Beijing
    berlin = datetime(2026, 4, 2, 9, 0, tzinfo=BERLIN)  # 26 March was still winter time there
    assert overdue_cutoff(zones, berlin) == datetime(2026, 3, 25, 23, 0, tzinfo=UTC)
    for days in (0, 1, 2):
        inspected = overdue_cutoff(zones, NOW) - timedelta(microseconds=1) + timedelta(days=days)
        assert (days_overdue(zones, inspected, NOW) > 0) == (days == 0)


# ------------------------------------------------------------------ the page
def test_the_page_shows_the_overdue_list_a_page_at_a_time(app, client, auth):
    from webapp.context import get_uow

    s = schema.sites.c
    with app.app_context(), get_uow(write=True) as uow:
        ids = sorted(uow.connection.execute(sa.select(s.id).where(s.layer_id == ZONES)).scalars())[:60]
        for n, site_id in enumerate(ids):  # 60 overdue zones, the first the longest
            inspected = datetime.now(UTC) - timedelta(days=90 - n)
            uow.connection.execute(schema.sites.update().where(s.id == site_id).values(
                last_inspected_at=inspected, last_result="pass", last_report_id=1))
        uow.commit()
    auth.login_as("planner")
    first = client.get("/dashboard").get_data(as_text=True).split('class="dash-overdue"')[1]
    assert "逾期未巡查的站点 (60)" in first and "第1页，共2页" in first
    listed = [int(i) for i in re.findall(r'href="/sites/(\d+)"', first)]
    assert listed == ids[:50] and 'rel="prev"' not in first
    assert 'href="/dashboard?page=2#overdue" rel="next"' in first
    second = client.get("/dashboard?page=2&lang=en").get_data(as_text=True).split('class="dash-overdue"')[1]
    assert "Overdue sites (60)" in second and "Page 2 of 2" in second
    assert [int(i) for i in re.findall(r'href="/sites/(\d+)"', second)] == ids[50:]
    assert 'href="/dashboard?page=1#overdue" rel="prev"' in second and 'rel="next"' not in second
    for page in ("abc", "-3", "0"):  # not a page: the first
        assert "Page 1 of 2" in client.get(f"/dashboard?page={page}").get_data(as_text=True)
    assert "Page 2 of 2" in client.get("/dashboard?page=99").get_data(as_text=True)  # past the end: the last


def test_no_pager_when_one_page_holds_the_list(client, auth):
    auth.login_as("planner")
    page = client.get("/dashboard?lang=en").get_data(as_text=True)
    assert "Overdue sites (0)" in page and "No site is overdue." in page and 'class="pager"' not in page
