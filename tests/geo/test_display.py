"""Display forms: geometry simplified once, when stored, for the map's zoom levels."""

import json

import pytest
import shapely
import sqlalchemy as sa
from alembic import command
from alembic.config import Config

from geo.geometry import DISPLAY_LEVELS, display_forms, display_level, pixel_tolerance
from geo.storage.sql import MIGRATIONS


@pytest.mark.parametrize(
    "zoom, level",
    [(None, None), (0, 8), (7, 8), (8, 8), (9, 8), (10, 8), (11, 11), (12, 11), (13, None), (18, None)],
)
def test_each_zoom_is_served_by_the_nearest_level_below(zoom, level):
    assert display_level(zoom) == level


def test_display_forms_are_simplified_geojson_that_keeps_the_shape():
    village = shapely.Point(122.1, 41.7).buffer(0.006, quad_segs=16)  # ~65 vertices, ~500 m
    forms = display_forms(village)
    assert set(forms) == set(DISPLAY_LEVELS)
    shapes = {level: shapely.from_geojson(text) for level, text in forms.items()}
    counts = {level: shapely.get_num_coordinates(g) for level, g in shapes.items()}
    assert counts[8] < counts[11] < shapely.get_num_coordinates(village)
    for level, shape in shapes.items():
        assert shape.is_valid
        assert shape.hausdorff_distance(village) <= pixel_tolerance(level) * 1.01


def test_migration_fills_display_forms_of_sites_stored_before_it(tmp_path):
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'old.db'}")
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    polygon = shapely.box(121.0, 41.0, 121.01, 41.01)
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "0002")
        connection.execute(sa.text(
            "INSERT INTO layers (id, definition, updated_at) VALUES ('zones', '{}', '2026-01-01')"))
        connection.execute(sa.text(
            "INSERT INTO sites (layer_id, name, status, geom, minx, miny, maxx, maxy, attributes, version,"
            " created_at, updated_at) VALUES ('zones', 'old', 'ok', :g, 121, 41, 121.01, 41.01, '{}', 1,"
            " '2026-01-01', '2026-01-01')"), {"g": shapely.to_wkb(polygon)})
        command.upgrade(config, "head")
        row = connection.execute(sa.text("SELECT display_z8, display_z11 FROM sites")).one()
    assert json.loads(row.display_z11)["type"] == "Polygon"
    assert shapely.from_geojson(row.display_z8).equals(polygon)  # a box has nothing to simplify
