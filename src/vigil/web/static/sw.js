// Service worker of the officer's mobile view (registered by /m with scope "/m").
//
// It keeps the app shell (the page, its modules, styles and icons) so the view starts without a
// network; it answers shell requests network-first (a fresh copy when online, the cached one when
// not). It never touches anything else: API calls, the alert WebSocket (/ws/) and images (/media/)
// always go to the network, uncached.

const VERSION = "v1";
const CACHE = `vigil-mobile-shell-${VERSION}`;
const SHELL = [
  "/m",
  "/manifest.webmanifest",
  "/static/js/mobile.js",
  "/static/js/api.js",
  "/static/js/alerts.js",
  "/static/js/dom.js",
  "/static/js/signin.js",
  "/static/js/sound.js",
  "/static/css/base.css",
  "/static/css/mobile.css",
  "/static/icons/icon.svg",
  "/static/icons/icon-192.png",
  "/static/icons/icon-512.png",
];
const SHELL_PATHS = new Set(SHELL);

/** A response safe to store and to answer a navigation with (a redirected one is not). */
async function storable(response) {
  if (!response.redirected) return response;
  return new Response(await response.blob(), {
    status: response.status,
    statusText: response.statusText,
    headers: response.headers,
  });
}

self.addEventListener("install", (event) => {
  event.waitUntil(
    (async () => {
      const cache = await caches.open(CACHE);
      // One by one: a file that fails now is simply fetched (and cached) on first use.
      await Promise.all(
        SHELL.map(async (path) => {
          try {
            const response = await fetch(new Request(path, { cache: "reload" }));
            if (response.ok) await cache.put(path, await storable(response));
          } catch {
            /* offline while installing */
          }
        }),
      );
      await self.skipWaiting();
    })(),
  );
});

self.addEventListener("activate", (event) => {
  event.waitUntil(
    caches
      .keys()
      .then((keys) => Promise.all(keys.filter((key) => key.startsWith("vigil-") && key !== CACHE).map((key) => caches.delete(key))))
      .then(() => self.clients.claim()),
  );
});

function isShell(request) {
  if (request.method !== "GET") return false;
  const url = new URL(request.url);
  if (url.origin !== self.location.origin) return false;
  if (url.search) return false; // shell files are requested without a query
  return SHELL_PATHS.has(url.pathname);
}

self.addEventListener("fetch", (event) => {
  const request = event.request;
  if (!isShell(request)) return; // API, /ws/, /media/ and the rest: straight to the network
  const path = new URL(request.url).pathname;
  event.respondWith(
    (async () => {
      const cache = await caches.open(CACHE);
      try {
        const response = await fetch(request);
        if (response.ok && response.type === "basic") await cache.put(path, await storable(response.clone()));
        return response;
      } catch (error) {
        const cached = await cache.match(path);
        if (cached) return cached;
        throw error;
      }
    })(),
  );
});
