// A site's small map: its own geometry only, no basemap needed.
(function () {
  "use strict";
  const el = document.getElementById("site-map");
  const feature = JSON.parse(el.dataset.feature);
  const map = L.map(el, { zoomControl: true, attributionControl: false });
  const shape = L.geoJSON(feature, {
    style: { color: el.dataset.color, weight: 3, fillOpacity: 0.4 },
    pointToLayer: (f, latlng) => L.circleMarker(latlng, { radius: 9, color: "#fff", weight: 2, fillOpacity: 0.9,
                                                           fillColor: el.dataset.color }),
  }).addTo(map);
  map.fitBounds(shape.getBounds(), { maxZoom: 14, padding: [20, 20] });
  el.dataset.ready = "true";
})();
