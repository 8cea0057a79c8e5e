// OneMap planner map. Asks the API for the features in view (never the whole
// database), draws them by status, clusters dense points, and keeps the filters
// in the URL so a view can be shared. Text users wrote is only ever set as text
// (DOM nodes / textContent), never parsed as HTML.
(function () {
  "use strict";
  const config = JSON.parse(document.getElementById("onemap-config").textContent);
  const { _ } = window.OneMapI18n; // i18n.js: the page's catalogue
  const map = window[document.getElementById("map-script").dataset.map];
  const mapEl = map.getContainer();
  map.setMaxZoom(19); // marker clustering needs it, and with no basemap nothing else sets it
  const form = document.getElementById("filters");
  const list = document.getElementById("site-list");
  const listCount = document.getElementById("list-count");
  const LIST_MAX = 200;
  const dayFormat = new Intl.DateTimeFormat(config.lang === "en" ? "en" : "zh-CN", // the day where the users are
    { dateStyle: "medium", timeZone: config.timeZone });
  const layerDefs = {};
  config.layers.forEach((l) => {
    layerDefs[l.id] = l;
    l.byCode = {};
    l.statuses.forEach((s) => { l.byCode[s.code] = s; });
  });
  // What the managers' planning tools (edit.js) build on: extra popup content and feature clicks.
  const hooks = { popup: [], click: [] };

  // ------------------------------------------------------------ small DOM helper
  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    Object.entries(attrs || {}).forEach(([k, v]) => { if (v !== null && v !== undefined) node.setAttribute(k, v); });
    children.forEach((c) => { if (c !== null && c !== undefined) node.append(c); }); // strings become text nodes
    return node;
  }

  // ------------------------------------------------------------ filters <-> URL
  function readUrl() {
    const p = new URLSearchParams(location.search);
    const status = {};
    (p.get("status") || "").split(",").filter(Boolean).forEach((pair) => {
      const [layer, code] = pair.split(":");
      (status[layer] = status[layer] || []).push(code);
    });
    return {
      layers: p.has("layers") ? p.get("layers").split(",").filter(Boolean) : Object.keys(layerDefs),
      status, county: p.get("county") || "", q: p.get("q") || "", view: p.get("view"),
      asOf: p.get("as_of") || "",
    };
  }

  function applyToForm(state) {
    form.elements.q.value = state.q;
    form.elements.county.value = state.county;
    form.elements.as_of.value = state.asOf;
    document.querySelectorAll("input[name=layer]").forEach((box) => { box.checked = state.layers.includes(box.value); });
    document.querySelectorAll(".status-filter").forEach((box) => {
      box.checked = (state.status[box.dataset.layer] || []).includes(box.value);
    });
  }

  function readForm() {
    const status = {};
    document.querySelectorAll(".status-filter:checked").forEach((box) => {
      (status[box.dataset.layer] = status[box.dataset.layer] || []).push(box.value);
    });
    return {
      layers: [...document.querySelectorAll("input[name=layer]:checked")].map((b) => b.value),
      status, county: form.elements.county.value, q: form.elements.q.value.trim(),
      asOf: form.elements.as_of.value,
    };
  }

  function writeUrl(state) {
    const p = new URLSearchParams();
    if (state.layers.length !== Object.keys(layerDefs).length) p.set("layers", state.layers.join(","));
    const pairs = Object.entries(state.status).flatMap(([layer, codes]) => codes.map((c) => `${layer}:${c}`));
    if (pairs.length) p.set("status", pairs.join(","));
    if (state.county) p.set("county", state.county);
    if (state.q) p.set("q", state.q);
    if (state.asOf) p.set("as_of", state.asOf);
    const c = map.getCenter();
    p.set("view", `${map.getZoom()}/${c.lat.toFixed(4)}/${c.lng.toFixed(4)}`);
    history.replaceState(null, "", "?" + p.toString());
    const lang = document.querySelector(".lang-switch");
    if (lang) {
      p.set("lang", config.lang === "en" ? "zh_CN" : "en");
      lang.href = "?" + p.toString();
    }
  }

  // ------------------------------------------------------------ layers
  const countyPane = map.createPane("counties");
  countyPane.style.zIndex = 350;
  countyPane.style.pointerEvents = "none";
  const groups = {};

  function colour(layerId, status) {
    return (layerDefs[layerId].byCode[status] || { color: "#607d8b" }).color;
  }

  // The popup's site detail, kept for the one site last asked about: a popup rebuilt by a reload
  // shows its note at once instead of asking the server again.
  let lastDetail = { key: null, promise: null };
  function siteDetail(feature) {
    const key = `${feature.id}@${feature.properties.version}@${feature.properties.last_inspected_at}`;
    if (lastDetail.key !== key) {
      const promise = fetch(config.site + feature.id, { credentials: "same-origin" })
        .then((r) => (r.ok ? r.json() : null))
        .catch(() => null)
        .then((site) => {
          if (!site && lastDetail.key === key) lastDetail.key = null; // not kept: asked again next time
          return site;
        });
      lastDetail = { key, promise };
    }
    return lastDetail.promise;
  }

  function popupFor(layerId, feature) {
    const p = feature.properties;
    const status = layerDefs[layerId].byCode[p.status];
    const result = p.last_result === "fail" ? _("items failed") : _("all passed"); // outside `…`: extracted
    const last = p.last_inspected_at
      ? `${dayFormat.format(new Date(p.last_inspected_at))} · ${result}`
      : _("Never inspected");
    const photo = el("div", { class: "popup-photo" });
    const box = el("div", { class: "popup" },
      el("h3", {}, p.name),
      el("p", {}, el("span", { class: "swatch", style: `background:${colour(layerId, p.status)}` }),
        " ", status ? status.label : p.status),
      el("p", {}, _("Last inspection"), ": ", last),
      p.unreviewed ? el("p", { class: "popup-unreviewed" }, _("Latest report awaits review")) : null,
      photo,
      el("a", { href: config.sitePage + feature.id, class: "popup-link" }, _("Open site page")));
    hooks.popup.forEach((add) => add(box, layerId, feature));
    if (p.last_inspected_at && !readForm().asOf) { // a past view: today's latest report is not the one then
      siteDetail(feature)
        .then((site) => {
          const latest = site && site.properties.latest_report;
          if (latest && latest.note) photo.before(el("p", { class: "popup-note" }, latest.note));
          if (latest && latest.photos.length) {
            photo.append(el("img", { src: `/media/photos/${latest.photos[0]}/thumbnail`, alt: p.name }));
          }
        })
        .catch(() => {});
    }
    return box;
  }

  function bind(layerId, feature, leafletLayer) {
    feature.leaflet = leafletLayer;
    leafletLayer.bindPopup(() => popupFor(layerId, feature), { maxWidth: 280 });
    leafletLayer.bindTooltip(() => document.createTextNode(feature.properties.name)); // a node: a string would be HTML
    leafletLayer.on("click", () => hooks.click.forEach((h) => h(layerId, feature)));
  }

  config.layers.forEach((layer) => {
    const cluster = L.markerClusterGroup({ showCoverageOnHover: false, chunkedLoading: true, maxClusterRadius: 50 });
    const shapes = L.geoJSON(null, {
      // A site whose latest report awaits review keeps its status colour, outlined in dashes.
      style: (f) => ({ color: colour(layer.id, f.properties.status), fillOpacity: 0.45,
                       weight: (f.geometry.type.includes("Line") ? 4 : 1.5) + (f.properties.unreviewed ? 1 : 0),
                       dashArray: f.properties.unreviewed ? "6 4" : null }),
      onEachFeature: (f, l) => bind(layer.id, f, l),
    });
    groups[layer.id] = { cluster, shapes, features: [], controller: null, truncated: false };
    cluster.addTo(map);
    shapes.addTo(map);
  });

  function draw(layerId, collection) {
    const g = groups[layerId];
    // A popup open on a site still in view stays open across the reload that follows every move: the
    // same popup moves to the redrawn site, so it neither blinks nor shows twice while an old one fades.
    const open = g.features.find((f) => f.leaflet && f.leaflet.isPopupOpen());
    const popup = open && open.leaflet.getPopup();
    if (open) open.leaflet.unbindPopup(); // unbound, removing the old layer does not close it
    g.cluster.clearLayers();
    g.shapes.clearLayers();
    g.features = collection.features;
    g.truncated = collection.truncated;
    const markers = [];
    collection.features.forEach((f) => {
      if (f.geometry.type === "Point") {
        const [lng, lat] = f.geometry.coordinates;
        const unreviewed = !!f.properties.unreviewed;
        const marker = L.circleMarker([lat, lng], { radius: 8, fillOpacity: 0.9, fillColor: colour(layerId, f.properties.status),
                                                    color: unreviewed ? "#333" : "#fff", weight: 2,
                                                    dashArray: unreviewed ? "3 3" : null });
        bind(layerId, f, marker);
        markers.push(marker);
      } else {
        g.shapes.addData(f);
      }
    });
    g.cluster.addLayers(markers);
    if (!open) return;
    const again = g.features.find((f) => f.id === open.id);
    if (!again || !again.leaflet) {
      map.closePopup(popup);
      return;
    }
    again.leaflet.bindPopup(popup);
    popup.setContent(() => popupFor(layerId, again)); // the redrawn site's properties and planning actions
  }

  function updateLegend(state) {
    Object.values(layerDefs).forEach((layer) => {
      const on = state.layers.includes(layer.id);
      const counts = {};
      (on ? groups[layer.id].features : []).forEach((f) => { counts[f.properties.status] = (counts[f.properties.status] || 0) + 1; });
      document.querySelectorAll(`.count[data-layer="${layer.id}"]`).forEach((b) => {
        b.textContent = on ? String(counts[b.dataset.status] || 0) : "";
      });
      const total = document.querySelector(`[data-count="${layer.id}"]`);
      total.textContent = on ? `(${groups[layer.id].features.length}${groups[layer.id].truncated ? "+" : ""})` : "";
    });
  }

  const POINT_ZOOM = 14; // a located point's zoom: clusters are small (radius 50 px) long before it

  function updateList(state) {
    const rows = state.layers.flatMap((id) => groups[id].features.map((f) => [id, f]));
    rows.sort((a, b) => a[1].properties.name.localeCompare(b[1].properties.name, "zh-CN"));
    list.replaceChildren(...rows.slice(0, LIST_MAX).map(([layerId, f]) => {
      const locate = el("button", { type: "button", class: "locate", title: _("Show on the map") }, "◎");
      locate.addEventListener("click", () => {
        const target = f.leaflet;
        if (target.getBounds) {
          map.fitBounds(target.getBounds(), { maxZoom: 15 });
          target.openPopup();
          return;
        }
        // A point: close enough that its cluster opens, and its popup opened on the map, not on the
        // marker (markercluster's zoomToShowLayer waits for a marker icon, which circle markers lack).
        map.setView(target.getLatLng(), Math.max(map.getZoom(), POINT_ZOOM));
        target.getPopup().setLatLng(target.getLatLng()).openOn(map);
      });
      return el("li", { "data-site": f.id },
        el("span", { class: "swatch", style: `background:${colour(layerId, f.properties.status)}` }),
        el("a", { href: config.sitePage + f.id }, f.properties.name),
        f.properties.unreviewed ? el("span", { class: "unreviewed-badge", title: _("Latest report awaits review") }, "●")
          : null, locate);
    }));
    const more = rows.length > LIST_MAX ? ", " + _("first 200 listed") : "";
    listCount.textContent = `(${rows.length}${more})`;
  }

  // ------------------------------------------------------------ loading
  let pending = 0;
  function load() {
    const state = readForm();
    writeUrl(state);
    const b = map.getBounds().pad(0.1);
    const clamp = (v, lo, hi) => Math.max(lo, Math.min(hi, v));
    const bbox = [clamp(b.getWest(), -180, 180), clamp(b.getSouth(), -90, 90),
                  clamp(b.getEast(), -180, 180), clamp(b.getNorth(), -90, 90)].map((v) => v.toFixed(5)).join(",");
    Object.keys(layerDefs).forEach((id) => {
      const g = groups[id];
      if (g.controller) g.controller.abort();
      if (!state.layers.includes(id)) {
        draw(id, { features: [] });
        return;
      }
      const params = new URLSearchParams({ bbox, zoom: String(Math.round(map.getZoom())) });
      if (state.status[id]) params.set("status", state.status[id].join(","));
      if (state.county) params.set("county", state.county);
      if (state.q) params.set("q", state.q);
      if (state.asOf) params.set("as_of", state.asOf);
      if (config.crs) params.set("crs", config.crs);
      g.controller = new AbortController();
      pending += 1;
      mapEl.dataset.ready = "false";
      fetch(`${layerDefs[id].features}?${params}`, { credentials: "same-origin", signal: g.controller.signal })
        .then((r) => { if (!r.ok) throw new Error(r.status); return r.json(); })
        .then((collection) => { draw(id, collection); })
        .catch((err) => { if (err.name !== "AbortError") console.warn("OneMap: layer", id, err); })
        .finally(() => {
          pending -= 1;
          updateLegend(readForm());
          updateList(readForm());
          if (pending === 0) mapEl.dataset.ready = "true";
        });
    });
    updateLegend(state);
    asOfNote.hidden = !state.asOf;
    asOfNote.querySelector("span").textContent = state.asOf
      ? _("Showing the sites and statuses as they were at the end of {day} (history, read-only).", { day: state.asOf })
      : "";
  }

  // A past day: the map shows the sites and statuses as they were at its end (the API's as_of).
  const asOfNote = document.getElementById("as-of-note");
  asOfNote.querySelector("button").addEventListener("click", () => { form.elements.as_of.value = ""; load(); });

  let timer = null;
  function reloadSoon() {
    clearTimeout(timer);
    timer = setTimeout(load, 150);
  }

  window.OneMap = { map, config, layerDefs, el, hooks, reload: load, asOf: () => readForm().asOf,
                    shown: (layerId) => groups[layerId].features }; // the features drawn for the view

  const initial = readUrl();
  applyToForm(initial);
  fetch(config.counties + (config.crs ? `?crs=${config.crs}` : ""), { credentials: "same-origin" })
    .then((r) => r.json())
    .then((fc) => {
      const outline = L.geoJSON(fc, { pane: "counties", interactive: false,
                                      style: { color: "#5c6bc0", weight: 1.2, fill: false, dashArray: "4 3" } });
      outline.addTo(map);
      // Not animated: the first load asks for the view the map shows, not for the one it leaves (an
      // animated zoom reported its start, so every layer was fetched twice, the first time for all Jinzhou).
      if (initial.view) {
        const [z, lat, lng] = initial.view.split("/").map(Number);
        map.setView([lat, lng], z, { animate: false });
      } else {
        map.fitBounds(outline.getBounds(), { animate: false });
      }
      map.on("moveend", reloadSoon);
      load();
    });
  form.addEventListener("input", reloadSoon);
  form.addEventListener("submit", (e) => { e.preventDefault(); load(); });
  document.querySelectorAll("input[name=layer], .status-filter").forEach((box) => box.addEventListener("change", load));
})();
