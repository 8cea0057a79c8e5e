"""geo.planning: drawing, editing, splitting, merging, deleting and restoring sites, each a recorded version.

Runs on both backends against a copy of the loaded Jinzhou instance.
"""

from datetime import UTC, datetime, timedelta

import pytest
import shapely
import shapely.ops
from shapely.geometry import box, mapping

from geo import planning
from geo.imports import import_sites
from geo.layers import load_layers
from geo.model import InvalidInput, NotFound, PermissionDenied, StaleVersion, User
from geo.storage.views.filters import SiteFilter

LAYERS = load_layers()
ZONES, MINES, ROADS = LAYERS["sanitation_zones"], LAYERS["mines"], LAYERS["road_works"]
HEISHAN = "210726"
NOW = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
MANAGER, IMPORTER = User(0, "经理甲", "manager"), User(0, "导入员", "manager")
ATTRS = {"township": "芳山镇", "key_village": True}


@pytest.fixture
def store(loaded_store):
    return loaded_store


@pytest.fixture
def free(store):
    """A point in Heishan County 0.02° or more from every zone: room to draw new ones."""
    with store.unit_of_work() as uow:
        county = next(c["geometry"] for c in uow.counties.all() if c["code"] == HEISHAN)
        zones = shapely.union_all([s.geometry for s in uow.sites.find(layer_id=ZONES.id)])
    room = county.buffer(-0.02).difference(zones.buffer(0.02))
    return room.representative_point()


def square(point, size=0.004, dx=0.0):
    x, y = point.x + dx, point.y
    return mapping(box(x, y, x + size, y + size))


def call(store, fn, *args, user=MANAGER, **kwargs):
    """``fn`` in a unit of work of its own; the site it wrote, where it answers with a ``Planned``."""
    with store.unit_of_work() as uow:
        result = fn(*args, uow=uow, user=user, now=kwargs.pop("now", NOW), **kwargs)
    return result.site if isinstance(result, planning.Planned) else result


def create(store, geometry, name="新村", layer=ZONES, now=NOW, **more):
    attributes = {ZONES.id: ATTRS, MINES.id: {"commodity": "stone"}}.get(layer.id, {})
    body = {"name": name, "geometry": geometry, "attributes": attributes, **more}
    return call(store, planning.create_site, layer, body, now=now)


def history(store, site_id):
    with store.unit_of_work() as uow:
        return uow.versions.history(site_id)


def site_count(store, layer=ZONES):
    with store.unit_of_work() as uow:
        return uow.sites.count(layer.id)


def test_a_drawn_zone_is_stored_as_its_first_version_with_its_county(store, free):
    site = create(store, square(free), comment="新纳入整治")
    assert (site.version, site.county, site.name, site.attributes) == (1, HEISHAN, "新村", ATTRS)
    [first] = history(store, site.id)
    assert (first["action"], first["actor"], first["comment"], first["version"]) == (
        "create",
        "经理甲",
        "新纳入整治",
        1,
    )


@pytest.mark.backends("sqlite")  # refused before any write
@pytest.mark.parametrize(
    "geometry, problem",
    [
        (
            {"type": "Polygon", "coordinates": [[[0, 0], [1, 1], [1, 0], [0, 1], [0, 0]]]},
            "self-intersection at",
        ),
        ({"type": "Polygon", "coordinates": [[[0, 0], [1, 1]]]}, "ring 1 is not closed"),
        (
            {"type": "Polygon", "coordinates": [[[121, 41], [121.1, 41], [121.1, float("nan")], [121, 41]]]},
            "finite numbers",
        ),
        (
            {"type": "Polygon", "coordinates": [[[41, 121], [41.1, 121], [41.1, 121.1], [41, 121]]]},
            "longitude, latitude",
        ),
        ({"type": "Point", "coordinates": [121.1, 41.1]}, "takes Polygon"),
        ({"type": "Circle", "coordinates": [121.1, 41.1]}, "well-formed"),
        ("POLYGON((0 0, 1 1, 1 0, 0 0))", "GeoJSON geometry object"),
    ],
)
def test_a_broken_geometry_is_refused_with_the_problem_and_nothing_is_stored(store, geometry, problem):
    before = site_count(store)
    with pytest.raises(InvalidInput, match=problem) as caught:
        create(store, geometry)
    assert caught.value.field == "geometry"
    assert site_count(store) == before


@pytest.mark.backends("sqlite")  # refused before any write
def test_the_place_of_a_self_intersection_is_given_for_the_map(store, free):
    x, y = free.x, free.y
    bowtie = {
        "type": "Polygon",
        "coordinates": [[[x, y], [x + 0.01, y + 0.01], [x + 0.01, y], [x, y + 0.01], [x, y]]],
    }
    with pytest.raises(InvalidInput) as caught:
        create(store, bowtie)
    [where] = caught.value.details
    assert where["lon"] == pytest.approx(x + 0.005) and where["lat"] == pytest.approx(y + 0.005)


def test_a_zone_over_another_is_refused_naming_it(store):
    with store.unit_of_work() as uow:
        other = next(uow.sites.find(layer_id=ZONES.id))
    c = other.geometry.representative_point()
    before = site_count(store)
    with pytest.raises(InvalidInput, match=f"overlaps {other.name} \\(site {other.id}\\)") as caught:
        create(store, mapping(c.buffer(0.003)))
    assert caught.value.details[0]["site"] == other.id
    assert site_count(store) == before


def test_a_zone_reaching_out_of_its_county_is_refused(store):
    with store.unit_of_work() as uow:
        county = next(c["geometry"] for c in uow.counties.all() if c["code"] == HEISHAN)
        zones = shapely.union_all([s.geometry for s in uow.sites.find(layer_id=ZONES.id)])
    # a point on the county's edge, away from zones: a square around it is half outside
    edge = (
        county.exterior.difference(zones.buffer(0.05))
        if county.geom_type == "Polygon"
        else max(county.geoms, key=lambda g: g.area).exterior.difference(zones.buffer(0.05))
    )
    point = edge.interpolate(0.5, normalized=True)
    inside = shapely.ops.nearest_points(county.buffer(-0.002).boundary, point)[0]
    before = site_count(store)
    with pytest.raises(InvalidInput, match=r"part of it \(\d+\.\d\d ha\) lies outside .*, near "):
        create(store, mapping(inside.buffer(0.004)))
    assert site_count(store) == before


def test_a_mine_may_be_drawn_anywhere_and_a_road_as_a_line(store):
    mine = create(store, {"type": "Point", "coordinates": [121.2, 41.3]}, "新矿", layer=MINES)
    road = create(
        store,
        {"type": "LineString", "coordinates": [[121.1, 41.1], [121.11, 41.12]]},
        "新路",
        layer=ROADS,
        status="under_construction",
    )
    assert mine.status == MINES.initial_status and road.status == "under_construction"


@pytest.mark.backends("sqlite")  # refused before any write
def test_bad_attributes_are_refused_as_an_import_would(store, free):
    with pytest.raises(InvalidInput, match="key_village: required") as caught:
        call(store, planning.create_site, ZONES, {"name": "村", "geometry": square(free), "attributes": {}})
    assert caught.value.field == "attributes"
    with pytest.raises(InvalidInput, match="households: -3 is below"):
        create(store, square(free), attributes={**ATTRS, "households": -3})
    with pytest.raises(InvalidInput, match="colour not in the layer's schema"):
        create(store, square(free), attributes={**ATTRS, "colour": "red"})
    with pytest.raises(InvalidInput, match="derives its status"):
        create(store, square(free), status="ok")
    with pytest.raises(InvalidInput, match="colour: not a field here") as caught:
        create(store, square(free), colour="red")
    assert caught.value.field == "colour"


def test_an_edit_is_a_new_version_and_a_stale_one_is_refused_with_what_changed(store, free):
    site = create(store, square(free))
    first = call(
        store,
        planning.edit_site,
        site.id,
        {"base_version": 1, "name": "新村（扩）", "geometry": square(free, 0.006), "comment": "边界调整"},
        layers=LAYERS,
    )
    assert first.version == 2 and first.name == "新村（扩）"
    assert first.geometry.area > site.geometry.area
    with pytest.raises(StaleVersion) as caught:  # a second manager still on version 1
        call(
            store,
            planning.edit_site,
            site.id,
            {"base_version": 1, "attributes": {"households": 80}},
            layers=LAYERS,
        )
    extra = caught.value.extra
    assert extra["current_version"] == 2
    assert {c["field"] for c in extra["changes"]} == {"name", "geometry"}
    assert extra["versions"][0]["actor"] == "经理甲" and extra["versions"][0]["comment"] == "边界调整"
    with store.unit_of_work() as uow:
        assert "households" not in uow.sites.get(site.id).attributes  # nothing written
    assert [v["version"] for v in history(store, site.id)] == [1, 2]


def test_an_edit_that_changes_nothing_makes_no_version(store, free):
    site = create(store, square(free))
    again = call(store, planning.edit_site, site.id, {"base_version": 1, "name": "新村"}, layers=LAYERS)
    assert again.version == 1 and len(history(store, site.id)) == 1


def test_attributes_merge_over_the_stored_ones_and_null_clears_one(store, free):
    site = create(store, square(free), attributes={**ATTRS, "households": 40})
    edited = call(
        store,
        planning.edit_site,
        site.id,
        {"base_version": 1, "attributes": {"households": None, "street_chief": "李四"}},
        layers=LAYERS,
    )
    assert edited.attributes == {**ATTRS, "street_chief": "李四"}


def test_a_deleted_site_leaves_every_listing_but_keeps_its_history(store, free):
    site = create(store, square(free))
    with store.unit_of_work() as uow:
        uow.sites.update(
            uow.sites.get(site.id).__class__(
                site.id,
                ZONES.id,
                site.name,
                site.geometry,
                site.status,
                site.county,
                "NEW-1",
                site.attributes,
            ),
            NOW,
            actor="import",
        )
        uow.commit()
    before = site_count(store)
    version = call(store, planning.delete_site, site.id, {"base_version": 2, "comment": "并入邻村"})
    assert version == 3 and site_count(store) == before - 1
    with store.unit_of_work() as uow:
        with pytest.raises(NotFound, match="deleted"):
            uow.sites.get(site.id)
        assert uow.sites.get(site.id, deleted=True).deleted_at is not None
        assert site.id not in {s.id for s in uow.sites.find(layer_id=ZONES.id, bbox=site.geometry.bounds)}
        in_view = uow.map_view.rows(SiteFilter(layer_id=ZONES.id, bbox=site.geometry.bounds))
        assert site.id not in {r.id for r in in_view}
        assert "NEW-1" not in uow.sites.ids_by_ref(ZONES.id)  # the key is free for a new site
    last = history(store, site.id)[-1]
    assert (last["action"], last["deleted"], last["ref"], last["comment"]) == (
        "delete",
        True,
        "NEW-1",
        "并入邻村",
    )


def test_a_past_version_is_restored_as_a_new_version_and_brings_a_deleted_site_back(store, free):
    site = create(store, square(free))
    call(
        store,
        planning.edit_site,
        site.id,
        {"base_version": 1, "geometry": square(free, 0.006)},
        layers=LAYERS,
    )
    call(store, planning.delete_site, site.id, {"base_version": 2})
    restored = call(
        store, planning.restore_version, site.id, 1, {"base_version": 3, "comment": "误删"}, layers=LAYERS
    )
    assert restored.version == 4 and restored.deleted_at is None
    assert restored.geometry.equals(site.geometry)
    assert history(store, site.id)[-1]["detail"] == {"restored": 1}
    with pytest.raises(InvalidInput, match="is the deletion"):
        call(store, planning.restore_version, site.id, 3, {"base_version": 4}, layers=LAYERS)


def test_a_zone_is_split_along_a_line_and_two_are_merged_back(store, free):
    site = create(store, square(free, 0.01))
    x, y = free.x, free.y
    line = {"type": "LineString", "coordinates": [[x + 0.004, y - 0.001], [x + 0.004, y + 0.011]]}
    kept, new = call(store, planning.split_site, site.id, {"base_version": 1, "line": line})
    assert kept.id == site.id and kept.version == 2
    assert kept.geometry.area + new.geometry.area == pytest.approx(site.geometry.area)
    assert kept.geometry.area > new.geometry.area and new.name == "新村 (2)"
    assert history(store, new.id)[0]["detail"] == {"split_from": site.id}

    merged = call(
        store,
        planning.merge_sites,
        ZONES,
        {"sites": [{"id": kept.id, "base_version": 2}, {"id": new.id, "base_version": 1}]},
    )
    assert merged.id == site.id and merged.geometry.area == pytest.approx(site.geometry.area)
    assert history(store, new.id)[-1]["detail"] == {"merged_into": site.id}
    with store.unit_of_work() as uow:
        with pytest.raises(NotFound):
            uow.sites.get(new.id)


def test_a_line_that_does_not_cross_the_zone_and_zones_apart_are_refused(store, free):
    a = create(store, square(free))
    b = create(store, square(free, dx=0.006), name="东村")
    x, y = free.x, free.y
    with pytest.raises(InvalidInput, match="does not cross"):
        call(
            store,
            planning.split_site,
            a.id,
            {"base_version": 1, "line": {"type": "LineString", "coordinates": [[x + 1, y], [x + 1.1, y]]}},
        )
    with pytest.raises(InvalidInput, match="do not touch"):
        call(
            store,
            planning.merge_sites,
            ZONES,
            {"sites": [{"id": a.id, "base_version": 1}, {"id": b.id, "base_version": 1}]},
        )


def test_every_import_and_review_status_leaves_a_version(store, tmp_path):
    path = tmp_path / "mines.geojson"
    path.write_text(
        '{"type":"FeatureCollection","features":[{"type":"Feature","properties":{"name":"测试矿",'
        '"ref":"T-9","commodity":"stone"},"geometry":{"type":"Point","coordinates":[121.3,41.4]}}]}',
        encoding="utf-8",
    )
    with store.unit_of_work() as uow:
        [site_id] = import_sites(
            MINES, path, crs=None, skip_invalid=False, uow=uow, user=IMPORTER, now=NOW
        ).added
    path.write_text(path.read_text(encoding="utf-8").replace("测试矿", "测试矿（更名）"), encoding="utf-8")
    with store.unit_of_work() as uow:
        import_sites(MINES, path, crs=None, skip_invalid=False, uow=uow, user=IMPORTER, now=NOW)
    with store.unit_of_work(write=True) as uow:
        uow.sites.set_status(site_id, "onsite_evaluation", NOW, actor="经理甲", detail={"report": 1})
        uow.commit()
    steps = [(v["action"], v["actor"], v["name"], v["status"]) for v in history(store, site_id)]
    assert steps == [
        ("import", "导入员", "测试矿", MINES.initial_status),
        ("import", "导入员", "测试矿（更名）", MINES.initial_status),
        ("status", "经理甲", "测试矿（更名）", "onsite_evaluation"),
    ]


def test_the_shipped_dataset_starts_with_one_version_per_site(store):
    with store.unit_of_work() as uow:
        site = next(uow.sites.find(layer_id=ZONES.id))
        assert [(v["version"], v["action"]) for v in uow.versions.history(site.id)] == [(1, "load")]
        old = uow.versions.get(site.id, 1)
        assert old["geometry"].equals(site.geometry)


def test_as_of_gives_each_site_as_it_was(store, free):
    site = create(store, square(free), now=NOW)
    call(
        store,
        planning.edit_site,
        site.id,
        {"base_version": 1, "name": "改名村"},
        layers=LAYERS,
        now=NOW + timedelta(days=10),
    )
    call(store, planning.delete_site, site.id, {"base_version": 2}, now=NOW + timedelta(days=20))
    with store.unit_of_work() as uow:

        def names(at):
            rows = uow.history_view.sites_as_of(SiteFilter(layer_id=ZONES.id), at)
            return {r.site_id: r.name for r in rows}.get(site.id)

        assert names(NOW - timedelta(days=1)) is None
        assert names(NOW + timedelta(days=1)) == "新村"
        assert names(NOW + timedelta(days=11)) == "改名村"
        assert names(NOW + timedelta(days=21)) is None


def test_loading_the_dataset_again_does_not_bring_a_deleted_site_back(store):
    from geo import services

    with store.unit_of_work() as uow:
        site = next(uow.sites.find(layer_id=ZONES.id))
    call(store, planning.delete_site, site.id, {"base_version": site.version})
    before = site_count(store)
    with store.unit_of_work(write=True) as uow:
        services.load_dataset(LAYERS, uow=uow, now=NOW)
    assert site_count(store) == before


def test_every_version_of_every_site_is_recorded_and_the_last_is_the_site(store, free, tmp_path):
    """After drawing, editing, splitting, merging, deleting, restoring, reviewing and importing: each site
    has versions 1…its version, and the last one is the stored row."""
    a = create(store, square(free, 0.01))
    x, y = free.x, free.y
    line = {"type": "LineString", "coordinates": [[x + 0.005, y - 0.001], [x + 0.005, y + 0.011]]}
    kept, new = call(store, planning.split_site, a.id, {"base_version": 1, "line": line})
    call(store, planning.merge_sites, ZONES, {"sites": [{"id": kept.id, "base_version": 2},
                                                        {"id": new.id, "base_version": 1}]})
    call(store, planning.delete_site, a.id, {"base_version": 3})
    call(store, planning.restore_version, a.id, 1, {"base_version": 4}, layers=LAYERS)
    with store.unit_of_work(write=True) as uow:
        mine = next(uow.sites.find(layer_id=MINES.id))
        uow.sites.set_status(mine.id, "rectification", NOW, actor="经理甲")
        uow.commit()
    with store.unit_of_work() as uow:
        for site in [*uow.sites.find(), uow.sites.get(new.id, deleted=True)]:
            versions = uow.versions.history(site.id)
            assert [v["version"] for v in versions] == list(range(1, site.version + 1)), site.id
            last = versions[-1]
            assert (last["name"], last["status"], last["county"], last["attributes"]) == (
                site.name, site.status, site.county, site.attributes)
            assert last["deleted"] == (site.deleted_at is not None)
            assert uow.versions.get(site.id, site.version)["geometry"].equals(site.geometry)


@pytest.mark.backends("sqlite")  # refused before any write
@pytest.mark.parametrize("role, role_name", [("planner", "Planner"), ("worker", "Grid worker")])
def test_only_managers_plan_and_a_refusal_names_the_role(store, free, role, role_name):
    site = create(store, square(free))
    other = create(store, square(free, dx=0.004))
    count = site_count(store)
    someone = User(0, "路人", role)
    x, y = free.x + 0.002, free.y
    line = {"type": "LineString", "coordinates": [[x, y - 0.001], [x, y + 0.005]]}
    drawn = {"name": "村", "geometry": square(free, dx=0.02), "attributes": ATTRS}
    attempts = [
        (planning.create_site, (ZONES, drawn), {}),
        (planning.edit_site, (site.id, {"base_version": 1, "name": "改名村"}), {"layers": LAYERS}),
        (planning.split_site, (site.id, {"base_version": 1, "line": line}), {}),
        (planning.merge_sites, (ZONES, {"sites": [{"id": site.id, "base_version": 1},
                                                  {"id": other.id, "base_version": 1}]}), {}),
        (planning.delete_site, (site.id, {"base_version": 1}), {}),
        (planning.restore_version, (site.id, 1, {"base_version": 1}), {"layers": LAYERS}),
    ]
    for fn, args, more in attempts:
        with pytest.raises(PermissionDenied, match=role_name) as refused:
            call(store, fn, *args, user=someone, **more)
        assert (refused.value.code, refused.value.text.code) == ("forbidden", "role_not_allowed"), fn.__name__
        assert "Manager" in str(refused.value)  # the role it takes
    assert site_count(store) == count
    assert [len(history(store, s.id)) for s in (site, other)] == [1, 1]  # nothing written
