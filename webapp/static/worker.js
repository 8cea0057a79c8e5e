// The grid worker's pages: "my sites" (nearest first among equally urgent sites, the
// report queue with its receipts) and the report form (photos, GPS, submit through the
// queue). Registers the service worker that keeps these pages usable offline. Text
// from users is only ever set as text (DOM nodes), never parsed as HTML.
(function () {
  "use strict";
  const config = JSON.parse(document.getElementById("worker-config").textContent);
  const { _, ngettext } = window.OneMapI18n; // i18n.js: the page's catalogue
  const STATES = { queued: _("Waiting to send"), sent: _("Delivered"), failed: _("Not accepted") }; // a queued report
  const TROUBLE = { // why the queue is not sending
    offline: _("No network: sent automatically when back online"), login: _("Logged out: log in again and it is sent"),
    server: _("The server is busy: retried automatically"),
  };
  const FLAGS = { off_site: _("off site"), photo_far: _("photo taken far away"),
                  photo_old: _("photo taken long before") };
  const Queue = window.OneMapQueue;
  const Photos = window.OneMapPhotos;
  const SEND_EVERY_MS = 30000;
  const MAX_PHOTOS = 10;

  // ------------------------------------------------------------ helpers
  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    Object.entries(attrs || {}).forEach(([k, v]) => { if (v !== null && v !== undefined) node.setAttribute(k, v); });
    children.forEach((c) => { if (c !== null && c !== undefined && c !== false) node.append(c); });
    return node;
  }
  const when = (iso) => {
    if (!iso) return "";
    const date = new Date(iso);
    return Number.isNaN(date.getTime()) ? iso : date.toLocaleString(config.lang === "en" ? "en-GB" : "zh-CN", { timeZone: config.timeZone });
  };
  function metres(lat1, lon1, lat2, lon2) { // haversine, good enough to sort sites by distance
    const rad = Math.PI / 180;
    const a = Math.sin((lat2 - lat1) * rad / 2) ** 2 +
      Math.cos(lat1 * rad) * Math.cos(lat2 * rad) * Math.sin((lon2 - lon1) * rad / 2) ** 2;
    return 12742000 * Math.asin(Math.sqrt(a));
  }
  const distanceText = (m) => (m < 1000 ? `${Math.round(m)} m` : `${(m / 1000).toFixed(m < 10000 ? 1 : 0)} km`);

  // ------------------------------------------------------------ service worker (offline pages)
  function registerServiceWorker() {
    if (!("serviceWorker" in navigator)) return Promise.resolve(null);
    return navigator.serviceWorker.register(config.serviceWorker, { scope: "/", updateViaCache: "none" })
      .then(() => navigator.serviceWorker.ready)
      .catch((err) => { console.warn("service worker", err); return null; });
  }

  // Ask the service worker to keep these pages for offline use; resolves with how many it holds.
  function keepOffline(registration, urls) {
    if (!registration || !registration.active) return Promise.resolve(0);
    return new Promise((resolve) => {
      const reply = new MessageChannel();
      reply.port1.onmessage = (e) => resolve(e.data && e.data.cached);
      registration.active.postMessage({ type: "keep", urls }, [reply.port2]);
    });
  }

  // ------------------------------------------------------------ sending the queue
  const sendQueue = () => Queue.flush(config);
  function startSending() {
    sendQueue();
    window.addEventListener("online", sendQueue);
    setInterval(sendQueue, SEND_EVERY_MS);
    document.addEventListener("visibilitychange", () => { if (document.visibilityState === "visible") sendQueue(); });
  }

  // ------------------------------------------------------------ "my sites"
  function myPage(root) {
    const list = document.getElementById("my-sites");
    const queueBox = document.getElementById("queue");
    const queueList = document.getElementById("queue-list");
    const summary = document.getElementById("queue-summary");

    function sortByDistance(position) {
      const { latitude, longitude } = position.coords;
      const items = [...list.querySelectorAll("li.my-site")];
      items.forEach((li) => {
        li.distance = metres(latitude, longitude, +li.dataset.lat, +li.dataset.lon);
        li.dataset.distance = Math.round(li.distance);
        li.querySelector(".distance").textContent = distanceText(li.distance);
      });
      items.sort((a, b) => (+a.dataset.rank - +b.dataset.rank) || (+b.dataset.days - +a.dataset.days) ||
        (a.distance - b.distance));
      items.forEach((li) => list.append(li));
      list.dataset.sorted = "distance";
      document.getElementById("sort-note").hidden = false;
    }
    if (navigator.geolocation && list.querySelector("li.my-site")) {
      navigator.geolocation.getCurrentPosition(sortByDistance, () => {},
                                               { enableHighAccuracy: false, maximumAge: 120000, timeout: 20000 });
    }

    function entry(record) {
      const li = el("li", { class: `queue-item queue-${record.state}`, "data-uuid": record.uuid,
                            "data-state": record.state, "data-site": record.site_id });
      li.append(el("b", { class: "queue-state" }, STATES[record.state] || record.state), " ",
                el("span", { class: "queue-site" }, record.site_name || `#${record.site_id}`));
      li.append(el("span", { class: "queue-meta" }, when(record.report.observed_at), " · ",
                   ngettext("{n} photo", "{n} photos", record.photo_count)));
      if (record.state === "sent" && record.receipt) {
        li.append(el("span", { class: "receipt", "data-report-id": record.receipt.id },
                     _("Receipt: no. {id}, received {time}", { id: record.receipt.id, time: when(record.receipt.received_at) })));
        const flags = (record.receipt.flags || []).map((f) => FLAGS[f] || f);
        if (flags.length) li.append(el("span", { class: "flag" }, _("Flagged") + ": " + flags.join("、")));
      } else if (record.state === "failed") {
        li.append(el("span", { class: "queue-message" }, record.message || "",
                     record.field ? ` (${record.field})` : ""));
        const dismiss = el("button", { type: "button", class: "queue-dismiss" }, _("Remove this record"));
        dismiss.addEventListener("click", () => Queue.remove(record.uuid));
        li.append(dismiss);
      } else if (record.last_error) {
        li.append(el("span", { class: "queue-message" }, TROUBLE[record.last_error] || record.last_error));
      }
      return li;
    }

    async function renderQueue() {
      const records = (await Queue.all()).filter((r) => r.user === config.user).reverse(); // newest first
      const waiting = records.filter((r) => r.state === "queued");
      queueList.replaceChildren(...records.map(entry));
      queueBox.hidden = records.length === 0;
      queueBox.dataset.waiting = waiting.length;
      const trouble = Queue.connection !== "ok" ? " · " + (TROUBLE[Queue.connection] || Queue.connection) : "";
      summary.textContent = waiting.length
        ? ngettext("{n} report waiting to be sent", "{n} reports waiting to be sent", waiting.length) + trouble : "";
      const bySite = {};
      waiting.forEach((r) => { bySite[r.site_id] = (bySite[r.site_id] || 0) + 1; });
      list.querySelectorAll("li.my-site").forEach((li) => {
        const badge = li.querySelector(".site-queued");
        const n = bySite[li.dataset.site] || 0;
        badge.hidden = !n;
        badge.textContent = n ? _("Waiting to send") : "";
      });
    }
    Queue.onChange(renderQueue);
    Queue.prune().then(renderQueue);

    registerServiceWorker().then((registration) => keepOffline(registration, [config.myUrl, ...config.forms]))
      .then((cached) => {
        if (cached) {
          root.dataset.offlineReady = "true";
          document.getElementById("offline-ready").hidden = false;
        }
      });
    startSending();
  }

  // ------------------------------------------------------------ the report form
  function reportPage(root) {
    const form = document.getElementById("report-form");
    const siteId = +root.dataset.site;
    const photoInput = document.getElementById("photo-input");
    const photoList = document.getElementById("photo-list");
    const gpsStatus = document.getElementById("gps-status");
    const submitState = document.getElementById("submit-state");
    const button = document.getElementById("submit");
    const photos = []; // {file, ready: Promise<{meta, blob}>, url}
    let fix = null;
    let gpsDone = false;
    let failedUuid = null; // a report this page sent that the server refused: replaced when sent again

    // GPS: follow the fix while the form is open
    if (navigator.geolocation) {
      navigator.geolocation.watchPosition((position) => {
        const { latitude, longitude, accuracy } = position.coords;
        fix = { lat: Math.round(latitude * 1e7) / 1e7, lon: Math.round(longitude * 1e7) / 1e7,
                accuracy: Math.round(accuracy * 10) / 10 };
        gpsDone = true;
        gpsStatus.textContent = `${fix.lat.toFixed(6)}, ${fix.lon.toFixed(6)} · ` +
          _("accuracy ±{m} m", { m: Math.round(accuracy) });
        const away = metres(fix.lat, fix.lon, +root.dataset.lat, +root.dataset.lon);
        gpsStatus.dataset.accuracy = fix.accuracy;
        gpsStatus.dataset.distance = Math.round(away);
        root.dataset.gps = "fix";
      }, () => {
        gpsDone = true;
        if (!fix) {
          gpsStatus.textContent = _("No position: the report goes without one");
          root.dataset.gps = "none";
        }
      }, { enableHighAccuracy: true, maximumAge: 15000, timeout: 30000 });
    } else {
      gpsDone = true;
      gpsStatus.textContent = _("No position: the report goes without one");
    }
    function waitForFix(ms) {
      if (fix || gpsDone) return Promise.resolve();
      return new Promise((resolve) => {
        const started = Date.now();
        const tick = setInterval(() => {
          if (fix || gpsDone || Date.now() - started > ms) { clearInterval(tick); resolve(); }
        }, 200);
      });
    }

    // Photos: each one is read (EXIF) and downscaled as soon as it is picked
    function renderPhotos() {
      photoList.replaceChildren(...photos.map((p, index) => {
        const img = el("img", { alt: "", src: p.url || "" });
        const remove = el("button", { type: "button", class: "photo-remove" }, _("Remove"));
        remove.addEventListener("click", () => {
          photos.splice(index, 1);
          if (p.url) URL.revokeObjectURL(p.url);
          renderPhotos();
        });
        const li = el("li", { class: "photo", "data-ready": p.done ? "true" : "false" }, img,
                      p.meta && p.meta.lat !== null ? el("span", { class: "photo-gps" }, _("photo has a position")) : null, remove);
        return li;
      }));
      photoList.dataset.count = photos.length;
    }
    photoInput.addEventListener("change", () => {
      [...photoInput.files].forEach((file) => {
        if (photos.length >= MAX_PHOTOS) return;
        const entry = { file, done: false, meta: null, url: null };
        entry.ready = Photos.prepare(file, +root.dataset.photoSide || Photos.MAX_SIDE).then((prepared) => {
          Object.assign(entry, prepared, { done: true, url: URL.createObjectURL(prepared.blob) });
          renderPhotos();
          return prepared;
        });
        photos.push(entry);
      });
      photoInput.value = "";
      clearError("photos");
      renderPhotos();
    });

    // Errors shown next to the field they name ("checklist.swept_clean", "metrics.x", "photo_meta.0" …)
    function fieldBox(field) {
      const parts = (field || "report").split(".");
      if (parts[0] === "photo_meta") parts.splice(0, parts.length, "photos");
      for (let n = parts.length; n > 0; n--) {
        const box = form.querySelector(`[data-field="${CSS.escape(parts.slice(0, n).join("."))}"]`);
        if (box) return box.matches("label") ? box.closest("[data-field]:not(label)") || box : box;
      }
      return form.querySelector('[data-field="report"]');
    }
    function showError(field, message) {
      const box = fieldBox(field);
      const p = box.querySelector(".field-error");
      p.textContent = message;
      p.hidden = false;
      p.dataset.field = field || "";
      box.classList.add("has-error");
      return box;
    }
    function clearError(field) {
      const box = fieldBox(field);
      box.classList.remove("has-error");
      const p = box.querySelector(".field-error");
      p.hidden = true;
      p.textContent = "";
    }
    function clearErrors() {
      form.querySelectorAll(".has-error").forEach((b) => b.classList.remove("has-error"));
      form.querySelectorAll(".field-error").forEach((p) => { p.hidden = true; p.textContent = ""; });
    }
    form.addEventListener("change", (e) => {
      const box = e.target.closest("[data-field]:not(label)");
      if (box && e.target !== photoInput) clearError(box.dataset.field);
    });

    function check() {
      const problems = [];
      form.querySelectorAll(".check-item").forEach((set) => {
        if (!set.querySelector("input[type=radio]:checked")) problems.push([set.dataset.field, _("Choose pass, fail or not applicable.")]);
      });
      form.querySelectorAll(".metric input").forEach((input) => {
        const box = input.closest(".metric");
        const value = input.valueAsNumber;
        if (input.validity.badInput || (input.value !== "" && !(value >= +input.dataset.min && value <= +input.dataset.max))) {
          problems.push([box.dataset.field, _("Enter a number from {min} to {max}.", { min: input.dataset.min, max: input.dataset.max })]);
        }
      });
      if (!photos.length) problems.push(["photos", _("Add at least one photo.")]);
      if (photos.length > MAX_PHOTOS) problems.push(["photos", _("At most 10 photos.")]);
      return problems;
    }

    function readForm() {
      const checklist = {};
      const comments = {};
      form.querySelectorAll(".check-item").forEach((set) => {
        const item = set.dataset.item;
        const chosen = set.querySelector("input[type=radio]:checked");
        if (chosen) checklist[item] = chosen.value;
        const comment = set.querySelector(".comment input").value.trim();
        if (comment) comments[item] = comment;
      });
      if (Object.keys(comments).length) checklist.comments = comments;
      const metrics = {};
      form.querySelectorAll(".metric input").forEach((input) => {
        if (input.value !== "" && Number.isFinite(input.valueAsNumber)) metrics[input.closest(".metric").dataset.metric] = input.valueAsNumber;
      });
      return { checklist, metrics, note: form.elements.note.value.trim() };
    }

    const newUuid = () => (crypto.randomUUID ? crypto.randomUUID()
      : "10000000-1000-4000-8000-100000000000".replace(/[018]/g, (c) =>
        (c ^ (crypto.getRandomValues(new Uint8Array(1))[0] & (15 >> (c / 4)))).toString(16)));

    function showOutcome(record) {
      const outcome = document.getElementById("outcome");
      const outcomeText = document.getElementById("outcome-text");
      const receipt = document.getElementById("receipt");
      outcome.dataset.uuid = record.uuid;
      outcome.dataset.state = record.state;
      if (record.state === "failed") {
        failedUuid = record.uuid;
        form.hidden = false;
        outcome.hidden = true;
        const box = showError(record.field, _("The server did not accept this report: ") + record.message);
        box.scrollIntoView({ block: "center" });
        submitState.textContent = "";
        button.disabled = false;
        return;
      }
      form.hidden = true;
      outcome.hidden = false;
      if (record.state === "sent") {
        outcomeText.textContent = _("The server has received the report.");
        receipt.hidden = false;
        receipt.dataset.reportId = record.receipt.id;
        receipt.textContent = _("Receipt: no. {id}, received {time}", { id: record.receipt.id, time: when(record.receipt.received_at) });
        const flags = (record.receipt.flags || []).map((f) => FLAGS[f] || f);
        if (flags.length) receipt.append(el("br"), el("span", { class: "flag" }, _("Flagged") + ": " + flags.join("、")));
      } else {
        outcomeText.textContent = _("Saved on this phone; it is sent when the network is back.");
        receipt.hidden = true;
      }
      window.scrollTo(0, 0);
    }

    let current = null; // the uuid of the report this page queued and now waits on
    Queue.onChange(() => {
      if (!current) return;
      Queue.get(current).then((record) => {
        if (record && document.getElementById("outcome").dataset.state !== record.state) showOutcome(record);
      });
    });

    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      if (button.disabled) return;
      clearErrors();
      const problems = check();
      if (problems.length) {
        problems.forEach(([field, message]) => showError(field, message));
        fieldBox(problems[0][0]).scrollIntoView({ block: "center" });
        return;
      }
      button.disabled = true;
      try {
        submitState.textContent = _("Preparing photos…");
        const prepared = await Promise.all(photos.map((p) => p.ready));
        await waitForFix(8000);
        submitState.textContent = _("Saving and sending…");
        const report = Object.assign({ uuid: newUuid() }, readForm(), {
          gps: fix, observed_at: Photos.isoWithOffset(new Date()),
          photo_meta: prepared.map((p) => p.meta),
        });
        if (failedUuid) await Queue.remove(failedUuid);
        failedUuid = null;
        const record = await Queue.add(config.user, siteId, root.dataset.siteName, report,
                                       prepared.map((p) => p.blob));
        current = record.uuid;
        document.getElementById("outcome").dataset.state = "";
        await sendQueue();
        const after = await Queue.get(record.uuid);
        showOutcome(after || record);
      } catch (err) {
        console.error(err);
        showError("report", String(err && err.message ? err.message : err));
        button.disabled = false;
      } finally {
        submitState.textContent = "";
      }
    });

    registerServiceWorker();
    startSending();
  }

  const my = document.getElementById("worker-my");
  const report = document.getElementById("worker-report");
  if (my) myPage(my);
  if (report) reportPage(report);
})();
