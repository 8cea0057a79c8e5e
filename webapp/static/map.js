// First map: Jinzhou's county boundaries on an empty canvas (no basemap needed).
(function () {
  const el = document.getElementById("map");
  const map = L.map(el, { preferCanvas: true }).setView([41.3, 121.5], 8);
  fetch(el.dataset.counties, { credentials: "same-origin" })
    .then((r) => r.json())
    .then((fc) => {
      const layer = L.geoJSON(fc, {
        style: { color: "#5c6bc0", weight: 1.5, fillOpacity: 0.05 },
        onEachFeature: (f, l) => l.bindTooltip(document.createTextNode(f.properties.name).textContent),
      }).addTo(map);
      map.fitBounds(layer.getBounds());
      el.dataset.ready = "true";
    });
})();
