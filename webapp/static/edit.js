// OneMap planning tools for managers and admins: draw a new site, reshape one, edit its attributes,
// split, merge or delete it, with Leaflet-Geoman (served by the app, snapping on). Every save names
// the version it started from; when someone else saved first the server answers 409 and we show
// what changed instead of overwriting it. Text from users or the server is only ever set as text.
(function () {
  "use strict";
  const O = window.OneMap; // map.js: the map, its layers, popup / click hooks, reload()
  const { map, el } = O;
  const cfg = JSON.parse(document.getElementById("onemap-edit").textContent);
  const { _, ngettext } = window.OneMapI18n; // i18n.js: the page's catalogue
  const lang = O.config.lang;
  const panel = document.getElementById("edit-panel");
  const newButton = document.getElementById("edit-new");
  const SHAPES = { Point: "CircleMarker", LineString: "Line", Polygon: "Polygon" }; // Geoman's names
  const EDITING = { color: "#d81b60", weight: 3, fillOpacity: 0.15 };
  const OTHER = { color: "#6a1b9a", weight: 3, fillOpacity: 0.15, dashArray: "6 4" };
  const defs = {}; // layer id → definition from GET /api/v1/layers (attribute schema, status mode)
  let task = null; // what is on the map for the current job: { layers, hidden, pick, off, snap }

  const labelOf = (label) => (label && (label[lang] || label.zh_CN)) || "";
  const DRAW = { Point: _("Place a point"), LineString: _("Draw a line"), Polygon: _("Draw an area") };
  const HINT = {
    Point: _("Click the map to place the site."),
    LineString: _("Click the points in order; click the last one again to finish."),
    Polygon: _("Click each corner in turn; click the first one again to close the area."),
  };
  const FIELDS = { name: _("Name"), status: _("Status"), county: _("County"), ref: _("Source key"),
                   deleted: _("Deleted"), geometry: _("Shape") }; // a 409's changed fields

  // The features are drawn in GCJ-02 on AMap tiles, but the API stores WGS84: drawing would be
  // ~500 m off, so editing waits for another basemap.
  if (O.config.crs) {
    panel.append(el("p", { class: "empty" },
      _("Sites cannot be edited on the AMap basemap (GCJ-02 coordinates); choose another basemap.")));
    newButton.disabled = true;
    return;
  }

  // Geoman (~300 KB) is fetched when the first job starts, so a manager's map opens as fast as a
  // planner's; the browser keeps it for a week after that.
  let geomanReady = null;
  function geoman() {
    geomanReady = geomanReady || new Promise((resolve, reject) => {
      document.head.append(el("link", { rel: "stylesheet", href: cfg.geoman.css }));
      const script = el("script", { src: cfg.geoman.js });
      script.onload = () => {
        if (!map.pm) map.pm = new L.PM.Map(map); // the map was made before Geoman's init hook existed
        map.pm.setLang(lang === "en" ? "en" : "zh");
        map.pm.setGlobalOptions({ snappable: true, snapDistance: 15 });
        map.pm.setPathOptions(EDITING);
        resolve();
      };
      script.onerror = () => { script.remove(); geomanReady = null; reject(new Error(_("Cannot reach the server"))); };
      document.head.append(script);
    });
    return geomanReady;
  }

  // ------------------------------------------------------------ talking to the API
  function api(method, url, body) {
    const headers = { "X-CSRFToken": cfg.csrf, Accept: "application/json" };
    if (body) headers["Content-Type"] = "application/json";
    return fetch(url, { method, headers, credentials: "same-origin", body: body ? JSON.stringify(body) : undefined })
      .then((r) => r.json().catch(() => ({})).then((data) => ({ ok: r.ok, status: r.status, data })));
  }
  const siteUrl = (id) => O.config.site + id;
  const loadSite = (id) => api("GET", siteUrl(id)).then((r) => {
    if (!r.ok) throw new Error(r.data.message || r.status);
    return r.data;
  });

  // ------------------------------------------------------------ one job at a time
  function stop() {
    if (map.pm) map.pm.disableDraw();
    clearProblem();
    if (task) {
      task.layers.forEach((l) => { if (l.pm) l.pm.disable(); l.remove(); });
      if (task.off) task.off();
      if (task.snap) task.snap();
      if (task.hidden) O.reload(); // redraws the site hidden while it was being edited
    }
    task = null;
    panel.replaceChildren();
  }

  function begin(title) {
    stop();
    task = { layers: [], hidden: false, pick: null, off: null, snap: null };
    const message = el("div", { class: "edit-message", role: "alert" });
    const body = el("div", { class: "edit-body" });
    panel.replaceChildren(el("h3", {}, title), body, message);
    panel.scrollIntoView({ block: "nearest" });
    return { body, message, task };
  }

  function button(label, onClick, cls) {
    const b = el("button", { type: "button", class: cls || "" }, label);
    b.addEventListener("click", onClick);
    return b;
  }

  // The site's full geometry (the map shows a simplified one) as a layer of its own, on top.
  function shapeOf(site, style) {
    const layer = L.geoJSON(site, {
      style, pointToLayer: (f, latlng) => L.circleMarker(latlng, { ...style, radius: 9, fillOpacity: 0.6 }),
    }).getLayers()[0];
    layer.addTo(map);
    task.layers.push(layer);
    return layer;
  }

  // Take the drawn copy off the map while its full geometry is edited (and not a target for snapping).
  function hide(feature) {
    if (feature.leaflet && feature.geometry.type !== "Point") {
      feature.leaflet.remove();
      task.hidden = true;
    }
  }

  // Geoman snaps to the shapes on the map, but map.js draws them simplified for the zoom (up to a pixel or
  // two off the stored vertices, ~25 m at zoom 11): snapped to those, a zone overlaps its neighbour, which
  // the server refuses, or leaves a sliver. So a job that draws snaps to the full geometries of the layer's
  // sites in view, fetched without a zoom and kept on the map unseen, and not to their drawn copies. A view
  // with more sites keeps the drawn ones: so many full geometries would be slow to fetch and to snap to.
  const SNAP_MAX = 500;
  const SNAP_TARGET = { style: { stroke: false, fill: false }, interactive: false,
                        pmIgnore: true, snapIgnore: false }; // not edited, yet snapped to
  function snapToFullShapes(job, layerId, except) {
    if (O.shown(layerId).length > SNAP_MAX) return null;
    const b = map.getBounds().pad(0.1);
    const bbox = [b.getWest(), b.getSouth(), b.getEast(), b.getNorth()].map((v) => v.toFixed(5)).join(",");
    return api("GET", `${O.layerDefs[layerId].features}?bbox=${bbox}`).then((r) => {
      if (task !== job.task || !r.ok) return;
      const features = r.data.features.filter((f) => f.id !== except && f.geometry.type !== "Point");
      job.task.layers.push(L.geoJSON({ type: "FeatureCollection", features }, SNAP_TARGET).addTo(map));
      // The drawn copies (and the site being edited, should a reload draw it again) are no targets, also
      // those a reload draws during the job: marked as they are added, before Geoman lists its targets.
      const ids = new Set([except, ...features.map((f) => f.id)]);
      const drawn = (l) => l.feature && l.feature.leaflet === l && ids.has(l.feature.id);
      const ignore = (l) => { if (drawn(l)) l.options.snapIgnore = true; };
      const added = (e) => ignore(e.layer);
      map.eachLayer(ignore);
      map.on("layeradd", added);
      job.task.snap = () => {
        map.off("layeradd", added);
        map.eachLayer((l) => { if (drawn(l)) delete l.options.snapIgnore; });
      };
    }).catch(() => {}); // offline: the drawn shapes still snap
  }

  // ------------------------------------------------------------ what the server said
  let problem = null; // a marker where the geometry has a problem
  function clearProblem() {
    if (problem) problem.remove();
    problem = null;
  }

  function valueText(field, value, layerId) {
    if (value === null || value === undefined || value === "") return _("(empty)");
    if (value === true) return _("yes");
    if (value === false) return _("no");
    if (Array.isArray(value)) return value.join("、");
    if (field === "status") {
      const s = O.layerDefs[layerId] && O.layerDefs[layerId].byCode[value];
      if (s) return s.label;
    }
    return String(value);
  }

  function fieldLabel(field, layerId) {
    if (field.startsWith("attributes.")) {
      const attr = defs[layerId].attributes.find((a) => a.name === field.slice(11));
      return attr ? labelOf(attr.label) : field.slice(11);
    }
    return FIELDS[field] || field;
  }

  // A 409: the message, what changed since our version, and a way to start again from the latest.
  function showConflict(message, data, layerId, retry) {
    const changes = (data.changes || []).map((c) => el("li", {}, `${fieldLabel(c.field, layerId)}: `,
      c.field === "geometry" ? _("shape changed")
        : `${valueText(c.field, c.before, layerId)} → ${valueText(c.field, c.after, layerId)}`));
    message.replaceChildren(el("div", { class: "edit-conflict" },
      el("b", {}, _("Someone else changed this site")), el("p", {}, data.message || ""),
      changes.length ? el("p", {}, _("Changes (before → after)")) : null, changes.length ? el("ul", {}, ...changes) : null,
      button(_("Load the latest version"), retry, "edit-reload")));
  }

  // A 422 (or another refusal): the message under the save button and beside the field it names, and a
  // marker where the geometry is wrong.
  function showError(message, data, slots) {
    Object.values(slots || {}).forEach((s) => { s.textContent = ""; });
    clearProblem();
    if (data.field === "attributes" && Array.isArray(data.details)) {
      // each problem is {field: "attributes.<name>", message}, in the page's language
      data.details.filter((d) => d && typeof d.field === "string").forEach((d) => {
        const slot = slots && slots[d.field];
        if (slot) slot.textContent = d.message;
      });
    } else if (slots && slots[data.field]) {
      slots[data.field].textContent = data.message;
    }
    const at = Array.isArray(data.details) && data.details[0];
    if (at && typeof at.lat === "number" && typeof at.lon === "number") {
      problem = L.circleMarker([at.lat, at.lon], { radius: 12, color: "#b71c1c", weight: 3, fillOpacity: 0.15,
                                                  className: "edit-problem" })
        .bindTooltip(document.createTextNode(data.message), { permanent: true, direction: "top" }).addTo(map);
      if (!map.getBounds().contains(problem.getLatLng())) map.panTo(problem.getLatLng());
    }
    message.replaceChildren(el("p", { class: "form-error" }, _("Not saved: "), data.message || String(data.error || "")));
  }

  // Sends one change; on success reloads the map and says what was saved, with a link to the site.
  function save(job, saveButton, request, retry, done, slots, layerId) {
    saveButton.disabled = true;
    job.message.replaceChildren(el("p", { class: "edit-saving" }, _("Saving…")));
    request().then((r) => {
      saveButton.disabled = false;
      if (task !== job.task) { // another job began meanwhile: leave it be
        if (r.ok) O.reload();
        return;
      }
      if (r.ok) {
        const [line, id] = done(r.data);
        task.hidden = false; // reloaded just below
        stop();
        panel.replaceChildren(el("p", { class: "edit-done", role: "status", "data-site": id }, line, " ",
          id ? el("a", { href: O.config.sitePage + id, class: "edit-site-link" }, _("Open site page")) : null));
        O.reload();
      } else if (r.status === 409 && r.data.error === "stale_version") {
        showConflict(job.message, r.data, layerId, retry);
      } else {
        showError(job.message, r.data, slots);
      }
    }).catch(() => {
      saveButton.disabled = false;
      job.message.replaceChildren(el("p", { class: "form-error" }, _("Not saved: "), _("Cannot reach the server")));
    });
  }

  const savedLine = (f) => [_("Saved: {name} (version {version})", { name: f.properties.name,
                                                                        version: f.properties.version }), f.id];

  // ------------------------------------------------------------ the site form, from the layer's schema
  function attributeInput(attr, value) {
    if (attr.values || attr.type === "boolean") {
      const options = attr.values ? attr.values.map((v) => [String(v), String(v)])
        : [["true", _("yes")], ["false", _("no")]];
      const select = el("select", {}, el("option", { value: "" }, attr.required ? _("Choose") : _("not set")),
        ...options.map(([v, label]) => el("option", { value: v }, label)));
      select.value = value === null || value === undefined ? "" : String(value);
      return select;
    }
    const input = el("input", { type: { integer: "number", number: "number", date: "date" }[attr.type] || "text" });
    if (attr.type === "integer" || attr.type === "number") {
      input.step = attr.type === "integer" ? "1" : "any";
      if (attr.min !== undefined) input.min = attr.min;
      if (attr.max !== undefined) input.max = attr.max;
    }
    if (attr.type === "list") input.placeholder = _("separate values with ;");
    input.value = value === null || value === undefined ? "" : (Array.isArray(value) ? value.join("; ") : String(value));
    return input;
  }

  function readAttribute(attr, input) {
    const raw = input.value.trim();
    if (raw === "") return null;
    if (attr.type === "boolean") return raw === "true";
    if ((attr.type === "integer" || attr.type === "number") && !Number.isNaN(Number(raw))) return Number(raw);
    return raw; // a list as "a; b" (the server splits it), a date as YYYY-MM-DD, a bad number for the server to name
  }

  // The fields of a site: name, a stage layer's status, its attributes. Returns the fieldset, a
  // reader of the values and the error slot of each field (keyed as the server's `field`).
  function siteFields(def, props) {
    const slots = { geometry: el("p", { class: "field-error" }) };
    const rows = [slots.geometry];
    const row = (key, label, input, required, unit) => {
      slots[key] = el("p", { class: "field-error" });
      input.name = key;
      rows.push(el("label", { class: "edit-field", "data-field": key },
        el("span", {}, label, required ? el("b", { class: "required", title: _("required") }, " *") : null),
        unit ? el("span", { class: "with-unit" }, input, el("span", {}, unit)) : input, slots[key]));
    };
    const name = el("input", { type: "text", maxlength: "300", required: "" });
    name.value = props.name || "";
    row("name", _("Name"), name, true);
    let status = null;
    if (def.status_mode !== "cadence") {
      status = el("select", {}, el("option", { value: "" }, props.status ? _("Choose") : _("(initial status)")),
        ...def.statuses.map((s) => el("option", { value: s.code }, labelOf(s.label))));
      status.value = props.status || "";
      row("status", _("Status"), status, false);
    }
    const inputs = def.attributes.map((attr) => {
      const input = attributeInput(attr, props[attr.name]);
      row("attributes." + attr.name, labelOf(attr.label), input, attr.required, attr.unit);
      return [attr, input];
    });
    const comment = el("textarea", { rows: "2", maxlength: "2000" });
    row("comment", _("Comment on the change (optional)"), comment, false);
    const read = () => {
      const attributes = {};
      inputs.forEach(([attr, input]) => { attributes[attr.name] = readAttribute(attr, input); });
      const out = { name: name.value, attributes, comment: comment.value };
      if (status && status.value) out.status = status.value;
      return out;
    };
    return { fields: el("div", { class: "edit-fields" }, ...rows), read, slots };
  }

  const commentBox = () => {
    const box = el("textarea", { rows: "2", maxlength: "2000", name: "comment" });
    return [box, el("label", { class: "edit-field" }, el("span", {}, _("Comment on the change (optional)")), box)];
  };

  // ------------------------------------------------------------ new site: layer, shape, then the form
  function newSite() {
    if (O.asOf()) document.querySelector("#as-of-note button").click(); // new sites are drawn on today's map
    const job = begin(_("New site"));
    const layerSelect = el("select", { name: "layer" },
      ...O.config.layers.filter((l) => defs[l.id]).map((l) => el("option", { value: l.id }, l.name)));
    const shapes = el("div", { class: "buttons" });
    const showShapes = () => {
      shapes.replaceChildren(...defs[layerSelect.value].geometry_type.map((kind) =>
        button(DRAW[kind], () => drawNew(layerSelect.value, kind), "edit-draw")));
    };
    layerSelect.addEventListener("change", showShapes);
    showShapes();
    job.body.append(el("label", { class: "edit-field" }, el("span", {}, _("Layer")), layerSelect), shapes,
      el("div", { class: "buttons" }, button(_("Cancel"), stop)));
  }

  function drawNew(layerId, kind) {
    const def = defs[layerId];
    const job = begin(_("New site") + " · " + O.layerDefs[layerId].name);
    Promise.all([geoman(), snapToFullShapes(job, layerId)])
      .then(() => { if (task === job.task) startDrawing(job, def, layerId, kind); })
      .catch((err) => job.message.replaceChildren(el("p", { class: "form-error" }, err.message)));
  }

  function startDrawing(job, def, layerId, kind) {
    job.body.append(el("p", { class: "edit-hint" }, HINT[kind]),
      el("div", { class: "buttons" }, button(_("Cancel"), stop)));
    const created = (e) => {
      map.off("pm:create", created);
      map.pm.disableDraw(); // Geoman would go on placing points
      const shape = e.layer;
      job.task.layers.push(shape);
      if (shape.pm) shape.pm.enable({ snappable: true, allowSelfIntersection: false }); // still adjustable
      const { fields, read, slots } = siteFields(def, {});
      const saveButton = button(_("Save"), () => save(job, saveButton,
        () => api("POST", `${cfg.layers}/${layerId}/sites`, { ...dropEmpty(read()), geometry: shape.toGeoJSON().geometry }),
        () => {}, savedLine, slots, layerId), "edit-save");
      job.body.replaceChildren(el("p", { class: "edit-hint" }, _("You can still drag it into place before saving.")),
        fields,
        el("div", { class: "buttons" }, saveButton, button(_("Cancel"), stop)));
      fields.querySelector("input").focus();
    };
    map.on("pm:create", created);
    job.task.off = () => map.off("pm:create", created);
    map.pm.enableDraw(SHAPES[kind], { snappable: true, allowSelfIntersection: false, continueDrawing: false });
  }

  // A new site sends only the attributes filled in; an edit sends null too (it clears that attribute).
  function dropEmpty(values) {
    const attributes = Object.fromEntries(Object.entries(values.attributes).filter(([, v]) => v !== null));
    return { ...values, attributes };
  }

  // ------------------------------------------------------------ jobs on an existing site
  function withSite(title, layerId, feature, start, snaps) {
    const job = begin(`${title} · ${feature.properties.name}`);
    const snapped = snaps && snapToFullShapes(job, layerId, feature.id);
    Promise.all([loadSite(feature.id), geoman(), snapped]).then(([site]) => {
      if (task !== job.task) return; // another job started meanwhile
      start(job, site, () => withSite(title, layerId, feature, start, snaps));
    }).catch((err) => {
      job.message.replaceChildren(el("p", { class: "form-error" }, String(err.message || err)));
      job.body.append(button(_("Cancel"), stop));
    });
  }

  function reshape(layerId, feature) {
    withSite(_("Edit shape"), layerId, feature, (job, site, retry) => {
      hide(feature);
      const shape = shapeOf(site, EDITING);
      shape.pm.enable({ snappable: true, allowSelfIntersection: false, draggable: site.geometry.type === "Point" });
      const [comment, commentRow] = commentBox();
      const saveButton = button(_("Save"), () => save(job, saveButton,
        () => api("PATCH", siteUrl(site.id), { base_version: site.properties.version,
                                              geometry: shape.toGeoJSON().geometry, comment: comment.value }),
        retry, savedLine, {}, layerId), "edit-save");
      const hint = _("Drag the vertices; drag a small middle mark to add one; right-click a vertex to remove it.");
      job.body.append(el("p", { class: "edit-hint" }, hint), commentRow,
        el("div", { class: "buttons" }, saveButton, button(_("Cancel"), stop)));
    }, true);
  }

  function editAttributes(layerId, feature) {
    withSite(_("Edit attributes"), layerId, feature, (job, site, retry) => {
      shapeOf(site, EDITING);
      const { fields, read, slots } = siteFields(defs[layerId], site.properties);
      const saveButton = button(_("Save"), () => save(job, saveButton,
        () => api("PATCH", siteUrl(site.id), { base_version: site.properties.version, ...read() }),
        retry, savedLine, slots, layerId), "edit-save");
      job.body.append(fields, el("div", { class: "buttons" }, saveButton, button(_("Cancel"), stop)));
    });
  }

  function split(layerId, feature) {
    withSite(_("Split"), layerId, feature, (job, site, retry) => {
      shapeOf(site, EDITING);
      const [comment, commentRow] = commentBox();
      let line = null;
      const saveButton = button(_("Split"), () => save(job, saveButton,
        () => api("POST", siteUrl(site.id) + "/split", { base_version: site.properties.version,
                                                          line: line.toGeoJSON().geometry, comment: comment.value }),
        retry, (answer) => [ngettext("Split into {n} site.", "Split into {n} sites.", answer.sites.length), site.id],
        {}, layerId),
      "edit-save");
      saveButton.disabled = true;
      const drawn = (e) => {
        map.off("pm:create", drawn);
        line = e.layer;
        job.task.layers.push(line);
        line.pm.enable({ snappable: true });
        saveButton.disabled = false;
      };
      map.on("pm:create", drawn);
      job.task.off = () => map.off("pm:create", drawn);
      map.pm.enableDraw("Line", { snappable: true });
      const hint = _("Draw a line across the area: click the points, then the last one again to finish.");
      job.body.append(el("p", { class: "edit-hint" }, hint), commentRow,
        el("div", { class: "buttons" }, saveButton, button(_("Cancel"), stop)));
    }, true);
  }

  function merge(layerId, feature) {
    withSite(_("Merge"), layerId, feature, (job, site, retry) => {
      shapeOf(site, EDITING);
      const [comment, commentRow] = commentBox();
      const chosen = el("p", { class: "edit-chosen" });
      let other = null; // the second site, and its shape on the map
      let otherShape = null;
      const saveButton = button(_("Merge"), () => save(job, saveButton,
        () => api("POST", `${cfg.layers}/${layerId}/merge`, {
          sites: [{ id: site.id, base_version: site.properties.version },
                  { id: other.id, base_version: other.properties.version }], comment: comment.value }),
        retry, savedLine, {}, layerId), "edit-save");
      saveButton.disabled = true;
      job.task.pick = (pickedLayer, picked) => {
        map.closePopup();
        if (pickedLayer !== layerId) { chosen.textContent = _("Choose a site of the same layer."); return; }
        if (picked.id === site.id) return;
        loadSite(picked.id).then((found) => {
          if (task !== job.task) return;
          if (otherShape) otherShape.remove();
          other = found;
          otherShape = shapeOf(found, OTHER);
          chosen.textContent = _("Merged into it: ") + found.properties.name;
          saveButton.disabled = false;
        });
      };
      job.body.append(el("p", { class: "edit-hint" }, _("Click another site of the same layer that touches it.")), chosen,
        commentRow,
        el("div", { class: "buttons" }, saveButton, button(_("Cancel"), stop)));
    });
  }

  function remove(layerId, feature) {
    withSite(_("Delete"), layerId, feature, (job, site, retry) => {
      shapeOf(site, { ...EDITING, color: "#b71c1c" });
      const [comment, commentRow] = commentBox();
      const base = site.properties.version;
      const saveButton = button(_("Delete"), () => save(job, saveButton,
        () => api("DELETE", `${siteUrl(site.id)}?base_version=${base}`, { base_version: base, comment: comment.value }),
        retry, () => [_("Deleted: {name}", { name: site.properties.name }), null], {}, layerId), "edit-delete");
      const question = _("Delete “{name}”? Its reports and version history are kept; its page can restore it.",
                         { name: site.properties.name });
      job.body.append(el("p", {}, question), commentRow,
        el("div", { class: "buttons" }, saveButton, button(_("Cancel"), stop)));
    });
  }

  // ------------------------------------------------------------ wiring into the map
  O.hooks.popup.push((box, layerId, feature) => {
    if (!defs[layerId] || O.asOf()) return; // a past day's map is history: nothing to edit there
    const area = feature.geometry.type.includes("Polygon");
    const act = (label, job) => button(label, () => { map.closePopup(); job(layerId, feature); }, "edit-action");
    box.append(el("div", { class: "popup-edit" }, act(_("Edit shape"), reshape), act(_("Edit attributes"), editAttributes),
      area ? act(_("Split"), split) : null, area ? act(_("Merge"), merge) : null, act(_("Delete"), remove)));
  });
  O.hooks.click.push((layerId, feature) => { if (task && task.pick) task.pick(layerId, feature); });
  newButton.addEventListener("click", newSite);
  document.addEventListener("keydown", (e) => { if (e.key === "Escape" && map.pm && map.pm.globalDrawModeEnabled()) stop(); });

  api("GET", cfg.layers).then((r) => {
    (r.data.layers || []).forEach((l) => { defs[l.id] = l; });
    newButton.disabled = false;
  });
})();
