// OneMap report queue: every report goes into the phone's IndexedDB first (with its
// photo blobs, keyed by its uuid), then it is sent. A report leaves the "queued" state
// only on the server's answer: 200/201 → "sent" with the receipt (server id, time
// received), a 4xx other than 408/429 → "failed" with the server's message. Anything
// else (no network, 5xx, 408, 429, logged out) keeps it queued for the next try.
// Only one send runs at a time: a flag in the page, and a Web Lock across tabs.
(function (global) {
  "use strict";
  const DB_NAME = "onemap-worker";
  const STORE = "reports";
  const LOCK = "onemap-report-queue";
  const KEEP_SENT = 50; // receipts kept on the phone (the newest)
  const SEND_TIMEOUT_MS = 5 * 60 * 1000; // ten photos of ~300 KB on a slow 3G link take a while
  const listeners = new Set();
  const channel = "BroadcastChannel" in global ? new BroadcastChannel("onemap-report-queue") : null;
  let dbPromise = null;
  let running = null; // the send in progress in this page, if any
  let again = false; // asked to send while a send was running: run once more
  const Queue = { connection: "ok" }; // "ok" | "offline" | "login" | "server"

  // ------------------------------------------------------------ IndexedDB
  function openDb() {
    if (!dbPromise) {
      dbPromise = new Promise((resolve, reject) => {
        const request = indexedDB.open(DB_NAME, 1);
        request.onupgradeneeded = () => {
          if (!request.result.objectStoreNames.contains(STORE)) {
            request.result.createObjectStore(STORE, { keyPath: "uuid" });
          }
        };
        request.onsuccess = () => resolve(request.result);
        request.onerror = () => reject(request.error);
      });
    }
    return dbPromise;
  }

  function transact(mode, work) {
    return openDb().then((db) => new Promise((resolve, reject) => {
      const tx = db.transaction(STORE, mode);
      let result;
      try {
        work(tx.objectStore(STORE), (value) => { result = value; });
      } catch (err) {
        reject(err);
        tx.abort();
      }
      tx.oncomplete = () => resolve(result);
      tx.onerror = () => reject(tx.error);
      tx.onabort = () => reject(tx.error);
    }));
  }

  function notify(local) {
    listeners.forEach((fn) => { try { fn(); } catch (err) { console.error(err); } });
    if (channel && !local) channel.postMessage("changed");
  }
  if (channel) channel.onmessage = () => notify(true);

  Queue.onChange = (fn) => { listeners.add(fn); };

  Queue.get = (uuid) => transact("readonly", (store, done) => {
    store.get(uuid).onsuccess = (e) => done(e.target.result || null);
  });

  Queue.all = () => transact("readonly", (store, done) => {
    store.getAll().onsuccess = (e) => done(e.target.result);
  }).then((list) => list.sort((a, b) => (a.created_at < b.created_at ? -1 : a.created_at > b.created_at ? 1 : 0)));

  Queue.put = (record) => transact("readwrite", (store) => { store.put(record); }).then(() => {
    notify();
    return record;
  });

  Queue.remove = (uuid) => transact("readwrite", (store) => { store.delete(uuid); }).then(() => notify());

  // Read-modify-write in one transaction, so two tabs cannot overwrite each other's change.
  function update(uuid, changes) {
    return transact("readwrite", (store, done) => {
      store.get(uuid).onsuccess = (e) => {
        const record = e.target.result;
        if (!record) return;
        const next = Object.assign(record, typeof changes === "function" ? changes(record) : changes);
        store.put(next);
        done(next);
      };
    }).then((record) => { notify(); return record; });
  }

  // A new report, queued: the photos are Blobs, stored as they are.
  Queue.add = (user, siteId, siteName, report, photos) => Queue.put({
    uuid: report.uuid, user, site_id: siteId, site_name: siteName, report, photos,
    photo_count: photos.length, state: "queued", created_at: new Date().toISOString(),
    attempts: 0, last_error: null, receipt: null, message: null, field: null,
  });

  // Forget old receipts (the newest KEEP_SENT stay); queued and failed reports stay.
  Queue.prune = () => Queue.all().then((list) => {
    const sent = list.filter((r) => r.state === "sent").reverse();
    return Promise.all(sent.slice(KEEP_SENT).map((r) => Queue.remove(r.uuid)));
  });

  // ------------------------------------------------------------ sending
  function setConnection(state) {
    if (Queue.connection !== state) {
      Queue.connection = state;
      notify(true);
    }
  }

  // A fresh CSRF token and the logged-in user: a page opened from the offline cache may carry an old token.
  async function session(config) {
    let response;
    try {
      response = await fetch(config.tokenUrl, { credentials: "same-origin", cache: "no-store",
                                                 headers: { Accept: "application/json" } });
    } catch (err) {
      return { problem: "offline" };
    }
    const json = (response.headers.get("Content-Type") || "").includes("application/json");
    if (response.redirected || response.status === 401 || (response.ok && !json)) return { problem: "login" };
    if (!response.ok) return { problem: "server" };
    return response.json();
  }

  async function sendOne(config, record, auth) {
    const body = new FormData();
    body.append("report", JSON.stringify(record.report));
    record.photos.forEach((blob, i) => body.append("photos", blob, `photo-${i + 1}.jpg`));
    const tried = { attempts: (record.attempts || 0) + 1, tried_at: new Date().toISOString() };
    let response;
    const abort = new AbortController(); // a stalled connection must not hold the queue forever
    const timer = setTimeout(() => abort.abort(), SEND_TIMEOUT_MS);
    try {
      response = await fetch(`${config.siteApi}${record.site_id}/reports`, {
        method: "POST", body, credentials: "same-origin", signal: abort.signal,
        headers: { "X-CSRFToken": auth.csrf_token, Accept: "application/json" },
      });
    } catch (err) {
      await update(record.uuid, Object.assign(tried, { last_error: "offline" }));
      return "offline";
    } finally {
      clearTimeout(timer);
    }
    let data = null;
    try { data = await response.json(); } catch (err) { data = null; }
    const status = response.status;
    if (status === 200 || status === 201) {
      await update(record.uuid, Object.assign(tried, {
        state: "sent", photos: [], last_error: null, message: null, field: null,
        receipt: { id: data && data.id, received_at: data && data.received_at, flags: (data && data.flags) || [],
                   photos: data && data.photos ? data.photos.length : record.photo_count, status },
      }));
      return "ok";
    }
    if (status === 401) {
      await update(record.uuid, Object.assign(tried, { last_error: "login" }));
      return "login";
    }
    // A stale CSRF token is the page's problem, not the report's: keep it, try again with a new token.
    const csrf = status === 400 && data && /csrf/i.test(data.message || "");
    if (status >= 400 && status < 500 && status !== 408 && status !== 429 && !csrf) {
      await update(record.uuid, Object.assign(tried, {
        state: "failed", last_error: null, status,
        message: (data && (data.message || data.error)) || `HTTP ${status}`, field: (data && data.field) || null,
      }));
      return "ok";
    }
    await update(record.uuid, Object.assign(tried, { last_error: "server" }));
    return "server";
  }

  async function sendPass(config) {
    const waiting = (await Queue.all()).filter((r) => r.state === "queued" && r.user === config.user);
    if (!waiting.length) {
      setConnection("ok");
      return;
    }
    if (navigator.onLine === false) {
      setConnection("offline");
      return;
    }
    const auth = await session(config);
    if (auth.problem) {
      setConnection(auth.problem);
      return;
    }
    if (auth.user !== config.user) { // someone else is logged in now: their session must not send these
      setConnection("login");
      return;
    }
    for (const queued of waiting) {
      const record = await Queue.get(queued.uuid); // another tab may have sent it meanwhile
      if (!record || record.state !== "queued") continue;
      const outcome = await sendOne(config, record, auth);
      if (outcome !== "ok") {
        setConnection(outcome);
        again = false;
        return;
      }
    }
    setConnection("ok");
  }

  function lockedPass(config) {
    if (navigator.locks && navigator.locks.request) {
      return navigator.locks.request(LOCK, () => sendPass(config));
    }
    return sendPass(config);
  }

  // Send every queued report of this user; resolves when done (or when it has to stop).
  Queue.flush = (config) => {
    if (running) {
      again = true;
      return running;
    }
    running = (async () => {
      try {
        do {
          again = false;
          await lockedPass(config);
        } while (again);
      } catch (err) {
        console.error("report queue", err);
      } finally {
        running = null;
      }
    })();
    return running;
  };

  Queue.sending = () => running !== null;

  global.OneMapQueue = Queue;
})(window);
