// OneMap service worker (served as /sw.js, scope "/"): keeps the grid worker's pages
// usable with no network. "My sites" and the report forms are fetched from the network
// first (fresh statuses, a fresh CSRF token) and kept; with no network, or a network
// too slow to answer within a few seconds, the kept copy is shown. Static files and
// /vendor assets these pages use are served from the cache and refreshed behind. Nothing
// else is touched: the map, the API and every POST go straight to the network.
"use strict";
const CACHE = "onemap-worker-v2"; // v2: interface text from i18n.js and the page's catalogue; the menu (menu.js)
const PAGES = /^\/my(\/sites\/\d+\/report)?$/;
const ASSETS = /^\/(static|vendor)\//;
const SLOW_NETWORK_MS = 4000;
const PRECACHE = ["/static/onemap.css", "/static/i18n.js", "/static/menu.js", "/static/worker.js",
                  "/static/report-queue.js", "/static/photos.js", "/static/favicon.svg"];

// A page is kept under its path alone (?lang=… is remembered by the session anyway).
const pageKey = (url) => new URL(url, self.location.origin).pathname;

function keepable(response) {
  return response && response.ok && !response.redirected && response.type === "basic";
}

async function keep(cache, url, key) {
  try {
    const response = await fetch(url, { credentials: "same-origin" });
    if (keepable(response)) {
      await cache.put(key || url, response);
      return true;
    }
  } catch (err) {
    // offline: kept next time
  }
  return false;
}

self.addEventListener("install", (event) => {
  event.waitUntil(caches.open(CACHE).then((cache) => Promise.all(PRECACHE.map((url) => keep(cache, url))))
    .then(() => self.skipWaiting()));
});

self.addEventListener("activate", (event) => {
  event.waitUntil(caches.keys()
    .then((names) => Promise.all(names.filter((n) => n.startsWith("onemap-worker-") && n !== CACHE)
      .map((n) => caches.delete(n))))
    .then(() => self.clients.claim()));
});

// The response, and (waited on by the event, so the worker stays alive) its copy kept in the cache.
function fetchAndKeep(event, cache, key) {
  const network = fetch(event.request);
  event.waitUntil(network.then((response) => (keepable(response) ? cache.put(key, response.clone()) : null))
    .catch(() => null));
  return network;
}

async function networkFirst(event) {
  const key = pageKey(event.request.url);
  const cache = await caches.open(CACHE);
  const network = fetchAndKeep(event, cache, key);
  const cached = await cache.match(key);
  if (!cached) {
    try {
      return await network;
    } catch (err) {
      return offlinePage();
    }
  }
  // A weak network must not keep the worker waiting when a copy is at hand.
  let timer;
  const slow = new Promise((resolve) => { timer = setTimeout(() => resolve(cached), SLOW_NETWORK_MS); });
  try {
    return await Promise.race([network, slow]);
  } catch (err) {
    return cached;
  } finally {
    clearTimeout(timer);
  }
}

async function staleWhileRevalidate(event) {
  const cache = await caches.open(CACHE);
  const network = fetchAndKeep(event, cache, event.request);
  const cached = await cache.match(event.request);
  if (cached) return cached;
  try {
    return await network;
  } catch (err) {
    return new Response("", { status: 504, statusText: "offline" });
  }
}

function offlinePage() {
  const body = "<!doctype html><meta charset=utf-8><meta name=viewport content='width=device-width'>" +
    "<title>离线 · Offline</title><p style='font:1.1rem sans-serif;padding:1rem'>无网络，此页面尚未保存在手机上。" +
    "<br>No network, and this page is not kept on the phone.</p><p style='padding:0 1rem'><a href='/my'>我的站点 · My sites</a></p>";
  return new Response(body, { status: 503, headers: { "Content-Type": "text/html; charset=utf-8" } });
}

// Only the worker pages' own assets: the planner's map and other pages are left alone.
function fromWorkerPage(request) {
  try {
    return PAGES.test(new URL(request.referrer).pathname);
  } catch (err) {
    return false;
  }
}

self.addEventListener("fetch", (event) => {
  const request = event.request;
  if (request.method !== "GET") return;
  const url = new URL(request.url);
  if (url.origin !== self.location.origin) return;
  if (PAGES.test(url.pathname)) {
    event.respondWith(networkFirst(event));
  } else if (ASSETS.test(url.pathname) && fromWorkerPage(request)) {
    event.respondWith(staleWhileRevalidate(event));
  }
});

// The "my sites" page asks to keep its report forms, so each one opens offline even if never
// opened before. Pages already kept are refreshed when opened online, not here.
self.addEventListener("message", (event) => {
  const data = event.data || {};
  if (data.type !== "keep" || !Array.isArray(data.urls)) return;
  const reply = event.ports && event.ports[0];
  event.waitUntil((async () => {
    const cache = await caches.open(CACHE);
    const urls = data.urls.map(pageKey).filter((path) => PAGES.test(path));
    let kept = 0;
    for (let i = 0; i < urls.length; i += 4) { // a few at a time on a weak network
      const batch = urls.slice(i, i + 4);
      const results = await Promise.all(batch.map(async (path) => (await cache.match(path)) ? true : keep(cache, path)));
      kept += results.filter(Boolean).length;
    }
    if (reply) reply.postMessage({ cached: kept });
  })());
});
