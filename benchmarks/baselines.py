"""The baselines the planner map is compared with, measured in the same run.

- ``folium_page_bytes``: what the page weighs when every zone is embedded in it,
  the way a folium map is usually made (folium.GeoJson of all features).
- ``FullScan``: a bbox request answered the way a naive feature provider does it
  (pygeoapi-style): read every row of the layer from SQLite, decode each WKB,
  test it against the box with shapely, serialise the hits with ``json``.
- ``VectorisedScan``: the same full scan done as well as a scan can be (one
  fetch, vectorised shapely, orjson), to show what the index itself buys.

Both scans read a SQLite file: the SQLite instance's own, or ``copy_layer``'s copy of
a PostGIS instance's layer, so every backend is compared with the same peer.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable

import orjson
import shapely
from shapely.geometry import mapping

COLUMNS = "id, name, status, county, attributes, geom"


def folium_page_bytes(zones: Iterable[tuple[str, object, dict]], centre: tuple[float, float]) -> int:
    """Bytes of a standalone folium page with every zone embedded as GeoJSON."""
    import folium

    features = [
        {"type": "Feature", "geometry": mapping(polygon),
         "properties": {"name": name, "status": "never_inspected", **attributes}}
        for name, polygon, attributes in zones
    ]
    page = folium.Map(location=[centre[1], centre[0]], zoom_start=9)
    folium.GeoJson({"type": "FeatureCollection", "features": features}, name="sanitation_zones",
                   tooltip=folium.GeoJsonTooltip(fields=["name", "township"])).add_to(page)
    return len(page.get_root().render().encode())


def copy_layer(database_url: str, layer_id: str, path) -> None:
    """The columns the scans read, for every site of ``layer_id`` in any OneMap store, into a
    SQLite file at ``path`` (table ``sites``, as in an instance)."""
    import sqlalchemy as sa

    from geo.storage import open_store
    from geo.storage import schema as t

    s, store = t.sites.c, open_store(database_url)
    target = sqlite3.connect(path)
    try:
        target.execute("CREATE TABLE sites (id INTEGER PRIMARY KEY, layer_id TEXT, name TEXT, status TEXT, "
                       "county TEXT, attributes TEXT, geom BLOB)")
        with store.unit_of_work() as uow:
            columns = (s.id, s.layer_id, s.name, s.status, s.county, s.attributes, s.geom)
            rows = uow.connection.execute(sa.select(*columns).where(s.layer_id == layer_id))
            target.executemany("INSERT INTO sites VALUES (?, ?, ?, ?, ?, ?, ?)",
                               ((*row[:5], json.dumps(row[5], ensure_ascii=False), row[6]) for row in rows))
        target.commit()
    finally:
        target.close()
        store.close()


def _collection(features: list, dumps) -> bytes:
    return dumps({"type": "FeatureCollection", "numberMatched": len(features),
                  "numberReturned": len(features), "features": features})


class FullScan:
    """Every row of the layer, one at a time: plain sqlite3 + shapely + json."""

    def __init__(self, db_path: str, layer_id: str):
        self.connection = sqlite3.connect(db_path, check_same_thread=False)
        self.layer_id = layer_id

    def features(self, bbox: tuple[float, float, float, float]) -> bytes:
        box = shapely.box(*bbox)
        shapely.prepare(box)
        hits = []
        rows = self.connection.execute(f"SELECT {COLUMNS} FROM sites WHERE layer_id = ?", (self.layer_id,))
        for site_id, name, status, county, attributes, geom in rows:
            geometry = shapely.from_wkb(geom)
            if box.intersects(geometry):
                hits.append({"type": "Feature", "id": site_id, "geometry": mapping(geometry),
                             "properties": {"name": name, "status": status, "county": county,
                                            **json.loads(attributes)}})
        return _collection(hits, lambda value: json.dumps(value, ensure_ascii=False).encode())

    def close(self) -> None:
        self.connection.close()


class VectorisedScan(FullScan):
    """Every row of the layer in one fetch, decoded and tested in vectorised shapely calls."""

    def features(self, bbox: tuple[float, float, float, float]) -> bytes:
        rows = self.connection.execute(f"SELECT {COLUMNS} FROM sites WHERE layer_id = ?",
                                       (self.layer_id,)).fetchall()
        geometries = shapely.from_wkb([row[5] for row in rows])
        mask = shapely.intersects(geometries, shapely.box(*bbox))
        texts = shapely.to_geojson(geometries[mask])
        hits = [orjson.Fragment(b'{"type":"Feature","id":%d,"geometry":%s,"properties":%s}' % (
                    row[0], text.encode(), orjson.dumps({"name": row[1], "status": row[2], "county": row[3],
                                                         **orjson.loads(row[4])})))
                for row, text in zip((r for r, keep in zip(rows, mask, strict=True) if keep), texts,
                                     strict=True)]
        return _collection(hits, orjson.dumps)
