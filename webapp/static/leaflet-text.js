// Leaflet's own control texts in the page's language, and a metric-only scale (China uses metres).
// Runs right after leaflet.js, before any map is made; the texts come on this script's tag.
(function () {
  "use strict";
  const text = document.currentScript.dataset;
  L.Control.Zoom.mergeOptions({ zoomInTitle: text.zoomIn, zoomOutTitle: text.zoomOut });
  L.Control.Scale.mergeOptions({ imperial: false });
  L.Control.Attribution.mergeOptions({ prefix: '<a href="https://leafletjs.com">Leaflet</a>' });
})();
