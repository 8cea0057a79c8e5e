"""One cold load of the planner map in Chromium, timed from inside the page.

``PROBE`` is added to every page before its own scripts run (Playwright's init script). On the
page's clock (``performance.now()``, 0 = navigation start) it records:

- every draw of map features: a call of ``fill`` / ``stroke`` on a canvas inside Leaflet's
  ``.leaflet-overlay-pane`` (the map is made with ``preferCanvas``, so shapes and circle markers
  are drawn there), an SVG shape added to that pane, or a marker (a cluster icon) added to
  ``.leaflet-marker-pane``. The county outlines have a pane of their own and do not count;
- each ``/api/v1/layers/<layer>/features`` request map.js starts (URL, time), and when its
  response has been parsed (``response.json()`` resolved, just before map.js draws it), with the
  number of features; the first draw after that moment is the frame showing them (Leaflet's
  canvas redraws on the next animation frame);
- every change of ``data-ready`` on ``.folium-map`` (map.js: "true" once every layer's request of
  the latest load is done).

map.js may load twice per page: it starts a load right after moving the map to its first view and
again on the ``moveend`` that ends the move's animation. The requests of the last load (the same
bbox as the last request started) are those of the view the page opened on; the first round is
"any features", the last one "the view's features".

Bytes come from the page's Resource Timing entries (``encodedBodySize``: a response body as it came
over the wire, before any content decoding; on the same clock as the draws) and, as a cross-check,
from Chromium's DevTools protocol (``Network.loadingFinished.encodedDataLength``: headers included).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from urllib.parse import parse_qs, urlsplit

PROBE = r"""
(() => {
  const probe = window.__firstDraw = { draws: 0, firstDraw: null, fetches: [], responses: [],
                                       readyChanges: [] };
  performance.setResourceTimingBufferSize(10000);
  let waiting = [];  // parsed responses whose features have not been drawn yet
  function drawn(kind) {
    const now = performance.now();
    probe.draws += 1;
    if (probe.firstDraw === null) probe.firstDraw = { t: now, kind };
    waiting.forEach((response) => { response.drawn = now; response.kind = kind; });
    waiting = [];
  }
  for (const name of ["fill", "stroke"]) {
    const original = CanvasRenderingContext2D.prototype[name];
    CanvasRenderingContext2D.prototype[name] = function (...args) {
      if (this.canvas.closest(".leaflet-overlay-pane")) drawn("canvas");
      return original.apply(this, args);
    };
  }
  // A node added inside a pane (not the pane itself, which Leaflet adds empty when it makes the map).
  const inPane = (node, pane) => node.nodeType === 1 && node.parentElement
                                 && node.parentElement.closest(pane);
  new MutationObserver((records) => {
    for (const r of records) {
      if (r.type === "attributes") {
        if (r.target.classList.contains("folium-map")) {
          probe.readyChanges.push([performance.now(), r.target.dataset.ready]);
        }
        continue;
      }
      for (const node of r.addedNodes) {
        if (inPane(node, ".leaflet-marker-pane")) drawn("marker");
        else if (inPane(node, ".leaflet-overlay-pane") && node.namespaceURI === "http://www.w3.org/2000/svg"
                 && node.tagName !== "svg" && node.tagName !== "g") drawn("svg");
      }
    }
  }).observe(document, { subtree: true, childList: true, attributes: true, attributeFilter: ["data-ready"] });
  const originalFetch = window.fetch;
  window.fetch = function (input, init) {
    const url = String(input instanceof Request ? input.url : input);
    const match = url.match(/\/api\/v1\/layers\/([^/?]+)\/features/);
    const answer = originalFetch.call(this, input, init);
    if (!match) return answer;
    probe.fetches.push([performance.now(), url]);
    return answer.then((response) => {
      const json = response.json.bind(response);
      response.json = () => json().then((body) => {
        const record = { layer: match[1], url, parsed: performance.now(), returned: body.features.length,
                         matched: body.numberMatched, truncated: body.truncated, drawn: null, kind: null };
        probe.responses.push(record);
        if (body.features.length) waiting.push(record);
        return body;
      });
      return response;
    });
  };
})();
"""

# The page has settled: the latest load is done and no new one has started for a while (map.js waits
# 150 ms after a move, and a move's zoom animation takes 250 ms).
SETTLED = """(quiet) => {
  const p = window.__firstDraw;
  if (!p || !p.readyChanges.length || p.readyChanges[p.readyChanges.length - 1][1] !== "true") return false;
  const last = Math.max(p.readyChanges[p.readyChanges.length - 1][0], ...p.fetches.map((f) => f[0]));
  return performance.now() - last > quiet;
}"""

# What the page reports once settled: the probe and the Resource Timing entries (navigation first).
COLLECT = """() => ({
  probe: window.__firstDraw,
  entries: [...performance.getEntriesByType("navigation"),
            ...performance.getEntriesByType("resource")].map((e) => ({
    url: e.name, start: e.startTime, requestStart: e.requestStart, responseStart: e.responseStart,
    end: e.responseEnd, body: e.encodedBodySize, transfer: e.transferSize,
  })),
  domContentLoaded: performance.getEntriesByType("navigation")[0].domContentLoadedEventEnd,
  mapSize: ((m) => [m.clientWidth, m.clientHeight])(document.querySelector(".folium-map")),
})"""

ZONES = "sanitation_zones"
BROWSER_METRICS = ("TaskDuration", "ScriptDuration", "LayoutDuration", "RecalcStyleDuration")


@dataclass
class Load:
    """One page load: times in ms since navigation start, sizes in bytes (response bodies on the wire)."""

    first_draw_ms: float  # the first feature of any layer drawn (any round of requests)
    view_draw_ms: float  # the first feature of the final view drawn
    zones_draw_ms: float | None  # the final view's zones drawn (None: no zones in view)
    all_drawn_ms: float  # every layer of the final view drawn
    ready_ms: float  # the last change of data-ready to "true"
    bytes_before_first: int  # every response finished before the first draw
    bytes_before_view: int  # ... before the final view's first draw
    bytes_before_zones: int | None
    bytes_total: int  # every response of the load
    rounds: int  # how many times map.js asked for the features (rounds of requests)
    fetches: list  # [ms, url] of every features request started
    final_bbox: str
    final: dict[str, dict]  # per layer, the final view's response: parsed, drawn, returned, matched, url
    entries: list[dict]  # Resource Timing, for the breakdown
    cdp_wire_total: int  # Chromium's count, headers included
    cold: bool  # every response with a body came over the network (no cache hit)
    dom_content_loaded_ms: float
    map_size: list[int]
    browser: dict[str, float]  # Chromium's main-thread busy time by kind (Performance.getMetrics), ms
    foreign: list[str] = field(default_factory=list)  # requests to another host (must stay empty)


def bbox_of(url: str) -> str:
    return parse_qs(urlsplit(url).query).get("bbox", [""])[0]


def zoom_of(url: str) -> str:
    return parse_qs(urlsplit(url).query).get("zoom", [""])[0]


def _bytes_until(entries: list[dict], moment: float) -> int:
    return sum(e["body"] for e in entries if e["end"] <= moment)


def load_once(browser, base: str, path: str, storage_state: dict, timeout_ms: int = 120_000) -> Load:
    """Open ``base + path`` in a new context (the login cookies, an empty HTTP cache) and measure it."""
    context = browser.new_context(storage_state=storage_state, viewport={"width": 1280, "height": 800},
                                  locale="zh-CN")
    try:
        context.add_init_script(PROBE)
        page = context.new_page()
        foreign: list[str] = []
        page.on("request", lambda r: foreign.append(r.url) if not r.url.startswith(base) else None)
        cdp = context.new_cdp_session(page)
        wire: dict[str, int] = {}
        cdp.on("Network.loadingFinished", lambda e: wire.__setitem__(e["requestId"], e["encodedDataLength"]))
        cdp.send("Network.enable")
        cdp.send("Performance.enable")
        page.goto(base + path, wait_until="commit")
        page.wait_for_function(SETTLED, arg=600, timeout=timeout_ms, polling=50)
        seen = page.evaluate(COLLECT)
        metrics = {m["name"]: m["value"] for m in cdp.send("Performance.getMetrics")["metrics"]}
    finally:
        context.close()
    browser_ms = {name: metrics.get(name, 0.0) * 1000 for name in BROWSER_METRICS}
    return _summarise(seen, wire, foreign, path, browser_ms)


def _summarise(seen: dict, wire: dict[str, int], foreign: list[str], path: str, browser_ms: dict) -> Load:
    probe, entries = seen["probe"], seen["entries"]
    if probe["firstDraw"] is None:
        raise RuntimeError(f"{path}: the map drew no feature")
    final_bbox = bbox_of(probe["fetches"][-1][1])
    final = {r["layer"]: r for r in probe["responses"] if bbox_of(r["url"]) == final_bbox}
    drawn = [r["drawn"] for r in final.values() if r["returned"] and r["drawn"] is not None]
    if not drawn:
        raise RuntimeError(f"{path}: the final view drew no feature")
    zones = final.get(ZONES)
    zones_ms = zones["drawn"] if zones and zones["returned"] else None
    first = probe["firstDraw"]["t"]
    return Load(
        first_draw_ms=first, view_draw_ms=min(drawn), zones_draw_ms=zones_ms, all_drawn_ms=max(drawn),
        ready_ms=[t for t, value in probe["readyChanges"] if value == "true"][-1],
        bytes_before_first=_bytes_until(entries, first), bytes_before_view=_bytes_until(entries, min(drawn)),
        bytes_before_zones=None if zones_ms is None else _bytes_until(entries, zones_ms),
        bytes_total=sum(e["body"] for e in entries),
        rounds=len({bbox_of(url) for _, url in probe["fetches"]}), fetches=probe["fetches"],
        final_bbox=final_bbox, final=final, entries=entries, cdp_wire_total=sum(wire.values()),
        cold=all(e["transfer"] > 0 for e in entries if e["body"] > 0),
        dom_content_loaded_ms=seen["domContentLoaded"],
        map_size=seen["mapSize"], browser=browser_ms, foreign=foreign)


def entry_kind(load: Load, entry: dict) -> str:
    """What a Resource Timing entry was: "page", an asset path, "counties" or "<layer> (first|view)"."""
    path = urlsplit(entry["url"]).path
    if entry is load.entries[0]:
        return "page HTML"
    if path.endswith("/features"):
        layer = path.split("/")[-2]
        return f"{layer} features ({'view' if bbox_of(entry['url']) == load.final_bbox else 'first'} round)"
    return path


def milestones(load: Load) -> dict[str, float]:
    """The critical path of one load, in ms since navigation start (and durations of the zones request)."""
    entries = load.entries
    marks = {"page HTML received": entries[0]["end"], "DOMContentLoaded": load.dom_content_loaded_ms}
    counties = [e for e in entries if urlsplit(e["url"]).path.endswith("/api/v1/counties")]
    if counties:
        marks["counties received"] = counties[0]["end"]
    marks["first features request"] = load.fetches[0][0]
    marks["first features drawn"] = load.first_draw_ms
    marks["view's features requests"] = next(t for t, url in load.fetches if bbox_of(url) == load.final_bbox)
    zones = load.final.get(ZONES)
    entry = zones and next((e for e in entries if e["url"].endswith(zones["url"])), None)
    if entry:
        marks["view's zones: waiting for the server (request sent → first byte)"] = (
            entry["responseStart"] - entry["requestStart"])
        marks["view's zones: download (first → last byte)"] = entry["end"] - entry["responseStart"]
        marks["view's zones: parse + add to the map (last byte → parsed → drawn)"] = (
            (zones["drawn"] or zones["parsed"]) - entry["end"])
    marks["view's features all drawn"] = load.all_drawn_ms
    marks["data-ready"] = load.ready_ms
    return marks
