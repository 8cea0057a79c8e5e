"""The map's skeleton, built with folium: a Leaflet map with the configured basemap.

folium's default CDN links are replaced by the app's own vendor URLs, and only
Leaflet is loaded (folium's jQuery, Bootstrap and icon fonts are not needed), so
the page works on a network with no internet. Features are not embedded: the
page's own script (static/map.js) asks the API for what is in view.
"""

from __future__ import annotations

import re

import folium
from flask import url_for

from webapp.settings import Config

OSM_ATTRIBUTION = '&copy; <a href="https://www.openstreetmap.org/copyright">OpenStreetMap</a>'
TIANDITU = ("https://t{s}.tianditu.gov.cn/%s_w/wmts?SERVICE=WMTS&REQUEST=GetTile&VERSION=1.0.0"
            "&LAYER=%s&STYLE=default&TILEMATRIXSET=w&FORMAT=tiles&TILEMATRIX={z}&TILEROW={y}"
            "&TILECOL={x}&tk=%s")
AMAP = "https://webrd0{s}.is.autonavi.com/appmaptile?lang=zh_cn&size=1&scale=1&style=8&x={x}&y={y}&z={z}"
JINZHOU = (41.35, 121.6)
# folium's own viewport <meta> forbids zooming (user-scalable=no); base.html has the page's one.
FOLIUM_VIEWPORT = re.compile(r'<meta\s+name="viewport"[^>]*>\s*')


def _tile_layers(config: Config) -> list[folium.TileLayer]:
    if config.basemap == "osm":
        return [folium.TileLayer("https://tile.openstreetmap.org/{z}/{x}/{y}.png", attr=OSM_ATTRIBUTION,
                                 name="OpenStreetMap", max_zoom=19)]
    if config.basemap == "tianditu":  # Tianditu's "w" tiles are Web Mercator on CGCS2000 ≈ WGS84
        key = config.tianditu_key
        return [folium.TileLayer(TIANDITU % ("vec", "vec", key), attr="天地图", name="天地图",
                                 subdomains="01234567", max_zoom=18),
                folium.TileLayer(TIANDITU % ("cva", "cva", key), attr="天地图", name="天地图注记",
                                 subdomains="01234567", max_zoom=18, overlay=True)]
    if config.basemap == "amap":  # GCJ-02 tiles: the page asks the API for GCJ-02 coordinates
        return [folium.TileLayer(AMAP, attr="高德地图", name="高德地图", subdomains="1234", max_zoom=18)]
    return []


def map_parts(config: Config) -> dict[str, str]:
    """The folium map rendered in parts: header (styles), html (the map div), script, and its JS name."""
    m = folium.Map(location=JINZHOU, zoom_start=8, tiles=None, prefer_canvas=True, control_scale=True)
    m.default_js = [("leaflet", url_for("assets.vendor", package="leaflet", filename="leaflet.js"))]
    m.default_css = [("leaflet_css", url_for("assets.vendor", package="leaflet", filename="leaflet.css"))]
    for tiles in _tile_layers(config):
        tiles.add_to(m)
    root = m.get_root()
    root.render()
    return {
        "header": FOLIUM_VIEWPORT.sub("", root.header.render()),
        "html": root.html.render(),
        "script": root.script.render(),
        "name": m.get_name(),
    }
