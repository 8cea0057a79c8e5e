"""geo.counties: the counties and their STRtree are built once per store, and a change is seen where it is."""

import shapely

from geo.counties import counties_of, names_in


def _save(uow, code: str, box) -> None:
    uow.counties.save(code, f"县{code}", f"County {code}", shapely.box(*box))


def _one_county(store):
    """The counties once county 1 (the unit square) is stored and committed."""
    with store.unit_of_work(write=True) as uow:
        _save(uow, "1", (0, 0, 1, 1))
        uow.commit()
    with store.unit_of_work() as uow:
        return counties_of(uow)


def test_built_once_per_store_and_shared_by_its_units_of_work(store):
    first = _one_county(store)
    with store.unit_of_work() as uow:
        assert counties_of(uow) is first
    assert first.code_for(shapely.Point(0.5, 0.5)) == "1" and first.code_for(shapely.Point(5, 5)) is None
    assert first.get("1")["name_en"] == "County 1" and first.get("2") is None


def test_a_stored_county_is_seen_by_its_unit_of_work_and_by_all_once_committed(store):
    before = _one_county(store)
    with store.unit_of_work(write=True) as uow:
        _save(uow, "2", (2, 0, 3, 1))
        assert counties_of(uow).code_for(shapely.Point(2.5, 0.5)) == "2"  # its own, not yet committed
        with store.unit_of_work() as other:
            assert counties_of(other) is before  # the others still see the committed ones
        uow.commit()
    with store.unit_of_work() as uow:
        after = counties_of(uow)
    assert after is not before and after.code_for(shapely.Point(2.5, 0.5)) == "2"


def test_a_county_stored_and_rolled_back_is_never_seen(store):
    with store.unit_of_work(write=True) as uow:
        _save(uow, "1", (0, 0, 1, 1))
        assert counties_of(uow).get("1") is not None
    with store.unit_of_work() as uow:
        assert counties_of(uow).get("1") is None


def test_names_in_a_language_fall_back_to_chinese():
    names = {"1": ("太和区", "Taihe"), "2": ("黑山县", None)}
    assert names_in(names, "zh_CN") == {"1": "太和区", "2": "黑山县"}
    assert names_in(names, "en") == {"1": "Taihe", "2": "黑山县"}
