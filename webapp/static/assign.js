// The assignment page's map: the listed sites, picked or dropped with a click. Each click
// toggles the site's checkbox in the table below, so the form posts exactly what is shown.
(function () {
  "use strict";
  const el = document.getElementById("assign-map");
  if (!el || typeof L === "undefined") return;
  const collection = JSON.parse(document.getElementById("assign-features").textContent);
  const boxes = {};
  document.querySelectorAll('.assign-table input[name="site"]').forEach((box) => { boxes[box.value] = box; });
  const shapes = {};

  function style(feature) {
    const picked = boxes[feature.id] && boxes[feature.id].checked;
    const mine = feature.properties.mine;
    return { color: picked ? "#e65100" : mine ? "#1565c0" : "#607d8b", weight: picked || mine ? 3 : 1.5,
             fillColor: picked ? "#ff9800" : mine ? "#1e88e5" : "#b0bec5", fillOpacity: picked ? 0.7 : 0.35 };
  }

  function restyle(id) {
    const shape = shapes[id];
    if (shape) shape.setStyle(style(shape.feature));
    el.dataset.picked = Object.values(boxes).filter((b) => b.checked).length;
  }

  const map = L.map(el, { attributionControl: false });
  const layer = L.geoJSON(collection, {
    style,
    pointToLayer: (f, latlng) => L.circleMarker(latlng, Object.assign({ radius: 8 }, style(f))),
    onEachFeature: (f, shape) => {
      shapes[f.id] = shape;
      shape.bindTooltip(() => document.createTextNode(f.properties.name)); // a text node: names are never HTML
      shape.on("click", () => {
        const box = boxes[f.id];
        if (!box) return;
        box.checked = !box.checked;
        box.dispatchEvent(new Event("change", { bubbles: true }));
      });
    },
  }).addTo(map);
  Object.entries(boxes).forEach(([id, box]) => box.addEventListener("change", () => restyle(id)));
  const all = document.getElementById("check-all");
  if (all) all.addEventListener("change", () => Object.keys(boxes).forEach(restyle));
  if (collection.features.length) map.fitBounds(layer.getBounds(), { maxZoom: 14, padding: [16, 16] });
  else map.setView([41.3, 121.6], 8);
  restyle(null);
  el.dataset.ready = "true";
})();
