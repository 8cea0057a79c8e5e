"""Layer definitions: the shipped files load, and each kind of broken file says what is wrong."""

import pytest
import yaml

from geo.layers import load_layer, load_layers, shipped_layers_dir
from geo.model import LayerDefinitionError


def test_shipped_layers_load_with_contract_ids():
    layers = load_layers()
    assert list(layers) == ["grid_cells", "mines", "port_multimodal", "road_works", "sanitation_zones"]
    assert not layers["grid_cells"].inspections and layers["grid_cells"].checklist == ()
    zones = layers["sanitation_zones"]
    assert zones.status_mode == "cadence"
    assert [c.label["zh_CN"] for c in zones.checklist] == ["扫干净", "码整齐", "清沟渠", "促转化"]
    assert {m.id for m in zones.metrics} == {
        "person_times", "vehicle_trips", "garbage_tonnes", "flowers_m2", "seedlings"
    }
    mines = layers["mines"]
    assert mines.status("provincial_passed").label["en"].startswith("Provincial verification")
    assert len(mines.checklist) == 6
    # every layer carries the provenance attributes, so approximate data can say so
    assert all(layer.attribute("approx") for layer in layers.values())


def _good() -> dict:
    return yaml.safe_load((shipped_layers_dir() / "road_works.yaml").read_text(encoding="utf-8"))


def _break_missing(d):
    del d["checklist"]


def _break_geometry(d):
    d["geometry_type"] = ["Hexagon"]


def _break_duplicate_status(d):
    d["statuses"].append(dict(d["statuses"][0]))


def _break_colour(d):
    d["statuses"][1]["color"] = "orange"


def _break_checklist_label(d):
    del d["checklist"][2]["label"]


def _break_metric_bounds(d):
    d["metrics"][0]["min"], d["metrics"][0]["max"] = 100, 0


def _break_initial(d):
    d["status"]["initial"] = "finished"


def _break_unknown_field(d):
    d["colour_scheme"] = "viridis"


def _break_id(d):
    d["id"] = "roads"


def _break_reserved_attribute(d):
    d["attributes"][0]["name"] = "status"


def _break_editing_rule(d):
    d["editing"] = {"within": "province"}


@pytest.mark.parametrize(
    "breaker, field, problem",
    [
        (_break_missing, "checklist", "required field is missing"),
        (_break_geometry, "geometry_type.0", "unknown geometry type 'Hexagon'"),
        (_break_duplicate_status, "statuses.4.code", "duplicate code 'planned'"),
        (_break_colour, "statuses.1.color", "colour 'orange' is not a #rrggbb hex colour"),
        (_break_checklist_label, "checklist.2.label", "required field is missing"),
        (_break_metric_bounds, "metrics.0", "min 100.0 is greater than max 0.0"),
        (_break_initial, "status.initial", "'finished' is not one of the statuses"),
        (_break_unknown_field, "colour_scheme", "unknown field"),
        (_break_id, "id", "must match the file name"),
        (_break_reserved_attribute, "attributes.0.name", "'status' is a property every site has"),
        (_break_editing_rule, "editing.within", "county"),
    ],
)
def test_broken_file_names_file_field_and_problem(tmp_path, breaker, field, problem):
    data = _good()
    breaker(data)
    path = tmp_path / "road_works.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    with pytest.raises(LayerDefinitionError) as caught:
        load_layer(path)
    err = caught.value
    assert err.file == "road_works.yaml"
    assert err.field == field
    assert problem in err.problem
    assert str(err).startswith(f"road_works.yaml: {field}: ")


def test_yaml_syntax_error_and_empty_directory(tmp_path):
    path = tmp_path / "mines.yaml"
    path.write_text("id: mines\nstatuses: [unclosed\n", encoding="utf-8")
    with pytest.raises(LayerDefinitionError, match="mines.yaml: \\(file\\): cannot be read as YAML"):
        load_layer(path)
    empty = tmp_path / "none"
    empty.mkdir()
    with pytest.raises(LayerDefinitionError, match="holds no"):
        load_layers(empty)
