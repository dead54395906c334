// The service worker of the technician's phone: the pages work without
// signal (basements, garages, lift shafts). The page's own files are
// cached when it is installed and served from the cache first (then
// refreshed, at most once a minute a file); the API reads a technician needs (who am I, the tickets,
// one ticket, the sites, the rules) come from the network first and from
// the cache when there is none, kept per token (by its digest, never the
// token itself). Writes are never cached: the page queues the steps taken
// offline and sends them when the signal is back.
const VERSION = "caretaker-v1";
const SHELL = ["/", "/index.html", "/style.css",
  "/js/api.js", "/js/app.js", "/js/board.js", "/js/chart.js", "/js/checklist.js", "/js/codes.js", "/js/daily.js", "/js/describe.js", "/js/detail.js",
  "/js/devcmds.js", "/js/dom.js", "/js/i18n.js", "/js/live.js", "/js/notes.js", "/js/offline.js", "/js/report.js",
  "/js/reports.js", "/js/rulebook.js", "/js/rules.js", "/js/search.js", "/js/session.js", "/js/sla.js", "/js/sound.js", "/js/tech.js",
  "/js/words.js", "/js/triage.js",
  "/js/floors.js", "/floors.css"];
const API = [/^\/api\/me$/, /^\/api\/tickets$/, /^\/api\/tickets\/\d+$/, /^\/api\/sites$/, /^\/api\/rules$/];

self.addEventListener("install", (ev) => {
  ev.waitUntil(caches.open(VERSION).then((c) => c.addAll(SHELL)).then(() => self.skipWaiting()));
});

self.addEventListener("activate", (ev) => {
  ev.waitUntil(caches.keys()
    .then((keys) => Promise.all(keys.filter((k) => k !== VERSION).map((k) => caches.delete(k))))
    .then(() => self.clients.claim()));
});

async function keyFor(req) {
  const auth = req.headers.get("Authorization") || "";
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(auth));
  const who = [...new Uint8Array(digest)].slice(0, 12).map((b) => b.toString(16).padStart(2, "0")).join("");
  const url = new URL(req.url);
  url.searchParams.set("__who", who);
  return url.toString();
}

async function networkFirst(req) {
  const cache = await caches.open(VERSION);
  const key = await keyFor(req);
  try {
    const resp = await fetch(req);
    if (resp.ok) await cache.put(key, resp.clone());
    return resp;
  } catch (e) {
    const hit = await cache.match(key);
    if (hit) return hit;
    throw e;
  }
}

// refreshed: when each page file was last fetched again behind its cached
// copy. At most once a minute a file: a page that opens asks for some 30,
// and each refresh is a write to the cache that reads queue behind, so
// pages opened one after another waited on the refreshes of the last.
const refreshed = new Map();
const REFRESH_EVERY_MS = 60 * 1000;

async function cacheFirst(req) {
  const cache = await caches.open(VERSION);
  const path = new URL(req.url).pathname;
  const hit = await cache.match(path === "/" ? "/" : req, { ignoreSearch: true });
  const now = Date.now();
  if (hit && now - (refreshed.get(path) || 0) < REFRESH_EVERY_MS) return hit;
  refreshed.set(path, now);
  const fresh = fetch(req).then((resp) => {
    if (resp.ok) cache.put(path === "/" ? "/" : req, resp.clone());
    return resp;
  }).catch(() => null);
  if (hit) return hit;
  const resp = await fresh;
  return resp || Response.error();
}

self.addEventListener("fetch", (ev) => {
  const req = ev.request;
  const url = new URL(req.url);
  if (req.method !== "GET" || url.origin !== self.location.origin) return;
  if (url.pathname.startsWith("/api/")) {
    if (API.some((re) => re.test(url.pathname))) ev.respondWith(networkFirst(req));
    return;
  }
  if (url.pathname === "/" || SHELL.includes(url.pathname)) ev.respondWith(cacheFirst(req));
});
