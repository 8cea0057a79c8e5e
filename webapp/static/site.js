// A site's page: its small map (its own geometry only, no basemap needed) and its version history.
// A version's shape is shown beside the current one; managers may restore a version, which the
// server records as a new version. Text from users is only ever set as text, never as HTML.
(function () {
  "use strict";
  const mapEl = document.getElementById("site-map");
  const feature = JSON.parse(mapEl.dataset.feature);
  const map = L.map(mapEl, { zoomControl: true, attributionControl: false });
  const shape = L.geoJSON(feature, {
    style: { color: mapEl.dataset.color, weight: 3, fillOpacity: 0.4 },
    pointToLayer: (f, latlng) => L.circleMarker(latlng, { radius: 9, color: "#fff", weight: 2, fillOpacity: 0.9,
                                                           fillColor: mapEl.dataset.color }),
  }).addTo(map);
  map.fitBounds(shape.getBounds(), { maxZoom: 14, padding: [20, 20] });
  mapEl.dataset.ready = "true";

  // ------------------------------------------------------------ version history
  const config = JSON.parse(document.getElementById("site-config").textContent);
  const { _, ngettext } = window.OneMapI18n; // i18n.js: the page's catalogue
  const list = document.getElementById("version-list");
  const note = document.getElementById("version-note");
  const ACTIONS = { // what made a version
    create: _("drawn on the map"), edit: _("edited"), import: _("imported from a file"),
    load: _("loaded with the dataset"), initial: _("first recorded"), status: _("status set on review"),
    delete: _("deleted"), restore: _("restored"), split: _("split"), merge: _("merged"),
  };
  const FIELDS = { name: _("Name"), status: _("Status"), county: _("County"), ref: _("Source key"),
                   deleted: _("Deleted"), geometry: _("Shape") }; // a 409's changed fields
  const fieldLabel = (field) => FIELDS[field] ||
    (field.startsWith("attributes.") && config.attributes[field.slice(11)]) || field;
  const locale = config.lang === "en" ? "en-GB" : "zh-CN";
  let shown = null; // the layer of the version shown on the map

  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    Object.entries(attrs || {}).forEach(([k, v]) => { if (v !== null && v !== undefined) node.setAttribute(k, v); });
    children.forEach((c) => { if (c !== null && c !== undefined) node.append(c); }); // strings become text nodes
    return node;
  }

  function post(url, body) {
    return fetch(url, { method: "POST", credentials: "same-origin", body: JSON.stringify(body),
                        headers: { "Content-Type": "application/json", "X-CSRFToken": config.csrf } })
      .then((r) => r.json().catch(() => ({})).then((data) => ({ ok: r.ok, status: r.status, data })));
  }

  // What a version did, in words: the action and, where it says, the version or sites it came from.
  function describe(v) {
    const d = v.detail || {};
    const action = ACTIONS[v.action] || v.action;
    const more = d.restored ? _("from version {n}", { n: d.restored })
      : d.split_from ? _("split from site {id}", { id: d.split_from })
        : d.merged ? ngettext("took in site {ids}", "took in sites {ids}", d.merged.length, { ids: d.merged.join(", ") })
          : d.merged_into ? _("merged into site {id}", { id: d.merged_into })
            : d.report ? _("on report {id}", { id: d.report }) : null;
    if (!more) return action;
    return config.lang === "en" ? `${action} (${more})` : `${action}（${more}）`;
  }

  function valueText(value) {
    if (value === null || value === undefined || value === "") return _("(empty)");
    if (value === true) return _("yes");
    if (value === false) return _("no");
    return Array.isArray(value) ? value.join("、") : String(value);
  }

  function show(v, item) {
    fetch(`${config.versions}/${v.version}`, { credentials: "same-origin" })
      .then((r) => { if (!r.ok) throw new Error(r.status); return r.json(); })
      .then((old) => {
        if (shown) shown.remove();
        const style = { color: "#6a1b9a", weight: 3, dashArray: "6 4", fillOpacity: 0.1 };
        shown = L.geoJSON(old, { style, pointToLayer: (f, latlng) => L.circleMarker(latlng, { ...style, radius: 11 }) })
          .addTo(map);
        map.fitBounds(shape.getBounds().extend(shown.getBounds()), { maxZoom: 16, padding: [20, 20] });
        list.querySelectorAll("li.shown").forEach((li) => li.classList.remove("shown"));
        item.classList.add("shown");
        note.textContent = _("Dashed: the shape of version {n}; solid: the current one", { n: v.version });
        note.hidden = false;
        mapEl.dataset.shownVersion = String(v.version);
      })
      .catch(() => { note.textContent = _("Cannot reach the server"); note.hidden = false; });
  }

  // Restore: a comment, then the server makes the old version current as a new one (or says why not).
  function restoreForm(v, current, item) {
    const comment = el("textarea", { rows: "1", maxlength: "2000", "aria-label": _("Comment on the restore (optional)"),
                                     placeholder: _("Comment on the restore (optional)") });
    const confirm = el("button", { type: "button", class: "restore restore-confirm" }, _("Restore as a new version"));
    const message = el("div", { class: "version-message", role: "alert" });
    confirm.addEventListener("click", () => {
      confirm.disabled = true;
      post(`${config.versions}/${v.version}/restore`, { base_version: current, comment: comment.value })
        .then((r) => {
          confirm.disabled = false;
          if (r.ok) { location.reload(); return; }
          const changes = (r.data.changes || []).map((c) => el("li", {}, `${fieldLabel(c.field)}: `,
            c.field === "geometry" ? _("shape changed") : `${valueText(c.before)} → ${valueText(c.after)}`));
          const reload = el("button", { type: "button", class: "restore" }, _("Load the latest version"));
          reload.addEventListener("click", () => location.reload());
          message.replaceChildren(r.status === 409
            ? el("div", { class: "edit-conflict" }, el("b", {}, _("Someone else changed this site")), el("p", {}, r.data.message || ""),
              changes.length ? el("p", {}, _("Changes (before → after)")) : null, changes.length ? el("ul", {}, ...changes) : null, reload)
            : el("p", { class: "form-error" }, _("Not saved: "), r.data.message || String(r.status)));
        })
        .catch(() => { confirm.disabled = false; message.replaceChildren(el("p", { class: "form-error" }, _("Cannot reach the server"))); });
    });
    item.append(el("div", { class: "version-restore" }, comment, confirm), message);
    comment.focus();
  }

  function render(history) {
    const current = history.current_version;
    list.replaceChildren(...history.versions.slice().reverse().map((v) => {
      const showButton = el("button", { type: "button", class: "version-show", title: _("Show this version on the map") },
        _("Version {n}", { n: v.version }));
      const item = el("li", { "data-version": v.version },
        el("div", { class: "version-head" }, showButton,
          el("span", { class: "version-action" }, describe(v)),
          el("span", { class: "version-actor" }, v.actor || _("system")),
          el("time", { datetime: v.at }, new Date(v.at).toLocaleString(locale, { dateStyle: "medium", timeStyle: "short", timeZone: config.timeZone })),
          v.version === current ? el("span", { class: "badge ok" }, _("current")) : null),
        v.comment ? el("p", { class: "version-comment" }, v.comment) : null);
      showButton.addEventListener("click", () => show(v, item));
      if (config.canRestore && v.version !== current && !v.deleted) {
        const restore = el("button", { type: "button", class: "restore" }, _("Restore this version"));
        restore.addEventListener("click", () => { restore.remove(); restoreForm(v, current, item); });
        item.querySelector(".version-head").append(restore);
      }
      return item;
    }));
    list.setAttribute("aria-busy", "false");
  }

  fetch(config.versions, { credentials: "same-origin" })
    .then((r) => { if (!r.ok) throw new Error(r.status); return r.json(); })
    .then(render)
    .catch(() => { note.textContent = _("Cannot reach the server"); note.hidden = false; list.setAttribute("aria-busy", "false"); });
})();
