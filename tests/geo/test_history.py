"""geo.history: a layer's sites and statuses as they were at a past moment, on both backends."""

from datetime import UTC, datetime, timedelta

import orjson
import pytest
import shapely
from shapely.geometry import box, mapping

from geo import exports, history, planning
from geo.access import system_user
from geo.layers import load_layers
from geo.model import User
from geo.queries import ViewQuery, features_in_view
from tests.factories import ALL_PASS, add_report

LAYERS = load_layers()
ZONES, MINES = LAYERS["sanitation_zones"], LAYERS["mines"]
T0 = datetime(2026, 10, 1, 2, 0, tzinfo=UTC)
DAY = timedelta(days=1)
MANAGER = User(id=0, username="manager", role="manager")


@pytest.fixture
def store(loaded_store):
    return loaded_store


@pytest.fixture
def zone(store):
    """A zone drawn at T0, inspected (pass) on day 1, renamed on day 3, inspected (fail) on day 5, that
    report rejected on day 6, the zone deleted on day 20."""
    with store.unit_of_work() as uow:
        county = next(c["geometry"] for c in uow.counties.all() if c["code"] == "210726")
        zones = shapely.union_all([s.geometry for s in uow.sites.find(layer_id=ZONES.id)])
        p = county.buffer(-0.02).difference(zones.buffer(0.02)).representative_point()
    with store.unit_of_work() as uow:
        site = planning.create_site(
            ZONES,
            {
                "name": "新村",
                "geometry": mapping(box(p.x, p.y, p.x + 0.004, p.y + 0.004)),
                "attributes": {"township": "芳山镇", "key_village": True},
            },
            uow=uow,
            user=system_user("manager"),
            now=T0,
        ).site
    with store.unit_of_work(write=True) as uow:
        add_report(uow, site.id, "worker", checklist=ALL_PASS, observed_at=T0 + DAY, received_at=T0 + DAY)
        uow.commit()
    with store.unit_of_work() as uow:
        planning.edit_site(
            site.id,
            {"base_version": 1, "name": "改名村"},
            layers=LAYERS,
            uow=uow,
            user=system_user("manager"),
            now=T0 + 3 * DAY,
        )
    with store.unit_of_work(write=True) as uow:
        failed = add_report(
            uow,
            site.id,
            "worker",
            checklist={**ALL_PASS, "swept_clean": "fail"},
            observed_at=T0 + 5 * DAY,
            received_at=T0 + 5 * DAY,
        )
        manager, _ = uow.users.by_name("manager")
        uow.reports.set_review(failed, "rejected", manager.id, "照片不清", T0 + 6 * DAY)
        uow.reports.refresh_latest(site.id, lambda c: "fail" if "fail" in c.values() else "pass")
        uow.commit()
    with store.unit_of_work() as uow:
        planning.delete_site(site.id, {"base_version": 2}, uow=uow, user=system_user("manager"),
                             now=T0 + 20 * DAY)
    return site


def shown(store, site_id, at):
    with store.unit_of_work() as uow:
        rows = {r.id: r for r in history.rows_as_of(ZONES, at, uow=uow)}
    row = rows.get(site_id)
    return None if row is None else (row.name, row.status)


@pytest.mark.parametrize(
    "at, expected",
    [
        (T0 - DAY, None),  # not drawn yet
        (T0 + DAY / 2, ("新村", "never_inspected")),
        (T0 + DAY + DAY / 2, ("新村", "ok")),
        (T0 + 3 * DAY + DAY / 2, ("改名村", "ok")),
        (T0 + 5 * DAY + DAY / 2, ("改名村", "needs_attention")),  # the failed report, not yet rejected
        (T0 + 6 * DAY + DAY / 2, ("改名村", "ok")),  # rejected: the day-1 report counts again
        (T0 + 9 * DAY, ("改名村", "overdue")),  # day 1 + 7 days of cadence have passed
        (T0 + 21 * DAY, None),  # deleted
    ],
)
def test_a_zone_as_it_was(store, zone, at, expected):
    assert shown(store, zone.id, at) == expected


def test_a_stage_status_as_it_was(store):
    with store.unit_of_work(write=True) as uow:
        mine = next(uow.sites.find(layer_id=MINES.id))
        uow.sites.set_status(mine.id, "rectification", T0 + 100 * DAY, actor="manager")
        uow.commit()
    with store.unit_of_work() as uow:
        before = {r.id: r.status for r in history.rows_as_of(MINES, T0 + 99 * DAY, uow=uow)}
        after = {r.id: r.status for r in history.rows_as_of(MINES, T0 + 101 * DAY, uow=uow)}
    assert before[mine.id] == mine.status and after[mine.id] == "rectification"


def test_the_map_and_an_export_as_of_a_day(store, zone, tmp_path):
    at = T0 + 5 * DAY + DAY / 2
    with store.unit_of_work() as uow:
        body = orjson.loads(
            features_in_view(
                ZONES,
                ViewQuery(bbox=zone.geometry.bounds, zoom=14, as_of=at),
                uow=uow,
                user=MANAGER,
                now=T0 + 30 * DAY,
            )
        )
    [feature] = [f for f in body["features"] if f["id"] == zone.id]
    assert feature["properties"]["name"] == "改名村" and feature["properties"]["status"] == "needs_attention"
    assert feature["properties"]["unreviewed"] is True and body["as_of"] == at.isoformat()

    path = tmp_path / "zones.geojson"
    with store.unit_of_work() as uow:
        exports.export_sites(
            ZONES,
            path,
            "geojson",
            uow=uow,
            actor="manager",
            now=T0 + 30 * DAY,
            filters=exports.SiteExportFilter(status=frozenset({"needs_attention"}), as_of=at),
        )
    features = orjson.loads(path.read_bytes())["features"]
    assert [(f["id"], f["properties"]["name"], f["properties"]["report_count"]) for f in features] == [
        (zone.id, "改名村", 2)
    ]
    with store.unit_of_work() as uow:
        exports.export_sites(
            ZONES,
            path,
            "geojson",
            uow=uow,
            actor="manager",
            now=T0 + 30 * DAY,
            filters=exports.SiteExportFilter(as_of=T0 + 30 * DAY),
        )
    assert zone.id not in {f["id"] for f in orjson.loads(path.read_bytes())["features"]}
