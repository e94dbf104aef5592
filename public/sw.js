// tokenmeter's service worker: after one visit, the page opens without a network — and a
// redeployed site never mixes two builds.
//
// - One Cache Storage bucket per build ("tokenmeter-shell-<build>"; scripts/post_build.mjs writes
//   the build id and the worker's versioned file names below). Install fills it all-or-nothing
//   (cache.addAll: one missing file fails the install, and the previous build stays in charge);
//   activate deletes every other build's bucket, so nothing of an old build remains.
// - Network first, so a new version is used as soon as it is reachable; this build's copy when
//   the network fails.
// - The model file is not handled here: the worker keeps it in its own bucket
//   ("tokenmeter-models-v1") and reads it from there before asking the network.
// Everything is relative to this file, so dist/ works under any sub-path.
const BUILD = '__BUILD__';
const CACHE = `tokenmeter-shell-${BUILD}`;
// The worker loader is cached under its exact URL, build query included: a worker's location is
// its script response's URL, and the loader reads the build id from it.
// The full worker is kept in the build the loader will pick for this browser (wasm-features.js).
importScripts('./wasm-features.js');
// Where the site is cross-origin isolated (its headers reach this script too), the threaded one
// and its helpers' loader as well.
const RELAXED = ['__RELAXED__', '__RELAXED_WASM__'];
const THREADS = ['__THREADS__', '__THREADS_WASM__'];
const FULL = RELAXED[0] && self.tokenmeterRelaxedSimd
  ? [...RELAXED, ...(THREADS[0] && self.crossOriginIsolated === true
    ? [...THREADS, `worker-loader.js?build=${BUILD}&role=thread`] : [])]
  : ['__WORKER__', '__WORKER_WASM__'];
const SHELL = ['./', 'embed.html', `worker-loader.js?build=${BUILD}`, ...FULL, 'wasm-features.js',
  `worker-loader.js?build=${BUILD}&role=tokens`, '__TOKENS__', '__TOKENS_WASM__', '__BOOT__',
  'register-sw.js', 'prices/prices.json.gz', 'vocab/smollm2.vocab.gz', 'vocab/o200k_base.vocab.gz',
  'vocab/llama3.vocab.gz', 'exercises/index.json'];

self.addEventListener('install', (event) => {
  event.waitUntil((async () => {
    const html = await (await fetch('./', { cache: 'no-cache' })).text();
    // The page's own hashed files (its wasm, glue and style), as index.html names them.
    const named = [...html.matchAll(/(?:href|src)=["']\.\/([^"']+)["']/g)].map((m) => m[1]);
    const cache = await caches.open(CACHE);
    try {
      await cache.addAll([...new Set([...SHELL, ...named])].map((n) => new Request(n, { cache: 'no-cache' })));
    } catch (e) {
      await caches.delete(CACHE); // nothing half-filled
      throw e;
    }
    await self.skipWaiting();
  })());
});

self.addEventListener('activate', (event) => event.waitUntil((async () => {
  for (const key of await caches.keys()) {
    if (key.startsWith('tokenmeter-shell-') && key !== CACHE) await caches.delete(key);
  }
  await self.clients.claim();
})()));

self.addEventListener('fetch', (event) => {
  const req = event.request;
  const url = new URL(req.url);
  if (req.method !== 'GET' || url.origin !== self.location.origin || url.pathname.includes('/models/')) return;
  event.respondWith((async () => {
    const cache = await caches.open(CACHE);
    try {
      const res = await fetch(req);
      if (res.ok && res.type === 'basic') cache.put(req, res.clone()).catch(() => {});
      return res;
    } catch (err) {
      // Offline: the same URL, or for a page (any query, e.g. ?embed=) the app shell.
      const hit = await cache.match(req)
        ?? (req.mode === 'navigate' ? await cache.match(url.pathname.endsWith('embed.html') ? 'embed.html' : './') : undefined);
      if (hit) return hit;
      throw err;
    }
  })());
});
